//! Decoding: turns the merged, interpolated YAML tree into the model
//! ([`super::model`]), checking every value as it goes: types (with compose's
//! string-to-number/boolean casts), unknown keys (anything but `x-*` and the
//! object's keys, see [`object`]), durations, sizes, ports, signals,
//! conditions. Each error names the compose path
//! (`services.web.healthcheck.retries`) and points at file:line:column.
//! Decoding does not look across objects: [`super::normalize`] and
//! [`super::validate`] run on the decoded project.
//!
//! The readers here read one kind of value; [`values`] reads the values of
//! particular keys; the other files decode the objects whose keys need more
//! than their type's decoder.

mod build;
mod container;
mod deploy;
mod files;
pub(crate) mod object;
mod service;
mod toplevel;
mod values;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use super::error::{Pos, Sources, SpecError};
use super::syntax;
use super::yaml::{Entry, Map, Node, Value};

pub(crate) use toplevel::decode_project;

/// State shared while typing one project.
pub(crate) struct Decoder<'a> {
    pub(crate) sources: &'a Sources,
    /// The project directory (relative paths resolve against it).
    pub(crate) project_dir: &'a Path,
    /// The interpolation environment (bare `environment` keys and `build.args`
    /// resolve from it too).
    pub(crate) env: &'a IndexMap<String, String>,
    pub(crate) warnings: Vec<String>,
    /// Positions of things later cross-checks may complain about, by compose
    /// path (`services.web.depends_on.db`).
    pub(crate) positions: HashMap<String, Pos>,
    /// Names of the top-level `models`.
    pub(crate) models: std::collections::HashSet<String>,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(
        sources: &'a Sources,
        project_dir: &'a Path,
        env: &'a IndexMap<String, String>,
    ) -> Self {
        Decoder {
            sources,
            project_dir,
            env,
            warnings: Vec::new(),
            positions: HashMap::new(),
            models: std::collections::HashSet::new(),
        }
    }

    pub(crate) fn error(&self, pos: Pos, path: &str, message: impl std::fmt::Display) -> SpecError {
        if path.is_empty() {
            self.sources.error_at(pos, message.to_string())
        } else {
            self.sources.error_at(pos, format!("{path}: {message}"))
        }
    }

    pub(crate) fn expected(&self, node: &Node, path: &str, what: &str) -> SpecError {
        let found = match (&node.value, node.scalar_text()) {
            (Value::Str(_), Some(text)) => format!("`{text}`"),
            (Value::Float(f), _) => format!("{} (`{f:?}`)", node.kind()),
            (_, Some(text)) => format!("{} (`{text}`)", node.kind()),
            (_, None) => node.kind().to_string(),
        };
        self.error(node.pos, path, format!("expected {what}, found {found}"))
    }

    /// A key no compose object of this kind has.
    pub(crate) fn unknown_key(
        &self,
        key: &str,
        entry: &Entry,
        path: &str,
        known: &[&str],
    ) -> SpecError {
        let hint = closest(key, known)
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        let at = if path.is_empty() {
            "the top level".to_string()
        } else {
            format!("`{path}`")
        };
        self.sources.error_at(
            entry.key_pos,
            format!("unknown key `{key}` in {at}{hint}; only `x-*` extension keys may be added"),
        )
    }

    pub(crate) fn remember(&mut self, path: String, pos: Pos) {
        self.positions.insert(path, pos);
    }

    pub(crate) fn position(&self, path: &str) -> Pos {
        self.positions.get(path).copied().unwrap_or_default()
    }

    // ---- value readers -------------------------------------------------

    /// A mapping (`null` reads as an empty one).
    pub(crate) fn map<'n>(&self, node: &'n Node, path: &str) -> Result<Option<&'n Map>, SpecError> {
        match &node.value {
            Value::Map(m) => Ok(Some(m)),
            Value::Null => Ok(None),
            _ => Err(self.expected(node, path, "a mapping")),
        }
    }

    /// A string; numbers and booleans are refused, as compose's schema does.
    pub(crate) fn string(&self, node: &Node, path: &str) -> Result<String, SpecError> {
        match &node.value {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(self.expected(node, path, "a string")),
        }
    }

    /// A string where empty means unset (compose leaves empty strings out).
    pub(crate) fn opt_string(&self, node: &Node, path: &str) -> Result<Option<String>, SpecError> {
        let text = self.string(node, path)?;
        Ok((!text.is_empty()).then_some(text))
    }

    /// A string, or a number/boolean read as its text.
    pub(crate) fn scalar(&self, node: &Node, path: &str) -> Result<String, SpecError> {
        match node.scalar_text() {
            Some(text) => Ok(text),
            None => Err(self.expected(node, path, "a string or a number")),
        }
    }

    /// A boolean; strings cast as compose casts them (`true`, `yes`, `on`, ...).
    pub(crate) fn boolean(&mut self, node: &Node, path: &str) -> Result<bool, SpecError> {
        match &node.value {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                "y" | "yes" | "on" => {
                    self.warnings.push(format!(
                        "{path}: `{s}` for a boolean is YAML 1.1; write `true`"
                    ));
                    Ok(true)
                }
                "n" | "no" | "off" => {
                    self.warnings.push(format!(
                        "{path}: `{s}` for a boolean is YAML 1.1; write `false`"
                    ));
                    Ok(false)
                }
                _ => Err(self.expected(node, path, "a boolean")),
            },
            _ => Err(self.expected(node, path, "a boolean")),
        }
    }

    /// An integer; decimal strings are cast, as compose does.
    pub(crate) fn integer(&self, node: &Node, path: &str) -> Result<i64, SpecError> {
        match &node.value {
            Value::Int(i) => Ok(*i),
            Value::Str(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| self.expected(node, path, "an integer")),
            _ => Err(self.expected(node, path, "an integer")),
        }
    }

    /// An integer in the range of `T`.
    pub(crate) fn int_in<T: TryFrom<i64>>(&self, node: &Node, path: &str) -> Result<T, SpecError> {
        let value = self.integer(node, path)?;
        T::try_from(value).map_err(|_| {
            self.error(
                node.pos,
                path,
                format!(
                    "{value} is out of range (expected {})",
                    std::any::type_name::<T>()
                        .replace("u16", "0-65535")
                        .replace("u32", "a non-negative 32-bit integer")
                        .replace("u64", "a non-negative integer")
                ),
            )
        })
    }

    /// A float; strings are cast.
    pub(crate) fn float(&self, node: &Node, path: &str) -> Result<f64, SpecError> {
        match &node.value {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            Value::Str(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| self.expected(node, path, "a number")),
            _ => Err(self.expected(node, path, "a number")),
        }
    }

    /// A Go-style duration string (`1m30s`).
    pub(crate) fn duration(&self, node: &Node, path: &str) -> Result<Duration, SpecError> {
        let text = self.string(node, path)?;
        syntax::parse_duration(&text).map_err(|e| self.error(node.pos, path, e))
    }

    /// A size in bytes: a number, or a string like `64m`.
    pub(crate) fn bytes(&self, node: &Node, path: &str) -> Result<u64, SpecError> {
        match &node.value {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            Value::Str(s) => syntax::parse_bytes(s).map_err(|e| self.error(node.pos, path, e)),
            _ => Err(self.expected(node, path, "a size such as `64m`")),
        }
    }

    /// A list of strings.
    pub(crate) fn string_list(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.string(item, &format!("{path}[{i}]")))
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.expected(node, path, "a list of strings")),
        }
    }

    /// A string or a list of strings.
    pub(crate) fn string_or_list(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        match &node.value {
            Value::Str(s) => Ok(vec![s.clone()]),
            _ => self.string_list(node, path),
        }
    }

    /// `command`/`entrypoint`: a shell-style string or a list; `null` is unset.
    pub(crate) fn command(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<Vec<String>>, SpecError> {
        match &node.value {
            Value::Null => Ok(None),
            Value::Str(s) => syntax::shell_split(s)
                .map(Some)
                .map_err(|e| self.error(node.pos, path, e)),
            Value::Seq(_) => self.string_list(node, path).map(Some),
            _ => Err(self.expected(node, path, "a string or a list of strings")),
        }
    }

    /// A mapping from names to optional scalar values (the merge layer has
    /// already turned `KEY=VALUE` lists into mappings).
    pub(crate) fn key_values(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, Option<String>>, SpecError> {
        if let Value::Seq(items) = &node.value {
            // A `KEY=VALUE` list where the merge layer did not normalize one.
            let mut out = IndexMap::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let text = match &item.value {
                    Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                        item.scalar_text().unwrap_or_default()
                    }
                    _ => return Err(self.expected(item, &format!("{path}[{i}]"), "`KEY=VALUE`")),
                };
                match text.split_once('=') {
                    Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                    None => out.insert(text, None),
                };
            }
            return Ok(out);
        }
        let Some(map) = self.map(node, path)? else {
            return Ok(IndexMap::new());
        };
        let mut out = IndexMap::with_capacity(map.len());
        for (key, entry) in map {
            let value = match &entry.node.value {
                Value::Null => None,
                Value::Seq(_) | Value::Map(_) => {
                    return Err(self.expected(
                        &entry.node,
                        &format!("{path}.{key}"),
                        "a string, a number, a boolean or null",
                    ))
                }
                _ => entry.node.scalar_text(),
            };
            out.insert(key.clone(), value);
        }
        Ok(out)
    }

    /// Labels and the like: like [`Self::key_values`], `null` meaning "".
    pub(crate) fn labels(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, String>, SpecError> {
        Ok(self
            .key_values(node, path)?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }

    /// A mapping of strings to strings (driver options, logging options).
    pub(crate) fn string_map(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, String>, SpecError> {
        self.labels(node, path)
    }
}

impl Decoder<'_> {
    /// A list, each item read by `item` (with its `path[i]`).
    pub(crate) fn list<T>(
        &mut self,
        node: &Node,
        path: &str,
        mut item: impl FnMut(&mut Self, &Node, &str) -> Result<T, SpecError>,
    ) -> Result<Vec<T>, SpecError> {
        let Value::Seq(items) = &node.value else {
            return Err(self.expected(node, path, "a list"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, node)| item(self, node, &format!("{path}[{i}]")))
            .collect()
    }

    /// A list where `null` means empty, `what` naming it in errors.
    pub(crate) fn optional_list<T>(
        &mut self,
        node: &Node,
        path: &str,
        what: &str,
        item: impl FnMut(&mut Self, &Node, &str) -> Result<T, SpecError>,
    ) -> Result<Vec<T>, SpecError> {
        match &node.value {
            Value::Null => Ok(Vec::new()),
            Value::Seq(_) => self.list(node, path, item),
            _ => Err(self.expected(node, path, what)),
        }
    }
}

/// The known key closest to `key`, if it is close enough to be a typo.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            current[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(current[j] + 1);
        }
        prev = current;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_suggestions() {
        assert_eq!(closest("imag", &["image", "build"]), Some("image"));
        assert_eq!(
            closest("helthcheck", &["healthcheck", "hostname"]),
            Some("healthcheck")
        );
        assert_eq!(closest("zzzzzz", &["image", "build"]), None);
    }
}
