//! `torq logs`: the services' logs, merged by engine timestamp, with colored
//! service prefixes and levels; `-f` follows.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};

pub const AFTER_HELP: &str = "\
Examples:
  torq logs                        Last 50 lines of every service, merged by time
  torq logs -f kraken_adapter      Follow one service (survives restarts)
  torq logs -n all --level warn    Everything at WARN or above
  torq logs --grep 'spread=' -t    Matching lines with timestamps
  torq logs --stats                Lines, bytes and levels per service

Exit codes: 0 success; 1 spec or engine error.";

/// Arguments of `torq logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Services to show (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Follow the logs until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// Lines from the end of each service's log: a number or `all`.
    #[arg(short = 'n', long, value_name = "N|all", default_value = "50")]
    pub tail: String,

    /// Show the engine's timestamp of each line.
    #[arg(short = 't', long)]
    pub timestamps: bool,

    /// Only lines since this time (RFC 3339, Unix seconds, or a duration like 10m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only lines before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only lines matching this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,

    /// Only lines at this level or above (trace, debug, info, warn, error).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,

    /// Don't prefix lines with the service name.
    #[arg(long)]
    pub no_log_prefix: bool,

    /// Don't color the output (same as --color never).
    #[arg(long)]
    pub no_color: bool,

    /// Print per-service statistics instead of the lines: lines, bytes, counts per
    /// level, lines per second, first and last timestamps.
    #[arg(long)]
    pub stats: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq logs`.
pub fn run(ctx: &Context, args: LogsArgs) -> anyhow::Result<ExitStatus> {
    let _ = args;
    super::not_built_yet(ctx, "logs")
}
