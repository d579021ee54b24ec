//! `torq status` (alias `ps`): one row per service with its state, health,
//! container, PID, uptime, restarts and ports; warnings and recent errors.
//! The service layer gathers the report; `ui::status` renders it; this file
//! prints it as a table, JSON or container ids and maps it to the exit code.

use std::collections::HashMap;
use std::sync::PoisonError;

use clap::{Args, ValueEnum};

use super::shared::{parse_reconnect_timeout, RECONNECT_TIMEOUT_HELP};
use super::{Context, ExitStatus, OutputArgs};
use crate::compose::select::check_services;
use crate::logs::time;
use crate::progress::Reporter;
use crate::service::status::{self, report::StatusReport, StatusRequest};
use crate::ui::live::{LiveScreen, ScreenReporter, SharedScreen};
use crate::ui::progress::PlainReporter;
use crate::ui::status::{render, RenderOptions};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq status                 The table; exit 2 if a service is not running or unhealthy
  torq status --verbose       Adds CPU, memory, image, log file path and size
  torq status --format json   The same facts as JSON, for scripts
  torq status -q              Container ids only
  torq status --all           Also the one-off containers of `torq run`
  torq status --watch         A live view until Ctrl-C

States: ● RUNNING (the container runs), ○ STOPPED (no container),
‖ PAUSED (frozen by `torq pause`; `torq unpause` resumes it),
✗ DEAD (the container exists but does not run, or keeps restarting),
✓ COMPLETED (a one-shot service others wait for with
service_completed_successfully, exited 0).

`--all` adds a row per one-off container (`torq run`); `--watch` keeps a live
view that follows engine events (a crash or a health change shows at once). A
lost Docker engine is said once and the view goes on when it answers again
within --reconnect-timeout, else torq exits 1.

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

    /// Also list one-off containers (`torq run`), one row each.
    #[arg(short = 'a', long)]
    pub all: bool,

    /// A live view (refreshed in place on a terminal; a line per change
    /// otherwise) until Ctrl-C: state, health, CPU, memory, restarts.
    #[arg(short = 'w', long, conflicts_with = "format")]
    pub watch: bool,

    /// With --watch: how long to wait for a lost Docker engine (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_reconnect_timeout,
          long_help = RECONNECT_TIMEOUT_HELP, requires = "watch")]
    pub reconnect_timeout: Option<std::time::Duration>,

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
    let request = StatusRequest {
        services: args.services.clone(),
        verbose: verbose || args.watch,
        one_offs: args.all,
    };
    if args.watch {
        let reconnect_timeout = args
            .reconnect_timeout
            .unwrap_or(crate::service::follow::DEFAULT_RECONNECT_TIMEOUT);
        let watched = watch(ctx, &project, spec.as_ref(), &request, reconnect_timeout);
        super::runtime()?.block_on(watched)?;
        return Ok(ExitStatus::Success);
    }
    let report = super::runtime()?.block_on(status::run(&project, spec.as_ref(), &request))?;
    print(ctx, &args, &report, verbose)?;
    Ok(if report.ok {
        ExitStatus::Success
    } else {
        ExitStatus::ServiceFailed
    })
}

/// `status --watch`: redrawn in place on a terminal, a line per changed
/// service otherwise.
async fn watch(
    ctx: &Context,
    project: &str,
    spec: Option<&crate::compose::Project>,
    request: &StatusRequest,
    reconnect_timeout: std::time::Duration,
) -> anyhow::Result<()> {
    let screen: Option<SharedScreen> = crate::tty::stdout_is_tty()
        .then(|| std::sync::Arc::new(std::sync::Mutex::new(LiveScreen::new())));
    let reporter: Box<dyn Reporter> = match &screen {
        // On the view, where the next frame does not overwrite it.
        Some(screen) => Box::new(ScreenReporter::new(screen.clone(), ctx.shell.clone())),
        None => Box::new(PlainReporter::new(ctx.shell.clone())),
    };
    let mut last_lines: HashMap<String, String> = HashMap::new();
    let options = RenderOptions {
        color: ctx.shell.out_color(),
        verbose: true,
    };
    let show = |report: &StatusReport| match &screen {
        Some(screen) => {
            let stamp = time::format_utc(time::now());
            let heading = format!("project {project} at {stamp} (Ctrl-C to stop)");
            let mut screen = screen.lock().unwrap_or_else(PoisonError::into_inner);
            screen.draw(&format!("{heading}\n\n{}", render(report, options)))
        }
        None => {
            print_changes(ctx, report, &mut last_lines);
            Ok(())
        }
    };
    status::watch(
        project,
        spec,
        request,
        reconnect_timeout,
        reporter.as_ref(),
        show,
    )
    .await
}

/// Without a terminal: one line per service whose state, health or
/// restarts changed since the last report.
fn print_changes(ctx: &Context, report: &StatusReport, last: &mut HashMap<String, String>) {
    let stamp = time::format_utc(time::now());
    for s in &report.services {
        let restarts: i64 = s.containers.iter().map(|c| c.restarts).sum();
        let line = format!(
            "{} {} health={} restarts={restarts}",
            s.service,
            s.state.map(|st| st.label()).unwrap_or("-"),
            s.health.as_deref().unwrap_or("-"),
        );
        if last.get(&s.service) != Some(&line) {
            ctx.shell.outln(&format!("{stamp} {line}"));
            last.insert(s.service.clone(), line);
        }
    }
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
