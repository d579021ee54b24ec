//! `torq pull`: arguments and the per-image summary; the work is in `service::pull`.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::pull::{self, PullResult};
use crate::ui::progress::reporter_for;
use crate::ui::styles;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq pull                           Pull every service's image, in parallel
  torq pull --ignore-pull-failures    Exit 0 even when a registry cannot be reached
  torq pull -q redis

Services with only `build:` have nothing to pull (`torq build` builds them).

Exit codes: 0 pulled (or skipped); 1 usage, spec or engine error; 2 a pull
failed (the engine's reason is printed).";

/// Arguments of `torq pull`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PullArgs {
    /// Services (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Report failed pulls but exit 0.
    #[arg(long)]
    pub ignore_pull_failures: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq pull`.
pub(crate) fn run(ctx: &Context, args: PullArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let pulls = super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        let reporter = reporter_for(&ctx.shell);
        let pulls = pull::pull(&engine, &project, &args.services, reporter.as_ref()).await;
        reporter.finish();
        pulls
    })?;
    let mut failed = false;
    for p in &pulls {
        match &p.result {
            PullResult::Pulled => ctx.shell.info(&format!(
                "{} {}: pulled {}",
                ctx.shell.paint_err(styles::OK, "✓"),
                p.service,
                p.image
            )),
            PullResult::Skipped(reason) => ctx
                .shell
                .verbose(&format!("{}: skipped: {reason}", p.service)),
            PullResult::Failed(reason) => {
                failed = true;
                let line = format!("{}: cannot pull {}: {reason}", p.service, p.image);
                if args.ignore_pull_failures {
                    ctx.shell.warn(&line);
                } else {
                    ctx.shell.error(&line);
                }
            }
        }
    }
    Ok(if failed && !args.ignore_pull_failures {
        ExitStatus::ServiceFailed
    } else {
        ExitStatus::Success
    })
}
