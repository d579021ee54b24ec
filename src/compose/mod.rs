//! The compose model: find the spec, load it (YAML anchors, merge keys),
//! interpolate variables, merge `-f` overlays, validate, normalize, and build
//! the dependency graph. Pure: no I/O beyond reading the spec and env files.
//! Every error points at file:line:column where the YAML has a position.
//!
//! Entry points: [`load`] turns [`LoadOptions`] into a [`model::Project`];
//! [`graph::DependencyGraph`] orders its services; [`normalize`] prints a
//! project in compose's canonical form (`torq config`).
//!
//! The pipeline, file by file ([`loader`]): read → [`yaml`] tree with
//! positions → [`interpolate`] → [`include`] (other projects' resources,
//! their paths resolved by [`paths`]) → [`extends`] → [`merge`] into the
//! files before it; then [`convert`] types and checks the merged tree.

pub(crate) mod canonical;
pub(crate) mod decode;
pub(crate) mod discover;
pub(crate) mod dotenv;
pub(crate) mod error;
pub(crate) mod extends;
pub mod graph;
pub(crate) mod include;
pub(crate) mod interpolate;
pub(crate) mod loader;
pub(crate) mod merge;
pub mod model;
pub(crate) mod normalize;
pub(crate) mod paths;
pub mod select;
pub mod syntax;
pub(crate) mod validate;
pub(crate) mod yaml;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

pub use error::SpecError;
pub use model::Project;

use error::{FileId, Sources};
use yaml::{Node, Value};

/// A spec compiled into the application (the Torq stack's, handed in by the
/// CLI): loaded when no spec file is given or found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinSpec {
    /// How the spec is named in messages (`compose/torq.yaml (embedded)`).
    pub name: &'static str,
    pub text: &'static str,
}

/// Everything that decides which project is loaded and how.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` files in order (empty: discovery).
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (empty: `.env` in the project directory, if present).
    pub env_files: Vec<PathBuf>,
    /// `--profile`.
    pub profiles: Vec<String>,
    /// The spec to load when discovery finds none (none: that is an error).
    pub builtin: Option<BuiltinSpec>,
    /// Where discovery starts (the process's working directory).
    pub working_dir: PathBuf,
    /// The process environment used for interpolation (passed in, so loading is
    /// a pure function of its inputs).
    pub environment: IndexMap<String, String>,
}

/// Loads, interpolates, merges, validates and normalizes the project.
pub fn load(options: &LoadOptions) -> Result<Project, SpecError> {
    require_utf8_paths(options)?;
    let working_dir = absolute(&options.working_dir, Path::new("/"));
    let spec_files = discover::spec_files(options, &working_dir)?;
    let project_dir = match &options.project_directory {
        Some(dir) => absolute(dir, &working_dir),
        None => spec_files
            .first()
            .filter(|f| f.as_path() != Path::new(discover::STDIN_SPEC))
            .and_then(|f| f.parent())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| working_dir.clone()),
    };
    let mut env = project_environment(options, &working_dir, &project_dir)?;
    // Compose sets PWD when the environment lacks it.
    env.entry("PWD".to_string())
        .or_insert_with(|| working_dir.to_string_lossy().to_string());

    let home = env.get("HOME").cloned();
    let mut loader = loader::Loader::new(working_dir.clone(), home);
    let mut documents: Vec<(FileId, Vec<Node>)> = Vec::new();
    if spec_files.is_empty() {
        let builtin = options.builtin.ok_or_else(|| {
            SpecError::new(format!(
                "no spec file found: none of {} in {} or a parent directory (give one with -f)",
                discover::SPEC_FILE_NAMES.join(", "),
                working_dir.display()
            ))
        })?;
        let id = loader
            .sources
            .add(Path::new(""), builtin.name.into(), builtin.text.into());
        documents.push((id, loader.parse(id)?));
    }
    for file in &spec_files {
        let id = loader.read(file)?;
        documents.push((id, loader.parse(id)?));
    }

    let name = project_name(options, &env, &documents, &project_dir, &loader.sources)?;
    env.insert("COMPOSE_PROJECT_NAME".to_string(), name.clone());

    let scope = loader::Scope {
        env: &env,
        dir: &project_dir,
        including: &[],
    };
    let merged = loader.load_model(documents, &scope)?;
    let root =
        merged.unwrap_or_else(|| Node::new(Value::Map(yaml::Map::new()), Default::default()));

    let mut decoder = decode::Decoder::new(&loader.sources, &project_dir, &env);
    let mut project = decode::decode_project(&mut decoder, &root, &name)?;
    normalize::normalize(&mut decoder, &mut project, &active_profiles(options, &env))?;
    validate::validate(&mut decoder, &project)?;
    project.config_files = spec_files;
    project.warnings = loader
        .unset
        .iter()
        .map(|v| format!("the {v} variable is not set; using an empty string"))
        .chain(loader.warnings.iter().cloned())
        .chain(decoder.warnings)
        .collect();
    Ok(project)
}

