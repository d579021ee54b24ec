//! `torq watch`: arguments and reporting of compose's `develop.watch`; the
//! work is in `service::watch`.

use std::sync::Arc;

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::watch;
use crate::ui::progress::reporter_for;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq watch                  Start the services with develop.watch rules, then follow edits
  torq watch web              Only web's rules
  torq watch --no-up          Don't start anything first

Rules (compose's develop.watch): sync copies changed files into the running
containers without a restart; sync+restart restarts them after; sync+exec runs
a command in them after; restart restarts them; rebuild rebuilds the image and
recreates that service only. `ignore`/`include` patterns are relative to the
rule's path; the build context's .dockerignore applies too. Changes are acted
on once files are quiet for half a second. Ctrl-C stops watching (the services
keep running).

Exit codes: 0 stopped by Ctrl-C/SIGTERM; 1 usage, spec or engine error (a named
service without develop.watch too); 2 a service failed to start.";

/// Arguments of `torq watch`.
#[derive(Debug, Clone, Args)]
pub(crate) struct WatchArgs {
    /// Services whose rules to follow (default: every service that has some).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Don't start the services before watching.
    #[arg(long)]
    pub no_up: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq watch`.
pub(crate) fn run(ctx: &Context, args: WatchArgs) -> anyhow::Result<ExitStatus> {
    let project = Arc::new(ctx.load_project()?);
    let rules = watch::plan(&project, &args.services)?;
    super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        let reporter = reporter_for(&ctx.shell);
        if !args.no_up {
            let failures = watch::up_watched(
                &engine,
                &project,
                &rules,
                reporter.clone(),
                ctx.self_image_dockerfile(),
            )
            .await?;
            if !failures.is_empty() {
                for failure in failures {
                    ctx.shell.error(&failure);
                }
                return Ok(ExitStatus::ServiceFailed);
            }
        }
        watch::watch(
            &engine,
            project.clone(),
            rules,
            reporter,
            ctx.self_image_dockerfile(),
        )
        .await?;
        Ok(ExitStatus::Success)
    })
}

/// `up --watch`: the rules of the services `up` started (every service with
/// rules when it started all), followed until Ctrl-C.
pub(crate) fn follow_after_up(ctx: &Context, services: &[String]) -> anyhow::Result<ExitStatus> {
    let project = Arc::new(ctx.load_project()?);
    let rules = watch::plan(&project, services)?;
    super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        watch::watch(
            &engine,
            project.clone(),
            rules,
            reporter_for(&ctx.shell),
            ctx.self_image_dockerfile(),
        )
        .await?;
        Ok(ExitStatus::Success)
    })
}
