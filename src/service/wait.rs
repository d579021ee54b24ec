//! `wait`: block until the containers of the named services stop; the
//! outcome is the exit code of the first one to stop. With
//! `--down-project`, the project is then taken down as `down` does.

use futures::future::select_all;

use std::sync::Arc;

use crate::compose::model::Project;
use crate::engine::{attach, Engine};
use crate::plan::down::DownOptions;
use crate::progress::Reporter;

use super::targets::{self, OneOffs};

/// The first container to stop, and its exit code.
#[derive(Debug, Clone)]
pub(crate) struct FirstExit {
    pub container: String,
    pub service: String,
    pub code: i64,
}

/// Waits for the first of `services`' containers to stop (then, with
/// `down_project`, takes the project down as `down` does). A service with
/// no container at all is an error.
pub(crate) async fn wait(
    project: &Project,
    services: &[String],
    down_project: bool,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<FirstExit> {
    let engine = super::connect().await?;
    let first = first_exit(&engine, project, services).await?;
    if down_project {
        let _lock = super::acquire_lock(&engine, &project.name, reporter.as_ref()).await?;
        let outcome = super::down::take_down(
            &engine,
            &project.name,
            &DownOptions::default(),
            reporter.clone(),
        )
        .await;
        reporter.finish();
        if let Some(failure) = outcome?.failures.first() {
            anyhow::bail!(
                "the down after the wait failed: {}: {}",
                failure.subject,
                failure.reason
            );
        }
    }
    Ok(first)
}

async fn first_exit(
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
