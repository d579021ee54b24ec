//! The BuildKit session a build attaches to: a gRPC server torq runs over the
//! engine's `/session` endpoint (an HTTP connection upgraded to h2c), through
//! which the engine's BuildKit asks the client for what only the client has:
//! the build context and Dockerfile ([`super::filesync`]), build secrets
//! (`RUN --mount=type=secret`) and the SSH agent (`RUN --mount=type=ssh`).
//!
//! bollard 0.21's own build session serves registry credentials only, keeps
//! its secret and SSH providers private and has no file-sync sender, so torq
//! serves the session itself with the generated services bollard re-exports
//! (`bollard::moby`, `bollard::health`, `bollard::fsutil`) and tonic. The build request then names the session by
//! its id ([`Session::id`]).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;

use bollard::health::health_server::{Health, HealthServer};
use bollard::health::{
    health_check_response::ServingStatus, HealthCheckRequest, HealthCheckResponse,
    HealthListRequest, HealthListResponse,
};
use bollard::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard::moby::filesync::v1::file_sync_server::FileSyncServer;
use bollard::moby::sshforward::v1::ssh_server::{Ssh, SshServer};
use bollard::moby::sshforward::v1::{BytesMessage, CheckAgentRequest, CheckAgentResponse};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tonic::{Request, Response, Status, Streaming};

/// The gRPC methods the session offers; the engine calls no other.
const METHODS: [&str; 6] = [
    "/grpc.health.v1.Health/Check",
    "/moby.filesync.v1.FileSync/DiffCopy",
    "/moby.filesync.v1.FileSync/TarStream",
    "/moby.buildkit.secrets.v1.Secrets/GetSecret",
    "/moby.sshforward.v1.SSH/CheckAgent",
    "/moby.sshforward.v1.SSH/ForwardAgent",
];

/// BuildKit refuses secrets larger than this; torq says so before sending.
const MAX_SECRET_BYTES: usize = 500 * 1024;

/// The largest gRPC message either side sends (BuildKit's own limit).
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// The metadata key naming which SSH agent a forward is for.
const SSH_ID_KEY: &str = "buildkit.ssh.id";

/// Where a build secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretValue {
    /// A file read when the build asks for it.
    File(PathBuf),
    /// A value taken from the environment when the spec was loaded.
    Value(String),
}

/// What the session hands out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Provided {
    /// Build secrets by id.
    pub secrets: HashMap<String, SecretValue>,
    /// SSH agent sockets by id (`default` from `SSH_AUTH_SOCK`).
    pub ssh_agents: HashMap<String, PathBuf>,
    /// The directories BuildKit reads the context and Dockerfile from.
    pub dirs: super::filesync::Dirs,
    /// Names what the directories hold across builds (the context's path):
    /// BuildKit then copies only the files that changed since the last
    /// build of the same context.
    pub shared_key: String,
}

/// Why the session could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error("cannot connect to the engine at {host}: {source}")]
    Connect {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("the engine refused a BuildKit session: {0}")]
    Refused(String),
    #[error("unsupported DOCKER_HOST {0} for a BuildKit session")]
    Host(String),
}

/// An open session; it ends when dropped.
pub(crate) struct Session {
    id: String,
    server: tokio::task::JoinHandle<()>,
}

impl Session {
    /// The id the build request names (`session=`).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Opens a session on the engine at `host` (`unix://…` or `tcp://…`) with API
/// version `api` (`1.41`), serving `provided`.
pub(crate) async fn open(
    host: &str,
    api: &str,
    provided: Provided,
) -> Result<Session, SessionError> {
    let id = new_id();
    let shared_key = hex::encode(&Sha256::digest(provided.shared_key.as_bytes())[..16]);
    let request = upgrade_request(api, &id, &shared_key);
    let connect_error = |source| SessionError::Connect {
        host: host.to_string(),
        source,
    };
    let server = if let Some(path) = host.strip_prefix("unix://") {
        let mut stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(connect_error)?;
        upgrade(&mut stream, &request).await?;
        tokio::spawn(serve(stream, provided))
    } else if let Some(address) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    {
        let mut stream = tokio::net::TcpStream::connect(address.trim_end_matches('/'))
            .await
            .map_err(connect_error)?;
        upgrade(&mut stream, &request).await?;
        tokio::spawn(serve(stream, provided))
    } else {
        return Err(SessionError::Host(host.to_string()));
    };
    Ok(Session { id, server })
}

/// A random session id (as the docker CLI's: 25 base-36 characters).
fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut id = String::new();
    while id.len() < 25 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(id.len());
        let mut n = hasher.finish();
        while n > 0 && id.len() < 25 {
            id.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
            n /= 36;
        }
    }
    id
}

/// The HTTP request that turns a connection into the session.
fn upgrade_request(api: &str, id: &str, shared_key: &str) -> String {
    let mut request = format!(
        "POST /v{api}/session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n\
         Upgrade: h2c\r\nContent-Length: 0\r\nX-Docker-Expose-Session-Uuid: {id}\r\n\
         X-Docker-Expose-Session-Name: torq\r\nX-Docker-Expose-Session-Sharedkey: {shared_key}\r\n"
    );
    for method in METHODS {
        request.push_str(&format!(
            "X-Docker-Expose-Session-Grpc-Method: {method}\r\n"
        ));
    }
    request.push_str("\r\n");
    request
}

