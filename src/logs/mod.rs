//! The log multiplexer: level detection in plain, logfmt and JSON lines,
//! stable per-service colors, merging several services' lines by engine
//! timestamp with bounded memory, filters (`--grep`, `--level`) and
//! per-service statistics.
//!
//! Placeholder until the status/logs issue lands.
