//! `torq logs --stats`: per service the lines and bytes seen, counts per
//! level, lines per second and the first and last timestamps. Counting is
//! constant memory per service, whatever the log volume.

use serde::Serialize;

use super::level::Level;
use super::time::Nanos;

/// The statistics of one service's lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ServiceStats {
    pub service: String,
    pub lines: u64,
    /// Bytes of the messages, one newline each included (what the service wrote).
    pub bytes: u64,
    /// Lines per level, indexed like [`Level::ALL`].
    pub levels: [u64; 6],
    /// Lines with no detectable level.
    pub unleveled: u64,
    /// Lines that came from stderr.
    pub stderr: u64,
    pub first: Option<Nanos>,
    pub last: Option<Nanos>,
}

impl ServiceStats {
    pub(crate) fn new(service: impl Into<String>) -> Self {
        ServiceStats {
            service: service.into(),
            ..Default::default()
        }
    }

    /// Counts one line.
    pub(crate) fn record(
        &mut self,
        message_len: usize,
        level: Option<Level>,
        stderr: bool,
        ts: Option<Nanos>,
    ) {
        self.lines += 1;
        self.bytes += message_len as u64 + 1;
        match level {
            Some(level) => self.levels[level.index()] += 1,
            None => self.unleveled += 1,
        }
        self.stderr += u64::from(stderr);
        if let Some(ts) = ts {
            self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
            self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
        }
    }

    /// Lines at `level`.
    pub(crate) fn count(&self, level: Level) -> u64 {
        self.levels[level.index()]
    }

    /// Lines per second between the first and the last line (the line count
    /// itself when they share an instant or carry no time).
    pub(crate) fn lines_per_second(&self) -> f64 {
        match (self.first, self.last) {
            (Some(first), Some(last)) if last > first => {
                self.lines as f64 / ((last - first) as f64 / 1e9)
            }
            _ => self.lines as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_bytes_levels_and_times() {
        let mut s = ServiceStats::new("web");
        s.record(5, Some(Level::Info), false, Some(3_000_000_000));
        s.record(3, Some(Level::Error), true, Some(1_000_000_000));
        s.record(0, None, false, None);
        assert_eq!(s.lines, 3);
        assert_eq!(s.bytes, 11);
        assert_eq!(s.count(Level::Info), 1);
        assert_eq!(s.count(Level::Error), 1);
        assert_eq!(s.unleveled, 1);
        assert_eq!(s.stderr, 1);
        assert_eq!(s.first, Some(1_000_000_000));
        assert_eq!(s.last, Some(3_000_000_000));
        assert_eq!(s.lines_per_second(), 1.5);
    }

    #[test]
    fn rate_without_a_time_span() {
        let mut s = ServiceStats::new("x");
        s.record(1, None, false, Some(5));
        s.record(1, None, false, Some(5));
        assert_eq!(s.lines_per_second(), 2.0);
        assert_eq!(ServiceStats::new("y").lines_per_second(), 0.0);
    }
}
