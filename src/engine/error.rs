//! The error type of engine operations: which operation on which object failed,
//! with the engine's own message, plus the deadline every request runs under
//! ([`with_deadline`]) and the patience a request to a busy engine gets
//! ([`with_patience`]).

use std::future::Future;
use std::time::Duration;

use thiserror::Error;

/// An engine request that failed or ran past its deadline.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The engine answered with an error (or the transport failed).
    #[error("{op}: {message}")]
    Engine {
        /// What torq was doing, e.g. `create container demo-web-1`.
        op: String,
        /// The engine's message.
        message: String,
        /// The HTTP status, when the engine answered.
        status: Option<u16>,
    },
    /// The request did not finish within its deadline.
    #[error("{op}: no answer from the engine within {}s", .deadline.as_secs_f64())]
    Timeout { op: String, deadline: Duration },
}

impl ApiError {
    /// Wraps a bollard error with the operation it belongs to.
    pub fn from_bollard(op: impl Into<String>, err: bollard::errors::Error) -> ApiError {
        let (status, message) = match &err {
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => (Some(*status_code), message.trim().to_string()),
            other if is_transport(other) => (None, LOST_ENGINE.to_string()),
            other => (None, other.to_string()),
        };
        ApiError::Engine {
            op: op.into(),
            message,
            status,
        }
    }

    /// The engine said the object does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ApiError::Engine {
                status: Some(404),
                ..
            }
        )
    }

    /// The engine refused because of a conflict (409), e.g. a name in use or a
    /// removal already in progress.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            ApiError::Engine {
                status: Some(409),
                ..
            }
        )
    }

    /// The engine refused the operation in the object's state (403), e.g.
    /// removing a network that has active endpoints.
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            ApiError::Engine {
                status: Some(403),
                ..
            }
        )
    }

    /// The engine found nothing to do (304), e.g. stopping a stopped container.
    pub fn is_not_modified(&self) -> bool {
        matches!(
            self,
            ApiError::Engine {
                status: Some(304),
                ..
            }
        )
    }

    /// The connection to the engine broke in the transport: the engine
    /// may be gone, rather than refusing this one request.
    pub fn is_lost(&self) -> bool {
        matches!(
            self,
            ApiError::Engine {
                status: None,
                message,
                ..
            } if message == LOST_ENGINE
        )
    }

    /// The engine's message (without the operation).
    pub fn message(&self) -> String {
        match self {
            ApiError::Engine { message, .. } => message.clone(),
            ApiError::Timeout { deadline, .. } => {
                format!("no answer within {}s", deadline.as_secs_f64())
            }
        }
    }
}

/// What a request says when the connection to the engine broke (the
/// library's transport text never reaches a user).
pub(crate) const LOST_ENGINE: &str = "lost the connection to the Docker engine";

/// The engine went away: what a command says once, naming the engine,
/// instead of one failure per object it was working on.
#[derive(Debug, Error)]
pub enum EngineGone {
    /// The connection broke and the engine does not answer.
    #[error(
        "{LOST_ENGINE} at {host}\n  \
         Is the engine still running? Check `docker info`, or DOCKER_HOST."
    )]
    Lost { host: String },
    /// The engine did not answer again within the time torq waits for it.
    #[error(
        "the Docker engine at {host} did not come back within {}s\n  \
         Is the engine still running? Check `docker info`, or DOCKER_HOST.",
        .waited.as_secs_f64()
    )]
    NotBack { host: String, waited: Duration },
}

/// Whether a failure's text (an [`ApiError`] shown as a step's reason) is a
/// broken connection to the engine.
pub(crate) fn is_lost_reason(reason: &str) -> bool {
    reason.ends_with(LOST_ENGINE)
}

/// Whether bollard failed in the transport (the engine went away) rather
/// than the engine answering with an error.
fn is_transport(err: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        err,
        E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::IOError { .. }
            | E::RequestTimeoutError
    )
}

