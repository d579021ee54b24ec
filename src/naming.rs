//! The names torq gives a project's objects, derived from the compose model
//! alone: containers (`PROJECT-SERVICE-N`), networks and volumes
//! (`PROJECT_KEY`), the default image of a service that builds
//! (`project-service`), and how a replica is named in progress lines and log
//! prefixes. Pure: `engine`, `plan` and `service` all name things through
//! here, so no two copies can drift.

use crate::compose::model::{Project, Service};

/// `PROJECT-SERVICE-N`, or the service's `container_name`.
pub(crate) fn container_name(project: &Project, service: &Service, number: u32) -> String {
    match &service.container_name {
        Some(name) => name.clone(),
        None => format!("{}-{}-{}", project.name, service.name, number),
    }
}

/// The engine-side name of network `key` (`PROJECT_KEY` unless the spec names it).
pub(crate) fn network_name(project: &Project, key: &str) -> String {
    project
        .networks
        .get(key)
        .map(|n| n.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{}_{}", project.name, key))
}

/// The engine-side name of volume `key` (`PROJECT_KEY` unless the spec names it).
pub(crate) fn volume_name(project: &Project, key: &str) -> String {
    project
        .volumes
        .get(key)
        .map(|v| v.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{}_{}", project.name, key))
}

/// The image a service runs when the spec names none: compose's default
/// `PROJECT-SERVICE`, lowercased (an image reference has no capitals).
pub(crate) fn default_image(project: &Project, service_name: &str) -> String {
    format!("{}-{service_name}", project.name).to_lowercase()
}

/// The image reference a service is tagged with or runs: its `image:`, else
/// [`default_image`].
pub(crate) fn image_reference(project: &Project, service: &Service) -> String {
    match &service.image {
        Some(image) => image.clone(),
        None => default_image(project, &service.name),
    }
}

/// How progress names replica `number` of `service`: `web` when the service
/// has one container, `web-2` when it has several (`multi`).
pub(crate) fn replica_subject(service: &str, number: u32, multi: bool) -> String {
    if multi {
        format!("{service}-{number}")
    } else {
        service.to_string()
    }
}

/// The log prefix of a container: its service, with `-N` for container
/// numbers above 1 (replicas).
pub(crate) fn log_label(service: &str, number: u32) -> String {
    if number > 1 {
        format!("{service}-{number}")
    } else {
        service.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_image_is_lowercased() {
        let project = Project {
            name: "Demo".into(),
            ..Default::default()
        };
        assert_eq!(default_image(&project, "Web"), "demo-web");
    }

    #[test]
    fn replicas_are_numbered_in_progress_and_logs() {
        assert_eq!(replica_subject("web", 1, false), "web");
        assert_eq!(replica_subject("web", 1, true), "web-1");
        assert_eq!(log_label("web", 1), "web");
        assert_eq!(log_label("web", 3), "web-3");
    }
}
