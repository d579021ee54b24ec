//! What `up` checks before it creates anything, as docker compose does:
//!
//! - every `external: true` network and volume the selected services use
//!   exists (compose: `network X declared as external, but could not be
//!   found`, `external volume "X" not found`); on a swarm manager a missing
//!   external network may be an overlay network of another node, so it
//!   passes;
//! - a project network found by name belongs to this project's key
//!   (compose: `network X was found but has incorrect label
//!   com.docker.compose.network set to "" (expected: "front")`), and a
//!   network or volume created outside torq/compose or for another project
//!   is used with a warning;
//! - a network or volume of the project whose driver, options or labels no
//!   longer match the spec is used as it is, with a warning saying how to
//!   recreate it (compose recreates a diverged network, which stops every
//!   container on it, and asks before recreating a volume; torq never drops
//!   data or connectivity on its own);
//! - every selected service can be created as specified
//!   ([`container::check_service`]: secrets and configs, security options).
//!
//! Errors come back together, so one run names every problem.

use std::collections::HashMap;

use bollard::models::{LocalNodeState, Network as ApiNetwork};
use bollard::query_parameters::ListNetworksOptions;
use futures::future::join_all;

use super::container::{self, service_network_keys};
use super::error::ApiError;
use super::labels;
use super::Engine;
use crate::compose::model::{Network, Project, Volume};
use crate::naming::{network_name, volume_name};

/// The outcome of the checks: warnings to show; errors refuse the `up`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Preflight {
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

impl Preflight {
    /// The errors as one message (one per line), if any.
    pub(crate) fn error(&self) -> Option<anyhow::Error> {
        (!self.errors.is_empty()).then(|| anyhow::anyhow!("{}", self.errors.join("\n")))
    }
}

