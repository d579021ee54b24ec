//! `torq kill`: arguments and rendering; the work is in `service::kill`.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::kill;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq kill                       SIGKILL every running container of the project
  torq kill -s SIGTERM kraken_adapter
                                  Send SIGTERM to one service's containers

Unlike `down`, kill neither waits nor removes anything: the containers stay
(exited) until `up` or `down`.

Exit codes: 0 signalled; 1 usage, spec or engine error; 2 a container refused.";

/// Arguments of `torq kill`.
#[derive(Debug, Clone, Args)]
pub(crate) struct KillArgs {
    /// Services to signal (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// The signal (name or number).
    #[arg(short = 's', long, value_name = "SIGNAL", default_value = "SIGKILL")]
    pub signal: String,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq kill`.
pub(crate) fn run(ctx: &Context, args: KillArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let results = super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        kill::kill(&engine, &project, &args.services, &args.signal).await
    })?;
    let done = format!("sent {}", args.signal);
    Ok(super::containers::report(
        ctx,
        &results,
        &done,
        "no running container to signal",
    ))
}
