//! Which lines to show: `--grep REGEX` and `--level LEVEL` (a minimum level),
//! plus the time window `--since`/`--until` to the nanosecond (the engine only
//! filters by whole seconds).
//!
//! A line without a level of its own that starts with whitespace (a stack
//! trace, a continued message) takes the level of the line before it from the
//! same source, so `--level error` keeps an error's trace with it.

use regex::bytes::Regex;

use super::level::{detect, Detected, Level};
use super::line::LogLine;
use super::time::Nanos;

/// The user's filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineFilter {
    pub grep: Option<Regex>,
    pub min_level: Option<Level>,
    /// Keep lines at or after this time.
    pub since: Option<Nanos>,
    /// Keep lines before this time.
    pub until: Option<Nanos>,
}

impl LineFilter {
    /// Whether the line's timestamp is inside `--since`/`--until`. A line
    /// without a timestamp passes.
    pub(crate) fn in_window(&self, line: &LogLine) -> bool {
        let Some(ts) = line.timestamp else {
            return true;
        };
        self.since.is_none_or(|since| ts >= since) && self.until.is_none_or(|until| ts < until)
    }

    /// Whether a line with this message and level is shown.
    pub(crate) fn accepts(&self, message: &[u8], level: Option<Level>) -> bool {
        if let Some(min) = self.min_level {
            if level.is_none_or(|l| l < min) {
                return false;
            }
        }
        self.grep.as_ref().is_none_or(|re| re.is_match(message))
    }
}

/// A line's level, with continuation lines inheriting the previous level of
/// their source. One per output (sources are indexed from 0).
#[derive(Debug, Default)]
pub(crate) struct LevelTracker {
    last: Vec<Option<Level>>,
}

impl LevelTracker {
    /// Detects the level of `line` (the span is only set when the line states it).
    pub(crate) fn classify(&mut self, line: &LogLine) -> (Option<Level>, Option<Detected>) {
        let message = line.message();
        let detected = detect(message);
        if line.source >= self.last.len() {
            self.last.resize(line.source + 1, None);
        }
        let level = match &detected {
            Some(d) => Some(d.level),
            None if is_continuation(message) => self.last[line.source],
            None => None,
        };
        self.last[line.source] = level;
        (level, detected)
    }
}

/// A line that continues the one before it: indented, or a stack trace's
/// `at …`/`Caused by` line.
fn is_continuation(message: &[u8]) -> bool {
    matches!(message.first(), Some(b' ' | b'\t'))
        || message.starts_with(b"Caused by")
        || message.starts_with(b"Traceback")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(source: usize, text: &'static str) -> LogLine {
        LogLine::stdout(source, text)
    }

    #[test]
    fn min_level() {
        let f = LineFilter {
            min_level: Some(Level::Warn),
            ..Default::default()
        };
        assert!(f.accepts(b"x", Some(Level::Error)));
        assert!(f.accepts(b"x", Some(Level::Warn)));
        assert!(!f.accepts(b"x", Some(Level::Info)));
        assert!(!f.accepts(b"x", None));
    }

    #[test]
    fn grep_on_bytes() {
        let f = LineFilter {
            grep: Some(Regex::new("spread=[0-9]+").unwrap()),
            ..Default::default()
        };
        assert!(f.accepts(b"arb spread=12 bps", None));
        assert!(!f.accepts(b"arb spread=x", None));
        assert!(f.accepts(b"\xff spread=1", None));
    }

    #[test]
    fn time_window_is_half_open() {
        let f = LineFilter {
            since: Some(1_714_564_800_000_000_000),
            until: Some(1_714_564_801_000_000_000),
            ..Default::default()
        };
        assert!(f.in_window(&line(0, "2024-05-01T12:00:00Z a")));
        assert!(f.in_window(&line(0, "2024-05-01T12:00:00.999Z a")));
        assert!(!f.in_window(&line(0, "2024-05-01T12:00:01Z a")));
        assert!(!f.in_window(&line(0, "2024-05-01T11:59:59.9Z a")));
        assert!(f.in_window(&line(0, "no timestamp")));
    }

    #[test]
    fn stack_traces_inherit_the_level_per_source() {
        let mut t = LevelTracker::default();
        assert_eq!(t.classify(&line(0, "ERROR boom")).0, Some(Level::Error));
        assert_eq!(t.classify(&line(1, "INFO other")).0, Some(Level::Info));
        assert_eq!(
            t.classify(&line(0, "    at main.rs:1")).0,
            Some(Level::Error)
        );
        assert_eq!(t.classify(&line(0, "Caused by: io")).0, Some(Level::Error));
        assert_eq!(t.classify(&line(0, "plain")).0, None);
        assert_eq!(t.classify(&line(0, "  indented after plain")).0, None);
    }
}