/// Runs one engine request under `deadline`, naming the operation in any error.
pub async fn with_deadline<T, F>(
    op: impl Into<String>,
    deadline: Duration,
    fut: F,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, bollard::errors::Error>>,
{
    let op = op.into();
    match tokio::time::timeout(deadline, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(ApiError::from_bollard(op, err)),
        Err(_) => Err(ApiError::Timeout { op, deadline }),
    }
}

/// The deadline of a quick request (list, inspect, create, remove, start).
/// Under [`with_patience`] it is when torq first asks whether the engine is
/// still there, not when it gives up on a busy one.
pub const QUICK: Duration = Duration::from_secs(60);

/// Runs one engine request that has `deadline` to answer; each time the
/// deadline passes, `alive` is asked whether the engine still answers (a
/// ping). While it does, the engine is busy, not gone — 200 creates on a
/// loaded machine can take minutes, and docker compose waits for them — so
/// the request is waited for; once it does not, the request fails with
/// [`ApiError::Timeout`].
pub async fn with_patience<T, F, A, AF>(
    op: impl Into<String>,
    deadline: Duration,
    fut: F,
    mut alive: A,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, bollard::errors::Error>>,
    A: FnMut() -> AF,
    AF: Future<Output = bool>,
{
    let op = op.into();
    let began = tokio::time::Instant::now();
    tokio::pin!(fut);
    loop {
        match tokio::time::timeout(deadline, &mut fut).await {
            Ok(result) => return result.map_err(|err| ApiError::from_bollard(op, err)),
            Err(_) if alive().await => {
                tracing::debug!(op, "the engine is busy: still waiting for its answer");
            }
            Err(_) => {
                // Whole seconds waited, pings included.
                let waited = Duration::from_secs(began.elapsed().as_secs());
                return Err(ApiError::Timeout {
                    op,
                    deadline: waited,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        let err = ApiError::from_bollard(
            "remove container x",
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message: "No such container: x".into(),
            },
        );
        assert!(err.is_not_found());
        assert!(!err.is_conflict());
        assert_eq!(err.to_string(), "remove container x: No such container: x");
    }

    #[test]
    fn transport_errors_hide_library_text() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = ApiError::from_bollard("create container x", io.into());
        assert_eq!(
            err.to_string(),
            "create container x: lost the connection to the Docker engine"
        );
    }

    #[tokio::test]
    async fn deadline_names_the_operation() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<(), bollard::errors::Error>(())
        };
        let err = with_deadline("list containers", Duration::from_millis(10), slow)
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("list containers: no answer"));
    }

    /// A request that takes three deadlines: waited for while the engine
    /// answers, a timeout once it does not.
    #[tokio::test(start_paused = true)]
    async fn patience_lasts_while_the_engine_answers() {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(180)).await;
            Ok::<u8, bollard::errors::Error>(7)
        };
        let deadline = Duration::from_secs(60);
        let mut pings = 0;
        let answered = with_patience("create container x", deadline, slow(), || {
            pings += 1;
            async { true }
        })
        .await;
        assert_eq!(answered.unwrap(), 7);
        assert_eq!(pings, 2, "asked at each deadline passed");
        let gone = with_patience("create container x", deadline, slow(), || async { false })
            .await
            .unwrap_err();
        assert!(matches!(gone, ApiError::Timeout { .. }), "{gone}");
        assert!(gone
            .to_string()
            .starts_with("create container x: no answer"));
    }

    #[test]
    fn lost_is_a_broken_connection_only() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone");
        let lost = ApiError::from_bollard("read the log of container x", io.into());
        assert!(lost.is_lost());
        assert!(is_lost_reason(&lost.to_string()));
        let refused = ApiError::from_bollard(
            "stop container x",
            bollard::errors::Error::DockerResponseServerError {
                status_code: 500,
                message: "boom".into(),
            },
        );
        assert!(!refused.is_lost());
        assert!(!is_lost_reason(&refused.to_string()));
        let slow = ApiError::Timeout {
            op: "list containers".into(),
            deadline: Duration::from_secs(1),
        };
        assert!(!slow.is_lost());
    }

    #[test]
    fn gone_names_the_engine() {
        let lost = EngineGone::Lost {
            host: "unix:///tmp/e.sock".into(),
        };
        assert!(lost
            .to_string()
            .starts_with("lost the connection to the Docker engine at unix:///tmp/e.sock\n"));
        let not_back = EngineGone::NotBack {
            host: "tcp://h:2375".into(),
            waited: Duration::from_secs(30),
        };
        assert!(not_back
            .to_string()
            .starts_with("the Docker engine at tcp://h:2375 did not come back within 30s\n"));
    }
}
