//! `torq status` (alias `ps`): one row per service with its state, health,
//! container, PID, uptime, restarts and ports; warnings and recent errors.
//! The service layer gathers the report; `ui::status` renders it; this file
//! prints it as a table, JSON or container ids and maps it to the exit code.

use clap::{Args, ValueEnum};

use super::{Context, ExitStatus, OutputArgs};
use crate::compose::select::check_services;
use crate::service::status::{self, report::StatusReport};
use crate::ui::status::{render, RenderOptions};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq status                 The table; exit 2 if a service is not running or unhealthy
  torq status --verbose       Adds CPU, memory, image, log file path and size
  torq status --format json   The same facts as JSON, for scripts
  torq status -q              Container ids only

States: ● RUNNING (the container runs), ○ STOPPED (no container),
✗ DEAD (the container exists but does not run, or keeps restarting),
✓ COMPLETED (a one-shot service others wait for with
service_completed_successfully, exited 0).

Exit codes: 0 every service running (or completed) and none unhealthy; 1 error;
2 otherwise.";

/// Output formats of `torq status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusFormat {
    /// A table for people.
    Table,
    /// JSON for scripts.
    Json,
}

/// Arguments of `torq status`.
#[derive(Debug, Clone, Args)]
pub(crate) struct StatusArgs {
    /// Services to show (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq status`.
pub(crate) fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<ExitStatus> {
    let (project, spec) = ctx.target_project()?;
    if let Some(spec) = &spec {
        check_services(spec, &args.services)?;
    }
    let verbose = ctx.shell.verbose_level() > 0;
    let report = super::runtime()?.block_on(status::run(
        &project,
        spec.as_ref(),
        &args.services,
        verbose,
    ))?;
    print(ctx, &args, &report, verbose)?;
    Ok(if report.ok {
        ExitStatus::Success
    } else {
        ExitStatus::ServiceFailed
    })
}

fn print(
    ctx: &Context,
    args: &StatusArgs,
    report: &StatusReport,
    verbose: bool,
) -> anyhow::Result<()> {
    if ctx.shell.is_quiet() {
        let mut ids = String::new();
        for c in report.services.iter().flat_map(|s| &s.containers) {
            ids.push_str(&c.id);
            ids.push('\n');
        }
        ctx.shell.out(&ids);
        return Ok(());
    }
    match args.format {
        StatusFormat::Json => {
            let mut text = serde_json::to_string_pretty(report)?;
            text.push('\n');
            ctx.shell.out(&text);
        }
        StatusFormat::Table => {
            let options = RenderOptions {
                color: ctx.shell.out_color(),
                verbose,
            };
            ctx.shell.out(&render(report, options));
        }
    }
    Ok(())
}
