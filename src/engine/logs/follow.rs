//! Following a project's logs (`torq logs -f`, `torq up --attach`): every
//! container of the selected services is followed from its tail onwards, and
//! the follow outlives the containers themselves:
//!
//! - a container that stops and starts again (restart, crash loop) is
//!   re-attached from the last line shown, without repeating lines;
//! - a container created later (a recreate, a scale-up, a service started
//!   after the follow began) is attached when it starts, from its first line;
//! - a destroyed container's log is still read to its end.
//!
//! It watches the project's container events (replayed from the moment before
//! the containers are listed, so none is missed; an event about a container
//! already followed only wakes its follower, which never repeats a line).
//! Lines go to the sink in arrival order, each container's lines in their
//! own order; the sink is flushed whenever no more lines are waiting, so a
//! terminal sees them at once. While the sink says it is full (its reader
//! is behind, see [`LogSink::room`]) the follow takes no lines and awaits
//! room, so the engine's streams wait rather than the runtime.
//!
//! A [`ProjectFollow`] outlives the engine's connection. It notices a lost
//! engine actively — a log or event stream breaking in the transport, or a
//! ping every [`LIVENESS_INTERVAL`] left unanswered for
//! [`LIVENESS_DEADLINE`] — and ends with [`FollowError::Lost`]. Run again
//! (the service layer does, once the engine answers), it lists the
//! containers anew and resumes each one after the last line it wrote to the
//! sink, by timestamp: no line twice, and none lost of a container that
//! still exists. Asked to drain, it follows no new container and ends once
//! every followed container's stream has ended (after a `down`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use thiserror::Error;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

use super::read::{project_sources, read_source};
use super::{container_events, ContainerAction, ContainerEvent, LogRequest, Tail};
use crate::engine::error::ApiError;
use crate::engine::Engine;
use crate::logs::line::LogLine;
use crate::logs::merge::{Chunk, SourceItem};
use crate::logs::sink::{LogSink, Source};
use crate::logs::time::{self, Nanos};
use crate::naming::log_label;

/// How often a follow checks that the engine still answers.
pub(crate) const LIVENESS_INTERVAL: Duration = Duration::from_secs(2);

/// How long that ping may go unanswered before the engine counts as lost.
pub(crate) const LIVENESS_DEADLINE: Duration = Duration::from_secs(3);

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
    /// The engine refused a request (listing containers, watching events).
    #[error(transparent)]
    Engine(ApiError),
    /// The connection to the engine broke and the engine does not answer.
    /// Run the follow again once it does: it resumes where it stopped.
    #[error("lost the connection to the Docker engine")]
    Lost,
}

impl From<ApiError> for FollowError {
    fn from(err: ApiError) -> FollowError {
        if err.is_lost() {
            FollowError::Lost
        } else {
            FollowError::Engine(err)
        }
    }
}

/// A container the follow has shown (or is showing), at its sink index.
struct Followed {
    /// Timestamp of the last line written to the sink.
    last_written: Option<Nanos>,
    /// Where a resumed read starts when nothing was written yet: the
    /// follow's `since`, or the moment its tail was asked for.
    resume_from: Option<Nanos>,
}

/// A follow of one project's logs that can run again after the engine was
/// lost, resuming every container after the last line it wrote.
pub(crate) struct ProjectFollow {
    project: String,
    options: FollowOptions,
    /// By sink index.
    followed: Vec<Followed>,
    by_id: HashMap<String, usize>,
    /// Whether the containers were listed before (a later listing resumes).
    listed: bool,
}

/// How one pass of a follow ended well.
enum Pass {
    /// Drained: every followed container's stream ended.
    Drained,
    /// The event stream ended but the engine answers: list again.
    Again,
}

/// The wake-ups of one follower.
#[derive(Default)]
struct Wakes {
    /// The container started again: read on.
    restarted: Notify,
    /// The container is gone (or the follow drains): end after this read.
    gone: Notify,
}

/// Where a follower starts reading.
struct Start {
    request: LogRequest,
    /// Leave out lines at or before this (written before).
    last: Option<Nanos>,
    /// Leave out lines before this.
    floor: Option<Nanos>,
}