/// Sends `request` and reads the response head; anything but `101` is the
/// engine's refusal. Reads byte by byte so no byte of the HTTP/2 stream that
/// follows is consumed.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &str,
) -> Result<(), SessionError> {
    let refused = |e: io::Error| SessionError::Refused(e.to_string());
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(refused)?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(SessionError::Refused("response head too long".into()));
        }
        let byte = stream.read_u8().await.map_err(refused)?;
        head.push(byte);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("101") {
        Ok(())
    } else {
        Err(SessionError::Refused(status.to_string()))
    }
}

/// Serves the session's gRPC services on the upgraded connection until the
/// engine closes it.
async fn serve<S>(stream: S, provided: Provided)
where
    S: AsyncRead + AsyncWrite + tonic::transport::server::Connected + Unpin + Send + 'static,
{
    let result = tonic::transport::Server::builder()
        .add_service(HealthServer::new(Healthy))
        .add_service(SecretsServer::new(SecretStore {
            secrets: provided.secrets,
        }))
        .add_service(SshServer::new(SshAgents {
            agents: provided.ssh_agents,
        }))
        .add_service(
            FileSyncServer::new(super::filesync::FileSyncService {
                dirs: provided.dirs,
            })
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming(futures::stream::iter([Ok::<_, io::Error>(stream)]))
        .await;
    if let Err(error) = result {
        tracing::debug!(%error, "the BuildKit session ended");
    }
}

/// Answers the engine's health probes (it drops a session that does not).
struct Healthy;

#[tonic::async_trait]
impl Health for Healthy {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("list"))
    }

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

/// Hands out build secrets by id.
struct SecretStore {
    secrets: HashMap<String, SecretValue>,
}

#[tonic::async_trait]
impl Secrets for SecretStore {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = &request.get_ref().id;
        let data = match self.secrets.get(id) {
            None => {
                return Err(Status::not_found(format!(
                    "secret {id} is not in the service's build.secrets"
                )))
            }
            Some(SecretValue::Value(value)) => value.as_bytes().to_vec(),
            Some(SecretValue::File(path)) => tokio::fs::read(path).await.map_err(|e| {
                Status::failed_precondition(format!("cannot read {}: {e}", path.display()))
            })?,
        };
        if data.len() > MAX_SECRET_BYTES {
            return Err(Status::failed_precondition(format!(
                "secret {id} is {} bytes; BuildKit takes at most {MAX_SECRET_BYTES}",
                data.len()
            )));
        }
        Ok(Response::new(GetSecretResponse { data }))
    }
}

/// Forwards `RUN --mount=type=ssh` to the user's SSH agents.
struct SshAgents {
    agents: HashMap<String, PathBuf>,
}

impl SshAgents {
    fn agent(&self, id: &str) -> Result<&PathBuf, Status> {
        let id = if id.is_empty() { "default" } else { id };
        self.agents.get(id).ok_or_else(|| {
            Status::not_found(format!("ssh agent {id} is not in the service's build.ssh"))
        })
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = Result<BytesMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Ssh for SshAgents {
    type ForwardAgentStream = ByteStream;

    async fn check_agent(
        &self,
        request: Request<CheckAgentRequest>,
    ) -> Result<Response<CheckAgentResponse>, Status> {
        self.agent(&request.get_ref().id)?;
        Ok(Response::new(CheckAgentResponse {}))
    }

    async fn forward_agent(
        &self,
        request: Request<Streaming<BytesMessage>>,
    ) -> Result<Response<ByteStream>, Status> {
        let id = request
            .metadata()
            .get(SSH_ID_KEY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let path = self.agent(&id)?.clone();
        let socket = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|e| Status::unavailable(format!("ssh agent {}: {e}", path.display())))?;
        let (read, mut write) = socket.into_split();
        let mut incoming = request.into_inner();
        tokio::spawn(async move {
            while let Some(Ok(message)) = incoming.next().await {
                if write.write_all(&message.data).await.is_err() {
                    break;
                }
            }
        });
        let outgoing = tokio_util::io::ReaderStream::new(read).map(|chunk| {
            chunk
                .map(|data| BytesMessage {
                    data: data.to_vec(),
                })
                .map_err(|e| Status::unavailable(format!("ssh agent: {e}")))
        });
        Ok(Response::new(Box::pin(outgoing)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_25_base36_characters_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 25);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn the_upgrade_request_names_the_session_and_its_methods() {
        let request = upgrade_request("1.41", "abc", "k");
        assert!(
            request.starts_with("POST /v1.41/session HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("Upgrade: h2c\r\n"), "{request}");
        assert!(
            request.contains("X-Docker-Expose-Session-Uuid: abc\r\n"),
            "{request}"
        );
        for method in METHODS {
            assert!(
                request.contains(&format!(
                    "X-Docker-Expose-Session-Grpc-Method: {method}\r\n"
                )),
                "{request}"
            );
        }
        assert!(request.ends_with("\r\n\r\n"), "{request}");
    }

    #[tokio::test]
    async fn a_refusal_carries_the_engine_status_line() {
        let (mut client, mut engine) = tokio::io::duplex(1024);
        let answer = tokio::spawn(async move {
            let mut buffer = [0u8; 1024];
            let _ = engine.read(&mut buffer).await;
            engine
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                .await
        });
        let err = upgrade(&mut client, "POST /session\r\n\r\n")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("404 Not Found"), "{err}");
        answer.await.unwrap().unwrap();
    }
}
