//! `down`: stop the project's containers in reverse dependency order (orphans
//! included) and remove them, then its networks and, when asked, its
//! volumes. [`dry_run`] prints the plan instead. `down` needs no spec: the
//! containers' labels say everything.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{acquire_lock, connect, with_last_logs, FailureSummary};
use crate::compose::model::Project;
use crate::engine::events::EventHub;
use crate::engine::state::observe;
use crate::engine::Engine;
use crate::plan::down::plan_down;
use crate::plan::exec::{execute, ExecContext, Outcome};
use crate::plan::Op;
use crate::progress::Reporter;

pub(crate) use crate::plan::down::DownOptions;

/// What `down` did.
#[derive(Debug, Default)]
pub(crate) struct DownOutcome {
    /// The project had nothing: no containers, networks or volumes.
    pub nothing: bool,
    pub stopped: Vec<String>,
    /// Containers that needed SIGKILL.
    pub killed: Vec<String>,
    pub removed_containers: Vec<String>,
    pub removed_networks: Vec<String>,
    pub removed_volumes: Vec<String>,
    pub failures: Vec<FailureSummary>,
}

impl DownOutcome {
    /// Adds what a second pass of `down` did to this one.
    pub(crate) fn absorb(&mut self, other: DownOutcome) {
        self.nothing &= other.nothing;
        self.stopped.extend(other.stopped);
        self.killed.extend(other.killed);
        self.removed_containers.extend(other.removed_containers);
        self.removed_networks.extend(other.removed_networks);
        self.removed_volumes.extend(other.removed_volumes);
        self.failures.extend(other.failures);
    }
}

/// The plan `down` would run, as text, touching nothing.
pub(crate) async fn dry_run(project_name: &str, options: &DownOptions) -> anyhow::Result<String> {
    let engine = connect().await?;
    let state = observe(&engine, project_name).await?;
    let plan = plan_down(&state, options);
    if plan.is_empty() {
        return Ok(format!(
            "   nothing to do: project {project_name} has no containers, networks or volumes\n"
        ));
    }
    Ok(plan.to_string())
}

/// Stops and removes the project's containers (orphans included), then its
/// networks and, with `options.volumes`, its volumes. The caller holds the lock.
pub(crate) async fn take_down(
    engine: &Engine,
    project_name: &str,
    options: &DownOptions,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<DownOutcome> {
    let state = observe(engine, project_name).await?;
    let plan = plan_down(&state, options);
    if plan.is_empty() {
        return Ok(DownOutcome {
            nothing: true,
            ..Default::default()
        });
    }
    let hub = Arc::new(EventHub::subscribe(engine, project_name));
    for c in &state.containers {
        hub.seed(c);
    }
    let project = Project {
        name: project_name.to_string(),
        ..Default::default()
    };
    let ctx = Arc::new(ExecContext {
        engine: engine.clone(),
        project: Arc::new(project),
        blueprints: Arc::new(HashMap::new()),
        hub,
        reporter,
        wait_deadline: Instant::now(),
        wait_timeout: Duration::ZERO,
        fast_health: false,
    });
    let report = execute(&plan, ctx).await;
    let mut outcome = DownOutcome::default();
    for (step, result) in plan.steps.iter().zip(&report.outcomes) {
        let Outcome::Done { killed, .. } = result else {
            continue;
        };
        match &step.op {
            Op::StopContainer { container, .. } if *killed => {
                outcome.killed.push(container.name.clone())
            }
            Op::StopContainer { container, .. } => outcome.stopped.push(container.name.clone()),
            Op::RemoveContainer { container, .. } => {
                if *killed {
                    outcome.killed.push(container.name.clone());
                }
                outcome.removed_containers.push(container.name.clone())
            }
            Op::RemoveNetwork { name, .. } => outcome.removed_networks.push(name.clone()),
            Op::RemoveVolume { name } => outcome.removed_volumes.push(name.clone()),
            _ => {}
        }
    }
    let failures = report.failures(&plan);
    // Failures because the engine went away are one engine error, not a
    // per-container list of transport failures.
    if super::engine_gone(engine, failures.iter().any(|f| f.lost)).await {
        return Err(engine.lost());
    }
    outcome.failures = with_last_logs(engine, failures).await;
    Ok(outcome)
}

/// `torq down`: connects, takes the project lock, takes the project down,
/// and finishes the progress.
pub(crate) async fn run(
    project_name: &str,
    options: &DownOptions,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<DownOutcome> {
    let engine = connect().await?;
    let _lock = acquire_lock(&engine, project_name, reporter.as_ref()).await?;
    let outcome = take_down(&engine, project_name, options, reporter.clone()).await;
    reporter.finish();
    outcome
}
