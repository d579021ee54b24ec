//! Docker Swarm: what `torq deploy`/`undeploy` and the stack views of
//! `status`/`logs` need from the engine's swarm API.
//!
//! - [`convert`] turns a compose project into Swarm object specs the way
//!   `docker stack deploy` does (names `STACK_SERVICE`, the
//!   `com.docker.stack.namespace` label, an overlay `STACK_default`), plus a
//!   spec hash per service so an unchanged service is left alone;
//! - [`objects`] lists, creates, updates and removes a stack's services,
//!   networks, secrets and configs — only ever objects carrying the stack's
//!   namespace label;
//! - [`tasks`] reads a service's tasks and decides whether it converged,
//!   failed, or is still on its way (the gate of the ordered rollout), and
//!   waits for that verdict on engine events with a deadline;
//! - [`logs`] reads and follows the services' logs (`torq deploy logs`).

pub mod convert;
pub(crate) mod logs;
pub mod objects;
pub mod tasks;

use std::collections::HashMap;

use super::error::ApiError;
use super::Engine;

/// The label `docker stack deploy` puts on every object of a stack.
pub const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";
/// The label holding the image as the spec names it (as `docker stack deploy`).
pub const IMAGE_LABEL: &str = "com.docker.stack.image";
/// torq's hash of a service's Swarm spec (service and container labels): an
/// unchanged hash means the service is left alone on a re-deploy.
pub const SPEC_HASH_LABEL: &str = "io.torq.deploy.spec-hash";
/// The label the engine puts on a task's container naming its service id.
pub const SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";

/// The `label=` filter selecting a stack's objects.
pub(crate) fn stack_filter(stack: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{NAMESPACE_LABEL}={stack}")],
    )])
}

/// The engine's place in a swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmNode {
    /// This node's id.
    pub node_id: String,
    /// Nodes in the swarm (managers and workers).
    pub nodes: u64,
    /// Whether this node is a manager (only managers take deploys).
    pub manager: bool,
}

/// Why the engine cannot take a deploy.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error(
        "the Docker engine is not part of a swarm (state: {state})\n  \
         Make it one with `docker swarm init` (on one machine: \
         `docker swarm init --advertise-addr 127.0.0.1`), or point DOCKER_HOST at a swarm manager."
    )]
    NotInSwarm { state: String },
    #[error(
        "this Docker engine is a swarm worker: deploys go to a manager\n  \
         Point DOCKER_HOST at a manager node (`docker node ls` on a manager lists them)."
    )]
    NotManager,
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Checks the engine is an active swarm manager and reads its node count.
pub async fn swarm_node(engine: &Engine) -> Result<SwarmNode, SwarmError> {
    let info = engine
        .request("read engine info", engine.docker().info())
        .await?;
    let swarm = info.swarm.unwrap_or_default();
    let state = swarm
        .local_node_state
        .map(|s| s.to_string())
        .unwrap_or_default();
    if state != "active" {
        return Err(SwarmError::NotInSwarm {
            state: if state.is_empty() {
                "inactive".into()
            } else {
                state
            },
        });
    }
    if swarm.control_available != Some(true) {
        return Err(SwarmError::NotManager);
    }
    Ok(SwarmNode {
        node_id: swarm.node_id.unwrap_or_default(),
        nodes: swarm.nodes.and_then(|n| u64::try_from(n).ok()).unwrap_or(1),
        manager: true,
    })
}

/// Turns an engine value's string form into one of bollard's enums (they
/// deserialize from the API's spelling).
pub(crate) fn api_enum<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

/// The API's spelling of one of bollard's enums.
pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
