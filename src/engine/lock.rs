//! The per-project lock: two torq processes changing one project (two `up`,
//! or `up` and `down`) take turns, so they never create duplicate
//! containers. It is an advisory `flock` on a file named after the engine
//! address and the project, in `/tmp` — one fixed place for every torq on
//! the machine, whatever its environment (a systemd unit has no
//! `XDG_RUNTIME_DIR`, a login shell does; a per-environment place would let
//! them change one project at once). Another user's lock file is opened
//! read-only, which `flock` accepts. The kernel releases the lock when the
//! process ends, however it ends.
//!
//! The holder removes the file as it releases the lock, so `/tmp` does not
//! collect one file per project ever run (CI runs many). A waiter may then
//! hold a lock on a file that no longer has the name: after locking, it checks
//! that the path still names the file it locked, and starts over if not.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// Held while a command changes a project; released (and its file removed)
/// on drop.
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    pub path: PathBuf,
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // Before the lock goes with the file: a waiter that gets it next
        // sees the name gone and starts over on a fresh file. Another user's
        // file in sticky /tmp cannot be removed; it stays, harmlessly.
        if names_file(&self.path, &self.file) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// How often a waiter tries the lock again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The directory of every project lock on this machine.
const LOCK_DIR: &str = "/tmp";

/// Where the lock of `project` on engine `host` lives.
pub fn lock_path(host: &str, project: &str) -> PathBuf {
    let dir = PathBuf::from(LOCK_DIR);
    let host_hash = hex::encode(&Sha256::digest(host.as_bytes())[..6]);
    dir.join(format!("torq-{host_hash}-{project}.lock"))
}

/// Takes the lock of `project` on `host`. When another process holds it,
/// calls `on_wait` once and waits for it.
pub async fn lock_project(
    host: &str,
    project: &str,
    on_wait: impl FnOnce(),
) -> io::Result<ProjectLock> {
    let path = lock_path(host, project);
    let mut on_wait = Some(on_wait);
    loop {
        let file = open_lock_file(&path)?;
        // Polled, not a blocking `flock` on a thread of its own: a waiter
        // that is cancelled (Ctrl-C while waiting) leaves no thread behind
        // for the runtime to wait for.
        while !try_flock(&file, libc::LOCK_EX | libc::LOCK_NB)? {
            if let Some(on_wait) = on_wait.take() {
                on_wait();
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
        if names_file(&path, &file) {
            return Ok(ProjectLock { file, path });
        }
        // The previous holder removed it as it let go: lock the new one.
    }
}

/// Opens (creating) the lock file; another user's read-only.
fn open_lock_file(path: &std::path::Path) -> io::Result<File> {
    match OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
    {
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => File::open(path),
        other => other,
    }
}

/// Whether `path` still names `file` (same device and inode).
fn names_file(path: &std::path::Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(held)) => named.dev() == held.dev() && named.ino() == held.ino(),
        _ => false,
    }
}

/// `Ok(true)` when locked, `Ok(false)` when held elsewhere or interrupted.
fn try_flock(file: &File, operation: libc::c_int) -> io::Result<bool> {
    // SAFETY: the descriptor belongs to `file`, which outlives the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), operation) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => Ok(false),
        _ => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn second_holder_waits_until_the_first_releases() {
        let project = format!("locktest-{}", std::process::id());
        let first = lock_project("unix:///test", &project, || panic!("first must not wait"))
            .await
            .unwrap();
        let waited = Arc::new(AtomicBool::new(false));
        let flag = waited.clone();
        let second = tokio::spawn(async move {
            lock_project("unix:///test", &project, move || {
                flag.store(true, Ordering::SeqCst)
            })
            .await
        });
        // The second is parked in flock until the first lock is dropped.
        while !waited.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        assert!(!second.is_finished());
        let path = first.path.clone();
        drop(first);
        let second = second.await.unwrap().unwrap();
        assert_eq!(second.path, path);
        drop(second);
        assert!(!path.exists(), "the last holder removes the lock file");
    }

    #[test]
    fn path_names_host_and_project() {
        let a = lock_path("unix:///var/run/docker.sock", "demo");
        let b = lock_path("tcp://10.0.0.1:2375", "demo");
        assert_ne!(a, b);
        assert!(a.to_string_lossy().ends_with("-demo.lock"));
    }
}
