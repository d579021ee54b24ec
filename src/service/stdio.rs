//! Copying an attached container stream to and from torq's stdio: the
//! container's stdout and stderr to torq's (one raw stream with a TTY),
//! torq's stdin to the container, and — with a TTY — raw mode on torq's
//! terminal and the window size following the terminal's.
//!
//! Stdin is read on a plain thread: a read blocked on the keyboard would
//! otherwise hold up the runtime's shutdown after the container exited.

use std::io::{Read, Write};

use bollard::container::LogOutput;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::engine::attach::{resize_tty, Session, TtyOwner};
use crate::engine::Engine;
use crate::tty::{window_size, RawMode};

/// How the session meets the terminal.
#[derive(Debug, Clone)]
pub(crate) struct StdioMode {
    /// The container has a TTY: raw mode here, and resizes follow the window.
    pub(crate) tty: Option<TtyOwner>,
    /// Forward torq's stdin.
    pub(crate) stdin: bool,
}

/// Streams `session` until the container's output ends (the process exited
/// or closed its stdout and stderr).
pub(crate) async fn stream(
    engine: &Engine,
    session: Session,
    mode: StdioMode,
) -> std::io::Result<()> {
    let _raw = match &mode.tty {
        Some(_) if crate::tty::stdin_is_tty() => Some(RawMode::enable()?),
        _ => None,
    };
    let Session { mut output, input } = session;
    let stdin_task = mode.stdin.then(|| tokio::spawn(forward_stdin(input)));
    let resize_task = mode
        .tty
        .clone()
        .map(|owner| tokio::spawn(follow_window(engine.clone(), owner)));
    let mut result = Ok(());
    while let Some(chunk) = output.next().await {
        match chunk {
            Ok(chunk) => write_chunk(chunk)?,
            Err(err) => {
                result = Err(std::io::Error::other(format!(
                    "the container's output stream broke: {err}"
                )));
                break;
            }
        }
    }
    for task in [stdin_task, resize_task].into_iter().flatten() {
        task.abort();
    }
    result
}

/// Writes one piece of the container's output where it belongs.
fn write_chunk(chunk: LogOutput) -> std::io::Result<()> {
    match chunk {
        LogOutput::StdErr { message } => {
            let mut err = std::io::stderr().lock();
            err.write_all(&message)?;
            err.flush()
        }
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            let mut out = std::io::stdout().lock();
            out.write_all(&message)?;
            out.flush()
        }
        LogOutput::StdIn { .. } => Ok(()),
    }
}

/// Copies torq's stdin into the container until stdin ends, then closes
/// the container's stdin (so `cat` and friends see end of file).
async fn forward_stdin(mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>) {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || read_stdin(tx));
    while let Some(bytes) = rx.recv().await {
        if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
            return;
        }
    }
    let _ = input.shutdown().await;
}

/// The reading thread: sends stdin's bytes until end of file or until
/// nobody listens any more.
fn read_stdin(tx: mpsc::Sender<Vec<u8>>) {
    let mut stdin = std::io::stdin();
    let mut buf = [0u8; 4096];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.blocking_send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        }
    }
}

/// Sets the container's TTY to the terminal's size now and on every window
/// change (SIGWINCH).
async fn follow_window(engine: Engine, owner: TtyOwner) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut changes) = signal(SignalKind::window_change()) else {
        return;
    };
    loop {
        if let Some((width, height)) = window_size() {
            resize_tty(&engine, &owner, width, height).await;
        }
        if changes.recv().await.is_none() {
            return;
        }
    }
}
