//! `extends`: a service built on another one, as compose does it.
//!
//! ```yaml
//! services:
//!   web:
//!     extends: base                 # a service of the same file
//!   worker:
//!     extends:
//!       file: common/services.yaml  # relative to the project directory
//!       service: app
//! ```
//!
//! The base (itself resolved first: chains work, cycles are errors) is
//! merged under the service with the rules of merging `-f` files, and
//! `extends` is dropped. A base from another file is read with the same
//! variables, and its relative paths (build context, bind mounts, env
//! files, …) resolve against that file's directory. Each file's `extends`
//! are resolved on that file alone, before it is merged with the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::error::{FileId, Pos, SpecError};
use super::loader::{Loader, Scope};
use super::merge;
use super::paths;
use super::yaml::{Map, Node, Value};

/// Services being resolved, outermost first: (file, service).
type Chain = Vec<(PathBuf, String)>;

/// Files read for `extends.file`, merged and path-resolved, by path.
type Cache = HashMap<PathBuf, Node>;

/// What an `extends` names.
struct Reference {
    service: String,
    file: Option<String>,
    pos: Pos,
}

impl Loader {
    /// Resolves every `extends` among the services of `doc` (file `id`).
    pub(crate) fn apply_extends(
        &mut self,
        doc: &mut Node,
        id: FileId,
        scope: &Scope<'_>,
    ) -> Result<(), SpecError> {
        let file = self.file_path(id);
        let Some(services) = services_mut(doc) else {
            return Ok(());
        };
        let names: Vec<String> = services.keys().cloned().collect();
        let mut cache = Cache::new();
        for name in names {
            let mut chain = Chain::new();
            self.extend(
                services, &name, &file, scope.dir, scope.env, &mut chain, &mut cache,
            )?;
        }
        Ok(())
    }

    /// Resolves `extends` of service `name` in `services` (of `file`).
    #[allow(clippy::too_many_arguments)]
    fn extend(
        &mut self,
        services: &mut Map,
        name: &str,
        file: &Path,
        dir: &Path,
        env: &IndexMap<String, String>,
        chain: &mut Chain,
        cache: &mut Cache,
    ) -> Result<(), SpecError> {
        let Some(reference) = self.reference(services, name)? else {
            return Ok(());
        };
        let key = (file.to_path_buf(), name.to_string());
        if let Some(start) = chain.iter().position(|k| *k == key) {
            let names: Vec<&str> = chain[start..]
                .iter()
                .map(|(_, s)| s.as_str())
                .chain(std::iter::once(name))
                .collect();
            return Err(self.sources.error_at(
                reference.pos,
                format!("services.{name}.extends: cycle: {}", names.join(" -> ")),
            ));
        }
        chain.push(key);
        let base = match &reference.file {
            None => {
                if !services.contains_key(&reference.service) {
                    return Err(self.sources.error_at(
                        reference.pos,
                        format!(
                            "services.{name}.extends: service `{}` not found in {}",
                            reference.service,
                            self.display_path(file)
                        ),
                    ));
                }
                self.extend(services, &reference.service, file, dir, env, chain, cache)?;
                services
                    .get(&reference.service)
                    .map(|e| e.node.clone())
                    .unwrap_or_else(|| Node::new(Value::Null, reference.pos))
            }
            Some(other) => {
                if paths::is_remote_context(other) {
                    return Err(self.sources.error_at(
                        reference.pos,
                        format!("services.{name}.extends.file: remote files (`{other}`) are not supported"),
                    ));
                }
                let path = PathBuf::from(paths::absolute(other, dir, self.home.as_deref()));
                let mut tree = match cache.remove(&path) {
                    Some(tree) => tree,
                    None => self.load_extends_file(&path, reference.pos, env)?,
                };
                let base = self.base_from(&mut tree, &reference, name, &path, env, chain, cache);
                cache.insert(path, tree);
                base?
            }
        };
        chain.pop();
        let Some(entry) = services.get_mut(name) else {
            return Ok(());
        };
        let mut overlay = std::mem::replace(&mut entry.node, Node::new(Value::Null, reference.pos));
        if let Value::Map(map) = &mut overlay.value {
            map.shift_remove("extends");
        }
        entry.node = if base.is_null() {
            overlay
        } else {
            merge::extend_service(base, overlay, name, &self.sources)?
        };
        Ok(())
    }

