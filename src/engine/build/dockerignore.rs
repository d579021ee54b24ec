//! `.dockerignore` files with Docker's own semantics, so a build context holds
//! exactly the files `docker build` would send.
//!
//! The rules, as the Docker CLI applies them:
//! - A line starting with `#` is a comment; other lines are trimmed; empty lines
//!   are skipped. A leading `!` makes the pattern an exception. Patterns are
//!   cleaned like Go's `filepath.Clean`, and a leading `/` is dropped (patterns
//!   are relative to the context root).
//! - Patterns use Go's `filepath.Match` syntax (`*`, `?`, `[...]`, `\` escapes;
//!   `*` and `?` never cross a `/`) plus `**`, which matches any number of
//!   directories (zero included).
//! - A pattern matching a directory matches everything below it.
//! - Patterns are evaluated in order and the last one that matches decides:
//!   excluded unless it was an exception.
//!
//! No Rust crate implements these semantics (gitignore's differ: no
//! parent-directory rule, different `**` and anchoring), so this is a small
//! implementation tested against the behaviour of Docker's pattern matcher.

use crate::compose::syntax::clean_path;
use regex::Regex;
use thiserror::Error;

/// A pattern that cannot be compiled.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid .dockerignore pattern {pattern:?}: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// The patterns of a `.dockerignore` file, in order.
#[derive(Debug, Clone, Default)]
pub struct IgnoreMatcher {
    patterns: Vec<Pattern>,
}

/// Per-pattern results for a directory, handed to its children so each pattern
/// that matched a parent counts as matching the child too.
#[derive(Debug, Clone, Default)]
pub struct ParentMatches(Vec<bool>);

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern, without the `!`.
    text: String,
    exception: bool,
    kind: MatchKind,
}

#[derive(Debug, Clone)]
enum MatchKind {
    /// No wildcard: the path equals the pattern.
    Exact,
    /// `dir/**`: the path starts with `dir/`.
    Prefix(String),
    /// `**/name`: the path ends with `/name`, or is `name`.
    Suffix(String),
    Regex(Regex),
}

impl IgnoreMatcher {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<IgnoreMatcher, PatternError> {
        IgnoreMatcher::new(read_patterns(text))
    }

    /// Compiles patterns as read from an ignore file (`!` marks an exception).
    pub fn new<S: AsRef<str>>(patterns: impl IntoIterator<Item = S>) -> Result<Self, PatternError> {
        let mut compiled = Vec::new();
        for raw in patterns {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            let cleaned = clean_path(trimmed);
            let (exception, text) = match cleaned.strip_prefix('!') {
                Some("") => {
                    return Err(PatternError {
                        pattern: raw.as_ref().to_string(),
                        reason: "an exception needs a pattern after `!`".into(),
                    })
                }
                Some(rest) => (true, rest.to_string()),
                None => (false, cleaned),
            };
            let kind = compile(&text).map_err(|reason| PatternError {
                pattern: raw.as_ref().to_string(),
                reason,
            })?;
            compiled.push(Pattern {
                text,
                exception,
                kind,
            });
        }
        Ok(IgnoreMatcher { patterns: compiled })
    }

    /// Adds exceptions so that `path` is always kept (the Dockerfile and the
    /// `.dockerignore` itself are always sent, as the Docker CLI does).
    pub fn keep_always(&mut self, path: &str) {
        if self.is_excluded(path) {
            let text = clean_path(path);
            if let Ok(kind) = compile(&text) {
                self.patterns.push(Pattern {
                    text,
                    exception: true,
                    kind,
                });
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is an exception (`!…`).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Whether `path` (slash-separated, relative to the context) is excluded,
    /// looking at the path and each of its parent directories.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = clean_path(path);
        if path == "." {
            return false;
        }
        let mut parent = ParentMatches::default();
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            parent = self.matches(&prefix, &parent).1;
        }
        self.matches(&path, &parent).0
    }

    /// Whether `path` is excluded, given the results of its parent directory
    /// (the default value for a top-level entry). Returns the results to pass
    /// to `path`'s own children.
    pub fn matches(&self, path: &str, parent: &ParentMatches) -> (bool, ParentMatches) {
        let mut excluded = false;
        let mut results = vec![false; self.patterns.len()];
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut matched = parent.0.get(i).copied().unwrap_or(false);
            if !matched {
                // An inclusion cannot change an excluded path, nor an exception
                // a kept one: skip the work.
                if pattern.exception != excluded {
                    continue;
                }
                matched = pattern.matches(path);
                if !matched && parent.0.is_empty() {
                    matched = ancestors(path).any(|dir| pattern.matches(dir));
                }
            }
            results[i] = matched;
            if matched {
                excluded = !pattern.exception;
            }
        }
        (excluded, ParentMatches(results))
    }

