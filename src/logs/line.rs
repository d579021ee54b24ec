//! One log line and how it is cut out of the engine's log frames.
//!
//! With `timestamps=true` the engine sends each log entry as
//! `<RFC3339Nano> <message>\n`, in a frame that says whether it came from the
//! container's stdout or stderr (a TTY container's log is one raw stream). An
//! entry longer than the engine's 16 KiB buffer arrives as several partial
//! entries — each with its own timestamp, only the last ending in `\n` — and
//! [`LineAssembler`] joins them back, up to [`MAX_LINE`] bytes; a longer line
//! is cut into pieces of that size, so memory stays bounded.
//!
//! The common case costs no copy: a [`LogLine`] is a slice of the frame the
//! engine sent (a reference-counted [`Bytes`]). Bytes that are not UTF-8 are
//! kept as they are; whoever shows a line as text decodes it lossily.

use bytes::{Bytes, BytesMut};

use super::time::{split_timestamp, Nanos};

/// The longest line kept whole; longer lines are split into pieces this long.
pub(crate) const MAX_LINE: usize = 1024 * 1024;

/// Which output of the container a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StreamKind {
    Stdout,
    Stderr,
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    /// Index of the source (container) the line came from; the caller's table
    /// says which service that is.
    pub source: usize,
    pub stream: StreamKind,
    /// The engine's timestamp, when the entry carried one.
    pub timestamp: Option<Nanos>,
    /// `timestamp text + ' ' + message`, without the newline.
    entry: Bytes,
    /// Where the message starts in `entry`.
    message_start: usize,
}

/// Splits an entry into timestamp and message start — or not, when the engine
/// was asked for no timestamps (a message may itself start with a time).
fn split(entry: &[u8], timed: bool) -> Option<(Nanos, usize)> {
    if timed {
        split_timestamp(entry)
    } else {
        None
    }
}

impl LogLine {
    /// A line from an entry as the engine sends it (`"<ts> message"`, no newline).
    #[cfg(test)]
    pub(crate) fn from_entry(source: usize, stream: StreamKind, entry: Bytes) -> LogLine {
        Self::from_parts(source, stream, entry, true)
    }

    /// A stdout line of `source` from an entry as the engine sends it.
    #[cfg(test)]
    pub(crate) fn stdout(source: usize, entry: &'static str) -> LogLine {
        Self::from_entry(
            source,
            StreamKind::Stdout,
            Bytes::from_static(entry.as_bytes()),
        )
    }

    /// A line from an entry that carries a timestamp prefix when `timed`.
    fn from_parts(source: usize, stream: StreamKind, entry: Bytes, timed: bool) -> LogLine {
        let (timestamp, message_start) = match split(&entry, timed) {
            Some((ts, at)) => (Some(ts), at),
            None => (None, 0),
        };
        LogLine {
            source,
            stream,
            timestamp,
            entry,
            message_start,
        }
    }

    /// The message, without timestamp and newline. May hold any bytes.
    pub(crate) fn message(&self) -> &[u8] {
        &self.entry[self.message_start..]
    }

    /// The engine's timestamp as it sent it (empty when there was none).
    pub(crate) fn timestamp_text(&self) -> &[u8] {
        if self.message_start == 0 {
            b""
        } else {
            &self.entry[..self.message_start - 1]
        }
    }

    /// The message as text, non-UTF-8 bytes replaced.
    pub(crate) fn message_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.message())
    }
}

/// A partial entry waiting for the rest of its line.
#[derive(Debug)]
struct Pending {
    /// Timestamp text plus space, then the message so far.
    buf: BytesMut,
}

/// Turns one container's frames into whole lines. Keep one per container.
#[derive(Debug)]
pub(crate) struct LineAssembler {
    source: usize,
    max_line: usize,
    /// Entries start with the engine's timestamp (`timestamps=true`).
    timed: bool,
    pending: [Option<Pending>; 2],
}

