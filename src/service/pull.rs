//! `pull`: pull the images of the named services from their registries, in
//! parallel, as `docker compose pull` decides: a service without `image`
//! has nothing to pull; `pull_policy: never`/`build` skip it;
//! `missing`/`if_not_present` skip an image already present (unless its tag
//! is `latest`); otherwise it is pulled. Each failure carries the engine's
//! reason.

use futures::future::join_all;

use crate::compose::model::{Project, Service};
use crate::engine::build::image_id;
use crate::engine::{pull, Engine};
use crate::progress::{Event, Phase, Reporter};

/// What became of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PullResult {
    Pulled,
    /// Not pulled, and why (`already present`, `no image to pull`, …).
    Skipped(String),
    /// The engine's reason.
    Failed(String),
}

/// One service's image and what became of it.
#[derive(Debug, Clone)]
pub(crate) struct ImagePull {
    pub(crate) service: String,
    /// The image reference (empty when the service has none).
    pub(crate) image: String,
    pub(crate) result: PullResult,
}

/// Pulls the images of `services` (all when empty), one pull per image.
pub(crate) async fn pull(
    engine: &Engine,
    project: &Project,
    services: &[String],
    reporter: &dyn Reporter,
) -> anyhow::Result<Vec<ImagePull>> {
    let selected = super::select_services(project, services, true)?;
    let mut decisions = Vec::new();
    for name in &selected {
        let service = &project.services[name];
        decisions.push((service, decide(engine, service).await?));
    }
    let mut scheduled: Vec<&str> = Vec::new();
    let pulls = decisions.iter().map(|(service, skip)| {
        let image = service.image.clone().unwrap_or_default();
        let first = skip.is_none() && !scheduled.contains(&image.as_str());
        if first {
            scheduled.push(service.image.as_deref().unwrap_or_default());
        }
        async move {
            let result = match skip {
                Some(reason) => PullResult::Skipped(reason.clone()),
                None if !first => PullResult::Skipped("pulled for another service".into()),
                None => pull_one(engine, &service.name, &image, reporter).await,
            };
            ImagePull {
                service: service.name.clone(),
                image,
                result,
            }
        }
    });
    Ok(join_all(pulls).await)
}

/// `None`: pull it; `Some(reason)`: skip it.
async fn decide(engine: &Engine, service: &Service) -> anyhow::Result<Option<String>> {
    let Some(image) = &service.image else {
        return Ok(Some("no image to pull (the service is built)".into()));
    };
    match service.pull_policy.as_deref() {
        Some("never") | Some("build") => Ok(Some(format!(
            "pull_policy: {}",
            service.pull_policy.as_deref().unwrap_or_default()
        ))),
        Some("missing") | Some("if_not_present") if !is_latest(image) => {
            let present = image_id(engine, image).await?.is_some();
            Ok(present.then(|| "image is already present".to_string()))
        }
        _ => Ok(None),
    }
}

fn is_latest(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    !last.contains(':') || last.ends_with(":latest")
}

async fn pull_one(
    engine: &Engine,
    service: &str,
    image: &str,
    reporter: &dyn Reporter,
) -> PullResult {
    reporter.progress(service, Phase::Pulling, Some(image.to_string()));
    let on_status = |line: &str| {
        reporter.report(Event::BuildOutput {
            subject: service.to_string(),
            line: line.to_string(),
        })
    };
    match pull::pull(engine, image, on_status).await {
        Ok(()) => {
            reporter.progress(service, Phase::Unchanged, Some(format!("pulled {image}")));
            PullResult::Pulled
        }
        Err(err) => {
            reporter.progress(service, Phase::Failed, Some(err.message()));
            PullResult::Failed(err.message())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_is_the_missing_tag_or_latest() {
        assert!(is_latest("redis"));
        assert!(is_latest("redis:latest"));
        assert!(!is_latest("redis:7"));
        assert!(is_latest("registry:5000/app"));
        assert!(!is_latest("registry:5000/app:2"));
    }
}
