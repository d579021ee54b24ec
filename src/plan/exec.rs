//! The executor: runs a [`Plan`] with maximal parallelism. Every step is a
//! tokio task that starts as soon as the steps it depends on are done. When
//! a step fails, the steps that require it are skipped (and say why), steps
//! with an optional edge on it run with a warning, and independent steps
//! carry on. Progress goes to the [`Reporter`]; the outcome of every step
//! comes back as an [`ExecReport`].
//!
//! [`execute_until`] also takes a cancellation token: once it is cancelled,
//! no step starts any more and waits give up, but the engine calls already
//! sent run to their end, so the executor returns knowing everything the
//! plan made (an attached `up` interrupted by Ctrl-C then takes it down).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{join_all, BoxFuture, FutureExt, Shared};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::conflict;
use super::{ContainerHandle, EdgeKind, Op, Plan, Step, StepId, WaitFor};
use crate::compose::model::{Healthcheck, Project};
use crate::engine::container::{create, Blueprint};
use crate::engine::error::ApiError;
use crate::engine::events::{EventHub, Live};
use crate::engine::health;
use crate::engine::ops;
use crate::engine::state::{AnonymousVolume, HealthState};
use crate::engine::Engine;
use crate::progress::{Event, Phase, Reporter};

/// How long `down` listens for a stopped container's last events (to tell
/// a graceful stop from a SIGKILL) after the engine answered the stop.
const STOP_EVENT_GRACE: Duration = Duration::from_secs(2);

/// What a step came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It happened. `container` is the id a create step made (or the
    /// container a step acted on); `killed` marks a stop that needed SIGKILL.
    Done {
        container: Option<String>,
        killed: bool,
    },
    /// It failed; `container` is the container the failure is about;
    /// `lost` when the connection to the engine broke (the engine's
    /// failure, not the step's).
    Failed {
        reason: String,
        container: Option<String>,
        lost: bool,
    },
    /// It did not run because a step it requires failed. `silent` when the
    /// failure is already reported under the same subject.
    Skipped { reason: String, silent: bool },
}

impl Outcome {
    fn done() -> Outcome {
        Outcome::Done {
            container: None,
            killed: false,
        }
    }

    fn failed(reason: impl Into<String>) -> Outcome {
        Outcome::Failed {
            reason: reason.into(),
            container: None,
            lost: false,
        }
    }

    /// A step whose engine request failed, about `container`: the reason
    /// names the operation and its object, then the engine's reason
    /// (`rename container … to web-1: No such container: …`).
    fn engine_failed(err: &ApiError, container: Option<String>) -> Outcome {
        Outcome::Failed {
            reason: err.to_string(),
            container,
            lost: err.is_lost(),
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done { .. })
    }
}

/// What a plan's execution needs beyond the plan.
pub struct ExecContext {
    pub engine: Engine,
    /// The spec (for create steps and healthchecks); an empty project for `down`.
    pub project: Arc<Project>,
    pub blueprints: Arc<HashMap<String, Blueprint>>,
    pub hub: Arc<EventHub>,
    pub reporter: Arc<dyn Reporter>,
    /// When waits give up.
    pub wait_deadline: Instant,
    /// `--wait-timeout`, for messages.
    pub wait_timeout: Duration,
    /// Run healthcheck tests by exec while waiting for health.
    pub fast_health: bool,
}

/// The outcome of every step, by step id.
#[derive(Debug, Clone, Default)]
pub struct ExecReport {
    pub outcomes: Vec<Outcome>,
}

/// One failed step, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub subject: String,
    pub service: Option<String>,
    pub reason: String,
    /// The container whose last log lines explain it.
    pub container: Option<String>,
    /// The connection to the engine broke.
    pub lost: bool,
}

