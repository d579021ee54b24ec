//! [`BoundedStdout`]: a stdout for log lines that never blocks the async
//! runtime. Lines are queued (up to [`QUEUE_LIMIT`] bytes) for a writer
//! thread of their own. What happens when nobody reads stdout is the
//! [`Overflow`] policy:
//!
//! - [`Overflow::Drop`] (`up --attach`): when the queue is full lines are
//!   dropped, and when the reader is gone (a closed pipe) they are
//!   discarded — each said once on stderr — so the runtime is always free
//!   to handle Ctrl-C and run the `down`.
//! - [`Overflow::Pace`] (`logs -f`): no line is dropped. A full queue is
//!   reported through [`BoundedStdout::room_probe`], and the follow waits
//!   (asynchronously) for the reader before it takes more lines; a closed
//!   pipe is a `BrokenPipe` error, which ends `logs -f` quietly.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::Shell;
use crate::logs::{Room, RoomProbe};

/// How many bytes may wait for the writer thread before lines are dropped.
pub(crate) const QUEUE_LIMIT: usize = 4 * 1024 * 1024;

/// Lines are handed to the writer thread at a flush, or once this many
/// bytes are buffered.
const CHUNK: usize = 64 * 1024;

/// How long dropping a [`BoundedStdout`] waits for the queued lines to be
/// written before it gives up on them (the reader is stuck).
const FINISH_WAIT: Duration = Duration::from_secs(2);

/// What the queue between the runtime and the writer thread holds.
#[derive(Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    /// No more chunks will come.
    finished: bool,
    /// The writer thread stopped: stdout is closed (or failed).
    closed: bool,
    /// The writer thread wrote everything it will write.
    done: bool,
}

/// What a [`BoundedStdout`] does when its reader falls behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Drop lines past [`QUEUE_LIMIT`]; discard them once stdout is closed.
    Drop,
    /// Keep every line; say "full" through the room probe; a closed stdout
    /// is an error.
    Pace,
}

/// The queue and the conditions the writer thread, the finisher and a
/// paced follow wait on.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
    /// Told whenever the writer thread takes the queue (or stops).
    room: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A writer of log lines to stdout through a bounded queue and a thread of
/// its own: `write` and `flush` never block on the reader.
pub(crate) struct BoundedStdout {
    shell: Shell,
    overflow: Overflow,
    shared: Arc<Shared>,
    /// Bytes not yet handed to the writer thread.
    buffer: Vec<u8>,
    /// Lines dropped because the queue was full.
    dropped_lines: u64,
    said_full: bool,
    said_closed: bool,
}

impl BoundedStdout {
    /// Starts the writer thread over stdout (fd 1, written directly: the
    /// thread never holds the lock of `std::io::stdout`, so a blocked write
    /// stalls nothing else).
    pub(crate) fn start(shell: Shell, overflow: Overflow) -> io::Result<BoundedStdout> {
        // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop
        // keeps this `File` from closing it.
        let out = RawStdout(ManuallyDrop::new(unsafe { File::from_raw_fd(1) }));
        BoundedStdout::start_with(shell, overflow, out)
    }

