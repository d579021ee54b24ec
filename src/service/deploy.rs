//! `torq deploy`: the project as a Docker Swarm stack, rolled out level by
//! level in dependency order and gated on the engine's own verdict.
//!
//! The steps: check the engine is a swarm manager; build missing images (as
//! `up` does; one node uses them as built, several need a registry); convert
//! the spec ([`crate::engine::swarm::convert`]); create the stack's networks,
//! secrets and configs; then per dependency level create or update the
//! services whose spec hash changed — an unchanged service is left alone —
//! and wait until every desired task of each runs (in Swarm a task turns
//! `running` only once its container is healthy). A failing service stops the
//! rollout after its level: its dependents are not touched, and an update
//! that fails is rolled back when its `update_config.failure_action` says
//! `rollback` (Swarm's own rollback, or torq's request for it when Swarm
//! does not act, e.g. a task that finds no node); under `pause` or
//! `continue` it is left in place, and torq says what Swarm made of it
//! (paused, or completed regardless). Creates or updates that
//! fail because the engine went away (a broken connection, and no answer
//! to a ping) end the rollout with the one engine error, not a failure per
//! service.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::join_all;
use indexmap::IndexMap;
use tokio::time::Instant;

use crate::compose::graph::DependencyGraph;
use crate::compose::model::Project;
use crate::engine::build::{self, BuildPolicy, ImageAction, ImagePlan, ImageSource};
use crate::engine::error::ApiError;
use crate::engine::swarm::convert::{self, fill_object_ids, Images, ServicePlan, StackSpec};
use crate::engine::swarm::objects::{self, Ensured, FileKind, StackService};
use crate::engine::swarm::tasks::{self, Verdict, Waiter};
use crate::engine::swarm::{swarm_node, SwarmNode};
use crate::engine::Engine;
use crate::progress::{Event, Phase, Reporter};

/// Log lines of a failing task shown with its error.
pub const FAILURE_LOG_LINES: u64 = 10;

/// What `deploy` was asked to do.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub build: BuildPolicy,
    /// The Dockerfile of torq's self image (the application's, for
    /// `x-torq-self-image` services).
    pub self_image_dockerfile: Option<&'static str>,
    /// How long one level may take to converge.
    pub wait_timeout: Duration,
    /// Remove the stack's services the spec no longer has (`--prune`).
    pub prune: bool,
}

impl DeployRequest {
    fn build_options(&self) -> build::BuildOptions {
        build::BuildOptions {
            policy: self.build,
            self_image_dockerfile: self.self_image_dockerfile,
            ..build::BuildOptions::default()
        }
    }
}

/// What happened to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
        }
    }
}

/// A service that failed, with the engine's reason and what its task logged.
#[derive(Debug, Clone)]
pub struct ServiceFailure {
    pub service: String,
    pub reason: String,
    pub log_tail: Vec<String>,
    /// For a failed update: what became of it (`rolled back`, `paused`, …).
    pub update_outcome: Option<String>,
}

/// The result of a rollout.
#[derive(Debug, Clone, Default)]
pub struct DeployOutcome {
    /// Per service, in rollout order: what was done.
    pub actions: IndexMap<String, Action>,
    pub failures: Vec<ServiceFailure>,
    /// Services not touched because a dependency failed.
    pub skipped: Vec<String>,
    /// Services of the stack the spec no longer has, removed (`--prune`).
    pub pruned: Vec<String>,
    pub nodes: u64,
}

/// The spec's load warnings that hold for a deploy (not the loader's
/// "not applied to containers" for a key a Swarm service takes).
pub fn loader_warnings(project: &Project) -> impl Iterator<Item = &String> {
    project
        .warnings
        .iter()
        .filter(|w| convert::loader_warning_holds(w))
}

