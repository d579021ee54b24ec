//! `torq up --attach` against the real engine: logs stream to stdout, SIGTERM
//! runs a graceful `down`, `--exit-code-from` returns the service's code.
//! Every test has its own project, removed by a guard even on failure.

use std::time::Duration;

use crate::support::*;

const TALKER_AND_TESTS: &str = r#"
services:
  talker:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do echo talker-says-hello; sleep 0.2; done"]
    stop_grace_period: 1s
  tests:
    image: {image}
    command: ["sh", "-c", "echo tests-are-running; sleep 0.5; exit 7"]
    depends_on: [talker]
"#;

#[test]
fn exit_code_from_returns_the_services_code_and_takes_the_project_down() {
    let project = TestProject::new("exitcode", TALKER_AND_TESTS);
    let result = project.torq(&["up", "--exit-code-from", "tests"]);
    result.assert_code(7);
    assert!(
        result.stdout.contains("tests-are-running"),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("talker-says-hello"),
        "{}",
        result.stdout
    );
    assert!(
        project.containers().is_empty(),
        "{:#?}",
        project.containers()
    );
}

#[test]
fn sigterm_ends_an_attached_up_with_a_graceful_down() {
    let project = TestProject::new(
        "attach-term",
        r#"
services:
  talker:
    image: {image}
    command: ["sh", "-c", "trap 'echo talker-stops-now; exit 0' TERM; while true; do echo talker-says-hello; sleep 0.2; done"]
    stop_grace_period: 1s
"#,
    );
    let mut torq = Watched::spawn(project.torq_command(&["up", "--attach"]));
    // Attached: the start is over (a signal before would cancel it instead).
    torq.wait_for_stderr("attached to project");
    torq.signal(libc::SIGTERM);
    let (status, stdout, stderr) = torq.finish();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stdout.contains("talker-says-hello"), "{stdout}");
    // The logs keep streaming during the down: the service's last words show.
    assert!(stdout.contains("talker-stops-now"), "{stdout}");
    assert_taken_down_after_sigterm(&project, &stderr);
}

/// A SIGTERM while the attached `up` still waits for a dependency's health
/// (here one that never comes) cancels the `up` at once — the waiting
/// dependent is never created — and takes the project down gracefully. (An
/// `up` that ignored it until its 600 s wait timed out would outlive the
/// test's deadline, as it would be SIGKILLed by `docker stop` long before.)
#[test]
fn sigterm_during_startup_cancels_the_up_and_takes_the_project_down() {
    let project = TestProject::new(
        "attach-startup-term",
        r#"
services:
  never_healthy:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    stop_grace_period: 5s
    healthcheck:
      test: ["CMD", "false"]
      interval: 1h
      start_period: 1h
  app:
    image: {image}
    command: ["sh", "-c", "echo app-started; sleep 1000"]
    depends_on:
      never_healthy: {condition: service_healthy}
"#,
    );
    let mut torq = Watched::spawn(project.torq_command(&[
        "up",
        "--attach",
        "--no-fast-health",
        "--wait-timeout",
        "600",
    ]));
    wait_for("never_healthy to run", Duration::from_secs(60), || {
        project
            .containers()
            .into_iter()
            .find(|c| c.service == "never_healthy" && c.state == "running")
    });
    torq.signal(libc::SIGTERM);
    let (status, _, stderr) = torq.finish();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert!(!stderr.contains("killed"), "stopped gracefully:\n{stderr}");
    assert_taken_down_after_sigterm(&project, &stderr);
}

/// torq as PID 1 of its own image (docker/Dockerfile) ignores every signal
/// it has no handler for. A SIGTERM that arrives while an attached `up` is
/// still loading its spec must still end in a graceful down — not be dropped,
/// leaving torq to start the project and be SIGKILLed over it. The env file
/// is a FIFO, so torq is held inside the spec load until the signal is sent.
#[test]
fn sigterm_while_loading_the_spec_still_ends_in_a_down_as_pid_1() {
    let project = TestProject::new(
        "attach-early-term",
        r#"
services:
  talker:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do echo talker-says-$$WORD; sleep 0.2; done"]
    environment:
      WORD: ${WORD}
    stop_grace_period: 1s
"#,
    );
    let image = format!("torq/torq:{}", unique_project("attach-early"));
    let _image = ImageGuard(vec![image.clone()]);
    let mut build =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docker/build.sh"));
    build
        .arg(&image)
        .arg(env!("CARGO_BIN_EXE_torq"))
        .env("DOCKER_BUILDKIT", "0");
    run_with_deadline(build, COMMAND_DEADLINE).assert_code(0);

    let fifo = project.dir.path().join("env.fifo");
    let c_path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("fifo path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0, "mkfifo");
    let name = format!("{}-torq", project.name);
    let _container = ContainerGuard(name.clone());
    let mount = format!("{}:/project", project.dir.path().display());
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        &mount,
        &image,
        "-p",
        &project.name,
        "-f",
        "/project/compose.yaml",
        "--env-file",
        "/project/env.fifo",
        "up",
        "--attach",
    ]);
    // A non-blocking open for writing succeeds once torq has the FIFO open
    // for reading; torq then blocks reading it until it is written and closed.
    let mut writer = wait_for("torq to open its env file", Duration::from_secs(60), || {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .ok()
    });
    docker_ok(&["kill", "--signal", "TERM", &name]);
    std::io::Write::write_all(&mut writer, b"WORD=hello\n").expect("write the env file");
    drop(writer);

    wait_for(
        "torq to end after SIGTERM (a dropped SIGTERM leaves it attached)",
        Duration::from_secs(120),
        || (docker_ok(&["inspect", "-f", "{{.State.Running}}", &name]) == "false").then_some(()),
    );
    let logs = docker(&["logs", &name]);
    let stderr = String::from_utf8_lossy(&logs.stderr);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &name]),
        "0",
        "{stderr}"
    );
    assert_taken_down_after_sigterm(&project, &stderr);
}

/// An attached `up` still waiting for another torq's project lock has
/// started nothing: a signal then ends it (exit 0) without a `down`, which
/// would stop what the other torq is bringing up.
#[test]
fn a_signal_while_waiting_for_the_lock_takes_nothing_down() {
    let project = TestProject::new(
        "attach-lockwait",
        r#"
services:
  talker:
    image: {image}
    command: ["sh", "-c", "{loop}"]
"#,
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let lock = runtime.block_on(async {
        let engine = torq::engine::Engine::connect().await.expect("engine");
        torq::engine::lock::lock_project(engine.host(), &project.name, || {})
            .await
            .expect("take the project lock")
    });
    let mut torq = Watched::spawn(project.torq_command(&["up", "--attach"]));
    torq.wait_for_stderr("waiting for it to finish");
    torq.signal(libc::SIGTERM);
    let (status, _, stderr) = torq.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("SIGTERM while waiting for the project lock"),
        "{stderr}"
    );
    assert!(!stderr.contains("stopping project"), "no down: {stderr}");
    assert!(project.containers().is_empty());
    drop(lock);
}

/// The session said it stops the project on SIGTERM, and nothing of the
/// project is left.
fn assert_taken_down_after_sigterm(project: &TestProject, stderr: &str) {
    assert!(stderr.contains("SIGTERM: stopping project"), "{stderr}");
    let left = project.containers();
    assert!(left.is_empty(), "{left:#?}");
}
