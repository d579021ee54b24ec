//! Log levels and their detection in one line of a service's output.
//!
//! Three shapes are recognized, in the order their tokens appear in the line:
//! - JSON: a `"level"` (or `"lvl"`, `"severity"`, `"loglevel"`) key with a
//!   string value (`"level":"error"`) or a pino/bunyan number (`"level":50`);
//! - logfmt: `level=error`, `lvl=warn`, `severity="info"`;
//! - plain: a level word written in capitals (`ERROR`, `WARN`), or in any case
//!   when bracketed (`[error]`, `<warn>`, `(info)`) or followed by a colon
//!   (`Error:`, `warning:`).
//!
//! Only the first [`SCAN_WINDOW`] bytes are looked at, so a very long line costs
//! no more than a short one. Detection returns the byte range of the level's
//! word, so the formatter can color just that word. No allocation happens here:
//! this runs once per log line on the hot path.

use std::ops::Range;
use std::str::FromStr;

/// How many leading bytes of a line are searched for a level.
pub(crate) const SCAN_WINDOW: usize = 512;

/// A log level, ordered from the least to the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// Every level, least severe first.
    pub(crate) const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    /// The canonical lower-case name (`"warn"`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    /// Position in [`Level::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Maps a level word, in any case, to a level (`WARNING` → Warn, `crit` → Fatal).
    pub(crate) fn from_word(word: &[u8]) -> Option<Level> {
        // Longest level word is "information" (11 bytes).
        if word.is_empty() || word.len() > 11 {
            return None;
        }
        let mut buf = [0u8; 11];
        for (dst, src) in buf.iter_mut().zip(word) {
            *dst = src.to_ascii_lowercase();
        }
        match &buf[..word.len()] {
            b"trace" | b"trc" => Some(Level::Trace),
            b"debug" | b"dbg" | b"dbug" => Some(Level::Debug),
            b"info" | b"inf" | b"information" | b"notice" => Some(Level::Info),
            b"warn" | b"warning" | b"wrn" => Some(Level::Warn),
            b"error" | b"err" | b"eror" => Some(Level::Error),
            b"fatal" | b"critical" | b"crit" | b"panic" | b"emerg" | b"alert" => Some(Level::Fatal),
            _ => None,
        }
    }

    /// Maps a pino/bunyan numeric level (10 trace … 60 fatal).
    fn from_number(n: u64) -> Option<Level> {
        match n {
            0..=19 => Some(Level::Trace),
            20..=29 => Some(Level::Debug),
            30..=39 => Some(Level::Info),
            40..=49 => Some(Level::Warn),
            50..=59 => Some(Level::Error),
            60..=99 => Some(Level::Fatal),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--level` accepts any level word `from_word` knows.
impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::from_word(s.trim().as_bytes()).ok_or_else(|| {
            format!("unknown log level {s:?} (expected trace, debug, info, warn, error or fatal)")
        })
    }
}

/// A level found in a line, and where its word is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    pub level: Level,
    /// Byte range of the level's word (or number) in the line.
    pub span: Range<usize>,
}

/// Keys that name a level in logfmt and JSON lines.
fn is_level_key(word: &[u8]) -> bool {
    [
        &b"level"[..],
        b"lvl",
        b"severity",
        b"loglevel",
        b"log_level",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(word))
}

/// Finds the level of `line`, if it states one.
pub(crate) fn detect(line: &[u8]) -> Option<Detected> {
    let window = &line[..line.len().min(SCAN_WINDOW)];
    let json = window.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let mut i = 0;
    while i < window.len() {
        if !is_word_byte(window[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < window.len() && is_word_byte(window[i]) {
            i += 1;
        }
        let word = &window[start..i];
        if let Some(found) = classify_word(window, start, i, word, json) {
            return Some(found);
        }
    }
    None
}

/// Letters, digits and `_` make up a word (so `log_level` is one key).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Decides whether the word at `start..end` states the line's level.
fn classify_word(
    window: &[u8],
    start: usize,
    end: usize,
    word: &[u8],
    json: bool,
) -> Option<Detected> {
    let before = start.checked_sub(1).map(|p| window[p]);
    let after = window.get(end).copied();
    if is_level_key(word) {
        if after == Some(b'=') && !json {
            return logfmt_value(window, end + 1);
        }
        if before == Some(b'"') && after == Some(b'"') {
            if let Some(found) = json_value(window, end + 1) {
                return Some(found);
            }
        }
    }
    if json {
        return None;
    }
    let level = Level::from_word(word)?;
    let all_caps = word.iter().all(|b| !b.is_ascii_lowercase()) && word.len() >= 3;
    let bracketed = matches!(
        (before, after),
        (Some(b'['), Some(b']')) | (Some(b'<'), Some(b'>')) | (Some(b'('), Some(b')'))
    );
    let colon = after == Some(b':');
    (all_caps || bracketed || colon).then_some(Detected {
        level,
        span: start..end,
    })
}

/// The value of `level=` at `pos`: bare or double-quoted.
fn logfmt_value(window: &[u8], pos: usize) -> Option<Detected> {
    let quoted = window.get(pos) == Some(&b'"');
    let start = pos + usize::from(quoted);
    let len = window
        .get(start..)?
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let level = Level::from_word(&window[start..start + len])?;
    Some(Detected {
        level,
        span: start..start + len,
    })
}

/// The value after a JSON key's closing quote at `pos`: `: "error"` or `: 50`.
fn json_value(window: &[u8], mut pos: usize) -> Option<Detected> {
    let skip_ws = |p: &mut usize| {
        while window.get(*p).is_some_and(|b| b.is_ascii_whitespace()) {
            *p += 1;
        }
    };
    skip_ws(&mut pos);
    if window.get(pos) != Some(&b':') {
        return None;
    }
    pos += 1;
    skip_ws(&mut pos);
    let rest = window.get(pos..)?;
    if rest.first() == Some(&b'"') {
        let start = pos + 1;
        let len = window[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        if window.get(start + len) != Some(&b'"') {
            return None;
        }
        let level = Level::from_word(&window[start..start + len])?;
        return Some(Detected {
            level,
            span: start..start + len,
        });
    }
    let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 3 {
        return None;
    }
    let n = rest[..len]
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(Detected {
        level: Level::from_number(n)?,
        span: pos..pos + len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(line: &str) -> Option<Level> {
        detect(line.as_bytes()).map(|d| d.level)
    }

    fn word(line: &str) -> Option<&str> {
        detect(line.as_bytes()).map(|d| &line[d.span])
    }

    #[test]
    fn plain_capitals() {
        assert_eq!(level("ERROR cannot connect"), Some(Level::Error));
        assert_eq!(level("2024-01-01 12:00:00 WARN slow"), Some(Level::Warn));
        assert_eq!(level("INFO tick 1"), Some(Level::Info));
        assert_eq!(level("DEBUG x"), Some(Level::Debug));
        assert_eq!(level("TRACE x"), Some(Level::Trace));
        assert_eq!(level("FATAL out of memory"), Some(Level::Fatal));
        assert_eq!(level("WARNING: disk"), Some(Level::Warn));
        assert_eq!(level("CRITICAL boom"), Some(Level::Fatal));
        assert_eq!(word("12:00 ERROR cannot"), Some("ERROR"));
    }

    #[test]
    fn plain_brackets_and_colons_in_any_case() {
        assert_eq!(level("[error] failed"), Some(Level::Error));
        assert_eq!(level("<warn> x"), Some(Level::Warn));
        assert_eq!(level("(info) x"), Some(Level::Info));
        assert_eq!(level("Error: bad thing"), Some(Level::Error));
        assert_eq!(level("warn: x"), Some(Level::Warn));
        assert_eq!(level("2024/01/01 [notice] 1#1: start"), Some(Level::Info));
        assert_eq!(word("x [error] y"), Some("error"));
    }

    #[test]
    fn prose_is_not_a_level() {
        assert_eq!(level("no error occurred"), None);
        assert_eq!(level("the info desk"), None);
        assert_eq!(level("tick 42"), None);
        assert_eq!(level(""), None);
        assert_eq!(level("errors=0 warnings=1"), None);
        // Two capitals are not enough to be a word like ERR.
        assert_eq!(level("OK done"), None);
    }

    #[test]
    fn logfmt() {
        assert_eq!(level("ts=1 level=error msg=x"), Some(Level::Error));
        assert_eq!(level("lvl=warn msg=x"), Some(Level::Warn));
        assert_eq!(
            level(r#"time="now" level="debug" msg="x""#),
            Some(Level::Debug)
        );
        assert_eq!(level("severity=INFO"), Some(Level::Info));
        assert_eq!(word("a=1 level=warning b=2"), Some("warning"));
        assert_eq!(level("level=bogus"), None);
    }

    #[test]
    fn json() {
        assert_eq!(level(r#"{"level":"error","msg":"x"}"#), Some(Level::Error));
        assert_eq!(level(r#"{"msg":"x", "level" : "warn"}"#), Some(Level::Warn));
        assert_eq!(level(r#" {"severity":"INFO"}"#), Some(Level::Info));
        assert_eq!(level(r#"{"level":50,"msg":"boom"}"#), Some(Level::Error));
        assert_eq!(level(r#"{"level":30}"#), Some(Level::Info));
        assert_eq!(word(r#"{"lvl":"debug"}"#), Some("debug"));
        // Words inside JSON values do not count.
        assert_eq!(level(r#"{"msg":"ERROR in text"}"#), None);
        assert_eq!(level(r#"{"msg":"level=error"}"#), None);
    }

    #[test]
    fn first_statement_wins() {
        assert_eq!(
            level("INFO tick 3 level=info msg=market update"),
            Some(Level::Info)
        );
        assert_eq!(word("level=warn ERROR"), Some("warn"));
    }

    #[test]
    fn only_the_window_is_searched() {
        let mut line = "x".repeat(SCAN_WINDOW);
        line.push_str(" ERROR");
        assert_eq!(level(&line), None);
        let line = format!("ERROR {}", "y".repeat(100_000));
        assert_eq!(level(&line), Some(Level::Error));
    }

    #[test]
    fn non_utf8_bytes_are_harmless() {
        let line = b"\xff\xfe ERROR \xc3\x28 bad";
        assert_eq!(detect(line).map(|d| d.level), Some(Level::Error));
        assert_eq!(detect(b"\x80\x81\x82"), None);
    }

    #[test]
    fn level_order_and_parse() {
        assert!(Level::Trace < Level::Debug && Level::Error < Level::Fatal);
        assert_eq!("WARNING".parse::<Level>(), Ok(Level::Warn));
        assert_eq!("err".parse::<Level>(), Ok(Level::Error));
        let err = "loud".parse::<Level>().unwrap_err();
        assert!(
            err.to_string().contains(r#"unknown log level "loud""#),
            "{err}"
        );
    }
}
