//! Single engine operations on a project's objects — create, start, stop,
//! kill and remove containers; create and remove networks and volumes; run a
//! command in a container; read a container's last log lines — each under a
//! deadline, each naming its object in errors.
//!
//! Operations that stop or remove take an object observed with the project's
//! label ([`super::state`]) and check that label again, so torq never touches
//! an object of another project or an unlabeled one.

use std::collections::HashMap;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, NetworkConnectRequest, NetworkCreateRequest,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, LogsOptions, RemoveContainerOptions, RemoveVolumeOptions,
    RenameContainerOptions, StopContainerOptions,
};
use futures::StreamExt;

use super::error::{with_deadline, ApiError, QUICK};
use super::labels;
use super::Engine;
use crate::compose::model::{Network, Volume};

/// Extra time a stop may take beyond its grace period before torq calls it hung.
const STOP_SLACK: Duration = Duration::from_secs(30);

/// Creates container `name`; returns its id.
pub(crate) async fn create_container(
    engine: &Engine,
    name: &str,
    body: ContainerCreateBody,
) -> Result<String, ApiError> {
    let options = CreateContainerOptions {
        name: Some(name.to_string()),
        ..Default::default()
    };
    let response = engine
        .request(
            format!("create container {name}"),
            engine.docker().create_container(Some(options), body),
        )
        .await?;
    Ok(response.id)
}

/// Connects a created container to one more network (API 1.41 attaches only
/// one network at create).
pub(crate) async fn connect_network(
    engine: &Engine,
    container: &str,
    network: &str,
    endpoint: EndpointSettings,
) -> Result<(), ApiError> {
    let request = NetworkConnectRequest {
        container: container.to_string(),
        endpoint_config: Some(endpoint),
    };
    engine
        .request(
            format!("connect container {container} to network {network}"),
            engine.docker().connect_network(network, request),
        )
        .await
}

/// Renames container `id` (made by torq a moment ago) to `name`.
pub async fn rename_container(engine: &Engine, id: &str, name: &str) -> Result<(), ApiError> {
    let short: String = id.chars().take(12).collect();
    let options = RenameContainerOptions {
        name: name.to_string(),
    };
    engine
        .request(
            format!("rename container {short} to {name}"),
            engine.docker().rename_container(id, options),
        )
        .await
}

/// Whether container `id` runs or restarts now (false when it cannot be read).
pub async fn is_running(engine: &Engine, id: &str) -> bool {
    let inspected = engine
        .request(
            format!("inspect container {id}"),
            engine.docker().inspect_container(id, None),
        )
        .await;
    let Ok(Some(state)) = inspected.map(|i| i.state) else {
        return false;
    };
    state.running == Some(true) || state.restarting == Some(true)
}

/// Whether a start request started the container, or found it running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    Now,
    AlreadyRunning,
}

/// Starts a container (already running counts as success).
pub(crate) async fn start_container(engine: &Engine, name: &str) -> Result<Started, ApiError> {
    match engine
        .request(
            format!("start container {name}"),
            engine.docker().start_container(name, None),
        )
        .await
    {
        Ok(()) => Ok(Started::Now),
        Err(err) if err.is_not_modified() => Ok(Started::AlreadyRunning),
        Err(err) => Err(err),
    }
}

/// The engine's account of a container's current run: when it started
/// (engine time, ns) and, if it already ended, its exit code.
pub(crate) async fn current_run(
    engine: &Engine,
    id: &str,
) -> Result<Option<(i64, Option<i64>)>, ApiError> {
    let inspect = engine.docker().inspect_container(id, None);
    let state = engine
        .request(format!("inspect container {id}"), inspect)
        .await?
        .state
        .unwrap_or_default();
    let started_at = state
        .started_at
        .as_deref()
        .and_then(|t| crate::logs::time::parse_rfc3339(t.as_bytes()));
    let exit_code = match state.running {
        Some(true) => None,
        _ => state.exit_code,
    };
    Ok(started_at.map(|at| (at, exit_code)))
}

/// Stops a container: its stop signal, then SIGKILL after `grace` (or the
/// container's own stop timeout when `None`). Already stopped is success.
pub(crate) async fn stop_container(
    engine: &Engine,
    id: &str,
    name: &str,
    grace: Option<Duration>,
) -> Result<(), ApiError> {
    let options = StopContainerOptions {
        t: grace.map(|g| i32::try_from(g.as_secs()).unwrap_or(i32::MAX)),
        signal: None,
    };
    let deadline = grace.unwrap_or(Duration::from_secs(
        super::container::DEFAULT_STOP_GRACE_SECS as u64,
    )) + STOP_SLACK;
    match engine
        .request_within(
            format!("stop container {name}"),
            deadline,
            engine.docker().stop_container(id, Some(options)),
        )
        .await
    {
        Err(err) if err.is_not_modified() || err.is_not_found() => Ok(()),
        other => other,
    }
}

