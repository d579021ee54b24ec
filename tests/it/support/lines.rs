//! A child's output read line by line on a thread, for tests that follow a
//! long-running torq (`watch`, `events`, `status --watch`) and wait for what
//! it says, each wait under a deadline.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for one expected line.
const LINE_DEADLINE: Duration = Duration::from_secs(120);

/// The lines of a pipe, as they come, and those seen so far.
pub struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    /// Starts reading `pipe` (a child's stdout or stderr).
    pub fn new(pipe: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The next line within `timeout`, if one comes.
    pub fn next_within(&mut self, timeout: Duration) -> Option<String> {
        let line = self.rx.recv_timeout(timeout).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// The next line containing `wanted` (skipping others); panics with
    /// everything seen when none comes in time.
    pub fn expect(&mut self, wanted: &str) -> String {
        let deadline = Instant::now() + LINE_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left) {
                Some(line) if line.contains(wanted) => return line,
                Some(_) => {}
                None => panic!("never saw {wanted:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }
}
