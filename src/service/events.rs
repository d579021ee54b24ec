//! `events`: the project's container events as they happen, for the named
//! services (all when none are named); one-off containers' events are left
//! out, as compose leaves them out.
//!
//! Through a lost engine (a broken event stream, or a ping unanswered): say
//! so once, wait for it up to the reconnect timeout, and resume from a
//! second before the last event seen — the engine replays what happened
//! meanwhile, and what was already shown is left out — so no event is
//! missed or shown twice; or give up with one engine error.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;

use super::follow::await_return;
use crate::compose::model::Project;
use crate::engine::event_feed::project_events;
pub(crate) use crate::engine::event_feed::ProjectEvent;
use crate::engine::logs::follow::{until_unanswered, LIVENESS_DEADLINE};
use crate::engine::Engine;
use crate::logs::time;
use crate::progress::Reporter;

/// How long to wait before opening again an event stream the engine ended
/// while it still answers.
const REOPEN_PAUSE: Duration = Duration::from_millis(200);

/// What `events` was asked.
pub(crate) struct EventsRequest<'a> {
    /// Services whose events to show (all when empty).
    pub services: &'a [String],
    /// How long to wait for a lost engine.
    pub reconnect_timeout: Duration,
}

/// Hands each event of the requested services to `show` as it happens,
/// until `show` fails or the engine is lost for good (the one engine
/// error); runs until dropped otherwise.
pub(crate) async fn follow_events(
    engine: &Engine,
    project: &Project,
    request: &EventsRequest<'_>,
    reporter: &dyn Reporter,
    mut show: impl FnMut(&ProjectEvent) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let services = request.services;
    super::select_services(project, services, true)?;
    let wanted =
        |e: &ProjectEvent| !e.oneoff && (services.is_empty() || services.contains(&e.service));
    let mut cursor = EventCursor::from(time::now());
    let mut since = None;
    loop {
        let mut stream = project_events(engine, &project.name, since);
        let mut liveness = Box::pin(until_unanswered(engine.clone()));
        // Whether a ping went unanswered already (else: the stream ended or broke).
        let unanswered = loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(event)) => {
                        if cursor.is_new(&event) && wanted(&event) {
                            show(&event)?;
                        }
                    }
                    Some(Err(err)) if !err.is_lost() => return Err(err.into()),
                    _ => break false,
                },
                () = &mut liveness => break true,
            }
        };
        if !unanswered && engine.answers_within(LIVENESS_DEADLINE).await {
            tokio::time::sleep(REOPEN_PAUSE).await;
        } else {
            let resumes = "the events resume after the last one shown";
            await_return(engine, request.reconnect_timeout, reporter, resumes).await?;
        }
        since = Some(cursor.since());
    }
}

/// How far before the last event seen a resumed stream starts: the engine
/// stamps an event before it publishes it, so two events published at once
/// may come out of time order, and a resume from the last one's time alone
/// could miss the other.
const RESUME_MARGIN: i64 = 1_000_000_000;

/// Where a resumed event stream starts, and which of its events were seen
/// already (the engine replays every event from `since` on, that very time
/// included).
#[derive(Debug)]
struct EventCursor {
    /// When the first stream was opened (a resume with no event seen yet).
    opened: i64,
    /// Time of the latest event seen.
    last: Option<i64>,
    /// The events seen within [`RESUME_MARGIN`] of `last`: (time, container, action).
    seen: HashSet<(i64, String, String)>,
}

impl EventCursor {
    fn from(opened: i64) -> EventCursor {
        EventCursor {
            opened,
            last: None,
            seen: HashSet::new(),
        }
    }

    /// The `since` of a resumed stream.
    fn since(&self) -> i64 {
        self.last.map_or(self.opened, |last| last - RESUME_MARGIN)
    }

    /// Whether `event` was not seen before (and notes it as seen).
    fn is_new(&mut self, event: &ProjectEvent) -> bool {
        let key = (
            event.time_nanos,
            event.container.clone(),
            event.action.clone(),
        );
        if !self.seen.insert(key) {
            return false;
        }
        if self.last.is_none_or(|last| event.time_nanos > last) {
            self.last = Some(event.time_nanos);
            let since = self.since();
            self.seen.retain(|(time, _, _)| *time >= since);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time_nanos: i64, container: &str, action: &str) -> ProjectEvent {
        ProjectEvent {
            time_nanos,
            service: "web".into(),
            container: container.into(),
            action: action.into(),
            attributes: Default::default(),
            oneoff: false,
        }
    }

    #[test]
    fn a_resume_starts_a_margin_before_the_last_event_seen_or_at_the_first_opening() {
        let mut cursor = EventCursor::from(100);
        assert_eq!(cursor.since(), 100);
        assert!(cursor.is_new(&event(5_000_000_000, "a", "start")));
        assert_eq!(cursor.since(), 4_000_000_000);
    }

    #[test]
    fn events_replayed_by_a_resume_are_left_out_once() {
        let s = 1_000_000_000;
        let mut cursor = EventCursor::from(0);
        assert!(cursor.is_new(&event(10 * s, "a", "create")));
        assert!(cursor.is_new(&event(11 * s, "a", "start")));
        assert!(
            cursor.is_new(&event(11 * s, "b", "start")),
            "same time, other event"
        );
        // Published out of time order: still shown.
        assert!(cursor.is_new(&event(11 * s - 5, "b", "create")));
        // The resumed stream, from a second before the last: what was seen, then new ones.
        assert_eq!(cursor.since(), 10 * s);
        assert!(!cursor.is_new(&event(10 * s, "a", "create")));
        assert!(!cursor.is_new(&event(11 * s - 5, "b", "create")));
        assert!(!cursor.is_new(&event(11 * s, "a", "start")));
        assert!(!cursor.is_new(&event(11 * s, "b", "start")));
        assert!(cursor.is_new(&event(12 * s, "a", "pause")));
        assert!(!cursor.is_new(&event(12 * s, "a", "pause")));
        assert!(cursor.is_new(&event(12 * s + 1, "a", "unpause")));
    }

    #[test]
    fn only_the_margin_is_remembered() {
        let s = 1_000_000_000;
        let mut cursor = EventCursor::from(0);
        for i in 0..100 {
            assert!(cursor.is_new(&event(i * s / 10, "a", "kill")));
        }
        assert!(cursor.seen.len() <= 11, "{}", cursor.seen.len());
    }
}
