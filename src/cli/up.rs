//! `torq up` (alias `start`): build missing images, create networks and volumes,
//! converge containers level by level and wait until they are running/healthy.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::engine::build::BuildPolicy;
use crate::engine::Engine;
use crate::plan::lifecycle::{self, FailureSummary, UpRequest};
use crate::spec::model::Project;
use crate::ui::progress::reporter_for;
use crate::ui::styles;

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
    let project = Arc::new(ctx.load_project()?);
    let request = request_from(&project, &args)?;
    super::runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        if args.dry_run {
            let text = lifecycle::dry_run_up(&engine, &project, &request).await?;
            ctx.shell.out(&text);
            return Ok(ExitStatus::Success);
        }
        let reporter = reporter_for(&ctx.shell);
        let _lock = lifecycle::acquire_lock(&engine, &project.name, reporter.as_ref()).await?;
        let outcome = lifecycle::up(&engine, project.clone(), &request, reporter.clone()).await;
        reporter.finish();
        let outcome = outcome?;
        let status = print_summary(ctx, &project.name, &outcome.failures, &outcome.skipped);
        if status == ExitStatus::Success && !ctx.shell.is_quiet() {
            ctx.shell.info(&format!(
                "{} project {}: {} up",
                ctx.shell.paint_err(styles::OK, "✓"),
                project.name,
                plural(outcome.services.len(), "service")
            ));
        }
        Ok(status)
    })
}

/// The library request from the command line.
pub fn request_from(project: &Project, args: &UpArgs) -> anyhow::Result<UpRequest> {
    let build = if args.build {
        BuildPolicy::Always
    } else if args.no_build {
        BuildPolicy::Never
    } else {
        BuildPolicy::Missing
    };
    Ok(UpRequest {
        services: args.services.clone(),
        no_deps: args.no_deps,
        build,
        force_recreate: args.force_recreate,
        wait: !args.no_wait,
        wait_timeout: Duration::from_secs(args.wait_timeout),
        fast_health: !args.no_fast_health,
        scale: lifecycle::parse_scale(project, &args.scale)?,
    })
}

/// "1 service", "3 services".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Prints every failure (with the failed container's last log lines) and
/// every skipped service, on stderr, even with `-q`. Exit 2 on any failure.
pub fn print_summary(
    ctx: &Context,
    project: &str,
    failures: &[FailureSummary],
    skipped: &[(String, String)],
) -> ExitStatus {
    if failures.is_empty() && skipped.is_empty() {
        return ExitStatus::Success;
    }
    let shell = &ctx.shell;
    let mut text = String::new();
    for failure in failures {
        text.push_str(&format!(
            "  {} {}: {}\n",
            shell.paint_err(styles::RED, "✗"),
            shell.paint_err(styles::BOLD, &failure.subject),
            failure.reason
        ));
        if !failure.last_logs.is_empty() {
            text.push_str(&format!(
                "    last {} log lines:\n",
                failure.last_logs.len()
            ));
            for line in &failure.last_logs {
                text.push_str(&format!(
                    "    {} {line}\n",
                    shell.paint_err(styles::DIM, "|")
                ));
            }
        }
    }
    for (subject, reason) in skipped {
        text.push_str(&format!(
            "  {} {subject} skipped: {reason}\n",
            shell.paint_err(styles::YELLOW, "-")
        ));
    }
    if failures.is_empty() {
        shell.warn(&format!("project {project}: some services were skipped:"));
        eprint!("{text}");
        return ExitStatus::ServiceFailed;
    }
    shell.error(&format!(
        "project {project}: {} failed:",
        plural(failures.len(), "service")
    ));
    eprint!("{text}");
    ExitStatus::ServiceFailed
}
