//! `torq undeploy`: removes a stack in reverse dependency order, then the
//! stack's networks, secrets and configs (those carrying its namespace
//! label, nothing else). Volumes stay, as with `docker stack rm`.
//!
//! Per level: the level's services are deleted at once; their task
//! containers on this node are stopped by torq at once (stop signal, grace
//! period) and then removed in the background; tasks on other nodes are
//! waited for (engine events, and a short tick for what this engine does not
//! report) until their nodes report them stopped. Only then the next level.
//! At the end torq waits until every task has stopped and no container of
//! the stack is left here, while it removes the networks, secrets and
//! configs at once — each retried until the last task lets go of it — and
//! waits until no network of the stack is listed. Removals that fail
//! because the engine went away are not retried and end the undeploy with
//! the one engine error, not a failure per object.
//!
//! Why torq stops and removes the local containers itself: Swarm's agent
//! acts on a removed service's task only after a fixed two-second delay (it
//! first takes the task out of the service's load balancer and lets the
//! swarm's gossip converge), stops it, reports it, and pays the same delay
//! again before it removes the container. Paid per level, that is seconds
//! per level; torq pays it nowhere on this node. The agent then finds the
//! container gone and has nothing left to do but confirm the task, whose
//! record the engine deletes on its own a few seconds later.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures::future::join_all;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::compose::graph::DependencyGraph;
use crate::compose::model::Project;
use crate::engine::error::ApiError;
use crate::engine::ops::{self, Removal};
use crate::engine::swarm::convert::scoped;
use crate::engine::swarm::objects::{self, FileKind, ListedObject, StackService, TaskContainer};
use crate::engine::swarm::swarm_node;
use crate::engine::swarm::tasks::{self, TaskView, Waiter};
use crate::engine::Engine;
use crate::progress::{Event, Phase, Reporter};

/// What undeploy removed, and what it could not.
#[derive(Debug, Clone, Default)]
pub struct UndeployOutcome {
    pub services: Vec<String>,
    pub objects: Vec<String>,
    /// Operations that failed or did not finish by the deadline.
    pub failures: Vec<String>,
}

/// Removes the stack of `project`; `timeout` bounds each wait.
pub async fn undeploy(
    engine: &Engine,
    project: &Project,
    timeout: Duration,
    reporter: &dyn Reporter,
) -> anyhow::Result<UndeployOutcome> {
    let local_node = swarm_node(engine).await?.node_id;
    let stack = project.name.as_str();
    let services = objects::list_services(engine, stack).await?;
    let mut outcome = UndeployOutcome::default();
    if services.is_empty() {
        reporter.report(Event::Info(format!("stack {stack}: no services to remove")));
    }
    let removal = StackRemoval::new(engine, stack, local_node, &services, timeout, reporter);
    let known = objects::stack_containers(engine, stack).await?;
    for level in removal_levels(project, &services) {
        removal.remove_level(&level, &known, &mut outcome).await?;
    }
    let (gone, removed) = tokio::join!(removal.wait_stack_gone(), removal.remove_objects());
    outcome.failures.extend(gone?);
    let (objects, failures, lost) = removed?;
    if super::engine_gone(engine, lost).await {
        return Err(engine.lost());
    }
    outcome.objects.extend(objects);
    outcome.failures.extend(failures);
    Ok(outcome)
}

/// Removes `services` of `stack` at once, as one level of an undeploy (their
/// containers on this node stopped and removed, their tasks elsewhere waited
/// for): what `deploy --prune` does with services the spec no longer has.
pub async fn remove_services(
    engine: &Engine,
    stack: &str,
    services: &[StackService],
    timeout: Duration,
    reporter: &dyn Reporter,
) -> anyhow::Result<UndeployOutcome> {
    let local_node = swarm_node(engine).await?.node_id;
    let removal = StackRemoval::new(engine, stack, local_node, services, timeout, reporter);
    let known = objects::stack_containers(engine, stack).await?;
    let mut outcome = UndeployOutcome::default();
    removal.remove_level(services, &known, &mut outcome).await?;
    removal.finish_removals().await;
    Ok(outcome)
}

/// The stack's services grouped for removal: those the spec does not know
/// first, then the spec's stop levels (dependents before dependencies).
fn removal_levels(project: &Project, services: &[StackService]) -> Vec<Vec<StackService>> {
    let graph = DependencyGraph::new(project);
    let scoped_level = |level: &Vec<String>| -> Vec<StackService> {
        services
            .iter()
            .filter(|s| level.iter().any(|key| scoped(&project.name, key) == s.name))
            .cloned()
            .collect()
    };
    let unknown: Vec<StackService> = services
        .iter()
        .filter(|s| {
            !project
                .services
                .keys()
                .any(|key| scoped(&project.name, key) == s.name)
        })
        .cloned()
        .collect();
    std::iter::once(unknown)
        .chain(graph.start_levels().iter().rev().map(scoped_level))
        .filter(|level| !level.is_empty())
        .collect()
}

