//! `torq status` (alias `ps`): one row per service with its state, health,
//! container, PID, uptime, restarts and ports; warnings and recent errors.

use clap::{Args, ValueEnum};

use super::{Context, ExitStatus, OutputArgs};

pub const AFTER_HELP: &str = "\
Examples:
  torq status                 The table; exit 2 if a service is not running or unhealthy
  torq status --verbose       Adds CPU, memory, image, log file path and size
  torq status --format json   The same facts as JSON, for scripts
  torq status -q              Container ids only

Exit codes: 0 every service running and none unhealthy; 1 error; 2 otherwise.";

/// Output formats of `torq status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// A table for people.
    Table,
    /// JSON for scripts.
    Json,
}

/// Arguments of `torq status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Services to show (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq status`.
pub fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<ExitStatus> {
    let _ = args;
    super::not_built_yet(ctx, "status")
}
