//! Reading containers' logs: one task per container reads the engine's
//! frames, and [`read_merged`] merges them by timestamp into a sink (`torq
//! logs` without `-f`); [`read_source`] gives a follower batches of lines.
//!
//! A merged read lets every container's log run ahead of the merge, packed
//! compactly (five bytes per frame plus the frame), up to [`READ_AHEAD_BYTES`]
//! shared by all containers: the engine streams all of them in parallel even
//! when one service's lines all come before another's (services that start
//! one after the other), and memory stays bounded whatever the log volume.

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{container_logs, LogRequest};
use crate::engine::error::ApiError;
use crate::engine::state::{service_containers, ObservedContainer};
use crate::engine::Engine;
use crate::logs::line::{LineAssembler, LogLine};
use crate::logs::merge::{merge_by_time, Chunk, SourceFailure, SourceItem};
use crate::logs::packed::{FramePacker, CHUNK_BYTES};
use crate::logs::sink::{LogSink, Source};
use crate::naming::log_label;

/// Most frames taken from the engine's stream at a time.
pub(crate) const BATCH_LINES: usize = 512;

/// Read-ahead of a merged read, shared by all its containers.
pub(crate) const READ_AHEAD_BYTES: usize = 6 * 1024 * 1024;

/// Chunks each of `sources` containers may have waiting for the merge.
pub(crate) fn read_ahead_chunks(sources: usize) -> usize {
    (READ_AHEAD_BYTES / CHUNK_BYTES / sources.max(1)).max(2)
}

/// Reads `source`'s log (`index` is its place in the sink's table) and sends
/// its lines to `tx` until the log ends or the receiver goes away; an engine
/// failure ends the read and is returned (the lines before it were sent).
/// Lines for which `keep` returns false are dropped (a follower uses it to
/// skip lines it showed before a restart or a reconnect).
pub(crate) async fn read_source(
    engine: Engine,
    index: usize,
    source: Source,
    request: LogRequest,
    tx: mpsc::Sender<SourceItem>,
    mut keep: impl FnMut(&LogLine) -> bool + Send,
) -> Result<(), ApiError> {
    let frames = container_logs(
        &engine,
        &source.container_id,
        &source.container_name,
        &request,
    );
    let mut chunks = frames.ready_chunks(BATCH_LINES);
    let mut assembler = LineAssembler::new(index);
    while let Some(chunk) = chunks.next().await {
        let mut batch = Vec::with_capacity(chunk.len());
        let mut failure = None;
        for item in chunk {
            match item {
                Ok(frame) => assembler.push(frame.stream, frame.bytes, &mut batch),
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        batch.retain(&mut keep);
        if !batch.is_empty() && tx.send(Ok(Chunk::Lines(batch))).await.is_err() {
            return Ok(());
        }
        if let Some(err) = failure {
            return Err(err);
        }
    }
    let mut rest = Vec::new();
    assembler.finish(&mut rest);
    rest.retain(&mut keep);
    if !rest.is_empty() {
        let _ = tx.send(Ok(Chunk::Lines(rest))).await;
    }
    Ok(())
}

/// Reads `source`'s log and sends its frames packed into chunks (lines are
/// cut out by the merge), until the log ends, the receiver goes away, or the
/// engine fails (sent as the last item).
pub(crate) async fn read_source_packed(
    engine: Engine,
    source: Source,
    request: LogRequest,
    tx: mpsc::Sender<SourceItem>,
) {
    let frames = container_logs(
        &engine,
        &source.container_id,
        &source.container_name,
        &request,
    );
    let mut frames = frames.ready_chunks(BATCH_LINES);
    let mut packer = FramePacker::with_timestamps(!request.without_timestamps);
    while let Some(ready) = frames.next().await {
        for item in ready {
            match item {
                Ok(frame) => {
                    if let Some(chunk) = packer.push(frame.stream, &frame.bytes) {
                        if tx.send(Ok(Chunk::Frames(chunk))).await.is_err() {
                            return;
                        }
                    }
                }
                Err(err) => {
                    if let Some(chunk) = packer.flush() {
                        let _ = tx.send(Ok(Chunk::Frames(chunk))).await;
                    }
                    let _ = tx.send(Err(err.to_string())).await;
                    return;
                }
            }
        }
        // Nothing more is ready: hand over what there is (a slow or
        // following log is not held back), unless the merge is still busy.
        if tx.capacity() == tx.max_capacity() {
            if let Some(chunk) = packer.flush() {
                if tx.send(Ok(Chunk::Frames(chunk))).await.is_err() {
                    return;
                }
            }
        }
    }
    if let Some(chunk) = packer.flush() {
        let _ = tx.send(Ok(Chunk::Frames(chunk))).await;
    }
}

/// Reads every source's log per `request` and writes the lines to `sink` in
/// timestamp order. Returns the sources whose log could not be read to the
/// end (with the engine's reason); an error of the sink ends the read.
pub(crate) async fn read_merged(
    engine: &Engine,
    sources: &[Source],
    request: LogRequest,
    sink: &mut dyn LogSink,
) -> std::io::Result<Vec<SourceFailure>> {
    let mut readers = JoinSet::new();
    let mut receivers = Vec::with_capacity(sources.len());
    let capacity = read_ahead_chunks(sources.len());
    for (index, source) in sources.iter().enumerate() {
        sink.add_source(index, source);
        let (tx, rx) = mpsc::channel(capacity);
        receivers.push(rx);
        readers.spawn(read_source_packed(
            engine.clone(),
            source.clone(),
            request,
            tx,
        ));
    }
    // Dropping `readers` (also on a sink error) aborts the remaining reads.
    merge_by_time(receivers, sink).await
}

/// The log source of a container: labeled by its service (and number).
pub(crate) fn source_of(c: &ObservedContainer) -> Source {
    Source {
        label: log_label(&c.service, c.number),
        service: c.service.clone(),
        number: c.number,
        container_id: c.id.clone(),
        container_name: c.name.clone(),
    }
}

/// The log sources of the project's containers of `services` (all when
/// empty), one-off containers excluded, by service then number.
pub(crate) async fn project_sources(
    engine: &Engine,
    project: &str,
    services: &[String],
) -> Result<Vec<Source>, ApiError> {
    let containers = service_containers(engine, project, services).await?;
    Ok(containers.iter().map(source_of).collect())
}
