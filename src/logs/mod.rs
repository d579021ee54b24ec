//! The log multiplexer, pure: level detection in plain, logfmt and JSON
//! lines, stable per-service colors, merging several services' lines by
//! engine timestamp with bounded memory, filters (`--grep`, `--level`) and
//! per-service statistics. Reading logs from the engine is
//! `engine::logs`'s job: this layer never speaks to the engine.
//!
//! - [`line`]: frames from the engine → [`LogLine`]s (partial and long lines, any bytes);
//! - [`level`], [`color`], [`format`]: what a line says and how it is shown;
//! - [`filter`], [`stats`]: which lines count, and counting them;
//! - [`merge`]: the k-way merge by timestamp;
//! - [`sink`]: where lines go ([`LogSink`], [`LinePrinter`], [`StatsCollector`]);
//! - [`time`], [`tail`]: engine timestamps, `--since`/`--until`, `-n`.
//!
//! This layer never prints: lines go to a [`LogSink`] the caller provides.

pub(crate) mod color;
pub(crate) mod filter;
pub(crate) mod format;
pub(crate) mod level;
pub(crate) mod line;
pub(crate) mod merge;
pub(crate) mod packed;
pub(crate) mod sink;
pub(crate) mod stats;
pub(crate) mod tail;
pub(crate) mod time;

pub(crate) use filter::LineFilter;
pub(crate) use format::{FormatOptions, LineFormatter};
pub(crate) use level::Level;

pub(crate) use sink::{LinePrinter, LogSink, Room, RoomProbe, Source, StatsCollector};
pub(crate) use stats::ServiceStats;
pub(crate) use tail::Tail;
