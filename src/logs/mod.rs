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
//! - [`time`]: engine timestamps and `--since`/`--until`.
//!
//! This layer never prints: lines go to a [`LogSink`] the caller provides.

pub mod color;
pub mod filter;
pub mod format;
pub mod level;
pub mod line;
pub mod merge;
pub mod packed;
pub mod sink;
pub mod stats;
pub mod time;

pub use filter::LineFilter;
pub use format::{FormatOptions, LineFormatter};
pub use level::Level;
pub use line::{LogLine, StreamKind};
pub use sink::{LinePrinter, LogSink, Source, StatsCollector};
pub use stats::ServiceStats;
