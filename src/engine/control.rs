//! Single engine requests behind the everyday commands: pause and unpause a
//! container, list its processes (`top`), read its published ports and the
//! facts of an image. Each names its operation and object in errors.

use std::collections::HashMap;

use bollard::query_parameters::{KillContainerOptions, TopOptions};

use super::error::ApiError;
use super::Engine;

/// Sends `signal` to a container (`kill`). A container that stopped
/// meanwhile is success.
pub(crate) async fn kill(
    engine: &Engine,
    id: &str,
    name: &str,
    signal: &str,
) -> Result<(), ApiError> {
    let options = KillContainerOptions {
        signal: signal.to_string(),
    };
    match engine
        .request(
            format!("send {signal} to container {name}"),
            engine.docker().kill_container(id, Some(options)),
        )
        .await
    {
        Err(err) if err.is_not_found() || err.is_conflict() => Ok(()),
        other => other,
    }
}

/// Pauses a running container (its processes freeze; `status` shows PAUSED).
pub(crate) async fn pause(engine: &Engine, id: &str, name: &str) -> Result<(), ApiError> {
    engine
        .request(
            format!("pause container {name}"),
            engine.docker().pause_container(id),
        )
        .await
}

/// Unpauses a paused container.
pub(crate) async fn unpause(engine: &Engine, id: &str, name: &str) -> Result<(), ApiError> {
    engine
        .request(
            format!("unpause container {name}"),
            engine.docker().unpause_container(id),
        )
        .await
}

/// A container's processes, as the engine's `top` lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Processes {
    /// Column titles (`UID`, `PID`, `PPID`, `C`, `STIME`, `TTY`, `TIME`, `CMD`).
    pub(crate) titles: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

/// The processes of a running container.
pub(crate) async fn top(engine: &Engine, id: &str, name: &str) -> Result<Processes, ApiError> {
    let response = engine
        .request(
            format!("list the processes of container {name}"),
            engine.docker().top_processes(id, None::<TopOptions>),
        )
        .await?;
    Ok(Processes {
        titles: response.titles.unwrap_or_default(),
        rows: response.processes.unwrap_or_default(),
    })
}

/// A published port: the host address a container port is reachable at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostAddress {
    pub(crate) ip: String,
    pub(crate) port: String,
}

/// The host addresses of a container's ports, keyed `PORT/PROTOCOL`.
pub(crate) async fn published_ports(
    engine: &Engine,
    id: &str,
    name: &str,
) -> Result<HashMap<String, Vec<HostAddress>>, ApiError> {
    let inspect = engine
        .request(
            format!("inspect container {name}"),
            engine.docker().inspect_container(id, None),
        )
        .await?;
    let ports = inspect
        .network_settings
        .and_then(|n| n.ports)
        .unwrap_or_default();
    Ok(ports
        .into_iter()
        .map(|(key, bindings)| {
            let addresses = bindings
                .unwrap_or_default()
                .into_iter()
                .map(|b| HostAddress {
                    ip: b.host_ip.unwrap_or_default(),
                    port: b.host_port.unwrap_or_default(),
                })
                .collect();
            (key, addresses)
        })
        .collect())
}

/// What `images` shows of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ImageFacts {
    pub(crate) id: String,
    /// `repository:tag` names (empty for an untagged image).
    pub(crate) tags: Vec<String>,
    pub(crate) size: i64,
}

/// The facts of image `reference` (an id or a name); `None` when it is gone.
pub(crate) async fn image_facts(
    engine: &Engine,
    reference: &str,
) -> Result<Option<ImageFacts>, ApiError> {
    match engine
        .request(
            format!("inspect image {reference}"),
            engine.docker().inspect_image(reference),
        )
        .await
    {
        Ok(image) => Ok(Some(ImageFacts {
            id: image.id.unwrap_or_default(),
            tags: image.repo_tags.unwrap_or_default(),
            size: image.size.unwrap_or_default(),
        })),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}
