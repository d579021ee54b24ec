//! A test-owned proxy of the engine's socket: a Unix socket that forwards
//! every connection to `/var/run/docker.sock` until the test closes it, so a
//! test can take the engine away from torq without touching the daemon —
//! and give it back on the same path ([`EngineProxy::reopen`]), or have the
//! proxy close itself at the first request that names a given path
//! ([`EngineProxy::close_on`]), to lose the engine in the middle of a
//! command — or stop forwarding while every connection stays open
//! ([`EngineProxy::freeze`]), as a hung engine or a dead network would.
//! [`lost_message`] and [`assert_lost_once`] check what torq said about it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::CommandResult;

const ENGINE_SOCKET: &str = "/var/run/docker.sock";

/// What the proxy's tasks share: whether it is closed, and the tasks
/// themselves (the listener and every forwarded connection).
struct Shared {
    closed: bool,
    tasks: JoinSet<()>,
    /// Close at the first request whose bytes contain this.
    trigger: Option<String>,
    /// While true, no byte is forwarded (connections stay open).
    frozen: watch::Sender<bool>,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            closed: false,
            tasks: JoinSet::new(),
            trigger: None,
            frozen: watch::channel(false).0,
        }
    }
}

type State = Arc<Mutex<Shared>>;

/// A forwarding socket in a temporary directory; closed on drop.
pub struct EngineProxy {
    runtime: Runtime,
    state: State,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl EngineProxy {
    /// Starts forwarding on a new socket.
    pub fn start() -> EngineProxy {
        let dir = tempfile::tempdir().expect("proxy directory");
        let path = dir.path().join("engine.sock");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let proxy = EngineProxy {
            runtime,
            state: State::default(),
            path,
            _dir: dir,
        };
        proxy.open();
        proxy
    }

    /// Starts forwarding, and closes by itself (as [`EngineProxy::close`])
    /// when a client sends a request containing `marker` (e.g.
    /// `/containers/json`); that request never reaches the engine.
    pub fn close_on(marker: &str) -> EngineProxy {
        let proxy = EngineProxy::start();
        proxy.state.lock().unwrap().trigger = Some(marker.to_string());
        proxy
    }

    /// The `DOCKER_HOST` value that reaches the engine through this proxy.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Closes the socket and every forwarded connection at once.
    pub fn close(&mut self) {
        let tasks = close_state(&self.state, &self.path);
        self.runtime.block_on(drain(tasks));
    }

    /// Stops forwarding: connections (new ones too) stay open, but no byte
    /// goes through any more in either direction, and no stream ends.
    pub fn freeze(&self) {
        self.state.lock().unwrap().frozen.send_replace(true);
    }

    /// Forwards again on the same path (after [`EngineProxy::close`]).
    pub fn reopen(&mut self) {
        self.open();
    }

    fn open(&self) {
        let _ = std::fs::remove_file(&self.path);
        let listener = {
            let _guard = self.runtime.enter();
            UnixListener::bind(&self.path).expect("bind the proxy socket")
        };
        let mut shared = self.state.lock().unwrap();
        shared.closed = false;
        let state = self.state.clone();
        let path = self.path.clone();
        shared
            .tasks
            .spawn_on(forward_all(listener, state, path), self.runtime.handle());
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.close();
    }
}

/// Marks the proxy closed, removes its socket, and hands over its tasks to abort.
fn close_state(state: &State, path: &Path) -> JoinSet<()> {
    let mut shared = state.lock().unwrap();
    shared.closed = true;
    let _ = std::fs::remove_file(path);
    std::mem::take(&mut shared.tasks)
}

async fn drain(mut tasks: JoinSet<()>) {
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

async fn forward_all(listener: UnixListener, state: State, path: PathBuf) {
    while let Ok((client, _)) = listener.accept().await {
        let mut shared = state.lock().unwrap();
        if shared.closed {
            return;
        }
        let trigger = shared.trigger.clone();
        let frozen = shared.frozen.subscribe();
        let (state, path) = (state.clone(), path.clone());
        shared
            .tasks
            .spawn(forward(client, trigger, frozen, state, path));
    }
}

async fn forward(
    client: UnixStream,
    trigger: Option<String>,
    frozen: watch::Receiver<bool>,
    state: State,
    path: PathBuf,
) {
    let Ok(engine) = UnixStream::connect(ENGINE_SOCKET).await else {
        return;
    };
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut engine_rx, mut engine_tx) = engine.into_split();
    let thawed = || {
        let mut frozen = frozen.clone();
        async move {
            let _ = frozen.wait_for(|f| !*f).await;
        }
    };
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let hit = trigger
                .as_deref()
                .is_some_and(|m| String::from_utf8_lossy(&buf[..n]).contains(m));
            if hit {
                // Dropping the tasks (this one among them) closes every connection.
                drop(close_state(&state, &path));
                return;
            }
            thawed().await;
            if engine_tx.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let downstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match engine_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            thawed().await;
            if client_tx.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

/// The message torq gives when it loses the engine behind `proxy`.
pub fn lost_message(proxy: &EngineProxy) -> String {
    format!(
        "lost the connection to the Docker engine at {}",
        proxy.docker_host()
    )
}

/// A command that lost the engine behind `proxy` exited 1 having said so
/// once, naming the engine: no line per object, no library text.
pub fn assert_lost_once(result: &CommandResult, proxy: &EngineProxy) {
    let output = result.output();
    assert_eq!(result.code, Some(1), "{output}");
    assert_eq!(output.matches(&lost_message(proxy)).count(), 1, "{output}");
    assert_eq!(
        output.matches("lost the connection").count(),
        1,
        "one message, not one per object:\n{output}"
    );
    for raw in ["hyper", "client error", "Connect"] {
        assert!(!output.contains(raw), "library text {raw:?} in:\n{output}");
    }
}
