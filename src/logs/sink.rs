//! Where merged or followed lines go: the [`LogSink`] trait and its two
//! implementations — [`LinePrinter`] (filters, then formats into any
//! `io::Write`, e.g. a `BufWriter` over a locked stdout that the CLI hands
//! in) and [`StatsCollector`] (filters, then counts for `--stats`) — and
//! [`Room`], how an output that is full makes a follow wait for its reader
//! instead of blocking the runtime in a write.

use std::future::Future;
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;

use super::filter::{LevelTracker, LineFilter};
use super::format::LineFormatter;
use super::line::{LogLine, StreamKind};
use super::stats::ServiceStats;

/// One container whose log is read: a source of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    /// The service the container belongs to.
    pub service: String,
    /// `com.docker.compose.container-number`.
    pub number: u32,
    pub container_id: String,
    pub container_name: String,
    /// The prefix shown on its lines: the service name, or `service-N` when
    /// the service runs several containers.
    pub label: String,
}

/// Receives the lines of a log read or follow, in output order.
pub(crate) trait LogSink {
    /// A source joins; later lines name it by `index` (indices start at 0 and
    /// grow by one; a followed container keeps its index across restarts).
    fn add_source(&mut self, index: usize, source: &Source);

    /// One line. An error (e.g. a closed pipe) ends the read.
    fn line(&mut self, line: &LogLine) -> io::Result<()>;

    /// Called when no more lines are immediately available (follow) and at
    /// the end: push buffered output out.
    fn flush(&mut self) -> io::Result<()>;

    /// `None` while the sink takes lines; when its output is full (the
    /// reader of stdout is behind), a wait that ends once there is room
    /// again. A follow awaits it before it takes more lines, so a slow
    /// reader slows the follow down without blocking the runtime.
    fn room(&self) -> Option<Room> {
        None
    }
}

/// A wait until an output has room again (see [`LogSink::room`]).
pub(crate) type Room = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Asks an output whether it is full: `Some` wait when it is.
pub(crate) type RoomProbe = Arc<dyn Fn() -> Option<Room> + Send + Sync>;

/// Filters lines and writes them formatted to `out`.
pub(crate) struct LinePrinter<W: Write> {
    formatter: LineFormatter,
    filter: LineFilter,
    levels: LevelTracker,
    out: W,
    /// Level detection is needed for colors and `--level` only.
    detect_levels: bool,
    /// Whether `out` is full, when it can tell.
    room: Option<RoomProbe>,
}

impl<W: Write> LinePrinter<W> {
    pub(crate) fn new(formatter: LineFormatter, filter: LineFilter, out: W) -> Self {
        let detect_levels = formatter.options().color || filter.min_level.is_some();
        LinePrinter {
            formatter,
            filter,
            levels: LevelTracker::default(),
            out,
            detect_levels,
            room: None,
        }
    }

    /// Makes the printer report `out` full as `probe` says (see
    /// [`LogSink::room`]).
    pub(crate) fn paced_by(mut self, probe: Option<RoomProbe>) -> Self {
        self.room = probe;
        self
    }

