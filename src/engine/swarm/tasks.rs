//! A service's tasks and the rollout gate: has a service converged (every
//! desired task of its current spec running — in Swarm a task turns
//! `running` only once its container is healthy), failed (a task of the
//! current spec failed, was rejected, finds no suitable node, or its image is
//! missing on its node), or is it still on its way? [`Waiter`] re-reads the
//! tasks whenever the engine reports a change of the stack's containers or
//! services, and on a short tick for tasks on other nodes (whose container
//! events this engine does not see), until a verdict or the deadline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::models::Task;
use bollard::query_parameters::{EventsOptions, ListTasksOptions, LogsOptions};
use futures::StreamExt;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{enum_text, NAMESPACE_LABEL, SPEC_HASH_LABEL};
use crate::engine::error::ApiError;
use crate::engine::Engine;

/// How often tasks are re-read when no event came (tasks on other nodes,
/// and the manager's task state lagging its node's container event).
pub const TICK: Duration = Duration::from_millis(50);

/// The engine events that can change a task's state: a container created,
/// started, stopped, removed or judged by its healthcheck; a service
/// created, updated or removed. Healthchecks' execs (several per container
/// and interval) are left out: waking on them only loads the engine.
const TASK_EVENTS: &[&str] = &[
    "create",
    "start",
    "die",
    "destroy",
    "health_status",
    "update",
    "remove",
];

/// A running task's container health, as this node can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskHealth {
    Healthy,
    /// Starting or unhealthy (or gone since it was listed).
    NotHealthy,
    /// Its container has no healthcheck.
    NoCheck,
    /// It runs on another node: not inspectable from here. Swarm reports a
    /// task with a healthcheck running only once its container passed it
    /// (and replaces one that fails it later), so it counts as healthy.
    Elsewhere,
}

/// One task, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub id: String,
    pub service_id: String,
    pub slot: Option<i64>,
    pub node_id: String,
    /// `new`, `pending`, …, `running`, `complete`, `failed`, `rejected`, `shutdown`.
    pub state: String,
    pub desired_state: String,
    pub message: String,
    pub error: String,
    /// The spec hash its container carries.
    pub hash: Option<String>,
    /// When the task reached its current state.
    /// RFC 3339 (bollard's date type depends on its features; the text
    /// form is the same either way).
    pub since: Option<String>,
    pub container_id: Option<String>,
    pub exit_code: Option<i64>,
    pub image: String,
}

impl TaskView {
    fn from_api(task: Task) -> TaskView {
        let status = task.status.unwrap_or_default();
        let container = task.spec.and_then(|s| s.container_spec).unwrap_or_default();
        let container_status = status.container_status.unwrap_or_default();
        TaskView {
            id: task.id.unwrap_or_default(),
            service_id: task.service_id.unwrap_or_default(),
            slot: task.slot,
            node_id: task.node_id.unwrap_or_default(),
            state: status.state.map(|s| enum_text(&s)).unwrap_or_default(),
            desired_state: task
                .desired_state
                .map(|s| enum_text(&s))
                .unwrap_or_default(),
            message: status.message.unwrap_or_default(),
            error: status.err.unwrap_or_default(),
            hash: container
                .labels
                .as_ref()
                .and_then(|l| l.get(SPEC_HASH_LABEL))
                .cloned(),
            since: status
                .timestamp
                .and_then(|ts| serde_json::to_value(ts).ok())
                .and_then(|v| v.as_str().map(str::to_string)),
            container_id: container_status.container_id,
            exit_code: container_status.exit_code,
            image: container.image.unwrap_or_default(),
        }
    }

    /// Whether the task is meant to run (not an old one being shut down).
    pub fn wanted(&self) -> bool {
        self.desired_state == "running" || self.desired_state == "ready"
    }

    pub fn is_running(&self) -> bool {
        self.state == "running"
    }

