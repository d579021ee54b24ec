//! `up`: converge the project — images, networks, volumes, containers —
//! and start it level by level, waiting until services are running/healthy.
//! One sequence: observe the project, plan, subscribe to the engine's
//! events, execute, collect the failures with the failed containers' last
//! log lines. [`dry_run`] prints the plan instead. [`converge_until`] stops
//! early, without leaving an engine call behind, when its token is cancelled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{acquire_lock, connect, select_services, with_last_logs, FailureSummary};
use crate::compose::model::Project;
use crate::compose::select::NoSuchService;
use crate::engine::build::{self, BuildOptions, ImageSet, ServiceImage};
use crate::engine::container::{blueprint, Blueprint};
use crate::engine::events::EventHub;
use crate::engine::state::{observe, ProjectState};
use crate::engine::Engine;
use crate::naming;
use crate::plan::exec::{execute_until, ExecContext, ExecReport, Failure, Outcome};
use crate::plan::up::{plan_up, UpInput, UpOptions};
use crate::plan::{Op, Plan, WaitFor};
use crate::progress::{Event, Phase, Reporter};

pub(crate) use crate::engine::build::BuildPolicy;

/// What `up` is asked to do.
#[derive(Debug, Clone)]
pub(crate) struct UpRequest {
    /// Services to start (empty: all); their dependencies too unless `no_deps`.
    pub services: Vec<String>,
    pub no_deps: bool,
    pub build: BuildPolicy,
    pub force_recreate: bool,
    /// Wait until services are running/healthy before returning.
    pub wait: bool,
    pub wait_timeout: Duration,
    /// Probe health by exec while waiting.
    pub fast_health: bool,
    pub scale: HashMap<String, u32>,
    /// Recreated containers get fresh anonymous volumes.
    pub renew_anon_volumes: bool,
    /// Remove the containers of services the spec no longer has.
    pub remove_orphans: bool,
    /// Keep existing containers as they are; start stopped ones.
    pub no_recreate: bool,
    /// Create containers without starting them.
    pub no_start: bool,
    /// The Dockerfile of the self image (the application's).
    pub self_image_dockerfile: Option<&'static str>,
}

impl UpRequest {
    /// How images are provided.
    fn build_options(&self) -> BuildOptions {
        BuildOptions {
            policy: self.build,
            self_image_dockerfile: self.self_image_dockerfile,
            ..BuildOptions::default()
        }
    }

    /// The options that shape the plan.
    fn plan_options(&self) -> UpOptions {
        UpOptions {
            force_recreate: self.force_recreate,
            wait: self.wait,
            scale: self.scale.clone(),
            renew_anon_volumes: self.renew_anon_volumes,
            remove_orphans: self.remove_orphans,
            no_recreate: self.no_recreate,
            no_start: self.no_start,
        }
    }
}

/// What `up` did.
pub(crate) struct UpOutcome {
    pub failures: Vec<FailureSummary>,
    /// (subject, reason) of skipped services.
    pub skipped: Vec<(String, String)>,
    /// The services converged (selection plus dependencies).
    pub services: Vec<String>,
    /// The live state, still subscribed (for `up --attach`).
    pub hub: Arc<EventHub>,
    /// Container ids of the converged services, by service.
    pub containers: HashMap<String, Vec<String>>,
}

/// Parses `--scale SERVICE=N` values.
pub(crate) fn parse_scale(
    project: &Project,
    values: &[String],
) -> anyhow::Result<HashMap<String, u32>> {
    let mut scale = HashMap::new();
    for value in values {
        let (service, count) = value
            .split_once('=')
            .with_context(|| format!("--scale {value}: expected SERVICE=N"))?;
        let count: u32 = count
            .trim()
            .parse()
            .with_context(|| format!("--scale {value}: {count:?} is not a number of replicas"))?;
        if !project.services.contains_key(service) {
            let err = NoSuchService::new(project, service);
            anyhow::bail!("--scale {value}: {err}");
        }
        if count > 1 && project.services[service].container_name.is_some() {
            anyhow::bail!(
                "--scale {value}: service {service} sets container_name, so it cannot have several replicas"
            );
        }
        scale.insert(service.to_string(), count);
    }
    Ok(scale)
}

fn blueprints(
    project: &Project,
    services: &[String],
    images: &ImageSet,
) -> HashMap<String, Blueprint> {
    services
        .iter()
        .filter_map(|name| {
            let service = project.services.get(name)?;
            let image = images
                .reference(name)
                .map(String::from)
                .or_else(|| service.image.clone())
                .unwrap_or_else(|| format!("{}-{name}", project.name));
            let mut blueprint = blueprint(project, service, &image);
            // compose's image label: the id the container runs (not hashed:
            // an image change is detected by comparing ids).
            if let (Some(id), Some(labels)) = (
                images.id(name).filter(|id| !id.is_empty()),
                blueprint.body.labels.as_mut(),
            ) {
                labels.insert(crate::engine::labels::IMAGE.into(), id.to_string());
            }
            Some((name.clone(), blueprint))
        })
        .collect()
}

