//! `torq up` (alias `start`): build missing images, create networks and volumes,
//! converge containers level by level and wait until they are running/healthy.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use anyhow::Context as _;

use crate::compose::model::Project;
use crate::engine::build::BuildPolicy;
use crate::engine::logs::follow::{follow_project, FollowOptions};
use crate::engine::logs::Tail;
use crate::engine::Engine;
use crate::logs::{FormatOptions, LineFilter, LineFormatter, LinePrinter, LogSink};
use crate::plan::down::DownOptions;
use crate::plan::lifecycle::{self, FailureSummary, UpRequest};
use crate::progress::NullReporter;
use crate::ui::progress::{reporter_for, PlainReporter};
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
that service's exit code; with --abort-on-exit, the code of the first container
to exit.";

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

    /// Give recreated containers fresh anonymous volumes instead of taking
    /// over the old container's (and their data).
    /// (`-V` in docker compose; here `-V` is `--version`.)
    #[arg(long)]
    pub renew_anon_volumes: bool,

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

    /// With --attach: stop everything when any container exits, and exit with its code.
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
    let attach = args.attach || args.abort_on_exit || args.exit_code_from.is_some();
    let runtime = super::runtime()?;
    // Watch for Ctrl-C and SIGTERM before anything else, so one that comes
    // while the spec loads or services start still ends in a graceful down.
    // (As PID 1 in a container, a signal without a handler is dropped.)
    let signals = if attach {
        let _runtime = runtime.enter();
        Some(Signals::watch()?)
    } else {
        None
    };
    let project = Arc::new(ctx.load_project()?);
    warn_spec(ctx, &project);
    let request = request_from(&project, &args)?;
    if let Some(service) = &args.exit_code_from {
        if !project.services.contains_key(service) {
            anyhow::bail!("--exit-code-from {service}: no such service");
        }
    }
    runtime.block_on(async {
        let engine = Engine::connect().await?;
        if args.dry_run {
            let text = lifecycle::dry_run_up(&engine, &project, &request).await?;
            ctx.shell.out(&text);
            return Ok(ExitStatus::Success);
        }
        let reporter = reporter_for(&ctx.shell);
        match signals {
            None => detached(ctx, &engine, project, &request, reporter).await,
            Some(signals) => {
                let converging =
                    converge_attached(ctx, &engine, &project, &request, reporter, signals);
                let Some((session, signals)) = converging.await? else {
                    return Ok(ExitStatus::Success);
                };
                attached(ctx, &engine, &project, &args, session, signals).await
            }
        }
    })
}

/// `up` without `--attach`: converge, print the summary, return.
async fn detached(
    ctx: &Context,
    engine: &Engine,
    project: Arc<Project>,
    request: &UpRequest,
    reporter: Arc<dyn crate::progress::Reporter>,
) -> anyhow::Result<ExitStatus> {
    let lock = lifecycle::acquire_lock(engine, &project.name, reporter.as_ref()).await?;
    let outcome = lifecycle::up(engine, project.clone(), request, reporter.clone()).await;
    reporter.finish();
    drop(lock);
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
}

/// The start of an attached `up`: a signal while waiting for the lock or
/// converging cancels the `up` (its running steps are aborted). `None` when
/// the signal came while another torq held the project lock: this session
/// started nothing, and takes down nothing the other one brings up.
async fn converge_attached(
    ctx: &Context,
    engine: &Engine,
    project: &Arc<Project>,
    request: &UpRequest,
    reporter: Arc<dyn crate::progress::Reporter>,
    mut signals: Signals,
) -> anyhow::Result<Option<(Session, Signals)>> {
    let started = crate::logs::time::now();
    let (waiting, locked) = (std::cell::Cell::new(false), std::cell::Cell::new(false));
    let converge = async {
        let _lock =
            lifecycle::acquire_lock_noting(engine, &project.name, reporter.as_ref(), || {
                waiting.set(true)
            })
            .await?;
        locked.set(true);
        lifecycle::up(engine, project.clone(), request, reporter.clone()).await
    };
    let converged = tokio::select! {
        biased;
        _ = signals.interrupt.recv() => Err("Ctrl-C"),
        _ = signals.terminate.recv() => Err("SIGTERM"),
        outcome = converge => Ok(outcome),
    };
    reporter.finish();
    let session = match converged {
        Ok(outcome) => {
            let outcome = outcome?;
            let up_status = print_summary(ctx, &project.name, &outcome.failures, &outcome.skipped);
            Session::Converged {
                outcome,
                started,
                up_status,
            }
        }
        Err(signal) if waiting.get() && !locked.get() => {
            ctx.shell.info(&format!(
                "{signal} while waiting for the project lock: nothing was started"
            ));
            return Ok(None);
        }
        Err(signal) => Session::Interrupted(signal),
    };
    Ok(Some((session, signals)))
}