    /// The health of the running task's container, as this node can tell
    /// (see [`TaskHealth`]).
    pub async fn health(&self, engine: &Engine, local_node: &str) -> Result<TaskHealth, ApiError> {
        let container = match self.container_id.as_deref() {
            Some(container) if self.node_id == local_node => container,
            _ => return Ok(TaskHealth::Elsewhere),
        };
        let op = format!("inspect container {container} of task {}", self.id);
        let inspect = engine.docker().inspect_container(container, None);
        let status = match engine.request(op, inspect).await {
            Ok(response) => response
                .state
                .and_then(|state| state.health)
                .and_then(|health| health.status),
            Err(err) if err.is_not_found() => return Ok(TaskHealth::NotHealthy),
            Err(err) => return Err(err),
        };
        use bollard::models::HealthStatusEnum as Status;
        Ok(match status {
            None | Some(Status::EMPTY) | Some(Status::NONE) => TaskHealth::NoCheck,
            Some(Status::HEALTHY) => TaskHealth::Healthy,
            Some(_) => TaskHealth::NotHealthy,
        })
    }

    /// What went wrong with this task, if it failed.
    pub fn failure(&self) -> Option<String> {
        let missing_image = [
            "No such image",
            "pull access denied",
            "repository does not exist",
        ]
        .iter()
        .any(|s| self.error.contains(s));
        if missing_image {
            return Some(format!(
                "image {} is missing on node {} ({}): with several nodes, push the image to a \
                 registry every node can reach",
                self.image,
                short(&self.node_id),
                self.error
            ));
        }
        match self.state.as_str() {
            "failed" | "rejected" => Some(self.reason()),
            // A service task ends only when told to: one that completed on
            // its own exited (or was stopped for failing its healthcheck).
            "complete" => Some(format!(
                "the task's container exited with code {} (or was stopped as unhealthy)",
                self.exit_code.unwrap_or(0)
            )),
            "pending" if self.unschedulable() => Some(self.reason()),
            _ => None,
        }
    }

    /// Whether the scheduler found no node for it (the task stays `pending`
    /// with that reason until a node changes; Swarm never gives up on it).
    /// A replicated service's task says `no suitable node (REASON on N
    /// nodes)`; a global service's, bound to its node beforehand, the
    /// scheduler's reason alone (`host-mode port already in use on 1 node`).
    pub fn unschedulable(&self) -> bool {
        self.state == "pending"
            && (self.error.contains("no suitable node") || names_nodes_it_failed(&self.error))
    }

    /// Whether the scheduler's reason names a place that another task of
    /// the same service holds and gives back when it stops: its resource
    /// reservations, its host-mode port, its slot under
    /// `max_replicas_per_node`. A node's labels, role or platform
    /// (`scheduling constraints not satisfied`) no task frees.
    fn may_fit_after_a_stop(&self) -> bool {
        FREED_BY_A_STOP.iter().any(|f| self.error.contains(f))
    }

    /// The engine's words for the task's state.
    pub fn reason(&self) -> String {
        let mut reason = if self.error.is_empty() {
            self.message.clone()
        } else {
            self.error.clone()
        };
        if let Some(code) = self.exit_code.filter(|c| *c != 0) {
            if !reason.contains("exit code") {
                reason.push_str(&format!(" (exit code {code})"));
            }
        }
        reason
    }
}

