//! `torq wait`: arguments and the exit code; the work is in `service::wait`
//! (and `--down-project` takes the project down as `down` does).

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::engine::Engine;
use crate::plan::down::DownOptions;
use crate::plan::lifecycle;
use crate::service::wait;
use crate::ui::progress::reporter_for;

pub const AFTER_HELP: &str = "\
Examples:
  torq wait migrations                  Block until the migrations container stops
  torq wait --down-project tests        CI: wait for the tests, then take the project down

Exit codes: the exit code of the first container to stop; 1 usage, spec or
engine error.";

/// Arguments of `torq wait`.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
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
pub fn run(ctx: &Context, args: WaitArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    super::runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        let first = wait::wait(&engine, &project, &args.services).await?;
        ctx.shell.verbose(&format!(
            "{} (service {}) exited with code {}",
            first.container, first.service, first.code
        ));
        if args.down_project {
            let reporter = reporter_for(&ctx.shell);
            let _lock = lifecycle::acquire_lock(&engine, &project.name, reporter.as_ref()).await?;
            let options = DownOptions {
                grace: None,
                volumes: false,
                force: false,
                services: None,
            };
            let outcome = lifecycle::down(&engine, &project.name, &options, reporter.clone()).await;
            reporter.finish();
            if !outcome?.failures.is_empty() {
                ctx.shell.error(&format!(
                    "project {}: the down after the wait failed",
                    project.name
                ));
            }
        }
        Ok(super::exit_code_status(first.code))
    })
}
