//! Status and logs of a deployed stack (`torq deploy status`, `torq deploy
//! logs`): per service its mode, replicas desired / running, the nodes its
//! tasks run on and the last task error; logs through the service-logs API,
//! merged by time or followed through losses of the engine, formatted as
//! `torq logs` formats a project's.

use std::collections::HashMap;

use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use bollard::query_parameters::ListNodesOptions;

use super::follow::follow_until_interrupted;
use super::logs::LogsOutput;
use crate::compose::model::Project;
use crate::engine::error::ApiError;
use crate::engine::swarm::convert::scoped;
use crate::engine::swarm::logs::{read_stack, StackFollow, StackSource};
use crate::engine::swarm::objects::{self, StackService};
use crate::engine::swarm::swarm_node;
use crate::engine::swarm::tasks::{self, TaskHealth};
use crate::engine::Engine;
use crate::logs::{FormatOptions, LineFilter, Tail};
use crate::progress::Reporter;

/// One service of a deployed stack (a row of `deploy status`, and its JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceRow {
    /// The spec's name (`SERVICE`, not `STACK_SERVICE`).
    pub service: String,
    /// `replicated`, `global`, or `missing` (in the spec, not deployed).
    pub mode: String,
    pub desired: u64,
    pub running: u64,
    /// Running tasks whose container is healthy; `None` when the service has
    /// no healthcheck.
    pub healthy: Option<u64>,
    /// Hostnames of the nodes running its tasks.
    pub nodes: Vec<String>,
    /// The error of its most recent failed task, if any.
    pub last_error: Option<String>,
}

impl ServiceRow {
    /// Running as wanted: every desired task runs, and is healthy where
    /// the service has a healthcheck.
    pub fn is_ok(&self) -> bool {
        self.mode != "missing"
            && self.running >= self.desired
            && self.healthy.is_none_or(|healthy| healthy >= self.desired)
    }
}

/// The rows of the stack's services, in spec order (services of the stack
/// the spec does not know at the end).
pub async fn stack_status(engine: &Engine, project: &Project) -> anyhow::Result<Vec<ServiceRow>> {
    let here = swarm_node(engine).await?.node_id;
    let services = objects::list_services(engine, &project.name).await?;
    let nodes = node_names(engine).await?;
    let mut rows = Vec::new();
    for key in project.services.keys() {
        let name = scoped(&project.name, key);
        rows.push(match services.iter().find(|s| s.name == name) {
            Some(service) => {
                row(
                    engine,
                    key,
                    service,
                    &nodes,
                    &here,
                    has_healthcheck(project, key),
                )
                .await?
            }
            None => ServiceRow {
                service: key.clone(),
                mode: "missing".into(),
                desired: 0,
                running: 0,
                healthy: None,
                nodes: Vec::new(),
                last_error: None,
            },
        });
    }
    let prefix = format!("{}_", project.name);
    for service in &services {
        let key = service.name.strip_prefix(&prefix).unwrap_or(&service.name);
        if !project.services.contains_key(key) {
            rows.push(row(engine, key, service, &nodes, &here, false).await?);
        }
    }
    Ok(rows)
}

async fn row(
    engine: &Engine,
    key: &str,
    service: &StackService,
    nodes: &HashMap<String, String>,
    here: &str,
    spec_has_check: bool,
) -> Result<ServiceRow, ApiError> {
    let tasks = tasks::list_tasks(engine, &service.id).await?;
    let healthy = count_healthy(engine, &tasks, here, spec_has_check).await?;
    let mut running_on: Vec<String> = tasks
        .iter()
        .filter(|t| t.is_running())
        .map(|t| {
            nodes
                .get(&t.node_id)
                .cloned()
                .unwrap_or_else(|| t.node_id.clone())
        })
        .collect();
    running_on.sort();
    running_on.dedup();
    let last_error = tasks
        .iter()
        .filter(|t| t.failure().is_some())
        .max_by_key(|t| t.since.clone())
        .and_then(|t| t.failure());
    let global = service
        .spec
        .mode
        .as_ref()
        .is_some_and(|m| m.global.is_some());
    Ok(ServiceRow {
        service: key.to_string(),
        mode: if global { "global" } else { "replicated" }.into(),
        desired: service.desired_tasks,
        running: service.running_tasks,
        healthy,
        nodes: running_on,
        last_error,
    })
}

