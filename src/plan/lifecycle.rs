//! The lifecycle commands as library calls — `up`, `down` and the plan of a
//! dry run — each one sequence of: observe the project, plan, subscribe to
//! the engine's events, execute, collect the failures with the failed
//! containers' last log lines. The CLI holds the project lock around them,
//! prints the summaries and maps them to exit codes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::join_all;
use tokio::time::Instant;

use super::down::{plan_down, DownOptions};
use super::exec::{execute, ExecContext, ExecReport, Failure, Outcome};
use super::up::{plan_up, UpInput, UpOptions};
use super::{Op, Plan, WaitFor};
use crate::compose::graph::DependencyGraph;
use crate::compose::model::Project;
use crate::engine::build::{self, BuildPolicy, ImageSet, ServiceImage};
use crate::engine::container::{blueprint, Blueprint};
use crate::engine::events::EventHub;
use crate::engine::lock::{lock_project, ProjectLock};
use crate::engine::state::{observe, ProjectState};
use crate::engine::{ops, Engine};
use crate::progress::{Event, Phase, Reporter};

/// Log lines shown under a failed service in the summary.
pub const FAILURE_LOG_LINES: usize = 10;

/// What `up` is asked to do.
#[derive(Debug, Clone)]
pub struct UpRequest {
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
}

impl UpRequest {
    /// The options that shape the plan.
    fn plan_options(&self) -> UpOptions {
        UpOptions {
            force_recreate: self.force_recreate,
            wait: self.wait,
            scale: self.scale.clone(),
            renew_anon_volumes: self.renew_anon_volumes,
        }
    }
}

/// A failure for the final summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSummary {
    pub subject: String,
    pub reason: String,
    /// The failed container's last log lines.
    pub last_logs: Vec<String>,
}

