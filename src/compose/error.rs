//! [`SpecError`]: why a spec cannot be loaded, pointing at file:line:column
//! (with the offending source line and a caret) wherever the YAML has a
//! position, and [`Sources`]: the text of every loaded file, so that errors
//! raised long after parsing can still quote the line they point at.

use std::fmt;
use std::path::{Path, PathBuf};

/// A spec that cannot be loaded. `Display` gives `file:line:column: message`
/// (or `file: message` when there is no position) followed by the source line
/// and a caret under the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// What is wrong, without the location prefix.
    pub message: String,
    /// The file the error is in, as shown to the user.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
    /// The source line the error points at, with a caret line under it.
    pub snippet: Option<String>,
}

impl std::error::Error for SpecError {}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line, self.column) {
            (Some(file), Some(line), Some(column)) => {
                write!(f, "{file}:{line}:{column}: {}", self.message)?
            }
            (Some(file), Some(line), None) => write!(f, "{file}:{line}: {}", self.message)?,
            (Some(file), _, _) => write!(f, "{file}: {}", self.message)?,
            (None, _, _) => f.write_str(&self.message)?,
        }
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

impl SpecError {
    /// An error without a position (e.g. no spec file found).
    pub(crate) fn new(message: impl Into<String>) -> SpecError {
        SpecError {
            message: message.into(),
            file: None,
            line: None,
            column: None,
            snippet: None,
        }
    }

    /// An error about a whole file (unreadable, empty, ...).
    pub(crate) fn in_file(file: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError {
            file: Some(file.into()),
            ..SpecError::new(message)
        }
    }
}

/// Identifies a loaded source file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId(pub u32);

/// A position in a source file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pos {
    pub file: FileId,
    pub line: u32,
    pub column: u32,
}

/// One loaded source file.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The path (absolute; empty for the embedded spec).
    pub(crate) path: PathBuf,
    /// How the file is named in messages.
    pub(crate) display: String,
    pub(crate) text: String,
}

/// Every file read while loading a project.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    files: Vec<Source>,
}

impl Sources {
    /// Registers a file's text; `display` is the name used in messages.
    pub(crate) fn add(&mut self, path: &Path, display: String, text: String) -> FileId {
        self.files.push(Source {
            path: path.to_path_buf(),
            display,
            text,
        });
        FileId((self.files.len() - 1) as u32)
    }

    pub(crate) fn get(&self, id: FileId) -> Option<&Source> {
        self.files.get(id.0 as usize)
    }

    pub(crate) fn text(&self, id: FileId) -> &str {
        self.get(id).map(|s| s.text.as_str()).unwrap_or("")
    }

    pub(crate) fn display(&self, id: FileId) -> &str {
        self.get(id)
            .map(|s| s.display.as_str())
            .unwrap_or("<unknown>")
    }

    /// An error at `pos`, quoting the source line.
    pub(crate) fn error_at(&self, pos: Pos, message: impl Into<String>) -> SpecError {
        let Some(source) = self.get(pos.file) else {
            return SpecError::new(message);
        };
        if pos.line == 0 {
            return SpecError::in_file(source.display.clone(), message);
        }
        SpecError {
            message: message.into(),
            file: Some(source.display.clone()),
            line: Some(pos.line),
            column: Some(pos.column.max(1)),
            snippet: snippet(&source.text, pos.line, pos.column.max(1)),
        }
    }

    /// An error about a whole file.
    pub(crate) fn error_in_file(&self, file: FileId, message: impl Into<String>) -> SpecError {
        SpecError::in_file(self.display(file).to_string(), message)
    }
}

/// The source line `line` with a caret under `column`, like
/// ```text
///    5 |       retries: many
///      |                ^
/// ```
fn snippet(text: &str, line: u32, column: u32) -> Option<String> {
    let source_line = text.lines().nth(line.checked_sub(1)? as usize)?;
    // Very long lines (minified specs) are cut around the column.
    let chars: Vec<char> = source_line.chars().collect();
    let col = (column as usize).saturating_sub(1).min(chars.len());
    let (start, prefix) = if col > 60 { (col - 40, "…") } else { (0, "") };
    let end = (start + 120).min(chars.len());
    let shown: String = chars[start..end].iter().collect();
    let suffix = if end < chars.len() { "…" } else { "" };
    let caret_offset = col - start + prefix.chars().count();
    let gutter = format!("{line:>4}");
    let pad = " ".repeat(gutter.len());
    Some(format!(
        "{gutter} | {prefix}{shown}{suffix}\n{pad} | {}^",
        " ".repeat(caret_offset)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_column_and_quotes_the_line() {
        let mut sources = Sources::default();
        let id = sources.add(
            Path::new("/p/compose.yaml"),
            "compose.yaml".into(),
            "services:\n  web:\n    retries: many\n".into(),
        );
        let err = sources.error_at(
            Pos {
                file: id,
                line: 3,
                column: 14,
            },
            "expected an integer",
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with("compose.yaml:3:14: expected an integer"),
            "{shown}"
        );
        assert!(shown.contains("   3 |     retries: many"), "{shown}");
        assert!(shown.ends_with("     |              ^"), "{shown}");
    }

    #[test]
    fn errors_without_position_still_name_the_file() {
        let err = SpecError::in_file("a.yaml", "empty");
        assert_eq!(err.to_string(), "a.yaml: empty");
        assert_eq!(SpecError::new("x").to_string(), "x");
    }
}
