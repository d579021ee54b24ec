//! A pseudo-terminal for tests that need torq to see a terminal (`run`'s
//! TTY session, `status --watch`'s live view): the master side to type into
//! and read the screen from, the slave side for the child's stdio.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

/// A pseudo-terminal: the master side to type into and read from, and the
/// slave side for the child's stdio.
pub struct Pty {
    master: std::fs::File,
    slave: OwnedFd,
}

impl Pty {
    pub fn open() -> Pty {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().expect("pts path"))
            .expect("open the pty slave");
        Pty {
            master: std::fs::File::from(master),
            slave: OwnedFd::from(slave),
        }
    }

    pub fn stdio(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().expect("dup pty slave"))
    }

    /// Everything the terminal shows, sent line by line as it comes.
    pub fn screen(&self) -> mpsc::Receiver<String> {
        let mut master = self.master.try_clone().expect("dup pty master");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    return;
                }
            }
        });
        rx
    }

    pub fn type_text(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .expect("type into the pty");
    }
}

/// Reads the screen until it shows `wanted`, or panics after a deadline.
pub fn expect_screen(screen: &mpsc::Receiver<String>, seen: &mut String, wanted: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !seen.contains(wanted) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match screen.recv_timeout(left) {
            Ok(text) => seen.push_str(&text),
            Err(_) => panic!("the terminal never showed {wanted:?}; it showed:\n{seen}"),
        }
    }
}
