//! `torq restart`: down, a grace pause, up — for the whole project or for some
//! services (plus their dependents that declare `restart: true`).

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};

pub const AFTER_HELP: &str = "\
Examples:
  torq restart                   Restart the whole project
  torq restart kraken_adapter    Restart one service (and dependents with restart: true)
  torq restart --grace 0         No pause between down and up

Exit codes: as `torq up`.";

/// Arguments of `torq restart`.
#[derive(Debug, Clone, Args)]
pub struct RestartArgs {
    /// Services to restart (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Pause between stopping and starting, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub grace: f64,

    /// Grace period in seconds before SIGKILL when stopping.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Never build: fail if an image is missing.
    #[arg(long)]
    pub no_build: bool,

    /// Return once containers are started, without waiting for health.
    #[arg(long)]
    pub no_wait: bool,

    /// Maximum time to wait for services to be running/healthy, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait_timeout: u64,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq restart`.
pub fn run(ctx: &Context, args: RestartArgs) -> anyhow::Result<ExitStatus> {
    let _ = args;
    super::not_built_yet(ctx, "restart")
}
