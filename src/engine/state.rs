//! The observed state of a project: every container, network and volume that
//! carries the label `com.docker.compose.project=<name>`, as the engine reports
//! it. This is the only source of truth about what runs (no PID files).
//!
//! [`observe`] costs three list requests, made in parallel. A container list
//! on API 1.41 carries no health and no exit code, so those are read from the
//! engine's status text (`Up 3 seconds (healthy)`, `Exited (1) 2 seconds
//! ago`). [`observe_detailed`] adds one inspect per container (in parallel)
//! for exact health, exit code, start/finish times, PID and restart count.

use std::collections::HashMap;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum, PortSummary};
use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, ListVolumesOptions};
use futures::future::join_all;

use super::error::ApiError;
use super::labels;
use super::Engine;

/// Everything the engine holds for one project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectState {
    /// The project name the labels were matched against.
    pub project: String,
    /// Containers, sorted by service then number (one-off containers last).
    pub containers: Vec<ObservedContainer>,
    pub networks: Vec<ObservedNetwork>,
    pub volumes: Vec<ObservedVolume>,
}

/// One container of the project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedContainer {
    pub id: String,
    /// The name without the leading `/` (e.g. `demo-web-1`).
    pub name: String,
    /// `com.docker.compose.service` (empty when missing).
    pub service: String,
    /// `com.docker.compose.container-number` (0 when missing or unparsable).
    pub number: u32,
    /// `com.docker.compose.oneoff=True` (a `run` container).
    pub oneoff: bool,
    /// `com.docker.compose.config-hash`.
    pub config_hash: Option<String>,
    /// The image reference the container was created from.
    pub image: String,
    /// The image id (`sha256:…`).
    pub image_id: String,
    pub state: RunState,
    /// `None`: the container has no healthcheck (or it is not running).
    pub health: Option<HealthState>,
    /// Exit code of a container that ran and stopped (after an inspect,
    /// also of one restarting after an exit).
    pub exit_code: Option<i64>,
    /// Creation time, unix seconds.
    pub created: i64,
    /// RFC 3339 start time (from [`observe_detailed`] only).
    pub started_at: Option<String>,
    /// RFC 3339 finish time (from [`observe_detailed`] only).
    pub finished_at: Option<String>,
    /// Host PID of the main process while running ([`observe_detailed`] only).
    pub pid: Option<i64>,
    /// Restarts by the engine's restart policy ([`observe_detailed`] only).
    pub restart_count: Option<i64>,
    /// Consecutive failed health probes ([`observe_detailed`] only).
    pub failing_streak: i64,
    /// Output of the last health probe, trimmed ([`observe_detailed`] only).
    pub last_probe_output: Option<String>,
    /// The kernel killed it for lack of memory ([`observe_detailed`] only).
    pub oom_killed: bool,
    /// The engine's error text for a container that failed to start
    /// ([`observe_detailed`] only).
    pub error: Option<String>,
    /// Published ports, `0.0.0.0:8080->80/tcp` (a list entry carries them
    /// too).
    pub ports: Vec<String>,
    /// The healthcheck's test as the container has it (`CMD …`,
    /// `CMD-SHELL …`; empty without one; [`observe_detailed`] only).
    pub health_test: Vec<String>,
    /// The healthcheck's timeout ([`observe_detailed`] only).
    pub health_timeout: Option<std::time::Duration>,
    /// The engine's log file of the container ([`observe_detailed`] only).
    pub log_path: Option<String>,
    /// `init: true` ([`observe_detailed`] only).
    pub init: bool,
    /// The engine's human status text (`Up 3 minutes (healthy)`).
    pub status_text: String,
    pub labels: HashMap<String, String>,
    /// Anonymous volumes mounted in the container (the engine named them:
    /// 64 hex digits), which a recreated container takes over.
    pub anonymous_volumes: Vec<AnonymousVolume>,
}

/// An anonymous volume and where a container mounts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnonymousVolume {
    pub name: String,
    pub destination: String,
}

/// Whether a volume name is one the engine made up (64 hex digits).
pub fn is_anonymous_volume_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ObservedContainer {
    /// Running (or restarting/paused: the process exists).
    pub fn is_running(&self) -> bool {
        matches!(
            self.state,
            RunState::Running | RunState::Paused | RunState::Restarting
        )
    }
}

/// A container's lifecycle state as the engine names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Removing,
    Dead,
    #[default]
    Unknown,
}

