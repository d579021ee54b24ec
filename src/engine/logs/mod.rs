//! Containers' logs from the engine: the frames of one container's log, the
//! container events a follower needs, and on top of them [`read`] (every
//! container's log merged by time) and [`follow`] (following a project
//! across restarts). Cutting frames into lines, merging and formatting are
//! the pure `logs` layer's; this module does the I/O.
//!
//! [`container_logs`] asks for the log with `timestamps=true` (every entry
//! starts with RFC 3339 nanoseconds; leave them out with `without_timestamps`), a tail, a since/until window (whole
//! seconds: the API takes integers) and optionally `follow`. The engine
//! multiplexes stdout and stderr in frames; a TTY container's log is one raw
//! stream, reported as stdout. Splitting frames into lines is the log layer's
//! job (`logs::line`).
//!
//! [`container_events`] watches a project's containers being created,
//! started, dying and destroyed, so `logs -f` can attach to containers that
//! start later and re-attach to ones that restart.

use std::collections::HashMap;

use bollard::container::LogOutput;
use bollard::query_parameters::{EventsOptions, LogsOptions};
use bytes::Bytes;
use futures::{Stream, StreamExt};

pub(crate) mod follow;
pub(crate) mod read;

use super::error::ApiError;
use super::{labels, Engine};
use crate::logs::line::StreamKind;
use crate::logs::Tail;

/// What part of a container's log to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LogRequest {
    /// Keep the stream open and send new entries as they are written; the
    /// engine ends the stream when the container stops.
    pub follow: bool,
    pub tail: Tail,
    /// Entries at or after this Unix second.
    pub since: Option<i64>,
    /// Entries before this Unix second.
    pub until: Option<i64>,
    /// Ask for entries without the timestamp prefix (cheaper for the engine;
    /// only when nothing needs the times: one container, no `-t`).
    pub without_timestamps: bool,
}

/// One frame of a container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub stream: StreamKind,
    /// One or more timestamped entries (normally exactly one).
    pub bytes: Bytes,
}

/// Streams `container`'s log (`name` is only used in error messages).
pub(crate) fn container_logs(
    engine: &Engine,
    container: &str,
    name: &str,
    request: &LogRequest,
) -> impl Stream<Item = Result<Frame, ApiError>> + Send + Unpin + 'static {
    let output = engine.docker().logs(container, Some(logs_options(request)));
    frames(output, format!("read the log of container {name}"))
}

/// Streams a Swarm service's log — the lines of all its tasks, on whichever
/// node they run (`name` is only used in error messages).
pub(crate) fn service_logs(
    engine: &Engine,
    service: &str,
    name: &str,
    request: &LogRequest,
) -> impl Stream<Item = Result<Frame, ApiError>> + Send + Unpin + 'static {
    let output = engine
        .docker()
        .service_logs(service, Some(logs_options(request)));
    frames(output, format!("read the log of service {name}"))
}

/// The engine's query for `request` (container and service logs take the same).
fn logs_options(request: &LogRequest) -> LogsOptions {
    LogsOptions {
        follow: request.follow,
        stdout: true,
        stderr: true,
        since: clamp_seconds(request.since),
        until: clamp_seconds(request.until),
        timestamps: !request.without_timestamps,
        tail: tail_query(request.tail),
    }
}

/// The engine's log output as frames, an error naming `op`.
fn frames(
    output: impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send + Unpin + 'static,
    op: String,
) -> impl Stream<Item = Result<Frame, ApiError>> + Send + Unpin + 'static {
    output.filter_map(move |item| {
        let out = match item {
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                Some(Ok(Frame {
                    stream: StreamKind::Stdout,
                    bytes: message,
                }))
            }
            Ok(LogOutput::StdErr { message }) => Some(Ok(Frame {
                stream: StreamKind::Stderr,
                bytes: message,
            })),
            Ok(LogOutput::StdIn { .. }) => None,
            Err(err) => Some(Err(ApiError::from_bollard(op.clone(), err))),
        };
        std::future::ready(out)
    })
}

/// The engine's `tail` parameter.
fn tail_query(tail: Tail) -> String {
    match tail {
        Tail::All => "all".to_string(),
        Tail::Lines(n) => n.to_string(),
    }
}

/// The API takes 32-bit seconds; 0 means "no bound".
fn clamp_seconds(secs: Option<i64>) -> i32 {
    match secs {
        Some(s) if s > 0 => s.min(i64::from(i32::MAX)) as i32,
        _ => 0,
    }
}

