//! What `torq status` and `torq logs` need to know about a project's
//! containers beyond their list entry: one inspect per container (made in
//! parallel) for PID, restart count, start time, health and its last probe
//! output, published ports, image and the log file.

use super::error::{with_deadline, ApiError, QUICK};
use super::{labels, Engine};

/// Everything status shows about one container, from its inspect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerFacts {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
    /// The engine's state word: created, running, paused, restarting, exited, dead.
    pub state: String,
    /// Health: `starting`, `healthy`, `unhealthy`; `None` without a healthcheck.
    pub health: Option<String>,
    /// Consecutive failed health probes.
    pub failing_streak: i64,
    /// Output of the last health probe (trimmed).
    pub last_probe_output: Option<String>,
    /// Host PID of the main process while it runs.
    pub pid: Option<i64>,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// The engine's error text for a container that failed to start.
    pub error: Option<String>,
    /// RFC 3339 times; `None` when never started / never finished.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub restart_count: i64,
    /// Published ports: `0.0.0.0:8080->80/tcp`.
    pub ports: Vec<String>,
    pub image: String,
    pub log_path: Option<String>,
    /// `init: true` (an init process reaps zombies).
    pub init: bool,
}

/// Inspects `id`; `Ok(None)` when it is gone (removed since it was listed).
pub async fn container_facts(
    engine: &Engine,
    id: &str,
) -> Result<Option<ContainerFacts>, ApiError> {
    let inspect = engine.docker().inspect_container(id, None);
    match with_deadline(format!("inspect container {id}"), QUICK, inspect).await {
        Ok(response) => Ok(Some(facts_from_inspect(response))),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// Reads the facts out of an inspect response.
pub fn facts_from_inspect(r: bollard::models::ContainerInspectResponse) -> ContainerFacts {
    let config = r.config.unwrap_or_default();
    let labels = config.labels.unwrap_or_default();
    let state = r.state.unwrap_or_default();
    let health = state.health.unwrap_or_default();
    let health_status = health
        .status
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty() && s != "none");
    let last_probe_output = health
        .log
        .as_ref()
        .and_then(|log| log.last())
        .and_then(|probe| probe.output.as_deref())
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty());
    let not_zero_time = |t: Option<String>| t.filter(|t| !t.starts_with("0001-"));
    let ports = r
        .network_settings
        .and_then(|n| n.ports)
        .map(|ports| published_ports(&ports))
        .unwrap_or_default();
    ContainerFacts {
        id: r.id.unwrap_or_default(),
        name: r
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        service: labels.get(labels::SERVICE).cloned().unwrap_or_default(),
        number: labels
            .get(labels::CONTAINER_NUMBER)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        oneoff: labels
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        state: state
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into()),
        health: health_status,
        failing_streak: health.failing_streak.unwrap_or(0),
        last_probe_output,
        pid: state.pid.filter(|p| *p > 0),
        exit_code: state.exit_code,
        oom_killed: state.oom_killed.unwrap_or(false),
        error: state.error.filter(|e| !e.is_empty()),
        started_at: not_zero_time(state.started_at),
        finished_at: not_zero_time(state.finished_at),
        restart_count: r.restart_count.unwrap_or(0),
        ports,
        image: config.image.unwrap_or_default(),
        log_path: r.log_path.filter(|p| !p.is_empty()),
        init: r.host_config.and_then(|h| h.init).unwrap_or(false),
    }
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
            let ip = binding
                .host_ip
                .as_deref()
                .filter(|ip| !ip.is_empty())
                .unwrap_or("0.0.0.0");
            let ip = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            out.push(format!("{ip}:{host_port}->{container_port}"));
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
    fn facts_are_read_from_an_inspect() {
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
        let f = facts_from_inspect(response);
        assert_eq!(f.name, "demo-web-1");
        assert_eq!((f.service.as_str(), f.number), ("web", 1));
        assert_eq!(f.state, "running");
        assert_eq!(f.health.as_deref(), Some("unhealthy"));
        assert_eq!(f.failing_streak, 3);
        assert_eq!(f.last_probe_output.as_deref(), Some("connection refused"));
        assert_eq!(f.pid, Some(42));
        assert_eq!(f.finished_at, None);
        assert_eq!(f.restart_count, 4);
        assert_eq!(f.ports, vec!["0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp"]);
        assert_eq!(f.image, "busybox");
    }

    #[test]
    fn an_empty_inspect_does_not_panic() {
        let f = facts_from_inspect(ContainerInspectResponse::default());
        assert_eq!(f.state, "unknown");
        assert_eq!(f.health, None);
        assert!(f.ports.is_empty());
    }
}
