//! `port`: the host address a service's container port is published at.

use anyhow::Context as _;

use crate::compose::model::Project;
use crate::engine::control::{self, HostAddress};
use crate::engine::state::ObservedContainer;
use crate::engine::Engine;

use super::targets::{self, OneOffs};

/// What `port` is asked.
#[derive(Debug, Clone)]
pub(crate) struct PortRequest {
    pub service: String,
    pub private_port: u16,
    /// `tcp` (default), `udp` or `sctp`.
    pub protocol: String,
    /// The replica (default: the first).
    pub index: Option<u32>,
}

/// The host address(es) `request.private_port` is published at. An
/// unpublished port is an error naming the ports that are published.
pub(crate) async fn port(
    engine: &Engine,
    project: &Project,
    request: &PortRequest,
) -> anyhow::Result<Vec<HostAddress>> {
    let services = std::slice::from_ref(&request.service);
    let containers = targets::containers(engine, project, services, OneOffs::Exclude).await?;
    let container = replica(&containers, &request.service, request.index)?;
    let ports = control::published_ports(engine, &container.id, &container.name).await?;
    let key = format!("{}/{}", request.private_port, request.protocol);
    match ports.get(&key).filter(|addresses| !addresses.is_empty()) {
        Some(addresses) => Ok(addresses.clone()),
        None => {
            let mut published: Vec<&String> = ports
                .iter()
                .filter(|(_, addresses)| !addresses.is_empty())
                .map(|(key, _)| key)
                .collect();
            published.sort();
            let list = if published.is_empty() {
                "none".to_string()
            } else {
                published
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            anyhow::bail!(
                "service {}: port {key} is not published (published: {list})",
                request.service
            )
        }
    }
}

/// Replica `index` of the service (default the lowest-numbered).
fn replica<'a>(
    containers: &'a [ObservedContainer],
    service: &str,
    index: Option<u32>,
) -> anyhow::Result<&'a ObservedContainer> {
    match index {
        Some(n) => containers
            .iter()
            .find(|c| c.number == n)
            .with_context(|| format!("service {service} has no container with index {n}")),
        None => containers.iter().min_by_key(|c| c.number).with_context(|| {
            format!("service {service} has no container: start it with `torq up {service}`")
        }),
    }
}
