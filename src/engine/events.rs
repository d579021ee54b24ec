//! The engine's event stream for one project, turned into the live state of
//! each container: started, died (with exit code), health, killed by SIGKILL,
//! stopped, destroyed. Waiting for a condition reacts to these events — never
//! to a timer.
//!
//! [`EventHub::subscribe`] opens one `/events` stream filtered by the project
//! label (and replaying from a second before, so nothing between subscribing
//! and the engine's answer is lost). Containers are keyed by id, so events of
//! a replaced container never count for its successor. Should the stream
//! break, waiters fall back to inspecting their container every 250 ms.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptions;
use futures::StreamExt;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::labels;
use super::state::{HealthState, ObservedContainer, RunState};
use super::Engine;

/// What the events said about one container so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    /// It started (a `start` event, or torq's start request succeeded).
    pub started: bool,
    /// Its exit code once it died after starting.
    pub exit_code: Option<i64>,
    /// The engine's healthcheck verdict.
    pub health: Option<HealthState>,
    /// torq's own probe (the healthcheck test run by exec) passed.
    pub probe_healthy: bool,
    /// It received SIGKILL (the grace period ran out, or a forced kill).
    pub sigkilled: bool,
    /// A `stop` event was seen (the engine finished a stop request).
    pub stopped: bool,
    /// It was removed.
    pub destroyed: bool,
    /// `start` events seen.
    pub start_events: u32,
    /// torq started it, and the engine's `start` event has not arrived yet:
    /// a `die` arriving now happened before that start (events come in
    /// order), so it says nothing about the new run.
    pub awaiting_start_event: bool,
    /// Events stamped before this (engine time, ns) are of an earlier run:
    /// set when torq starts an existing container, whose earlier events the
    /// subscription may replay (it reaches a second back) after the start.
    pub ignore_before: Option<i64>,
}

impl Live {
    /// The state of an already existing container, from an observation.
    pub fn from_observed(c: &ObservedContainer) -> Live {
        Live {
            started: c.is_running() || c.exit_code.is_some(),
            exit_code: if c.is_running() { None } else { c.exit_code },
            health: c.health,
            ..Default::default()
        }
    }

    /// Whether it died after starting.
    pub fn died(&self) -> bool {
        self.exit_code.is_some()
    }

    /// Healthy by the engine's verdict or torq's probe.
    pub fn is_healthy(&self) -> bool {
        self.health == Some(HealthState::Healthy) || self.probe_healthy
    }

    /// torq's start request succeeded; `start_events_before` is how many
    /// `start` events had arrived before it was sent.
    pub fn note_started(&mut self, start_events_before: u32) {
        self.started = true;
        if self.start_events == start_events_before {
            self.exit_code = None;
            self.awaiting_start_event = true;
            self.restart_health();
        }
    }

    /// A new run: the engine checks its health afresh (`starting`), and an
    /// earlier probe's pass says nothing about it — a restarted container
    /// (a `restart: true` dependent) must not pass a health wait on the
    /// verdict of its previous run.
    fn restart_health(&mut self) {
        if self.health.is_some() {
            self.health = Some(HealthState::Starting);
        }
        self.probe_healthy = false;
    }

    /// Applies an event stamped `time_nano` (engine time), unless it is of
    /// a run before the one torq started ([`Live::ignore_before`]).
    pub fn apply_at(
        &mut self,
        action: &str,
        attributes: &HashMap<String, String>,
        time_nano: Option<i64>,
    ) {
        if let (Some(before), Some(time)) = (self.ignore_before, time_nano) {
            if time < before {
                return;
            }
        }
        self.apply(action, attributes);
    }

    /// torq started an existing container, which the engine says started at
    /// `started_at` (ns) and, if it already ended, exited with `exit_code`:
    /// what earlier events said of it no longer counts, nor do earlier
    /// events still to come.
    pub fn note_restarted(&mut self, started_at: i64, exit_code: Option<i64>) {
        self.ignore_before = Some(started_at);
        self.started = true;
        self.exit_code = exit_code;
        self.stopped = false;
        self.sigkilled = false;
        self.awaiting_start_event = false;
        self.restart_health();
    }

    /// Applies one event's action and attributes.
    pub fn apply(&mut self, action: &str, attributes: &HashMap<String, String>) {
        match action {
            "start" => {
                self.started = true;
                self.exit_code = None;
                self.stopped = false;
                self.start_events += 1;
                if !self.awaiting_start_event {
                    self.restart_health();
                }
                self.awaiting_start_event = false;
            }
            "die" if self.awaiting_start_event => {}
            "die" => {
                self.exit_code = Some(
                    attributes
                        .get("exitCode")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(-1),
                );
            }
            "kill" => {
                if matches!(
                    attributes.get("signal").map(String::as_str),
                    Some("9") | Some("SIGKILL") | Some("KILL")
                ) {
                    self.sigkilled = true;
                }
            }
            "stop" => self.stopped = true,
            "destroy" => self.destroyed = true,
            _ => {
                if let Some(word) = action.strip_prefix("health_status:") {
                    if let Some(h) = HealthState::parse(word.trim()) {
                        self.health = Some(h);
                    }
                }
            }
        }
    }
}

