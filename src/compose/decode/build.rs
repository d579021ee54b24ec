//! Decoding `build:` (a context path, or the long form through
//! [`Build`]'s table) and the build keys whose values need more than a
//! type: the context, `args`, `additional_contexts`, `ssh`, secrets.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::object::decode_map;
use super::Decoder;
use crate::compose::error::SpecError;
use crate::compose::model::{Build, FileMount};
use crate::compose::paths;
use crate::compose::yaml::{Node, Value};

impl Decoder<'_> {
    /// `build:`; the merge layer turned `build: DIR` into `{context: DIR}`.
    pub(crate) fn build(&mut self, node: &Node, path: &str) -> Result<Option<Build>, SpecError> {
        let mut build = Build::default();
        let map = self.map(node, path)?;
        if let Some(map) = map {
            build.extensions = decode_map(self, map, path, &mut build)?;
        }
        let has = |key: &str| map.is_some_and(|m| m.contains_key(key));
        if !has("dockerfile") && !has("dockerfile_inline") {
            build.dockerfile = Some("Dockerfile".into());
        }
        if !has("context") {
            build.context = self.resolve_context(".");
        }
        Ok(Some(build))
    }

    pub(crate) fn build_context(&self, node: &Node, path: &str) -> Result<PathBuf, SpecError> {
        let context = self.string(node, path)?;
        Ok(self.resolve_context(&context))
    }

    /// A local build context becomes absolute; URLs and `service:` stay as they are.
    fn resolve_context(&self, context: &str) -> PathBuf {
        let remote = context.contains("://")
            || context.starts_with("service:")
            || ["github.com/", "git@"]
                .iter()
                .any(|prefix| context.starts_with(prefix));
        if remote {
            PathBuf::from(context)
        } else {
            PathBuf::from(self.host_path(context))
        }
    }

    /// `args`: a bare `KEY` takes the interpolation environment's value, and
    /// is dropped when that has none.
    pub(crate) fn build_args(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, Option<String>>, SpecError> {
        let mut args = IndexMap::new();
        for (key, value) in self.key_values(node, path)? {
            if let Some(value) = value.or_else(|| self.env.get(&key).cloned()) {
                args.insert(key, Some(value));
            }
        }
        Ok(args)
    }

    /// `additional_contexts`: local paths made absolute.
    pub(crate) fn additional_contexts(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, String>, SpecError> {
        let contexts = self.labels(node, path)?;
        Ok(contexts
            .into_iter()
            .map(|(name, context)| {
                if paths::is_remote_context(&context) {
                    (name, context)
                } else {
                    (name, self.host_path(&context))
                }
            })
            .collect())
    }

    /// `build.secrets`: `target` as written.
    pub(crate) fn build_secret_mounts(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<FileMount>, SpecError> {
        self.file_mounts(node, path, None)
    }

    /// `build.ssh`: `default`, `ID=PATH` entries or a mapping, as a list of
    /// `ID` / `ID=PATH` strings with absolute paths.
    pub(crate) fn ssh(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        let keys = match &node.value {
            Value::Seq(items) => self.ssh_list(items, path)?,
            Value::Map(map) => {
                let mut keys = Vec::new();
                for (id, entry) in map {
                    let value = match &entry.node.value {
                        Value::Null => None,
                        _ => Some(self.string(&entry.node, &format!("{path}.{id}"))?),
                    };
                    keys.push((id.clone(), value));
                }
                keys
            }
            Value::Null => Vec::new(),
            _ => return Err(self.expected(node, path, "a list of ssh keys")),
        };
        Ok(keys
            .into_iter()
            .map(|(id, key_path)| match key_path {
                Some(p) if !p.is_empty() => format!("{id}={}", self.host_path(&p)),
                _ => id,
            })
            .collect())
    }

    /// `ssh` as a list: `default` or `ID=PATH`.
    fn ssh_list(
        &self,
        items: &[Node],
        path: &str,
    ) -> Result<Vec<(String, Option<String>)>, SpecError> {
        let mut keys = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let text = self.string(item, &p)?;
            match text.split_once('=') {
                Some((id, key_path)) => keys.push((id.to_string(), Some(key_path.to_string()))),
                None if text == "default" => keys.push((text, None)),
                None => {
                    return Err(self.error(
                        item.pos,
                        &p,
                        format!("invalid ssh key `{text}` (`default` or ID=PATH)"),
                    ))
                }
            }
        }
        Ok(keys)
    }
}