/// Warns about containers of services the spec no longer has.
fn warn_orphans(project: &Project, state: &ProjectState, reporter: &dyn Reporter) {
    let orphans: Vec<&str> = crate::plan::up::orphans(project, state)
        .map(|c| c.name.as_str())
        .collect();
    if !orphans.is_empty() {
        reporter.report(Event::Warning(format!(
            "orphan containers (their service is no longer in the spec): {}; \
             `torq up --remove-orphans` or `torq down` removes them",
            orphans.join(", ")
        )));
    }
}

/// Refuses an `up` whose external networks/volumes are missing or whose
/// services cannot be created as specified (nothing is created then);
/// reports the warnings.
async fn preflight(
    engine: &Engine,
    project: &Project,
    services: &[String],
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    let checks = crate::engine::preflight::check(engine, project, services).await?;
    for warning in &checks.warnings {
        reporter.report(Event::Warning(warning.clone()));
    }
    match checks.error() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Everything `up` may name in its progress: each replica of the services
/// (`web`, or `web-2` when there are several), and the project's networks and
/// volumes (`network NAME`, `volume NAME`).
fn progress_subjects(
    project: &Project,
    services: &[String],
    scale: &HashMap<String, u32>,
) -> Vec<String> {
    let replicas = services.iter().flat_map(|name| {
        let count = scale
            .get(name)
            .copied()
            .or_else(|| project.services.get(name).map(|s| s.replicas()))
            .unwrap_or(1);
        (1..=count.max(1)).map(move |n| naming::replica_subject(name, n, count > 1))
    });
    let networks = project
        .networks
        .keys()
        .map(|key| format!("network {}", naming::network_name(project, key)));
    let volumes = project
        .volumes
        .keys()
        .map(|key| format!("volume {}", naming::volume_name(project, key)));
    replicas.chain(networks).chain(volumes).collect()
}

/// The plan `up` would run, as text, touching nothing: which images would
/// be built or used, then the steps.
pub(crate) async fn dry_run(project: &Project, request: &UpRequest) -> anyhow::Result<String> {
    let engine = &connect().await?;
    let services = select_services(project, &request.services, request.no_deps)?;
    preflight(engine, project, &services, &crate::progress::NullReporter).await?;
    let image_plans = build::plan_images(
        engine,
        project,
        &services,
        &request.build_options(),
        &crate::progress::NullReporter,
    )
    .await?;
    let mut images = ImageSet::default();
    let mut text = String::new();
    for image_plan in &image_plans {
        text.push_str(&format!("   {}\n", image_plan.describe()));
        for service in &image_plan.services {
            images.insert(
                service.clone(),
                ServiceImage {
                    reference: image_plan.reference.clone(),
                    id: image_plan.existing.clone().unwrap_or_default(),
                },
            );
        }
    }
    let state = observe(engine, &project.name).await?;
    let blueprints = blueprints(project, &services, &images);
    let options = request.plan_options();
    let plan = plan_up(&UpInput {
        project,
        state: &state,
        services: &services,
        blueprints: &blueprints,
        images: &images,
        options: &options,
    });
    text.push_str(&plan.to_string());
    if plan.is_empty() {
        text.push_str("   nothing to do: every service is up to date and running\n");
    }
    Ok(text)
}

/// `up` was cancelled before it converged (Ctrl-C or SIGTERM during an
/// attached `up`).
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub(crate) struct Cancelled;

/// Converges the project: images, networks, volumes, containers, starts in
/// dependency order, waits. The caller holds the project lock.
pub(crate) async fn converge(
    engine: &Engine,
    project: Arc<Project>,
    request: &UpRequest,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<UpOutcome> {
    converge_until(
        engine,
        project,
        request,
        reporter,
        &CancellationToken::new(),
    )
    .await
}

/// Runs `work` unless `cancel` is cancelled first (then drops it): for the
/// phases before the plan runs, which only read the engine or build images.
async fn unless_cancelled<T, E: Into<anyhow::Error>>(
    cancel: &CancellationToken,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> anyhow::Result<T> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Cancelled.into()),
        result = work => result.map_err(Into::into),
    }
}

