//! `torq build`: build (or rebuild) services' images through the engine's
//! build API (BuildKit when the engine has it). Each image is built once, at
//! most two at a time; a failed build does not stop the others, and every
//! failure is reported with its step.

use clap::Args;

use super::shared::plural;
use super::{Context, ExitStatus, OutputArgs};
use crate::service::build::{self, BuildOutcome, BuildRequest};
use crate::ui::progress::reporter_for;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq build                 Build every service that has a `build:` section
  torq build kraken_adapter  Build one service's image
  torq build --no-cache      Ignore the engine's build cache
  torq build -v              Show the build output and which builder ran
  TORQ_BUILDKIT=0 torq build Build with the classic builder instead of BuildKit

Exit codes: 0 built; 1 spec or engine error; 2 a build failed (the others were still built).";

/// Arguments of `torq build`.
#[derive(Debug, Clone, Args)]
pub(crate) struct BuildArgs {
    /// Services whose images to build (default: all with a build section).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Don't use the engine's build cache.
    #[arg(long)]
    pub no_cache: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq build`.
pub(crate) fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let selection = build::select(&project, &args.services);
    for (name, image) in &selection.image_only {
        ctx.shell
            .info(&format!("{name}: nothing to build (it runs image {image})"));
    }
    if selection.buildable.is_empty() {
        ctx.shell
            .info("nothing to build: no selected service has a `build:` section");
        return Ok(ExitStatus::Success);
    }
    super::runtime()?.block_on(async {
        // Bars on a terminal (each service's current BuildKit step), plain
        // lines otherwise.
        let reporter = reporter_for(&ctx.shell);
        let request = BuildRequest {
            services: selection.buildable,
            no_cache: args.no_cache,
            self_image_dockerfile: ctx.self_image_dockerfile(),
        };
        let outcome = build::run(&project, &request, reporter.as_ref()).await?;
        Ok(report(ctx, &outcome))
    })
}

fn report(ctx: &Context, outcome: &BuildOutcome) -> ExitStatus {
    if outcome.failures.is_empty() {
        ctx.shell
            .info(&format!("{} ready", plural(outcome.images, "image")));
        return ExitStatus::Success;
    }
    for failure in &outcome.failures {
        ctx.shell.error(failure);
    }
    if outcome.engine_failures_only {
        ExitStatus::Failure
    } else {
        ExitStatus::ServiceFailed
    }
}