    /// For an excluded directory: whether an exception may keep something
    /// below it, so the directory must still be walked.
    pub fn may_keep_below(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|p| p.exception)
            .any(|p| format!("{}/", p.text).starts_with(&dir_slash))
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.text,
            MatchKind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            MatchKind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|name| path == name)
            }
            MatchKind::Regex(re) => re.is_match(path),
        }
    }
}

/// `a`, `a/b` for `a/b/c`: the proper ancestors of a relative path.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// The patterns of an ignore file's text: comments and blank lines dropped,
/// each pattern trimmed and cleaned, a leading `/` removed.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (exception, body) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let mut body = if body.is_empty() {
            String::new()
        } else {
            clean_path(body)
        };
        if body.len() > 1 && body.starts_with('/') {
            body.remove(0);
        }
        patterns.push(if exception { format!("!{body}") } else { body });
    }
    patterns
}

/// Turns a cleaned pattern into its matcher, the way Docker's matcher does:
/// plain text compares exactly, `x/**` and `**/x` are prefix and suffix tests,
/// anything else becomes an anchored regular expression.
fn compile(pattern: &str) -> Result<MatchKind, String> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut regex = String::from("^");
    let mut detected = Detected::Exact;
    let mut chars = pattern.chars().peekable();
    let mut first = true;
    while let Some(ch) = chars.next() {
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // `**/` is `**`: the slash is part of "any number of directories".
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        regex.push_str(".*");
                        detected = Detected::Regex;
                    }
                } else {
                    regex.push_str("(.*/)?");
                    detected = Detected::Regex;
                }
                if first {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                regex.push_str("[^/]*");
                detected = Detected::Regex;
            }
            '?' => {
                regex.push_str("[^/]");
                detected = Detected::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                regex.push('\\');
                regex.push(ch);
            }
            '\\' => match chars.next() {
                Some(next) => {
                    regex.push('\\');
                    regex.push(next);
                    detected = Detected::Regex;
                }
                None => regex.push_str("\\\\"),
            },
            '[' | ']' => {
                regex.push(ch);
                detected = Detected::Regex;
            }
            other => regex.push(other),
        }
        first = false;
    }
    regex.push('$');
    // Compile even when a plain comparison will do, to reject malformed
    // patterns (an unclosed `[`) the way Docker does.
    let compiled = Regex::new(&regex).map_err(|e| first_line(&e.to_string()))?;
    Ok(match detected {
        Detected::Exact => MatchKind::Exact,
        Detected::Prefix => MatchKind::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => MatchKind::Suffix(pattern[2..].to_string()),
        Detected::Regex => MatchKind::Regex(compiled),
    })
}