impl ExecReport {
    /// Failed steps, in plan order.
    pub fn failures(&self, plan: &Plan) -> Vec<Failure> {
        plan.steps
            .iter()
            .zip(&self.outcomes)
            .filter_map(|(step, outcome)| match outcome {
                Outcome::Failed {
                    reason,
                    container,
                    lost,
                } => Some(Failure {
                    subject: step.subject.clone(),
                    service: step.op.service().map(String::from),
                    reason: reason.clone(),
                    container: container.clone(),
                    lost: *lost,
                }),
                _ => None,
            })
            .collect()
    }

    /// Subjects skipped with their reason (one per subject), in plan order.
    pub fn skipped(&self, plan: &Plan) -> Vec<(String, String)> {
        let mut seen: Vec<(String, String)> = Vec::new();
        for (step, outcome) in plan.steps.iter().zip(&self.outcomes) {
            if let Outcome::Skipped {
                reason,
                silent: false,
            } = outcome
            {
                if !seen.iter().any(|(s, _)| s == &step.subject) {
                    seen.push((step.subject.clone(), reason.clone()));
                }
            }
        }
        seen
    }
}

type SharedOutcome = Shared<BoxFuture<'static, Outcome>>;

/// Why a step did not run after [`execute_until`]'s token was cancelled.
pub const CANCELLED: &str = "cancelled";

/// Runs `plan`; returns when every step is done, failed or skipped.
pub async fn execute(plan: &Plan, ctx: Arc<ExecContext>) -> ExecReport {
    execute_until(plan, ctx, CancellationToken::new()).await
}

/// Runs `plan` until `cancel` is cancelled: from then on, steps not yet
/// started are skipped (silently, with reason [`CANCELLED`]) and waits end,
/// while steps that already sent their engine calls finish them. Returns
/// when every step is done, failed or skipped.
pub async fn execute_until(
    plan: &Plan,
    ctx: Arc<ExecContext>,
    cancel: CancellationToken,
) -> ExecReport {
    let results: Arc<Mutex<HashMap<StepId, Outcome>>> = Arc::new(Mutex::new(HashMap::new()));
    let mut futures: Vec<SharedOutcome> = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let deps: Vec<(EdgeKind, String, SharedOutcome)> = step
            .after
            .iter()
            .filter(|e| e.on < futures.len())
            .map(|e| {
                (
                    e.kind,
                    plan.steps[e.on].subject.clone(),
                    futures[e.on].clone(),
                )
            })
            .collect();
        let step = step.clone();
        let ctx = ctx.clone();
        let results = results.clone();
        let cancel = cancel.clone();
        let future = async move {
            let outcome = match await_dependencies(&ctx, &step, deps).await {
                Some(skip) => skip,
                None if cancel.is_cancelled() => cancelled(),
                None => {
                    let began = std::time::Instant::now();
                    let outcome = run_unless_cancelled(&ctx, &step, &results, &cancel).await;
                    tracing::debug!(
                        step = step.id + 1,
                        op = %step.op.describe(),
                        ms = began.elapsed().as_secs_f64() * 1e3,
                        ok = outcome.is_done(),
                        "step finished"
                    );
                    outcome
                }
            };
            report_outcome(&ctx, &step, &outcome);
            results
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(step.id, outcome.clone());
            outcome
        }
        .boxed()
        .shared();
        futures.push(future);
    }
    // Dropping this future aborts every step still running (their requests
    // may still land in the engine); cancel the token instead to stop
    // cleanly.
    let tasks: Vec<_> = futures
        .iter()
        .cloned()
        .map(|f| AbortOnDropHandle::new(tokio::spawn(f)))
        .collect();
    let outcomes = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| Outcome::failed(format!("internal error: {e}"))))
        .collect();
    ExecReport { outcomes }
}

/// The outcome of a step that did not run because the run was cancelled.
fn cancelled() -> Outcome {
    Outcome::Skipped {
        reason: CANCELLED.into(),
        silent: true,
    }
}

