//! The containers an everyday command acts on: those of the project (found
//! by its label) belonging to the named services (all when none are named),
//! after checking each name against the spec. Shared by `kill`, `pause`,
//! `top`, `port`, `images` and `wait`.

use futures::future::join_all;

use crate::compose::model::Project;
use crate::engine::state::{observe, ObservedContainer};
use crate::engine::Engine;

/// Whether one-off (`run`) containers count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OneOffs {
    Include,
    Exclude,
}

/// The project's containers of `services` (all services when empty), sorted
/// by service then number. An unknown service name is an error.
pub(crate) async fn containers(
    engine: &Engine,
    project: &Project,
    services: &[String],
    oneoffs: OneOffs,
) -> anyhow::Result<Vec<ObservedContainer>> {
    super::select_services(project, services, true)?;
    let state = observe(engine, &project.name).await?;
    Ok(state
        .containers
        .into_iter()
        .filter(|c| oneoffs == OneOffs::Include || !c.oneoff)
        .filter(|c| services.is_empty() || services.contains(&c.service))
        .collect())
}

/// What became of one container an operation was applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerResult {
    /// The container's name.
    pub container: String,
    pub service: String,
    /// `Err(reason)`: the engine refused.
    pub result: Result<(), String>,
}

/// Applies `op` to every container at once; one result per container.
pub(crate) async fn for_each<'a, F, Fut>(
    containers: &'a [ObservedContainer],
    op: F,
) -> Vec<ContainerResult>
where
    F: Fn(&'a ObservedContainer) -> Fut,
    Fut: std::future::Future<Output = Result<(), crate::engine::error::ApiError>>,
{
    let results = join_all(containers.iter().map(&op)).await;
    containers
        .iter()
        .zip(results)
        .map(|(c, result)| ContainerResult {
            container: c.name.clone(),
            service: c.service.clone(),
            result: result.map_err(|e| e.message()),
        })
        .collect()
}
