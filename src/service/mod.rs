//! The service layer: the work of each command, one module per verb, as
//! library calls. A verb connects to the engine, takes the project lock where
//! it changes things, calls `plan` and `engine`, reports progress through a
//! [`Reporter`], and returns an outcome for the CLI to render. Nothing here
//! writes to the terminal; what a command prints and its exit code are the
//! CLI's.
//!
//! - [`up`], [`down`], [`restart`]: converge, take down, both;
//! - [`attach`]: `up --attach` — logs in the foreground, a signal or an exit
//!   ends it with a `down`;
//! - [`build`]: build images;
//! - [`status`]: what runs, how healthy, what went wrong lately;
//! - [`logs`]: read or follow the services' logs into a writer;
//! - [`run`], [`exec`]: a one-off container, a command in a running one,
//!   their stdio streamed through [`stdio`];
//! - [`watch`]: `develop.watch`: sync, restart or rebuild on edits;
//! - [`ls`], [`kill`], [`pause`], [`top`], [`port`], [`images`], [`pull`],
//!   [`wait`], [`events`]: the everyday commands around a running project,
//!   most of them on the containers [`targets`] selects.
//! - [`deploy`], [`undeploy`], [`deployed`]: the project as a Docker Swarm
//!   stack — ordered rollout, removal, and its status and logs.
//!
//! Shared here: the project lock, the selection of services, and the
//! failures a summary lists.

pub(crate) mod attach;
pub(crate) mod build;
pub(crate) mod deploy;
pub(crate) mod deployed;
pub(crate) mod down;
pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod follow;
pub(crate) mod images;
pub(crate) mod kill;
pub(crate) mod logs;
pub(crate) mod ls;
pub(crate) mod pause;
pub(crate) mod port;
pub(crate) mod pull;
pub(crate) mod restart;
pub(crate) mod run;
pub(crate) mod status;
pub(crate) mod stdio;
pub(crate) mod targets;
pub(crate) mod top;
pub(crate) mod undeploy;
pub(crate) mod up;
pub(crate) mod wait;
pub(crate) mod watch;

use anyhow::Context as _;
use futures::future::join_all;

use crate::compose::graph::DependencyGraph;
use crate::compose::model::Project;
use crate::compose::select::check_services;
use crate::engine::lock::{lock_project, ProjectLock};
use crate::engine::{ops, Engine};
use crate::plan::exec::Failure;
use crate::progress::{Event, Reporter};

/// Log lines shown under a failed service in the summary.
pub(crate) const FAILURE_LOG_LINES: usize = 10;

/// A failure for the final summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailureSummary {
    pub subject: String,
    pub reason: String,
    /// The failed container's last log lines.
    pub last_logs: Vec<String>,
}

/// The error a command ends with, said as a user needs it: a request that
/// lost its connection to the engine, wherever in the chain, becomes the
/// one message naming the engine ("lost the connection to the Docker
/// engine at …"), instead of the operation on one object that happened to
/// notice first.
pub(crate) fn as_engine_gone(err: anyhow::Error) -> anyhow::Error {
    use crate::engine::error::EngineGone;
    let said = err
        .chain()
        .any(|c| c.downcast_ref::<EngineGone>().is_some());
    if !said && is_lost_error(&err) {
        EngineGone::Lost {
            host: crate::engine::configured_host(),
        }
        .into()
    } else {
        err
    }
}

/// Whether an error comes from a request that lost its connection to the
/// engine (wherever in the chain), or is already the engine-gone error.
pub(crate) fn is_lost_error(err: &anyhow::Error) -> bool {
    use crate::engine::error::{ApiError, EngineGone};
    err.chain().any(|cause| {
        cause.downcast_ref::<EngineGone>().is_some()
            || cause
                .downcast_ref::<ApiError>()
                .is_some_and(ApiError::is_lost)
    })
}

/// How long the engine may take to answer the ping that confirms it is
/// gone: generous, as a loaded engine is not a lost one.
const GONE_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a run's failures come from losing the engine: one of them was a
/// broken connection (`lost`), and the engine no longer answers a ping.
pub(crate) async fn engine_gone(engine: &Engine, lost: bool) -> bool {
    lost && !engine.answers_within(GONE_CHECK).await
}

/// Connects to the engine (version negotiated).
pub(crate) async fn connect() -> anyhow::Result<Engine> {
    Ok(Engine::connect().await?)
}

/// Takes the project lock, telling the user when another torq holds it.
pub(crate) async fn acquire_lock(
    engine: &Engine,
    project: &str,
    reporter: &dyn Reporter,
) -> anyhow::Result<ProjectLock> {
    acquire_lock_noting(engine, project, reporter, || {}).await
}

/// [`acquire_lock`], calling `on_wait` too when another torq holds the lock.
pub(crate) async fn acquire_lock_noting(
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

/// The services a command works on: the selection (named services must
/// exist) plus, unless `no_deps`, their dependencies; in spec order when
/// `no_deps`, else in start order.
pub(crate) fn select_services(
    project: &Project,
    requested: &[String],
    no_deps: bool,
) -> anyhow::Result<Vec<String>> {
    check_services(project, requested)?;
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

/// Adds each failed container's last log lines.
pub(crate) async fn with_last_logs(engine: &Engine, failures: Vec<Failure>) -> Vec<FailureSummary> {
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

/// How long a convergence started by `run` or `watch` waits for health.
const WAIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// An `up` of `services` as `run` (their dependencies) and `watch` (the
/// watched services, a rebuilt one) make it: waiting for health, no scaling.
pub(crate) fn up_request(
    services: Vec<String>,
    no_deps: bool,
    build: up::BuildPolicy,
    self_image_dockerfile: Option<&'static str>,
) -> up::UpRequest {
    up::UpRequest {
        services,
        no_deps,
        build,
        force_recreate: false,
        wait: true,
        wait_timeout: WAIT_TIMEOUT,
        fast_health: true,
        scale: Default::default(),
        renew_anon_volumes: false,
        remove_orphans: false,
        no_recreate: false,
        no_start: false,
        self_image_dockerfile,
    }
}

/// Ctrl-C and SIGTERM, caught from the moment this is made: the commands
/// that run until stopped (`watch`, `events`, `status --watch`) end cleanly
/// whenever one comes.
pub(crate) struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts catching them (needs the runtime).
    pub(crate) fn install() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next one.
    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[cfg(test)]
mod engine_gone_tests {
    use super::*;
    use crate::engine::error::{ApiError, EngineGone};

    #[test]
    fn a_broken_connection_anywhere_in_the_chain_is_the_one_message() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let lost = ApiError::from_bollard("inspect container demo-web-1", io.into());
        let err = anyhow::Error::from(lost).context("cannot read the project's state");
        let said = as_engine_gone(err);
        assert!(said.downcast_ref::<EngineGone>().is_some(), "{said:#}");
        assert!(said
            .to_string()
            .starts_with("lost the connection to the Docker engine at "));
    }

    #[test]
    fn other_errors_stay_as_they_are() {
        let refused = ApiError::from_bollard(
            "stop container x",
            bollard::errors::Error::DockerResponseServerError {
                status_code: 500,
                message: "boom".into(),
            },
        );
        let said = as_engine_gone(refused.into());
        assert_eq!(said.to_string(), "stop container x: boom");
    }
}