    /// Starts the writer thread over `out`.
    fn start_with<W: Write + Send + 'static>(
        shell: Shell,
        overflow: Overflow,
        out: W,
    ) -> io::Result<BoundedStdout> {
        let shared = Arc::new(Shared::default());
        let for_thread = shared.clone();
        std::thread::Builder::new()
            .name("torq-stdout".into())
            .spawn(move || write_queued(&for_thread, out))?;
        Ok(BoundedStdout {
            shell,
            overflow,
            shared,
            buffer: Vec::with_capacity(CHUNK),
            dropped_lines: 0,
            said_full: false,
            said_closed: false,
        })
    }

    /// [`Overflow::Pace`]: whether the queue is full, for a follow to wait
    /// on (see [`crate::logs::LogSink::room`]). [`Overflow::Drop`] is never
    /// full.
    pub(crate) fn room_probe(&self) -> Option<RoomProbe> {
        if self.overflow != Overflow::Pace {
            return None;
        }
        let shared = self.shared.clone();
        Some(Arc::new(move || -> Option<Room> {
            let queue = shared.lock();
            if queue.closed || queue.bytes <= QUEUE_LIMIT {
                return None;
            }
            drop(queue);
            let shared = shared.clone();
            // `notify_one` keeps a permit when nobody waits yet, so a take
            // between the check and the await is not missed.
            Some(Box::pin(async move { shared.room.notified().await }))
        }))
    }

    /// Hands `chunk` to the writer thread. [`Overflow::Drop`]: drops it
    /// when the queue is full or stdout closed, and never fails, so the
    /// caller keeps going (an attached `up` still runs its project and
    /// takes it down on Ctrl-C). [`Overflow::Pace`]: always queues it (the
    /// caller waits on the room probe), and fails once stdout is closed.
    fn hand_over(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let mut queue = self.shared.lock();
        if queue.closed && self.overflow == Overflow::Pace {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        if queue.closed {
            drop(queue);
            if !self.said_closed {
                self.said_closed = true;
                self.shell
                    .warn("stdout was closed: log lines are no longer shown");
            }
            return Ok(());
        }
        if self.overflow == Overflow::Drop && queue.bytes + chunk.len() > QUEUE_LIMIT {
            drop(queue);
            self.dropped_lines += line_count(&chunk);
            if !self.said_full {
                self.said_full = true;
                self.shell.warn(&format!(
                    "stdout is not being read (more than {} MiB of log lines wait): \
                     dropping log lines until it is",
                    QUEUE_LIMIT / (1024 * 1024)
                ));
            }
            return Ok(());
        }
        queue.bytes += chunk.len();
        queue.chunks.push_back(chunk);
        drop(queue);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Hands over the complete lines buffered (a partial last line stays).
    fn hand_over_lines(&mut self) -> io::Result<()> {
        let Some(end) = memchr::memrchr(b'\n', &self.buffer) else {
            return Ok(());
        };
        let rest = self.buffer.split_off(end + 1);
        let lines = std::mem::replace(&mut self.buffer, rest);
        self.hand_over(lines)
    }

    /// Waits (up to `limit`) until the writer thread wrote what was handed
    /// over, after telling it nothing more comes. Whether it did.
    fn finish(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut queue = self.shared.lock();
        queue.finished = true;
        self.shared.changed.notify_all();
        while !queue.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            queue = self
                .shared
                .changed
                .wait_timeout(queue, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl Write for BoundedStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK {
            self.hand_over_lines()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let all = std::mem::take(&mut self.buffer);
        self.hand_over(all)
    }
}

impl Drop for BoundedStdout {
    /// Writes what is left, waiting for the writer thread up to
    /// [`FINISH_WAIT`] (a stuck reader does not hold torq's exit), and says
    /// how many lines were dropped.
    fn drop(&mut self) {
        let _ = self.flush();
        let written = self.finish(FINISH_WAIT);
        if self.dropped_lines > 0 {
            self.shell.warn(&format!(
                "{} log lines were dropped while stdout was not read",
                self.dropped_lines
            ));
        }
        if !written && !self.said_closed {
            self.shell
                .warn("stdout is still not being read: the last log lines are not shown");
        }
    }
}

/// fd 1 as a file, never closed, unbuffered (chunks are whole already).
struct RawStdout(ManuallyDrop<File>);

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writer thread: writes queued chunks to `out` until the queue is
/// finished and empty, or `out` fails (closed pipe), which it records.
fn write_queued<W: Write>(shared: &Shared, mut out: W) {
    loop {
        let chunks = {
            let mut queue = shared.lock();
            while queue.chunks.is_empty() && !queue.finished {
                queue = shared
                    .changed
                    .wait(queue)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if queue.chunks.is_empty() {
                queue.done = true;
                shared.changed.notify_all();
                return;
            }
            queue.bytes = 0;
            std::mem::take(&mut queue.chunks)
        };
        shared.room.notify_one();
        let written = chunks
            .iter()
            .try_for_each(|chunk| out.write_all(chunk))
            .and_then(|()| out.flush());
        if written.is_err() {
            let mut queue = shared.lock();
            queue.closed = true;
            queue.done = true;
            queue.chunks.clear();
            queue.bytes = 0;
            shared.changed.notify_all();
            drop(queue);
            shared.room.notify_one();
            return;
        }
    }
}

/// Lines in `bytes` (a last line without newline counts).
fn line_count(bytes: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
    newlines + u64::from(!bytes.ends_with(b"\n") && !bytes.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A writer whose writes wait until the test lets them through, then
    /// report what they got.
    struct Gate {
        open: mpsc::Receiver<()>,
        got: mpsc::Sender<Vec<u8>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.open
                .recv()
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            let _ = self.got.send(buf.to_vec());
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer whose reader is gone.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn shell() -> Shell {
        Shell::new(
            super::super::Verbosity::Quiet,
            super::super::ColorChoice::Never,
        )
    }

    #[test]
    fn a_stuck_reader_never_blocks_a_write_and_lines_past_the_limit_are_dropped() {
        let (open, gate) = mpsc::channel();
        let (got, written) = mpsc::channel();
        let out = Gate { open: gate, got };
        let mut stdout = BoundedStdout::start_with(shell(), Overflow::Drop, out).unwrap();
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        // Twice the limit, while the reader takes nothing: every call returns.
        for _ in 0..(2 * QUEUE_LIMIT / line.len()) {
            stdout.write_all(&line).unwrap();
            stdout.flush().unwrap();
        }
        assert!(stdout.dropped_lines > 0, "lines past the limit are dropped");
        assert!(stdout.said_full);
        // The reader wakes up for one write: the oldest lines come out first.
        open.send(()).unwrap();
        let first = written.recv().unwrap();
        assert!(first.starts_with(&line), "{} bytes", first.len());
        drop(open);
    }

    #[test]
    fn writes_after_stdout_closed_are_discarded_and_said_once() {
        let mut stdout = BoundedStdout::start_with(shell(), Overflow::Drop, Closed).unwrap();
        stdout.write_all(b"one\n").unwrap();
        stdout.flush().unwrap();
        wait_until_closed(&stdout);
        stdout.write_all(b"two\n").unwrap();
        stdout.flush().unwrap();
        assert!(stdout.said_closed);
    }

    #[test]
    fn lines_reach_a_reader_in_order_and_whole() {
        let (open, gate) = mpsc::channel();
        let (got, written) = mpsc::channel();
        let mut stdout =
            BoundedStdout::start_with(shell(), Overflow::Drop, Gate { open: gate, got }).unwrap();
        for _ in 0..100 {
            open.send(()).unwrap();
        }
        for i in 0..50 {
            writeln!(stdout, "line {i}").unwrap();
        }
        drop(stdout);
        let text: Vec<u8> = written.try_iter().flatten().collect();
        let expected: String = (0..50).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(text).unwrap(), expected);
    }

    #[test]
    fn a_paced_stdout_keeps_every_line_and_says_full_until_the_reader_takes_them() {
        let (open, gate) = mpsc::channel();
        let (got, written) = mpsc::channel();
        let out = Gate { open: gate, got };
        let mut stdout = BoundedStdout::start_with(shell(), Overflow::Pace, out).unwrap();
        let probe = stdout.room_probe().expect("a paced stdout has a probe");
        let line = [[b'y'; 1023].as_slice(), b"\n"].concat();
        // The writer thread takes what is queued in one batch, then blocks in
        // the gate's first write: full comes at most one batch past the
        // limit, so within three times the limit.
        let mut sent = 0;
        while probe().is_none() && sent < 3 * QUEUE_LIMIT / line.len() {
            stdout.write_all(&line).unwrap();
            stdout.flush().unwrap();
            sent += 1;
        }
        assert_eq!(stdout.dropped_lines, 0, "a paced stdout drops nothing");
        assert!(probe().is_some(), "full past the limit");
        // The reader takes everything: each wait for room ends, and room comes.
        for _ in 0..(4 * QUEUE_LIMIT / line.len()) {
            open.send(()).unwrap();
        }
        while let Some(room) = probe() {
            futures::executor::block_on(room);
        }
        drop(stdout);
        let lines: u64 = written.try_iter().map(|chunk| line_count(&chunk)).sum();
        assert_eq!(lines as usize, sent, "every line written");
        drop(open);
    }

    #[test]
    fn a_paced_stdout_fails_once_closed() {
        let mut stdout = BoundedStdout::start_with(shell(), Overflow::Pace, Closed).unwrap();
        stdout.write_all(b"one\n").unwrap();
        stdout.flush().unwrap();
        wait_until_closed(&stdout);
        stdout.write_all(b"two\n").unwrap();
        let err = stdout.flush().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert!(
            !stdout.said_closed,
            "no warning: a closed pipe ends logs -f quietly"
        );
    }

    fn wait_until_closed(stdout: &BoundedStdout) {
        let mut queue = stdout.shared.lock();
        while !queue.closed {
            queue = stdout.shared.changed.wait(queue).unwrap();
        }
    }

    #[test]
    fn lines_are_counted_with_a_last_partial_one() {
        assert_eq!(line_count(b"a\nb\n"), 2);
        assert_eq!(line_count(b"a\nb"), 2);
        assert_eq!(line_count(b""), 0);
    }
}