/// [`converge`], until `cancel` is cancelled: before the plan runs, `up`
/// stops at once (it has only read the engine and built images); while it
/// runs, no new step starts and the steps already talking to the engine
/// finish, so when this returns ([`Cancelled`]) every object the `up` made
/// is in the engine for a `down` to find.
pub(crate) async fn converge_until(
    engine: &Engine,
    project: Arc<Project>,
    request: &UpRequest,
    reporter: Arc<dyn Reporter>,
    cancel: &CancellationToken,
) -> anyhow::Result<UpOutcome> {
    let began = std::time::Instant::now();
    let services = select_services(&project, &request.services, request.no_deps)?;
    reporter.expect_subjects(&progress_subjects(&project, &services, &request.scale));
    unless_cancelled(
        cancel,
        preflight(engine, &project, &services, reporter.as_ref()),
    )
    .await?;
    let images = unless_cancelled(
        cancel,
        build::ensure_images_with(
            engine,
            &project,
            &services,
            &request.build_options(),
            reporter.as_ref(),
        ),
    )
    .await?;
    tracing::debug!(ms = began.elapsed().as_secs_f64() * 1e3, "images ready");
    let state = unless_cancelled(cancel, observe(engine, &project.name)).await?;
    tracing::debug!(ms = began.elapsed().as_secs_f64() * 1e3, "state observed");
    if !request.remove_orphans {
        warn_orphans(&project, &state, reporter.as_ref());
    }
    let blueprints = blueprints(&project, &services, &images);
    let options = request.plan_options();
    let plan = plan_up(&UpInput {
        project: &project,
        state: &state,
        services: &services,
        blueprints: &blueprints,
        images: &images,
        options: &options,
    });

    // Subscribe before anything starts, so no event is missed.
    let hub = Arc::new(EventHub::subscribe(engine, &project.name));
    for c in &state.containers {
        hub.seed(c);
    }
    for kept in &plan.unchanged {
        reporter.progress(
            &kept.subject,
            Phase::Unchanged,
            Some("running, up to date".into()),
        );
    }
    let ctx = Arc::new(ExecContext {
        engine: engine.clone(),
        project: project.clone(),
        blueprints: Arc::new(blueprints),
        hub: hub.clone(),
        reporter: reporter.clone(),
        wait_deadline: Instant::now() + request.wait_timeout,
        wait_timeout: request.wait_timeout,
        fast_health: request.fast_health,
    });
    tracing::debug!(
        ms = began.elapsed().as_secs_f64() * 1e3,
        steps = plan.steps.len(),
        "plan made"
    );
    if cancel.is_cancelled() {
        return Err(Cancelled.into());
    }
    let report = execute_until(&plan, ctx, cancel.clone()).await;
    tracing::debug!(ms = began.elapsed().as_secs_f64() * 1e3, "plan executed");
    if cancel.is_cancelled() {
        return Err(Cancelled.into());
    }

    let containers = converged_containers(&plan, &report);
    let mut failures = report.failures(&plan);
    // Failures because the engine went away are one engine error, not a
    // per-service list of transport failures.
    if super::engine_gone(engine, failures.iter().any(|f| f.lost)).await {
        return Err(engine.lost());
    }
    if request.wait {
        failures.extend(exited_meanwhile(&plan, &containers, &hub, &failures));
    }
    let failures = with_last_logs(engine, failures).await;
    Ok(UpOutcome {
        skipped: report.skipped(&plan),
        failures,
        services,
        hub,
        containers,
    })
}

/// Container ids per service: those started by the plan and those left alone.
fn converged_containers(plan: &Plan, report: &ExecReport) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (step, outcome) in plan.steps.iter().zip(&report.outcomes) {
        if let (
            Op::StartContainer { service, .. },
            Outcome::Done {
                container: Some(id),
                ..
            },
        ) = (&step.op, outcome)
        {
            map.entry(service.clone()).or_default().push(id.clone());
        }
    }
    for kept in &plan.unchanged {
        map.entry(kept.service.clone())
            .or_default()
            .push(kept.container.id.clone());
    }
    map
}

/// Containers that died after their wait passed (a crash right after
/// start), except services that are meant to complete.
fn exited_meanwhile(
    plan: &Plan,
    containers: &HashMap<String, Vec<String>>,
    hub: &EventHub,
    failures: &[Failure],
) -> Vec<Failure> {
    let completes = |service: &str| {
        plan.steps.iter().any(|s| {
            matches!(&s.op, Op::Wait { service: w, condition: WaitFor::Completed, .. } if w == service)
        })
    };
    let mut found = Vec::new();
    for (service, ids) in containers {
        if completes(service)
            || failures
                .iter()
                .any(|f| f.service.as_deref() == Some(service.as_str()))
        {
            continue;
        }
        for id in ids {
            let live = hub.live(id);
            if let Some(code) = live.exit_code {
                found.push(Failure {
                    subject: service.clone(),
                    service: Some(service.clone()),
                    reason: format!("exited with code {code} after starting"),
                    container: Some(id.clone()),
                    lost: false,
                });
                break;
            }
        }
    }
    found.sort_by(|a, b| a.subject.cmp(&b.subject));
    found
}

/// `torq up` without `--attach`: connects, takes the project lock,
/// converges, and finishes the progress.
pub(crate) async fn run(
    project: Arc<Project>,
    request: &UpRequest,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<UpOutcome> {
    let engine = connect().await?;
    let lock = acquire_lock(&engine, &project.name, reporter.as_ref()).await?;
    let outcome = converge(&engine, project, request, reporter.clone()).await;
    reporter.finish();
    drop(lock);
    outcome
}
