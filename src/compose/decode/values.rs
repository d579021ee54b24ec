//! Readers for the value shapes particular keys have: compose's
//! `omitempty` (zero or empty means unset), byte sizes, CPU counts, lists
//! without repeats, and the keys whose values compose checks against a
//! fixed set (`cgroup`, `restart`, `stop_signal`, `pull_policy`, …).

use indexmap::IndexSet;

use super::object::Decode;
use super::Decoder;
use crate::compose::error::SpecError;
use crate::compose::model::Condition;
use crate::compose::syntax;
use crate::compose::yaml::{Node, Value};

impl Decoder<'_> {
    /// A string, kept even when empty.
    pub(crate) fn some_string(&self, node: &Node, path: &str) -> Result<Option<String>, SpecError> {
        self.string(node, path).map(Some)
    }

    /// A string where `null` and empty mean unset.
    pub(crate) fn nullable_string(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<String>, SpecError> {
        if node.is_null() {
            return Ok(None);
        }
        self.opt_string(node, path)
    }

    /// A string, or a number/boolean read as its text.
    pub(crate) fn scalar_string(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<String>, SpecError> {
        self.scalar(node, path).map(Some)
    }

    /// A boolean written as one (no string casts).
    pub(crate) fn strict_boolean(&self, node: &Node, path: &str) -> Result<bool, SpecError> {
        match &node.value {
            Value::Bool(b) => Ok(*b),
            _ => Err(self.expected(node, path, "a boolean")),
        }
    }

    pub(crate) fn some_integer(&self, node: &Node, path: &str) -> Result<Option<i64>, SpecError> {
        self.integer(node, path).map(Some)
    }

    /// An integer where zero means unset.
    pub(crate) fn non_zero_integer(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<i64>, SpecError> {
        Ok(Some(self.integer(node, path)?).filter(|v| *v != 0))
    }

    pub(crate) fn some_u16(&self, node: &Node, path: &str) -> Result<Option<u16>, SpecError> {
        self.int_in(node, path).map(Some)
    }

    /// A service's CPU count or percentage: not negative, at float32
    /// precision (compose's type); zero means unset.
    pub(crate) fn non_zero_cpus(&self, node: &Node, path: &str) -> Result<Option<f64>, SpecError> {
        let cpus = self.cpus(node, path)?.filter(|v| *v != 0.0);
        Ok(cpus.map(|v| (v as f32).to_string().parse().unwrap_or(v)))
    }

    /// A CPU count: not negative.
    pub(crate) fn cpus(&self, node: &Node, path: &str) -> Result<Option<f64>, SpecError> {
        let cpus = self.float(node, path)?;
        if cpus < 0.0 {
            return Err(self.error(node.pos, path, "must not be negative"));
        }
        Ok(Some(cpus))
    }

    pub(crate) fn some_bytes(&self, node: &Node, path: &str) -> Result<Option<u64>, SpecError> {
        self.bytes(node, path).map(Some)
    }

    pub(crate) fn some_signed_bytes(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<i64>, SpecError> {
        self.signed_bytes(node, path).map(Some)
    }

    /// A byte size that may be negative; zero means unset.
    pub(crate) fn non_zero_bytes(&self, node: &Node, path: &str) -> Result<Option<i64>, SpecError> {
        Ok(Some(self.signed_bytes(node, path)?).filter(|v| *v != 0))
    }

    /// A byte size that may be negative (`memswap_limit: -1`).
    fn signed_bytes(&self, node: &Node, path: &str) -> Result<i64, SpecError> {
        match &node.value {
            Value::Int(i) => Ok(*i),
            Value::Float(f) => Ok(*f as i64),
            Value::Str(s) => match s.trim().parse::<i64>() {
                Ok(value) => Ok(value),
                Err(_) => syntax::parse_bytes(s)
                    .map(|b| b as i64)
                    .map_err(|e| self.error(node.pos, path, e)),
            },
            _ => Err(self.expected(node, path, "a size such as `64m`")),
        }
    }

    /// `blkio_config.weight`: zero means unset.
    pub(crate) fn blkio_weight(&self, node: &Node, path: &str) -> Result<Option<u16>, SpecError> {
        Ok(Some(self.int_in::<u16>(node, path)?).filter(|w| *w != 0))
    }

    /// A list of strings, repeats dropped (compose drops them in `dns`,
    /// `cap_add`, `links`, `profiles`, …).
    pub(crate) fn unique_list(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        Ok(dedup(self.string_list(node, path)?))
    }

    /// A string or a list of strings, repeats dropped.
    pub(crate) fn unique_string_or_list(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<String>, SpecError> {
        Ok(dedup(self.string_or_list(node, path)?))
    }

    /// A list of strings that may not repeat an entry (compose's
    /// `uniqueItems`: `security_opt`, `volumes_from`, …).
    pub(crate) fn distinct_list(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        let items = self.string_list(node, path)?;
        self.no_repeats(node, path, &items)?;
        Ok(items)
    }

    /// A string or a list of strings that may not repeat an entry.
    pub(crate) fn distinct_string_or_list(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<String>, SpecError> {
        let items = self.string_or_list(node, path)?;
        self.no_repeats(node, path, &items)?;
        Ok(items)
    }

    /// `group_add`: names or ids, no repeats.
    pub(crate) fn group_add(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        let items = match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match &item.value {
                    Value::Str(_) | Value::Int(_) => Ok(item.scalar_text().unwrap_or_default()),
                    _ => Err(self.expected(item, &format!("{path}[{i}]"), "a string or a number")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Value::Null => Vec::new(),
            _ => return Err(self.expected(node, path, "a list")),
        };
        self.no_repeats(node, path, &items)?;
        Ok(items)
    }

    /// Refuses a list with an entry repeated, as compose's schema does
    /// (`uniqueItems`), pointing at the repeat.
    pub(crate) fn no_repeats(
        &self,
        node: &Node,
        path: &str,
        items: &[String],
    ) -> Result<(), SpecError> {
        let mut seen = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            if !seen.insert(item) {
                let pos = match &node.value {
                    Value::Seq(nodes) => nodes.get(i).map(|n| n.pos).unwrap_or(node.pos),
                    _ => node.pos,
                };
                return Err(self.error(
                    pos,
                    &format!("{path}[{i}]"),
                    format!("`{item}` is listed twice"),
                ));
            }
        }
        Ok(())
    }

    /// A string out of `allowed`, named `what` in the error.
    pub(crate) fn one_of(
        &self,
        node: &Node,
        path: &str,
        what: &str,
        allowed: &[&str],
    ) -> Result<String, SpecError> {
        let text = self.string(node, path)?;
        if allowed.contains(&text.as_str()) {
            return Ok(text);
        }
        let choices = match allowed.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        Err(self.error(
            node.pos,
            path,
            format!("invalid {what} `{text}` ({choices})"),
        ))
    }

    pub(crate) fn cgroup(&self, node: &Node, path: &str) -> Result<Option<String>, SpecError> {
        self.one_of(node, path, "cgroup", &["host", "private"])
            .map(Some)
    }

    pub(crate) fn update_order(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<String>, SpecError> {
        self.one_of(node, path, "order", &["start-first", "stop-first"])
            .map(Some)
    }

    pub(crate) fn restart(&self, node: &Node, path: &str) -> Result<Option<String>, SpecError> {
        let value = self.opt_string(node, path)?;
        if let Some(text) = &value {
            syntax::check_restart(text).map_err(|e| self.error(node.pos, path, e))?;
        }
        Ok(value)
    }

    pub(crate) fn stop_signal(&self, node: &Node, path: &str) -> Result<Option<String>, SpecError> {
        let value = self.opt_string(node, path)?;
        if let Some(text) = &value {
            syntax::check_signal(text).map_err(|e| self.error(node.pos, path, e))?;
        }
        Ok(value)
    }

    /// `pull_policy`, `if_not_present` read as `missing`.
    pub(crate) fn pull_policy(&self, node: &Node, path: &str) -> Result<Option<String>, SpecError> {
        let value = self.string(node, path)?;
        if !is_pull_policy(&value) {
            return Err(self.error(
                node.pos,
                path,
                format!("invalid pull policy `{value}` (always, never, missing, build, if_not_present, refresh, daily, weekly or every_<duration>)"),
            ));
        }
        Ok(Some(if value == "if_not_present" {
            "missing".into()
        } else {
            value
        }))
    }

    /// `network_mode`, remembering where its value is.
    pub(crate) fn network_mode(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Option<String>, SpecError> {
        self.remember(path.to_string(), node.pos);
        self.some_string(node, path)
    }

    /// A file mode: a number, or a string read as octal (`"0440"`).
    pub(crate) fn file_mode(&self, node: &Node, path: &str) -> Result<Option<u32>, SpecError> {
        let mode = match &node.value {
            Value::Int(i) => u32::try_from(*i)
                .map_err(|_| self.error(node.pos, path, format!("invalid file mode {i}"))),
            Value::Str(s) => u32::from_str_radix(s.trim(), 8).map_err(|_| {
                self.error(
                    node.pos,
                    path,
                    format!("invalid file mode `{s}` (an octal number such as 0440)"),
                )
            }),
            _ => Err(self.expected(node, path, "a file mode such as 0440")),
        };
        mode.map(Some)
    }

    /// `healthcheck.test`: a string is a `CMD-SHELL` test.
    pub(crate) fn health_test(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        let test = match &node.value {
            Value::Str(s) => vec!["CMD-SHELL".to_string(), s.clone()],
            _ => self.string_list(node, path)?,
        };
        if let Some(first) = test.first() {
            if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                return Err(self.error(
                    node.pos,
                    path,
                    format!("a test list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\", not `{first}`"),
                ));
            }
        }
        Ok(test)
    }
}

impl Decode for i64 {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.integer(node, path)
    }
}

impl Decode for Condition {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        let text = d.string(node, path)?;
        match text.as_str() {
            "service_started" => Ok(Condition::Started),
            "service_healthy" => Ok(Condition::Healthy),
            "service_completed_successfully" => Ok(Condition::CompletedSuccessfully),
            _ => Err(d.error(
                node.pos,
                path,
                format!("invalid condition `{text}` (service_started, service_healthy or service_completed_successfully)"),
            )),
        }
    }
}

/// Drops repeated entries, keeping the first position.
pub(crate) fn dedup(items: Vec<String>) -> Vec<String> {
    let set: IndexSet<String> = items.into_iter().collect();
    set.into_iter().collect()
}

/// Compose's `pull_policy` pattern.
fn is_pull_policy(value: &str) -> bool {
    matches!(
        value,
        "always"
            | "never"
            | "build"
            | "if_not_present"
            | "missing"
            | "refresh"
            | "daily"
            | "weekly"
    ) || value.strip_prefix("every_").is_some_and(|rest| {
        !rest.is_empty()
            && rest.split_inclusive(['w', 'd', 'h', 'm', 's']).all(|part| {
                part.len() >= 2
                    && part[..part.len() - 1].chars().all(|c| c.is_ascii_digit())
                    && part.ends_with(['w', 'd', 'h', 'm', 's'])
            })
    })
}
