//! The service layer: one module per verb, holding the work of a command.
//! A command's `cli` file maps its arguments to a request here and renders
//! the result; the modules here call the compose model, `plan` and `engine`,
//! and report progress through the progress trait, never printing.
//!
//! [`stdio`] is shared by the interactive verbs (`run`, `exec`): it copies a
//! container's stream to and from torq's own stdio.

pub(crate) mod stdio;
pub(crate) mod targets;

pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod images;
pub(crate) mod kill;
pub(crate) mod ls;
pub(crate) mod pause;
pub(crate) mod port;
pub(crate) mod pull;
pub(crate) mod run;
pub(crate) mod top;
pub(crate) mod wait;
pub(crate) mod watch;

use std::time::Duration;

use crate::engine::build::BuildPolicy;
use crate::plan::lifecycle::UpRequest;

/// How long a convergence started by `run` or `watch` waits for health.
const WAIT_TIMEOUT: Duration = Duration::from_secs(120);

/// An `up` of `services` as `run` (their dependencies) and `watch` (the
/// watched services, a rebuilt one) make it: waiting for health, no scaling.
pub(crate) fn up_request(services: Vec<String>, no_deps: bool, build: BuildPolicy) -> UpRequest {
    UpRequest {
        services,
        no_deps,
        build,
        force_recreate: false,
        wait: true,
        wait_timeout: WAIT_TIMEOUT,
        fast_health: true,
        scale: Default::default(),
        renew_anon_volumes: false,
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
