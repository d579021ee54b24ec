//! `torq up` (alias `start`): build missing images, create networks and volumes,
//! converge containers level by level and wait until they are running/healthy.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};

pub const AFTER_HELP: &str = "\
Examples:
  torq up                          Start everything, wait until running/healthy
  torq up dashboard_websocket      Start one service and what it depends on
  torq up --build                  Rebuild every image first
  torq up --scale kraken_adapter=3 Three replicas of one service
  torq up --dry-run                Print the plan, touch nothing
  torq up --attach                 Stay in the foreground with logs; Ctrl-C runs `down`
  torq up --attach --exit-code-from tests
                                   CI: exit with the code of the `tests` service

Exit codes: 0 all started and healthy; 1 spec or engine error; 2 a service failed
(failed to start, exited, unhealthy, or the wait timed out); with --exit-code-from,
that service's exit code.";

/// Arguments of `torq up`.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Services to start (default: all). Their dependencies start too.
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Build every image before starting, even present ones.
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,

    /// Never build: fail if an image is missing.
    #[arg(long)]
    pub no_build: bool,

    /// Run N replicas of SERVICE (overrides deploy.replicas; repeatable).
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<String>,

    /// Return once containers are started, without waiting for health.
    #[arg(long, conflicts_with = "wait_timeout")]
    pub no_wait: bool,

    /// Maximum time to wait for services to be running/healthy, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait_timeout: u64,

    /// Recreate containers even when their configuration is unchanged.
    #[arg(long)]
    pub force_recreate: bool,

    /// Don't start the services' dependencies.
    #[arg(long)]
    pub no_deps: bool,

    /// Print the plan (builds, creates, recreates, starts, in order) and touch nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Stay in the foreground streaming all services' logs; Ctrl-C or SIGTERM
    /// runs a graceful `down` (a second Ctrl-C forces it).
    #[arg(short = 'a', long)]
    pub attach: bool,

    /// With --attach: stop everything when any container exits.
    #[arg(long)]
    pub abort_on_exit: bool,

    /// With --attach: return the exit code of SERVICE when it exits (implies --abort-on-exit).
    #[arg(long, value_name = "SERVICE")]
    pub exit_code_from: Option<String>,

    /// Don't probe health by running the healthcheck test in the container
    /// while a service starts; rely on the engine's own healthcheck cadence only.
    #[arg(long)]
    pub no_fast_health: bool,

    /// Stop timeout in seconds for the `down` that ends an attached `up`.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq up`.
pub fn run(ctx: &Context, args: UpArgs) -> anyhow::Result<ExitStatus> {
    let _ = args;
    super::not_built_yet(ctx, "up")
}
