//! Interactive sessions with a container: attaching to a container's stdio
//! (for `run`), running a command by exec with its stdio attached (for
//! `exec`), resizing their TTY, signalling and waiting for the exit code.
//!
//! A [`Session`] is the engine side of the stream: the container's output
//! (stdout and stderr, or one raw stream with a TTY) and a writer to its
//! stdin. Copying between a session and the terminal is the service layer's.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptions, KillContainerOptions, ResizeContainerTTYOptions, WaitContainerOptions,
};
use futures::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use super::error::ApiError;
use super::Engine;

/// The container's output stream.
pub(crate) type Output =
    Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// An attached stream: the container's (or exec's) output and its stdin.
pub(crate) struct Session {
    pub(crate) output: Output,
    pub(crate) input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// Attaches to container `id`'s stdout and stderr (and stdin when `stdin`),
/// streaming from now on. Attach before starting it to miss nothing.
pub(crate) async fn attach_container(
    engine: &Engine,
    id: &str,
    stdin: bool,
) -> Result<Session, ApiError> {
    let options = AttachContainerOptions {
        stream: true,
        stdin,
        stdout: true,
        stderr: true,
        logs: false,
        detach_keys: None,
    };
    let attached = engine
        .request(
            format!("attach to container {id}"),
            engine.docker().attach_container(id, Some(options)),
        )
        .await?;
    Ok(Session {
        output: attached.output,
        input: attached.input,
    })
}

/// What to run by exec, and how.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecSpec {
    pub(crate) cmd: Vec<String>,
    pub(crate) env: Vec<String>,
    pub(crate) user: Option<String>,
    pub(crate) working_dir: Option<String>,
    pub(crate) privileged: bool,
    pub(crate) tty: bool,
    /// Attach stdin (an interactive exec).
    pub(crate) stdin: bool,
}

/// Creates an exec of `spec` in container `container`; returns its id.
pub(crate) async fn create_exec(
    engine: &Engine,
    container: &str,
    spec: &ExecSpec,
) -> Result<String, ApiError> {
    let options = CreateExecOptions::<String> {
        cmd: Some(spec.cmd.clone()),
        env: (!spec.env.is_empty()).then(|| spec.env.clone()),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        privileged: Some(spec.privileged),
        tty: Some(spec.tty),
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = engine
        .request(
            format!(
                "create exec `{}` in container {container}",
                spec.cmd.join(" ")
            ),
            engine.docker().create_exec(container, options),
        )
        .await?;
    Ok(created.id)
}

/// Starts exec `exec_id`: attached (a session) or detached (`None`).
pub(crate) async fn start_exec(
    engine: &Engine,
    exec_id: &str,
    tty: bool,
    detach: bool,
) -> Result<Option<Session>, ApiError> {
    let options = StartExecOptions {
        detach,
        tty,
        output_capacity: None,
    };
    let started = engine
        .request(
            format!("start exec {exec_id}"),
            engine.docker().start_exec(exec_id, Some(options)),
        )
        .await?;
    Ok(match started {
        StartExecResults::Attached { output, input } => Some(Session { output, input }),
        StartExecResults::Detached => None,
    })
}

/// The exit code of a finished exec, once the engine has recorded it (its
/// output stream can end a moment before the engine marks it finished).
pub(crate) async fn wait_exec_exit(engine: &Engine, exec_id: &str) -> Result<i64, ApiError> {
    let deadline = tokio::time::Instant::now() + EXEC_SETTLE;
    loop {
        if let Some(code) = exec_exit_code(engine, exec_id).await? {
            return Ok(code);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::Timeout {
                op: format!("read the exit code of exec {exec_id}"),
                deadline: EXEC_SETTLE,
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// How long an exec whose output ended may take to be marked finished.
const EXEC_SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

/// The exit code of a finished exec (`None` while it still runs).
async fn exec_exit_code(engine: &Engine, exec_id: &str) -> Result<Option<i64>, ApiError> {
    let inspected = engine
        .request(
            format!("inspect exec {exec_id}"),
            engine.docker().inspect_exec(exec_id),
        )
        .await?;
    Ok(if inspected.running == Some(true) {
        None
    } else {
        inspected.exit_code
    })
}

/// Runs `cmd` in container `id` without stdio, to its end; returns its exit code.
pub(crate) async fn exec_to_end(
    engine: &Engine,
    id: &str,
    cmd: Vec<String>,
) -> Result<i64, ApiError> {
    let spec = ExecSpec {
        cmd,
        ..Default::default()
    };
    let exec_id = create_exec(engine, id, &spec).await?;
    if let Some(mut session) = start_exec(engine, &exec_id, false, false).await? {
        while let Some(chunk) = session.output.next().await {
            if let Err(err) = chunk {
                return Err(ApiError::from_bollard(format!("run exec {exec_id}"), err));
            }
        }
    }
    wait_exec_exit(engine, &exec_id).await
}

/// Where a TTY's size is set: a container's or an exec's.
#[derive(Debug, Clone)]
pub(crate) enum TtyOwner {
    Container(String),
    Exec(String),
}

/// Sets the TTY size of a container or exec (errors are not fatal: a
/// process that just exited has no TTY to resize).
pub(crate) async fn resize_tty(engine: &Engine, owner: &TtyOwner, width: u16, height: u16) {
    let result = match owner {
        TtyOwner::Container(id) => {
            let options = ResizeContainerTTYOptions {
                w: i32::from(width),
                h: i32::from(height),
            };
            engine.docker().resize_container_tty(id, options).await
        }
        TtyOwner::Exec(id) => {
            let options = ResizeExecOptions { width, height };
            engine.docker().resize_exec(id, options).await
        }
    };
    if let Err(err) = result {
        tracing::debug!(?owner, %err, "cannot resize the TTY");
    }
}

/// Sends `signal` (e.g. `SIGTERM`, `15`) to container `id`.
pub(crate) async fn signal_container(
    engine: &Engine,
    id: &str,
    signal: &str,
) -> Result<(), ApiError> {
    let options = KillContainerOptions {
        signal: signal.to_string(),
    };
    engine
        .request(
            format!("send {signal} to container {id}"),
            engine.docker().kill_container(id, Some(options)),
        )
        .await
}

/// Waits until container `id` is not running; returns its exit code.
pub(crate) async fn wait_exit(engine: &Engine, id: &str) -> Result<i64, ApiError> {
    let options = WaitContainerOptions {
        condition: "not-running".into(),
    };
    let mut stream = engine.docker().wait_container(id, Some(options));
    match stream.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(err)) => Err(ApiError::from_bollard(
            format!("wait for container {id}"),
            err,
        )),
        None => Err(ApiError::Engine {
            op: format!("wait for container {id}"),
            message: "the engine closed the stream without an exit code".into(),
            status: None,
        }),
    }
}