/// The followers of one pass (dropping it aborts them).
struct Followers {
    engine: Engine,
    tx: mpsc::Sender<SourceItem>,
    /// A follower's stream broke in the transport.
    broken: mpsc::UnboundedSender<ApiError>,
    tasks: JoinSet<()>,
    wakes: HashMap<usize, Arc<Wakes>>,
}

impl Followers {
    fn spawn(&mut self, index: usize, source: Source, start: Start) {
        let wakes = Arc::new(Wakes::default());
        self.wakes.insert(index, wakes.clone());
        self.tasks.spawn(follow_container(
            self.engine.clone(),
            index,
            source,
            start,
            self.tx.clone(),
            self.broken.clone(),
            wakes,
        ));
    }

    /// Every follower ends once its current read does.
    fn end_all(&self) {
        for wakes in self.wakes.values() {
            wakes.gone.notify_one();
        }
    }
}

impl ProjectFollow {
    pub(crate) fn new(project: &str, options: FollowOptions) -> ProjectFollow {
        ProjectFollow {
            project: project.to_string(),
            options,
            followed: Vec::new(),
            by_id: HashMap::new(),
            listed: false,
        }
    }
}

/// A follow that can run again after [`FollowError::Lost`], resuming where
/// it stopped: a project's containers ([`ProjectFollow`]) or a deployed
/// stack's services ([`crate::engine::swarm::logs::StackFollow`]).
pub(crate) trait ResumableFollow {
    /// Follows into `sink` until the future is dropped, the sink or the
    /// engine fails, or — once `drain` is true — every followed stream has
    /// ended. After [`FollowError::Lost`], run it again: it resumes where it
    /// stopped, showing no line twice.
    async fn run(
        &mut self,
        engine: &Engine,
        sink: &mut dyn LogSink,
        drain: &mut watch::Receiver<bool>,
    ) -> Result<(), FollowError>;
}