impl LineAssembler {
    pub(crate) fn new(source: usize) -> Self {
        Self::with_max_line(source, MAX_LINE)
    }

    /// An assembler that splits lines longer than `max_line` bytes.
    pub(crate) fn with_max_line(source: usize, max_line: usize) -> Self {
        LineAssembler {
            source,
            max_line: max_line.max(1),
            timed: true,
            pending: [None, None],
        }
    }

    /// Whether entries carry the engine's timestamp (the default).
    pub(crate) fn set_timed(&mut self, timed: bool) {
        self.timed = timed;
    }

    /// Feeds one frame; completed lines are appended to `out`.
    pub(crate) fn push(&mut self, stream: StreamKind, mut frame: Bytes, out: &mut Vec<LogLine>) {
        while !frame.is_empty() {
            match memchr::memchr(b'\n', &frame) {
                Some(nl) => {
                    let mut piece = frame.split_to(nl + 1);
                    piece.truncate(nl);
                    if piece.last() == Some(&b'\r') {
                        piece.truncate(nl - 1);
                    }
                    self.piece(stream, piece, true, out);
                }
                None => {
                    let piece = std::mem::take(&mut frame);
                    self.piece(stream, piece, false, out);
                }
            }
        }
    }

    /// Emits whatever partial lines are left (the stream ended).
    pub(crate) fn finish(&mut self, out: &mut Vec<LogLine>) {
        for stream in [StreamKind::Stdout, StreamKind::Stderr] {
            if let Some(pending) = self.pending[slot(stream)].take() {
                out.push(LogLine::from_parts(
                    self.source,
                    stream,
                    pending.buf.freeze(),
                    self.timed,
                ));
            }
        }
    }

    fn piece(&mut self, stream: StreamKind, piece: Bytes, complete: bool, out: &mut Vec<LogLine>) {
        let slot = &mut self.pending[slot(stream)];
        if slot.is_none() && complete && piece.len() <= self.max_line + 40 {
            // The hot path: a whole entry in one frame, no copy.
            out.push(LogLine::from_parts(self.source, stream, piece, self.timed));
            return;
        }
        match slot {
            Some(pending) => {
                // A continuation repeats the timestamp; keep the first one.
                let rest = match split(&piece, self.timed) {
                    Some((_, at)) => piece.slice(at..),
                    None => piece,
                };
                pending.buf.extend_from_slice(&rest);
            }
            None => {
                *slot = Some(Pending {
                    buf: BytesMut::from(&piece[..]),
                })
            }
        }
        self.flush_oversized(stream, out);
        if complete {
            if let Some(pending) = self.pending[self::slot(stream)].take() {
                out.push(LogLine::from_parts(
                    self.source,
                    stream,
                    pending.buf.freeze(),
                    self.timed,
                ));
            }
        }
    }

    /// Cuts a pending line that grew past `max_line` into emitted pieces.
    fn flush_oversized(&mut self, stream: StreamKind, out: &mut Vec<LogLine>) {
        let Some(pending) = self.pending[slot(stream)].as_mut() else {
            return;
        };
        let ts_len = split(&pending.buf, self.timed)
            .map(|(_, at)| at)
            .unwrap_or(0);
        while pending.buf.len() - ts_len > self.max_line {
            let head = pending.buf.split_to(ts_len + self.max_line);
            let mut next = BytesMut::with_capacity(ts_len + pending.buf.len());
            next.extend_from_slice(&head[..ts_len]);
            next.extend_from_slice(&pending.buf);
            pending.buf = next;
            out.push(LogLine::from_parts(
                self.source,
                stream,
                head.freeze(),
                self.timed,
            ));
        }
    }
}