/// Prints the spec loader's warnings (unset variables, ignored keys).
pub fn warn_spec(ctx: &Context, project: &Project) {
    for warning in &project.warnings {
        ctx.shell.warn(warning);
    }
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
    let attach = args.attach || args.abort_on_exit || args.exit_code_from.is_some();
    Ok(UpRequest {
        services: args.services.clone(),
        no_deps: args.no_deps,
        build,
        force_recreate: args.force_recreate,
        // Attached, the logs show how services come up; dependencies'
        // conditions still gate their dependents.
        wait: !args.no_wait && !attach,
        wait_timeout: Duration::from_secs(args.wait_timeout),
        fast_health: !args.no_fast_health,
        scale: lifecycle::parse_scale(project, &args.scale)?,
        renew_anon_volumes: args.renew_anon_volumes,
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

/// Ctrl-C and SIGTERM, watched (so they no longer end the process at once).
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn watch() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?,
        })
    }
}

/// How the `up` of an attached session went.
enum Session {
    /// `up` ran to its end (with or without failures).
    Converged {
        outcome: lifecycle::UpOutcome,
        /// When `up` began: logs are shown from here on.
        started: crate::logs::time::Nanos,
        up_status: ExitStatus,
    },
    /// Ctrl-C or SIGTERM came before `up` was done.
    Interrupted(&'static str),
}

/// Why an attached session ended.
enum AttachEnd {
    /// Ctrl-C or SIGTERM.
    Interrupted(&'static str),
    /// A container exited (`--abort-on-exit`, `--exit-code-from`).
    Exited { service: String, code: i64 },
    /// The log follow failed (engine gone, stdout closed).
    Follow(Option<anyhow::Error>),
    /// `up` itself failed: nothing to attach to.
    UpFailed,
}

impl AttachEnd {
    /// Whether the log follow is still worth polling while the project stops.
    fn follow_live(&self) -> bool {
        matches!(self, AttachEnd::Interrupted(_) | AttachEnd::Exited { .. })
    }
}

/// `up --attach`: streams every service's logs (from the start of this `up`)
/// until Ctrl-C/SIGTERM, or with `--abort-on-exit`/`--exit-code-from` until a
/// container exits; then a graceful `down` (a second Ctrl-C forces it), with
/// the logs still streaming so the services' last lines show, as with
/// `docker compose up`.
async fn attached(
    ctx: &Context,
    engine: &Engine,
    project: &Project,
    args: &UpArgs,
    session: Session,
    signals: Signals,
) -> anyhow::Result<ExitStatus> {
    let Signals {
        mut interrupt,
        mut terminate,
    } = signals;
    let width = project
        .services
        .keys()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0);
    let format = FormatOptions {
        color: ctx.shell.out_color(),
        prefix: true,
        timestamps: false,
    };
    let mut printer = LinePrinter::new(
        LineFormatter::new(format, width).with_color_order(super::logs::color_order(Some(project))),
        LineFilter::default(),
        std::io::BufWriter::new(std::io::stdout()),
    );
    // `attach: false` services run but their logs are not shown.
    let shown = attached_services(project);
    let (since, up_status) = match &session {
        Session::Converged {
            started, up_status, ..
        } => (Some(*started), *up_status),
        Session::Interrupted(_) => (None, ExitStatus::Success),
    };
    let options = FollowOptions {
        services: shown.clone().unwrap_or_default(),
        tail: Tail::All,
        since,
    };
    let mut follow = Box::pin(async {
        if shown.as_ref().is_some_and(Vec::is_empty) {
            return std::future::pending().await;
        }
        follow_project(engine, &project.name, &options, &mut printer).await
    });
    let end = match &session {
        Session::Interrupted(what) => AttachEnd::Interrupted(what),
        Session::Converged { up_status, .. } if *up_status != ExitStatus::Success => {
            AttachEnd::UpFailed
        }
        Session::Converged { outcome, .. } => {
            ctx.shell.info(&format!(
                "attached to project {}: Ctrl-C (or SIGTERM) stops it, a second Ctrl-C kills it",
                project.name
            ));
            let watch_exit = args.abort_on_exit || args.exit_code_from.is_some();
            let exits = first_exit(outcome, args.exit_code_from.as_deref(), watch_exit);
            tokio::select! {
                result = &mut follow => AttachEnd::Follow(result.err().map(anyhow::Error::from)),
                _ = interrupt.recv() => AttachEnd::Interrupted("Ctrl-C"),
                _ = terminate.recv() => AttachEnd::Interrupted("SIGTERM"),
                (service, code) = exits => AttachEnd::Exited { service, code },
            }
        }
    };
    announce_end(ctx, &project.name, &end);

