//! Environment files (`.env`, `--env-file`, a service's `env_file`), read as
//! compose reads them: `KEY=VALUE` (or `KEY: VALUE`), optional `export `,
//! `#` comments (also after an unquoted value, after a space), single quotes
//! (literal), double quotes (escapes `\n`, `\t`, `\"`, `\\`, `\$`, and
//! interpolation), unquoted values (interpolated), and a bare `KEY` that takes
//! its value from the lookup environment when it is set there.
//!
//! Interpolation inside a file looks at the lookup environment first, then at
//! the variables defined earlier in the same file.

use std::path::Path;

use indexmap::IndexMap;

use super::error::SpecError;
use super::interpolate::{substitute, Environment};

/// Reads and parses the environment file at `path` (shown as `shown` in
/// errors); `lookup` is consulted for interpolation and bare keys.
pub(crate) fn read_file(
    path: &Path,
    shown: &str,
    lookup: &IndexMap<String, String>,
) -> Result<IndexMap<String, String>, SpecError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SpecError::in_file(shown, format!("cannot read the env file: {e}")))?;
    parse(&text, lookup).map_err(|(line, message)| SpecError {
        line: Some(line),
        ..SpecError::in_file(shown, message)
    })
}

/// Parses `text`; `lookup` is consulted for interpolation and bare keys.
/// Errors carry the 1-based line number.
pub(crate) fn parse(
    text: &str,
    lookup: &IndexMap<String, String>,
) -> Result<IndexMap<String, String>, (u32, String)> {
    parse_into(text, lookup, IndexMap::new())
}

/// Parses `text` in the `raw` format (`env_file: {format: raw}`), as
/// `docker run --env-file` reads it: `KEY=VALUE` with the value taken
/// verbatim (no quotes, escapes or interpolation), `#` comment lines, and a
/// bare `KEY` taking its value from `lookup` when set there.
pub(crate) fn parse_raw(text: &str, lookup: &IndexMap<String, String>) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) => {
                out.insert(key.to_string(), value.to_string());
            }
            None => {
                let key = line.trim_end();
                if let Some(value) = lookup.get(key) {
                    out.insert(key.to_string(), value.clone());
                }
            }
        }
    }
    out
}

/// Like [`parse`], starting from variables already defined (by earlier env
/// files), which interpolation sees after `lookup`. Returns all of them.
pub(crate) fn parse_into(
    text: &str,
    lookup: &IndexMap<String, String>,
    defined: IndexMap<String, String>,
) -> Result<IndexMap<String, String>, (u32, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: IndexMap<String, String> = defined;
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i as u32 + 1;
        let line = lines[i].trim_end_matches('\r');
        i += 1;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let statement = strip_export(trimmed);
        let Some(sep) = statement.find(['=', ':']) else {
            // A bare key: inherit when set.
            let key = statement.trim();
            check_key(key, line_no)?;
            if let Some(value) = lookup.get(key) {
                out.insert(key.to_string(), value.clone());
            }
            continue;
        };
        let key = statement[..sep].trim_end();
        check_key(key, line_no)?;
        let raw = statement[sep + 1..].trim_start_matches([' ', '\t']);
        let value = match raw.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                // Quoted values may span lines.
                let mut body = raw[1..].to_string();
                let mut closed = find_closing(&body, quote);
                while closed.is_none() && i < lines.len() {
                    body.push('\n');
                    body.push_str(lines[i].trim_end_matches('\r'));
                    i += 1;
                    closed = find_closing(&body, quote);
                }
                let Some(end) = closed else {
                    return Err((line_no, format!("unterminated quoted value for {key}")));
                };
                let inner = &body[..end];
                if quote == '\'' {
                    unescape_single(inner)
                } else {
                    let expanded = expand_escapes(inner);
                    interpolate(&expanded, &out, lookup, line_no)?
                }
            }
            _ => {
                let value = match raw.find(" #") {
                    Some(comment) => &raw[..comment],
                    None => raw,
                };
                interpolate(value.trim_end(), &out, lookup, line_no)?
            }
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

fn strip_export(s: &str) -> &str {
    match s.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
        _ => s,
    }
}

fn check_key(key: &str, line: u32) -> Result<(), (u32, String)> {
    if key.is_empty() {
        return Err((line, "missing variable name".into()));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')))
    {
        return Err((
            line,
            format!("unexpected character {bad:?} in variable name {key:?}"),
        ));
    }
    Ok(())
}

/// Index of the closing quote, honoring backslash escapes.
fn find_closing(body: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some(i);
        }
    }
    None
}

fn unescape_single(s: &str) -> String {
    s.replace("\\'", "'")
}

fn expand_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('$') => out.push_str("$$"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn interpolate(
    value: &str,
    defined: &IndexMap<String, String>,
    lookup: &IndexMap<String, String>,
    line: u32,
) -> Result<String, (u32, String)> {
    if !value.contains('$') {
        return Ok(value.to_string());
    }
    let mut vars = defined.clone();
    for (k, v) in lookup {
        vars.insert(k.clone(), v.clone());
    }
    let mut unset = Vec::new();
    substitute(value, &Environment { vars: &vars }, &mut unset).map_err(|e| (line, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> IndexMap<String, String> {
        let lookup: IndexMap<String, String> = [("HOME".to_string(), "/home/me".to_string())]
            .into_iter()
            .collect();
        parse(text, &lookup).unwrap()
    }

    #[test]
    fn the_usual_forms() {
        let env = parse_ok(
            "# comment\nA=1\nexport B=two words\nC='single $HOME'\nD=\"double\\n$HOME\"\nE=x # trailing\nF: yaml\nG=\n",
        );
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two words");
        assert_eq!(env["C"], "single $HOME");
        assert_eq!(env["D"], "double\n/home/me");
        assert_eq!(env["E"], "x");
        assert_eq!(env["F"], "yaml");
        assert_eq!(env["G"], "");
    }

    #[test]
    fn bare_keys_inherit_when_set() {
        let env = parse_ok("HOME\nNOPE\n");
        assert_eq!(env["HOME"], "/home/me");
        assert!(!env.contains_key("NOPE"));
    }

    #[test]
    fn earlier_definitions_interpolate() {
        let env = parse_ok("A=1\nB=${A}2\nC=${MISSING:-d}\n");
        assert_eq!(env["B"], "12");
        assert_eq!(env["C"], "d");
    }

    #[test]
    fn multiline_quoted_values() {
        let env = parse_ok("A=\"line1\nline2\"\nB=3\n");
        assert_eq!(env["A"], "line1\nline2");
        assert_eq!(env["B"], "3");
    }

    #[test]
    fn errors_name_the_line() {
        let lookup = IndexMap::new();
        assert_eq!(parse("A=1\nB C=2\n", &lookup).unwrap_err().0, 2);
        assert_eq!(parse("A=\"open\n", &lookup).unwrap_err().0, 1);
    }
}