/// Runs one step; a wait ends as soon as `cancel` is cancelled (it changes
/// nothing in the engine), any other step runs to its end, so the engine
/// never finishes a request torq no longer knows about.
async fn run_unless_cancelled(
    ctx: &ExecContext,
    step: &Step,
    results: &Mutex<HashMap<StepId, Outcome>>,
    cancel: &CancellationToken,
) -> Outcome {
    if !matches!(step.op, Op::Wait { .. }) {
        return run_step(ctx, step, results).await;
    }
    tokio::select! {
        outcome = run_step(ctx, step, results) => outcome,
        _ = cancel.cancelled() => cancelled(),
    }
}

/// Waits for the step's dependencies; `Some(skip)` as soon as a required
/// one did not succeed. The step's own earlier steps (same subject) come
/// first; a start still blocked on other services after them reports that
/// it is waiting, and for whom.
async fn await_dependencies(
    ctx: &ExecContext,
    step: &Step,
    mut deps: Vec<(EdgeKind, String, SharedOutcome)>,
) -> Option<Outcome> {
    deps.sort_by_key(|(_, subject, _)| *subject != step.subject);
    let mut announced = false;
    for i in 0..deps.len() {
        let (kind, dep_subject, dep) = deps[i].clone();
        if !announced && dep_subject != step.subject {
            announced = true;
            announce_waiting(ctx, step, &deps[i..]);
        }
        let outcome = dep.await;
        if outcome.is_done() || kind == EdgeKind::Order {
            continue;
        }
        let reason = match &outcome {
            Outcome::Skipped { reason, .. } => reason.clone(),
            _ => format!("dependency {dep_subject} failed"),
        };
        match kind {
            EdgeKind::Required => {
                return Some(Outcome::Skipped {
                    silent: dep_subject == step.subject,
                    reason,
                })
            }
            EdgeKind::Optional => ctx.reporter.report(Event::Warning(format!(
                "{}: optional dependency {dep_subject} did not succeed; starting anyway",
                step.subject
            ))),
            EdgeKind::Order => {}
        }
    }
    None
}

/// "api  waiting  for db" while a start waits for other services.
fn announce_waiting(ctx: &ExecContext, step: &Step, deps: &[(EdgeKind, String, SharedOutcome)]) {
    if !matches!(step.op, Op::StartContainer { .. }) {
        return;
    }
    let mut pending: Vec<&str> = Vec::new();
    for (_, subject, dep) in deps {
        if dep.peek().is_none() && !pending.contains(&subject.as_str()) {
            pending.push(subject);
        }
    }
    if !pending.is_empty() {
        ctx.reporter.progress(
            &step.subject,
            Phase::Waiting,
            Some(format!("for {}", pending.join(", "))),
        );
    }
}

fn report_outcome(ctx: &ExecContext, step: &Step, outcome: &Outcome) {
    match outcome {
        Outcome::Done { killed, .. } => {
            if let Some((phase, detail)) = done_phase(step, *killed) {
                ctx.reporter.progress(&step.subject, phase, detail);
            }
        }
        // A broken connection is the engine's, not the step's: the service
        // says it once for the whole run.
        Outcome::Failed { lost: true, .. } => {}
        Outcome::Failed { reason, .. } => {
            ctx.reporter
                .progress(&step.subject, Phase::Failed, Some(reason.clone()))
        }
        Outcome::Skipped {
            reason,
            silent: false,
        } => ctx
            .reporter
            .progress(&step.subject, Phase::Skipped, Some(reason.clone())),
        Outcome::Skipped { silent: true, .. } => {}
    }
}