impl RunState {
    /// Parses the engine's state word.
    pub fn parse(word: &str) -> RunState {
        match word {
            "created" => RunState::Created,
            "running" => RunState::Running,
            "paused" => RunState::Paused,
            "restarting" => RunState::Restarting,
            "exited" => RunState::Exited,
            "removing" => RunState::Removing,
            "dead" => RunState::Dead,
            _ => RunState::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Created => "created",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Restarting => "restarting",
            RunState::Exited => "exited",
            RunState::Removing => "removing",
            RunState::Dead => "dead",
            RunState::Unknown => "unknown",
        }
    }
}

/// A container's healthcheck state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthState {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthState {
    /// Parses the engine's health word (`starting`, `healthy`, `unhealthy`).
    pub fn parse(word: &str) -> Option<HealthState> {
        match word {
            "starting" => Some(HealthState::Starting),
            "healthy" => Some(HealthState::Healthy),
            "unhealthy" => Some(HealthState::Unhealthy),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Starting => "starting",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
        }
    }
}

/// A network of the project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedNetwork {
    pub id: String,
    /// The engine-side name (e.g. `demo_default`).
    pub name: String,
    /// `com.docker.compose.network`: the key in the spec (e.g. `default`).
    pub key: Option<String>,
    pub driver: Option<String>,
    pub labels: HashMap<String, String>,
}

/// A named volume of the project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedVolume {
    /// The engine-side name (e.g. `demo_data`).
    pub name: String,
    /// `com.docker.compose.volume`: the key in the spec (e.g. `data`).
    pub key: Option<String>,
    pub driver: String,
    pub labels: HashMap<String, String>,
}

impl ProjectState {
    /// Containers of `service` (one-off containers excluded), by number.
    pub fn service_containers<'a>(
        &'a self,
        service: &'a str,
    ) -> impl Iterator<Item = &'a ObservedContainer> + 'a {
        self.containers
            .iter()
            .filter(move |c| c.service == service && !c.oneoff)
    }
}

/// The label filter selecting `project`'s objects, in the engine's filter form.
fn project_filters(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![labels::project_filter(project)])])
}

/// Lists the project's containers (all states), networks and volumes, in parallel.
pub async fn observe(engine: &Engine, project: &str) -> Result<ProjectState, ApiError> {
    let (containers, networks, volumes) = futures::try_join!(
        list_containers(engine, project),
        list_networks(engine, project),
        list_volumes(engine, project),
    )?;
    Ok(ProjectState {
        project: project.to_string(),
        containers,
        networks,
        volumes,
    })
}

/// [`observe`], then one inspect per container (in parallel) for exact health,
/// exit code, start/finish times, PID and restart count. A container removed
/// between the list and its inspect is dropped from the result.
pub async fn observe_detailed(engine: &Engine, project: &str) -> Result<ProjectState, ApiError> {
    let mut state = observe(engine, project).await?;
    let inspections = join_all(
        state
            .containers
            .iter()
            .map(|c| super::inspect::inspect(engine, c.clone())),
    )
    .await;
    let mut containers = Vec::with_capacity(inspections.len());
    for result in inspections {
        match result {
            Ok(Some(c)) => containers.push(c),
            Ok(None) => {}
            Err(err) => return Err(err),
        }
    }
    state.containers = containers;
    Ok(state)
}

/// The project's containers, any state, sorted by service, one-off, number.
pub async fn list_containers(
    engine: &Engine,
    project: &str,
) -> Result<Vec<ObservedContainer>, ApiError> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(project_filters(project)),
        ..Default::default()
    };
    let summaries = engine
        .request(
            format!("list containers of project {project}"),
            engine.docker().list_containers(Some(options)),
        )
        .await?;
    let mut containers: Vec<ObservedContainer> = summaries
        .into_iter()
        .filter_map(container_from_summary)
        // The engine filtered by label already; never trust, always check.
        .filter(|c| c.labels.get(labels::PROJECT).map(String::as_str) == Some(project))
        .collect();
    containers.sort_by(|a, b| {
        (a.service.as_str(), a.oneoff, a.number, a.name.as_str()).cmp(&(
            b.service.as_str(),
            b.oneoff,
            b.number,
            b.name.as_str(),
        ))
    });
    Ok(containers)
}

/// Who holds a container name.
#[derive(Debug, Clone, PartialEq)]
pub enum NameHolder {
    /// No container answers to it (yet: a create in flight reserves the
    /// name before the container can be inspected).
    Nobody,
    /// A container without the project's label: torq never touches it.
    Foreign,
    /// A container of the project.
    Ours(Box<ObservedContainer>),
}

