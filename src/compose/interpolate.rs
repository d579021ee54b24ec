//! Variable interpolation, as compose does it: `${VAR}`, `$VAR`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`,
//! `${VAR:+alt}`, `${VAR+alt}`, nested templates inside the default/alternative
//! /message, and `$$` for a literal `$`.
//!
//! Applied to every string value of the YAML tree (never to keys) before
//! files are merged and before values are typed, so `retries: ${RETRIES}`
//! works. An unset variable without a default becomes the empty string and is
//! reported as a warning.

use indexmap::IndexMap;

use super::error::{Sources, SpecError};
use super::yaml::{Node, Value};

/// Why a template could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// `${...}` that is not a valid template.
    Invalid(String),
    /// `${VAR:?msg}` / `${VAR?msg}` with VAR missing.
    MissingRequired { variable: String, message: String },
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Invalid(template) => write!(
                f,
                "invalid interpolation format `{template}` (write `$$` for a literal `$`)"
            ),
            TemplateError::MissingRequired { variable, message } if message.is_empty() => {
                write!(f, "required variable {variable} is missing a value")
            }
            TemplateError::MissingRequired { variable, message } => {
                write!(
                    f,
                    "required variable {variable} is missing a value: {message}"
                )
            }
        }
    }
}

/// The variables visible to interpolation.
pub(crate) struct Environment<'a> {
    pub(crate) vars: &'a IndexMap<String, String>,
}