/// What a step's start shows, if anything: a replacement shows as one
/// `recreating` (its create) and one `recreated` (its rename).
fn start_phase(step: &Step) -> Option<(Phase, Option<String>)> {
    if step.within_replacement {
        return None;
    }
    Some(match &step.op {
        Op::CreateNetwork { .. } | Op::CreateVolume { .. } => (Phase::Creating, None),
        Op::CreateContainer { .. } if is_replacement(step) => {
            (Phase::Recreating, step.cause.clone())
        }
        Op::CreateContainer { .. } => (Phase::Creating, None),
        Op::RenameContainer { .. } => return None,
        Op::StartContainer { .. } => (Phase::Starting, None),
        Op::Wait { condition, .. } => (
            Phase::Waiting,
            Some(format!("until {}", condition.as_str())),
        ),
        Op::StopContainer { .. } => (Phase::Stopping, step.cause.clone()),
        Op::RemoveContainer { .. } | Op::RemoveNetwork { .. } | Op::RemoveVolume { .. } => {
            (Phase::Removing, step.cause.clone())
        }
    })
}

/// Whether a container create replaces an existing container.
fn is_replacement(step: &Step) -> bool {
    !matches!(step.cause.as_deref(), Some("no container") | None)
}

/// What a step's success shows, if anything (see [`start_phase`]).
fn done_phase(step: &Step, killed: bool) -> Option<(Phase, Option<String>)> {
    let shown = match &step.op {
        Op::StopContainer { .. } if killed => (
            Phase::Killed,
            Some("did not stop within its grace period".into()),
        ),
        _ if step.within_replacement => return None,
        Op::CreateContainer { .. } if is_replacement(step) => return None,
        Op::RenameContainer { .. } => (Phase::Recreated, None),
        Op::CreateNetwork { .. } | Op::CreateVolume { .. } | Op::CreateContainer { .. } => {
            (Phase::Created, None)
        }
        Op::StartContainer { .. } => (Phase::Started, None),
        Op::Wait { condition, .. } => match condition {
            WaitFor::Healthy => (Phase::Healthy, None),
            WaitFor::Running => (Phase::Running, None),
            WaitFor::Completed => (Phase::Exited, Some("completed successfully".into())),
        },
        Op::StopContainer { .. } => (Phase::Stopped, None),
        Op::RemoveContainer { force: true, .. } if killed => {
            (Phase::Killed, Some("and removed".into()))
        }
        Op::RemoveContainer { .. } | Op::RemoveNetwork { .. } | Op::RemoveVolume { .. } => {
            (Phase::Removed, None)
        }
    };
    Some(shown)
}

/// Whether the container `id`, just stopped, was SIGKILLed: read from its
/// die/stop event, waited for a short grace (false when none arrives).
async fn killed_when_stopped(ctx: &ExecContext, id: &str) -> bool {
    let deadline = Instant::now() + STOP_EVENT_GRACE;
    ctx.hub
        .wait_for(id, deadline, |l| {
            (l.died() || l.stopped || l.destroyed).then_some(l.sigkilled)
        })
        .await
        .unwrap_or(false)
}

/// The engine refused to remove a container (409) and the container runs
/// (or restarts): it was started since the plan was made. Read from the
/// container's state, not the wording of the engine's message.
async fn started_meanwhile(
    engine: &Engine,
    id: &str,
    err: &crate::engine::error::ApiError,
) -> bool {
    err.is_conflict() && ops::is_running(engine, id).await
}

/// The container id behind a handle (a created one: from its create step).
fn resolve(handle: &ContainerHandle, results: &Mutex<HashMap<StepId, Outcome>>) -> Option<String> {
    match handle {
        ContainerHandle::Existing(c) => Some(c.id.clone()),
        ContainerHandle::Created { step, .. } => {
            match results.lock().unwrap_or_else(|e| e.into_inner()).get(step) {
                Some(Outcome::Done {
                    container: Some(id),
                    ..
                }) => Some(id.clone()),
                _ => None,
            }
        }
    }
}

