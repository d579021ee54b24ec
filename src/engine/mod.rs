//! Everything that speaks the Docker Engine API, through bollard.
//!
//! This module owns the connection ([`Engine::connect`]): `DOCKER_HOST`
//! (`unix://` or `tcp://`) or the local socket, API version negotiation right
//! after connecting (the engine here speaks API 1.41; bollard would otherwise
//! send a newer version), a 2-second deadline on reaching the engine, and
//! errors that say how to fix an unreachable engine or a denied socket.
//!
//! Submodules own the rest: the compose labels ([`labels`]), the observed
//! state of a project ([`state`], refined by `inspect`), container,
//! network and volume operations (`ops`, [`container`]), preflight checks,
//! image builds ([`build`]), events ([`events`]), health probes, reading and
//! following logs (`logs`, on top of the pure `crate::logs`), stats and the
//! project lock ([`lock`]). The engine layer reports progress through
//! `crate::progress` and imports no layer above it. torq never touches an
//! object without its project's label: what it stops or removes comes from
//! [`state`]'s lists, which filter by the label and check it again.

pub(crate) mod attach;
pub mod build;
pub mod container;
pub(crate) mod control;
pub mod error;
pub(crate) mod event_feed;
pub mod events;
pub(crate) mod health;
pub(crate) mod image_ref;
pub(crate) mod inspect;
pub mod labels;
pub mod lock;
pub(crate) mod logs;
pub(crate) mod ops;
pub(crate) mod preflight;
pub(crate) mod procs;
pub(crate) mod projects;
pub(crate) mod pull;
pub mod state;
pub(crate) mod stats;
pub(crate) mod swarm;
pub(crate) mod sync;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use thiserror::Error;

/// How long reaching the engine may take before torq gives up. Below 2 s,
/// so that torq, process start and spec loading included, exits within 2 s
/// when the engine does not answer.
pub const CONNECT_DEADLINE: Duration = Duration::from_millis(1500);

/// bollard's own deadline for one API request (the engine's answer
/// headers): a backstop only. A request's deadline is torq's
/// ([`Engine::request`]: [`error::QUICK`], then patience while the engine
/// answers a ping), so this is long enough for a busy engine's create.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(900);

/// How long a ping may take when a request ran past its deadline and torq
/// asks whether the engine is busy or gone (a loaded engine answers a ping
/// slowly too).
const BUSY_PING_DEADLINE: Duration = Duration::from_secs(10);

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Why torq could not reach the engine. Each message says how to fix it.
#[derive(Debug, Error)]
pub enum ConnectError {
    #[error(
        "cannot connect to the Docker engine: no socket at {path}\n  \
         Is the engine running? Start it (`sudo systemctl start docker`, or `dockerd`), \
         or point DOCKER_HOST at a running engine (e.g. DOCKER_HOST=unix:///path/to/docker.sock)."
    )]
    NoSocket { path: PathBuf },

    #[error(
        "permission denied on the Docker socket {path}\n  \
         Add your user to the `docker` group (`sudo usermod -aG docker $USER`, then log in again), \
         or run torq as a user that may use the socket."
    )]
    PermissionDenied { path: PathBuf },

    #[error(
        "cannot connect to the Docker engine at {host}: {reason}\n  \
         Is the engine running and reachable? Check DOCKER_HOST (unset it to use {DEFAULT_SOCKET})."
    )]
    Unreachable { host: String, reason: String },

    #[error(
        "the Docker engine at {host} did not answer within {}s\n  \
         Is it overloaded or hung? Check `docker info`, or DOCKER_HOST.",
        CONNECT_DEADLINE.as_secs_f64()
    )]
    Timeout { host: String },

    #[error("unsupported DOCKER_HOST {host:?}: torq speaks unix:// and tcp:// (or http://)")]
    UnsupportedHost { host: String },
}

/// A connection to the Docker engine, version-negotiated.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
}

impl Engine {
    /// Connects to the engine named by `DOCKER_HOST` (or the local socket),
    /// negotiates the API version and checks the engine answers, all within
    /// [`CONNECT_DEADLINE`].
    pub async fn connect() -> Result<Engine, ConnectError> {
        Self::connect_to(&configured_host()).await
    }

    /// Connects to `host` (`unix:///path`, `tcp://host:port`, `http://…`).
    pub async fn connect_to(host: &str) -> Result<Engine, ConnectError> {
        let timeout = REQUEST_TIMEOUT.as_secs();
        let version = bollard::API_DEFAULT_VERSION;
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            check_socket(Path::new(path))?;
            Docker::connect_with_unix(host, timeout, version)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(host, timeout, version)
        } else {
            return Err(ConnectError::UnsupportedHost {
                host: host.to_string(),
            });
        }
        .map_err(|e| unreachable(host, &e))?;

