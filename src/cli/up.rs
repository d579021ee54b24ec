//! `torq up` (alias `start`): build missing images, create networks and volumes,
//! converge containers level by level and wait until they are running/healthy.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::shared::{
    parse_reconnect_timeout, plural, print_down, print_summary, warn_spec, PullOption,
    RECONNECT_TIMEOUT_HELP,
};
use super::{Context, ExitStatus, OutputArgs};
use crate::compose::model::Project;
use crate::compose::select::check_services;
use crate::logs::{FormatOptions, LineFilter};
use crate::progress::Reporter;
use crate::service::attach::{self, AttachEnd, AttachOptions, Signals, Start};
use crate::service::logs::{label_width, printer};
use crate::service::up::{self, BuildPolicy, UpRequest};
use crate::ui::progress::{reporter_for, PlainReporter};
use crate::ui::stdout::{BoundedStdout, Overflow};
use crate::ui::styles;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq up                          Start everything, wait until running/healthy
  torq up dashboard_websocket      Start one service and what it depends on
  torq up --build                  Rebuild every image first
  torq up --scale kraken_adapter=3 Three replicas of one service
  torq up --dry-run                Print the plan, touch nothing
  torq up --watch                  Then sync/rebuild on edits (develop.watch) until Ctrl-C
  torq up --attach                 Stay in the foreground with logs; Ctrl-C runs `down`
  torq up --attach --exit-code-from tests
                                   CI: exit with the code of the `tests` service

Exit codes: 0 all started and healthy; 1 spec or engine error; 2 a service failed
(failed to start, exited, unhealthy, or the wait timed out); with --exit-code-from,
that service's exit code; with --abort-on-exit, the code of the first container
to exit.";

/// Arguments of `torq up`.
#[derive(Debug, Clone, Args)]
pub(crate) struct UpArgs {
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

    /// Keep existing containers even when they no longer match the spec;
    /// start a stopped one as it is instead of replacing it.
    #[arg(long, conflicts_with_all = ["force_recreate", "renew_anon_volumes"])]
    pub no_recreate: bool,

    /// Create networks, volumes and containers (replacing changed ones) but
    /// start nothing; a later `up` starts them.
    #[arg(long, conflicts_with_all = ["attach", "abort_on_exit", "exit_code_from", "watch"])]
    pub no_start: bool,

    /// Give recreated containers fresh anonymous volumes instead of taking
    /// over the old container's (and their data).
    /// (`-V` in docker compose; here `-V` is `--version`.)
    #[arg(long)]
    pub renew_anon_volumes: bool,

    /// Don't start the services' dependencies.
    #[arg(long)]
    pub no_deps: bool,

    /// Pull policy for every service's image: always, missing, never, or
    /// each service's own `pull_policy` (policy).
    #[arg(long, value_enum, value_name = "POLICY", default_value = "policy")]
    pub pull: PullOption,

    /// Stop and remove the containers of services the spec no longer has
    /// (their anonymous volumes stay).
    #[arg(long)]
    pub remove_orphans: bool,

    /// Return once the project is up (the default; accepted as docker
    /// compose's `up -d`).
    #[arg(short = 'd', long, conflicts_with_all = ["attach", "abort_on_exit", "exit_code_from", "watch"])]
    pub detach: bool,

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

    /// After starting, follow the services' develop.watch rules (as `torq watch`) until Ctrl-C.
    #[arg(long, conflicts_with_all = ["attach", "dry_run", "abort_on_exit", "exit_code_from"])]
    pub watch: bool,

