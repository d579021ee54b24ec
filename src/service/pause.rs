//! `pause` and `unpause`: freeze and thaw the processes of the named
//! services' containers (the engine's cgroup freezer). `status` shows a
//! paused service as PAUSED.

use crate::compose::model::Project;
use crate::engine::state::{ObservedContainer, RunState};
use crate::engine::{control, Engine};

use super::targets::{self, ContainerResult, OneOffs};

/// Pauses the running containers of `services` (all when empty).
pub(crate) async fn pause(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> anyhow::Result<Vec<ContainerResult>> {
    let containers = in_state(engine, project, services, RunState::Running).await?;
    Ok(targets::for_each(&containers, |c| control::pause(engine, &c.id, &c.name)).await)
}

/// Unpauses the paused containers of `services` (all when empty).
pub(crate) async fn unpause(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> anyhow::Result<Vec<ContainerResult>> {
    let containers = in_state(engine, project, services, RunState::Paused).await?;
    Ok(targets::for_each(&containers, |c| control::unpause(engine, &c.id, &c.name)).await)
}

/// The containers of `services` that are in `state`.
async fn in_state(
    engine: &Engine,
    project: &Project,
    services: &[String],
    state: RunState,
) -> anyhow::Result<Vec<ObservedContainer>> {
    let mut containers = targets::containers(engine, project, services, OneOffs::Exclude).await?;
    containers.retain(|c| c.state == state);
    Ok(containers)
}