/// Who holds the container name `name`, inspected by name.
pub async fn name_holder(
    engine: &Engine,
    project: &str,
    name: &str,
) -> Result<NameHolder, ApiError> {
    let inspected = match engine
        .request(
            format!("inspect container {name}"),
            engine.docker().inspect_container(name, None),
        )
        .await
    {
        Ok(inspected) => inspected,
        Err(err) if err.is_not_found() => return Ok(NameHolder::Nobody),
        Err(err) => return Err(err),
    };
    let ours = inspected
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(labels::PROJECT))
        .is_some_and(|p| p == project);
    if !ours || inspected.id.is_none() {
        return Ok(NameHolder::Foreign);
    }
    let mut container = ObservedContainer::default();
    super::inspect::refine(&mut container, inspected);
    Ok(NameHolder::Ours(Box::new(container)))
}

/// The project's containers of `services` (all when empty), one-off
/// containers excluded, by service then number.
pub async fn service_containers(
    engine: &Engine,
    project: &str,
    services: &[String],
) -> Result<Vec<ObservedContainer>, ApiError> {
    let mut containers = list_containers(engine, project).await?;
    containers.retain(|c| !c.oneoff && (services.is_empty() || services.contains(&c.service)));
    Ok(containers)
}

/// The project's networks, sorted by name.
pub async fn list_networks(
    engine: &Engine,
    project: &str,
) -> Result<Vec<ObservedNetwork>, ApiError> {
    let options = ListNetworksOptions {
        filters: Some(project_filters(project)),
    };
    let networks = engine
        .request(
            format!("list networks of project {project}"),
            engine.docker().list_networks(Some(options)),
        )
        .await?;
    let mut networks: Vec<ObservedNetwork> = networks
        .into_iter()
        .map(|n| {
            let labels = n.labels.unwrap_or_default();
            ObservedNetwork {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                key: labels.get(labels::NETWORK).cloned(),
                driver: n.driver,
                labels,
            }
        })
        .filter(|n| n.labels.get(labels::PROJECT).map(String::as_str) == Some(project))
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(networks)
}

/// The project's volumes, sorted by name.
pub async fn list_volumes(engine: &Engine, project: &str) -> Result<Vec<ObservedVolume>, ApiError> {
    let options = ListVolumesOptions {
        filters: Some(project_filters(project)),
    };
    let response = engine
        .request(
            format!("list volumes of project {project}"),
            engine.docker().list_volumes(Some(options)),
        )
        .await?;
    let mut volumes: Vec<ObservedVolume> = response
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| ObservedVolume {
            key: v.labels.get(labels::VOLUME).cloned(),
            name: v.name,
            driver: v.driver,
            labels: v.labels,
        })
        .filter(|v| v.labels.get(labels::PROJECT).map(String::as_str) == Some(project))
        .collect();
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(volumes)
}

/// One container from a list entry; `None` when the engine gave no id.
fn container_from_summary(summary: ContainerSummary) -> Option<ObservedContainer> {
    let id = summary.id?;
    let anonymous_volumes = summary
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| {
            let name = m.name.filter(|n| is_anonymous_volume_name(n))?;
            let destination = m.destination.filter(|d| !d.is_empty())?;
            Some(AnonymousVolume { name, destination })
        })
        .collect();
    let labels = summary.labels.unwrap_or_default();
    let name = summary
        .names
        .and_then(|names| names.into_iter().next())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| id.chars().take(12).collect());
    let status_text = summary.status.unwrap_or_default();
    let state = summary
        .state
        .map(state_from_summary)
        .unwrap_or(RunState::Unknown);
    let health = if state == RunState::Running {
        health_from_status_text(&status_text)
    } else {
        None
    };
    let exit_code = match state {
        RunState::Exited | RunState::Dead => exit_code_from_status_text(&status_text),
        _ => None,
    };
    let ports = published_ports(summary.ports.as_deref().unwrap_or_default());
    Some(ObservedContainer {
        service: labels.get(labels::SERVICE).cloned().unwrap_or_default(),
        number: labels
            .get(labels::CONTAINER_NUMBER)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        oneoff: labels
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        config_hash: labels.get(labels::CONFIG_HASH).cloned(),
        image: summary.image.unwrap_or_default(),
        image_id: summary.image_id.unwrap_or_default(),
        created: summary.created.unwrap_or(0),
        id,
        name,
        state,
        health,
        exit_code,
        status_text,
        labels,
        anonymous_volumes,
        ports,
        ..ObservedContainer::default()
    })
}

