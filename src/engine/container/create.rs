//! Creating one replica of a service: the create request, then (API 1.41
//! attaches one network at create) the connections to its other networks,
//! then the secrets and configs copied in before it ever starts; and the
//! `post_start` hooks once it runs.

use bollard::models::{ContainerCreateBody, Mount, MountType};

use super::{files, hooks, Blueprint};
use crate::engine::state::AnonymousVolume;
use crate::engine::{ops, Engine};
use crate::spec::model::{Project, Service};

/// Why a replica could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFailure {
    pub reason: String,
    /// The container, when it was created before the failure.
    pub container: Option<String>,
}

/// Which replica to create, and what it takes over from the container it
/// replaces.
#[derive(Debug, Clone, Copy)]
pub struct Replica<'a> {
    pub number: u32,
    /// Anonymous volumes of the replaced container, mounted again where they were.
    pub inherit: &'a [AnonymousVolume],
}

/// Creates a replica of `service`, connects its extra networks and copies
/// in its injected files; returns the container id.
pub async fn create_replica(
    engine: &Engine,
    project: &Project,
    service: &Service,
    blueprint: &Blueprint,
    replica: Replica<'_>,
) -> Result<String, CreateFailure> {
    let (name, mut body) = blueprint.for_replica(project, service, replica.number);
    inherit_volumes(&mut body, replica.inherit);
    let id = ops::create_container(engine, &name, body)
        .await
        .map_err(|err| CreateFailure {
            reason: err.message(),
            container: None,
        })?;
    let failed = |reason: String| CreateFailure {
        reason,
        container: Some(id.clone()),
    };
    for (network, endpoint) in &blueprint.extra_networks {
        ops::connect_network(engine, &id, network, endpoint.clone())
            .await
            .map_err(|err| failed(err.message()))?;
    }
    if !blueprint.injected_files.is_empty() {
        files::inject(engine, &id, &blueprint.injected_files)
            .await
            .map_err(|err| failed(err.message()))?;
    }
    Ok(id)
}

/// Mounts each inherited volume where it was, in place of an anonymous
/// volume the request asks for there. Not part of the config hash: which
/// volume holds the data does not change what the container is.
fn inherit_volumes(body: &mut ContainerCreateBody, inherit: &[AnonymousVolume]) {
    if inherit.is_empty() {
        return;
    }
    let host = body.host_config.get_or_insert_with(Default::default);
    let mounts = host.mounts.get_or_insert_with(Vec::new);
    for volume in inherit {
        let place = volume.destination.trim_end_matches('/');
        let anonymous_there = mounts.iter_mut().find(|m| {
            m.typ == Some(MountType::VOLUME)
                && m.source.is_none()
                && m.target.as_deref().map(|t| t.trim_end_matches('/')) == Some(place)
        });
        match anonymous_there {
            // The spec's own options (read-only, nocopy) stay.
            Some(mount) => mount.source = Some(volume.name.clone()),
            None => mounts.push(Mount {
                typ: Some(MountType::VOLUME),
                source: Some(volume.name.clone()),
                target: Some(volume.destination.clone()),
                ..Default::default()
            }),
        }
    }
}

/// Runs the blueprint's `post_start` hooks in the started container `id`.
pub async fn after_start(engine: &Engine, blueprint: &Blueprint, id: &str) -> Result<(), String> {
    hooks::run_all(engine, id, &blueprint.post_start).await
}
