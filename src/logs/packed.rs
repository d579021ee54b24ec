//! Read-ahead in compact form: engine frames packed back to back into chunks
//! of about [`CHUNK_BYTES`] (`kind: u8` — 1 stdout, 2 stderr, plus 2 when the
//! entries carry no timestamp — `length: u32` little-endian, then the payload), so a reader can run far ahead of the merge at a cost of five
//! bytes per line instead of a parsed line's bookkeeping. The merge unpacks a
//! chunk into lines only when it gets to it.

use bytes::{BufMut, Bytes, BytesMut};

use super::line::{LineAssembler, LogLine, StreamKind};

/// The size a chunk is sent at.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

const HEADER: usize = 5;

/// Packs frames into chunks.
#[derive(Debug)]
pub(crate) struct FramePacker {
    buf: BytesMut,
    /// The frames' entries start with the engine's timestamp.
    timed: bool,
}

impl Default for FramePacker {
    fn default() -> Self {
        Self::new()
    }
}

impl FramePacker {
    /// A packer of timestamped frames (`timestamps=true`).
    pub(crate) fn new() -> Self {
        Self::with_timestamps(true)
    }

    /// A packer of frames whose entries carry a timestamp when `timed`.
    pub(crate) fn with_timestamps(timed: bool) -> Self {
        FramePacker {
            buf: BytesMut::with_capacity(CHUNK_BYTES),
            timed,
        }
    }

    /// Adds a frame; returns a chunk when one is full. A chunk never grows
    /// past [`CHUNK_BYTES`] (so its buffer is never reallocated), unless one
    /// frame alone is larger.
    pub(crate) fn push(&mut self, stream: StreamKind, payload: &[u8]) -> Option<Bytes> {
        let kind = match stream {
            StreamKind::Stdout => 1,
            StreamKind::Stderr => 2,
        } + if self.timed { 0 } else { 2 };
        let needed = HEADER + payload.len();
        let full = (!self.buf.is_empty() && self.buf.len() + needed > CHUNK_BYTES)
            .then(|| self.take_chunk());
        self.buf.reserve(needed);
        self.buf.put_u8(kind);
        self.buf.put_u32_le(payload.len() as u32);
        self.buf.put_slice(payload);
        full
    }

    /// The frames packed so far, if any.
    pub(crate) fn flush(&mut self) -> Option<Bytes> {
        (!self.buf.is_empty()).then(|| self.take_chunk())
    }

    fn take_chunk(&mut self) -> Bytes {
        std::mem::replace(&mut self.buf, BytesMut::with_capacity(CHUNK_BYTES)).freeze()
    }
}

/// Unpacks a chunk's frames through `assembler` into lines (slices of the
/// chunk: no copy). A malformed chunk ends early; it cannot panic.
pub(crate) fn unpack(chunk: &Bytes, assembler: &mut LineAssembler, out: &mut Vec<LogLine>) {
    let mut pos = 0;
    while pos + HEADER <= chunk.len() {
        let kind = chunk[pos];
        let stream = if kind % 2 == 0 {
            StreamKind::Stderr
        } else {
            StreamKind::Stdout
        };
        assembler.set_timed(kind <= 2);
        let mut len = [0u8; 4];
        len.copy_from_slice(&chunk[pos + 1..pos + HEADER]);
        let len = u32::from_le_bytes(len) as usize;
        let start = pos + HEADER;
        let Some(end) = start.checked_add(len).filter(|end| *end <= chunk.len()) else {
            return;
        };
        assembler.push(stream, chunk.slice(start..end), out);
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_chunks() {
        let mut packer = FramePacker::new();
        let mut chunks = Vec::new();
        for i in 0..5000 {
            let frame = format!("2024-05-01T12:00:00.{i:09}Z line {i}\n");
            let stream = if i % 7 == 0 {
                StreamKind::Stderr
            } else {
                StreamKind::Stdout
            };
            chunks.extend(packer.push(stream, frame.as_bytes()));
        }
        chunks.extend(packer.flush());
        assert!(chunks.len() > 1, "several chunks");
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_BYTES));
        let mut assembler = LineAssembler::new(3);
        let mut lines = Vec::new();
        for chunk in &chunks {
            unpack(chunk, &mut assembler, &mut lines);
        }
        assert_eq!(lines.len(), 5000);
        assert_eq!(lines[4999].message(), b"line 4999");
        assert_eq!(lines[7].stream, StreamKind::Stderr);
        assert_eq!(lines[8].stream, StreamKind::Stdout);
        assert!(lines.iter().all(|l| l.source == 3));
    }

    #[test]
    fn untimed_entries_keep_a_leading_time_in_the_message() {
        let mut packer = FramePacker::with_timestamps(false);
        packer.push(
            StreamKind::Stderr,
            b"2024-05-01T12:00:00Z is part of the message\n",
        );
        let chunk = packer.flush().unwrap();
        let mut lines = Vec::new();
        unpack(&chunk, &mut LineAssembler::new(0), &mut lines);
        assert_eq!(lines[0].timestamp, None);
        assert_eq!(
            lines[0].message(),
            b"2024-05-01T12:00:00Z is part of the message"
        );
        assert_eq!(lines[0].stream, StreamKind::Stderr);
    }

    #[test]
    fn a_truncated_chunk_does_not_panic() {
        let mut packer = FramePacker::new();
        packer.push(StreamKind::Stdout, b"2024-05-01T12:00:00Z hello\n");
        let chunk = packer.flush().unwrap();
        let cut = chunk.slice(..chunk.len() - 3);
        let mut lines = Vec::new();
        unpack(&cut, &mut LineAssembler::new(0), &mut lines);
        assert!(lines.is_empty());
        assert!(packer.flush().is_none());
    }
}
