//! `torq up --attach` against the real engine: logs stream to stdout, SIGTERM
//! runs a graceful `down`, `--exit-code-from` returns the service's code.
//! Every test has its own project, removed by a guard even on failure.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

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
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do echo talker-says-hello; sleep 0.2; done"]
    stop_grace_period: 1s
"#,
    );
    let mut child = project
        .torq_command(&["up", "--attach"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn torq up --attach");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let guard_pid = child.id();
    wait_for("the talker to run", Duration::from_secs(60), || {
        project
            .containers()
            .into_iter()
            .find(|c| c.service == "talker" && c.state == "running")
    });
    // SAFETY: signalling our own child process by its pid.
    let rc = unsafe { libc::kill(guard_pid as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0, "cannot signal torq");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for torq") {
            break status;
        }
        if started.elapsed() > COMMAND_DEADLINE {
            let _ = child.kill();
            panic!("torq up --attach did not end after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stdout.contains("talker-says-hello"), "{stdout}");
    assert!(stderr.contains("SIGTERM: stopping project"), "{stderr}");
    assert!(
        project.containers().is_empty(),
        "{:#?}",
        project.containers()
    );
}
