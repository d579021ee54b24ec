//! Following a project's logs (`torq logs -f`, `torq up --attach`): every
//! container of the selected services is followed from its tail onwards, and
//! the follow outlives the containers themselves:
//!
//! - a container that stops and starts again (restart, crash loop) is
//!   re-attached from the last line shown, without repeating lines;
//! - a container created later (a recreate, a scale-up, a service started
//!   after the follow began) is attached when it starts, from its first line.
//!
//! It watches the project's container events (replayed from the moment before
//! the containers are listed, so none is missed; an event about a container
//! already followed only wakes its follower, which never repeats a line). Lines go to the sink in arrival order,
//! each container's lines in their own order; the sink is flushed whenever no
//! more lines are waiting, so a terminal sees them at once.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use thiserror::Error;
use tokio::sync::{mpsc, Notify};
use tokio::task::{AbortHandle, JoinSet};

use super::read::{project_sources, read_source};
use super::{container_events, ContainerAction, LogRequest, Tail};
use crate::engine::error::ApiError;
use crate::engine::Engine;
use crate::logs::line::LogLine;
use crate::logs::merge::{Chunk, SourceItem};
use crate::logs::sink::{LogSink, Source};
use crate::logs::time::{self, Nanos};
use crate::naming::log_label;

/// What to follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FollowOptions {
    /// Services to follow; empty means all of the project's.
    pub services: Vec<String>,
    /// Lines of history to show first, per container already there.
    pub tail: Tail,
    /// Show nothing older than this.
    pub since: Option<Nanos>,
}

