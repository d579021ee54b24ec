//! Removing old self images. Every torq executable builds its own
//! `<repository>:<hash12>` image (about 220 MB from a debug build), so after a
//! new one is built, the older ones of the same repository are removed —
//! only images that carry the self-image label for that repository
//! ([`super::MARKER_LABEL`]), that no container (running or stopped) uses, and
//! that were created at least a grace period before the new one. Nothing is
//! ever forced: an image a container took meanwhile is kept by the engine.
//!
//! The grace period protects another torq (another version, e.g. a parallel
//! CI job) that has just built its own self image and has not created its
//! containers yet.
//!
//! Only the image's self-image tags (`<repository>:<12 hex digits>`) are
//! removed; an image someone tagged otherwise keeps that tag (and so stays).
//! An untagged (dangling) self image is removed by id.

use std::collections::HashSet;
use std::time::Duration;

use bollard::models::ImageSummary;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
};

use super::{MARKER_LABEL, TAG_DIGITS};
use crate::engine::error::ApiError;
use crate::engine::Engine;

/// How much older than the newly built self image an unused one must be
/// before it is removed.
pub const GRACE: Duration = Duration::from_secs(10 * 60);

/// What pruning did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// References (tags, or ids of untagged images) removed.
    pub removed: Vec<String>,
    /// Older self images kept, each with the reason.
    pub kept: Vec<(String, String)>,
}

/// What to do with one older self image.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    /// Remove these references (its self-image tags, or its id).
    Remove(Vec<String>),
    /// Keep it, for this reason.
    Keep(String),
}

/// Removes the self images of `repository` older than `newest_id` (by at
/// least `grace`) that no container uses. Errors are the engine's, from
/// listing; a removal the engine refuses is reported in [`Pruned::kept`].
pub async fn prune_older(
    engine: &Engine,
    repository: &str,
    newest_id: &str,
    grace: Duration,
) -> Result<Pruned, bollard::errors::Error> {
    let images = self_images(engine, repository).await?;
    let Some(newest) = images.iter().find(|image| image.id == newest_id) else {
        return Ok(Pruned::default());
    };
    let older_than = newest.created - grace.as_secs() as i64;
    let candidates: Vec<&ImageSummary> = images
        .iter()
        .filter(|image| image.id != newest_id && image.created <= older_than)
        .collect();
    if candidates.is_empty() {
        return Ok(Pruned::default());
    }
    let in_use = images_in_use(engine).await?;
    let mut pruned = Pruned::default();
    for image in candidates {
        match decide(image, repository, &in_use) {
            Decision::Keep(reason) => pruned.kept.push((name_of(image), reason)),
            Decision::Remove(references) => {
                for reference in references {
                    match remove(engine, &reference).await {
                        Ok(()) => pruned.removed.push(reference),
                        Err(reason) => pruned.kept.push((reference, reason)),
                    }
                }
            }
        }
    }
    Ok(pruned)
}

/// The images labelled as self images of `repository`.
async fn self_images(
    engine: &Engine,
    repository: &str,
) -> Result<Vec<ImageSummary>, bollard::errors::Error> {
    let filter = format!("{MARKER_LABEL}={repository}");
    let options = ListImagesOptionsBuilder::default()
        .filters(&std::collections::HashMap::from([(
            "label",
            vec![filter.as_str()],
        )]))
        .build();
    let images = engine.docker().list_images(Some(options)).await?;
    // The engine filtered already; the label is checked again here, as the
    // one rule that decides what may be removed.
    Ok(images
        .into_iter()
        .filter(|image| image.labels.get(MARKER_LABEL).map(String::as_str) == Some(repository))
        .collect())
}

/// Ids of the images of all containers, running or not.
async fn images_in_use(engine: &Engine) -> Result<HashSet<String>, bollard::errors::Error> {
    let options = ListContainersOptionsBuilder::default().all(true).build();
    let containers = engine.docker().list_containers(Some(options)).await?;
    Ok(containers
        .into_iter()
        .filter_map(|container| container.image_id)
        .collect())
}