async fn run_step(
    ctx: &ExecContext,
    step: &Step,
    results: &Mutex<HashMap<StepId, Outcome>>,
) -> Outcome {
    if let Some((phase, detail)) = start_phase(step) {
        ctx.reporter.progress(&step.subject, phase, detail);
    }
    let engine = &ctx.engine;
    let project = &ctx.project;
    match &step.op {
        Op::CreateNetwork { key, name } => {
            match ops::create_network(engine, &project.name, key, name, project.networks.get(key))
                .await
            {
                Ok(()) => Outcome::done(),
                Err(err) => Outcome::engine_failed(&err, None),
            }
        }
        Op::CreateVolume { key, name } => {
            match ops::create_volume(engine, &project.name, key, name, project.volumes.get(key))
                .await
            {
                Ok(()) => Outcome::done(),
                Err(err) => Outcome::engine_failed(&err, None),
            }
        }
        Op::CreateContainer {
            service,
            number,
            name,
            inherit,
        } => create_container(ctx, service, *number, name, inherit).await,
        Op::RenameContainer {
            container, name, ..
        } => {
            let Some(id) = resolve(container, results) else {
                return Outcome::failed("its container was not created");
            };
            match ops::rename_container(engine, &id, name).await {
                Ok(()) => created(id),
                Err(err) => Outcome::engine_failed(&err, Some(id)),
            }
        }
        Op::StartContainer { service, container } => {
            let Some(id) = resolve(container, results) else {
                return Outcome::failed("its container was not created");
            };
            let start_events = ctx.hub.start_events(&id);
            match ops::start_container(engine, &id).await {
                Ok(started) => {
                    // A container that already ran (adopted from an earlier
                    // torq) gets no new start event to wait for.
                    if started == ops::Started::Now {
                        note_started(ctx, container, &id, start_events).await;
                    }
                    if let Some(blueprint) = ctx.blueprints.get(service) {
                        if let Err(err) = create::after_start(engine, blueprint, &id).await {
                            return Outcome::Failed {
                                reason: err.to_string(),
                                container: Some(id),
                                lost: err.is_lost(),
                            };
                        }
                    }
                    Outcome::Done {
                        container: Some(id),
                        killed: false,
                    }
                }
                Err(err) => Outcome::engine_failed(&err, Some(id)),
            }
        }
        Op::Wait {
            service,
            condition,
            targets,
        } => {
            let ids: Vec<String> = targets.iter().filter_map(|t| resolve(t, results)).collect();
            wait_all(ctx, service, *condition, ids).await
        }
        Op::StopContainer {
            container, grace, ..
        } => match ops::stop_container(engine, &container.id, &container.name, *grace).await {
            Ok(()) => {
                let killed = killed_when_stopped(ctx, &container.id).await;
                Outcome::Done {
                    container: Some(container.id.clone()),
                    killed,
                }
            }
            Err(err) => Outcome::engine_failed(&err, Some(container.id.clone())),
        },
        Op::RemoveContainer {
            container,
            force,
            keep_anonymous_volumes,
            anonymous_volumes,
            ..
        } => {
            let live = ctx.hub.live(&container.id);
            let mut killed = *force && live.started && !live.died();
            let removal = ops::Removal {
                force: *force,
                anonymous_volumes: !*keep_anonymous_volumes,
            };
            let mut removed =
                ops::remove_container(engine, &container.id, &container.name, removal).await;
            let refused_running = match &removed {
                Err(err) if !*force => started_meanwhile(engine, &container.id, err).await,
                _ => false,
            };
            if refused_running {
                // Seen not running when the plan was made, but started since
                // (a start request still in flight when an `up` was
                // cancelled): stop it gracefully, with its own stop signal
                // and grace period, then remove it.
                removed = match ops::stop_container(engine, &container.id, &container.name, None)
                    .await
                {
                    Ok(()) => {
                        killed = killed_when_stopped(ctx, &container.id).await;
                        ops::remove_container(engine, &container.id, &container.name, removal).await
                    }
                    Err(err) => Err(err),
                };
            }
            match removed {
                Ok(()) => {
                    remove_anonymous_volumes(engine, anonymous_volumes).await;
                    Outcome::Done {
                        container: Some(container.id.clone()),
                        killed,
                    }
                }
                Err(err) => Outcome::engine_failed(&err, Some(container.id.clone())),
            }
        }
        Op::RemoveNetwork { id, name } => match ops::remove_network(engine, id, name).await {
            Ok(()) => Outcome::done(),
            Err(err) => Outcome::engine_failed(&err, None),
        },
        Op::RemoveVolume { name } => match ops::remove_volume(engine, name).await {
            Ok(()) => Outcome::done(),
            Err(err) => Outcome::engine_failed(&err, None),
        },
    }
}

