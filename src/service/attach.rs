//! `up --attach`: converge, then stream every service's logs (from the
//! start of this `up`) until Ctrl-C/SIGTERM — or with `abort_on_exit` /
//! `exit_code_from` until a container exits — then a graceful `down` (a
//! second Ctrl-C forces it), with the logs still streaming so the services'
//! last lines show, as with `docker compose up`: after the `down`, each
//! container's log is read until its stream ends (at most [`LAST_LINES_DEADLINE`]).
//!
//! The engine lost while attached is said once; the logs resume when it
//! answers again within the reconnect timeout, and otherwise the session
//! ends with that engine error (exit 1), leaving the project as it is: no
//! `down` can reach the engine.
//!
//! The CLI watches the signals first ([`Signals::watch`]), calls [`start`],
//! renders the `up` summary, then [`Session::attach`] with a log sink of its
//! own, and renders the `down` it returns.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::down::{take_down, DownOptions, DownOutcome};
use super::follow::follow_reconnecting;
use super::up::{converge_until, UpOutcome, UpRequest};
use super::{acquire_lock, acquire_lock_noting, connect};
use crate::compose::model::Project;
use crate::engine::error::EngineGone;
use crate::engine::logs::follow::{FollowOptions, ProjectFollow};
use crate::engine::Engine;
use crate::logs::time::{self, Nanos};
use crate::logs::LogSink;
use crate::logs::Tail;
use crate::progress::{Event, NullReporter, Reporter};

/// How long the last lines may take to arrive after the closing `down`
/// (each container's stream ends when it is removed; this only bounds a
/// container the `down` could not remove).
pub(crate) const LAST_LINES_DEADLINE: Duration = Duration::from_secs(10);

/// Ctrl-C and SIGTERM, watched (so they no longer end the process at once).
pub(crate) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts watching; call it inside the runtime, before anything else,
    /// so a signal while the spec loads or services start still ends in a
    /// graceful down. (As PID 1 in a container, a signal without a handler
    /// is dropped.)
    pub(crate) fn watch() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?,
        })
    }
}

/// How the session should end, besides a signal.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttachOptions {
    /// Stop everything when any container exits.
    pub abort_on_exit: bool,
    /// Stop everything when this service's container exits.
    pub exit_code_from: Option<String>,
    /// Grace period of the closing `down` (default: each service's).
    pub grace: Option<Duration>,
    /// How long to wait for a lost engine before giving up (zero: at once).
    pub reconnect_timeout: Duration,
}

impl AttachOptions {
    fn watch_exit(&self) -> bool {
        self.abort_on_exit || self.exit_code_from.is_some()
    }
}

/// How the `up` of an attached session went.
enum Converged {
    /// `up` ran to its end (with or without failures).
    Done {
        outcome: UpOutcome,
        /// When `up` began: logs are shown from here on.
        started: Nanos,
    },
    /// Ctrl-C or SIGTERM came before `up` was done; `drained` when its
    /// engine calls in flight then finished (nothing can land later).
    Interrupted { signal: &'static str, drained: bool },
}

/// An attached session after its `up`.
pub(crate) struct Session {
    engine: Engine,
    project: Arc<Project>,
    converged: Converged,
    signals: Signals,
}

/// How [`start`] ended.
pub(crate) enum Start {
    /// The session goes on: attach to it.
    Session(Box<Session>),
    /// A signal came while another torq held the project lock: this session
    /// started nothing, and takes down nothing the other one brings up.
    InterruptedWhileWaiting(&'static str),
}

/// Why an attached session ended.
#[derive(Debug)]
pub(crate) enum AttachEnd {
    /// Ctrl-C or SIGTERM.
    Interrupted(&'static str),
    /// A container exited (`abort_on_exit`, `exit_code_from`).
    Exited { service: String, code: i64 },
    /// The log follow failed (engine gone; a closed stdout does not end it).
    Follow(Option<String>),
    /// `up` itself failed: nothing to attach to.
    UpFailed,
}

impl AttachEnd {
    /// Whether the log follow is still worth polling while the project stops.
    fn follow_live(&self) -> bool {
        matches!(self, AttachEnd::Interrupted(_) | AttachEnd::Exited { .. })
    }