/// How a container is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Removal {
    /// Kill it first if it runs.
    pub force: bool,
    /// Remove its anonymous volumes with it.
    pub anonymous_volumes: bool,
}

/// Removes a container. Already gone is success.
pub(crate) async fn remove_container(
    engine: &Engine,
    id: &str,
    name: &str,
    removal: Removal,
) -> Result<(), ApiError> {
    let options = RemoveContainerOptions {
        v: removal.anonymous_volumes,
        force: removal.force,
        link: false,
    };
    match engine
        .request(
            format!("remove container {name}"),
            engine.docker().remove_container(id, Some(options)),
        )
        .await
    {
        Err(err) if err.is_not_found() => Ok(()),
        // "removal already in progress": someone else is removing it.
        Err(err) if err.is_conflict() && err.message().contains("already in progress") => Ok(()),
        other => other,
    }
}

/// Creates network `key` of `project` (name, driver, options, labels).
/// An existing network of the same name is success.
pub(crate) async fn create_network(
    engine: &Engine,
    project: &str,
    key: &str,
    name: &str,
    spec: Option<&Network>,
) -> Result<(), ApiError> {
    let mut labels_map: HashMap<String, String> = spec
        .map(|n| {
            n.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    labels_map.insert(labels::PROJECT.into(), project.to_string());
    labels_map.insert(labels::NETWORK.into(), key.to_string());
    labels_map.insert(
        labels::VERSION.into(),
        super::container::TORQ_VERSION_LABEL.into(),
    );
    let request = NetworkCreateRequest {
        name: name.to_string(),
        driver: Some(
            spec.and_then(|n| n.driver.clone())
                .unwrap_or_else(|| "bridge".into()),
        ),
        internal: spec.map(|n| n.internal).filter(|i| *i),
        attachable: spec.map(|n| n.attachable).filter(|a| *a),
        enable_ipv6: spec.and_then(|n| n.enable_ipv6),
        options: spec
            .map(|n| {
                n.driver_opts
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>()
            })
            .filter(|o| !o.is_empty()),
        ipam: spec.and_then(|n| n.ipam.as_ref()).and_then(api_ipam),
        labels: Some(labels_map),
        ..Default::default()
    };
    match engine
        .request(
            format!("create network {name}"),
            engine.docker().create_network(request),
        )
        .await
    {
        Err(err) if err.is_conflict() => Ok(()),
        Ok(_) => {
            keep_one_network(engine, project, name).await;
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// API 1.41 creates a second network of a name that exists (the duplicate
/// check is opt-in, and racy): an `up` killed while its create was in flight
/// and the `up` after it can both make one, and containers then cannot
/// attach by name. Every torq keeps the earliest-made of the project's
/// networks of that name and removes the others (one in use stays).
async fn keep_one_network(engine: &Engine, project: &str, name: &str) {
    let filters = HashMap::from([
        ("name".to_string(), vec![name.to_string()]),
        ("label".to_string(), vec![labels::project_filter(project)]),
    ]);
    let options = bollard::query_parameters::ListNetworksOptions {
        filters: Some(filters),
    };
    let Ok(mut same) = engine
        .request(
            format!("list networks named {name}"),
            engine.docker().list_networks(Some(options)),
        )
        .await
    else {
        return;
    };
    same.retain(|n| n.name.as_deref() == Some(name) && n.id.is_some());
    same.sort_by(|a, b| (&a.created, &a.id).cmp(&(&b.created, &b.id)));
    for extra in same.iter().skip(1).filter_map(|n| n.id.as_deref()) {
        if let Err(err) = remove_network(engine, extra, name).await {
            tracing::debug!(network = %name, %err, "duplicate network kept");
        }
    }
}

/// A network's `ipam` as the API's IPAM (`None` when it does not fit).
pub(crate) fn api_ipam(value: &serde_json::Value) -> Option<bollard::models::Ipam> {
    serde_json::from_value(ipam_to_api(value.clone())).ok()
}

/// The spec's `ipam` (compose keys, lowercase) in the API's shape.
fn ipam_to_api(value: serde_json::Value) -> serde_json::Value {
    use serde_json::{json, Value};
    let get = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    let config: Vec<Value> = value
        .get("config")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|c| {
                    json!({
                        "Subnet": get(c, "subnet"),
                        "IPRange": get(c, "ip_range"),
                        "Gateway": get(c, "gateway"),
                        "AuxiliaryAddresses": get(c, "aux_addresses"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "Driver": get(&value, "driver"),
        "Config": config,
        "Options": get(&value, "options"),
    })
}

/// Removes a network. Gone is success.
pub(crate) async fn remove_network(engine: &Engine, id: &str, name: &str) -> Result<(), ApiError> {
    let removed = engine
        .request(
            format!("remove network {name}"),
            engine.docker().remove_network(id),
        )
        .await;
    let leaked = match &removed {
        Err(err) if err.is_forbidden() => no_container_attached(engine, id).await,
        _ => false,
    };
    match removed {
        Err(err) if err.is_not_found() => Ok(()),
        Err(err) if leaked => Err(ApiError::Engine {
            op: format!("remove network {name}"),
            message: format!(
                "{}; no container is attached to it: the engine's endpoint count leaked \
                     (a known Docker engine bug, moby/moby#42119, seen after removing hundreds \
                     of containers at once); restarting the Docker daemon clears it",
                err.message()
            ),
            status: Some(403),
        }),
        other => other,
    }
}

/// Whether network `id` has no container attached, by the engine's own
/// inspect (false when it cannot be read).
async fn no_container_attached(engine: &Engine, id: &str) -> bool {
    let options = bollard::query_parameters::InspectNetworkOptions::default();
    match engine.docker().inspect_network(id, Some(options)).await {
        Ok(network) => network.containers.is_none_or(|c| c.is_empty()),
        Err(_) => false,
    }
}

/// Creates volume `key` of `project`. An existing volume is success.
pub(crate) async fn create_volume(
    engine: &Engine,
    project: &str,
    key: &str,
    name: &str,
    spec: Option<&Volume>,
) -> Result<(), ApiError> {
    let mut labels_map: HashMap<String, String> = spec
        .map(|v| {
            v.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    labels_map.insert(labels::PROJECT.into(), project.to_string());
    labels_map.insert(labels::VOLUME.into(), key.to_string());
    labels_map.insert(
        labels::VERSION.into(),
        super::container::TORQ_VERSION_LABEL.into(),
    );
    let request = VolumeCreateRequest {
        name: Some(name.to_string()),
        driver: spec.and_then(|v| v.driver.clone()),
        driver_opts: spec
            .map(|v| {
                v.driver_opts
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>()
            })
            .filter(|o| !o.is_empty()),
        labels: Some(labels_map),
        ..Default::default()
    };
    engine
        .request(
            format!("create volume {name}"),
            engine.docker().create_volume(request),
        )
        .await
        .map(|_| ())
}

/// Removes a volume. Gone is success.
pub(crate) async fn remove_volume(engine: &Engine, name: &str) -> Result<(), ApiError> {
    match engine
        .request(
            format!("remove volume {name}"),
            engine
                .docker()
                .remove_volume(name, Some(RemoveVolumeOptions { force: false })),
        )
        .await
    {
        Err(err) if err.is_not_found() => Ok(()),
        other => other,
    }
}

/// Runs `cmd` in a running container and returns its exit code, within `deadline`.
pub(crate) async fn exec_exit_code(
    engine: &Engine,
    container: &str,
    cmd: Vec<String>,
    deadline: Duration,
) -> Result<i64, ApiError> {
    let op = format!("exec in container {container}");
    let run = async {
        let created = engine
            .docker()
            .create_exec(
                container,
                CreateExecOptions::<String> {
                    cmd: Some(cmd),
                    attach_stdout: Some(false),
                    attach_stderr: Some(false),
                    attach_stdin: Some(false),
                    ..Default::default()
                },
            )
            .await?;
        let started = engine
            .docker()
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await?;
        if let StartExecResults::Attached { mut output, .. } = started {
            // With no stream attached the engine answers once the command
            // started, not when it exits: drain what there is, then wait.
            while let Some(item) = output.next().await {
                item?;
            }
        }
        wait_for_exec_exit(engine, &created.id).await
    };
    with_deadline(op, deadline, run).await
}

/// Polls an exec until it no longer runs, then gives its exit code (the
/// caller's deadline bounds the wait).
async fn wait_for_exec_exit(engine: &Engine, exec_id: &str) -> Result<i64, bollard::errors::Error> {
    let mut pause = Duration::from_millis(5);
    loop {
        let inspected = engine.docker().inspect_exec(exec_id).await?;
        if inspected.running != Some(true) {
            if let Some(code) = inspected.exit_code {
                return Ok(code);
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The last `lines` lines a container wrote (stdout and stderr), oldest first.
pub(crate) async fn tail_logs(
    engine: &Engine,
    id: &str,
    lines: usize,
) -> Result<Vec<String>, ApiError> {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: lines.to_string(),
        ..Default::default()
    };
    let read = async {
        let mut stream = engine.docker().logs(id, Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
        }
        Ok(text)
    };
    let text = with_deadline(format!("read logs of container {id}"), QUICK, read).await?;
    Ok(text
        .lines()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipam_keys_become_api_keys() {
        let v = serde_json::json!({"driver": "default", "config": [{"subnet": "10.5.0.0/16", "gateway": "10.5.0.1"}]});
        let api = ipam_to_api(v);
        assert_eq!(api["Config"][0]["Subnet"], "10.5.0.0/16");
        assert_eq!(api["Driver"], "default");
    }
}
