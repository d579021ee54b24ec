//! Fast health: while a service with a healthcheck starts, torq runs the
//! healthcheck's own test in the container (exec) at a short cadence, and
//! the first passing run counts as healthy for gating dependents and for
//! `up`'s wait. The engine checks only once per `interval` (API 1.41 has no
//! `start_interval`), so a 1 s interval would otherwise cost up to a second
//! per dependency level.
//!
//! Probing stops as soon as the engine itself has a verdict, the container
//! dies, a probe passes, or the deadline passes. A failing probe never
//! counts as unhealthy: only the engine's verdict does. `up --no-fast-health`
//! turns this off.
//!
//! `status` runs the same test once ([`probe_once`]) in a container whose
//! health is still `starting`, so it never contradicts what `up` said.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::events::EventHub;
use super::ops;
use super::Engine;
use crate::compose::model::Healthcheck;

/// Pause between probes during the first second.
pub(crate) const FIRST_CADENCE: Duration = Duration::from_millis(100);
/// Pause between probes after that.
pub(crate) const CADENCE: Duration = Duration::from_millis(250);
/// Longest a single probe may run when the healthcheck sets no timeout.
pub(crate) const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The command to exec for a healthcheck test, or `None` when it has none
/// (`NONE`, disabled, or an unknown form).
pub(crate) fn probe_command(healthcheck: &Healthcheck) -> Option<Vec<String>> {
    if !healthcheck.is_enabled() {
        return None;
    }
    test_command(&healthcheck.test)
}

/// The command to exec for a healthcheck test as the engine stores it
/// (`CMD …`, `CMD-SHELL …`), or `None` for `NONE`, an empty or unknown form.
pub(crate) fn test_command(test: &[String]) -> Option<Vec<String>> {
    let (kind, rest) = test.split_first()?;
    match kind.as_str() {
        "CMD" if !rest.is_empty() => Some(rest.to_vec()),
        "CMD-SHELL" if !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

/// Runs a healthcheck's command once in container `id`: whether it exited 0
/// within `timeout`. A probe that cannot run, fails or times out is `false`
/// (never a verdict of unhealthy: that is the engine's).
pub(crate) async fn probe_once(
    engine: &Engine,
    id: &str,
    command: Vec<String>,
    timeout: Duration,
) -> bool {
    match ops::exec_exit_code(engine, id, command, timeout).await {
        Ok(code) => code == 0,
        Err(err) => {
            tracing::debug!(container = %id, %err, "health probe could not run");
            false
        }
    }
}

/// Probes container `id` until it is healthy (by the engine or a passing
/// probe), dies, turns unhealthy, or `deadline` passes. A passing probe is
/// recorded in the hub.
pub(crate) async fn probe_until_settled(
    engine: Engine,
    hub: Arc<EventHub>,
    id: String,
    command: Vec<String>,
    probe_timeout: Option<Duration>,
    deadline: Instant,
) {
    let started = Instant::now();
    let timeout = probe_timeout.unwrap_or(DEFAULT_PROBE_TIMEOUT);
    loop {
        let live = hub.live(&id);
        if live.is_healthy()
            || live.died()
            || live
                .health
                .is_some_and(|h| h != super::state::HealthState::Starting)
        {
            return;
        }
        if Instant::now() >= deadline {
            return;
        }
        match ops::exec_exit_code(&engine, &id, command.clone(), timeout).await {
            Ok(0) => {
                tracing::debug!(container = %id, "fast health probe passed");
                hub.mark_probe_healthy(&id);
                return;
            }
            Ok(code) => tracing::trace!(container = %id, code, "fast health probe failed"),
            Err(err) => {
                // Not running (yet or any more), or exec refused: leave the
                // verdict to the engine.
                tracing::debug!(container = %id, %err, "fast health probe could not run");
                if err.is_conflict() || err.is_not_found() {
                    return;
                }
            }
        }
        let pause = if started.elapsed() < Duration::from_secs(1) {
            FIRST_CADENCE
        } else {
            CADENCE
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(test: &[&str]) -> Healthcheck {
        Healthcheck {
            test: test.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn commands_follow_the_test_form() {
        assert_eq!(
            probe_command(&hc(&["CMD", "torq", "node", "probe"])),
            Some(vec!["torq".into(), "node".into(), "probe".into()])
        );
        assert_eq!(
            probe_command(&hc(&["CMD-SHELL", "test -f /ready"])),
            Some(vec!["/bin/sh".into(), "-c".into(), "test -f /ready".into()])
        );
        assert_eq!(probe_command(&hc(&["NONE"])), None);
        let mut disabled = hc(&["CMD", "true"]);
        disabled.disable = true;
        assert_eq!(probe_command(&disabled), None);
        let stored = ["CMD-SHELL".to_string(), "true".to_string()];
        assert_eq!(
            test_command(&stored),
            Some(vec!["/bin/sh".into(), "-c".into(), "true".into()])
        );
        assert_eq!(test_command(&[]), None);
        assert_eq!(test_command(&["CMD".to_string()]), None);
    }
}
