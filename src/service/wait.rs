//! `wait`: block until the containers of the named services stop; the
//! outcome is the exit code of the first one to stop. With
//! `--down-project`, the project is then taken down as `down` does.

use futures::future::select_all;

use crate::compose::model::Project;
use crate::engine::{attach, Engine};

use super::targets::{self, OneOffs};

/// The first container to stop, and its exit code.
#[derive(Debug, Clone)]
pub struct FirstExit {
    pub container: String,
    pub service: String,
    pub code: i64,
}

/// Waits for the first of `services`' containers to stop. A service with
/// no container at all is an error.
pub async fn wait(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> anyhow::Result<FirstExit> {
    let containers = targets::containers(engine, project, services, OneOffs::Exclude).await?;
    for service in services {
        if !containers.iter().any(|c| &c.service == service) {
            anyhow::bail!("service {service} has no container to wait for");
        }
    }
    let waits = containers.iter().map(|c| {
        Box::pin(async move {
            let code = attach::wait_exit(engine, &c.id).await?;
            anyhow::Ok(FirstExit {
                container: c.name.clone(),
                service: c.service.clone(),
                code,
            })
        })
    });
    let (first, _, _) = select_all(waits).await;
    first
}