/// One undeploy: the stack, this node, and how to wait.
struct StackRemoval<'a> {
    engine: &'a Engine,
    stack: &'a str,
    local_node: String,
    /// Each service's stop grace period, by service id.
    grace: HashMap<String, Duration>,
    waiter: Waiter,
    timeout: Duration,
    reporter: &'a dyn Reporter,
    /// Containers on this node known to have stopped (ids).
    stopped: Mutex<HashSet<String>>,
    /// Removals of stopped containers, running while the next level goes.
    removals: Mutex<Vec<JoinHandle<()>>>,
}

impl<'a> StackRemoval<'a> {
    fn new(
        engine: &'a Engine,
        stack: &'a str,
        local_node: String,
        services: &[StackService],
        timeout: Duration,
        reporter: &'a dyn Reporter,
    ) -> StackRemoval<'a> {
        StackRemoval {
            engine,
            stack,
            local_node,
            grace: services
                .iter()
                .map(|s| (s.id.clone(), objects::stop_grace(s)))
                .collect(),
            waiter: Waiter::watch(engine, stack),
            timeout,
            reporter,
            stopped: Mutex::new(HashSet::new()),
            removals: Mutex::new(Vec::new()),
        }
    }

    /// Deletes a level's services, stops their containers on this node
    /// (`known`: the stack's containers listed at the start; the level's
    /// tasks are re-read and any container they name that torq has not seen
    /// is stopped too), and waits until their tasks elsewhere have stopped.
    async fn remove_level(
        &self,
        level: &[StackService],
        known: &[TaskContainer],
        outcome: &mut UndeployOutcome,
    ) -> anyhow::Result<()> {
        let deletions = join_all(level.iter().map(|service| async move {
            self.reporter.progress(&service.name, Phase::Removing, None);
            objects::remove_service(self.engine, service).await
        }))
        .await;
        let mut lost = false;
        for (service, result) in level.iter().zip(deletions) {
            if let Err(e) = result {
                // A broken connection is the engine's failure, not the
                // service's: no line of its own.
                lost |= e.is_lost();
                if !e.is_lost() {
                    self.reporter
                        .progress(&service.name, Phase::Failed, Some(e.message()));
                }
                outcome.failures.push(e.to_string());
            }
        }
        // Deletions that failed because the engine went away are one
        // engine error, not a failure per service.
        if super::engine_gone(self.engine, lost).await {
            return Err(self.engine.lost());
        }
        tracing::debug!(services = level.len(), "level deleted");
        let ids: HashSet<&str> = level.iter().map(|s| s.id.as_str()).collect();
        let of_level = |c: &&TaskContainer| ids.contains(c.service_id.as_str());
        let ((), tasks) = tokio::join!(
            self.stop_all(known.iter().filter(of_level)),
            self.level_tasks(&ids)
        );
        let mut tasks = tasks?;
        tracing::debug!("level's local containers stopped, tasks read");
        let deadline = Instant::now() + self.timeout;
        while !self.tasks_stopped(&tasks) && self.waiter.pause(deadline).await {
            let fresh = objects::stack_containers(self.engine, self.stack).await?;
            self.stop_all(fresh.iter().filter(of_level)).await;
            tasks = self.level_tasks(&ids).await?;
        }
        for service in level {
            let own: Vec<TaskView> = tasks
                .iter()
                .filter(|t| t.service_id == service.id)
                .cloned()
                .collect();
            if self.tasks_stopped(&own) {
                self.reporter.progress(&service.name, Phase::Removed, None);
                outcome.services.push(service.name.clone());
            } else {
                let message = format!(
                    "service {}: tasks still running after {}s",
                    service.name,
                    self.timeout.as_secs()
                );
                self.reporter
                    .progress(&service.name, Phase::Failed, Some(message.clone()));
                outcome.failures.push(message);
            }
        }
        Ok(())
    }

    /// The tasks of the services `ids`.
    async fn level_tasks(&self, ids: &HashSet<&str>) -> Result<Vec<TaskView>, ApiError> {
        Ok(tasks::list_stack_tasks(self.engine, self.stack)
            .await?
            .into_iter()
            .filter(|t| ids.contains(t.service_id.as_str()))
            .collect())
    }

    fn tasks_stopped(&self, tasks: &[TaskView]) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        tasks::all_stopped(tasks, &self.local_node, &stopped)
    }

    /// Stops the containers (those not known to be stopped) at once, each
    /// with its service's stop signal and grace period as `down` does, and
    /// removes each once stopped — in the background, as Swarm's agent would
    /// remove it (with its anonymous volumes). A container that cannot be
    /// stopped is left to the agent (and the caller keeps waiting for it).
    async fn stop_all<'c>(&self, containers: impl Iterator<Item = &'c TaskContainer>) {
        let pending: Vec<&TaskContainer> = {
            let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            containers.filter(|c| !stopped.contains(&c.id)).collect()
        };
        join_all(pending.into_iter().map(|container| async move {
            if container.running {
                let grace = self.grace.get(&container.service_id).copied();
                let stop = ops::stop_container(self.engine, &container.id, &container.name, grace);
                if let Err(e) = stop.await {
                    tracing::debug!(error = %e, "Swarm's agent will stop it");
                    return;
                }
                tracing::debug!(container = container.name, "stopped");
            }
            self.stopped
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(container.id.clone());
            self.remove_in_background(container);
        }))
        .await;
    }

    fn remove_in_background(&self, container: &TaskContainer) {
        let engine = self.engine.clone();
        let (id, name) = (container.id.clone(), container.name.clone());
        let removal = Removal {
            force: true,
            anonymous_volumes: true,
        };
        let handle = tokio::spawn(async move {
            if let Err(e) = ops::remove_container(&engine, &id, &name, removal).await {
                tracing::debug!(error = %e, "Swarm's agent will remove it");
            }
        });
        self.removals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
    }

    /// Waits for the container removals started so far.
    async fn finish_removals(&self) {
        let handles =
            std::mem::take(&mut *self.removals.lock().unwrap_or_else(PoisonError::into_inner));
        join_all(handles).await;
    }

    /// Waits until every task of the stack has stopped (see
    /// [`tasks::all_stopped`]) and no container of it is left on this node
    /// (stopping and removing any it still finds); returns what was still
    /// there at the deadline. The engine deletes a stopped task's record on
    /// its own once the task's agent has confirmed it (after the agent's
    /// two-second delay); torq does not wait for that bookkeeping.
    async fn wait_stack_gone(&self) -> Result<Vec<String>, ApiError> {
        self.finish_removals().await;
        let deadline = Instant::now() + self.timeout;
        loop {
            let (tasks, here) = tokio::join!(
                tasks::list_stack_tasks(self.engine, self.stack),
                objects::stack_containers(self.engine, self.stack)
            );
            let (tasks, here) = (tasks?, here?);
            let running = tasks.len() - self.stopped_count(&tasks);
            if running == 0 && here.is_empty() {
                return Ok(Vec::new());
            }
            self.stop_all(here.iter()).await;
            self.finish_removals().await;
            if !self.waiter.pause(deadline).await {
                return Ok(vec![format!(
                    "stack {}: {running} task(s) still running and {} container(s) left \
                     on this node after {}s",
                    self.stack,
                    here.len(),
                    self.timeout.as_secs()
                )]);
            }
        }
    }

    /// How many of `tasks` have stopped.
    fn stopped_count(&self, tasks: &[TaskView]) -> usize {
        tasks
            .iter()
            .filter(|t| self.tasks_stopped(std::slice::from_ref(*t)))
            .count()
    }

    /// Removes the stack's networks, secrets and configs, all at once. A
    /// network whose last endpoints are still being released, or an object
    /// a stopping task still holds, is retried until the deadline. Returns
    /// what was removed, what failed, and whether a removal failed for a
    /// broken connection.
    async fn remove_objects(&self) -> Result<(Vec<String>, Vec<String>, bool), ApiError> {
        let mut pending: Vec<(Option<FileKind>, ListedObject)> = Vec::new();
        for network in objects::list_networks(self.engine, self.stack).await? {
            pending.push((None, network));
        }
        for kind in [FileKind::Secret, FileKind::Config] {
            for object in objects::list_files(self.engine, self.stack, kind).await? {
                pending.push((Some(kind), object));
            }
        }
        let deadline = Instant::now() + self.timeout;
        let results = join_all(
            pending
                .iter()
                .map(|(kind, object)| self.remove_object(*kind, object, deadline)),
        )
        .await;
        let (mut removed, mut failed, mut lost) = (Vec::new(), Vec::new(), false);
        for result in results {
            match result {
                Ok(subject) => removed.push(subject),
                Err(e) => {
                    lost |= e.is_lost();
                    failed.push(e.to_string());
                }
            }
        }
        if !lost {
            failed.extend(self.wait_networks_unlisted(deadline).await?);
        }
        Ok((removed, failed, lost))
    }

    /// Waits until no network of the stack is listed: a removed overlay
    /// network stays on this node until its last local endpoint is released.
    async fn wait_networks_unlisted(&self, deadline: Instant) -> Result<Vec<String>, ApiError> {
        loop {
            let listed = objects::list_networks(self.engine, self.stack).await?;
            if listed.is_empty() {
                return Ok(Vec::new());
            }
            if !self.waiter.pause(deadline).await {
                return Ok(listed
                    .iter()
                    .map(|n| format!("network {}: still present on this node", n.name))
                    .collect());
            }
        }
    }

    /// Removes one network, secret or config, retrying on each engine event
    /// or tick until `deadline`; returns its subject (`network NAME`).
    async fn remove_object(
        &self,
        kind: Option<FileKind>,
        object: &ListedObject,
        deadline: Instant,
    ) -> Result<String, ApiError> {
        let subject = format!("{} {}", kind.map_or("network", FileKind::word), object.name);
        loop {
            let result = match kind {
                None => objects::remove_network(self.engine, object).await,
                Some(kind) => objects::remove_file(self.engine, object, kind).await,
            };
            match result {
                Ok(()) => {
                    self.reporter.progress(&subject, Phase::Removed, None);
                    return Ok(subject);
                }
                Err(e) if e.is_lost() => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "retrying");
                    if !self.waiter.pause(deadline).await {
                        return Err(e);
                    }
                }
            }
        }
    }
}