/// Deploys `project` as a stack.
pub async fn deploy(
    engine: &Engine,
    project: &Project,
    request: &DeployRequest,
    reporter: &dyn Reporter,
) -> anyhow::Result<DeployOutcome> {
    // The engine's checks, the image builds (or the self image's hash) and
    // the object creations each wait on the engine: what does not depend on
    // another runs at once.
    let (node, images) = tokio::try_join!(
        async { Ok::<_, anyhow::Error>(swarm_node(engine).await?) },
        build_images(engine, project, request, reporter),
    )?;
    warn_about_nodes(project, &node, reporter);
    let mut stack = convert::stack_spec(project, &images)?;
    for warning in &stack.warnings {
        reporter.report(Event::Warning(warning.clone()));
    }
    let stack_name = stack.name.clone();
    let (created, listed) = tokio::join!(
        create_objects(engine, &mut stack, reporter),
        objects::list_services(engine, &stack_name)
    );
    created?;
    let existing: HashMap<String, StackService> =
        listed?.into_iter().map(|s| (s.name.clone(), s)).collect();
    let pruned = if request.prune {
        prune_services(engine, &stack, &existing, request.wait_timeout, reporter).await?
    } else {
        warn_orphans(&stack, &existing, reporter);
        Vec::new()
    };
    let levels = DependencyGraph::new(project).start_levels().to_vec();
    let rollout = Rollout {
        engine,
        stack: &stack,
        existing: &existing,
        waiter: Waiter::watch(engine, &stack.name),
        timeout: request.wait_timeout,
        reporter,
    };
    let mut outcome = rollout.run(&levels).await?;
    outcome.nodes = node.nodes;
    outcome.pruned = pruned;
    if outcome.failures.is_empty() {
        prune_files(engine, &stack).await;
    }
    Ok(outcome)
}

fn warn_about_nodes(project: &Project, node: &SwarmNode, reporter: &dyn Reporter) {
    let builds = project.services.values().any(|s| s.build.is_some());
    if node.nodes > 1 && builds {
        reporter.report(Event::Warning(format!(
            "the swarm has {} nodes: images built here exist on this node only; the other \
             nodes need them in a registry they can reach (tag them for it and push), \
             else their tasks fail with a missing image",
            node.nodes
        )));
    }
}

/// Builds missing images as `up` does; returns each service's reference and
/// id. A plain `image:` that this node lacks is not pulled here: every node
/// that runs one of its tasks pulls it (as with `docker stack deploy`), and
/// a node that cannot get it fails the task with that reason.
async fn build_images(
    engine: &Engine,
    project: &Project,
    request: &DeployRequest,
    reporter: &dyn Reporter,
) -> anyhow::Result<Images> {
    let absent = absent_plain_images(engine, project).await?;
    let mut handled = Vec::new();
    for service in project.services.values() {
        match service.image.as_ref().filter(|i| absent.contains(*i)) {
            Some(image) => reporter.report(Event::Warning(format!(
                "image {image} (for {}) is not on this node: the nodes that run its tasks pull it",
                service.name
            ))),
            None => handled.push(service.name.clone()),
        }
    }
    if handled.is_empty() {
        return Ok(Images::new());
    }
    let options = request.build_options();
    let set = build::ensure_images_with(engine, project, &handled, &options, reporter).await?;
    Ok(set
        .iter()
        .map(|(service, image)| (service.clone(), (image.reference.clone(), image.id.clone())))
        .collect())
}

/// The images that services only name (nothing to build) and this node
/// lacks: they are left to the swarm's nodes. Each distinct image is looked
/// up once, all at once.
async fn absent_plain_images(
    engine: &Engine,
    project: &Project,
) -> anyhow::Result<std::collections::HashSet<String>> {
    let plain: std::collections::HashSet<&String> = project
        .services
        .values()
        .filter(|s| s.build.is_none() && !build::is_self_image(s))
        .filter_map(|s| s.image.as_ref())
        .collect();
    let found = join_all(plain.iter().map(|image| build::image_id(engine, image))).await;
    let mut absent = std::collections::HashSet::new();
    for (image, id) in plain.into_iter().zip(found) {
        if id?.is_none() {
            absent.insert(image.clone());
        }
    }
    Ok(absent)
}

/// Whether an image is left to the swarm's nodes: a plain `image:` (nothing
/// to build) absent here.
fn left_to_nodes(plan: &ImagePlan) -> bool {
    plan.source == ImageSource::Existing
        && matches!(plan.action, ImageAction::Pull | ImageAction::Missing)
}

