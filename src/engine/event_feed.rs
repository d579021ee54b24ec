//! Every container event of a project as it happens (`events`): the
//! engine's event stream filtered by the project label, each event with its
//! service, container, action and the non-compose attributes, as docker
//! compose reports them; from a given time on, for a resume after a lost
//! engine.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::EventsOptions;
use futures::{Stream, StreamExt};

use super::error::ApiError;
use super::{labels, Engine};

/// One container event of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectEvent {
    /// Epoch nanoseconds.
    pub(crate) time_nanos: i64,
    pub(crate) service: String,
    /// The container id.
    pub(crate) container: String,
    /// The engine's action (`create`, `start`, `die`, `health_status: healthy`, …).
    pub(crate) action: String,
    /// The event's attributes without compose's labels (`name`, `image`, `exitCode`, …).
    pub(crate) attributes: BTreeMap<String, String>,
    /// A `run` container's.
    pub(crate) oneoff: bool,
}

/// Streams the container events of `project` from now on, or from
/// `since` (epoch nanoseconds; the engine includes events at that very
/// time) when given.
pub(crate) fn project_events(
    engine: &Engine,
    project: &str,
    since: Option<i64>,
) -> impl Stream<Item = Result<ProjectEvent, ApiError>> + Send + Unpin + 'static {
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![labels::project_filter(project)]),
    ]);
    let options = EventsOptions {
        since: since.map(|nanos| {
            format!(
                "{}.{:09}",
                nanos.div_euclid(1_000_000_000),
                nanos.rem_euclid(1_000_000_000)
            )
        }),
        filters: Some(filters),
        ..Default::default()
    };
    let op = format!("watch the events of project {project}");
    engine
        .docker()
        .events(Some(options))
        .filter_map(move |item| {
            let out = match item {
                Ok(message) => project_event(message).map(Ok),
                Err(err) => Some(Err(ApiError::from_bollard(op.clone(), err))),
            };
            std::future::ready(out)
        })
}

fn project_event(message: bollard::models::EventMessage) -> Option<ProjectEvent> {
    let actor = message.actor?;
    let attributes = actor.attributes.unwrap_or_default();
    let time_nanos = message
        .time_nano
        .or_else(|| message.time.map(|t| t * 1_000_000_000))
        .unwrap_or_default();
    Some(ProjectEvent {
        time_nanos,
        service: attributes.get(labels::SERVICE).cloned().unwrap_or_default(),
        container: actor.id.unwrap_or_default(),
        action: message.action.unwrap_or_default(),
        oneoff: attributes
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        attributes: attributes
            .into_iter()
            .filter(|(k, _)| !k.starts_with("com.docker.compose."))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{EventActor, EventMessage};

    #[test]
    fn compose_labels_are_left_out_of_the_attributes() {
        let message = EventMessage {
            action: Some("start".into()),
            time: Some(2),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(HashMap::from([
                    (labels::SERVICE.to_string(), "web".to_string()),
                    (labels::PROJECT.to_string(), "demo".to_string()),
                    ("name".to_string(), "demo-web-1".to_string()),
                ])),
            }),
            ..Default::default()
        };
        let event = project_event(message).unwrap();
        assert_eq!(event.service, "web");
        assert_eq!(event.time_nanos, 2_000_000_000);
        assert_eq!(
            event.attributes,
            BTreeMap::from([("name".to_string(), "demo-web-1".to_string())])
        );
        assert!(!event.oneoff);
    }
}