    /// Stop timeout in seconds for the `down` that ends an attached `up`.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// With --attach: how long to wait for a lost Docker engine (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_reconnect_timeout,
          long_help = RECONNECT_TIMEOUT_HELP)]
    pub reconnect_timeout: Option<Duration>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq up`.
pub(crate) fn run(ctx: &Context, args: UpArgs) -> anyhow::Result<ExitStatus> {
    let attach = args.attach || args.abort_on_exit || args.exit_code_from.is_some();
    let runtime = super::runtime()?;
    // Watch for Ctrl-C and SIGTERM before anything else, so one that comes
    // while the spec loads or services start still ends in a graceful down.
    let signals = if attach {
        let _runtime = runtime.enter();
        Some(Signals::watch()?)
    } else {
        None
    };
    let mut project = ctx.load_project()?;
    args.pull.apply(&mut project);
    let project = Arc::new(project);
    warn_spec(ctx, &project);
    let request = request_from(ctx, &project, &args)?;
    if let Some(service) = &args.exit_code_from {
        if let Err(err) = check_services(&project, std::slice::from_ref(service)) {
            anyhow::bail!("--exit-code-from {service}: {err}");
        }
    }
    runtime.block_on(async {
        if args.dry_run {
            ctx.shell.out(&up::dry_run(&project, &request).await?);
            return Ok(ExitStatus::Success);
        }
        let reporter = reporter_for(&ctx.shell);
        match signals {
            None => detached(ctx, project, &request, reporter).await,
            Some(signals) => attached(ctx, project, &args, &request, reporter, signals).await,
        }
    })
}

/// `up` without `--attach`: converge, print the summary, return.
async fn detached(
    ctx: &Context,
    project: Arc<Project>,
    request: &UpRequest,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<ExitStatus> {
    let outcome = up::run(project.clone(), request, reporter).await?;
    let status = print_summary(ctx, &project.name, &outcome.failures, &outcome.skipped);
    if status == ExitStatus::Success && !ctx.shell.is_quiet() {
        let done = if request.no_start {
            "created, not started"
        } else {
            "up"
        };
        ctx.shell.info(&format!(
            "{} project {}: {} {done}",
            ctx.shell.paint_err(styles::OK, "✓"),
            project.name,
            plural(outcome.services.len(), "service")
        ));
    }
    Ok(status)
}

/// `up --attach`: converge and print the summary, then stream the logs on
/// stdout until the session ends, and print the `down` that ends it.
async fn attached(
    ctx: &Context,
    project: Arc<Project>,
    args: &UpArgs,
    request: &UpRequest,
    reporter: Arc<dyn Reporter>,
    signals: Signals,
) -> anyhow::Result<ExitStatus> {
    let session = match attach::start(project.clone(), request, reporter, signals).await? {
        Start::Session(session) => session,
        Start::InterruptedWhileWaiting(signal) => {
            ctx.shell.info(&format!(
                "{signal} while waiting for the project lock: nothing was started"
            ));
            return Ok(ExitStatus::Success);
        }
    };
    let up_status = match session.outcome() {
        Some(outcome) => print_summary(ctx, &project.name, &outcome.failures, &outcome.skipped),
        None => ExitStatus::Success,
    };
    let format = FormatOptions {
        color: ctx.shell.out_color(),
        prefix: true,
        timestamps: false,
    };
    let width = label_width(Some(&project), &session.shown_services());
    // Log lines go through a writer thread: a stdout nobody reads never
    // stalls the runtime, so Ctrl-C and the `down` still work.
    let stdout = BoundedStdout::start(ctx.shell.clone(), Overflow::Drop)
        .context("cannot start the thread that writes the logs")?;
    let mut printer = printer(Some(&project), format, width, LineFilter::default(), stdout);
    let options = AttachOptions {
        abort_on_exit: args.abort_on_exit,
        exit_code_from: args.exit_code_from.clone(),
        grace: args.timeout.map(Duration::from_secs),
        reconnect_timeout: args
            .reconnect_timeout
            .unwrap_or(crate::service::follow::DEFAULT_RECONNECT_TIMEOUT),
    };
    // Progress as plain lines: they interleave with the logs still streaming.
    let plain: Arc<dyn Reporter> = Arc::new(PlainReporter::new(ctx.shell.clone()));
    let attached = session.attach(&options, &mut printer, plain).await?;
    // The last log lines out (waiting a moment at most) before the summary.
    drop(printer);
    let down_status = print_down(ctx, &project.name, &attached.down);
    Ok(match attached.end {
        // As compose: the code of SERVICE, or of the first container to exit.
        AttachEnd::Exited { code, .. } if args.exit_code_from.is_some() || args.abort_on_exit => {
            ExitStatus::Code(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
        }
        _ if down_status != ExitStatus::Success => down_status,
        _ => up_status,
    })
}

/// The service layer's request from the command line.
fn request_from(ctx: &Context, project: &Project, args: &UpArgs) -> anyhow::Result<UpRequest> {
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
        wait: !args.no_wait && !attach && !args.no_start,
        wait_timeout: Duration::from_secs(args.wait_timeout),
        fast_health: !args.no_fast_health,
        scale: up::parse_scale(project, &args.scale)?,
        renew_anon_volumes: args.renew_anon_volumes,
        remove_orphans: args.remove_orphans,
        no_recreate: args.no_recreate,
        no_start: args.no_start,
        self_image_dockerfile: ctx.self_image_dockerfile(),
    })
}