    /// Says why the session ends and that the project is stopping.
    fn announce(&self, project: &str, reporter: &dyn Reporter) {
        let event = match self {
            AttachEnd::Interrupted(what) => {
                Event::Info(format!("{what}: stopping project {project}"))
            }
            AttachEnd::Exited { service, code } => Event::Info(format!(
                "{service} exited with code {code}: stopping project {project}"
            )),
            AttachEnd::Follow(Some(err)) => Event::Warning(format!(
                "log stream ended: {err}; stopping project {project}"
            )),
            AttachEnd::Follow(None) => return,
            AttachEnd::UpFailed => Event::Info(format!(
                "not attaching: up failed; stopping project {project}"
            )),
        };
        reporter.report(event);
    }
}

/// What an attached session did after its `up`.
pub(crate) struct Attached {
    pub end: AttachEnd,
    pub down: DownOutcome,
}

/// How long an interrupted `up` waits for the engine calls it already sent
/// (a create, a start, a network) before it gives up on them and takes the
/// project down anyway.
const DRAIN: Duration = Duration::from_secs(5);

/// The start of an attached `up`: connects, takes the lock, converges. A
/// signal while waiting for the lock ends the session (nothing started); a
/// signal while converging cancels the `up`: no step starts any more, and
/// the engine calls in flight finish (for up to [`DRAIN`], a second signal
/// cuts that short), so the `down` that follows finds everything the `up`
/// made. Finishes the progress.
pub(crate) async fn start(
    project: Arc<Project>,
    request: &UpRequest,
    reporter: Arc<dyn Reporter>,
    mut signals: Signals,
) -> anyhow::Result<Start> {
    let engine = connect().await?;
    let started = time::now();
    let (waiting, locked) = (std::cell::Cell::new(false), std::cell::Cell::new(false));
    let cancel = CancellationToken::new();
    let converge = async {
        let _lock = acquire_lock_noting(&engine, &project.name, reporter.as_ref(), || {
            waiting.set(true)
        })
        .await?;
        locked.set(true);
        converge_until(&engine, project.clone(), request, reporter.clone(), &cancel).await
    };
    let converged = {
        tokio::pin!(converge);
        let first = tokio::select! {
            biased;
            _ = signals.interrupt.recv() => Err("Ctrl-C"),
            _ = signals.terminate.recv() => Err("SIGTERM"),
            outcome = &mut converge => Ok(outcome),
        };
        match first {
            Ok(outcome) => Ok(outcome.map(|outcome| Converged::Done { outcome, started })),
            Err(signal) if waiting.get() && !locked.get() => Err(signal),
            Err(signal) => {
                cancel.cancel();
                let drained = drain(converge, &mut signals, reporter.as_ref()).await;
                Ok(Ok(Converged::Interrupted { signal, drained }))
            }
        }
    };
    reporter.finish();
    let converged = match converged {
        Ok(converged) => converged?,
        Err(signal) => return Ok(Start::InterruptedWhileWaiting(signal)),
    };
    Ok(Start::Session(Box::new(Session {
        engine,
        project,
        converged,
        signals,
    })))
}

/// Lets a cancelled `up` finish the engine calls it already sent: waits for
/// it up to [`DRAIN`], or until a second signal. Whether it finished.
async fn drain<F: std::future::Future>(
    cancelled_up: std::pin::Pin<&mut F>,
    signals: &mut Signals,
    reporter: &dyn Reporter,
) -> bool {
    let finished = tokio::select! {
        biased;
        _ = signals.interrupt.recv() => false,
        _ = signals.terminate.recv() => false,
        finished = tokio::time::timeout(DRAIN, cancelled_up) => finished.is_ok(),
    };
    if !finished {
        reporter.report(Event::Warning(format!(
            "gave up waiting for the engine calls of the cancelled up (up to {}s): \
             an object they still make is left; `torq down` removes it",
            DRAIN.as_secs()
        )));
    }
    finished
}

impl Session {
    /// The `up`'s outcome; `None` when a signal interrupted it.
    pub(crate) fn outcome(&self) -> Option<&UpOutcome> {
        match &self.converged {
            Converged::Done { outcome, .. } => Some(outcome),
            Converged::Interrupted { .. } => None,
        }
    }

    /// The services whose logs the session shows: all but those with
    /// `attach: false` (they run, but their logs are not shown).
    pub(crate) fn shown_services(&self) -> Vec<String> {
        attached_services(&self.project).unwrap_or_default()
    }