/// `0.0.0.0:8080->80/tcp` for each published port of a list entry, sorted.
fn published_ports(ports: &[PortSummary]) -> Vec<String> {
    let mut out: Vec<String> = ports
        .iter()
        .filter_map(|p| {
            let host_port = p.public_port.filter(|port| *port > 0)?;
            let protocol = p
                .typ
                .as_ref()
                .map(ToString::to_string)
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "tcp".into());
            Some(port_text(
                p.ip.as_deref(),
                &host_port.to_string(),
                &format!("{}/{protocol}", p.private_port),
            ))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `IP:HOST_PORT->CONTAINER_PORT/PROTO`, an IPv6 address in brackets, no
/// address meaning all of IPv4 (`0.0.0.0`), as `docker ps` writes it.
pub(crate) fn port_text(ip: Option<&str>, host_port: &str, container_port: &str) -> String {
    let ip = ip.filter(|ip| !ip.is_empty()).unwrap_or("0.0.0.0");
    if ip.contains(':') {
        format!("[{ip}]:{host_port}->{container_port}")
    } else {
        format!("{ip}:{host_port}->{container_port}")
    }
}

fn state_from_summary(state: ContainerSummaryStateEnum) -> RunState {
    RunState::parse(state.as_ref())
}

/// `Up 3 seconds (healthy)` → healthy; `(health: starting)` → starting.
pub fn health_from_status_text(status: &str) -> Option<HealthState> {
    if status.contains("(health: starting)") {
        Some(HealthState::Starting)
    } else if status.contains("(unhealthy)") {
        Some(HealthState::Unhealthy)
    } else if status.contains("(healthy)") {
        Some(HealthState::Healthy)
    } else {
        None
    }
}

/// `Exited (137) 2 seconds ago` → 137.
pub fn exit_code_from_status_text(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    let end = rest.find(')')?;
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_read_from_status_text() {
        assert_eq!(
            health_from_status_text("Up 3 seconds (healthy)"),
            Some(HealthState::Healthy)
        );
        assert_eq!(
            health_from_status_text("Up 1 second (health: starting)"),
            Some(HealthState::Starting)
        );
        assert_eq!(
            health_from_status_text("Up 2 minutes (unhealthy)"),
            Some(HealthState::Unhealthy)
        );
        assert_eq!(health_from_status_text("Up 2 minutes"), None);
    }

    #[test]
    fn exit_code_is_read_from_status_text() {
        assert_eq!(
            exit_code_from_status_text("Exited (137) 2 seconds ago"),
            Some(137)
        );
        assert_eq!(exit_code_from_status_text("Exited (0) 1 hour ago"), Some(0));
        assert_eq!(exit_code_from_status_text("Up 2 minutes"), None);
    }

    #[test]
    fn summary_becomes_container() {
        let summary = ContainerSummary {
            id: Some("abc".into()),
            names: Some(vec!["/demo-web-2".into()]),
            image: Some("busybox".into()),
            image_id: Some("sha256:1".into()),
            created: Some(10),
            state: Some(ContainerSummaryStateEnum::EXITED),
            status: Some("Exited (3) 5 seconds ago".into()),
            labels: Some(HashMap::from([
                (labels::PROJECT.to_string(), "demo".to_string()),
                (labels::SERVICE.to_string(), "web".to_string()),
                (labels::CONTAINER_NUMBER.to_string(), "2".to_string()),
                (labels::ONEOFF.to_string(), "False".to_string()),
                (labels::CONFIG_HASH.to_string(), "h".to_string()),
            ])),
            ..Default::default()
        };
        let c = container_from_summary(summary).unwrap();
        assert_eq!(c.name, "demo-web-2");
        assert_eq!(c.service, "web");
        assert_eq!(c.number, 2);
        assert!(!c.oneoff);
        assert_eq!(c.state, RunState::Exited);
        assert_eq!(c.exit_code, Some(3));
        assert_eq!(c.config_hash.as_deref(), Some("h"));
        assert!(!c.is_running());
        assert!(c.ports.is_empty());
    }

    #[test]
    fn published_ports_of_a_list_entry() {
        use bollard::models::PortSummaryTypeEnum;
        let port = |ip: Option<&str>, private_port, public_port| PortSummary {
            ip: ip.map(String::from),
            private_port,
            public_port,
            typ: Some(PortSummaryTypeEnum::TCP),
        };
        let ports = [
            port(Some("0.0.0.0"), 80, Some(8080)),
            port(Some("::"), 80, Some(8080)),
            port(None, 9000, None),
        ];
        assert_eq!(
            published_ports(&ports),
            ["0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp"]
        );
    }

    #[test]
    fn state_words_round_trip() {
        for word in [
            "created",
            "running",
            "paused",
            "restarting",
            "exited",
            "removing",
            "dead",
        ] {
            assert_eq!(RunState::parse(word).as_str(), word);
        }
    }
}