        let docker = match tokio::time::timeout(CONNECT_DEADLINE, docker.negotiate_version()).await
        {
            Ok(Ok(docker)) => docker,
            Ok(Err(e)) => return Err(classify(host, &e)),
            Err(_) => {
                return Err(ConnectError::Timeout {
                    host: host.to_string(),
                })
            }
        };
        tracing::debug!(host, api = %docker.client_version(), "connected to the engine");
        Ok(Engine {
            docker,
            host: host.to_string(),
        })
    }

    /// The bollard client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The engine address, as given by DOCKER_HOST or the default.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The error that replaces a run's failures when the engine went away.
    pub(crate) fn lost(&self) -> anyhow::Error {
        error::EngineGone::Lost {
            host: self.host.clone(),
        }
        .into()
    }

    /// Runs one request named `op` with [`error::QUICK`] to answer, and
    /// patience past it while the engine still answers a ping (see
    /// [`error::with_patience`]): a busy engine is waited for, a hung one
    /// is an error.
    pub(crate) async fn request<T, F>(
        &self,
        op: impl Into<String>,
        fut: F,
    ) -> Result<T, error::ApiError>
    where
        F: std::future::Future<Output = Result<T, bollard::errors::Error>>,
    {
        self.request_within(op, error::QUICK, fut).await
    }

    /// [`Engine::request`] with `deadline` before the first ping (a stop
    /// that may take its grace period).
    pub(crate) async fn request_within<T, F>(
        &self,
        op: impl Into<String>,
        deadline: Duration,
        fut: F,
    ) -> Result<T, error::ApiError>
    where
        F: std::future::Future<Output = Result<T, bollard::errors::Error>>,
    {
        error::with_patience(op, deadline, fut, || {
            self.answers_within(BUSY_PING_DEADLINE)
        })
        .await
    }

    /// Whether the engine still answers a ping within `deadline`.
    pub(crate) async fn answers_within(&self, deadline: Duration) -> bool {
        matches!(
            tokio::time::timeout(deadline, self.docker.ping()).await,
            Ok(Ok(_))
        )
    }

    /// Whether the engine runs on this machine (a unix socket), so its data
    /// directory and log files are local paths.
    pub fn is_local(&self) -> bool {
        self.host.starts_with("unix://")
    }
}

/// The engine address torq connects to: `DOCKER_HOST`, or the local socket.
pub(crate) fn configured_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("unix://{DEFAULT_SOCKET}"))
}

/// Fails early, with a precise message, when the socket is missing or denied.
fn check_socket(path: &Path) -> Result<(), ConnectError> {
    use std::os::unix::ffi::OsStrExt;
    if !path.exists() {
        return Err(ConnectError::NoSocket {
            path: path.to_path_buf(),
        });
    }
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return Ok(());
    };
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    let writable = unsafe { libc::access(c_path.as_ptr(), libc::R_OK | libc::W_OK) } == 0;
    if !writable {
        return Err(ConnectError::PermissionDenied {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

fn unreachable(host: &str, err: &bollard::errors::Error) -> ConnectError {
    ConnectError::Unreachable {
        host: host.to_string(),
        reason: err.to_string(),
    }
}

/// Turns a failed first request into the most helpful error.
fn classify(host: &str, err: &bollard::errors::Error) -> ConnectError {
    let text = error_chain_text(err);
    if text.contains("Permission denied") || text.contains("permission denied") {
        if let Some(path) = host.strip_prefix("unix://") {
            return ConnectError::PermissionDenied {
                path: PathBuf::from(path),
            };
        }
    }
    ConnectError::Unreachable {
        host: host.to_string(),
        reason: text,
    }
}

fn error_chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_socket_says_how_to_fix_it() {
        let err = Engine::connect_to("unix:///nonexistent/docker.sock")
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/docker.sock"), "{msg}");
        assert!(msg.contains("DOCKER_HOST"), "{msg}");
    }

    #[tokio::test]
    async fn unsupported_scheme_is_named() {
        let err = Engine::connect_to("ftp://x").await.unwrap_err();
        assert!(err.to_string().contains("ftp://x"));
    }

    #[tokio::test]
    async fn refused_tcp_port_fails_fast_with_the_host() {
        // Port 1 on loopback: nothing listens, the kernel refuses at once.
        let err = Engine::connect_to("tcp://127.0.0.1:1").await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("127.0.0.1:1"), "{msg}");
    }
}