/// Creates the stack's networks, secrets and configs, and fills the secret
/// and config ids into the service specs.
async fn create_objects(
    engine: &Engine,
    stack: &mut StackSpec,
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    let networks = join_all(
        stack
            .networks
            .iter()
            .map(|network| objects::ensure_network(engine, &stack.name, network)),
    )
    .await;
    for (network, ensured) in stack.networks.iter().zip(networks) {
        if ensured? == Ensured::Created {
            reporter.progress(&format!("network {}", network.name), Phase::Created, None);
        }
    }
    let mut ids = HashMap::new();
    for (kind, plans) in [
        (FileKind::Secret, &stack.secrets),
        (FileKind::Config, &stack.configs),
    ] {
        let existing = objects::list_files(engine, &stack.name, kind).await?;
        for plan in plans {
            let id = if plan.external {
                external_file_id(engine, &plan.name, kind).await?
            } else {
                let (id, ensured) = objects::ensure_file(engine, &existing, plan, kind).await?;
                if ensured == Ensured::Created {
                    let subject = format!("{} {}", kind.word(), plan.name);
                    reporter.progress(&subject, Phase::Created, None);
                }
                id
            };
            ids.insert(plan.name.clone(), id);
        }
    }
    for plan in stack.services.values_mut() {
        fill_object_ids(&mut plan.spec, &ids);
    }
    Ok(())
}

/// The id of an external secret or config (which must exist).
async fn external_file_id(engine: &Engine, name: &str, kind: FileKind) -> anyhow::Result<String> {
    let docker = engine.docker();
    let id = match kind {
        FileKind::Secret => docker.inspect_secret(name).await.map(|s| s.id),
        FileKind::Config => docker.inspect_config(name).await.map(|c| c.id),
    };
    let id = match id {
        Ok(id) => id,
        Err(err) => {
            let op = format!("inspect external {} {name}", kind.word());
            let err = ApiError::from_bollard(op, err);
            if !err.is_not_found() {
                return Err(err.into());
            }
            None
        }
    };
    id.with_context(|| format!("external {} {name}: not found on the swarm", kind.word()))
}

fn warn_orphans(
    stack: &StackSpec,
    existing: &HashMap<String, StackService>,
    reporter: &dyn Reporter,
) {
    for orphan in orphans(stack, existing) {
        reporter.report(Event::Warning(format!(
            "service {} of stack {} is not in the spec; left running \
             (`torq deploy --prune` removes it)",
            orphan.name, stack.name
        )));
    }
}

/// The stack's services the spec does not name.
fn orphans<'e>(
    stack: &StackSpec,
    existing: &'e HashMap<String, StackService>,
) -> Vec<&'e StackService> {
    existing
        .values()
        .filter(|s| !stack.services.values().any(|p| p.name == s.name))
        .collect()
}

/// Removes the stack's services the spec no longer has (`deploy --prune`,
/// as `docker stack deploy --prune`), before the rollout; their containers
/// are stopped and gone when it returns. Networks, secrets and configs are
/// not pruned here (unused secrets and configs go after a successful
/// deploy).
async fn prune_services(
    engine: &Engine,
    stack: &StackSpec,
    existing: &HashMap<String, StackService>,
    timeout: Duration,
    reporter: &dyn Reporter,
) -> anyhow::Result<Vec<String>> {
    let orphans: Vec<StackService> = orphans(stack, existing).into_iter().cloned().collect();
    if orphans.is_empty() {
        return Ok(Vec::new());
    }
    let removed =
        crate::service::undeploy::remove_services(engine, &stack.name, &orphans, timeout, reporter)
            .await?;
    if let Some(failure) = removed.failures.first() {
        anyhow::bail!("prune: {failure}");
    }
    Ok(removed.services)
}

/// Removes the stack's secrets and configs no service uses any more (the
/// older contents of content-addressed objects).
async fn prune_files(engine: &Engine, stack: &StackSpec) {
    for (kind, plans) in [
        (FileKind::Secret, &stack.secrets),
        (FileKind::Config, &stack.configs),
    ] {
        let Ok(existing) = objects::list_files(engine, &stack.name, kind).await else {
            continue;
        };
        for object in existing {
            if !plans.iter().any(|p| p.name == object.name) {
                if let Err(e) = objects::remove_file(engine, &object, kind).await {
                    tracing::debug!(error = %e, "left an unused {} in place", kind.word());
                }
            }
        }
    }
}

/// One rollout: the stack, what exists, and how to wait.
struct Rollout<'a> {
    engine: &'a Engine,
    stack: &'a StackSpec,
    existing: &'a HashMap<String, StackService>,
    waiter: Waiter,
    timeout: Duration,
    reporter: &'a dyn Reporter,
}

