//! `torq restart`: down, a grace pause, up — for the whole project or for some
//! services (plus their dependents that declare `restart: true`).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{down, up, Context, ExitStatus, OutputArgs};
use crate::compose::graph::DependencyGraph;
use crate::compose::model::Project;
use crate::engine::build::BuildPolicy;
use crate::engine::Engine;
use crate::plan::down::DownOptions;
use crate::plan::lifecycle::{self, UpRequest};
use crate::progress::Event;
use crate::ui::progress::reporter_for;

pub const AFTER_HELP: &str = "\
Examples:
  torq restart                   Restart the whole project
  torq restart kraken_adapter    Restart one service (and dependents with restart: true)
  torq restart --grace 0         No pause between down and up

Exit codes: as `torq up`.";

/// Arguments of `torq restart`.
#[derive(Debug, Clone, Args)]
pub struct RestartArgs {
    /// Services to restart (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Pause between stopping and starting, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub grace: f64,

    /// Grace period in seconds before SIGKILL when stopping.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Never build: fail if an image is missing.
    #[arg(long)]
    pub no_build: bool,

    /// Return once containers are started, without waiting for health.
    #[arg(long)]
    pub no_wait: bool,

    /// Maximum time to wait for services to be running/healthy, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait_timeout: u64,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq restart`.
pub fn run(ctx: &Context, args: RestartArgs) -> anyhow::Result<ExitStatus> {
    let project = Arc::new(ctx.load_project()?);
    up::warn_spec(ctx, &project);
    lifecycle::select_services(&project, &args.services, true)?;
    let services = with_restart_dependents(&project, &args.services);
    let down_options = DownOptions {
        grace: args.timeout.map(Duration::from_secs),
        volumes: false,
        force: false,
        services: (!args.services.is_empty()).then(|| services.clone()),
    };
    let request = UpRequest {
        services: services.clone(),
        no_deps: false,
        build: if args.no_build {
            BuildPolicy::Never
        } else {
            BuildPolicy::Missing
        },
        force_recreate: false,
        wait: !args.no_wait,
        wait_timeout: Duration::from_secs(args.wait_timeout),
        fast_health: true,
        scale: Default::default(),
        renew_anon_volumes: false,
    };
    let grace = Duration::try_from_secs_f64(args.grace.max(0.0)).unwrap_or(Duration::ZERO);
    super::runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        let reporter = reporter_for(&ctx.shell);
        let _lock = lifecycle::acquire_lock(&engine, &project.name, reporter.as_ref()).await?;
        let stopped =
            lifecycle::down(&engine, &project.name, &down_options, reporter.clone()).await;
        let stopped = match stopped {
            Ok(outcome) => outcome,
            Err(err) => {
                reporter.finish();
                return Err(err);
            }
        };
        if !stopped.failures.is_empty() {
            reporter.finish();
            return Ok(down::report(ctx, &project.name, &stopped));
        }
        if !grace.is_zero() {
            reporter.report(Event::Info(format!(
                "pausing {}s before starting again",
                grace.as_secs_f64()
            )));
            tokio::time::sleep(grace).await;
        }
        let outcome = lifecycle::up(&engine, project.clone(), &request, reporter.clone()).await;
        reporter.finish();
        let outcome = outcome?;
        Ok(up::print_summary(
            ctx,
            &project.name,
            &outcome.failures,
            &outcome.skipped,
        ))
    })
}

/// `services` plus, transitively, the services that depend on one of them
/// with `restart: true`, in start order; empty means the whole project.
pub fn with_restart_dependents(project: &Project, services: &[String]) -> Vec<String> {
    if services.is_empty() {
        return Vec::new();
    }
    let graph = DependencyGraph::new(project);
    let mut wanted: Vec<String> = services.to_vec();
    for service in services {
        for dependent in graph.dependents_with_restart(service) {
            if !wanted.contains(&dependent) {
                wanted.push(dependent);
            }
        }
    }
    graph
        .start_levels()
        .iter()
        .flatten()
        .filter(|s| wanted.contains(s))
        .cloned()
        .collect()
}