impl Environment<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// Substitutes `template`; unset variables used without a default are pushed
/// to `unset`.
pub(crate) fn substitute(
    template: &str,
    env: &Environment<'_>,
    unset: &mut Vec<String>,
) -> Result<String, TemplateError> {
    if !template.contains('$') {
        return Ok(template.to_string());
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let Some(end) = closing_brace(body_and_tail) else {
                return Err(TemplateError::Invalid(template.to_string()));
            };
            let body = &body_and_tail[..end];
            out.push_str(&braced(body, template, env, unset)?);
            rest = &body_and_tail[end + 1..];
        } else {
            let name_len = name_length(after);
            if name_len == 0 {
                // A lone `$` (e.g. `$1`, `$ `, at the end) stays literal.
                out.push('$');
                rest = after;
            } else {
                let name = &after[..name_len];
                out.push_str(&lookup(name, env, unset));
                rest = &after[name_len..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Length of a variable name at the start of `s` (`[_a-zA-Z][_a-zA-Z0-9]*`).
fn name_length(s: &str) -> usize {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {}
        _ => return 0,
    }
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count()
}

/// Index of the `}` closing a `${`, skipping nested `${...}`.
fn closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn lookup(name: &str, env: &Environment<'_>, unset: &mut Vec<String>) -> String {
    match env.get(name) {
        Some(value) => value.to_string(),
        None => {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            String::new()
        }
    }
}

fn braced(
    body: &str,
    template: &str,
    env: &Environment<'_>,
    unset: &mut Vec<String>,
) -> Result<String, TemplateError> {
    let name_len = name_length(body);
    if name_len == 0 {
        return Err(TemplateError::Invalid(template.to_string()));
    }
    let name = &body[..name_len];
    let rest = &body[name_len..];
    if rest.is_empty() {
        return Ok(lookup(name, env, unset));
    }
    let (op, arg) = if let Some(arg) = rest.strip_prefix(":-") {
        (":-", arg)
    } else if let Some(arg) = rest.strip_prefix(":?") {
        (":?", arg)
    } else if let Some(arg) = rest.strip_prefix(":+") {
        (":+", arg)
    } else if let Some(arg) = rest.strip_prefix('-') {
        ("-", arg)
    } else if let Some(arg) = rest.strip_prefix('?') {
        ("?", arg)
    } else if let Some(arg) = rest.strip_prefix('+') {
        ("+", arg)
    } else {
        return Err(TemplateError::Invalid(template.to_string()));
    };
    let value = env.get(name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let current = value.unwrap_or("").to_string();
    match op {
        ":-" if non_empty => Ok(current),
        "-" if set => Ok(current),
        ":-" | "-" => substitute(arg, env, unset),
        ":+" if non_empty => substitute(arg, env, unset),
        "+" if set => substitute(arg, env, unset),
        ":+" | "+" => Ok(current),
        ":?" if non_empty => Ok(current),
        "?" if set => Ok(current),
        _ => Err(TemplateError::MissingRequired {
            variable: name.to_string(),
            message: substitute(arg, env, unset)?,
        }),
    }
}

/// Interpolates every string in `node` in place. Errors point at the string.
pub(crate) fn interpolate_tree(
    node: &mut Node,
    env: &Environment<'_>,
    sources: &Sources,
    unset: &mut Vec<String>,
) -> Result<(), SpecError> {
    match &mut node.value {
        Value::Str(s) if s.contains('$') => {
            *s =
                substitute(s, env, unset).map_err(|e| sources.error_at(node.pos, e.to_string()))?;
        }
        Value::Seq(items) => {
            for item in items {
                interpolate_tree(item, env, sources, unset)?;
            }
        }
        Value::Map(map) => {
            for entry in map.values_mut() {
                interpolate_tree(&mut entry.node, env, sources, unset)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> IndexMap<String, String> {
        [("A", "alpha"), ("EMPTY", ""), ("N", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sub(template: &str) -> Result<String, TemplateError> {
        let vars = env();
        let mut unset = Vec::new();
        substitute(template, &Environment { vars: &vars }, &mut unset)
    }

    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(sub("x-$A-y").unwrap(), "x-alpha-y");
        assert_eq!(sub("x${A}y").unwrap(), "xalphay");
        assert_eq!(sub("$A$N").unwrap(), "alpha3");
        assert_eq!(sub("${MISSING}").unwrap(), "");
    }

    #[test]
    fn defaults_distinguish_unset_and_empty() {
        assert_eq!(sub("${MISSING:-d}").unwrap(), "d");
        assert_eq!(sub("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(sub("${EMPTY-d}").unwrap(), "");
        assert_eq!(sub("${MISSING-d}").unwrap(), "d");
        assert_eq!(sub("${A:-d}").unwrap(), "alpha");
    }

    #[test]
    fn alternatives() {
        assert_eq!(sub("${A:+alt}").unwrap(), "alt");
        assert_eq!(sub("${EMPTY:+alt}").unwrap(), "");
        assert_eq!(sub("${EMPTY+alt}").unwrap(), "alt");
        assert_eq!(sub("${MISSING+alt}").unwrap(), "");
    }

    #[test]
    fn required_variables() {
        assert_eq!(
            sub("${MISSING:?set it please}").unwrap_err(),
            TemplateError::MissingRequired {
                variable: "MISSING".into(),
                message: "set it please".into()
            }
        );
        assert_eq!(
            sub("${EMPTY:?x}").unwrap_err(),
            TemplateError::MissingRequired {
                variable: "EMPTY".into(),
                message: "x".into()
            }
        );
        assert_eq!(sub("${EMPTY?x}").unwrap(), "");
        assert_eq!(
            sub("${MISSING?}").unwrap_err().to_string(),
            "required variable MISSING is missing a value"
        );
        assert_eq!(
            sub("${MISSING?oops}").unwrap_err().to_string(),
            "required variable MISSING is missing a value: oops"
        );
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(sub("${MISSING:-${A}}").unwrap(), "alpha");
        assert_eq!(sub("${MISSING:-${OTHER:-deep}}").unwrap(), "deep");
        assert_eq!(sub("${MISSING:-pre-${N}-post}").unwrap(), "pre-3-post");
        assert_eq!(sub("${A:+${N}x}").unwrap(), "3x");
    }

    #[test]
    fn dollar_escapes_and_literals() {
        assert_eq!(sub("$$A").unwrap(), "$A");
        assert_eq!(sub("cost: $$5").unwrap(), "cost: $5");
        assert_eq!(sub("$1 and $").unwrap(), "$1 and $");
        assert_eq!(sub("${MISSING:-$$}").unwrap(), "$");
    }

    #[test]
    fn invalid_templates() {
        assert!(matches!(sub("${}"), Err(TemplateError::Invalid(_))));
        assert!(matches!(sub("${A"), Err(TemplateError::Invalid(_))));
        assert!(matches!(sub("${1A}"), Err(TemplateError::Invalid(_))));
        assert!(matches!(sub("${A B}"), Err(TemplateError::Invalid(_))));
    }

    #[test]
    fn unset_variables_are_reported_once() {
        let vars = env();
        let mut unset = Vec::new();
        substitute(
            "$X ${X} ${Y:-d} $Y",
            &Environment { vars: &vars },
            &mut unset,
        )
        .unwrap();
        assert_eq!(unset, vec!["X".to_string(), "Y".to_string()]);
    }
}