/// Runs every check for the selected `services`.
pub(crate) async fn check(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> Result<Preflight, ApiError> {
    let mut report = Preflight::default();
    for name in services {
        if let Some(service) = project.services.get(name) {
            let check = container::check_service(project, service);
            report.errors.extend(check.errors);
            report.warnings.extend(check.warnings);
        }
    }
    let (networks, volumes) = tokio::join!(
        check_networks(engine, project, services),
        check_volumes(engine, project, services),
    );
    for part in [networks?, volumes?] {
        report.errors.extend(part.errors);
        report.warnings.extend(part.warnings);
    }
    Ok(report)
}

/// External networks exist; project networks found by name are ours.
async fn check_networks(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> Result<Preflight, ApiError> {
    let mut report = Preflight::default();
    let networks = used_networks(project, services);
    if networks.is_empty() {
        return Ok(report);
    }
    let found = list_networks_named(engine, networks.iter().map(|n| n.1.as_str())).await?;
    let mut swarm: Option<bool> = None;
    for (key, name, spec) in &networks {
        let matching: Vec<&ApiNetwork> = found
            .iter()
            .filter(|n| n.name.as_deref() == Some(name.as_str()))
            .collect();
        if spec.is_some_and(|s| s.external) {
            if matching.is_empty() && !network_exists_by_id(engine, name).await? {
                if swarm.is_none() {
                    swarm = Some(swarm_active(engine).await?);
                }
                if swarm != Some(true) {
                    report.errors.push(format!(
                        "network {name} declared as external, but could not be found"
                    ));
                }
            }
            continue;
        }
        if let Some(network) = matching.first() {
            check_network(&project.name, key, name, *spec, network, &mut report);
        }
    }
    Ok(report)
}

/// External volumes exist; project volumes found by name are ours.
async fn check_volumes(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> Result<Preflight, ApiError> {
    let mut report = Preflight::default();
    let volumes = used_volumes(project, services);
    let inspected = join_all(
        volumes
            .iter()
            .map(|(_, name, _)| inspect_volume(engine, name)),
    )
    .await;
    for ((_, name, spec), found) in volumes.iter().zip(inspected) {
        match found? {
            None if spec.external => report
                .errors
                .push(format!("external volume \"{name}\" not found")),
            None => {}
            Some(_) if spec.external => {}
            Some(volume) => check_volume(&project.name, name, spec, &volume, &mut report),
        }
    }
    Ok(report)
}

/// (key, engine name, spec) of every network the services join, once each.
fn used_networks<'a>(
    project: &'a Project,
    services: &[String],
) -> Vec<(String, String, Option<&'a Network>)> {
    let mut out: Vec<(String, String, Option<&Network>)> = Vec::new();
    for service in services.iter().filter_map(|s| project.services.get(s)) {
        for key in service_network_keys(service) {
            if out.iter().any(|(k, _, _)| *k == key) {
                continue;
            }
            let name = network_name(project, &key);
            out.push((key.clone(), name, project.networks.get(&key)));
        }
    }
    out
}

/// (key, engine name, spec) of every top-level volume the services mount.
fn used_volumes<'a>(
    project: &'a Project,
    services: &[String],
) -> Vec<(String, String, &'a Volume)> {
    let mut out: Vec<(String, String, &Volume)> = Vec::new();
    for service in services.iter().filter_map(|s| project.services.get(s)) {
        for key in container::service_volume_keys(service) {
            let Some(spec) = project.volumes.get(&key) else {
                continue;
            };
            if out.iter().any(|(k, _, _)| *k == key) {
                continue;
            }
            out.push((key.clone(), volume_name(project, &key), spec));
        }
    }
    out
}

/// Networks whose name contains one of `names` (the engine's filter
/// matches substrings; callers match exactly).
async fn list_networks_named(
    engine: &Engine,
    names: impl Iterator<Item = &str>,
) -> Result<Vec<ApiNetwork>, ApiError> {
    let options = ListNetworksOptions {
        filters: Some(HashMap::from([(
            "name".to_string(),
            names.map(String::from).collect(),
        )])),
    };
    engine
        .request(
            "list networks",
            engine.docker().list_networks(Some(options)),
        )
        .await
}

/// An external network may be named by its id.
async fn network_exists_by_id(engine: &Engine, id: &str) -> Result<bool, ApiError> {
    match engine
        .request(
            format!("inspect network {id}"),
            engine
                .docker()
                .inspect_network(id, None::<bollard::query_parameters::InspectNetworkOptions>),
        )
        .await
    {
        Ok(network) => Ok(network.id.as_deref() == Some(id)),
        Err(err) if err.is_not_found() => Ok(false),
        Err(err) => Err(err),
    }
}

async fn swarm_active(engine: &Engine) -> Result<bool, ApiError> {
    let info = engine
        .request("read engine info", engine.docker().info())
        .await?;
    Ok(info.swarm.and_then(|s| s.local_node_state) == Some(LocalNodeState::ACTIVE))
}

async fn inspect_volume(
    engine: &Engine,
    name: &str,
) -> Result<Option<bollard::models::Volume>, ApiError> {
    match engine
        .request(
            format!("inspect volume {name}"),
            engine.docker().inspect_volume(name),
        )
        .await
    {
        Ok(volume) => Ok(Some(volume)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// Checks a project network found by name: its labels and configuration.
fn check_network(
    project: &str,
    key: &str,
    name: &str,
    spec: Option<&Network>,
    found: &ApiNetwork,
    report: &mut Preflight,
) {
    let found_labels = found.labels.clone().unwrap_or_default();
    match found_labels.get(labels::PROJECT) {
        None => report.warnings.push(format!(
            "a network with name {name} exists but was not created by torq or compose; set `external: true` to use an existing network"
        )),
        Some(p) if p != project => report.warnings.push(format!(
            "a network with name {name} exists but was created for project {p:?}; set `external: true` to use an existing network"
        )),
        Some(_) => {}
    }
    let found_key = found_labels
        .get(labels::NETWORK)
        .map(String::as_str)
        .unwrap_or("");
    if found_key != key {
        report.errors.push(format!(
            "network {name} was found but has incorrect label {} set to {found_key:?} (expected: {key:?})",
            labels::NETWORK
        ));
        return;
    }
    let diffs = network_differences(spec, found);
    if !diffs.is_empty() {
        report.warnings.push(format!(
            "network {name} exists with a different configuration ({}); torq leaves it as it is: `torq down` then `torq up` recreates it",
            diffs.join(", ")
        ));
    }
}

/// How a network differs from its spec (driver, internal, attachable,
/// IPv6, options, labels, IPAM subnets); engine-added options and labels
/// are not differences.
pub(crate) fn network_differences(spec: Option<&Network>, found: &ApiNetwork) -> Vec<String> {
    let mut diffs = Vec::new();
    let want_driver = spec.and_then(|s| s.driver.as_deref()).unwrap_or("bridge");
    let have_driver = found.driver.as_deref().unwrap_or("");
    if want_driver != have_driver {
        diffs.push(format!("driver {have_driver}, spec {want_driver}"));
    }
    let Some(spec) = spec else {
        return diffs;
    };
    if spec.internal != found.internal.unwrap_or(false) {
        diffs.push(format!(
            "internal {}, spec {}",
            !spec.internal, spec.internal
        ));
    }
    if spec.attachable && !found.attachable.unwrap_or(false) {
        diffs.push("not attachable, spec attachable".into());
    }
    let options = found.options.clone().unwrap_or_default();
    diffs.extend(map_differences("option", &spec.driver_opts, &options));
    let found_labels = found.labels.clone().unwrap_or_default();
    diffs.extend(map_differences("label", &spec.labels, &found_labels));
    let subnets: Vec<String> = found
        .ipam
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .map(|c| c.iter().filter_map(|c| c.subnet.clone()).collect())
        .unwrap_or_default();
    let wanted_subnets = spec
        .ipam
        .as_ref()
        .and_then(|i| i.get("config"))
        .and_then(|c| c.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|c| c.get("subnet").and_then(|s| s.as_str()))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for subnet in wanted_subnets {
        if !subnets.contains(&subnet) {
            diffs.push(format!("no subnet {subnet}"));
        }
    }
    diffs
}

/// Entries of `want` that `have` lacks or holds with another value.
fn map_differences(
    what: &str,
    want: &indexmap::IndexMap<String, String>,
    have: &HashMap<String, String>,
) -> Vec<String> {
    want.iter()
        .filter_map(|(k, v)| match have.get(k) {
            Some(h) if h == v => None,
            Some(h) => Some(format!("{what} {k}={h}, spec {v}")),
            None => Some(format!("no {what} {k}")),
        })
        .collect()
}

/// Checks a project volume found by name: its labels and configuration.
fn check_volume(
    project: &str,
    name: &str,
    spec: &Volume,
    found: &bollard::models::Volume,
    report: &mut Preflight,
) {
    match found.labels.get(labels::PROJECT) {
        None => report.warnings.push(format!(
            "volume {name:?} already exists but was not created by torq or compose; use `external: true` to use an existing volume"
        )),
        Some(p) if p != project => report.warnings.push(format!(
            "volume {name:?} already exists but was created for project {p:?} (expected {project:?}); use `external: true` to use an existing volume"
        )),
        Some(_) => {}
    }
    let diffs = volume_differences(spec, found);
    if !diffs.is_empty() {
        report.warnings.push(format!(
            "volume {name:?} exists with a different configuration ({}); torq keeps it and its data: remove it (`torq down -v`) to recreate it",
            diffs.join(", ")
        ));
    }
}

/// How a volume differs from its spec (driver, options, labels).
pub(crate) fn volume_differences(spec: &Volume, found: &bollard::models::Volume) -> Vec<String> {
    let mut diffs = Vec::new();
    let want_driver = spec.driver.as_deref().unwrap_or("local");
    if want_driver != found.driver {
        diffs.push(format!("driver {}, spec {want_driver}", found.driver));
    }
    diffs.extend(map_differences("option", &spec.driver_opts, &found.options));
    diffs.extend(map_differences("label", &spec.labels, &found.labels));
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn found_network(labels: &[(&str, &str)], driver: &str) -> ApiNetwork {
        ApiNetwork {
            name: Some("demo_front".into()),
            driver: Some(driver.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn unlabeled_network_is_refused_as_compose_does() {
        let mut report = Preflight::default();
        check_network(
            "demo",
            "front",
            "demo_front",
            None,
            &found_network(&[], "bridge"),
            &mut report,
        );
        assert!(report.warnings[0].contains("was not created by torq or compose"));
        assert_eq!(
            report.errors,
            vec![
                "network demo_front was found but has incorrect label com.docker.compose.network set to \"\" (expected: \"front\")"
            ]
        );
    }

    #[test]
    fn another_projects_network_with_the_key_is_used_with_a_warning() {
        let mut report = Preflight::default();
        let found = found_network(
            &[(labels::PROJECT, "other"), (labels::NETWORK, "front")],
            "bridge",
        );
        check_network("demo", "front", "demo_front", None, &found, &mut report);
        assert!(report.errors.is_empty());
        assert!(report.warnings[0].contains("created for project \"other\""));
    }

    #[test]
    fn diverged_network_config_is_a_warning() {
        let spec = Network {
            driver: Some("bridge".into()),
            internal: true,
            driver_opts: IndexMap::from([(
                "com.docker.network.bridge.enable_icc".to_string(),
                "false".to_string(),
            )]),
            labels: IndexMap::from([("team".to_string(), "x".to_string())]),
            ..Default::default()
        };
        let found = found_network(
            &[
                (labels::PROJECT, "demo"),
                (labels::NETWORK, "front"),
                ("team", "y"),
            ],
            "bridge",
        );
        let mut report = Preflight::default();
        check_network(
            "demo",
            "front",
            "demo_front",
            Some(&spec),
            &found,
            &mut report,
        );
        assert!(report.errors.is_empty());
        let warning = &report.warnings[0];
        assert!(warning.contains("internal false, spec true"), "{warning}");
        assert!(
            warning.contains("no option com.docker.network.bridge.enable_icc"),
            "{warning}"
        );
        assert!(warning.contains("label team=y, spec x"), "{warning}");
        // Same config: nothing to say.
        let same = found_network(
            &[(labels::PROJECT, "demo"), (labels::NETWORK, "front")],
            "bridge",
        );
        assert!(network_differences(None, &same).is_empty());
    }

    #[test]
    fn volumes_found_elsewhere_or_diverged_warn() {
        let spec = Volume {
            driver_opts: IndexMap::from([("type".to_string(), "tmpfs".to_string())]),
            ..Default::default()
        };
        let found = bollard::models::Volume {
            name: "demo_data".into(),
            driver: "local".into(),
            ..Default::default()
        };
        let mut report = Preflight::default();
        check_volume("demo", "demo_data", &spec, &found, &mut report);
        assert!(report.warnings[0].contains("not created by torq or compose"));
        assert!(
            report.warnings[1].contains("no option type"),
            "{:?}",
            report.warnings
        );
        assert!(report.errors.is_empty());
    }

    #[test]
    fn errors_become_one_message() {
        let report = Preflight {
            warnings: vec!["w".into()],
            errors: vec!["a".into(), "b".into()],
        };
        assert_eq!(report.error().unwrap().to_string(), "a\nb");
        assert!(Preflight::default().error().is_none());
    }
}