impl ResumableFollow for ProjectFollow {
    /// Follows the project's containers (of the options' services, or all).
    async fn run(
        &mut self,
        engine: &Engine,
        sink: &mut dyn LogSink,
        drain: &mut watch::Receiver<bool>,
    ) -> Result<(), FollowError> {
        let project = self.project.clone();
        loop {
            match self.pass(engine, &project, sink, drain).await? {
                Pass::Drained => return Ok(()),
                Pass::Again => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

impl ProjectFollow {
    /// One listing of the containers and the follow of them that comes after.
    async fn pass(
        &mut self,
        engine: &Engine,
        project: &str,
        sink: &mut dyn LogSink,
        drain: &mut watch::Receiver<bool>,
    ) -> Result<Pass, FollowError> {
        // Events from before the listing on: a container starting in between is not missed.
        let mut events = container_events(engine, project, time::now());
        let sources = project_sources(engine, project, &self.options.services).await?;
        let (tx, mut rx) = mpsc::channel::<SourceItem>(crate::logs::merge::CHANNEL_BATCHES * 4);
        let (broken, mut broken_rx) = mpsc::unbounded_channel();
        let mut followers = Followers {
            engine: engine.clone(),
            tx,
            broken,
            tasks: JoinSet::new(),
            wakes: HashMap::new(),
        };
        let resumed = std::mem::replace(&mut self.listed, true);
        for source in sources {
            let (index, start) = match self.by_id.get(&source.container_id) {
                Some(&index) => (index, self.resume(index)),
                None if resumed => self.add(&source, Tail::All, sink),
                None => self.add(&source, self.options.tail, sink),
            };
            followers.spawn(index, source, start);
        }
        let mut liveness = Box::pin(until_unanswered(engine.clone()));
        let mut draining = false;
        let mut drain_open = true;
        loop {
            if !draining && *drain.borrow() {
                draining = true;
                followers.end_all();
            }
            // A full sink (its reader is behind): take no lines until it has
            // room; the followers' channel fills and the engine's streams wait.
            let full = sink.room();
            let paced = full.is_some();
            let room = async move {
                match full {
                    Some(room) => room.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = room, if paced => {}
                Some(item) = rx.recv(), if !paced => {
                    self.write(item, sink)?;
                    self.write_waiting(&mut rx, sink)?;
                }
                event = events.next() => match event {
                    Some(Ok(event)) => self.on_event(event, draining, &mut followers, sink),
                    Some(Err(err)) if !err.is_lost() => return Err(err.into()),
                    _ => {
                        self.write_waiting(&mut rx, sink)?;
                        return if engine.answers_within(LIVENESS_DEADLINE).await {
                            Ok(Pass::Again)
                        } else {
                            Err(FollowError::Lost)
                        };
                    }
                },
                Some(_) = broken_rx.recv() => {
                    if !engine.answers_within(LIVENESS_DEADLINE).await {
                        self.write_waiting(&mut rx, sink)?;
                        return Err(FollowError::Lost);
                    }
                }
                () = &mut liveness => {
                    self.write_waiting(&mut rx, sink)?;
                    return Err(FollowError::Lost);
                }
                changed = drain.changed(), if drain_open && !draining => {
                    drain_open = changed.is_ok();
                }
                joined = followers.tasks.join_next(), if draining || !followers.tasks.is_empty() => {
                    if joined.is_none() {
                        self.write_waiting(&mut rx, sink)?;
                        return Ok(Pass::Drained);
                    }
                }
            }
        }
    }

    /// A container seen for the first time: its sink index and where to start.
    fn add(&mut self, source: &Source, tail: Tail, sink: &mut dyn LogSink) -> (usize, Start) {
        let index = self.followed.len();
        sink.add_source(index, source);
        let since = self.options.since;
        let resume_from = match tail {
            Tail::All => since,
            Tail::Lines(_) => Some(since.unwrap_or(Nanos::MIN).max(time::now())),
        };
        self.by_id.insert(source.container_id.clone(), index);
        self.followed.push(Followed {
            last_written: None,
            resume_from,
        });
        let start = Start {
            request: LogRequest {
                follow: true,
                tail,
                since: since.map(whole_second),
                ..Default::default()
            },
            last: None,
            floor: since,
        };
        (index, start)
    }

    /// Where a container followed before the engine was lost starts again.
    fn resume(&self, index: usize) -> Start {
        let followed = &self.followed[index];
        let from = followed.last_written.or(followed.resume_from);
        Start {
            request: LogRequest {
                follow: true,
                tail: Tail::All,
                since: from.map(whole_second),
                ..Default::default()
            },
            last: followed.last_written,
            floor: followed.resume_from,
        }
    }

    /// A container of the project started or went away.
    fn on_event(
        &mut self,
        event: ContainerEvent,
        draining: bool,
        followers: &mut Followers,
        sink: &mut dyn LogSink,
    ) {
        let known = self.by_id.get(&event.id).copied();
        match (event.action, known) {
            (ContainerAction::Start, Some(index)) if !draining => {
                if let Some(wakes) = followers.wakes.get(&index) {
                    wakes.restarted.notify_one();
                }
            }
            (ContainerAction::Start, None) if !draining && self.wants(&event) => {
                let source = Source {
                    label: log_label(&event.service, event.number),
                    service: event.service,
                    number: event.number,
                    container_id: event.id,
                    container_name: event.name,
                };
                let (index, start) = self.add(&source, Tail::All, sink);
                followers.spawn(index, source, start);
            }
            (ContainerAction::Destroy, Some(index)) => {
                if let Some(wakes) = followers.wakes.get(&index) {
                    wakes.gone.notify_one();
                }
            }
            _ => {}
        }
    }

    /// Whether a container that started is one the follow shows.
    fn wants(&self, event: &ContainerEvent) -> bool {
        let services = &self.options.services;
        !event.oneoff && (services.is_empty() || services.contains(&event.service))
    }

    /// Writes a batch and notes each container's last line written.
    fn write(&mut self, item: SourceItem, sink: &mut dyn LogSink) -> std::io::Result<()> {
        if let Ok(Chunk::Lines(batch)) = item {
            for line in &batch {
                sink.line(line)?;
                if let (Some(ts), Some(followed)) =
                    (line.timestamp, self.followed.get_mut(line.source))
                {
                    followed.last_written = Some(ts);
                }
            }
        }
        Ok(())
    }

    /// Writes every batch already waiting, then flushes the sink.
    fn write_waiting(
        &mut self,
        rx: &mut mpsc::Receiver<SourceItem>,
        sink: &mut dyn LogSink,
    ) -> std::io::Result<()> {
        while let Ok(item) = rx.try_recv() {
            self.write(item, sink)?;
        }
        sink.flush()
    }
}

/// The whole second the engine's `since` takes (it repeats the rest of that
/// second; the follower leaves out what was shown).
pub(crate) fn whole_second(ns: Nanos) -> i64 {
    ns.div_euclid(1_000_000_000)
}

/// Resolves when the engine leaves a ping unanswered (checked every
/// [`LIVENESS_INTERVAL`]): a hung or unreachable engine is noticed even
/// when no stream breaks.
pub(crate) async fn until_unanswered(engine: Engine) {
    loop {
        tokio::time::sleep(LIVENESS_INTERVAL).await;
        if !engine.answers_within(LIVENESS_DEADLINE).await {
            return;
        }
    }
}

/// Follows one container across its restarts: read with `follow` until the
/// engine ends the stream (the container stopped), then wait for the next
/// start and read again from the last line shown — or end, when the
/// container is gone. A stream that breaks in the transport is reported on
/// `broken`.
async fn follow_container(
    engine: Engine,
    index: usize,
    source: Source,
    start: Start,
    tx: mpsc::Sender<SourceItem>,
    broken: mpsc::UnboundedSender<ApiError>,
    wakes: Arc<Wakes>,
) {
    let Start {
        mut request,
        mut last,
        floor,
    } = start;
    loop {
        let keep = |line: &LogLine| keep_new(line, floor, &mut last);
        let read = read_source(
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
        if let Err(err) = read {
            if err.is_lost() {
                let _ = broken.send(err);
            }
        }
        tokio::select! {
            () = wakes.restarted.notified() => {}
            () = wakes.gone.notified() => return,
        }
        request = LogRequest {
            follow: true,
            tail: Tail::All,
            since: last.or(floor).map(whole_second),
            ..Default::default()
        };
    }
}

/// Keeps lines newer than the last one shown (the engine's `since` is whole
/// seconds, so a re-attach repeats up to a second of lines) and not older than `since`.
pub(crate) fn keep_new(
    line: &LogLine,
    since: Option<Nanos>,
    last_shown: &mut Option<Nanos>,
) -> bool {
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

    fn source(id: &str) -> Source {
        Source {
            label: "web".into(),
            service: "web".into(),
            number: 1,
            container_id: id.into(),
            container_name: format!("demo-web-{id}"),
        }
    }

    /// A sink that takes nothing (the follow's bookkeeping is under test).
    struct Null;

    impl LogSink for Null {
        fn add_source(&mut self, _: usize, _: &Source) {}
        fn line(&mut self, _: &LogLine) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_resumed_container_starts_after_its_last_line_written() {
        let mut follow = ProjectFollow::new(
            "demo",
            FollowOptions {
                tail: Tail::Lines(10),
                since: Some(1_714_564_800_250_000_000),
                ..Default::default()
            },
        );
        let (index, first) = follow.add(&source("a"), Tail::Lines(10), &mut Null);
        assert_eq!(first.request.tail, Tail::Lines(10));
        assert_eq!(first.request.since, Some(1_714_564_800));
        let batch = vec![line("2024-05-01T12:00:07.5Z seven")];
        follow
            .write(Ok(Chunk::Lines(batch)), &mut Null)
            .expect("write");
        let resumed = follow.resume(index);
        assert_eq!(resumed.request.tail, Tail::All);
        assert_eq!(resumed.request.since, Some(1_714_564_807));
        assert_eq!(resumed.last, Some(1_714_564_807_500_000_000));
    }

    #[test]
    fn a_container_with_nothing_written_resumes_from_where_it_was_first_read() {
        let mut follow = ProjectFollow::new(
            "demo",
            FollowOptions {
                tail: Tail::All,
                since: Some(1_714_564_800_000_000_000),
                ..Default::default()
            },
        );
        let (index, _) = follow.add(&source("a"), Tail::All, &mut Null);
        let resumed = follow.resume(index);
        assert_eq!(resumed.last, None);
        assert_eq!(resumed.floor, Some(1_714_564_800_000_000_000));
        assert_eq!(resumed.request.since, Some(1_714_564_800));

        let before = time::now();
        let (tailed, _) = follow.add(&source("b"), Tail::Lines(0), &mut Null);
        let resumed = follow.resume(tailed);
        assert!(resumed.floor.is_some_and(|f| f >= before));
    }
}
