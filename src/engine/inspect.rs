//! One container in detail: its inspect — PID, restart count, start and
//! finish times, health with its failing streak and last probe output, exit
//! code and OOM kill, the engine's error, published ports, image, log file,
//! `init` — read into the [`ObservedContainer`] a container list gives, so
//! torq has one model of a container whether it was listed or inspected.

use super::error::ApiError;
use super::labels;
use super::state::{port_text, HealthState, ObservedContainer, RunState};
use super::Engine;

/// Inspects `container` (as listed) and refines it; `Ok(None)` when it is
/// gone (removed since it was listed).
pub(crate) async fn inspect(
    engine: &Engine,
    mut container: ObservedContainer,
) -> Result<Option<ObservedContainer>, ApiError> {
    let op = format!("inspect container {}", container.name);
    let inspect = engine.docker().inspect_container(&container.id, None);
    match engine.request(op, inspect).await {
        Ok(response) => {
            refine(&mut container, response);
            Ok(Some(container))
        }
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// Fills `c` from an inspect response: its identity and labels, and
/// everything a list entry lacks.
pub(crate) fn refine(c: &mut ObservedContainer, r: bollard::models::ContainerInspectResponse) {
    let config = r.config.unwrap_or_default();
    let labels = config.labels.unwrap_or_default();
    let healthcheck = config.healthcheck.unwrap_or_default();
    c.health_test = healthcheck.test.unwrap_or_default();
    c.health_timeout = healthcheck
        .timeout
        .filter(|t| *t > 0)
        .map(|t| std::time::Duration::from_nanos(t as u64));
    let state = r.state.unwrap_or_default();
    let health = state.health.unwrap_or_default();
    let not_zero_time = |t: Option<String>| t.filter(|t| !t.starts_with("0001-"));
    if let Some(id) = r.id {
        c.id = id;
    }
    if let Some(name) = r.name {
        c.name = name.trim_start_matches('/').to_string();
    }
    c.service = labels.get(labels::SERVICE).cloned().unwrap_or_default();
    c.number = labels
        .get(labels::CONTAINER_NUMBER)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    c.oneoff = labels
        .get(labels::ONEOFF)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    c.config_hash = labels.get(labels::CONFIG_HASH).cloned();
    c.labels = labels;
    if let Some(image) = config.image {
        c.image = image;
    }
    if let Some(image_id) = r.image {
        c.image_id = image_id;
    }
    c.state = state
        .status
        .map(|s| RunState::parse(s.as_ref()))
        .unwrap_or(RunState::Unknown);
    c.health = health
        .status
        .and_then(|s| HealthState::parse(s.as_ref()))
        .filter(|_| c.state == RunState::Running);
    c.failing_streak = health.failing_streak.unwrap_or(0);
    c.last_probe_output = health
        .log
        .as_ref()
        .and_then(|log| log.last())
        .and_then(|probe| probe.output.as_deref())
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty());
    c.exit_code = match c.state {
        RunState::Exited | RunState::Dead | RunState::Restarting => state.exit_code,
        _ => None,
    };
    c.oom_killed = state.oom_killed.unwrap_or(false);
    c.error = state.error.filter(|e| !e.is_empty());
    c.pid = state.pid.filter(|pid| *pid > 0);
    c.started_at = not_zero_time(state.started_at);
    c.finished_at = not_zero_time(state.finished_at);
    c.restart_count = r.restart_count;
    c.ports = r
        .network_settings
        .and_then(|n| n.ports)
        .map(|ports| published_ports(&ports))
        .unwrap_or_default();
    c.log_path = r.log_path.filter(|p| !p.is_empty());
    c.init = r.host_config.and_then(|h| h.init).unwrap_or(false);
}

/// `0.0.0.0:8080->80/tcp` for each published binding, sorted; unpublished
/// exposed ports are left out.
fn published_ports(ports: &bollard::models::PortMap) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (container_port, bindings) in ports {
        for binding in bindings.iter().flatten() {
            let Some(host_port) = binding.host_port.as_deref().filter(|p| !p.is_empty()) else {
                continue;
            };
            out.push(port_text(
                binding.host_ip.as_deref(),
                host_port,
                container_port,
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerConfig, ContainerInspectResponse, ContainerState, ContainerStateStatusEnum,
        Health, HealthStatusEnum, HealthcheckResult, NetworkSettings, PortBinding,
    };
    use std::collections::HashMap;

    #[test]
    fn an_inspect_refines_the_container() {
        let response = ContainerInspectResponse {
            id: Some("abc".into()),
            name: Some("/demo-web-1".into()),
            restart_count: Some(4),
            log_path: Some("/var/lib/docker/containers/abc/abc-json.log".into()),
            config: Some(ContainerConfig {
                image: Some("busybox".into()),
                labels: Some(HashMap::from([
                    (labels::SERVICE.to_string(), "web".to_string()),
                    (labels::CONTAINER_NUMBER.to_string(), "1".to_string()),
                ])),
                ..Default::default()
            }),
            state: Some(ContainerState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                pid: Some(42),
                exit_code: Some(0),
                started_at: Some("2024-05-01T12:00:00Z".into()),
                finished_at: Some("0001-01-01T00:00:00Z".into()),
                health: Some(Health {
                    status: Some(HealthStatusEnum::UNHEALTHY),
                    failing_streak: Some(3),
                    log: Some(vec![HealthcheckResult {
                        output: Some("  connection refused\n".into()),
                        ..Default::default()
                    }]),
                }),
                ..Default::default()
            }),
            network_settings: Some(NetworkSettings {
                ports: Some(HashMap::from([
                    (
                        "80/tcp".to_string(),
                        Some(vec![
                            PortBinding {
                                host_ip: Some("0.0.0.0".into()),
                                host_port: Some("8080".into()),
                            },
                            PortBinding {
                                host_ip: Some("::".into()),
                                host_port: Some("8080".into()),
                            },
                        ]),
                    ),
                    ("9000/tcp".to_string(), None),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut f = ObservedContainer::default();
        refine(&mut f, response);
        assert_eq!(f.name, "demo-web-1");
        assert_eq!((f.service.as_str(), f.number), ("web", 1));
        assert_eq!(f.state, RunState::Running);
        assert_eq!(f.health, Some(HealthState::Unhealthy));
        assert_eq!(f.failing_streak, 3);
        assert_eq!(f.last_probe_output.as_deref(), Some("connection refused"));
        assert_eq!(f.pid, Some(42));
        assert_eq!(f.finished_at, None);
        assert_eq!(f.restart_count, Some(4));
        assert_eq!(f.exit_code, None, "a running container has no exit code");
        assert_eq!(f.ports, vec!["0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp"]);
        assert_eq!(f.image, "busybox");
    }

    #[test]
    fn an_empty_inspect_does_not_panic() {
        let mut f = ObservedContainer::default();
        refine(&mut f, ContainerInspectResponse::default());
        assert_eq!(f.state, RunState::Unknown);
        assert_eq!(f.health, None);
        assert!(f.ports.is_empty());
    }
}