    /// The writer back (to inspect what was written in tests).
    #[cfg(test)]
    pub(crate) fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> LogSink for LinePrinter<W> {
    fn add_source(&mut self, index: usize, source: &Source) {
        self.formatter.set_source(index, &source.label);
    }

    fn line(&mut self, line: &LogLine) -> io::Result<()> {
        if !self.filter.in_window(line) {
            return Ok(());
        }
        if !self.detect_levels {
            if !self.filter.accepts(line.message(), None) {
                return Ok(());
            }
            return self.formatter.write_line(&mut self.out, line, None);
        }
        let (level, detected) = self.levels.classify(line);
        if !self.filter.accepts(line.message(), level) {
            return Ok(());
        }
        self.formatter
            .write_line(&mut self.out, line, detected.as_ref())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn room(&self) -> Option<Room> {
        self.room.as_ref().and_then(|probe| probe())
    }
}

/// Filters lines and counts them per service (`--stats`).
#[derive(Debug, Default)]
pub(crate) struct StatsCollector {
    filter: LineFilter,
    levels: LevelTracker,
    /// Per source: the index of its service in `services`.
    service_of: Vec<usize>,
    services: Vec<ServiceStats>,
}

impl StatsCollector {
    /// A collector that reports `services` in this order (more are added as
    /// sources of other services join).
    pub(crate) fn new(filter: LineFilter, services: &[String]) -> Self {
        StatsCollector {
            filter,
            levels: LevelTracker::default(),
            service_of: Vec::new(),
            services: services.iter().map(ServiceStats::new).collect(),
        }
    }

    /// The statistics, one entry per service (replicas added together).
    pub(crate) fn into_stats(self) -> Vec<ServiceStats> {
        self.services
    }
}

impl LogSink for StatsCollector {
    fn add_source(&mut self, index: usize, source: &Source) {
        let service = match self
            .services
            .iter()
            .position(|s| s.service == source.service)
        {
            Some(i) => i,
            None => {
                self.services
                    .push(ServiceStats::new(source.service.clone()));
                self.services.len() - 1
            }
        };
        if index >= self.service_of.len() {
            self.service_of.resize(index + 1, usize::MAX);
        }
        self.service_of[index] = service;
    }

    fn line(&mut self, line: &LogLine) -> io::Result<()> {
        if !self.filter.in_window(line) {
            return Ok(());
        }
        let (level, _) = self.levels.classify(line);
        if !self.filter.accepts(line.message(), level) {
            return Ok(());
        }
        if let Some(stats) = self
            .service_of
            .get(line.source)
            .and_then(|&i| self.services.get_mut(i))
        {
            stats.record(
                line.message().len(),
                level,
                line.stream == StreamKind::Stderr,
                line.timestamp,
            );
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps the last few lines at ERROR or above, across sources in time order
/// (`torq status`'s "recent errors").
#[derive(Debug)]
pub(crate) struct RecentErrors {
    keep: usize,
    levels: LevelTracker,
    sources: Vec<Source>,
    lines: std::collections::VecDeque<LogLine>,
}

impl RecentErrors {
    /// Keeps the last `keep` error lines.
    pub(crate) fn new(keep: usize) -> Self {
        RecentErrors {
            keep,
            levels: LevelTracker::default(),
            sources: Vec::new(),
            lines: std::collections::VecDeque::with_capacity(keep + 1),
        }
    }

    /// The kept lines, oldest first, each with its source.
    pub(crate) fn into_lines(self) -> Vec<(Source, LogLine)> {
        let sources = self.sources;
        self.lines
            .into_iter()
            .filter_map(|line| sources.get(line.source).cloned().map(|s| (s, line)))
            .collect()
    }
}

impl LogSink for RecentErrors {
    fn add_source(&mut self, index: usize, source: &Source) {
        if index >= self.sources.len() {
            self.sources.resize(index + 1, source.clone());
        }
        self.sources[index] = source.clone();
    }

    fn line(&mut self, line: &LogLine) -> io::Result<()> {
        let (level, detected) = self.levels.classify(line);
        // Only lines that state ERROR/FATAL themselves, not their stack traces.
        if detected.is_some() && level.is_some_and(|l| l >= super::level::Level::Error) {
            self.lines.push_back(line.clone());
            if self.lines.len() > self.keep {
                self.lines.pop_front();
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::format::FormatOptions;
    use crate::logs::level::Level;

    fn source(service: &str, number: u32) -> Source {
        Source {
            service: service.into(),
            number,
            container_id: format!("{service}{number}"),
            container_name: format!("p-{service}-{number}"),
            label: service.into(),
        }
    }

    fn line(source: usize, text: &'static str) -> LogLine {
        LogLine::stdout(source, text)
    }

    #[test]
    fn printer_filters_by_level_and_grep() {
        let filter = LineFilter {
            min_level: Some(Level::Warn),
            grep: Some(regex::bytes::Regex::new("disk").unwrap()),
            ..Default::default()
        };
        let mut p = LinePrinter::new(
            LineFormatter::new(FormatOptions::default(), 0),
            filter,
            Vec::new(),
        );
        p.add_source(0, &source("web", 1));
        for text in [
            "2024-05-01T12:00:00Z INFO disk ok",
            "2024-05-01T12:00:01Z WARN disk low",
            "2024-05-01T12:00:02Z ERROR cpu hot",
            "2024-05-01T12:00:03Z ERROR disk full",
        ] {
            p.line(&line(0, text)).unwrap();
        }
        p.flush().unwrap();
        let out = String::from_utf8(p.into_inner()).unwrap();
        assert_eq!(out, "web | WARN disk low\nweb | ERROR disk full\n");
    }

    #[test]
    fn recent_errors_keep_the_last_error_lines() {
        let mut r = RecentErrors::new(2);
        r.add_source(0, &source("web", 1));
        r.add_source(1, &source("db", 1));
        for (src, text) in [
            (0, "2024-05-01T12:00:00Z ERROR one"),
            (1, "2024-05-01T12:00:01Z INFO fine"),
            (1, "2024-05-01T12:00:02Z FATAL two"),
            (1, "2024-05-01T12:00:03Z    at trace line"),
            (0, "2024-05-01T12:00:04Z level=error three"),
        ] {
            r.line(&line(src, text)).unwrap();
        }
        let kept: Vec<(String, String)> = r
            .into_lines()
            .into_iter()
            .map(|(s, l)| (s.service, l.message_lossy().into_owned()))
            .collect();
        assert_eq!(
            kept,
            vec![
                ("db".to_string(), "FATAL two".to_string()),
                ("web".to_string(), "level=error three".to_string())
            ]
        );
    }

    #[test]
    fn collector_counts_per_service_with_replicas_together() {
        let mut c = StatsCollector::new(LineFilter::default(), &["web".into(), "db".into()]);
        c.add_source(0, &source("web", 1));
        c.add_source(1, &source("web", 2));
        c.add_source(2, &source("cache", 1));
        c.line(&line(0, "2024-05-01T12:00:00Z ERROR a")).unwrap();
        c.line(&line(1, "2024-05-01T12:00:01Z INFO bb")).unwrap();
        c.line(&line(2, "2024-05-01T12:00:02Z x")).unwrap();
        let stats = c.into_stats();
        let names: Vec<&str> = stats.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(names, ["web", "db", "cache"]);
        assert_eq!(stats[0].lines, 2);
        assert_eq!(
            stats[0].bytes,
            "ERROR a\n".len() as u64 + "INFO bb\n".len() as u64
        );
        assert_eq!(stats[0].count(Level::Error), 1);
        assert_eq!(stats[0].count(Level::Info), 1);
        assert_eq!(stats[1].lines, 0);
        assert_eq!(stats[2].unleveled, 1);
    }
}
