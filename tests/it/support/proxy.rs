//! A test-owned proxy of the engine's socket: a Unix socket that forwards
//! every connection to `/var/run/docker.sock` until the test closes it, so a
//! test can take the engine away from torq without touching the daemon.

use std::path::PathBuf;

use tokio::net::{UnixListener, UnixStream};
use tokio::runtime::Runtime;

const ENGINE_SOCKET: &str = "/var/run/docker.sock";

/// A forwarding socket in a temporary directory; closed on drop.
pub struct EngineProxy {
    runtime: Option<Runtime>,
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
        let listener = runtime.block_on(async { UnixListener::bind(&path) });
        let listener = listener.expect("bind the proxy socket");
        runtime.spawn(forward_all(listener));
        EngineProxy {
            runtime: Some(runtime),
            path,
            _dir: dir,
        }
    }

    /// The `DOCKER_HOST` value that reaches the engine through this proxy.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Closes the socket and every forwarded connection at once.
    pub fn close(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.close();
    }
}

async fn forward_all(listener: UnixListener) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(forward(client));
    }
}

async fn forward(mut client: UnixStream) {
    if let Ok(mut engine) = UnixStream::connect(ENGINE_SOCKET).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
    }
}