fn first_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim().trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| text.lines().next().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(patterns: &[&str], path: &str) -> bool {
        IgnoreMatcher::new(patterns.iter().copied())
            .expect("patterns compile")
            .is_excluded(path)
    }

    /// Single patterns, with the results Docker's pattern matcher gives.
    #[test]
    fn single_patterns_match_like_docker() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "main.go", true),
            ("*.go", "main.go", true),
            ("**", "file", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**/**", "dir/file", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/dir2/file", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcZdef", false),
            ("abc.def", "abc.def", true),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/*.whl",
                "dist/pkg-2.4.0rc3+g08a-py3-none-any.whl",
                true,
            ),
            // `*` never crosses a slash, but a matching parent excludes its children.
            ("a*", "ab/c", true),
            ("a*/b", "a/c/b", false),
            ("docs", "docs/README.md", true),
            ("docs/", "docs/README.md", true),
            ("./docs/../docs", "docs/x", true),
            ("doc", "docs/README.md", false),
        ];
        for &(pattern, path, expected) in cases {
            assert_eq!(
                excluded(&[pattern], path),
                expected,
                "pattern {pattern:?} on {path:?}"
            );
        }
    }

    #[test]
    fn the_last_matching_pattern_wins() {
        assert!(!excluded(&["*.go", "!main.go"], "main.go"));
        assert!(excluded(&["!main.go", "*.go"], "main.go"));
        assert!(!excluded(&["docs", "!docs/README.md"], "docs/README.md"));
        assert!(excluded(&["docs", "!docs/README.md"], "docs/other.md"));
        assert!(!excluded(&["docs/*", "!docs/README.md"], "docs/README.md"));
        assert!(!excluded(&["**", "!util/web"], "util/web/foo"));
        assert!(excluded(
            &["**", "!util/web", "util/web/foo"],
            "util/web/foo"
        ));
        assert!(!excluded(&["**", "!dist/*.whl"], "dist/a-1.0+x.whl"));
        assert!(excluded(&["*.log", "!keep.log", "keep*"], "keep.log"));
    }

    #[test]
    fn parent_results_give_the_same_answers_as_a_full_check() {
        let m = IgnoreMatcher::new(["cache", "!cache/keep.txt", "**/*.tmp"]).unwrap();
        let (dir_excluded, parent) = m.matches("cache", &ParentMatches::default());
        assert!(dir_excluded);
        assert!(m.may_keep_below("cache"));
        assert!(!m.may_keep_below("other"));
        assert!(!m.matches("cache/keep.txt", &parent).0);
        assert!(m.matches("cache/drop.txt", &parent).0);
        assert_eq!(
            m.matches("cache/keep.txt", &parent).0,
            m.is_excluded("cache/keep.txt")
        );
        let (_, src) = m.matches("src", &ParentMatches::default());
        assert!(m.matches("src/a.tmp", &src).0);
        assert!(!m.matches("src/a.rs", &src).0);
    }

    #[test]
    fn the_file_is_read_like_docker_reads_it() {
        let text =
            "\u{feff}# comment\n  *.log  \n\n!  keep.log\n/abs/path\n #not a comment\n./a/../b/\n";
        assert_eq!(
            read_patterns(text),
            vec!["*.log", "!keep.log", "abs/path", "#not a comment", "b"]
        );
        let m = IgnoreMatcher::parse("/docs\n").unwrap();
        assert!(m.is_excluded("docs/README.md"));
    }

    #[test]
    fn bad_patterns_are_reported() {
        let err = IgnoreMatcher::new(["["]).unwrap_err();
        assert_eq!(err.pattern, "[");
        let err = IgnoreMatcher::new(["!"]).unwrap_err();
        assert_eq!(err.pattern, "!");
        assert!(
            err.to_string().contains("needs a pattern after `!`"),
            "{err}"
        );
        let err = IgnoreMatcher::parse("ok\n!\n").unwrap_err();
        assert_eq!(err.pattern, "!", "the second line is the bad one");
    }

    #[test]
    fn keep_always_overrides_exclusions() {
        let mut m = IgnoreMatcher::new(["*", "sub"]).unwrap();
        assert!(m.is_excluded("Dockerfile"));
        m.keep_always("Dockerfile");
        m.keep_always("sub/Dockerfile.dev");
        assert!(!m.is_excluded("Dockerfile"));
        assert!(!m.is_excluded("sub/Dockerfile.dev"));
        assert!(m.may_keep_below("sub"));
        assert!(m.is_excluded("other"));
    }

    #[test]
    fn clean_path_matches_go() {
        for (input, expected) in [
            ("", "."),
            (".", "."),
            ("a/b/", "a/b"),
            ("a//b", "a/b"),
            ("./a/./b", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("/", "/"),
            ("!docs/", "!docs"),
        ] {
            assert_eq!(clean_path(input), expected, "{input:?}");
        }
    }
}
