//! `torq pause` and `torq unpause`: arguments and rendering; the work is in
//! `service::pause`.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::pause;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq pause                  Freeze every running container of the project
  torq pause flash_arbitrage  Freeze one service; `torq status` shows it PAUSED
  torq unpause                Thaw them

Exit codes: 0 done; 1 usage, spec or engine error; 2 a container refused.";

/// Arguments of `torq pause` and `torq unpause`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PauseArgs {
    /// Services (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq pause`.
pub(crate) fn run_pause(ctx: &Context, args: PauseArgs) -> anyhow::Result<ExitStatus> {
    run(ctx, args, Verb::Pause)
}

/// Runs `torq unpause`.
pub(crate) fn run_unpause(ctx: &Context, args: PauseArgs) -> anyhow::Result<ExitStatus> {
    run(ctx, args, Verb::Unpause)
}

#[derive(Clone, Copy)]
enum Verb {
    Pause,
    Unpause,
}

fn run(ctx: &Context, args: PauseArgs, verb: Verb) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let results = super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        match verb {
            Verb::Pause => pause::pause(&engine, &project, &args.services).await,
            Verb::Unpause => pause::unpause(&engine, &project, &args.services).await,
        }
    })?;
    let (done, none) = match verb {
        Verb::Pause => ("paused", "no running container to pause"),
        Verb::Unpause => ("unpaused", "no paused container"),
    };
    Ok(super::containers::report(ctx, &results, done, none))
}
