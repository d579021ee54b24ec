//! `top`: the processes of each running container of the named services
//! (one-off containers included, as compose does), asked of the engine at once.

use futures::future::try_join_all;

use crate::compose::model::Project;
use crate::engine::control::{self, Processes};
use crate::engine::Engine;

use super::targets::{self, OneOffs};

/// One container's processes.
#[derive(Debug, Clone)]
pub(crate) struct ContainerProcesses {
    pub service: String,
    /// The container name.
    pub container: String,
    pub titles: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The processes of the running containers of `services` (all when empty),
/// by service then replica.
pub(crate) async fn top(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> anyhow::Result<Vec<ContainerProcesses>> {
    let mut containers = targets::containers(engine, project, services, OneOffs::Include).await?;
    containers.retain(|c| c.is_running());
    let listed = try_join_all(
        containers
            .iter()
            .map(|c| control::top(engine, &c.id, &c.name)),
    )
    .await?;
    Ok(containers
        .into_iter()
        .zip(listed)
        .map(|(c, Processes { titles, rows })| ContainerProcesses {
            service: c.service,
            container: c.name,
            titles,
            rows,
        })
        .collect())
}