/// The reason a wait ended without its condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimedOut;

struct Inner {
    containers: Mutex<HashMap<String, watch::Sender<Live>>>,
    lost: AtomicBool,
    lost_notify: Notify,
}

impl Inner {
    fn sender(&self, id: &str) -> watch::Sender<Live> {
        let mut map = self.containers.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id.to_string())
            .or_insert_with(|| watch::channel(Live::default()).0)
            .clone()
    }
}

/// The live state of a project's containers, fed by the engine's events.
pub struct EventHub {
    engine: Engine,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl Drop for EventHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventHub {
    /// Subscribes to `project`'s container events. Call it before starting
    /// or stopping anything whose events matter.
    pub fn subscribe(engine: &Engine, project: &str) -> EventHub {
        let inner = Arc::new(Inner {
            containers: Mutex::new(HashMap::new()),
            lost: AtomicBool::new(false),
            lost_notify: Notify::new(),
        });
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs().saturating_sub(1))
            .unwrap_or(0);
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), vec![labels::project_filter(project)]),
            (
                "event".to_string(),
                ["start", "die", "kill", "stop", "destroy", "health_status"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        ]);
        let options = EventsOptions {
            since: Some(since.to_string()),
            until: None,
            filters: Some(filters),
        };
        let stream = engine.docker().events(Some(options));
        let task_inner = inner.clone();
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(event) => dispatch(&task_inner, event),
                    Err(err) => {
                        tracing::debug!(%err, "engine event stream failed");
                        break;
                    }
                }
            }
            task_inner.lost.store(true, Ordering::SeqCst);
            task_inner.lost_notify.notify_waiters();
        });
        EventHub {
            engine: engine.clone(),
            inner,
            task,
        }
    }

    /// The current live state of container `id`.
    pub fn live(&self, id: &str) -> Live {
        self.inner.sender(id).borrow().clone()
    }

    /// Records what an observation said about an existing container.
    pub fn seed(&self, container: &ObservedContainer) {
        let live = Live::from_observed(container);
        self.inner.sender(&container.id).send_modify(|l| {
            l.started |= live.started;
            if l.exit_code.is_none() {
                l.exit_code = live.exit_code;
            }
            if l.health.is_none() {
                l.health = live.health;
            }
        });
    }

    /// How many `start` events of `id` arrived so far (read it before
    /// sending a start request, for [`EventHub::mark_started`]).
    pub fn start_events(&self, id: &str) -> u32 {
        self.inner.sender(id).borrow().start_events
    }

    /// torq's start request for `id` succeeded; `start_events_before` is
    /// what [`EventHub::start_events`] said before the request. Until the
    /// engine's `start` event arrives, an earlier `die` (of a stop before
    /// this start) no longer counts.
    pub fn mark_started(&self, id: &str, start_events_before: u32) {
        self.inner
            .sender(id)
            .send_modify(|l| l.note_started(start_events_before));
    }

    /// torq started `id`, a container that existed before (it may have
    /// stopped a moment ago): the engine's own account of the new run —
    /// when it started, and its exit code if it already ended — replaces
    /// what the events said so far (see [`Live::note_restarted`]).
    pub fn mark_restarted(&self, id: &str, started_at: i64, exit_code: Option<i64>) {
        self.inner
            .sender(id)
            .send_modify(|l| l.note_restarted(started_at, exit_code));
    }

    /// torq's health probe passed for `id`.
    pub fn mark_probe_healthy(&self, id: &str) {
        self.inner
            .sender(id)
            .send_modify(|l| l.probe_healthy = true);
    }

    /// Waits until `decide` returns a value for container `id`'s live state,
    /// or `deadline` passes.
    pub async fn wait_for<R>(
        &self,
        id: &str,
        deadline: Instant,
        mut decide: impl FnMut(&Live) -> Option<R>,
    ) -> Result<R, WaitTimedOut> {
        let mut rx = self.inner.sender(id).subscribe();
        loop {
            if let Some(result) = decide(&rx.borrow_and_update()) {
                return Ok(result);
            }
            if self.inner.lost.load(Ordering::SeqCst) {
                return self.poll_for(id, deadline, &mut decide).await;
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Err(WaitTimedOut);
                    }
                }
                _ = self.inner.lost_notify.notified() => {}
                _ = tokio::time::sleep_until(deadline) => return Err(WaitTimedOut),
            }
        }
    }

    /// The fallback when the event stream broke: inspect every 250 ms.
    async fn poll_for<R>(
        &self,
        id: &str,
        deadline: Instant,
        decide: &mut impl FnMut(&Live) -> Option<R>,
    ) -> Result<R, WaitTimedOut> {
        loop {
            self.refresh(id).await;
            if let Some(result) = decide(&self.live(id)) {
                return Ok(result);
            }
            if Instant::now() >= deadline {
                return Err(WaitTimedOut);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Updates container `id`'s live state from an inspect.
    pub async fn refresh(&self, id: &str) {
        let inspected = self
            .engine
            .request(
                format!("inspect container {id}"),
                self.engine.docker().inspect_container(id, None),
            )
            .await;
        let sender = self.inner.sender(id);
        match inspected {
            Ok(c) => {
                let state = c.state.unwrap_or_default();
                let run = state
                    .status
                    .map(|s| RunState::parse(s.as_ref()))
                    .unwrap_or_default();
                let health = state
                    .health
                    .and_then(|h| h.status)
                    .and_then(|s| HealthState::parse(s.as_ref()));
                sender.send_modify(|l| {
                    match run {
                        RunState::Running | RunState::Paused | RunState::Restarting => {
                            l.started = true
                        }
                        RunState::Exited | RunState::Dead if l.started => {
                            l.exit_code = state.exit_code.or(Some(-1));
                        }
                        _ => {}
                    }
                    if health.is_some() {
                        l.health = health;
                    }
                });
            }
            Err(err) if err.is_not_found() => sender.send_modify(|l| l.destroyed = true),
            Err(_) => {}
        }
    }
}

fn dispatch(inner: &Inner, event: EventMessage) {
    let (Some(action), Some(actor)) = (event.action, event.actor) else {
        return;
    };
    let Some(id) = actor.id else { return };
    let attributes = actor.attributes.unwrap_or_default();
    tracing::trace!(%id, %action, "engine event");
    let time = event.time_nano;
    inner
        .sender(&id)
        .send_modify(|l| l.apply_at(&action, &attributes, time));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_restarted_containers_earlier_run_replayed_after_its_start_counts_for_nothing() {
        let mut live = Live {
            started: true,
            exit_code: Some(0),
            ..Live::default()
        };
        live.note_restarted(2_000, None);
        // The earlier run's start and die, replayed by the subscription.
        live.apply_at("start", &attrs(&[]), Some(1_000));
        live.apply_at("die", &attrs(&[("exitCode", "0")]), Some(1_500));
        assert!(live.started && !live.died(), "{live:?}");
        // The new run's own death counts.
        live.apply_at("start", &attrs(&[]), Some(2_001));
        live.apply_at("die", &attrs(&[("exitCode", "3")]), Some(3_000));
        assert_eq!(live.exit_code, Some(3));
    }

    #[test]
    fn events_build_the_live_state() {
        let mut live = Live::default();
        live.apply("start", &attrs(&[]));
        assert!(live.started && !live.died());
        live.apply("health_status: healthy", &attrs(&[]));
        assert!(live.is_healthy());
        live.apply("kill", &attrs(&[("signal", "15")]));
        assert!(!live.sigkilled);
        live.apply("kill", &attrs(&[("signal", "9")]));
        assert!(live.sigkilled);
        live.apply("die", &attrs(&[("exitCode", "137")]));
        assert_eq!(live.exit_code, Some(137));
        live.apply("stop", &attrs(&[]));
        assert!(live.stopped);
    }

    #[test]
    fn a_die_from_before_a_restart_does_not_count() {
        let mut live = Live::default();
        live.apply("start", &attrs(&[]));
        let before = live.start_events;
        // torq restarts it: its start request returns before the engine's
        // die (of the stop) and start events arrive.
        live.note_started(before);
        live.apply("die", &attrs(&[("exitCode", "0")]));
        assert!(!live.died(), "the stop's die counted");
        live.apply("start", &attrs(&[]));
        live.apply("die", &attrs(&[("exitCode", "1")]));
        assert_eq!(live.exit_code, Some(1), "a crash after the start counts");
    }

    #[test]
    fn a_restarted_container_is_not_healthy_on_its_previous_run() {
        let mut live = Live::default();
        live.apply("start", &attrs(&[]));
        live.apply("health_status: healthy", &attrs(&[]));
        live.probe_healthy = true;
        // torq restarts it (a restart: true dependent).
        live.note_started(live.start_events);
        assert!(!live.is_healthy(), "healthy before its first check");
        assert_eq!(live.health, Some(HealthState::Starting));
        // A probe of the new run passes before the start event arrives: it stands.
        live.probe_healthy = true;
        live.apply("start", &attrs(&[]));
        assert!(live.is_healthy());
        // A restart by the engine (its restart policy) starts afresh too.
        live.apply("die", &attrs(&[("exitCode", "1")]));
        live.apply("start", &attrs(&[]));
        assert!(!live.is_healthy());
        // A container without a healthcheck keeps no health.
        let mut plain = Live::default();
        plain.apply("start", &attrs(&[]));
        assert_eq!(plain.health, None);
    }

    #[test]
    fn a_start_event_before_the_request_returns_keeps_crashes_visible() {
        let mut live = Live::default();
        let before = live.start_events;
        live.apply("start", &attrs(&[]));
        live.note_started(before);
        live.apply("die", &attrs(&[("exitCode", "3")]));
        assert_eq!(live.exit_code, Some(3));
    }

    #[test]
    fn unhealthy_is_not_healthy() {
        let mut live = Live::default();
        live.apply("health_status: unhealthy", &attrs(&[]));
        assert_eq!(live.health, Some(HealthState::Unhealthy));
        assert!(!live.is_healthy());
    }
}
