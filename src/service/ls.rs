//! `ls`: every compose project on the engine, torq's and docker compose's
//! alike (the labels are the same), with its status counts and config files.

use crate::engine::projects::{list_projects, ProjectSummary};
use crate::engine::Engine;

/// The projects with running containers (with `all`, every project that
/// has containers), sorted by name; `filter` keeps names containing it.
pub(crate) async fn ls(
    engine: &Engine,
    all: bool,
    filter: Option<&str>,
) -> anyhow::Result<Vec<ProjectSummary>> {
    let mut projects = list_projects(engine, all).await?;
    if let Some(wanted) = filter {
        projects.retain(|p| p.name.contains(wanted));
    }
    Ok(projects)
}