fn slot(stream: StreamKind) -> usize {
    match stream {
        StreamKind::Stdout => 0,
        StreamKind::Stderr => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(frames: &[(&StreamKind, &[u8])], max_line: usize) -> Vec<LogLine> {
        let mut assembler = LineAssembler::with_max_line(7, max_line);
        let mut out = Vec::new();
        for (stream, frame) in frames {
            assembler.push(**stream, Bytes::copy_from_slice(frame), &mut out);
        }
        assembler.finish(&mut out);
        out
    }

    const OUT: StreamKind = StreamKind::Stdout;
    const ERR: StreamKind = StreamKind::Stderr;

    #[test]
    fn one_entry_per_frame() {
        let out = lines(
            &[
                (&OUT, b"2024-05-01T12:00:00.1Z hello\n"),
                (&ERR, b"2024-05-01T12:00:00.2Z oops\n"),
            ],
            MAX_LINE,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].message(), b"hello");
        assert_eq!(out[0].timestamp_text(), b"2024-05-01T12:00:00.1Z");
        assert_eq!(out[0].timestamp, Some(1_714_564_800_100_000_000));
        assert_eq!(out[0].source, 7);
        assert_eq!(out[1].stream, ERR);
        assert_eq!(out[1].message(), b"oops");
    }

    #[test]
    fn partial_entries_are_joined_and_keep_the_first_timestamp() {
        let out = lines(
            &[
                (&OUT, b"2024-05-01T12:00:00.1Z aaaa"),
                (&ERR, b"2024-05-01T12:00:00.15Z err\n"),
                (&OUT, b"2024-05-01T12:00:00.2Z bbbb"),
                (&OUT, b"2024-05-01T12:00:00.3Z cc\n"),
            ],
            MAX_LINE,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].message(), b"err");
        assert_eq!(out[1].message(), b"aaaabbbbcc");
        assert_eq!(out[1].timestamp, Some(1_714_564_800_100_000_000));
    }

    #[test]
    fn very_long_lines_are_cut_into_bounded_pieces() {
        let mut frames: Vec<Vec<u8>> = Vec::new();
        for _ in 0..10 {
            let mut f = b"2024-05-01T12:00:00Z ".to_vec();
            f.extend(std::iter::repeat_n(b'x', 100));
            frames.push(f);
        }
        frames.push(b"2024-05-01T12:00:00Z end\n".to_vec());
        let refs: Vec<(&StreamKind, &[u8])> = frames.iter().map(|f| (&OUT, &f[..])).collect();
        let out = lines(&refs, 256);
        let total: usize = out.iter().map(|l| l.message().len()).sum();
        assert_eq!(total, 1003);
        assert!(out.iter().all(|l| l.message().len() <= 256));
        assert!(out.iter().all(|l| l.timestamp.is_some()));
        assert!(out.last().unwrap().message().ends_with(b"end"));
    }

    #[test]
    fn a_raw_stream_is_split_on_newlines() {
        // A TTY container over TCP: one chunk, several lines, a cut mid-line.
        let out = lines(
            &[
                (&OUT, b"2024-05-01T12:00:00Z one\r\n2024-05-01T12:00:01Z tw"),
                (&OUT, b"o\n"),
            ],
            MAX_LINE,
        );
        let messages: Vec<&[u8]> = out.iter().map(|l| l.message()).collect();
        assert_eq!(messages, vec![&b"one"[..], b"two"]);
    }

    #[test]
    fn trailing_partial_is_flushed_at_the_end() {
        let out = lines(&[(&OUT, b"2024-05-01T12:00:00Z no newline")], MAX_LINE);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].message(), b"no newline");
    }

    #[test]
    fn entries_without_timestamp_and_invalid_utf8() {
        let out = lines(&[(&OUT, b"plain \xff\xfe text\n"), (&OUT, b"\n")], MAX_LINE);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].timestamp, None);
        assert_eq!(out[0].message(), b"plain \xff\xfe text");
        assert_eq!(out[0].message_lossy(), "plain \u{fffd}\u{fffd} text");
        assert_eq!(out[1].message(), b"");
    }
}
