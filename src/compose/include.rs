//! Top-level `include`: other compose projects loaded on their own terms
//! and their resources (services, networks, volumes, secrets, configs)
//! imported into the including file, as compose does.
//!
//! ```yaml
//! include:
//!   - other/compose.yaml                 # short form
//!   - path: [b/compose.yaml, b/ci.yaml]  # several files, merged
//!     project_directory: b               # default: the first file's directory
//!     env_file: b/custom.env             # default: <project_directory>/.env
//! ```
//!
//! Paths in the entry resolve against the including project's directory.
//! An included project interpolates with the including environment plus its
//! own env files (the including values win), may include others (a cycle is
//! an error), and has its relative paths resolved against its own project
//! directory. A resource the including file defines too must be identical,
//! else it is an error.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::dotenv;
use super::error::{Pos, SpecError};
use super::loader::{Loader, Scope};
use super::merge;
use super::paths;
use super::yaml::{Entry, Map, Node, Value};

/// Resources an included project contributes.
const IMPORTED: &[&str] = &[
    "services", "volumes", "networks", "secrets", "configs", "models",
];

/// One entry of `include`, paths absolute.
struct Include {
    files: Vec<(PathBuf, Pos)>,
    project_directory: PathBuf,
    env_files: Vec<PathBuf>,
    pos: Pos,
}

impl Loader {
    /// Loads every project `doc` includes, imports their resources into it,
    /// and removes the `include` key.
    pub(crate) fn apply_include(
        &mut self,
        doc: &mut Node,
        scope: &Scope<'_>,
    ) -> Result<(), SpecError> {
        let Value::Map(map) = &mut doc.value else {
            return Ok(());
        };
        let Some(entry) = map.shift_remove("include") else {
            return Ok(());
        };
        let includes = self.include_entries(&entry.node, scope.dir)?;
        for include in includes {
            let imported = self.load_included(&include, scope)?;
            let Some(imported) = imported else {
                continue;
            };
            import_resources(self, map, imported, include.pos)?;
        }
        Ok(())
    }

    fn include_entries(&self, node: &Node, dir: &Path) -> Result<Vec<Include>, SpecError> {
        let home = self.home.as_deref();
        let abs = |s: &str| PathBuf::from(paths::absolute(s, dir, home));
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.sources.error_at(
                node.pos,
                format!("include: expected a list, found {}", node.kind()),
            ));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("include[{i}]");
            let (files, project_directory, env_files) = match &item.value {
                Value::Str(path) => (vec![(abs(path), item.pos)], None, Vec::new()),
                Value::Map(map) => {
                    let mut files = Vec::new();
                    let mut project_directory = None;
                    let mut env_files = Vec::new();
                    for (key, e) in map {
                        let strings = || -> Result<Vec<(String, Pos)>, SpecError> {
                            string_or_list(self, &e.node, &format!("{at}.{key}"))
                        };
                        match key.as_str() {
                            "path" => {
                                files = strings()?
                                    .into_iter()
                                    .map(|(p, pos)| (abs(&p), pos))
                                    .collect()
                            }
                            "env_file" => {
                                env_files = strings()?
                                    .into_iter()
                                    .filter(|(p, _)| p != "/dev/null")
                                    .map(|(p, pos)| (abs(&p), pos))
                                    .collect()
                            }
                            "project_directory" => match e.node.as_str() {
                                Some(p) => project_directory = Some(abs(p)),
                                None => {
                                    return Err(self.sources.error_at(
                                        e.node.pos,
                                        format!(
                                            "{at}.project_directory: expected a string, found {}",
                                            e.node.kind()
                                        ),
                                    ))
                                }
                            },
                            _ => {
                                return Err(self.sources.error_at(
                                    e.key_pos,
                                    format!(
                                        "unknown key `{key}` in `{at}` (path, project_directory, env_file)"
                                    ),
                                ))
                            }
                        }
                    }
                    (files, project_directory, env_files)
                }
                _ => {
                    return Err(self.sources.error_at(
                        item.pos,
                        format!("{at}: expected a path or a mapping, found {}", item.kind()),
                    ))
                }
            };
            let Some((first, _)) = files.first() else {
                return Err(self
                    .sources
                    .error_at(item.pos, format!("{at}: an include needs a `path`")));
            };
            let project_directory = project_directory.unwrap_or_else(|| {
                first
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.to_path_buf())
            });
            for (file, pos) in &env_files {
                if !file.is_file() {
                    return Err(self.sources.error_at(
                        *pos,
                        format!("{at}.env_file: {} is not a readable file", file.display()),
                    ));
                }
            }
            out.push(Include {
                files,
                project_directory,
                env_files: env_files.into_iter().map(|(p, _)| p).collect(),
                pos: item.pos,
            });
        }
        Ok(out)
    }

    /// Loads the included project as its own model, paths resolved.
    fn load_included(
        &mut self,
        include: &Include,
        scope: &Scope<'_>,
    ) -> Result<Option<Node>, SpecError> {
        let first = &include.files[0].0;
        if let Some(start) = scope.including.iter().position(|f| f == first) {
            let chain: Vec<String> = scope.including[start..]
                .iter()
                .chain(std::iter::once(first))
                .map(|f| self.display_path(f))
                .collect();
            return Err(self.sources.error_at(
                include.pos,
                format!("include cycle: {}", chain.join(" -> ")),
            ));
        }
        let env = self.included_environment(include, scope.env)?;
        let mut files = Vec::new();
        for (path, pos) in &include.files {
            let id = self.read_referenced(path, *pos, "include")?;
            files.push((id, self.parse(id)?));
        }
        let inner = Scope {
            env: &env,
            dir: &include.project_directory,
            including: scope.including,
        };
        let mut model = self.load_model(files, &inner)?;
        if let Some(model) = &mut model {
            if let Value::Map(map) = &mut model.value {
                if map.shift_remove("version").is_some() {
                    self.warnings.push(format!(
                        "{}: the top-level `version` is obsolete and ignored",
                        self.display_path(first)
                    ));
                }
            }
            // Compose resolves against the project directory when it exists,
            // else against its parent.
            let base = if include.project_directory.is_dir() {
                include.project_directory.clone()
            } else {
                include
                    .project_directory
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| include.project_directory.clone())
            };
            paths::default_build_contexts(model);
            paths::resolve_relative_paths(model, &base, self.home.as_deref());
        }
        Ok(model)
    }

    /// The including environment plus the included project's env files
    /// (its `.env` by default) for variables not already set.
    fn included_environment(
        &self,
        include: &Include,
        env: &IndexMap<String, String>,
    ) -> Result<IndexMap<String, String>, SpecError> {
        let mut files = include.env_files.clone();
        if files.is_empty() {
            let default = include.project_directory.join(".env");
            if default.is_file() {
                files.push(default);
            }
        }
        let mut out = env.clone();
        let mut from_files: IndexMap<String, String> = IndexMap::new();
        for file in files {
            let shown = self.display_path(&file);
            let mut lookup = env.clone();
            for (k, v) in &from_files {
                lookup.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let vars = dotenv::read_file(&file, &shown, &lookup)?;
            from_files.extend(vars);
        }
        for (k, v) in from_files {
            out.entry(k).or_insert(v);
        }
        Ok(out)
    }
}

