//! The k-way merge: many sources' lines, each source already in time order,
//! into one stream in engine-timestamp order.
//!
//! Every source is read by its own task into a bounded channel of chunks —
//! engine frames packed compactly (see [`super::packed`]), or lines — so the
//! engine keeps sending all logs in parallel, up to a read-ahead budget,
//! while the merge unpacks only the head chunk of each source and keeps a
//! heap with one entry per source. Memory is bounded by the budget and the
//! number of sources, never by the log volume. Ties go to the source with the
//! lower index (spec order); a line without a timestamp sorts with its
//! source's previous line.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;

use tokio::sync::mpsc;

use bytes::Bytes;

use super::line::{LineAssembler, LogLine};
use super::packed::unpack;
use super::sink::LogSink;
use super::time::Nanos;

/// Lines a source sends at a time.
pub(crate) type Batch = Vec<LogLine>;

/// How many chunks a source may have in flight before its reader waits, when
/// nothing else decides (a follow's shared channel, tests).
pub(crate) const CHANNEL_BATCHES: usize = 8;

/// What a source's reader sends.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// Lines, ready to merge.
    Lines(Batch),
    /// Engine frames packed by [`super::packed::FramePacker`], turned into
    /// lines when the merge gets to them.
    Frames(Bytes),
}

/// What a source's reader sends: a chunk, or why it stopped early.
pub(crate) type SourceItem = Result<Chunk, String>;

/// A source that failed part-way (its lines up to the failure were merged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceFailure {
    pub source: usize,
    pub message: String,
}

/// One source's position in the merge.
struct Cursor {
    receiver: mpsc::Receiver<SourceItem>,
    batch: std::vec::IntoIter<LogLine>,
    /// Joins the lines of packed frames (a line may span frames and chunks).
    assembler: LineAssembler,
    finished: bool,
    last_ts: Nanos,
}

impl Cursor {
    /// The sort key of the head line, if any is buffered.
    fn head_key(&self) -> Option<Nanos> {
        self.batch
            .as_slice()
            .first()
            .map(|l| l.timestamp.unwrap_or(self.last_ts))
    }

    /// Waits for the next non-empty batch; `false` when the source is done.
    async fn refill(&mut self, source: usize, failures: &mut Vec<SourceFailure>) -> bool {
        while !self.finished {
            let mut lines = Vec::new();
            match self.receiver.recv().await {
                Some(Ok(Chunk::Lines(batch))) => lines = batch,
                Some(Ok(Chunk::Frames(chunk))) => {
                    unpack(&chunk, &mut self.assembler, &mut lines);
                }
                Some(Err(message)) => {
                    failures.push(SourceFailure { source, message });
                    self.assembler.finish(&mut lines);
                    self.finished = true;
                }
                None => {
                    self.assembler.finish(&mut lines);
                    self.finished = true;
                }
            }
            if !lines.is_empty() {
                self.batch = lines.into_iter();
                return true;
            }
        }
        false
    }
}