/// Whether `error` is the scheduler's explanation of the nodes a task did
/// not fit (`… on 1 node`, `… on 3 nodes`, as its filters word it).
fn names_nodes_it_failed(error: &str) -> bool {
    let Some((_, count)) = error.rsplit_once(" on ") else {
        return false;
    };
    let digits = count
        .strip_suffix(" nodes")
        .or_else(|| count.strip_suffix(" node"))
        .unwrap_or("");
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// The scheduler's reasons (its filters' explanations) that a stopping
/// task of the same service can lift.
const FREED_BY_A_STOP: &[&str] = &[
    "insufficient resources",
    "host-mode port",
    "max replicas per node",
];

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// A service's tasks (all of them, old ones included). A removed service's
/// tasks linger until their containers are gone; the engine no longer takes
/// its id as a filter then, so they are picked from the whole list.
pub async fn list_tasks(engine: &Engine, service_id: &str) -> Result<Vec<TaskView>, ApiError> {
    let filters = HashMap::from([("service".to_string(), vec![service_id.to_string()])]);
    match query_tasks(engine, Some(filters), service_id).await {
        Err(e) if e.is_not_found() => query_tasks(engine, None, service_id).await,
        other => other,
    }
}

async fn query_tasks(
    engine: &Engine,
    filters: Option<HashMap<String, Vec<String>>>,
    service_id: &str,
) -> Result<Vec<TaskView>, ApiError> {
    let tasks = engine
        .request(
            format!("list tasks of service {service_id}"),
            engine
                .docker()
                .list_tasks(Some(ListTasksOptions { filters })),
        )
        .await?;
    Ok(tasks
        .into_iter()
        .filter(|t| t.service_id.as_deref() == Some(service_id))
        .map(TaskView::from_api)
        .collect())
}

/// Every task of a stack, picked by its namespace label (tasks carry their
/// service's labels), those of removed services included until the engine
/// deletes them.
pub async fn list_stack_tasks(engine: &Engine, stack: &str) -> Result<Vec<TaskView>, ApiError> {
    let tasks = engine
        .request(
            format!("list tasks of stack {stack}"),
            engine.docker().list_tasks(Some(ListTasksOptions {
                filters: Some(super::stack_filter(stack)),
            })),
        )
        .await?;
    Ok(tasks.into_iter().map(TaskView::from_api).collect())
}

/// Where a service stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every desired task of the current spec runs (healthy, when it has a check).
    Converged,
    /// Still on the way: `running` of `desired` tasks run; `waiting_on`:
    /// the scheduler's reason for a task it has not placed yet, during an
    /// update (see [`verdict`]).
    Pending {
        running: u64,
        desired: u64,
        waiting_on: Option<String>,
    },
    /// A task of the current spec failed.
    Failed { task: Box<TaskView>, reason: String },
}

/// Judges `tasks` of a service whose current spec has `hash` and wants
/// `desired` tasks.
pub fn verdict(tasks: &[TaskView], hash: &str, desired: u64) -> Verdict {
    let current: Vec<&TaskView> = tasks
        .iter()
        .filter(|t| t.hash.as_deref() == Some(hash))
        .collect();
    let old_running = tasks
        .iter()
        .any(|t| t.hash.as_deref() != Some(hash) && t.is_running());
    // A task the scheduler cannot place fails the service at once: the
    // reason is known and stays until a node changes. During an update,
    // though, a task of the previous spec may hold the place the new one
    // needs until it stops — and the engine keeps the scheduler's earlier
    // reason on the task until the scheduler tries again — so such a reason
    // is not a verdict then: it is waited on, and named if the wait times out.
    let updating = tasks.iter().any(|t| t.hash.as_deref() != Some(hash));
    let deferred = |t: &TaskView| updating && t.unschedulable() && t.may_fit_after_a_stop();
    let latest_failure = current
        .iter()
        .filter(|t| !deferred(t))
        .filter_map(|t| t.failure().map(|r| (*t, r)))
        .max_by_key(|(t, _)| t.since.clone());
    if let Some((task, reason)) = latest_failure {
        return Verdict::Failed {
            task: Box::new(task.clone()),
            reason,
        };
    }
    let running = current
        .iter()
        .filter(|t| t.wanted() && t.is_running())
        .count() as u64;
    if running >= desired && !old_running {
        Verdict::Converged
    } else {
        let waiting_on = current.iter().find(|t| deferred(t)).map(|t| t.reason());
        Verdict::Pending {
            running,
            desired,
            waiting_on,
        }
    }
}

