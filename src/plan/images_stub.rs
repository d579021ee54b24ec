//! TEMPORARY: a stand-in for `engine::build::ensure_images` (the build
//! engineer's API) until it lands in `main`. It builds nothing: it only
//! inspects each service's image and reports its id. Delete this file once
//! `engine::build` is merged.

use std::collections::HashMap;

use anyhow::{bail, Context as _};
use futures::future::join_all;

use super::up::ServiceImage;
use crate::engine::error::{with_deadline, QUICK};
use crate::engine::Engine;
use crate::spec::model::Project;

/// The image reference a service runs: `image:`, else compose's
/// `PROJECT-SERVICE` name for a build-only service.
fn reference(project: &Project, service: &str) -> String {
    project
        .services
        .get(service)
        .and_then(|s| s.image.clone())
        .unwrap_or_else(|| format!("{}-{service}", project.name))
}

/// Inspects the images of `services`. With `must_exist`, a missing image is
/// an error; without (dry run), its id is left empty.
pub async fn temporary_ensure_images_stub(
    engine: &Engine,
    project: &Project,
    services: &[String],
    must_exist: bool,
) -> anyhow::Result<HashMap<String, ServiceImage>> {
    let lookups = services.iter().map(|service| {
        let reference = reference(project, service);
        async move {
            let inspected = with_deadline(
                format!("inspect image {reference}"),
                QUICK,
                engine.docker().inspect_image(&reference),
            )
            .await;
            (service.clone(), reference, inspected)
        }
    });
    let mut images = HashMap::new();
    for (service, reference, inspected) in join_all(lookups).await {
        let id = match inspected {
            Ok(image) => image.id.unwrap_or_default(),
            Err(err) if err.is_not_found() && !must_exist => String::new(),
            Err(err) if err.is_not_found() => {
                bail!("image {reference} of service {service} is missing (building is not wired in yet)")
            }
            Err(err) => return Err(err).with_context(|| format!("service {service}")),
        };
        images.insert(service, ServiceImage { reference, id });
    }
    Ok(images)
}