/// A service applied in this rollout, to wait for.
struct Applied {
    key: String,
    id: String,
    action: Action,
    /// The service before an update (for a rollback).
    previous_hash: Option<String>,
}

impl Rollout<'_> {
    async fn run(&self, levels: &[Vec<String>]) -> anyhow::Result<DeployOutcome> {
        let mut outcome = DeployOutcome::default();
        for (index, level) in levels.iter().enumerate() {
            let applied = join_all(level.iter().map(|key| self.apply(key))).await;
            let (mut waits, mut lost) = (Vec::new(), false);
            for (key, result) in level.iter().zip(applied) {
                match result {
                    Ok(applied) => {
                        outcome.actions.insert(key.clone(), applied.action);
                        waits.push(applied);
                    }
                    // A broken connection is the engine's failure, not the
                    // service's: no line of its own.
                    Err(err) if super::is_lost_error(&err) => {
                        lost = true;
                        outcome.failures.push(self.failure(key, err.to_string()));
                    }
                    Err(err) => {
                        outcome
                            .failures
                            .push(self.failed(key, err.to_string(), Vec::new()))
                    }
                }
            }
            // Creates or updates that failed because the engine went away
            // are one engine error, not a failure per service.
            if super::engine_gone(self.engine, lost).await {
                return Err(self.engine.lost());
            }
            let results = join_all(waits.iter().map(|a| self.converge(a))).await;
            for result in results {
                if let Some(failure) = result? {
                    outcome.failures.push(failure);
                }
            }
            if !outcome.failures.is_empty() {
                outcome.skipped = levels[index + 1..].iter().flatten().cloned().collect();
                for key in &outcome.skipped {
                    self.reporter
                        .progress(key, Phase::Skipped, Some("a dependency failed".into()));
                }
                break;
            }
        }
        Ok(outcome)
    }

    /// A failed service, shown as such.
    fn failed(&self, key: &str, reason: String, log_tail: Vec<String>) -> ServiceFailure {
        self.reporter
            .progress(key, Phase::Failed, Some(reason.clone()));
        ServiceFailure {
            log_tail,
            ..self.failure(key, reason)
        }
    }

    /// A failed service, not shown.
    fn failure(&self, key: &str, reason: String) -> ServiceFailure {
        ServiceFailure {
            service: key.to_string(),
            reason,
            log_tail: Vec::new(),
            update_outcome: None,
        }
    }

    /// Creates or updates one service unless its spec hash is unchanged.
    async fn apply(&self, key: &str) -> anyhow::Result<Applied> {
        let plan = &self.stack.services[key];
        let Some(current) = self.existing.get(&plan.name) else {
            self.reporter.progress(key, Phase::Creating, None);
            let id = objects::create_service(self.engine, plan.spec.clone()).await?;
            self.reporter
                .progress(key, Phase::Created, Some(plan.name.clone()));
            return Ok(Applied {
                key: key.into(),
                id,
                action: Action::Create,
                previous_hash: None,
            });
        };
        let action = if current.hash.as_deref() == Some(plan.hash.as_str()) {
            Action::Unchanged
        } else {
            self.reporter
                .progress(key, Phase::Recreating, Some("rolling update".into()));
            objects::update_service(self.engine, current, plan.spec.clone()).await?;
            Action::Update
        };
        Ok(Applied {
            key: key.into(),
            id: current.id.clone(),
            action,
            previous_hash: current.hash.clone(),
        })
    }

    /// Waits for a service's verdict; on a failed update, rolls it back per
    /// its failure action. `None` when it converged.
    async fn converge(&self, applied: &Applied) -> anyhow::Result<Option<ServiceFailure>> {
        let plan = &self.stack.services[&applied.key];
        if applied.action != Action::Unchanged {
            self.reporter.progress(&applied.key, Phase::Waiting, None);
        }
        match self.wait_for(applied, &plan.hash, plan).await? {
            Verdict::Converged => {
                let phase = if applied.action == Action::Unchanged {
                    Phase::Unchanged
                } else {
                    Phase::Healthy
                };
                self.reporter.progress(&applied.key, phase, None);
                Ok(None)
            }
            Verdict::Pending {
                running,
                desired,
                waiting_on,
            } => {
                let mut reason = format!(
                    "{running} of {desired} tasks running after {}s",
                    self.timeout.as_secs()
                );
                if let Some(scheduler) = waiting_on {
                    reason.push_str(&format!(": {scheduler}"));
                }
                let failure = self.failed(&applied.key, reason, Vec::new());
                Ok(Some(
                    self.after_failed_update(applied, plan, failure, false)
                        .await?,
                ))
            }
            Verdict::Failed { task, reason } => {
                let log_tail = tasks::task_log_tail(self.engine, &task, FAILURE_LOG_LINES).await;
                let failure = self.failed(&applied.key, reason, log_tail);
                // Swarm's updater acts on a task that ended; one it cannot
                // place it waits for.
                let task_ended = !task.unschedulable();
                Ok(Some(
                    self.after_failed_update(applied, plan, failure, task_ended)
                        .await?,
                ))
            }
        }
    }

    /// Waits until the service converges on `hash`, fails, or the deadline.
    async fn wait_for(
        &self,
        applied: &Applied,
        hash: &str,
        plan: &ServicePlan,
    ) -> anyhow::Result<Verdict> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let desired = match plan.replicas {
                Some(n) => n,
                None => self.global_desired(&applied.id).await?,
            };
            let tasks = tasks::list_tasks(self.engine, &applied.id).await?;
            let verdict = tasks::verdict(&tasks, hash, desired);
            if !matches!(verdict, Verdict::Pending { .. }) || !self.waiter.pause(deadline).await {
                return Ok(verdict);
            }
        }
    }

    async fn global_desired(&self, id: &str) -> Result<u64, crate::engine::error::ApiError> {
        let service = objects::inspect_service(self.engine, &self.stack.name, id).await?;
        Ok(service.map(|s| s.desired_tasks).unwrap_or(1).max(1))
    }

    /// For a failed update whose failure action is `rollback`: have Swarm
    /// roll it back (unless it already does) and wait for the previous spec
    /// to run again. For `pause` and `continue` the update is left in
    /// place: when a task ended (`task_ended`), Swarm's updater acts on it,
    /// and its outcome (paused, completed) is waited for and reported.
    async fn after_failed_update(
        &self,
        applied: &Applied,
        plan: &ServicePlan,
        mut failure: ServiceFailure,
        task_ended: bool,
    ) -> anyhow::Result<ServiceFailure> {
        if applied.action != Action::Update {
            return Ok(failure);
        }
        if plan.failure_action != "rollback" {
            let state = self.update_state(applied, task_ended).await?;
            failure.update_outcome = Some(left_in_place(&plan.failure_action, state.as_deref()));
            return Ok(failure);
        }
        self.reporter
            .progress(&applied.key, Phase::Recreating, Some("rolling back".into()));
        self.request_rollback(applied).await?;
        let previous = applied.previous_hash.clone().unwrap_or_default();
        failure.update_outcome = Some(match self.wait_for(applied, &previous, plan).await? {
            Verdict::Converged => {
                self.reporter
                    .progress(&applied.key, Phase::Running, Some("rolled back".into()));
                "rolled back to the previous spec".into()
            }
            other => format!("rollback did not converge: {other:?}"),
        });
        Ok(failure)
    }

    /// Swarm's update state; with `settle`, once its updater has acted on
    /// a failed task (no longer `updating`), or as it stands at the deadline.
    async fn update_state(
        &self,
        applied: &Applied,
        settle: bool,
    ) -> anyhow::Result<Option<String>> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let state = objects::inspect_service(self.engine, &self.stack.name, &applied.id)
                .await?
                .and_then(|s| s.update_state);
            let settled = !settle || state.as_deref() != Some("updating");
            if settled || !self.waiter.pause(deadline).await {
                return Ok(state);
            }
        }
    }

    /// Asks for a rollback unless Swarm already rolls back on its own.
    async fn request_rollback(&self, applied: &Applied) -> anyhow::Result<()> {
        for _ in 0..3 {
            let Some(current) =
                objects::inspect_service(self.engine, &self.stack.name, &applied.id).await?
            else {
                return Ok(());
            };
            if current
                .update_state
                .as_deref()
                .is_some_and(|s| s.starts_with("rollback"))
            {
                return Ok(());
            }
            match objects::rollback_service(self.engine, &current).await {
                Ok(()) => return Ok(()),
                // Swarm changed the service meanwhile (its own rollback): look again.
                Err(e) if e.message().contains("out of sequence") => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// What became of a failed update left in place by its failure action
/// (`pause`, `continue`), given Swarm's update state.
fn left_in_place(failure_action: &str, state: Option<&str>) -> String {
    let swarm = match state {
        Some("paused") => "Swarm paused the update; the service keeps the new spec".to_string(),
        Some("completed") => {
            "Swarm completed the update regardless; the service keeps the new spec".to_string()
        }
        Some("updating") => "Swarm's update is still in progress".to_string(),
        Some(other) => format!("Swarm's update state: {other}"),
        None => "Swarm reports no update state".to_string(),
    };
    format!("update left in place (update_config.failure_action: {failure_action}): {swarm}")
}

/// The rollout `deploy` would run, as text, touching nothing.
pub async fn dry_run(
    engine: &Engine,
    project: &Project,
    request: &DeployRequest,
) -> anyhow::Result<String> {
    let mut text = String::new();
    let node = swarm_node(engine).await;
    let plans = build::plan_images(
        engine,
        project,
        &[],
        &request.build_options(),
        &crate::progress::NullReporter,
    )
    .await?;
    let mut images = Images::new();
    for plan in &plans {
        if left_to_nodes(plan) {
            text.push_str(&format!(
                "   image {} for {}: not on this node, pulled by the nodes that run its tasks\n",
                plan.reference,
                plan.services.join(", ")
            ));
        } else if plan.action != ImageAction::Use {
            text.push_str(&format!("   {}\n", plan.describe()));
        }
        for service in &plan.services {
            let id = plan.existing.clone().unwrap_or_default();
            images.insert(service.clone(), (plan.reference.clone(), id));
        }
    }
    let stack = convert::stack_spec(project, &images)?;
    for warning in &stack.warnings {
        text.push_str(&format!("   warning: {warning}\n"));
    }
    let existing: HashMap<String, StackService> = match &node {
        Ok(node) => {
            text.insert_str(
                0,
                &format!(
                    "stack {} on a swarm of {} node(s)\n",
                    stack.name, node.nodes
                ),
            );
            objects::list_services(engine, &stack.name)
                .await?
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect()
        }
        Err(e) => {
            text.insert_str(
                0,
                &format!(
                    "stack {} (the engine cannot take it now: {e})\n",
                    stack.name
                ),
            );
            HashMap::new()
        }
    };
    describe_objects(&mut text, &stack);
    for orphan in orphans(&stack, &existing) {
        let verb = if request.prune {
            "remove"
        } else {
            "leave running (not pruned)"
        };
        text.push_str(&format!(
            "   {verb} service {}: not in the spec\n",
            orphan.name
        ));
    }
    let levels = DependencyGraph::new(project).start_levels().to_vec();
    for (index, level) in levels.iter().enumerate() {
        text.push_str(&format!("   level {}:\n", index + 1));
        for key in level {
            let plan = &stack.services[key];
            let action = match existing.get(&plan.name) {
                None => Action::Create,
                Some(s) if s.hash.as_deref() == Some(plan.hash.as_str()) => Action::Unchanged,
                Some(_) => Action::Update,
            };
            let replicas = plan
                .replicas
                .map(|n| format!("{n} replica(s)"))
                .unwrap_or_else(|| "global".into());
            text.push_str(&format!(
                "     {} service {} ({replicas}), then wait until its tasks run healthy\n",
                action.word(),
                plan.name
            ));
        }
    }
    Ok(text)
}

fn describe_objects(text: &mut String, stack: &StackSpec) {
    for network in stack.networks.iter().filter(|n| !n.external) {
        text.push_str(&format!(
            "   ensure {} network {}\n",
            network.driver, network.name
        ));
    }
    for (kind, plans) in [("secret", &stack.secrets), ("config", &stack.configs)] {
        for plan in plans.iter().filter(|p| !p.external) {
            text.push_str(&format!("   ensure {kind} {}\n", plan.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_update_left_in_place_says_what_swarm_made_of_it() {
        let paused = left_in_place("pause", Some("paused"));
        assert!(
            paused.contains("failure_action: pause") && paused.contains("Swarm paused"),
            "{paused}"
        );
        let completed = left_in_place("continue", Some("completed"));
        assert!(completed.contains("completed the update"), "{completed}");
        let waiting = left_in_place("pause", Some("updating"));
        assert!(waiting.contains("still in progress"), "{waiting}");
    }
}