/// Whether every task has stopped: it reached a terminal state, or it runs
/// on `local_node` and its container is one of `stopped_here` (container
/// ids this engine has seen stopped). The manager learns of a stop from the
/// task's node with a delay; for this node's tasks the engine's own
/// containers answer at once. A task still being prepared here, without a
/// container, has not stopped.
pub fn all_stopped(tasks: &[TaskView], local_node: &str, stopped_here: &HashSet<String>) -> bool {
    const TERMINAL: &[&str] = &[
        "complete", "shutdown", "failed", "rejected", "remove", "orphaned",
    ];
    tasks.iter().all(|t| {
        TERMINAL.contains(&t.state.as_str())
            || (t.node_id == local_node
                && t.container_id
                    .as_ref()
                    .is_some_and(|id| stopped_here.contains(id)))
    })
}

/// Wakes waiters when the engine reports a change to the stack's containers
/// or services; waiters also re-check on [`TICK`].
#[derive(Clone)]
pub struct Waiter {
    notify: Arc<Notify>,
    _events: Arc<EventTask>,
}

struct EventTask(tokio::task::JoinHandle<()>);

impl Drop for EventTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Waiter {
    /// Starts watching the engine's events for `stack`.
    pub fn watch(engine: &Engine, stack: &str) -> Waiter {
        let notify = Arc::new(Notify::new());
        let filters = HashMap::from([
            (
                "type".to_string(),
                vec!["container".into(), "service".into()],
            ),
            (
                "label".to_string(),
                vec![format!("{NAMESPACE_LABEL}={stack}")],
            ),
            (
                "event".to_string(),
                TASK_EVENTS.iter().map(|e| e.to_string()).collect(),
            ),
        ]);
        let options = EventsOptions {
            filters: Some(filters),
            ..EventsOptions::default()
        };
        let mut events = engine.docker().events(Some(options));
        let wake = notify.clone();
        let handle = tokio::spawn(async move {
            while let Some(Ok(_)) = events.next().await {
                wake.notify_waiters();
            }
        });
        Waiter {
            notify,
            _events: Arc::new(EventTask(handle)),
        }
    }

    /// Returns on the next event or after [`TICK`].
    pub async fn next(&self) {
        let _ = tokio::time::timeout(TICK, self.notify.notified()).await;
    }