/// Whether the spec gives service `key` a healthcheck (not disabled).
fn has_healthcheck(project: &Project, key: &str) -> bool {
    project
        .services
        .get(key)
        .and_then(|service| service.healthcheck.as_ref())
        .is_some_and(|check| !check.disable && check.test.first().is_none_or(|t| t != "NONE"))
}

/// The running tasks whose container is healthy, or `None` when the
/// service has no healthcheck (neither in the spec nor, as far as this node
/// sees, in its image).
async fn count_healthy(
    engine: &Engine,
    tasks: &[tasks::TaskView],
    here: &str,
    spec_has_check: bool,
) -> Result<Option<u64>, ApiError> {
    let checks = tasks
        .iter()
        .filter(|task| task.is_running())
        .map(|task| task.health(engine, here));
    let mut healths = Vec::new();
    for health in futures::future::join_all(checks).await {
        healths.push(health?);
    }
    let checked = spec_has_check
        || healths
            .iter()
            .any(|h| matches!(h, TaskHealth::Healthy | TaskHealth::NotHealthy));
    let healthy = healths
        .iter()
        .filter(|h| matches!(h, TaskHealth::Healthy | TaskHealth::Elsewhere))
        .count();
    Ok(checked.then_some(healthy as u64))
}

/// Node id → hostname.
async fn node_names(engine: &Engine) -> Result<HashMap<String, String>, ApiError> {
    let nodes = engine
        .request(
            "list swarm nodes",
            engine.docker().list_nodes(None::<ListNodesOptions>),
        )
        .await?;
    Ok(nodes
        .into_iter()
        .map(|n| {
            let host = n.description.and_then(|d| d.hostname).unwrap_or_default();
            (n.id.unwrap_or_default(), host)
        })
        .collect())
}

/// What `torq deploy logs` shows.
#[derive(Debug, Clone)]
pub(crate) struct StackLogsQuery {
    /// Services to show (spec names; empty: all of the stack).
    pub services: Vec<String>,
    pub follow: bool,
    pub tail: Tail,
    pub format: FormatOptions,
    /// With `follow`: how long to wait for a lost engine to come back.
    pub reconnect_timeout: Duration,
}

/// Runs `torq deploy logs`: the stack's services' logs, merged by time,
/// through `output` — or followed until Ctrl-C, through losses of the
/// engine. A closed output is a quiet end; a lost engine is the one engine
/// error.
pub(crate) async fn stack_logs<W: Write>(
    project: &Project,
    query: &StackLogsQuery,
    output: LogsOutput<W>,
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    let engine = super::connect().await?;
    let sources = log_sources(&engine, project, &query.services).await?;
    let width = sources
        .iter()
        .map(|s| s.service.chars().count())
        .max()
        .unwrap_or(0);
    let filter = LineFilter::default();
    let mut printer = super::logs::printer(Some(project), query.format, width, filter, output.out)
        .paced_by(output.room);
    if query.follow {
        let mut follow = StackFollow::new(sources, query.tail);
        return follow_until_interrupted(
            &engine,
            &mut follow,
            &mut printer,
            query.reconnect_timeout,
            reporter,
        )
        .await;
    }
    match read_stack(&engine, &sources, query.tail, &mut printer).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) if super::engine_gone(&engine, err.is_lost()).await => Err(engine.lost()),
        Ok(Err(err)) => Err(err.into()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(err).context("cannot write the log lines"),
    }
}

/// The stack's services whose logs to read: `selected` (spec names), or all
/// deployed ones, in spec order.
async fn log_sources(
    engine: &Engine,
    project: &Project,
    selected: &[String],
) -> anyhow::Result<Vec<StackSource>> {
    swarm_node(engine).await?;
    let services = objects::list_services(engine, &project.name).await?;
    let prefix = format!("{}_", project.name);
    let mut sources = Vec::new();
    for service in services {
        let key = service
            .name
            .strip_prefix(&prefix)
            .unwrap_or(&service.name)
            .to_string();
        if selected.is_empty() || selected.contains(&key) {
            sources.push(StackSource {
                service: key,
                id: service.id,
                name: service.name,
            });
        }
    }
    if let Some(missing) = selected
        .iter()
        .find(|s| !sources.iter().any(|source| source.service == **s))
    {
        anyhow::bail!("no such service in stack {}: {missing}", project.name);
    }
    sources.sort_by_key(|s| {
        project
            .services
            .get_index_of(&s.service)
            .unwrap_or(usize::MAX)
    });
    Ok(sources)
}
