//! `torq undeploy`: removes a stack in reverse dependency order — each
//! level's services removed, then waited for until their tasks stopped; at
//! the end, until the engine deleted every task —
//! and then the stack's networks, secrets and configs (those carrying its
//! namespace label, nothing else). Volumes stay, as with `docker stack rm`.
//! On this node, a removed service's containers are stopped by torq at once
//! (see [`stop_local_tasks`]).

use std::time::Duration;

use futures::future::join_all;
use tokio::time::Instant;

use crate::compose::graph::DependencyGraph;
use crate::compose::model::Project;
use crate::engine::error::ApiError;
use crate::engine::swarm::convert::scoped;
use crate::engine::swarm::objects::{self, FileKind, ListedObject, StackService};
use crate::engine::swarm::swarm_node;
use crate::engine::swarm::tasks::{self, Waiter};
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
    let waiter = Waiter::watch(engine, stack);
    let mut removed = Vec::new();
    for level in removal_levels(project, &services) {
        remove_level(
            engine,
            &waiter,
            &level,
            &local_node,
            timeout,
            reporter,
            &mut outcome,
        )
        .await?;
        removed.extend(level);
    }
    wait_tasks_gone(engine, &waiter, &removed, timeout, &mut outcome).await?;
    remove_objects(engine, stack, &waiter, timeout, reporter, &mut outcome).await?;
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

async fn remove_level(
    engine: &Engine,
    waiter: &Waiter,
    level: &[StackService],
    local_node: &str,
    timeout: Duration,
    reporter: &dyn Reporter,
    outcome: &mut UndeployOutcome,
) -> anyhow::Result<()> {
    let removals = join_all(level.iter().map(|service| async move {
        reporter.progress(&service.name, Phase::Removing, None);
        objects::remove_service(engine, service).await
    }))
    .await;
    for (service, result) in level.iter().zip(removals) {
        if let Err(e) = result {
            reporter.progress(&service.name, Phase::Failed, Some(e.message()));
            outcome.failures.push(e.to_string());
        }
    }
    join_all(
        level
            .iter()
            .map(|service| stop_local_tasks(engine, service)),
    )
    .await;
    let deadline = Instant::now() + timeout;
    let gone = join_all(level.iter().map(|service| async move {
        loop {
            let tasks = tasks::list_tasks(engine, &service.id).await?;
            let stack = namespace_of(service);
            let running_here: Vec<String> =
                objects::local_task_containers(engine, &stack, &service.id, false)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
            if tasks::all_stopped(&tasks, local_node, &running_here) {
                return Ok::<_, ApiError>((service, true));
            }
            if !waiter.pause(deadline).await {
                return Ok((service, false));
            }
        }
    }))
    .await;
    for result in gone {
        let (service, done) = result?;
        if done {
            reporter.progress(&service.name, Phase::Removed, None);
            outcome.services.push(service.name.clone());
        } else {
            let message = format!(
                "service {}: tasks still running after {}s",
                service.name,
                timeout.as_secs()
            );
            reporter.progress(&service.name, Phase::Failed, Some(message.clone()));
            outcome.failures.push(message);
        }
    }
    Ok(())
}

/// Stops a removed service's containers on this node at once (its stop
/// signal, then its grace period), as `down` stops containers: Swarm's agent
/// takes seconds to act on a removal (it first drains the service's load
/// balancer), and that delay would be paid once per level. Tasks on other
/// nodes are stopped by their agents. Best effort: Swarm finishes the job.
async fn stop_local_tasks(engine: &Engine, service: &StackService) {
    let stack = namespace_of(service);
    let Ok(containers) = objects::local_task_containers(engine, &stack, &service.id, false).await
    else {
        return;
    };
    let grace = objects::stop_grace(service);
    join_all(containers.iter().map(|(id, name)| async move {
        if let Err(e) = crate::engine::ops::stop_container(engine, id, name, Some(grace)).await {
            tracing::debug!(error = %e, "Swarm will stop it");
        }
    }))
    .await;
}

fn namespace_of(service: &StackService) -> String {
    service
        .spec
        .labels
        .as_ref()
        .and_then(|l| l.get(crate::engine::swarm::NAMESPACE_LABEL))
        .cloned()
        .unwrap_or_default()
}

/// Waits until the engine has deleted the removed services' tasks and, on
/// this node, their containers (then the networks are free).
async fn wait_tasks_gone(
    engine: &Engine,
    waiter: &Waiter,
    services: &[StackService],
    timeout: Duration,
    outcome: &mut UndeployOutcome,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    for service in services {
        loop {
            let stack = namespace_of(service);
            if tasks::list_tasks(engine, &service.id).await?.is_empty()
                && objects::local_task_containers(engine, &stack, &service.id, true)
                    .await?
                    .is_empty()
            {
                break;
            }
            if !waiter.pause(deadline).await {
                outcome.failures.push(format!(
                    "service {}: tasks still present after {}s",
                    service.name,
                    timeout.as_secs()
                ));
                break;
            }
        }
    }
    Ok(())
}

/// Removes the stack's networks, secrets and configs. A network whose last
/// endpoints are still being released, or an object a stopping task still
/// holds, is retried until the deadline.
async fn remove_objects(
    engine: &Engine,
    stack: &str,
    waiter: &Waiter,
    timeout: Duration,
    reporter: &dyn Reporter,
    outcome: &mut UndeployOutcome,
) -> anyhow::Result<()> {
    let mut pending: Vec<(Option<FileKind>, ListedObject)> = Vec::new();
    for network in objects::list_networks(engine, stack).await? {
        pending.push((None, network));
    }
    for kind in [FileKind::Secret, FileKind::Config] {
        for object in objects::list_files(engine, stack, kind).await? {
            pending.push((Some(kind), object));
        }
    }
    let deadline = Instant::now() + timeout;
    loop {
        let mut left = Vec::new();
        for (kind, object) in pending {
            let subject = format!("{} {}", kind.map_or("network", FileKind::word), object.name);
            let result = match kind {
                None => objects::remove_network(engine, &object).await,
                Some(kind) => objects::remove_file(engine, &object, kind).await,
            };
            match result {
                Ok(()) => {
                    reporter.progress(&subject, Phase::Removed, None);
                    outcome.objects.push(subject);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "retrying");
                    left.push((kind, object, e));
                }
            }
        }
        if left.is_empty() {
            break;
        }
        if !waiter.pause(deadline).await {
            outcome
                .failures
                .extend(left.into_iter().map(|(_, _, e)| e.to_string()));
            break;
        }
        pending = left.into_iter().map(|(k, o, _)| (k, o)).collect();
    }
    Ok(())
}
