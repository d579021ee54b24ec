//! `restart`: down, a grace pause, up — for the whole project or for some
//! services, plus (transitively) their dependents that declare
//! `restart: true`.

use std::sync::Arc;
use std::time::Duration;

use super::down::{take_down, DownOptions, DownOutcome};
use super::up::{converge, UpOutcome, UpRequest};
use super::{acquire_lock, connect, select_services};
use crate::compose::graph::DependencyGraph;
use crate::compose::model::Project;
use crate::progress::{Event, Reporter};

/// What `restart` is asked to do.
#[derive(Debug, Clone)]
pub(crate) struct RestartRequest {
    /// Services to restart (empty: all).
    pub services: Vec<String>,
    /// Pause between stopping and starting.
    pub pause: Duration,
    /// Grace period before SIGKILL when stopping (default: each service's).
    pub grace: Option<Duration>,
    /// How the project comes up again (`services` is filled in here).
    pub up: UpRequest,
}

/// How a restart went.
pub(crate) enum RestartOutcome {
    /// Stopping failed for some containers: nothing was started again.
    StopFailed(DownOutcome),
    /// Stopped, then started again.
    Restarted(UpOutcome),
}

/// Runs `torq restart`: connects, takes the project lock, takes the
/// services down, pauses, brings them up; finishes the progress.
pub(crate) async fn run(
    project: Arc<Project>,
    request: &RestartRequest,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<RestartOutcome> {
    select_services(&project, &request.services, true)?;
    let services = DependencyGraph::new(&project).with_restart_dependents(&request.services);
    let down_options = DownOptions {
        grace: request.grace,
        volumes: false,
        force: false,
        services: (!request.services.is_empty()).then(|| services.clone()),
    };
    let up = UpRequest {
        services,
        ..request.up.clone()
    };
    let engine = connect().await?;
    let _lock = acquire_lock(&engine, &project.name, reporter.as_ref()).await?;
    let outcome = restart(
        &engine,
        project,
        &down_options,
        request.pause,
        &up,
        &reporter,
    )
    .await;
    reporter.finish();
    outcome
}

async fn restart(
    engine: &crate::engine::Engine,
    project: Arc<Project>,
    down_options: &DownOptions,
    pause: Duration,
    up: &UpRequest,
    reporter: &Arc<dyn Reporter>,
) -> anyhow::Result<RestartOutcome> {
    let stopped = take_down(engine, &project.name, down_options, reporter.clone()).await?;
    if !stopped.failures.is_empty() {
        return Ok(RestartOutcome::StopFailed(stopped));
    }
    if !pause.is_zero() {
        reporter.report(Event::Info(format!(
            "pausing {}s before starting again",
            pause.as_secs_f64()
        )));
        tokio::time::sleep(pause).await;
    }
    let outcome = converge(engine, project, up, reporter.clone()).await?;
    Ok(RestartOutcome::Restarted(outcome))
}
