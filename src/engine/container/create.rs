//! Creating one replica of a service: the create request, then (API 1.41
//! attaches one network at create) the connections to its other networks,
//! then the secrets and configs copied in before it ever starts; and the
//! `post_start` hooks once it runs.

use bollard::models::{ContainerCreateBody, Mount, MountType};

use super::{files, hooks, Blueprint};
use crate::compose::model::{Project, Service};
use crate::engine::error::ApiError;
use crate::engine::state::AnonymousVolume;
use crate::engine::{ops, Engine};

/// Why a replica could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFailure {
    pub reason: String,
    /// The container, when it was created before the failure.
    pub container: Option<String>,
    /// The engine refused the create because the name is taken (409).
    pub name_taken: bool,
    /// The connection to the engine broke (see [`ApiError::is_lost`]).
    pub lost: bool,
}

/// Which replica to create, and what it takes over from the container it
/// replaces.
#[derive(Debug, Clone, Copy)]
pub struct Replica<'a> {
    pub number: u32,
    /// The name to create it under: its final name, or a temporary one
    /// while the container it replaces still exists.
    pub name: &'a str,
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
    let super::ReplicaRequest {
        mut body,
        extra_networks,
        ..
    } = blueprint.for_replica(project, service, replica.number);
    let name = replica.name;
    if !replica.inherit.is_empty() {
        let image_volumes = image_volumes(engine, body.image.as_deref().unwrap_or_default()).await;
        inherit_volumes(&mut body, replica.inherit, &image_volumes);
    }
    let id = ops::create_container(engine, name, body)
        .await
        .map_err(|err| CreateFailure {
            reason: err.to_string(),
            container: None,
            name_taken: err.is_conflict(),
            lost: err.is_lost(),
        })?;
    let failed = |err: ApiError| CreateFailure {
        reason: err.to_string(),
        container: Some(id.clone()),
        name_taken: false,
        lost: err.is_lost(),
    };
    for (network, endpoint) in extra_networks {
        ops::connect_network(engine, &id, &network, endpoint)
            .await
            .map_err(failed)?;
    }
    if !blueprint.injected_files.is_empty() {
        files::inject(engine, &id, &blueprint.injected_files)
            .await
            .map_err(failed)?;
    }
    Ok(id)
}

/// The paths `image` declares as `VOLUME`s (none when it cannot be read).
async fn image_volumes(engine: &Engine, image: &str) -> Vec<String> {
    match engine.docker().inspect_image(image).await {
        Ok(inspect) => inspect
            .config
            .and_then(|c| c.volumes)
            .map(|v| v.into_iter().collect())
            .unwrap_or_default(),
        Err(err) => {
            tracing::debug!(image, %err, "cannot read the image's volumes");
            Vec::new()
        }
    }
}

/// Mounts each inherited volume where it was: in place of an anonymous
/// volume the request asks for there, or at one of the new image's
/// `VOLUME`s; one at neither place is left out (and left alone, as compose
/// leaves it). Not part of the config hash: which volume holds the data does
/// not change what the container is.
fn inherit_volumes(
    body: &mut ContainerCreateBody,
    inherit: &[AnonymousVolume],
    image_volumes: &[String],
) {
    let host = body.host_config.get_or_insert_with(Default::default);
    let mounts = host.mounts.get_or_insert_with(Vec::new);
    let trimmed = |p: &str| p.trim_end_matches('/').to_string();
    for volume in inherit {
        let place = trimmed(&volume.destination);
        let anonymous_there = mounts.iter_mut().find(|m| {
            m.typ == Some(MountType::VOLUME)
                && m.source.is_none()
                && m.target.as_deref().map(trimmed).as_deref() == Some(place.as_str())
        });
        match anonymous_there {
            // The spec's own options (read-only, nocopy) stay.
            Some(mount) => mount.source = Some(volume.name.clone()),
            None if image_volumes.iter().any(|v| trimmed(v) == place) => mounts.push(Mount {
                typ: Some(MountType::VOLUME),
                source: Some(volume.name.clone()),
                target: Some(volume.destination.clone()),
                ..Default::default()
            }),
            None => {}
        }
    }
}

/// Runs the blueprint's `post_start` hooks in the started container `id`.
pub async fn after_start(
    engine: &Engine,
    blueprint: &Blueprint,
    id: &str,
) -> Result<(), hooks::HookFailure> {
    hooks::run_all(engine, id, &blueprint.post_start).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherited_volumes_go_to_the_specs_anonymous_mounts_and_the_images_volumes() {
        let anonymous_mount = |target: &str, read_only: bool| Mount {
            typ: Some(MountType::VOLUME),
            target: Some(target.into()),
            read_only: Some(read_only),
            ..Default::default()
        };
        let mut body = ContainerCreateBody {
            host_config: Some(bollard::models::HostConfig {
                mounts: Some(vec![anonymous_mount("/cache", true)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let volume = |name: &str, destination: &str| AnonymousVolume {
            name: name.into(),
            destination: destination.into(),
        };
        let inherit = [
            volume("a", "/cache/"),
            volume("b", "/var/lib/db"),
            volume("c", "/gone"),
        ];
        inherit_volumes(&mut body, &inherit, &["/var/lib/db".to_string()]);
        let mounts = body.host_config.unwrap().mounts.unwrap();
        let summary: Vec<(Option<&str>, Option<&str>, Option<bool>)> = mounts
            .iter()
            .map(|m| (m.source.as_deref(), m.target.as_deref(), m.read_only))
            .collect();
        assert_eq!(
            summary,
            [
                (Some("a"), Some("/cache"), Some(true)),
                (Some("b"), Some("/var/lib/db"), None),
            ]
        );
    }
}
