//! A deployed stack's logs (`torq deploy logs`): each service's log through
//! the engine's service-logs API — the lines of all its tasks, on whichever
//! node they run — read to the end and merged by time ([`read_stack`]), or
//! followed ([`StackFollow`]).
//!
//! A [`StackFollow`] outlives the engine's connection as a project's
//! follow does: it notices a lost engine (a stream breaking in the transport
//! and the engine not answering a ping, or a ping every
//! [`LIVENESS_INTERVAL`](crate::engine::logs::follow::LIVENESS_INTERVAL)
//! left unanswered) and ends with [`FollowError::Lost`]; run again, it asks
//! each service's log from the second of the last line it wrote and leaves
//! out what it wrote before. The engine interleaves a service's tasks in one
//! stream, not strictly by time, so lines are only left out on a resume (up
//! to the last one written before the loss), never while following.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use tokio::sync::watch;

use crate::engine::error::ApiError;
use crate::engine::logs::follow::{
    until_unanswered, whole_second, FollowError, ResumableFollow, LIVENESS_DEADLINE,
};
use crate::engine::logs::read::BATCH_LINES;
use crate::engine::logs::{service_logs, Frame, LogRequest};
use crate::engine::Engine;
use crate::logs::line::{LineAssembler, LogLine};
use crate::logs::sink::{LogSink, Source};
use crate::logs::time::{self, Nanos};
use crate::logs::Tail;

/// One service of a stack whose log is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StackSource {
    /// The spec's name of the service (the prefix of its lines).
    pub service: String,
    /// The Swarm service's id.
    pub id: String,
    /// The Swarm service's name (`STACK_SERVICE`), for error messages.
    pub name: String,
}

impl StackSource {
    /// The sink's view of it.
    fn as_source(&self) -> Source {
        Source {
            service: self.service.clone(),
            number: 1,
            container_id: self.id.clone(),
            container_name: self.name.clone(),
            label: self.service.clone(),
        }
    }
}

/// Every source's last `tail` lines, merged by time. The first engine
/// failure ends the read.
pub(crate) async fn read_stack(
    engine: &Engine,
    sources: &[StackSource],
    tail: Tail,
    sink: &mut dyn LogSink,
) -> Result<Result<(), ApiError>, std::io::Error> {
    let request = LogRequest {
        tail,
        ..LogRequest::default()
    };
    let reads = sources.iter().enumerate().map(|(index, source)| {
        let frames = service_logs(engine, &source.id, &source.name, &request);
        read_to_end(index, frames)
    });
    let mut lines = Vec::new();
    let mut failure = None;
    for read in futures::future::join_all(reads).await {
        match read {
            Ok(read) => lines.extend(read),
            Err(err) => failure = failure.or(Some(err)),
        }
    }
    if let Some(err) = failure {
        return Ok(Err(err));
    }
    lines.sort_by_key(|line| line.timestamp);
    for (index, source) in sources.iter().enumerate() {
        sink.add_source(index, &source.as_source());
    }
    for line in &lines {
        sink.line(line)?;
    }
    sink.flush()?;
    Ok(Ok(()))
}

/// One service's log as lines, to its end.
async fn read_to_end(
    index: usize,
    mut frames: impl futures::Stream<Item = Result<Frame, ApiError>> + Unpin,
) -> Result<Vec<LogLine>, ApiError> {
    let mut assembler = LineAssembler::new(index);
    let mut lines = Vec::new();
    while let Some(frame) = frames.next().await {
        let frame = frame?;
        assembler.push(frame.stream, frame.bytes, &mut lines);
    }
    assembler.finish(&mut lines);
    Ok(lines)
}

/// A follow of a stack's services' logs that can run again after the engine
/// was lost (see the module doc).
pub(crate) struct StackFollow {
    sources: Vec<StackSource>,
    tail: Tail,
    /// Per source: the time of the newest line written.
    newest: Vec<Option<Nanos>>,
    /// When the tails were first asked for: where a resumed read of a
    /// source with nothing written starts. `None` before the first run.
    started: Option<Nanos>,
}

/// How one pass of a stack follow ended well.
enum Pass {
    /// Every service's stream ended while the engine answers (the stack
    /// was removed).
    Ended,
    /// A stream broke but the engine answers: read again.
    Again,
}

impl StackFollow {
    pub(crate) fn new(sources: Vec<StackSource>, tail: Tail) -> StackFollow {
        let newest = vec![None; sources.len()];
        StackFollow {
            sources,
            tail,
            newest,
            started: None,
        }
    }

    /// Where each source's read starts, and the line times left out (at or
    /// before: written before the engine was lost).
    fn requests(&mut self) -> Vec<(LogRequest, Option<Nanos>)> {
        let resumed = self.started.is_some();
        let started = *self.started.get_or_insert_with(time::now);
        self.newest
            .iter()
            .map(|newest| {
                if !resumed {
                    let request = LogRequest {
                        follow: true,
                        tail: self.tail,
                        ..LogRequest::default()
                    };
                    return (request, None);
                }
                let from = newest.unwrap_or(started);
                let request = LogRequest {
                    follow: true,
                    tail: Tail::All,
                    since: Some(whole_second(from)),
                    ..LogRequest::default()
                };
                (request, *newest)
            })
            .collect()
    }

