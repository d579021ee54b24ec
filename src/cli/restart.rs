//! `torq restart`: down, a grace pause, up — for the whole project or for some
//! services (plus their dependents that declare `restart: true`).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::shared::{print_down, print_summary, warn_spec};
use super::{Context, ExitStatus, OutputArgs};
use crate::service::restart::{self, RestartOutcome, RestartRequest};
use crate::service::up::{BuildPolicy, UpRequest};
use crate::ui::progress::reporter_for;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq restart                   Restart the whole project
  torq restart kraken_adapter    Restart one service (and dependents with restart: true)
  torq restart --grace 0         No pause between down and up

Exit codes: as `torq up`.";

/// Arguments of `torq restart`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RestartArgs {
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
pub(crate) fn run(ctx: &Context, args: RestartArgs) -> anyhow::Result<ExitStatus> {
    let project = Arc::new(ctx.load_project()?);
    warn_spec(ctx, &project);
    let request = RestartRequest {
        services: args.services.clone(),
        pause: Duration::try_from_secs_f64(args.grace.max(0.0)).unwrap_or(Duration::ZERO),
        grace: args.timeout.map(Duration::from_secs),
        up: UpRequest {
            services: Vec::new(),
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
            remove_orphans: false,
            no_recreate: false,
            no_start: false,
            self_image_dockerfile: ctx.self_image_dockerfile(),
        },
    };
    super::runtime()?.block_on(async {
        let outcome = restart::run(project.clone(), &request, reporter_for(&ctx.shell)).await?;
        Ok(match outcome {
            RestartOutcome::StopFailed(stopped) => print_down(ctx, &project.name, &stopped),
            RestartOutcome::Restarted(up) => {
                print_summary(ctx, &project.name, &up.failures, &up.skipped)
            }
        })
    })
}
