//! Reading spec files into one merged tree, file by file, as compose does:
//! parse → interpolate → `include` (other projects' resources imported) →
//! `extends` (services built on others) → merge over the files before.
//! Typing happens after, on the merged tree (`decode`).
//!
//! The [`Loader`] owns every source read (so errors anywhere point at
//! file:line:column), the alias budget shared by all of them, and the
//! variables found unset. `include` lives in [`super::include`], `extends`
//! in [`super::extends`].

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::error::{FileId, Sources, SpecError};
use super::interpolate;
use super::merge;
use super::yaml::{self, Budget, Node};

/// Reads, parses and merges spec files.
pub(crate) struct Loader {
    pub(crate) sources: Sources,
    budget: Budget,
    /// Variables used but not set, in the order first met.
    pub(crate) unset: Vec<String>,
    /// The process working directory: files below it are named relatively.
    pub(crate) working_dir: PathBuf,
    /// `$HOME`, for `~` in paths.
    pub(crate) home: Option<String>,
    /// Things worth a warning (`version`, deprecated forms).
    pub(crate) warnings: Vec<String>,
}

/// Where a set of files is loaded: the variables they interpolate, the
/// directory their relative `include` and `extends.file` paths start from,
/// and the chain of files including them (to refuse include cycles).
pub(crate) struct Scope<'a> {
    pub(crate) env: &'a IndexMap<String, String>,
    pub(crate) dir: &'a Path,
    pub(crate) including: &'a [PathBuf],
}

impl Loader {
    pub(crate) fn new(working_dir: PathBuf, home: Option<String>) -> Loader {
        Loader {
            sources: Sources::default(),
            budget: Budget::default(),
            unset: Vec::new(),
            working_dir,
            home,
            warnings: Vec::new(),
        }
    }

    /// Reads a spec file and registers it.
    pub(crate) fn read(&mut self, path: &Path) -> Result<FileId, SpecError> {
        if path == Path::new(super::discover::STDIN_SPEC) {
            return self.read_stdin();
        }
        let shown = self.display_path(path);
        let text = std::fs::read_to_string(path)
            .map_err(|e| SpecError::in_file(shown.clone(), format!("cannot read the spec: {e}")))?;
        Ok(self.sources.add(path, shown, text))
    }

    /// Reads the spec from standard input (`-f -`), named `<stdin>` in messages.
    fn read_stdin(&mut self) -> Result<FileId, SpecError> {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
            .map_err(|e| SpecError::in_file("<stdin>", format!("cannot read the spec: {e}")))?;
        Ok(self.sources.add(
            Path::new(super::discover::STDIN_SPEC),
            "<stdin>".into(),
            text,
        ))
    }

    /// Reads a file named by `include` or `extends`, with the error at `at`.
    pub(crate) fn read_referenced(
        &mut self,
        path: &Path,
        at: super::error::Pos,
        what: &str,
    ) -> Result<FileId, SpecError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let shown = self.display_path(path);
                Ok(self.sources.add(path, shown, text))
            }
            Err(e) => Err(self
                .sources
                .error_at(at, format!("{what}: cannot read {}: {e}", path.display()))),
        }
    }

    /// Parses a registered file into its documents, each a mapping; an
    /// empty file is an error.
    pub(crate) fn parse(&mut self, id: FileId) -> Result<Vec<Node>, SpecError> {
        let docs = yaml::parse_documents(&self.sources, id, &mut self.budget)?;
        if docs.is_empty() {
            return Err(self.sources.error_in_file(
                id,
                "the spec is empty (expected a mapping with `services:`)",
            ));
        }
        for doc in &docs {
            if doc.as_map().is_none() {
                return Err(self.sources.error_at(
                    doc.pos,
                    format!("the top level must be a mapping, found {}", doc.kind()),
                ));
            }
        }
        Ok(docs)
    }

    /// Interpolates, resolves `include` and `extends` in, and merges the
    /// documents of `files` in order; `None` when there are none.
    pub(crate) fn load_model(
        &mut self,
        files: Vec<(FileId, Vec<Node>)>,
        scope: &Scope<'_>,
    ) -> Result<Option<Node>, SpecError> {
        let mut merged: Option<Node> = None;
        for (id, docs) in files {
            for doc in docs {
                let doc = self.process_document(doc, id, scope)?;
                merged = Some(match merged {
                    None => merge::normalize_file(doc, &self.sources)?,
                    Some(base) => merge::merge_files(base, doc, &self.sources)?,
                });
            }
        }
        Ok(merged)
    }

    /// One document: interpolated, its `include`s imported, its `extends`
    /// applied.
    fn process_document(
        &mut self,
        mut doc: Node,
        id: FileId,
        scope: &Scope<'_>,
    ) -> Result<Node, SpecError> {
        self.interpolate(&mut doc, scope.env)?;
        let file = self.file_path(id);
        let mut including = scope.including.to_vec();
        if !file.as_os_str().is_empty() {
            including.push(file);
        }
        let inner = Scope {
            env: scope.env,
            dir: scope.dir,
            including: &including,
        };
        self.apply_include(&mut doc, &inner)?;
        self.apply_extends(&mut doc, id, &inner)?;
        Ok(doc)
    }

    pub(crate) fn interpolate(
        &mut self,
        doc: &mut Node,
        env: &IndexMap<String, String>,
    ) -> Result<(), SpecError> {
        let environment = interpolate::Environment { vars: env };
        interpolate::interpolate_tree(doc, &environment, &self.sources, &mut self.unset)
    }

    /// The absolute path of a registered file (empty for the embedded spec).
    pub(crate) fn file_path(&self, id: FileId) -> PathBuf {
        self.sources
            .get(id)
            .map(|s| s.path.clone())
            .unwrap_or_default()
    }

    /// How a file is named in messages: relative to the working directory
    /// when it lies below it, else absolute.
    pub(crate) fn display_path(&self, path: &Path) -> String {
        display_path(path, &self.working_dir)
    }
}

/// How a file is named in messages: relative to `working_dir` when it lies
/// below it, else absolute.
pub(crate) fn display_path(path: &Path, working_dir: &Path) -> String {
    match path.strip_prefix(working_dir) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}