    /// The resolved service `reference.service` of another file's tree.
    #[allow(clippy::too_many_arguments)]
    fn base_from(
        &mut self,
        tree: &mut Node,
        reference: &Reference,
        name: &str,
        path: &Path,
        env: &IndexMap<String, String>,
        chain: &mut Chain,
        cache: &mut Cache,
    ) -> Result<Node, SpecError> {
        let shown = self.display_path(path);
        let Some(services) = services_mut(tree) else {
            return Err(self.sources.error_at(
                reference.pos,
                format!("services.{name}.extends: {shown} has no `services`"),
            ));
        };
        if !services.contains_key(&reference.service) {
            return Err(self.sources.error_at(
                reference.pos,
                format!(
                    "services.{name}.extends: service `{}` not found in {shown}",
                    reference.service
                ),
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        self.extend(services, &reference.service, path, &dir, env, chain, cache)?;
        Ok(services
            .get(&reference.service)
            .map(|e| e.node.clone())
            .unwrap_or_else(|| Node::new(Value::Null, reference.pos)))
    }

    /// What `services.<name>.extends` names, if the service has one.
    fn reference(&self, services: &Map, name: &str) -> Result<Option<Reference>, SpecError> {
        let Some(Value::Map(service)) = services.get(name).map(|e| &e.node.value) else {
            return Ok(None);
        };
        let Some(entry) = service.get("extends") else {
            return Ok(None);
        };
        let path = format!("services.{name}.extends");
        let node = &entry.node;
        match &node.value {
            Value::Str(service) => Ok(Some(Reference {
                service: service.clone(),
                file: None,
                pos: node.pos,
            })),
            Value::Map(map) => {
                let mut service = None;
                let mut file = None;
                for (key, e) in map {
                    let text = || {
                        e.node.as_str().map(str::to_string).ok_or_else(|| {
                            self.sources.error_at(
                                e.node.pos,
                                format!("{path}.{key}: expected a string, found {}", e.node.kind()),
                            )
                        })
                    };
                    match key.as_str() {
                        "service" => service = Some(text()?),
                        "file" => file = Some(text()?),
                        _ => {
                            return Err(self.sources.error_at(
                                e.key_pos,
                                format!("unknown key `{key}` in `{path}` (service, file)"),
                            ))
                        }
                    }
                }
                let Some(service) = service else {
                    return Err(self
                        .sources
                        .error_at(node.pos, format!("{path}: `service` is required")));
                };
                Ok(Some(Reference {
                    service,
                    file,
                    pos: node.pos,
                }))
            }
            _ => Err(self.sources.error_at(
                node.pos,
                format!(
                    "{path}: expected a service name or a mapping, found {}",
                    node.kind()
                ),
            )),
        }
    }

    /// Reads a file named by `extends.file`: interpolated, its documents
    /// merged, relative paths resolved against its directory.
    fn load_extends_file(
        &mut self,
        path: &Path,
        at: Pos,
        env: &IndexMap<String, String>,
    ) -> Result<Node, SpecError> {
        let id = self.read_referenced(path, at, "extends")?;
        let docs = self.parse(id)?;
        let mut merged: Option<Node> = None;
        for mut doc in docs {
            self.interpolate(&mut doc, env)?;
            merged = Some(match merged {
                None => merge::normalize_file(doc, &self.sources)?,
                Some(base) => merge::merge_files(base, doc, &self.sources)?,
            });
        }
        let mut tree = merged.unwrap_or_else(|| Node::new(Value::Map(Map::new()), at));
        let dir = path.parent().unwrap_or(Path::new("/"));
        paths::resolve_relative_paths(&mut tree, dir, self.home.as_deref());
        Ok(tree)
    }
}

/// The `services` mapping of a file's tree.
fn services_mut(doc: &mut Node) -> Option<&mut Map> {
    match &mut doc.value {
        Value::Map(map) => match map.get_mut("services").map(|e| &mut e.node.value) {
            Some(Value::Map(services)) => Some(services),
            _ => None,
        },
        _ => None,
    }
}