/// Merges the sources (receiver `i` is source `i`) into `sink` by timestamp.
/// Returns the sources that failed part-way; an error of the sink (e.g. a
/// closed pipe) ends the merge at once.
pub(crate) async fn merge_by_time(
    receivers: Vec<mpsc::Receiver<SourceItem>>,
    sink: &mut dyn LogSink,
) -> io::Result<Vec<SourceFailure>> {
    let mut failures = Vec::new();
    let mut cursors: Vec<Cursor> = receivers
        .into_iter()
        .enumerate()
        .map(|(index, receiver)| Cursor {
            receiver,
            batch: Vec::new().into_iter(),
            assembler: LineAssembler::new(index),
            finished: false,
            last_ts: Nanos::MIN,
        })
        .collect();
    let mut heap: BinaryHeap<Reverse<(Nanos, usize)>> = BinaryHeap::with_capacity(cursors.len());
    for (index, cursor) in cursors.iter_mut().enumerate() {
        if cursor.refill(index, &mut failures).await {
            if let Some(key) = cursor.head_key() {
                heap.push(Reverse((key, index)));
            }
        }
    }
    while let Some(Reverse((_, index))) = heap.pop() {
        let cursor = &mut cursors[index];
        if let Some(line) = cursor.batch.next() {
            if let Some(ts) = line.timestamp {
                cursor.last_ts = ts;
            }
            sink.line(&line)?;
        }
        if cursor.batch.as_slice().is_empty() && !cursor.refill(index, &mut failures).await {
            continue;
        }
        if let Some(key) = cursor.head_key() {
            heap.push(Reverse((key, index)));
        }
    }
    sink.flush()?;
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::StreamKind;
    use crate::logs::sink::Source;
    use bytes::Bytes;

    /// Records (source, message) pairs.
    #[derive(Default)]
    struct Recorder {
        lines: Vec<(usize, String)>,
        fail_after: Option<usize>,
    }

    impl LogSink for Recorder {
        fn add_source(&mut self, _: usize, _: &Source) {}
        fn line(&mut self, line: &LogLine) -> io::Result<()> {
            if self.fail_after == Some(self.lines.len()) {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            self.lines
                .push((line.source, line.message_lossy().into_owned()));
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn entry(source: usize, second: u32, text: &str) -> LogLine {
        let raw = format!("2024-05-01T12:00:{second:02}Z {text}");
        LogLine::from_entry(source, StreamKind::Stdout, Bytes::from(raw))
    }

    /// A source fed from `batches` by a task, like a real reader.
    fn source(batches: Vec<Result<Batch, String>>) -> mpsc::Receiver<SourceItem> {
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        tokio::spawn(async move {
            for batch in batches {
                if tx.send(batch.map(Chunk::Lines)).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    #[tokio::test]
    async fn lines_come_out_in_timestamp_order() {
        let a = source(vec![
            Ok(vec![entry(0, 1, "a1"), entry(0, 4, "a4")]),
            Ok(vec![]),
            Ok(vec![entry(0, 6, "a6")]),
        ]);
        let b = source(vec![
            Ok(vec![entry(1, 2, "b2")]),
            Ok(vec![entry(1, 3, "b3"), entry(1, 9, "b9")]),
        ]);
        let c = source(vec![]);
        let mut sink = Recorder::default();
        let failures = merge_by_time(vec![a, b, c], &mut sink).await.unwrap();
        assert!(failures.is_empty());
        let order: Vec<&str> = sink.lines.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(order, ["a1", "b2", "b3", "a4", "a6", "b9"]);
    }

    #[tokio::test]
    async fn ties_follow_source_order_and_untimed_lines_stay_in_place() {
        let untimed = LogLine::from_entry(1, StreamKind::Stdout, Bytes::from_static(b"no time"));
        let a = source(vec![Ok(vec![entry(0, 5, "a5")])]);
        let b = source(vec![Ok(vec![
            entry(1, 5, "b5"),
            untimed,
            entry(1, 7, "b7"),
        ])]);
        let mut sink = Recorder::default();
        merge_by_time(vec![a, b], &mut sink).await.unwrap();
        let order: Vec<&str> = sink.lines.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(order, ["a5", "b5", "no time", "b7"]);
    }

    #[tokio::test]
    async fn a_failing_source_is_reported_and_the_rest_merged() {
        let a = source(vec![Ok(vec![entry(0, 1, "a1")]), Err("gone".into())]);
        let b = source(vec![Ok(vec![entry(1, 2, "b2")])]);
        let mut sink = Recorder::default();
        let failures = merge_by_time(vec![a, b], &mut sink).await.unwrap();
        assert_eq!(
            failures,
            vec![SourceFailure {
                source: 0,
                message: "gone".into()
            }]
        );
        assert_eq!(sink.lines.len(), 2);
    }

    #[tokio::test]
    async fn a_closed_sink_ends_the_merge() {
        let a = source(vec![Ok((0..100).map(|i| entry(0, i % 60, "x")).collect())]);
        let mut sink = Recorder {
            fail_after: Some(3),
            ..Default::default()
        };
        let err = merge_by_time(vec![a], &mut sink).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    #[tokio::test]
    async fn packed_frames_are_merged_and_partial_lines_joined_across_chunks() {
        use crate::logs::packed::FramePacker;
        let (tx_a, rx_a) = mpsc::channel(CHANNEL_BATCHES);
        let (tx_b, rx_b) = mpsc::channel(CHANNEL_BATCHES);
        let pack = |frames: &[&str]| {
            let mut packer = FramePacker::new();
            for f in frames {
                assert!(packer.push(StreamKind::Stdout, f.as_bytes()).is_none());
            }
            Chunk::Frames(packer.flush().unwrap())
        };
        // A line cut into two frames that travel in two chunks.
        tx_a.send(Ok(pack(&[
            "2024-05-01T12:00:01Z a1\n",
            "2024-05-01T12:00:03Z lo",
        ])))
        .await
        .unwrap();
        tx_a.send(Ok(pack(&["2024-05-01T12:00:03Z ng\n"])))
            .await
            .unwrap();
        tx_b.send(Ok(pack(&[
            "2024-05-01T12:00:02Z b2\n",
            "2024-05-01T12:00:04Z b4",
        ])))
        .await
        .unwrap();
        drop((tx_a, tx_b));
        let mut sink = Recorder::default();
        merge_by_time(vec![rx_a, rx_b], &mut sink).await.unwrap();
        let order: Vec<(usize, &str)> = sink.lines.iter().map(|(s, m)| (*s, m.as_str())).collect();
        // b4 has no newline: flushed when its source ends.
        assert_eq!(order, [(0, "a1"), (1, "b2"), (0, "long"), (1, "b4")]);
    }

    #[tokio::test]
    async fn a_long_source_streams_through_the_small_channel() {
        // 100 000 lines through a channel of CHANNEL_BATCHES batches: the
        // producer can only finish if the merge consumes as it goes.
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let producer = tokio::spawn(async move {
            for chunk in 0..1000u32 {
                let batch = (0..100u32)
                    .map(|i| {
                        let n = chunk * 100 + i;
                        let raw = format!("2024-05-01T12:00:00.{n:09}Z l{n}");
                        LogLine::from_entry(0, StreamKind::Stdout, Bytes::from(raw))
                    })
                    .collect();
                tx.send(Ok(Chunk::Lines(batch))).await.unwrap();
            }
        });
        let mut sink = Recorder::default();
        merge_by_time(vec![rx], &mut sink).await.unwrap();
        producer.await.unwrap();
        assert_eq!(sink.lines.len(), 100_000);
        assert_eq!(sink.lines[99_999].1, "l99999");
    }
}
