//! Status and logs of a deployed stack (`torq deploy status`, `torq deploy
//! logs`): per service its mode, replicas desired / running, the nodes its
//! tasks run on and the last task error; logs through the service-logs API,
//! as [`LogLine`]s with their engine timestamps, merged by time.

use std::collections::HashMap;

use bollard::query_parameters::{ListNodesOptions, LogsOptions};
use futures::{Stream, StreamExt};

use crate::compose::model::Project;
use crate::engine::error::ApiError;
use crate::engine::swarm::convert::scoped;
use crate::engine::swarm::objects::{self, StackService};
use crate::engine::swarm::swarm_node;
use crate::engine::swarm::tasks;
use crate::engine::Engine;
use crate::logs::line::{LineAssembler, LogLine, StreamKind};
use crate::logs::Tail;

/// One service of a deployed stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRow {
    /// The spec's name (`SERVICE`, not `STACK_SERVICE`).
    pub service: String,
    /// `replicated`, `global`, or `missing` (in the spec, not deployed).
    pub mode: String,
    pub desired: u64,
    pub running: u64,
    /// Hostnames of the nodes running its tasks.
    pub nodes: Vec<String>,
    /// The error of its most recent failed task, if any.
    pub last_error: Option<String>,
}

impl ServiceRow {
    /// Running as wanted: every desired task runs (and so is healthy).
    pub fn is_ok(&self) -> bool {
        self.mode != "missing" && self.running >= self.desired
    }
}

/// The rows of the stack's services, in spec order (services of the stack
/// the spec does not know at the end).
pub async fn stack_status(engine: &Engine, project: &Project) -> anyhow::Result<Vec<ServiceRow>> {
    swarm_node(engine).await?;
    let services = objects::list_services(engine, &project.name).await?;
    let nodes = node_names(engine).await?;
    let mut rows = Vec::new();
    for key in project.services.keys() {
        let name = scoped(&project.name, key);
        rows.push(match services.iter().find(|s| s.name == name) {
            Some(service) => row(engine, key, service, &nodes).await?,
            None => ServiceRow {
                service: key.clone(),
                mode: "missing".into(),
                desired: 0,
                running: 0,
                nodes: Vec::new(),
                last_error: None,
            },
        });
    }
    let prefix = format!("{}_", project.name);
    for service in &services {
        let key = service.name.strip_prefix(&prefix).unwrap_or(&service.name);
        if !project.services.contains_key(key) {
            rows.push(row(engine, key, service, &nodes).await?);
        }
    }
    Ok(rows)
}

async fn row(
    engine: &Engine,
    key: &str,
    service: &StackService,
    nodes: &HashMap<String, String>,
) -> Result<ServiceRow, ApiError> {
    let tasks = tasks::list_tasks(engine, &service.id).await?;
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
        nodes: running_on,
        last_error,
    })
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

/// The stack's services whose logs to read: `selected` (spec names), or all
/// deployed ones; with their source index and label.
pub async fn log_sources(
    engine: &Engine,
    project: &Project,
    selected: &[String],
) -> anyhow::Result<Vec<(String, StackService)>> {
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
            sources.push((key, service));
        }
    }
    if let Some(missing) = selected
        .iter()
        .find(|s| !sources.iter().any(|(key, _)| key == *s))
    {
        anyhow::bail!("no such service in stack {}: {missing}", project.name);
    }
    sources.sort_by_key(|(key, _)| project.services.get_index_of(key).unwrap_or(usize::MAX));
    Ok(sources)
}

/// A service's log lines (timestamped), from the engine's service-logs API.
pub fn service_log(
    engine: &Engine,
    source: usize,
    service_id: &str,
    tail: Tail,
    follow: bool,
) -> impl Stream<Item = LogLine> + 'static {
    let options = LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        timestamps: true,
        tail: match tail {
            Tail::All => "all".into(),
            Tail::Lines(n) => n.to_string(),
        },
        ..LogsOptions::default()
    };
    let frames = engine.docker().service_logs(service_id, Some(options));
    let mut assembler = LineAssembler::new(source);
    frames
        .take_while(|frame| std::future::ready(frame.is_ok()))
        .filter_map(|frame| std::future::ready(frame.ok()))
        .map(move |frame| {
            let stream = match frame {
                bollard::container::LogOutput::StdErr { .. } => StreamKind::Stderr,
                _ => StreamKind::Stdout,
            };
            let mut lines = Vec::new();
            assembler.push(stream, frame.into_bytes(), &mut lines);
            futures::stream::iter(lines)
        })
        .flatten()
}

/// Every selected service's last lines, merged by timestamp.
pub async fn merged_logs(
    engine: &Engine,
    sources: &[(String, StackService)],
    tail: Tail,
) -> Vec<LogLine> {
    let reads = sources.iter().enumerate().map(|(index, (_, service))| {
        service_log(engine, index, &service.id, tail, false).collect::<Vec<_>>()
    });
    let mut lines: Vec<LogLine> = futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect();
    lines.sort_by_key(|l| l.timestamp);
    lines
}