    /// Streams the logs into `sink` until the session ends, then takes the
    /// project down; notes and the down's progress go to `reporter`.
    pub(crate) async fn attach(
        self,
        options: &AttachOptions,
        sink: &mut dyn LogSink,
        reporter: Arc<dyn Reporter>,
    ) -> anyhow::Result<Attached> {
        let Session {
            engine,
            project,
            converged,
            signals,
        } = self;
        let Signals {
            mut interrupt,
            mut terminate,
        } = signals;
        let shown = attached_services(&project);
        let since = match &converged {
            Converged::Done { started, .. } => Some(*started),
            Converged::Interrupted { .. } => None,
        };
        let follow_options = FollowOptions {
            services: shown.clone().unwrap_or_default(),
            tail: Tail::All,
            since,
        };
        let (drain_logs, mut logs_draining) = tokio::sync::watch::channel(false);
        let follow_reporter = reporter.clone();
        let mut follow = Box::pin(async {
            if shown.as_ref().is_some_and(Vec::is_empty) {
                return std::future::pending().await;
            }
            let mut follow = ProjectFollow::new(&project.name, follow_options);
            follow_reconnecting(
                &engine,
                &mut follow,
                &mut *sink,
                &mut logs_draining,
                options.reconnect_timeout,
                follow_reporter.as_ref(),
            )
            .await
        });
        let end = match &converged {
            Converged::Interrupted { signal, .. } => AttachEnd::Interrupted(signal),
            Converged::Done { outcome, .. } if !up_succeeded(outcome) => AttachEnd::UpFailed,
            Converged::Done { outcome, .. } => {
                reporter.report(Event::Info(format!(
                    "attached to project {}: Ctrl-C (or SIGTERM) stops it, a second Ctrl-C kills it",
                    project.name
                )));
                let exits = first_exit(
                    outcome,
                    options.exit_code_from.as_deref(),
                    options.watch_exit(),
                );
                tokio::select! {
                    result = &mut follow => match result {
                        // No `down` can reach an engine that is gone.
                        Err(err) if err.downcast_ref::<EngineGone>().is_some() => {
                            reporter.finish();
                            return Err(err);
                        }
                        result => AttachEnd::Follow(result.err().map(|e| format!("{e:#}"))),
                    },
                    _ = interrupt.recv() => AttachEnd::Interrupted("Ctrl-C"),
                    _ = terminate.recv() => AttachEnd::Interrupted("SIGTERM"),
                    (service, code) = exits => AttachEnd::Exited { service, code },
                }
            }
        };
        end.announce(&project.name, reporter.as_ref());

        let graceful = DownOptions {
            grace: options.grace,
            ..Default::default()
        };
        let interrupted = matches!(converged, Converged::Interrupted { .. });
        let abandoned = matches!(converged, Converged::Interrupted { drained: false, .. });
        let mut follow_live = end.follow_live() && !interrupted;
        // The session let go of the lock once `up` was done; `down` takes it again.
        let _lock = acquire_lock(&engine, &project.name, reporter.as_ref()).await?;
        let mut down = {
            let graceful_down = take_down(&engine, &project.name, &graceful, reporter.clone());
            tokio::pin!(graceful_down);
            loop {
                tokio::select! {
                    result = &mut graceful_down => break result,
                    _ = interrupt.recv() => {
                        reporter.report(Event::Info("second Ctrl-C: killing everything".into()));
                        let forced = DownOptions { force: true, ..Default::default() };
                        break take_down(&engine, &project.name, &forced, reporter.clone()).await;
                    }
                    _ = &mut follow, if follow_live => follow_live = false,
                }
            }
        };
        if let (true, Ok(first)) = (abandoned, &mut down) {
            // A create the cancelled `up` gave up waiting for may land after
            // the down listed the project's containers: one more pass removes
            // it (when it lands by then).
            let quiet: Arc<dyn Reporter> = Arc::new(NullReporter);
            match take_down(&engine, &project.name, &graceful, quiet).await {
                Ok(second) => first.absorb(second),
                Err(err) => reporter.report(Event::Warning(format!(
                    "the second pass of the down failed: {err:#}"
                ))),
            }
        }
        if follow_live {
            // The last lines: every container's log is read until its
            // stream ends (the down stopped and removed them).
            let _ = drain_logs.send(true);
            let _ = tokio::time::timeout(LAST_LINES_DEADLINE, &mut follow).await;
        }
        drop(follow);
        let _ = sink.flush();
        reporter.finish();
        Ok(Attached { end, down: down? })
    }
}

/// Whether `up` converged everything: no failure, nothing skipped.
pub(crate) fn up_succeeded(outcome: &UpOutcome) -> bool {
    outcome.failures.is_empty() && outcome.skipped.is_empty()
}

/// The services whose logs an attached `up` shows: `None` for all of
/// them, else those without `attach: false`.
fn attached_services(project: &Project) -> Option<Vec<String>> {
    let detached = |s: &crate::compose::model::Service| s.attach == Some(false);
    if !project.services.values().any(detached) {
        return None;
    }
    Some(
        project
            .services
            .values()
            .filter(|s| !detached(s))
            .map(|s| s.name.clone())
            .collect(),
    )
}

/// The first container of the project's converged services to exit: that
/// of `service` only when given. Never resolves when `enabled` is false.
async fn first_exit(outcome: &UpOutcome, service: Option<&str>, enabled: bool) -> (String, i64) {
    if !enabled {
        return std::future::pending().await;
    }
    let far = tokio::time::Instant::now() + Duration::from_secs(60 * 60 * 24 * 365);
    let watches: Vec<_> = outcome
        .containers
        .iter()
        .filter(|(name, _)| service.is_none_or(|s| s == name.as_str()))
        .flat_map(|(name, ids)| ids.iter().map(move |id| (name.clone(), id.clone())))
        .map(|(name, id)| {
            let hub = outcome.hub.clone();
            Box::pin(async move {
                let code = hub.wait_for(&id, far, |l| l.exit_code).await.unwrap_or(-1);
                (name, code)
            })
        })
        .collect();
    if watches.is_empty() {
        return std::future::pending().await;
    }
    futures::future::select_all(watches).await.0
}
