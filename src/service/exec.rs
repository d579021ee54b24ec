//! `exec`: a command in a service's running container (replica `--index`),
//! with its stdio attached as `run` attaches a one-off container's, and the
//! command's exit code as the outcome. A service without a running
//! container is an error that says how to start it.

use anyhow::Context as _;

use super::stdio::{self, StdioMode};
use crate::compose::model::Project;
use crate::engine::attach::{self, ExecSpec, TtyOwner};
use crate::engine::state::{observe, ObservedContainer, RunState};
use crate::engine::Engine;

/// What `exec` is asked to do.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecRequest {
    pub service: String,
    /// The replica (`container-number`); default the first running one.
    pub index: Option<u32>,
    pub command: Vec<String>,
    pub detach: bool,
    pub tty: bool,
    /// Forward torq's stdin.
    pub interactive: bool,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `KEY=VALUE`, or `KEY` to take the value from torq's environment.
    pub env: Vec<String>,
    pub privileged: bool,
}

/// What came of an `exec`.
#[derive(Debug)]
pub(crate) enum ExecOutcome {
    /// `-d`: the command runs in the background.
    Detached { container: String },
    /// The command ended with this exit code.
    Exited { code: i64 },
}

/// Runs `request.command` in the service's running container.
pub(crate) async fn exec(
    engine: &Engine,
    project: &Project,
    request: &ExecRequest,
) -> anyhow::Result<ExecOutcome> {
    super::select_services(project, std::slice::from_ref(&request.service), true)?;
    let container = target_container(engine, &project.name, request).await?;
    let spec = ExecSpec {
        cmd: request.command.clone(),
        env: resolve_env(&request.env),
        user: request.user.clone(),
        working_dir: request.workdir.clone(),
        privileged: request.privileged,
        tty: request.tty,
        stdin: request.interactive && !request.detach,
    };
    let exec_id = attach::create_exec(engine, &container.id, &spec).await?;
    let session = attach::start_exec(engine, &exec_id, request.tty, request.detach).await?;
    let Some(session) = session else {
        return Ok(ExecOutcome::Detached {
            container: container.name,
        });
    };
    let mode = StdioMode {
        tty: request.tty.then(|| TtyOwner::Exec(exec_id.clone())),
        stdin: spec.stdin,
    };
    stdio::stream(engine, session, mode)
        .await
        .context("streaming the command's output")?;
    Ok(ExecOutcome::Exited {
        code: attach::wait_exec_exit(engine, &exec_id).await?,
    })
}

/// The running container of the service that `exec` targets.
async fn target_container(
    engine: &Engine,
    project: &str,
    request: &ExecRequest,
) -> anyhow::Result<ObservedContainer> {
    let state = observe(engine, project).await?;
    let service = &request.service;
    let mut replicas: Vec<&ObservedContainer> = state.service_containers(service).collect();
    replicas.sort_by_key(|c| c.number);
    let chosen = match request.index {
        Some(index) => replicas
            .iter()
            .find(|c| c.number == index)
            .copied()
            .with_context(|| {
                let numbers: Vec<String> = replicas.iter().map(|c| c.number.to_string()).collect();
                format!(
                    "service {service} has no container with index {index} (indexes: {})",
                    if numbers.is_empty() {
                        "none".to_string()
                    } else {
                        numbers.join(", ")
                    }
                )
            })?,
        None => replicas
            .iter()
            .find(|c| c.state == RunState::Running)
            .or(replicas.first())
            .copied()
            .with_context(|| not_running(service))?,
    };
    match chosen.state {
        RunState::Running => Ok(chosen.clone()),
        RunState::Paused => anyhow::bail!(
            "container {} of service {service} is paused: `torq unpause {service}` first",
            chosen.name
        ),
        _ => anyhow::bail!(
            "{} (container {} is {})",
            not_running(service),
            chosen.name,
            chosen.state.as_str()
        ),
    }
}

fn not_running(service: &str) -> String {
    format!("service {service} is not running: start it with `torq up {service}`")
}

/// `KEY` alone takes torq's own value (dropped when unset), as compose does.
fn resolve_env(env: &[String]) -> Vec<String> {
    env.iter()
        .filter_map(|entry| match entry.split_once('=') {
            Some(_) => Some(entry.clone()),
            None => std::env::var(entry).ok().map(|v| format!("{entry}={v}")),
        })
        .collect()
}