/// What happened to a container of the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerAction {
    Create,
    Start,
    Die,
    Destroy,
}

/// A lifecycle event of one of the project's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerEvent {
    pub action: ContainerAction,
    pub id: String,
    /// The container's name (without `/`).
    pub name: String,
    /// `com.docker.compose.service`.
    pub service: String,
    /// `com.docker.compose.container-number` (0 when missing).
    pub number: u32,
    /// A `run` container (`com.docker.compose.oneoff=True`).
    pub oneoff: bool,
}

/// Streams create/start/die/destroy events of `project`'s containers that
/// happen at or after `since_nanos` (epoch nanoseconds; the engine replays
/// older ones). The request is sent when the stream is first polled, so pass
/// the time taken *before* listing the containers: nothing in between is lost.
pub(crate) fn container_events(
    engine: &Engine,
    project: &str,
    since_nanos: i64,
) -> impl Stream<Item = Result<ContainerEvent, ApiError>> + Send + Unpin + 'static {
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![labels::project_filter(project)]),
        (
            "event".to_string(),
            ["create", "start", "die", "destroy"]
                .map(String::from)
                .to_vec(),
        ),
    ]);
    let since = format!(
        "{}.{:09}",
        since_nanos.div_euclid(1_000_000_000),
        since_nanos.rem_euclid(1_000_000_000)
    );
    let options = EventsOptions {
        since: Some(since),
        filters: Some(filters),
        ..Default::default()
    };
    let op = format!("watch the containers of project {project}");
    let project = project.to_string();
    engine
        .docker()
        .events(Some(options))
        .filter_map(move |item| {
            let out = match item {
                Ok(message) => container_event(message, &project).map(Ok),
                Err(err) => Some(Err(ApiError::from_bollard(op.clone(), err))),
            };
            std::future::ready(out)
        })
}

/// Reads an engine event; `None` for other actions or another project.
fn container_event(
    message: bollard::models::EventMessage,
    project: &str,
) -> Option<ContainerEvent> {
    let action = match message.action.as_deref()? {
        "create" => ContainerAction::Create,
        "start" => ContainerAction::Start,
        "die" => ContainerAction::Die,
        "destroy" => ContainerAction::Destroy,
        _ => return None,
    };
    let actor = message.actor?;
    let attributes = actor.attributes.unwrap_or_default();
    if attributes.get(labels::PROJECT).map(String::as_str) != Some(project) {
        return None;
    }
    Some(ContainerEvent {
        action,
        id: actor.id?,
        name: attributes.get("name").cloned().unwrap_or_default(),
        service: attributes.get(labels::SERVICE).cloned().unwrap_or_default(),
        number: attributes
            .get(labels::CONTAINER_NUMBER)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        oneoff: attributes
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{EventActor, EventMessage};

    #[test]
    fn tail_is_sent_as_the_api_takes_it() {
        assert_eq!(tail_query(Tail::Lines(0)), "0");
        assert_eq!(tail_query(Tail::All), "all");
    }

    #[test]
    fn seconds_are_clamped_to_the_api() {
        assert_eq!(clamp_seconds(None), 0);
        assert_eq!(clamp_seconds(Some(-5)), 0);
        assert_eq!(clamp_seconds(Some(1_714_564_800)), 1_714_564_800);
        assert_eq!(clamp_seconds(Some(i64::MAX)), i32::MAX);
    }

    fn event(action: &str, project: &str) -> EventMessage {
        EventMessage {
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(HashMap::from([
                    (labels::PROJECT.to_string(), project.to_string()),
                    (labels::SERVICE.to_string(), "web".to_string()),
                    (labels::CONTAINER_NUMBER.to_string(), "2".to_string()),
                    ("name".to_string(), "demo-web-2".to_string()),
                ])),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn events_are_read_and_checked_against_the_project() {
        let e = container_event(event("start", "demo"), "demo").unwrap();
        assert_eq!(e.action, ContainerAction::Start);
        assert_eq!((e.service.as_str(), e.number), ("web", 2));
        assert_eq!(e.name, "demo-web-2");
        assert!(!e.oneoff);
        assert_eq!(container_event(event("start", "other"), "demo"), None);
        assert_eq!(
            container_event(event("exec_start: sh", "demo"), "demo"),
            None
        );
    }
}
