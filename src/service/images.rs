//! `images`: the images the project's containers were created from, with
//! their repository, tag, id and size, one row per container.

use futures::future::try_join_all;

use crate::compose::model::Project;
use crate::engine::control::{self, ImageFacts};
use crate::engine::Engine;

use super::targets::{self, OneOffs};

/// One container's image.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ContainerImage {
    /// The container name.
    pub container: String,
    pub service: String,
    /// The repository (`<none>` for an untagged image).
    pub repository: String,
    pub tag: String,
    /// The image id (`sha256:…`).
    pub id: String,
    /// Size in bytes.
    pub size: i64,
}

/// The images of the containers of `services` (all when empty).
pub(crate) async fn images(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> anyhow::Result<Vec<ContainerImage>> {
    let containers = targets::containers(engine, project, services, OneOffs::Include).await?;
    let facts = try_join_all(containers.iter().map(|c| {
        let reference = if c.image_id.is_empty() {
            &c.image
        } else {
            &c.image_id
        };
        control::image_facts(engine, reference)
    }))
    .await?;
    Ok(containers
        .into_iter()
        .zip(facts)
        .map(|(c, facts)| {
            let facts = facts.unwrap_or_else(|| ImageFacts {
                id: c.image_id.clone(),
                ..Default::default()
            });
            let (repository, tag) = repository_and_tag(&facts.tags, &c.image);
            ContainerImage {
                container: c.name,
                service: c.service,
                repository,
                tag,
                id: facts.id,
                size: facts.size,
            }
        })
        .collect())
}

/// The tag the container names (else the image's first), split into
/// repository and tag; `<none>` for an untagged image.
fn repository_and_tag(tags: &[String], container_image: &str) -> (String, String) {
    let wanted = if container_image.contains(':') {
        container_image.to_string()
    } else {
        format!("{container_image}:latest")
    };
    let chosen = tags.iter().find(|t| **t == wanted).or(tags.first());
    match chosen
        .and_then(|t| t.rsplit_once(':'))
        .filter(|(_, tag)| !tag.contains('/'))
    {
        Some((repository, tag)) => (repository.to_string(), tag.to_string()),
        None => ("<none>".into(), "<none>".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_containers_own_tag_wins() {
        let tags = vec!["a/x:1".to_string(), "a/y:latest".to_string()];
        assert_eq!(
            repository_and_tag(&tags, "a/y"),
            ("a/y".into(), "latest".into())
        );
        assert_eq!(
            repository_and_tag(&tags, "sha256:abc"),
            ("a/x".into(), "1".into())
        );
        assert_eq!(
            repository_and_tag(&[], "x"),
            ("<none>".into(), "<none>".into())
        );
        let registry = vec!["host:5000/img:2".to_string()];
        assert_eq!(
            repository_and_tag(&registry, "host:5000/img:2"),
            ("host:5000/img".into(), "2".into())
        );
    }
}