/// The interpolation environment: the process environment, plus the env
/// files (`--env-file`, else the project directory's `.env`) for variables the
/// process does not set.
fn project_environment(
    options: &LoadOptions,
    working_dir: &Path,
    project_dir: &Path,
) -> Result<IndexMap<String, String>, SpecError> {
    let mut env = options.environment.clone();
    let files: Vec<PathBuf> = if options.env_files.is_empty() {
        let default = project_dir.join(".env");
        if default.is_file() {
            vec![default]
        } else {
            Vec::new()
        }
    } else {
        options
            .env_files
            .iter()
            .map(|f| absolute(f, working_dir))
            .collect()
    };
    for file in files {
        let shown = display_path(&file, working_dir);
        let vars = dotenv::read_file(&file, &shown, &env)?;
        for (k, v) in vars {
            env.entry(k).or_insert(v);
        }
    }
    Ok(env)
}

/// `-p` > `TORQ_PROJECT_NAME` > `COMPOSE_PROJECT_NAME` (both also from the env
/// files) > `name:` (last file wins) > the project directory's name. Names given explicitly must already be valid; the others
/// are normalized.
fn project_name(
    options: &LoadOptions,
    env: &IndexMap<String, String>,
    documents: &[(FileId, Vec<Node>)],
    project_dir: &Path,
    sources: &Sources,
) -> Result<String, SpecError> {
    let explicit = options
        .project_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            ["TORQ_PROJECT_NAME", "COMPOSE_PROJECT_NAME"]
                .iter()
                .find_map(|var| env.get(*var).filter(|n| !n.is_empty()).cloned())
        });
    if let Some(name) = explicit {
        if !syntax::is_valid_project_name(&name) {
            return Err(SpecError::new(format!(
                "invalid project name `{name}`: use lowercase letters, digits, `_` and `-`, starting with a letter or digit"
            )));
        }
        return Ok(name);
    }
    let mut from_spec = None;
    for (_, docs) in documents {
        for doc in docs {
            if let Some(entry) = doc.as_map().and_then(|m| m.get("name")) {
                let Some(text) = entry.node.as_str() else {
                    return Err(sources.error_at(
                        entry.node.pos,
                        format!("name: expected a string, found {}", entry.node.kind()),
                    ));
                };
                let mut unset = Vec::new();
                let value = interpolate::substitute(
                    text,
                    &interpolate::Environment { vars: env },
                    &mut unset,
                )
                .map_err(|e| sources.error_at(entry.node.pos, format!("name: {e}")))?;
                if !value.is_empty() {
                    from_spec = Some((value, entry.node.pos));
                }
            }
        }
    }
    if let Some((value, pos)) = from_spec {
        let name = syntax::normalize_project_name(&value);
        if name.is_empty() {
            return Err(
                sources.error_at(pos, format!("name: `{value}` is not a usable project name"))
            );
        }
        return Ok(name);
    }
    let dir_name = project_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = syntax::normalize_project_name(&dir_name);
    if name.is_empty() {
        return Err(SpecError::new(format!(
            "cannot derive a project name from the directory `{}`; pass -p NAME or set `name:` in the spec",
            project_dir.display()
        )));
    }
    Ok(name)
}

/// `--profile`, else `COMPOSE_PROFILES` (comma separated; from the process
/// environment or the env files), as compose reads it.
fn active_profiles(options: &LoadOptions, env: &IndexMap<String, String>) -> Vec<String> {
    if !options.profiles.is_empty() {
        return options.profiles.clone();
    }
    env.get("COMPOSE_PROFILES")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `path` made absolute against `base`, without touching the filesystem.
/// Refuses a working directory, project directory or spec/env file path
/// that is not UTF-8: the model holds paths as strings, and a lossy
/// conversion would name another directory (and, for the working directory,
/// silently fall back to the embedded spec).
fn require_utf8_paths(options: &LoadOptions) -> Result<(), SpecError> {
    let paths = std::iter::once(&options.working_dir)
        .chain(&options.project_directory)
        .chain(&options.files)
        .chain(&options.env_files);
    match paths.into_iter().find(|p| p.to_str().is_none()) {
        Some(path) => Err(SpecError::new(format!(
            "the path {} is not valid UTF-8; torq needs UTF-8 paths (rename the directory or file)",
            path.display()
        ))),
        None => Ok(()),
    }
}

fn absolute(path: &Path, base: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    PathBuf::from(syntax::clean_path(&joined.to_string_lossy()))
}

fn display_path(path: &Path, working_dir: &Path) -> String {
    loader::display_path(path, working_dir)
}

#[cfg(test)]
mod tests;