    // Progress as plain lines: they interleave with the logs still streaming.
    let reporter: Arc<dyn crate::progress::Reporter> =
        Arc::new(PlainReporter::new(ctx.shell.clone()));
    let graceful = DownOptions {
        grace: args.timeout.map(Duration::from_secs),
        ..Default::default()
    };
    let mut follow_live = end.follow_live() && matches!(session, Session::Converged { .. });
    // The session let go of the lock once `up` was done; `down` takes it again.
    let _lock = lifecycle::acquire_lock(engine, &project.name, reporter.as_ref()).await?;
    let mut down = {
        let graceful_down = lifecycle::down(engine, &project.name, &graceful, reporter.clone());
        tokio::pin!(graceful_down);
        loop {
            tokio::select! {
                result = &mut graceful_down => break result,
                _ = interrupt.recv() => {
                    reporter.report(crate::progress::Event::Info("second Ctrl-C: killing everything".into()));
                    let forced = DownOptions { force: true, ..Default::default() };
                    break lifecycle::down(engine, &project.name, &forced, reporter.clone()).await;
                }
                _ = &mut follow, if follow_live => follow_live = false,
            }
        }
    };
    if let (Session::Interrupted(_), Ok(first)) = (&session, &mut down) {
        // A create the cancelled `up` had already sent may land after the
        // down listed the project's containers: one more pass removes it.
        let quiet: Arc<dyn crate::progress::Reporter> = Arc::new(NullReporter);
        match lifecycle::down(engine, &project.name, &graceful, quiet).await {
            Ok(second) => first.absorb(second),
            Err(err) => ctx
                .shell
                .warn(&format!("the second pass of the down failed: {err:#}")),
        }
    }
    if follow_live {
        // Lines that arrived as the last containers stopped are queued:
        // write them (one poll drains what is ready, waits for nothing).
        let _ = futures::FutureExt::now_or_never(&mut follow);
    }
    drop(follow);
    let _ = printer.flush();
    reporter.finish();
    let down_status = super::down::report(ctx, &project.name, &down?);
    Ok(match end {
        // As compose: the code of SERVICE, or of the first container to exit.
        AttachEnd::Exited { code, .. } if args.exit_code_from.is_some() || args.abort_on_exit => {
            ExitStatus::Code(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
        }
        _ if down_status != ExitStatus::Success => down_status,
        _ => up_status,
    })
}

/// Says why the attached session ends and that the project is stopping.
fn announce_end(ctx: &Context, project: &str, end: &AttachEnd) {
    match end {
        AttachEnd::Interrupted(what) => ctx
            .shell
            .info(&format!("{what}: stopping project {project}")),
        AttachEnd::Exited { service, code } => ctx.shell.info(&format!(
            "{service} exited with code {code}: stopping project {project}"
        )),
        AttachEnd::Follow(Some(err)) => ctx.shell.warn(&format!(
            "log stream ended: {err:#}; stopping project {project}"
        )),
        AttachEnd::Follow(None) => {}
        AttachEnd::UpFailed => ctx.shell.info(&format!(
            "not attaching: up failed; stopping project {project}"
        )),
    }
}

/// The services whose logs an attached `up` shows: `None` for all of
/// them, else those without `attach: false`.
fn attached_services(project: &Project) -> Option<Vec<String>> {
    let detached = |s: &crate::compose::model::Service| {
        s.other.get("attach").and_then(serde_json::Value::as_bool) == Some(false)
    };
    if !project.services.values().any(detached) {
        return None;
    }
    Some(
        project
            .services
            .values()
            .filter(|s| !detached(s))
            .map(|s| s.name.clone())
            .collect(),
    )
}

/// The first container of the project's converged services to exit: that
/// of `service` only when given. Never resolves when `enabled` is false.
async fn first_exit(
    outcome: &lifecycle::UpOutcome,
    service: Option<&str>,
    enabled: bool,
) -> (String, i64) {
    if !enabled {
        return std::future::pending().await;
    }
    let far = tokio::time::Instant::now() + Duration::from_secs(60 * 60 * 24 * 365);
    let watches: Vec<_> = outcome
        .containers
        .iter()
        .filter(|(name, _)| service.is_none_or(|s| s == name.as_str()))
        .flat_map(|(name, ids)| ids.iter().map(move |id| (name.clone(), id.clone())))
        .map(|(name, id)| {
            let hub = outcome.hub.clone();
            Box::pin(async move {
                let code = hub.wait_for(&id, far, |l| l.exit_code).await.unwrap_or(-1);
                (name, code)
            })
        })
        .collect();
    if watches.is_empty() {
        return std::future::pending().await;
    }
    futures::future::select_all(watches).await.0
}
