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

use super::toplevel::resource_name;
use super::Converter;
use crate::compose::error::SpecError;
use crate::compose::model::{FileMount, FileObject};
use crate::compose::yaml::{Node, Value};

/// Which kind of file object is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Secret,
    Config,
}

impl FileKind {
    pub fn key(self) -> &'static str {
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

    fn keys(self) -> &'static [&'static str] {
        match self {
            FileKind::Secret => &[
                "name",
                "file",
                "environment",
                "external",
                "labels",
                "driver",
                "driver_opts",
                "template_driver",
            ],
            FileKind::Config => &[
                "name",
                "file",
                "environment",
                "content",
                "external",
                "labels",
                "template_driver",
            ],
        }
    }
}

impl Converter<'_> {
    /// The top-level `secrets` or `configs` mapping.
    pub fn file_objects(
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
            let mut object = FileObject {
                name,
                external,
                ..FileObject::default()
            };
            for (k, e) in map {
                let p = format!("{path}.{k}");
                let node = &e.node;
                match k.as_str() {
                    "name" | "external" => {}
                    "file" => {
                        let file = self.string(node, &p)?;
                        object.file = Some(PathBuf::from(self.host_path(&file)));
                    }
                    "environment" => {
                        let variable = self.string(node, &p)?;
                        object.environment_value = self.env.get(&variable).cloned();
                        object.environment = Some(variable);
                    }
                    "content" if kind == FileKind::Config => {
                        object.content = Some(self.string(node, &p)?)
                    }
                    "labels" => object.labels = self.labels(node, &p)?,
                    "driver" if kind == FileKind::Secret => {
                        object.driver = Some(self.string(node, &p)?)
                    }
                    "driver_opts" if kind == FileKind::Secret => {
                        object.driver_opts = self.string_map(node, &p)?
                    }
                    "template_driver" => object.template_driver = Some(self.string(node, &p)?),
                    x if x.starts_with("x-") => {}
                    _ => return Err(self.unknown_key(k, e, &path, kind.keys())),
                }
            }
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

    /// A service's (or build's) `secrets`/`configs` list. With
    /// `default_target`, a mount without `target` gets
    /// `<default_target>/<source>` (`/run/secrets` for a service's secrets).
    pub fn file_mounts(
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
                    for (k, e) in map {
                        let q = format!("{p}.{k}");
                        match k.as_str() {
                            "source" => mount.source = self.string(&e.node, &q)?,
                            "target" => mount.target = Some(self.string(&e.node, &q)?),
                            "uid" => mount.uid = Some(self.string(&e.node, &q)?),
                            "gid" => mount.gid = Some(self.string(&e.node, &q)?),
                            "mode" => mount.mode = Some(self.file_mode(&e.node, &q)?),
                            x if x.starts_with("x-") => {}
                            _ => {
                                return Err(self.unknown_key(
                                    k,
                                    e,
                                    &p,
                                    &["source", "target", "uid", "gid", "mode"],
                                ))
                            }
                        }
                    }
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

    /// A file mode: a number, or a string read as octal (`"0440"`).
    fn file_mode(&self, node: &Node, path: &str) -> Result<u32, SpecError> {
        match &node.value {
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
        }
    }
}
