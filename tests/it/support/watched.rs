//! A running torq whose stdout and stderr are collected as they come (read
//! by threads, so a full pipe never stalls it), waited on with deadlines,
//! signalled, and killed on drop if it still runs.

use std::io::Read;
use std::process::Stdio;

use super::engine::{wait_for, ChildGuard, COMMAND_DEADLINE};

/// A running torq whose stdout and stderr are collected as they come, killed
/// on drop if it still runs.
pub struct Watched {
    child: ChildGuard,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Watched {
    pub fn spawn(mut command: std::process::Command) -> Watched {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn torq");
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let collect = |pipe: Box<dyn Read + Send>,
                       into: std::sync::Arc<std::sync::Mutex<String>>| {
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut text = into.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            })
        };
        let readers = vec![
            collect(
                Box::new(child.stdout.take().expect("stdout")),
                stdout.clone(),
            ),
            collect(
                Box::new(child.stderr.take().expect("stderr")),
                stderr.clone(),
            ),
        ];
        Watched {
            child: ChildGuard(child),
            stdout,
            stderr,
            readers,
        }
    }

    pub fn wait_for_stderr(&self, needle: &str) {
        wait_for(&format!("`{needle}` on stderr"), COMMAND_DEADLINE, || {
            self.stderr.lock().unwrap().contains(needle).then_some(())
        });
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: signalling our own child process by its pid.
        let rc = unsafe { libc::kill(self.child.0.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "cannot signal torq");
    }

    /// Waits for the end; its status, stdout and stderr.
    pub fn finish(&mut self) -> (std::process::ExitStatus, String, String) {
        let status = wait_for("torq to end", COMMAND_DEADLINE, || {
            self.child.0.try_wait().expect("wait for torq")
        });
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        (status, stdout, stderr)
    }
}

impl Watched {
    /// What torq wrote on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// What torq wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (up to [`COMMAND_DEADLINE`]) until `check` finds what it wants
    /// in stdout.
    pub fn wait_for_stdout<T>(&self, what: &str, mut check: impl FnMut(&str) -> Option<T>) -> T {
        wait_for(what, COMMAND_DEADLINE, || {
            check(&self.stdout.lock().unwrap())
        })
    }
}
