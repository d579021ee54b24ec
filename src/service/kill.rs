//! `kill`: send a signal (SIGKILL by default) to the running containers of
//! the named services, all at once, as `docker compose kill` does.

use crate::compose::model::Project;
use crate::compose::syntax::check_signal;
use crate::engine::{control, Engine};

use super::targets::{self, ContainerResult, OneOffs};

/// Signals the running containers of `services` (all when empty).
pub(crate) async fn kill(
    engine: &Engine,
    project: &Project,
    services: &[String],
    signal: &str,
) -> anyhow::Result<Vec<ContainerResult>> {
    check_signal(signal).map_err(|e| anyhow::anyhow!("-s {signal}: {e}"))?;
    let mut containers = targets::containers(engine, project, services, OneOffs::Exclude).await?;
    containers.retain(|c| c.is_running());
    Ok(targets::for_each(&containers, |c| {
        control::kill(engine, &c.id, &c.name, signal)
    })
    .await)
}