    /// Follows every source until the streams end, the engine is lost, or
    /// the sink fails.
    async fn pass(&mut self, engine: &Engine, sink: &mut dyn LogSink) -> Result<Pass, FollowError> {
        let requests = self.requests();
        let floors: Vec<Option<Nanos>> = requests.iter().map(|(_, floor)| *floor).collect();
        let streams = self.sources.iter().zip(&requests).enumerate().map(
            |(index, (source, (request, _)))| {
                service_logs(engine, &source.id, &source.name, request)
                    .map(move |frame| (index, frame))
            },
        );
        let mut frames = stream::select_all(streams).ready_chunks(BATCH_LINES);
        let mut assemblers: Vec<LineAssembler> =
            (0..self.sources.len()).map(LineAssembler::new).collect();
        let mut liveness = Box::pin(until_unanswered(engine.clone()));
        loop {
            if let Some(room) = sink.room() {
                tokio::select! {
                    () = room => {}
                    () = &mut liveness => return Err(FollowError::Lost),
                }
            }
            let batch = tokio::select! {
                batch = frames.next() => batch,
                () = &mut liveness => return Err(FollowError::Lost),
            };
            let Some(batch) = batch else {
                sink.flush()?;
                return match engine.answers_within(LIVENESS_DEADLINE).await {
                    true => Ok(Pass::Ended),
                    false => Err(FollowError::Lost),
                };
            };
            let mut lines = Vec::new();
            for (index, frame) in batch {
                match frame {
                    Ok(frame) => assemblers[index].push(frame.stream, frame.bytes, &mut lines),
                    Err(err) if err.is_lost() => {
                        sink.flush()?;
                        return match engine.answers_within(LIVENESS_DEADLINE).await {
                            true => Ok(Pass::Again),
                            false => Err(FollowError::Lost),
                        };
                    }
                    Err(err) => return Err(FollowError::Engine(err)),
                }
            }
            for line in lines {
                if self.keep(&line, &floors) {
                    sink.line(&line)?;
                }
            }
            sink.flush()?;
        }
    }

    /// Whether to write `line` (newer than its source's floor), noting its time.
    fn keep(&mut self, line: &LogLine, floors: &[Option<Nanos>]) -> bool {
        let Some(ts) = line.timestamp else {
            return true;
        };
        let source = line.source;
        if floors[source].is_some_and(|floor| ts <= floor) {
            return false;
        }
        let newest = &mut self.newest[source];
        *newest = Some(newest.map_or(ts, |n| n.max(ts)));
        true
    }
}

impl ResumableFollow for StackFollow {
    /// Follows the stack's services until their streams end (the stack was
    /// removed); a stack follow has nothing to drain.
    async fn run(
        &mut self,
        engine: &Engine,
        sink: &mut dyn LogSink,
        _drain: &mut watch::Receiver<bool>,
    ) -> Result<(), FollowError> {
        if self.started.is_none() {
            for (index, source) in self.sources.iter().enumerate() {
                sink.add_source(index, &source.as_source());
            }
        }
        loop {
            match self.pass(engine, sink).await? {
                Pass::Ended => return Ok(()),
                // A moment before asking again, as a project's follow does.
                Pass::Again => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str) -> StackSource {
        StackSource {
            service: name.into(),
            id: format!("id-{name}"),
            name: format!("stack_{name}"),
        }
    }

    fn line(source: usize, text: &'static str) -> LogLine {
        LogLine::stdout(source, text)
    }

    #[test]
    fn the_first_pass_asks_for_the_tail_and_a_resume_for_what_came_after() {
        let mut follow = StackFollow::new(vec![source("a"), source("b")], Tail::Lines(5));
        let first = follow.requests();
        assert!(first
            .iter()
            .all(|(r, floor)| r.tail == Tail::Lines(5) && r.since.is_none() && floor.is_none()));
        let shown = line(0, "2024-05-01T12:00:07.250000000Z hello");
        assert!(follow.keep(&shown, &[None, None]));
        let resumed = follow.requests();
        // a: from the second of its last line, leaving that line out;
        // b (nothing shown): from when the follow began.
        assert_eq!(resumed[0].0.since, Some(1_714_564_807));
        assert_eq!(resumed[0].0.tail, Tail::All);
        assert_eq!(resumed[0].1, shown.timestamp);
        assert!(resumed[1].0.since.is_some() && resumed[1].1.is_none());
    }

    #[test]
    fn only_a_resume_leaves_lines_out_and_tasks_may_interleave() {
        let mut follow = StackFollow::new(vec![source("a")], Tail::All);
        let later = line(0, "2024-05-01T12:00:07.500000000Z task 1");
        let earlier = line(0, "2024-05-01T12:00:07.250000000Z task 2");
        // While following, a task's line older than another's is still shown.
        assert!(follow.keep(&later, &[None]));
        assert!(follow.keep(&earlier, &[None]));
        let floors = [later.timestamp];
        assert!(!follow.keep(&earlier, &floors));
        assert!(!follow.keep(&later, &floors));
        assert!(follow.keep(&line(0, "2024-05-01T12:00:07.500000001Z next"), &floors));
    }
}