/// Removes the anonymous volumes a removed container leaves behind; one
/// still in use elsewhere (or already gone) stays as it is.
async fn remove_anonymous_volumes(engine: &Engine, names: &[String]) {
    for name in names {
        if let Err(err) = ops::remove_volume(engine, name).await {
            tracing::debug!(volume = %name, %err, "anonymous volume kept");
        }
    }
}

async fn create_container(
    ctx: &ExecContext,
    service: &str,
    number: u32,
    name: &str,
    inherit: &[AnonymousVolume],
) -> Outcome {
    let (Some(blueprint), Some(spec)) = (
        ctx.blueprints.get(service),
        ctx.project.services.get(service),
    ) else {
        return Outcome::failed(format!(
            "internal error: no blueprint for service {service}"
        ));
    };
    let wanted = conflict::Wanted {
        project: &ctx.project.name,
        service,
        number,
        name,
        config_hash: Some(blueprint.config_hash.as_str()),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let replica = create::Replica {
            number,
            name,
            inherit,
        };
        let failure =
            match create::create_replica(&ctx.engine, &ctx.project, spec, blueprint, replica).await
            {
                Ok(id) => return created(id),
                Err(failure) => failure,
            };
        // A create that made nothing may have met a container holding its
        // name (an earlier torq's request landing late): converge on it.
        if !failure.name_taken {
            return failed_create(failure);
        }
        if attempt >= conflict::CREATE_ATTEMPTS {
            return failed_create(create::CreateFailure {
                reason: format!("{} (still taken after {attempt} attempts)", failure.reason),
                ..failure
            });
        }
        match conflict::resolve(&ctx.engine, &ctx.hub, &wanted).await {
            conflict::Resolution::Adopt(id) => return created(id),
            conflict::Resolution::Retry => continue,
            conflict::Resolution::Fail(None) => return failed_create(failure),
            conflict::Resolution::Held(holder) => {
                return failed_create(create::CreateFailure {
                    reason: format!("{}: {holder}", failure.reason),
                    ..failure
                })
            }
            conflict::Resolution::Fail(Some(extra)) => {
                return failed_create(create::CreateFailure {
                    reason: format!("{}; then {extra}", failure.reason),
                    ..failure
                })
            }
        }
    }
}

/// Tells the event hub torq started `id`. A container that existed before
/// this `up` (`--no-recreate` starting a stopped one) may have stopped a
/// moment ago, and the subscription replays a second of events, its old
/// `start` and `die` among them, after this start: the engine's own
/// account of the new run makes them count for nothing. A new container
/// has no earlier events; its start event is awaited by count.
async fn note_started(ctx: &ExecContext, handle: &ContainerHandle, id: &str, start_events: u32) {
    if matches!(handle, ContainerHandle::Existing(_)) {
        if let Ok(Some((started_at, exit_code))) = ops::current_run(&ctx.engine, id).await {
            ctx.hub.mark_restarted(id, started_at, exit_code);
            return;
        }
    }
    ctx.hub.mark_started(id, start_events);
}

fn created(id: String) -> Outcome {
    Outcome::Done {
        container: Some(id),
        killed: false,
    }
}

fn failed_create(failure: create::CreateFailure) -> Outcome {
    Outcome::Failed {
        reason: failure.reason,
        container: failure.container,
        lost: failure.lost,
    }
}