/// A string or a list of strings, with positions.
fn string_or_list(
    loader: &Loader,
    node: &Node,
    path: &str,
) -> Result<Vec<(String, Pos)>, SpecError> {
    let expected = |n: &Node| {
        loader.sources.error_at(
            n.pos,
            format!(
                "{path}: expected a string or a list of strings, found {}",
                n.kind()
            ),
        )
    };
    match &node.value {
        Value::Str(s) => Ok(vec![(s.clone(), node.pos)]),
        Value::Seq(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(|s| (s.to_string(), i.pos))
                    .ok_or_else(|| expected(i))
            })
            .collect(),
        _ => Err(expected(node)),
    }
}

/// Adds the imported project's resources to `map`; a resource defined on
/// both sides must be the same.
fn import_resources(
    loader: &Loader,
    map: &mut Map,
    imported: Node,
    include_pos: Pos,
) -> Result<(), SpecError> {
    let Value::Map(mut imported) = imported.value else {
        return Ok(());
    };
    for kind in IMPORTED {
        let Some(from) = imported.shift_remove(*kind) else {
            continue;
        };
        let Value::Map(from) = from.node.value else {
            continue;
        };
        let target = map.entry(kind.to_string()).or_insert_with(|| Entry {
            key_pos: include_pos,
            node: Node::new(Value::Map(Map::new()), include_pos),
        });
        if target.node.is_null() {
            target.node = Node::new(Value::Map(Map::new()), target.node.pos);
        }
        let Value::Map(to) = &mut target.node.value else {
            return Err(loader.sources.error_at(
                target.node.pos,
                format!("{kind}: expected a mapping, found {}", target.node.kind()),
            ));
        };
        for (name, entry) in from {
            match to.get(&name) {
                None => {
                    to.insert(name, entry);
                }
                Some(local) => {
                    let same = {
                        let a = merge::normalize_resource(
                            local.node.clone(),
                            kind,
                            &name,
                            &loader.sources,
                        )?;
                        let b = merge::normalize_resource(
                            entry.node.clone(),
                            kind,
                            &name,
                            &loader.sources,
                        )?;
                        a.to_json() == b.to_json()
                    };
                    if !same {
                        return Err(loader.sources.error_at(
                            local.key_pos,
                            format!(
                                "{kind}.{name} conflicts with the one an `include` imports (defined at {})",
                                describe(loader, entry.key_pos)
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `file:line` of a position, for messages.
fn describe(loader: &Loader, pos: Pos) -> String {
    format!("{}:{}", loader.sources.display(pos.file), pos.line)
}
