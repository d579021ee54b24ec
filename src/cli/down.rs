//! `torq down` (alias `stop`): stop the project's containers in reverse
//! dependency order and remove them with the project's networks.

use std::time::Duration;

use clap::Args;

use super::{up, Context, ExitStatus, OutputArgsNoShortV};
use crate::engine::Engine;
use crate::plan::down::DownOptions;
use crate::plan::lifecycle::{self, DownOutcome};
use crate::ui::progress::reporter_for;

pub const AFTER_HELP: &str = "\
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
pub struct DownArgs {
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
pub fn run(ctx: &Context, args: DownArgs) -> anyhow::Result<ExitStatus> {
    let project = project_name(ctx)?;
    let options = DownOptions {
        grace: args.timeout.map(Duration::from_secs),
        volumes: args.volumes,
        force: args.force,
        services: None,
    };
    super::runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        if args.dry_run {
            ctx.shell
                .out(&lifecycle::dry_run_down(&engine, &project, &options).await?);
            return Ok(ExitStatus::Success);
        }
        let reporter = reporter_for(&ctx.shell);
        let _lock = lifecycle::acquire_lock(&engine, &project, reporter.as_ref()).await?;
        let outcome = lifecycle::down(&engine, &project, &options, reporter.clone()).await;
        reporter.finish();
        Ok(report(ctx, &project, &outcome?))
    })
}

/// The project to take down: the spec's, else `-p` alone (down needs no spec:
/// the containers' labels say everything).
pub fn project_name(ctx: &Context) -> anyhow::Result<String> {
    match ctx.load_project() {
        Ok(project) => Ok(project.name),
        Err(err) => match &ctx.project.project_name {
            Some(name) => {
                ctx.shell.verbose(&format!(
                    "no usable spec ({err}); taking down project {name} by its labels"
                ));
                Ok(name.clone())
            }
            None => Err(err),
        },
    }
}

/// Prints what `down` did; exit 2 when something failed.
pub fn report(ctx: &Context, project: &str, outcome: &DownOutcome) -> ExitStatus {
    if outcome.nothing {
        ctx.shell.info(&format!(
            "nothing to do: project {project} has no containers, networks or volumes"
        ));
        return ExitStatus::Success;
    }
    let status = up::print_summary(ctx, project, &outcome.failures, &[]);
    if !ctx.shell.is_quiet() {
        let mut parts = Vec::new();
        if !outcome.stopped.is_empty() {
            parts.push(format!("stopped {}", outcome.stopped.len()));
        }
        if !outcome.killed.is_empty() {
            parts.push(format!(
                "killed {} ({})",
                outcome.killed.len(),
                outcome.killed.join(", ")
            ));
        }
        parts.push(format!(
            "removed {}",
            up::plural(outcome.removed_containers.len(), "container")
        ));
        if !outcome.removed_networks.is_empty() {
            parts.push(up::plural(outcome.removed_networks.len(), "network"));
        }
        if !outcome.removed_volumes.is_empty() {
            parts.push(up::plural(outcome.removed_volumes.len(), "volume"));
        }
        ctx.shell
            .info(&format!("project {project}: {}", parts.join(", ")));
    }
    status
}