/// What `up` did.
pub struct UpOutcome {
    pub plan: Plan,
    pub report: ExecReport,
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

/// Takes the project lock, telling the user when another torq holds it.
pub async fn acquire_lock(
    engine: &Engine,
    project: &str,
    reporter: &dyn Reporter,
) -> anyhow::Result<ProjectLock> {
    acquire_lock_noting(engine, project, reporter, || {}).await
}

/// [`acquire_lock`], calling `on_wait` too when another torq holds the lock.
pub async fn acquire_lock_noting(
    engine: &Engine,
    project: &str,
    reporter: &dyn Reporter,
    on_wait: impl FnOnce(),
) -> anyhow::Result<ProjectLock> {
    lock_project(engine.host(), project, || {
        on_wait();
        reporter.report(Event::Info(format!(
            "another torq is working on project {project}; waiting for it to finish…"
        )))
    })
    .await
    .with_context(|| format!("cannot take the lock of project {project}"))
}

/// The services `up` converges: the selection (named services must exist)
/// plus, unless `no_deps`, their dependencies; in spec order.
pub fn select_services(
    project: &Project,
    requested: &[String],
    no_deps: bool,
) -> anyhow::Result<Vec<String>> {
    for name in requested {
        if !project.services.contains_key(name) {
            let hint = if project.disabled_services.contains_key(name) {
                " (it belongs to a profile that is not enabled: use --profile)".to_string()
            } else {
                format!(
                    " (services: {})",
                    project
                        .services
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            anyhow::bail!("no such service: {name}{hint}");
        }
    }
    if requested.is_empty() {
        return Ok(project.services.keys().cloned().collect());
    }
    if no_deps {
        return Ok(project
            .services
            .keys()
            .filter(|k| requested.contains(k))
            .cloned()
            .collect());
    }
    let closure = DependencyGraph::new(project).closure(requested)?;
    Ok(closure.into_iter().collect())
}

/// Parses `--scale SERVICE=N` values.
pub fn parse_scale(project: &Project, values: &[String]) -> anyhow::Result<HashMap<String, u32>> {
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
            anyhow::bail!("--scale {value}: no such service: {service}");
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
    let orphans: Vec<&str> = state
        .containers
        .iter()
        .filter(|c| !c.oneoff && !project.services.contains_key(&c.service))
        .filter(|c| !project.disabled_services.contains_key(&c.service))
        .map(|c| c.name.as_str())
        .collect();
    if !orphans.is_empty() {
        reporter.report(Event::Warning(format!(
            "orphan containers (their service is no longer in the spec): {}; `torq down` removes them",
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
        (1..=count.max(1)).map(move |n| crate::plan::up::subject_of(name, n, count > 1))
    });
    let networks = project.networks.keys().map(|key| {
        format!(
            "network {}",
            crate::engine::container::network_name(project, key)
        )
    });
    let volumes = project.volumes.keys().map(|key| {
        format!(
            "volume {}",
            crate::engine::container::volume_name(project, key)
        )
    });
    replicas.chain(networks).chain(volumes).collect()
}

/// The plan `up` would run, as text, touching nothing: which images would
/// be built or used, then the steps.
pub async fn dry_run_up(
    engine: &Engine,
    project: &Project,
    request: &UpRequest,
) -> anyhow::Result<String> {
    let services = select_services(project, &request.services, request.no_deps)?;
    preflight(engine, project, &services, &crate::progress::NullReporter).await?;
    let image_plans = build::plan_images(
        engine,
        project,
        &services,
        &request.build.into(),
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

/// Converges the project: images, networks, volumes, containers, starts in
/// dependency order, waits. The caller holds the project lock.
pub async fn up(
    engine: &Engine,
    project: Arc<Project>,
    request: &UpRequest,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<UpOutcome> {
    let began = std::time::Instant::now();
    let services = select_services(&project, &request.services, request.no_deps)?;
    reporter.expect_subjects(&progress_subjects(&project, &services, &request.scale));
    preflight(engine, &project, &services, reporter.as_ref()).await?;
    let images = build::ensure_images(
        engine,
        &project,
        &services,
        request.build,
        reporter.as_ref(),
    )
    .await?;
    tracing::debug!(ms = began.elapsed().as_secs_f64() * 1e3, "images ready");
    let state = observe(engine, &project.name).await?;
    tracing::debug!(ms = began.elapsed().as_secs_f64() * 1e3, "state observed");
    warn_orphans(&project, &state, reporter.as_ref());
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
    for (subject, _) in &plan.unchanged {
        reporter.progress(
            subject,
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
    let report = execute(&plan, ctx).await;
    tracing::debug!(ms = began.elapsed().as_secs_f64() * 1e3, "plan executed");

    let containers = converged_containers(&plan, &report);
    let mut failures = report.failures(&plan);
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
        report,
        plan,
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
    for (subject, c) in &plan.unchanged {
        let service = plan_service_of(plan, subject).unwrap_or_else(|| subject.clone());
        map.entry(service).or_default().push(c.id.clone());
    }
    map
}

/// The service behind a subject of the plan (`web-2` → `web`).
fn plan_service_of(plan: &Plan, subject: &str) -> Option<String> {
    plan.steps
        .iter()
        .find(|s| s.subject == subject)
        .and_then(|s| s.op.service().map(String::from))
        .or_else(|| {
            subject
                .rsplit_once('-')
                .filter(|(_, n)| n.parse::<u32>().is_ok())
                .map(|(s, _)| s.to_string())
        })
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
                });
                break;
            }
        }
    }
    found.sort_by(|a, b| a.subject.cmp(&b.subject));
    found
}

/// Adds each failed container's last log lines.
async fn with_last_logs(engine: &Engine, failures: Vec<Failure>) -> Vec<FailureSummary> {
    let lookups = failures.into_iter().map(|f| async move {
        let last_logs = match &f.container {
            Some(id) => ops::tail_logs(engine, id, FAILURE_LOG_LINES)
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        FailureSummary {
            subject: f.subject,
            reason: f.reason,
            last_logs,
        }
    });
    join_all(lookups).await
}

/// What `down` did.
#[derive(Debug, Default)]
pub struct DownOutcome {
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
    pub fn absorb(&mut self, other: DownOutcome) {
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
pub async fn dry_run_down(
    engine: &Engine,
    project_name: &str,
    options: &DownOptions,
) -> anyhow::Result<String> {
    let state = observe(engine, project_name).await?;
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
pub async fn down(
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
    outcome.failures = with_last_logs(engine, report.failures(&plan)).await;
    Ok(outcome)
}
