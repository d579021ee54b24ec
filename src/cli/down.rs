//! `torq down` (alias `stop`): stop the project's containers in reverse
//! dependency order and remove them with the project's networks.

use std::time::Duration;

use clap::Args;

use super::shared::print_down;
use super::{Context, ExitStatus, OutputArgsNoShortV};
use crate::service::down::{self, DownOptions};
use crate::ui::progress::reporter_for;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq down              Graceful stop (stop_signal, grace period, then SIGKILL) and remove
  torq down -t 30        Allow 30 s per container before SIGKILL
  torq down -v           Also remove the project's named volumes
  torq down --force      Emergency: SIGKILL everything at once and remove it
  torq down --dry-run    Print what would be stopped and removed, touch nothing

Exit codes: 0 stopped and removed (also when nothing was running); 1 spec or
engine error; 2 a container failed to stop or be removed.";

/// Arguments of `torq down`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DownArgs {
    /// Grace period in seconds before SIGKILL (overrides each service's stop_grace_period).
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Also remove the project's named volumes.
    #[arg(short = 'v', long)]
    pub volumes: bool,

    /// SIGKILL every container at once and remove it (no grace period).
    #[arg(long)]
    pub force: bool,

    /// Print the plan (what would be stopped and removed, in order) and touch nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub output: OutputArgsNoShortV,
}

/// Runs `torq down`.
pub(crate) fn run(ctx: &Context, args: DownArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.project_name()?;
    let options = DownOptions {
        grace: args.timeout.map(Duration::from_secs),
        volumes: args.volumes,
        force: args.force,
        services: None,
    };
    super::runtime()?.block_on(async {
        if args.dry_run {
            ctx.shell.out(&down::dry_run(&project, &options).await?);
            return Ok(ExitStatus::Success);
        }
        let outcome = down::run(&project, &options, reporter_for(&ctx.shell)).await?;
        Ok(print_down(ctx, &project, &outcome))
    })
}
