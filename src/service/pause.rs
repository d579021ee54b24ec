//! `pause` and `unpause`: freeze and thaw the processes of the named
//! services' containers (the engine's cgroup freezer). `status` shows a
//! paused service as PAUSED.

use crate::compose::model::Project;
use crate::engine::state::RunState;
use crate::engine::{control, Engine};

use super::targets::{self, ContainerResult, OneOffs};

/// Pauses the running containers of `services` (all when empty).
pub async fn pause(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> anyhow::Result<Vec<ContainerResult>> {
    let mut containers = targets::containers(engine, project, services, OneOffs::Exclude).await?;
    containers.retain(|c| c.state == RunState::Running);
    Ok(targets::for_each(&containers, |c| control::pause(engine, &c.id, &c.name)).await)
}

/// Unpauses the paused containers of `services` (all when empty).
pub async fn unpause(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> anyhow::Result<Vec<ContainerResult>> {
    let mut containers = targets::containers(engine, project, services, OneOffs::Exclude).await?;
    containers.retain(|c| c.state == RunState::Paused);
    Ok(targets::for_each(&containers, |c| control::unpause(engine, &c.id, &c.name)).await)
}
