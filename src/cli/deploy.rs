//! `torq deploy` and `torq undeploy`: arguments, the call into
//! [`crate::service::deploy`] / [`crate::service::undeploy`], and the
//! rendering of their outcome (failures with their task's error and last log
//! lines; exit 2 when a service failed).

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::shared::{parse_reconnect_timeout, stdout_writer, RECONNECT_TIMEOUT_HELP};
use super::status::StatusFormat;
use super::{Context, ExitStatus, OutputArgs};
use crate::compose::model::Project;
use crate::logs::FormatOptions;
use crate::logs::Tail;
use crate::service::deploy::{self, Action, DeployOutcome, DeployRequest, ServiceFailure};
use crate::service::deployed::{self, ServiceRow, StackLogsQuery};
use crate::service::logs::LogsOutput;
use crate::service::undeploy;
use crate::service::{self, up::BuildPolicy};
use crate::ui::progress::{reporter_for, PlainReporter};
use crate::ui::stdout::{BoundedStdout, Overflow};
use crate::ui::styles;

pub const AFTER_HELP: &str = "\
Examples:
  torq deploy                      Deploy the stack to the swarm, level by level, healthy
  torq deploy --dry-run            Print the rollout plan, touch nothing
  torq deploy --prune              Also remove the stack's services the spec no longer has
  torq -f compose/torq.yaml -f compose/swarm.yaml deploy
                                   The Torq stack with TCP relays, free to span nodes
  torq deploy status               Replicas running/desired, nodes, last task error
  torq deploy logs -f relay        Follow a service's logs (all its tasks)
  torq undeploy                    Remove the stack (reverse order), its networks,
                                   secrets and configs

The engine must be a swarm manager (`docker swarm init`). Images are built on this
node as `up` builds them; a swarm of several nodes needs them in a registry.

Exit codes: 0 every service converged (tasks running, healthy); 1 spec or engine
error; 2 a service failed (its dependents were not touched; a failed update was
rolled back when update_config.failure_action says rollback).";

pub const UNDEPLOY_AFTER_HELP: &str = "\
Examples:
  torq undeploy                    Remove the stack; wait until its tasks are gone
  torq -p staging undeploy         Remove the stack named staging

Services go in reverse dependency order, each level's tasks stopped before the next
(this node's containers stopped and removed by torq at once); then the stack's
networks, secrets and configs (those with its namespace label). Volumes stay.

Exit codes: 0 everything removed; 1 spec or engine error; 2 something was left.";

/// Arguments of `torq deploy`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DeployArgs {
    /// Look at the deployed stack instead of deploying.
    #[command(subcommand)]
    pub view: Option<StackView>,

    /// Build every image before deploying, even present ones.
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,

    /// Never build: fail if an image is missing.
    #[arg(long)]
    pub no_build: bool,

    /// Maximum time, in seconds, for each dependency level to run healthy.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait_timeout: u64,

    /// Print the rollout plan (objects, then services level by level) and touch nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Remove the stack's services that the spec no longer has (before the rollout).
    #[arg(long)]
    pub prune: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

impl DeployArgs {
    /// The output options given after the command (or its view).
    pub fn output_args(&self) -> OutputArgs {
        match &self.view {
            Some(StackView::Status(a)) => a.output.clone(),
            Some(StackView::Logs(a)) => a.output.clone(),
            None => self.output.clone(),
        }
    }
}

/// Views of a deployed stack.
#[derive(Debug, Clone, Subcommand)]
pub enum StackView {
    /// One row per service: mode, replicas running/desired (running = healthy
    /// in Swarm), nodes, last task error; exit 2 when one is not fully running.
    #[command(visible_alias = "ps")]
    Status(StackStatusArgs),
    /// The services' logs through the service-logs API, merged by time.
    Logs(StackLogsArgs),
}

/// Arguments of `torq deploy status`.
#[derive(Debug, Clone, Args)]
pub struct StackStatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: StatusFormat,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `torq deploy logs`.
#[derive(Debug, Clone, Args)]
pub struct StackLogsArgs {
    /// Services to show (default: all of the stack).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Keep following new lines.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Lines from the end of each service's log (`all` for everything).
    #[arg(short = 'n', long, value_name = "N", default_value = "50")]
    pub tail: String,
    /// With -f: how long to wait for a lost Docker engine (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_reconnect_timeout,
          long_help = RECONNECT_TIMEOUT_HELP)]
    pub reconnect_timeout: Option<Duration>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `torq undeploy`.
