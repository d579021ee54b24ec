//! `build`: build (or rebuild) services' images through the engine's build
//! API. Each image is built once, at most two at a time; a failed build does
//! not stop the others, and every failure comes back with its step.

use std::collections::BTreeSet;

use super::connect;
use crate::compose::model::Project;
use crate::engine::build::{self, BuildError, BuildOptions, BuildPolicy};
use crate::progress::Reporter;

/// The services a `build` looks at, split by whether they build anything.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Services with a `build:` section or the self image (unknown names
    /// are kept, so the build reports them).
    pub buildable: Vec<String>,
    /// Named services that only run an image: (service, image).
    pub image_only: Vec<(String, String)>,
}

/// The selected services (all when `names` is empty) that have something
/// to build; a named service that only runs an image is listed apart.
pub(crate) fn select(project: &Project, names: &[String]) -> Selection {
    let candidates: Vec<String> = if names.is_empty() {
        project.services.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    let mut selection = Selection::default();
    for name in candidates {
        match project.services.get(&name) {
            Some(service) if service.build.is_none() && !build::is_self_image(service) => {
                if !names.is_empty() {
                    let image = service.image.clone().unwrap_or_else(|| "?".into());
                    selection.image_only.push((name, image));
                }
            }
            _ => selection.buildable.push(name),
        }
    }
    selection
}

/// What a `build` did.
#[derive(Debug, Default)]
pub(crate) struct BuildOutcome {
    /// Distinct images ready.
    pub images: usize,
    /// Each failed image, as a message with its step and output.
    pub failures: Vec<String>,
    /// Every failure was the engine's (not a build step's).
    pub engine_failures_only: bool,
}

/// What `build` is asked to do.
#[derive(Debug, Clone, Default)]
pub(crate) struct BuildRequest {
    pub services: Vec<String>,
    /// Ignore the engine's build cache.
    pub no_cache: bool,
    /// The Dockerfile of the self image (the application's).
    pub self_image_dockerfile: Option<&'static str>,
}

/// Runs `torq build`: builds every requested image, even present ones.
pub(crate) async fn run(
    project: &Project,
    request: &BuildRequest,
    reporter: &dyn Reporter,
) -> anyhow::Result<BuildOutcome> {
    let options = BuildOptions {
        policy: BuildPolicy::Always,
        no_cache: request.no_cache,
        self_image_dockerfile: request.self_image_dockerfile,
        ..BuildOptions::default()
    };
    let services = &request.services;
    let engine = connect().await?;
    let result = build::ensure_images_with(&engine, project, services, &options, reporter).await;
    reporter.finish();
    match result {
        Ok(images) => Ok(BuildOutcome {
            images: images
                .iter()
                .map(|(_, image)| image.reference.as_str())
                .collect::<BTreeSet<_>>()
                .len(),
            ..Default::default()
        }),
        Err(BuildError::Images { failures, .. }) => Ok(BuildOutcome {
            images: 0,
            engine_failures_only: failures.iter().all(|f| f.is_engine_error()),
            failures: failures.iter().map(ToString::to_string).collect(),
        }),
        Err(other) => Err(other.into()),
    }
}
