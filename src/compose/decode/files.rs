//! Top-level `secrets` and `configs` (where the content comes from) and the
//! services' references to them (where it appears in the container).
//!
//! As compose: a secret has exactly one of `file`/`environment` (a config
//! one of `file`/`environment`/`content`) unless it is `external` or names a
//! `driver`; `file` resolves against the project directory; a service's
//! secret without `target` appears at `/run/secrets/<source>`; `mode`
//! written as a string is octal; `uid`/`gid` are strings.

use std::collections::HashMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::object::{decode_map, Object};
use super::toplevel::resource_name;
use super::Decoder;
use crate::compose::error::SpecError;
use crate::compose::model::{FileMount, FileObject};
use crate::compose::yaml::{Map, Node, Value};

/// Which kind of file object is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Secret,
    Config,
}

impl FileKind {
    pub(crate) fn key(self) -> &'static str {
        match self {
            FileKind::Secret => "secrets",
            FileKind::Config => "configs",
        }
    }

    fn sources(self) -> &'static [&'static str] {
        match self {
            FileKind::Secret => &["file", "environment"],
            FileKind::Config => &["file", "environment", "content"],
        }
    }

    /// The keys of [`FileObject`] this kind does not have.
    fn lacks(self) -> &'static [&'static str] {
        match self {
            FileKind::Secret => &["content"],
            FileKind::Config => &["driver", "driver_opts"],
        }
    }
}

impl Decoder<'_> {
    /// The top-level `secrets` or `configs` mapping.
    pub(crate) fn file_objects(
        &mut self,
        node: &Node,
        kind: FileKind,
        project: &str,
    ) -> Result<IndexMap<String, FileObject>, SpecError> {
        let mut out = IndexMap::new();
        for (key, entry) in self.map(node, kind.key())?.into_iter().flatten() {
            let path = format!("{}.{key}", kind.key());
            let Some(map) = self.map(&entry.node, &path)? else {
                return Err(self.error(
                    entry.node.pos,
                    &path,
                    format!("one of {} must be set", kind.sources().join("|")),
                ));
            };
            let (name, external) = resource_name(self, map, key, &path, project)?;
            self.refuse_other_keys(map, &path, kind)?;
            let mut object = FileObject::default();
            decode_map(self, map, &path, &mut object)?;
            (object.name, object.external) = (name, external);
            object.environment_value = object
                .environment
                .as_ref()
                .and_then(|variable| self.env.get(variable).cloned());
            let given: Vec<&str> = kind
                .sources()
                .iter()
                .copied()
                .filter(|s| map.contains_key(*s))
                .collect();
            if given.len() > 1 {
                return Err(self.error(
                    entry.node.pos,
                    &path,
                    format!(
                        "{} attributes are mutually exclusive",
                        kind.sources().join("|")
                    ),
                ));
            }
            if given.is_empty() && !map.contains_key("external") && !map.contains_key("driver") {
                return Err(self.error(
                    entry.node.pos,
                    &path,
                    format!("one of {} must be set", kind.sources().join("|")),
                ));
            }
            self.remember(path, entry.key_pos);
            out.insert(key.clone(), object);
        }
        Ok(out)
    }

    /// Refuses the keys this kind of file object does not have (and any
    /// other unknown key, first in spec order), hinting at the kind's keys.
    fn refuse_other_keys(&self, map: &Map, path: &str, kind: FileKind) -> Result<(), SpecError> {
        let keys: Vec<&str> = FileObject::KEYS
            .iter()
            .copied()
            .filter(|k| !kind.lacks().contains(k))
            .collect();
        let unknown = map
            .iter()
            .find(|(k, _)| !k.starts_with("x-") && !keys.contains(&k.as_str()));
        match unknown {
            Some((key, entry)) => Err(self.unknown_key(key, entry, path, &keys)),
            None => Ok(()),
        }
    }

    /// A host file path, made absolute.
    pub(crate) fn host_file(&self, node: &Node, path: &str) -> Result<Option<PathBuf>, SpecError> {
        self.host_path_buf(node, path).map(Some)
    }

    /// A service's `secrets`: without `target`, at `/run/secrets/<source>`.
    pub(crate) fn secret_mounts(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<FileMount>, SpecError> {
        self.file_mounts(node, path, Some("/run/secrets"))
    }

    /// A service's `configs`: without `target`, at `/<source>`.
    pub(crate) fn config_mounts(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<FileMount>, SpecError> {
        self.file_mounts(node, path, None)
    }

    /// A service's (or build's) `secrets`/`configs` list. With
    /// `default_target`, a mount without `target` gets
    /// `<default_target>/<source>` (`/run/secrets` for a service's secrets).
    pub(crate) fn file_mounts(
        &mut self,
        node: &Node,
        path: &str,
        default_target: Option<&str>,
    ) -> Result<Vec<FileMount>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list"));
        };
        let mut mounts: Vec<FileMount> = Vec::new();
        let mut by_target: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let mut mount = FileMount::default();
            match &item.value {
                Value::Str(source) => mount.source = source.clone(),
                Value::Map(map) => {
                    decode_map(self, map, &p, &mut mount)?;
                }
                _ => return Err(self.expected(item, &p, "a name or a mapping")),
            }
            let identity = mount
                .target
                .clone()
                .unwrap_or_else(|| format!("{}/{}", default_target.unwrap_or(""), mount.source));
            if mount.target.is_none() {
                if let Some(dir) = default_target {
                    mount.target = Some(format!("{dir}/{}", mount.source));
                }
            }
            let index = match by_target.get(&identity) {
                Some(&j) => {
                    mounts[j] = mount;
                    j
                }
                None => {
                    by_target.insert(identity, mounts.len());
                    mounts.push(mount);
                    mounts.len() - 1
                }
            };
            self.remember(format!("{path}[{index}]"), item.pos);
        }
        Ok(mounts)
    }
}