/// Removes one reference, never forcing; `Err` says why the engine refused.
async fn remove(engine: &Engine, reference: &str) -> Result<(), String> {
    let options = RemoveImageOptionsBuilder::default()
        .force(false)
        .noprune(false)
        .build();
    match engine
        .docker()
        .remove_image(reference, Some(options), None)
        .await
    {
        Ok(_) => Ok(()),
        // Gone already (another torq pruned it): nothing left to do.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => Err(message),
        Err(other) => {
            Err(ApiError::from_bollard(format!("remove image {reference}"), other).message())
        }
    }
}

/// What to do with an older self image of `repository`.
fn decide(image: &ImageSummary, repository: &str, in_use: &HashSet<String>) -> Decision {
    if in_use.contains(&image.id) {
        return Decision::Keep("used by a container".into());
    }
    let tags: Vec<&String> = image
        .repo_tags
        .iter()
        .filter(|tag| tag.as_str() != "<none>:<none>")
        .collect();
    if tags.is_empty() {
        return Decision::Remove(vec![image.id.clone()]);
    }
    let own: Vec<String> = tags
        .iter()
        .filter(|tag| is_self_image_tag(tag, repository))
        .map(|tag| tag.to_string())
        .collect();
    if own.is_empty() {
        return Decision::Keep("tagged by someone else".into());
    }
    Decision::Remove(own)
}

/// Whether `tag` is `<repository>:<12 lowercase hex digits>`.
fn is_self_image_tag(tag: &str, repository: &str) -> bool {
    tag.strip_prefix(repository)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|hash| {
            hash.len() == TAG_DIGITS
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// A name to show for an image: its first tag, else its id.
fn name_of(image: &ImageSummary) -> String {
    image
        .repo_tags
        .iter()
        .find(|tag| tag.as_str() != "<none>:<none>")
        .cloned()
        .unwrap_or_else(|| image.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str]) -> ImageSummary {
        ImageSummary {
            id: id.into(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn self_image_tags_are_the_repository_and_twelve_hex_digits() {
        assert!(is_self_image_tag("torq/node:0123456789ab", "torq/node"));
        assert!(is_self_image_tag(
            "host:5000/torq/node:0123456789ab",
            "host:5000/torq/node"
        ));
        assert!(!is_self_image_tag("torq/node:latest", "torq/node"));
        assert!(!is_self_image_tag("torq/node:0123456789abc", "torq/node"));
        assert!(!is_self_image_tag("torq/node:0123456789AB", "torq/node"));
        assert!(!is_self_image_tag("torq/nodes:0123456789ab", "torq/node"));
        assert!(!is_self_image_tag("other/node:0123456789ab", "torq/node"));
    }

    #[test]
    fn an_unused_self_image_loses_its_self_image_tags_only() {
        let none = HashSet::new();
        assert_eq!(
            decide(
                &image("sha256:a", &["torq/node:0123456789ab"]),
                "torq/node",
                &none
            ),
            Decision::Remove(vec!["torq/node:0123456789ab".into()])
        );
        assert_eq!(
            decide(
                &image("sha256:a", &["torq/node:0123456789ab", "torq/node:keep"]),
                "torq/node",
                &none
            ),
            Decision::Remove(vec!["torq/node:0123456789ab".into()])
        );
        assert_eq!(
            decide(&image("sha256:a", &["torq/node:keep"]), "torq/node", &none),
            Decision::Keep("tagged by someone else".into())
        );
    }

    #[test]
    fn an_untagged_self_image_is_removed_by_id() {
        let none = HashSet::new();
        for tags in [&[][..], &["<none>:<none>"][..]] {
            assert_eq!(
                decide(&image("sha256:a", tags), "torq/node", &none),
                Decision::Remove(vec!["sha256:a".into()])
            );
        }
    }

    #[test]
    fn a_self_image_a_container_uses_is_kept() {
        let in_use = HashSet::from(["sha256:a".to_string()]);
        assert_eq!(
            decide(
                &image("sha256:a", &["torq/node:0123456789ab"]),
                "torq/node",
                &in_use
            ),
            Decision::Keep("used by a container".into())
        );
    }
}
