//! Creating one replica of a service: the create request, then (API 1.41
//! attaches one network at create) the connections to its other networks,
//! then the secrets and configs copied in before it ever starts; and the
//! `post_start` hooks once it runs.

use super::{files, hooks, Blueprint};
use crate::engine::{ops, Engine};
use crate::spec::model::{Project, Service};

/// Why a replica could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFailure {
    pub reason: String,
    /// The container, when it was created before the failure.
    pub container: Option<String>,
}

/// Creates replica `number` of `service`, connects its extra networks and
/// copies in its injected files; returns the container id.
pub async fn create_replica(
    engine: &Engine,
    project: &Project,
    service: &Service,
    blueprint: &Blueprint,
    number: u32,
) -> Result<String, CreateFailure> {
    let (name, body) = blueprint.for_replica(project, service, number);
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

/// Runs the blueprint's `post_start` hooks in the started container `id`.
pub async fn after_start(engine: &Engine, blueprint: &Blueprint, id: &str) -> Result<(), String> {
    hooks::run_all(engine, id, &blueprint.post_start).await
}