/// Waits until every container meets `condition`; the first failure wins.
async fn wait_all(
    ctx: &ExecContext,
    service: &str,
    condition: WaitFor,
    ids: Vec<String>,
) -> Outcome {
    let healthcheck = ctx
        .project
        .services
        .get(service)
        .and_then(|s| s.healthcheck.clone());
    let waits = ids
        .into_iter()
        .map(|id| wait_one(ctx, condition, healthcheck.clone(), id));
    for result in join_all(waits).await {
        if let Err((reason, id)) = result {
            return Outcome::Failed {
                reason,
                container: Some(id),
                lost: false,
            };
        }
    }
    Outcome::done()
}

async fn wait_one(
    ctx: &ExecContext,
    condition: WaitFor,
    healthcheck: Option<Healthcheck>,
    id: String,
) -> Result<(), (String, String)> {
    let exited = |l: &Live| format!("exited with code {}", l.exit_code.unwrap_or(-1));
    let result = match condition {
        WaitFor::Running => {
            ctx.hub
                .wait_for(&id, ctx.wait_deadline, |l| {
                    if l.died() {
                        Some(Err(exited(l)))
                    } else if l.started {
                        Some(Ok(()))
                    } else {
                        None
                    }
                })
                .await
        }
        WaitFor::Completed => {
            ctx.hub
                .wait_for(&id, ctx.wait_deadline, |l| match l.exit_code {
                    Some(0) => Some(Ok(())),
                    Some(_) => Some(Err(exited(l))),
                    None => None,
                })
                .await
        }
        WaitFor::Healthy => {
            let probe = match healthcheck.as_ref().filter(|h| h.is_enabled()) {
                Some(hc) => health::probe_command(hc).map(|cmd| (cmd, hc.timeout)),
                None => match image_healthcheck(ctx, &id).await {
                    Some(hc) => health::probe_command(&hc).map(|cmd| (cmd, hc.timeout)),
                    None => {
                        return Err((
                            "has no healthcheck, but a dependent waits for it to be healthy".into(),
                            id,
                        ))
                    }
                },
            };
            let prober = probe.filter(|_| ctx.fast_health).map(|(cmd, timeout)| {
                AbortOnDropHandle::new(tokio::spawn(health::probe_until_settled(
                    ctx.engine.clone(),
                    ctx.hub.clone(),
                    id.clone(),
                    cmd,
                    timeout,
                    ctx.wait_deadline,
                )))
            });
            let result = ctx
                .hub
                .wait_for(&id, ctx.wait_deadline, |l| {
                    if l.died() {
                        Some(Err(exited(l)))
                    } else if l.health == Some(HealthState::Unhealthy) {
                        Some(Err("unhealthy".to_string()))
                    } else if l.is_healthy() {
                        Some(Ok(()))
                    } else {
                        None
                    }
                })
                .await;
            drop(prober);
            result
        }
    };
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(reason)) => Err((reason, id)),
        Err(_) => {
            let live = ctx.hub.live(&id);
            let state = match (condition, live.health) {
                (WaitFor::Healthy, Some(h)) => format!("health: {}", h.as_str()),
                (WaitFor::Healthy, None) => "health: starting".to_string(),
                (WaitFor::Completed, _) => "still running".to_string(),
                (WaitFor::Running, _) => "not started".to_string(),
            };
            Err((
                format!(
                    "not {} within {}s ({state})",
                    condition.as_str(),
                    ctx.wait_timeout.as_secs()
                ),
                id,
            ))
        }
    }
}

/// The healthcheck a container got from its image, when the spec has none.
async fn image_healthcheck(ctx: &ExecContext, id: &str) -> Option<Healthcheck> {
    let inspected = ctx
        .engine
        .request(
            format!("inspect container {id}"),
            ctx.engine.docker().inspect_container(id, None),
        )
        .await
        .ok()?;
    let hc = inspected.config?.healthcheck?;
    let test = hc.test.filter(|t| !t.is_empty() && t[0] != "NONE")?;
    Some(Healthcheck {
        test,
        timeout: hc
            .timeout
            .filter(|t| *t > 0)
            .map(|t| Duration::from_nanos(t as u64)),
        ..Default::default()
    })
}