#[derive(Debug, Clone, Args)]
pub struct UndeployArgs {
    /// Maximum time, in seconds, to wait for each level's tasks to stop.
    #[arg(short = 't', long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout: u64,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq deploy` (or one of its stack views).
pub fn run(ctx: &Context, args: DeployArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    match args.view {
        Some(StackView::Status(status)) => return run_status(ctx, &project, &status),
        Some(StackView::Logs(logs)) => return run_logs(ctx, &project, logs),
        None => {}
    }
    for warning in deploy::loader_warnings(&project) {
        ctx.shell.warn(warning);
    }
    let request = DeployRequest {
        build: if args.build {
            BuildPolicy::Always
        } else if args.no_build {
            BuildPolicy::Never
        } else {
            BuildPolicy::Missing
        },
        wait_timeout: Duration::from_secs(args.wait_timeout),
        prune: args.prune,
        self_image_dockerfile: ctx.self_image_dockerfile(),
    };
    super::runtime()?.block_on(async {
        let engine = service::connect().await?;
        if args.dry_run {
            ctx.shell
                .out(&deploy::dry_run(&engine, &project, &request).await?);
            return Ok(ExitStatus::Success);
        }
        let reporter = reporter_for(&ctx.shell);
        let outcome = deploy::deploy(&engine, &project, &request, reporter.as_ref()).await;
        reporter.finish();
        Ok(render_deploy(ctx, &project.name, &outcome?))
    })
}

fn render_deploy(ctx: &Context, stack: &str, outcome: &DeployOutcome) -> ExitStatus {
    let shell = &ctx.shell;
    if outcome.failures.is_empty() {
        if !shell.is_quiet() {
            let count = |a: Action| outcome.actions.values().filter(|x| **x == a).count();
            let pruned = match outcome.pruned.len() {
                0 => String::new(),
                n => format!(", {n} removed (not in the spec)"),
            };
            shell.info(&format!(
                "{} stack {stack}: {} service(s) running and healthy ({} created, {} updated, {} unchanged{pruned})",
                shell.paint_err(styles::OK, "✓"),
                outcome.actions.len(),
                count(Action::Create),
                count(Action::Update),
                count(Action::Unchanged),
            ));
        }
        return ExitStatus::Success;
    }
    shell.error(&format!("stack {stack}: the rollout stopped:"));
    let mut text = String::new();
    for failure in &outcome.failures {
        text.push_str(&failure_text(ctx, failure));
    }
    for service in &outcome.skipped {
        text.push_str(&format!(
            "  {} {service}: not touched (a dependency failed)\n",
            shell.paint_err(styles::YELLOW, "-")
        ));
    }
    eprint!("{text}");
    ExitStatus::ServiceFailed
}

fn failure_text(ctx: &Context, failure: &ServiceFailure) -> String {
    let shell = &ctx.shell;
    let mut text = format!(
        "  {} {}: {}\n",
        shell.paint_err(styles::RED, "✗"),
        shell.paint_err(styles::BOLD, &failure.service),
        failure.reason
    );
    if let Some(update) = &failure.update_outcome {
        text.push_str(&format!("    update: {update}\n"));
    }
    if !failure.log_tail.is_empty() {
        text.push_str(&format!("    last {} log lines:\n", failure.log_tail.len()));
        for line in &failure.log_tail {
            text.push_str(&format!(
                "    {} {line}\n",
                shell.paint_err(styles::DIM, "|")
            ));
        }
    }
    text
}

/// Runs `torq undeploy`.
pub fn run_undeploy(ctx: &Context, args: UndeployArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    super::runtime()?.block_on(async {
        let engine = service::connect().await?;
        let reporter = reporter_for(&ctx.shell);
        let timeout = Duration::from_secs(args.timeout);
        let outcome = undeploy::undeploy(&engine, &project, timeout, reporter.as_ref()).await;
        reporter.finish();
        let outcome = outcome?;
        if !outcome.failures.is_empty() {
            for failure in &outcome.failures {
                ctx.shell.error(failure);
            }
            return Ok(ExitStatus::ServiceFailed);
        }
        if !ctx.shell.is_quiet() {
            ctx.shell.info(&format!(
                "{} stack {}: {} service(s) and {} object(s) removed",
                ctx.shell.paint_err(styles::OK, "✓"),
                project.name,
                outcome.services.len(),
                outcome.objects.len()
            ));
        }
        Ok(ExitStatus::Success)
    })
}

fn run_status(
    ctx: &Context,
    project: &Project,
    args: &StackStatusArgs,
) -> anyhow::Result<ExitStatus> {
    let rows = super::runtime()?.block_on(async {
        let engine = service::connect().await?;
        deployed::stack_status(&engine, project).await
    })?;
    match args.format {
        StatusFormat::Json => {
            let mut text = serde_json::to_string_pretty(&rows)?;
            text.push('\n');
            ctx.shell.out(&text);
        }
        StatusFormat::Table => print_status_table(ctx, &rows),
    }
    Ok(if rows.iter().all(ServiceRow::is_ok) {
        ExitStatus::Success
    } else {
        ExitStatus::ServiceFailed
    })
}

/// One line per service: mode, tasks running/desired, healthy ones (`-`
/// without a healthcheck), nodes, the last task error.
fn print_status_table(ctx: &Context, rows: &[ServiceRow]) {
    let shell = &ctx.shell;
    let width = rows
        .iter()
        .map(|r| r.service.len())
        .max()
        .unwrap_or(7)
        .max(7);
    shell.outln(&format!(
        "  {:width$}  {:10}  {:8}  {:8}  {:20}  LAST ERROR",
        "SERVICE", "MODE", "RUNNING", "HEALTHY", "NODES"
    ));
    for row in rows {
        let mark = if row.is_ok() {
            crate::ui::paint(shell.out_color(), styles::OK, "●")
        } else {
            crate::ui::paint(shell.out_color(), styles::RED, "✗")
        };
        let healthy = row
            .healthy
            .map(|h| format!("{h}/{}", row.running))
            .unwrap_or_else(|| "-".into());
        shell.outln(&format!(
            "{mark} {:width$}  {:10}  {:8}  {:8}  {:20}  {}",
            row.service,
            row.mode,
            format!("{}/{}", row.running, row.desired),
            healthy,
            row.nodes.join(","),
            row.last_error.as_deref().unwrap_or("")
        ));
    }
}

fn run_logs(ctx: &Context, project: &Project, args: StackLogsArgs) -> anyhow::Result<ExitStatus> {
    let tail = Tail::parse(&args.tail)
        .ok_or_else(|| anyhow::anyhow!("--tail {}: expected a number or `all`", args.tail))?;
    let query = StackLogsQuery {
        services: args.services,
        follow: args.follow,
        tail,
        format: FormatOptions {
            color: ctx.shell.out_color(),
            ..FormatOptions::default()
        },
        reconnect_timeout: args
            .reconnect_timeout
            .unwrap_or(crate::service::follow::DEFAULT_RECONNECT_TIMEOUT),
    };
    let reporter = PlainReporter::new(ctx.shell.clone());
    let runtime = super::runtime()?;
    if query.follow {
        // A writer thread: a reader that is behind slows the follow down
        // but never blocks the runtime (Ctrl-C is still handled).
        let out = BoundedStdout::start(ctx.shell.clone(), Overflow::Pace)
            .context("cannot start the thread that writes the logs")?;
        let room = out.room_probe();
        let output = LogsOutput { out, room };
        runtime.block_on(deployed::stack_logs(project, &query, output, &reporter))?;
    } else {
        let output = LogsOutput {
            out: stdout_writer(),
            room: None,
        };
        runtime.block_on(deployed::stack_logs(project, &query, output, &reporter))?;
    }
    Ok(ExitStatus::Success)
}