/// Why a follow ended.
#[derive(Debug, Error)]
pub(crate) enum FollowError {
    /// The sink refused a line (e.g. the reader of stdout went away).
    #[error("cannot write the log: {0}")]
    Sink(#[from] std::io::Error),
    /// The engine could not be asked (listing containers, watching events).
    #[error(transparent)]
    Engine(#[from] ApiError),
    /// The engine's event stream ended (the engine restarted or went away).
    #[error("the engine stopped sending container events; is it still running?")]
    EventsEnded,
}

/// A followed container.
struct Follower {
    /// Woken when the container starts again.
    restarted: Arc<Notify>,
    task: AbortHandle,
}

/// The followed containers and their tasks (dropping it aborts them all).
struct Followers {
    engine: Engine,
    since: Option<Nanos>,
    tx: mpsc::Sender<SourceItem>,
    tasks: JoinSet<()>,
    by_id: HashMap<String, Follower>,
    next_index: usize,
}

impl Followers {
    /// Starts following `source`, showing `tail` lines of its history first.
    fn attach(&mut self, source: Source, tail: Tail, sink: &mut dyn LogSink) {
        let index = self.next_index;
        self.next_index += 1;
        sink.add_source(index, &source);
        let restarted = Arc::new(Notify::new());
        let id = source.container_id.clone();
        let task = self.tasks.spawn(follow_container(
            self.engine.clone(),
            index,
            source,
            tail,
            self.since,
            self.tx.clone(),
            restarted.clone(),
        ));
        self.by_id.insert(id, Follower { restarted, task });
    }
}

/// Follows the logs of `project`'s containers (of `options.services`, or
/// all) into `sink` until the future is dropped or fails. Wrap it in a
/// `select!` with Ctrl-C (or whatever ends the caller's attach), then flush
/// the sink.
pub(crate) async fn follow_project(
    engine: &Engine,
    project: &str,
    options: &FollowOptions,
    sink: &mut dyn LogSink,
) -> Result<(), FollowError> {
    // Events from before the listing on: a container starting in between is not missed.
    let mut events = container_events(engine, project, time::now());
    let sources = project_sources(engine, project, &options.services).await?;
    let (tx, mut rx) = mpsc::channel::<SourceItem>(crate::logs::merge::CHANNEL_BATCHES * 4);
    let mut followers = Followers {
        engine: engine.clone(),
        since: options.since,
        tx,
        tasks: JoinSet::new(),
        by_id: HashMap::new(),
        next_index: 0,
    };
    for source in sources {
        followers.attach(source, options.tail, sink);
    }
    loop {
        tokio::select! {
            Some(item) = rx.recv() => {
                write_item(item, sink)?;
                while let Ok(item) = rx.try_recv() {
                    write_item(item, sink)?;
                }
                sink.flush()?;
            }
            event = events.next() => {
                let event = match event {
                    Some(Ok(event)) => event,
                    Some(Err(err)) => return Err(err.into()),
                    None => return Err(FollowError::EventsEnded),
                };
                let wanted = !event.oneoff
                    && (options.services.is_empty() || options.services.contains(&event.service));
                match event.action {
                    ContainerAction::Start => match followers.by_id.get(&event.id) {
                        Some(follower) => follower.restarted.notify_one(),
                        None if wanted => {
                            let source = Source {
                                label: log_label(&event.service, event.number),
                                service: event.service,
                                number: event.number,
                                container_id: event.id,
                                container_name: event.name,
                            };
                            followers.attach(source, Tail::All, sink);
                        }
                        None => {}
                    },
                    ContainerAction::Destroy => {
                        if let Some(follower) = followers.by_id.remove(&event.id) {
                            follower.task.abort();
                        }
                    }
                    ContainerAction::Create | ContainerAction::Die => {}
                }
            }
        }
    }
}

fn write_item(item: SourceItem, sink: &mut dyn LogSink) -> std::io::Result<()> {
    if let Ok(Chunk::Lines(batch)) = item {
        for line in &batch {
            sink.line(line)?;
        }
    }
    Ok(())
}

/// Follows one container across its restarts: read with `follow` until the
/// engine ends the stream (the container stopped), wait for the next start,
/// and read again from the last line shown.
async fn follow_container(
    engine: Engine,
    index: usize,
    source: Source,
    tail: Tail,
    since: Option<Nanos>,
    tx: mpsc::Sender<SourceItem>,
    restarted: Arc<Notify>,
) {
    let mut last_shown: Option<Nanos> = None;
    let mut request = LogRequest {
        follow: true,
        tail,
        since: since.map(|ns| ns.div_euclid(1_000_000_000)),
        ..Default::default()
    };
    loop {
        let keep = |line: &LogLine| keep_new(line, since, &mut last_shown);
        read_source(
            engine.clone(),
            index,
            source.clone(),
            request,
            tx.clone(),
            keep,
        )
        .await;
        if tx.is_closed() {
            return;
        }
        restarted.notified().await;
        let resume = last_shown.or(since);
        request = LogRequest {
            follow: true,
            tail: Tail::All,
            since: resume.map(|ns| ns.div_euclid(1_000_000_000)),
            ..Default::default()
        };
    }
}

/// Keeps lines newer than the last one shown (the engine's `since` is whole
/// seconds, so a re-attach repeats up to a second of lines) and not older than `since`.
fn keep_new(line: &LogLine, since: Option<Nanos>, last_shown: &mut Option<Nanos>) -> bool {
    let Some(ts) = line.timestamp else {
        return true;
    };
    if since.is_some_and(|s| ts < s) || last_shown.is_some_and(|last| ts <= last) {
        return false;
    }
    *last_shown = Some(ts);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::StreamKind;
    use bytes::Bytes;

    fn line(text: &'static str) -> LogLine {
        LogLine::from_entry(0, StreamKind::Stdout, Bytes::from_static(text.as_bytes()))
    }

    #[test]
    fn re_attached_lines_are_not_repeated() {
        let mut last = None;
        assert!(keep_new(&line("2024-05-01T12:00:00.1Z a"), None, &mut last));
        assert!(keep_new(&line("2024-05-01T12:00:00.2Z b"), None, &mut last));
        // The engine repeats the second the re-attach started in.
        assert!(!keep_new(
            &line("2024-05-01T12:00:00.1Z a"),
            None,
            &mut last
        ));
        assert!(!keep_new(
            &line("2024-05-01T12:00:00.2Z b"),
            None,
            &mut last
        ));
        assert!(keep_new(&line("2024-05-01T12:00:00.3Z c"), None, &mut last));
        assert!(keep_new(&line("untimed"), None, &mut last));
    }

    #[test]
    fn since_is_exact() {
        let mut last = None;
        let since = Some(1_714_564_800_500_000_000);
        assert!(!keep_new(
            &line("2024-05-01T12:00:00.4Z a"),
            since,
            &mut last
        ));
        assert!(keep_new(
            &line("2024-05-01T12:00:00.5Z b"),
            since,
            &mut last
        ));
    }
}
