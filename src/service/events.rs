//! `events`: the project's container events as they happen, for the named
//! services (all when none are named); one-off containers' events are left
//! out, as compose leaves them out.

use futures::{Stream, StreamExt};

use crate::compose::model::Project;
use crate::engine::event_feed::project_events;
pub(crate) use crate::engine::event_feed::ProjectEvent;
use crate::engine::Engine;

/// Streams the events of `services` (all when empty) until the engine
/// closes the stream.
pub(crate) fn events(
    engine: &Engine,
    project: &Project,
    services: &[String],
) -> anyhow::Result<impl Stream<Item = anyhow::Result<ProjectEvent>> + Unpin> {
    super::select_services(project, services, true)?;
    let services = services.to_vec();
    Ok(
        project_events(engine, &project.name).filter_map(move |item| {
            let keep = match &item {
                Ok(event) => {
                    !event.oneoff && (services.is_empty() || services.contains(&event.service))
                }
                Err(_) => true,
            };
            std::future::ready(keep.then(|| item.map_err(anyhow::Error::from)))
        }),
    )
}
