//! `torq wait`: arguments and the exit code; the work is in `service::wait`
//! (and `--down-project` takes the project down as `down` does).

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::wait;
use crate::ui::progress::reporter_for;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq wait migrations                  Block until the migrations container stops
  torq wait --down-project tests        CI: wait for the tests, then take the project down

Exit codes: the exit code of the first container to stop; 1 usage, spec or
engine error.";

/// Arguments of `torq wait`.
#[derive(Debug, Clone, Args)]
pub(crate) struct WaitArgs {
    /// Services whose containers to wait for.
    #[arg(value_name = "SERVICE", required = true)]
    pub services: Vec<String>,

    /// Take the whole project down once the first container stopped.
    #[arg(long)]
    pub down_project: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq wait`.
pub(crate) fn run(ctx: &Context, args: WaitArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let reporter = reporter_for(&ctx.shell);
    let first = super::runtime()?.block_on(wait::wait(
        &project,
        &args.services,
        args.down_project,
        reporter,
    ))?;
    ctx.shell.verbose(&format!(
        "{} (service {}) exited with code {}",
        first.container, first.service, first.code
    ));
    Ok(super::exit_code_status(first.code))
}
