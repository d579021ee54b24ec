//! Which spec files a project is made of: `-f` (or `TORQ_FILE`, which clap
//! folds into the same option) > `COMPOSE_FILE` (process environment, else
//! the `.env` of the project or working directory; `:`-separated, or
//! `COMPOSE_PATH_SEPARATOR`), as compose reads it > the first of [`SPEC_FILE_NAMES`] in the
//! working directory or its nearest parent that has one (plus an override
//! file next to it, as compose loads `compose.override.yaml`) > the embedded
//! Torq stack spec (an empty list here). `-f -` reads standard input.

use std::path::{Path, PathBuf};

use super::{absolute, LoadOptions, SpecError};

/// File names discovery looks for, in order of preference.
pub(crate) const SPEC_FILE_NAMES: [&str; 6] = [
    "torq.yaml",
    "torq.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Override files loaded after a discovered spec, first match only.
pub(crate) const OVERRIDE_FILE_NAMES: [&str; 6] = [
    "torq.override.yaml",
    "torq.override.yml",
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// `-f -`: the spec is read from standard input (the project directory is
/// then the working directory), as with docker compose.
pub(crate) const STDIN_SPEC: &str = "-";

/// The spec files to load, absolute (or [`STDIN_SPEC`]); empty means "the embedded spec".
pub(crate) fn spec_files(
    options: &LoadOptions,
    working_dir: &Path,
) -> Result<Vec<PathBuf>, SpecError> {
    if !options.files.is_empty() {
        let mut files = Vec::new();
        for file in &options.files {
            if file.as_os_str().is_empty() {
                continue;
            }
            if file == Path::new(STDIN_SPEC) {
                files.push(PathBuf::from(STDIN_SPEC));
                continue;
            }
            let path = absolute(file, working_dir);
            if !is_readable_spec(&path) {
                return Err(SpecError::new(format!(
                    "spec file {} not found",
                    file.display()
                )));
            }
            files.push(path);
        }
        if !files.is_empty() {
            return Ok(files);
        }
    }
    if let Some(list) = compose_file_variable(options, working_dir) {
        let separator = options
            .environment
            .get("COMPOSE_PATH_SEPARATOR")
            .cloned()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ":".to_string());
        let mut files = Vec::new();
        for file in list.split(separator.as_str()).filter(|f| !f.is_empty()) {
            let path = absolute(Path::new(file), working_dir);
            if !is_readable_spec(&path) {
                return Err(SpecError::new(format!(
                    "spec file {file} (from COMPOSE_FILE) not found"
                )));
            }
            files.push(path);
        }
        if !files.is_empty() {
            return Ok(files);
        }
    }
    Ok(discover(working_dir))
}

/// Whether a named spec file can be read: a regular file, or anything else
/// that is not a directory — a FIFO or `/dev/fd/N` (`torq -f <(…)`), as
/// docker compose accepts.
fn is_readable_spec(path: &Path) -> bool {
    path.exists() && !path.is_dir()
}

/// `COMPOSE_FILE` from the process environment, else from the `.env` file
/// of the project directory (or the working directory).
fn compose_file_variable(options: &LoadOptions, working_dir: &Path) -> Option<String> {
    if let Some(value) = options.environment.get("COMPOSE_FILE") {
        return Some(value.clone());
    }
    let dir = options
        .project_directory
        .as_ref()
        .map(|d| absolute(d, working_dir))
        .unwrap_or_else(|| working_dir.to_path_buf());
    let text = std::fs::read_to_string(dir.join(".env")).ok()?;
    super::dotenv::parse(&text, &options.environment)
        .ok()?
        .get("COMPOSE_FILE")
        .cloned()
}

/// Searches `start` and its parents for a spec file.
pub(crate) fn discover(start: &Path) -> Vec<PathBuf> {
    let mut dir = Some(start);
    while let Some(current) = dir {
        if let Some(spec) = first_existing(current, &SPEC_FILE_NAMES) {
            let mut files = vec![spec];
            if let Some(overlay) = first_existing(current, &OVERRIDE_FILE_NAMES) {
                files.push(overlay);
            }
            return files;
        }
        dir = current.parent();
    }
    Vec::new()
}

fn first_existing(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_torq_yaml_and_walks_up() {
        let root = tempfile::tempdir().unwrap();
        let sub = root.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(root.path().join("compose.yaml"), "services: {}").unwrap();
        std::fs::write(root.path().join("torq.yml"), "services: {}").unwrap();
        assert_eq!(discover(&sub), vec![root.path().join("torq.yml")]);
    }

    #[test]
    fn nearest_directory_wins_and_override_is_added() {
        let root = tempfile::tempdir().unwrap();
        let sub = root.path().join("a");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(root.path().join("torq.yaml"), "").unwrap();
        std::fs::write(sub.join("docker-compose.yml"), "").unwrap();
        std::fs::write(sub.join("compose.override.yaml"), "").unwrap();
        assert_eq!(
            discover(&sub),
            vec![
                sub.join("docker-compose.yml"),
                sub.join("compose.override.yaml")
            ]
        );
    }

    #[test]
    fn explicit_files_must_exist() {
        let root = tempfile::tempdir().unwrap();
        let options = LoadOptions {
            files: vec![PathBuf::from("missing.yaml")],
            ..LoadOptions::default()
        };
        let err = spec_files(&options, root.path()).unwrap_err();
        assert!(err.to_string().contains("missing.yaml"), "{err}");
    }
}