    /// Waits for the next event or tick; `false` once `deadline` has passed
    /// (the caller re-checks after each `true`).
    pub async fn pause(&self, deadline: Instant) -> bool {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::select! {
            _ = self.next() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
        true
    }
}

/// The last `lines` lines a task logged (best effort: empty when the engine
/// cannot send them). A task that never got a container (not scheduled,
/// its image missing) logged nothing: the engine is not asked, since it
/// would answer with an error inside the log stream.
pub async fn task_log_tail(engine: &Engine, task: &TaskView, lines: u64) -> Vec<String> {
    if task.container_id.is_none() {
        return Vec::new();
    }
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: lines.to_string(),
        ..LogsOptions::default()
    };
    let stream = engine.docker().task_logs(&task.id, Some(options));
    let collect = stream
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(|r| async move { r.ok() })
        .collect::<Vec<LogOutput>>();
    let Ok(outputs) = tokio::time::timeout(Duration::from_secs(5), collect).await else {
        return Vec::new();
    };
    let text: String = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(o.as_ref()).into_owned())
        .collect();
    text.lines().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(hash: &str, state: &str, desired: &str) -> TaskView {
        TaskView {
            id: format!("t-{hash}-{state}"),
            service_id: "s1".into(),
            slot: Some(1),
            node_id: "node1".into(),
            state: state.into(),
            desired_state: desired.into(),
            message: String::new(),
            error: String::new(),
            hash: Some(hash.into()),
            since: None,
            container_id: None,
            exit_code: None,
            image: "img".into(),
        }
    }

    #[test]
    fn converged_once_every_desired_task_of_the_spec_runs() {
        let tasks = vec![
            task("a", "running", "running"),
            task("a", "starting", "running"),
        ];
        assert_eq!(
            verdict(&tasks, "a", 2),
            Verdict::Pending {
                running: 1,
                desired: 2,
                waiting_on: None
            }
        );
        let tasks = vec![
            task("a", "running", "running"),
            task("a", "running", "running"),
        ];
        assert_eq!(verdict(&tasks, "a", 2), Verdict::Converged);
    }

    #[test]
    fn an_old_task_still_running_keeps_an_update_pending() {
        let tasks = vec![
            task("new", "running", "running"),
            task("old", "running", "shutdown"),
        ];
        assert!(matches!(verdict(&tasks, "new", 1), Verdict::Pending { .. }));
    }

    #[test]
    fn a_failed_task_of_the_current_spec_fails_the_service() {
        let mut failed = task("a", "failed", "shutdown");
        failed.error = "task: non-zero exit (3)".into();
        let old_failure = task("old", "failed", "shutdown");
        let tasks = vec![failed, old_failure, task("a", "starting", "running")];
        match verdict(&tasks, "a", 1) {
            Verdict::Failed { reason, .. } => assert!(reason.contains("non-zero exit"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_local_task_counts_as_stopped_once_its_container_stopped() {
        let mut here = task("a", "running", "remove");
        here.container_id = Some("c1".into());
        let mut elsewhere = task("a", "running", "remove");
        elsewhere.node_id = "node2".into();
        elsewhere.container_id = Some("c2".into());
        let none = HashSet::new();
        let c1 = HashSet::from(["c1".to_string()]);
        assert!(!all_stopped(&[here.clone()], "node1", &none));
        assert!(all_stopped(&[here.clone()], "node1", &c1));
        assert!(!all_stopped(&[here, elsewhere.clone()], "node1", &c1));
        elsewhere.state = "shutdown".into();
        assert!(all_stopped(&[elsewhere], "node1", &none));
        let preparing = task("a", "preparing", "remove");
        assert!(!all_stopped(&[preparing], "node1", &c1));
    }

    #[test]
    fn a_missing_image_says_a_registry_is_needed() {
        let mut rejected = task("a", "rejected", "shutdown");
        rejected.error = "No such image: torq/x:latest".into();
        let reason = rejected.failure().unwrap();
        assert!(reason.contains("registry"), "{reason}");
        let mut pending = task("a", "pending", "running");
        pending.error = "no suitable node (scheduling constraints not satisfied on 1 node)".into();
        assert!(pending.failure().unwrap().contains("no suitable node"));
    }

    #[test]
    fn a_task_no_node_can_take_fails_the_service_at_once() {
        let mut pending = task("new", "pending", "running");
        pending.message = "pending task scheduling".into();
        pending.error = "no suitable node (scheduling constraints not satisfied on 1 node)".into();
        let old = task("old", "running", "shutdown");
        match verdict(&[pending.clone(), old.clone()], "new", 1) {
            Verdict::Failed { reason, .. } => {
                assert!(reason.contains("scheduling constraints"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        // Short of resources during an update: the old task may still hold
        // them (or the reason may predate its stop): waited on, and named.
        pending.error = "no suitable node (insufficient resources on 1 node)".into();
        let stopped = task("old", "shutdown", "shutdown");
        match verdict(&[pending.clone(), stopped], "new", 1) {
            Verdict::Pending { waiting_on, .. } => {
                assert!(waiting_on.unwrap().contains("insufficient resources"))
            }
            other => panic!("{other:?}"),
        }
        // A new service: nothing of its own to give them back: failed.
        assert!(matches!(
            verdict(&[pending], "new", 1),
            Verdict::Failed { .. }
        ));
    }

    #[test]
    fn a_global_services_task_its_node_cannot_take_fails_the_service_at_once() {
        // A global service's task is bound to its node before scheduling:
        // the scheduler's reason comes without "no suitable node".
        let mut pending = task("new", "pending", "running");
        pending.error = "host-mode port already in use on 1 node".into();
        match verdict(&[pending.clone()], "new", 1) {
            Verdict::Failed { reason, .. } => {
                assert!(reason.contains("host-mode port"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        pending.error = "insufficient resources on 2 nodes".into();
        assert!(pending.unschedulable());
        // Other pending tasks are still on their way.
        pending.error = String::new();
        pending.message = "pending task scheduling".into();
        assert!(!pending.unschedulable());
        pending.error = "no route on node7".into();
        assert!(!pending.unschedulable());
    }
}
