//! `torq run` and `torq exec` against the real engine: exit codes passed
//! through, one-off containers labeled and named as compose makes them,
//! dependencies started first, `--rm` leaving nothing (also after SIGTERM),
//! `down` removing a detached one-off, a TTY session driven through a
//! pseudo-terminal, and the errors for bad input.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

const SPEC: &str = r#"
services:
  db:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    depends_on:
      db:
        condition: service_healthy
"#;

/// The one-off containers of `project`: (name, state).
fn one_offs(project: &str) -> Vec<(String, String)> {
    let filter_project = format!("label={PROJECT_LABEL}={project}");
    let text = docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &filter_project,
        "--filter",
        "label=com.docker.compose.oneoff=True",
        "--format",
        "{{.Names}}\t{{.State}}",
    ]);
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
}

#[test]
fn run_returns_the_commands_exit_code_and_rm_leaves_nothing() {
    let project = TestProject::new("run-codes", SPEC);
    let ok = project.torq(&["run", "--rm", "app", "sh", "-c", "echo out; echo err >&2"]);
    ok.assert_code(0);
    assert_eq!(ok.stdout, "out\n");
    assert!(ok.stderr.contains("err\n"), "{}", ok.stderr);
    project
        .torq(&["run", "--rm", "app", "sh", "-c", "exit 7"])
        .assert_code(7);
    assert!(
        one_offs(&project.name).is_empty(),
        "{:?}",
        one_offs(&project.name)
    );
    // The dependency was started and is healthy; the service itself was not.
    let containers = project.containers();
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [format!("{}-db-1", project.name)], "{containers:?}");
    // Healthy as `status` sees it: the engine may not have run its own
    // healthcheck yet (its interval is 1 s; the runs can take less), so
    // `status` probes, as `run` did before it ran anything.
    project.torq(&["status", "db"]).assert_code(0);
}

#[test]
fn run_options_reach_the_container() {
    let project = TestProject::new("run-opts", SPEC);
    let result = project.torq(&[
        "run",
        "--rm",
        "--no-deps",
        "-e",
        "GREETING=hello",
        "-w",
        "/tmp",
        "-u",
        "1234",
        "--entrypoint",
        "sh -c",
        "app",
        "echo $GREETING $(pwd) $(id -u)",
    ]);
    result.assert_code(0);
    assert_eq!(result.stdout, "hello /tmp 1234\n");
    // --no-deps: nothing else was started.
    assert!(
        project.containers().is_empty(),
        "{:?}",
        project.containers()
    );
}

/// The effective capability set of a `torq run` of `app` with `flags`.
fn effective_caps(project: &TestProject, flags: &[&str]) -> u64 {
    let mut args = vec!["run", "--rm", "--no-deps"];
    args.extend_from_slice(flags);
    args.extend(["app", "grep", "CapEff", "/proc/self/status"]);
    let result = project.torq(&args);
    result.assert_code(0);
    let hex = result.stdout.split_whitespace().last().unwrap_or_default();
    u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("CapEff in {:?}", result.stdout))
}

/// `--cap-add`/`--cap-drop` change the one-off's capabilities, and override
/// the spec's `cap_drop`/`cap_add` for the same names, as compose's `run`.
#[test]
fn run_cap_add_and_cap_drop_override_the_spec() {
    const CHOWN: u64 = 1 << 0;
    const NET_ADMIN: u64 = 1 << 12;
    const NET_RAW: u64 = 1 << 13;
    let spec = r#"
services:
  app:
    image: {image}
    cap_drop: [CHOWN]
"#;
    let project = TestProject::new("run-caps", spec);
    let as_spec = effective_caps(&project, &[]);
    assert_eq!(as_spec & CHOWN, 0, "the spec drops CHOWN: {as_spec:x}");
    assert_ne!(as_spec & NET_RAW, 0, "NET_RAW is a default: {as_spec:x}");
    let flagged = effective_caps(
        &project,
        &[
            "--cap-add",
            "CHOWN",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "NET_RAW",
        ],
    );
    assert_ne!(
        flagged & CHOWN,
        0,
        "--cap-add CHOWN undoes the spec's drop: {flagged:x}"
    );
    assert_ne!(flagged & NET_ADMIN, 0, "--cap-add NET_ADMIN: {flagged:x}");
    assert_eq!(flagged & NET_RAW, 0, "--cap-drop NET_RAW: {flagged:x}");
}

#[test]
fn run_stdin_is_forwarded_without_a_tty() {
    let project = TestProject::new("run-stdin", SPEC);
    let mut cmd = project.torq_command(&["run", "--rm", "--no-deps", "-T", "app", "cat"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().expect("spawn torq run"));
    let mut stdin = child.0.stdin.take().expect("stdin");
    stdin.write_all(b"through the pipe\n").expect("write stdin");
    drop(stdin);
    let mut out = String::new();
    child
        .0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    let status = child.0.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert_eq!(out, "through the pipe\n");
}

#[test]
fn detached_run_is_a_compose_one_off_that_status_hides_and_down_removes() {
    let project = TestProject::new("run-detach", SPEC);
    let result = project.torq(&["run", "-d", "--no-deps", "app"]);
    result.assert_code(0);
    let id = result.stdout.trim().to_string();
    assert_eq!(id.len(), 64, "prints the container id: {}", result.stdout);
    let labels = docker_ok(&["inspect", "--format", "{{json .Config.Labels}}", &id]);
    let labels: serde_json::Value = serde_json::from_str(&labels).expect("labels JSON");
    assert_eq!(labels["com.docker.compose.oneoff"], "True");
    assert_eq!(labels["com.docker.compose.service"], "app");
    let slug = labels["com.docker.compose.slug"]
        .as_str()
        .expect("slug label");
    let name = docker_ok(&["inspect", "--format", "{{.Name}}", &id]);
    assert_eq!(name, format!("/{}-app-run-{}", project.name, &slug[..12]));

    let status = project.torq(&["status"]);
    assert!(!status.stdout.contains("-run-"), "{}", status.stdout);

    project.torq(&["down"]).assert_code(0);
    assert!(one_offs(&project.name).is_empty());
}

#[test]
fn run_rm_interrupted_by_sigterm_leaves_no_container() {
    let project = TestProject::new("run-term", SPEC);
    let mut cmd = project.torq_command(&["run", "--rm", "--no-deps", "app"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let child = ChildGuard(cmd.spawn().expect("spawn torq run"));
    wait_for(
        "the one-off container to run",
        Duration::from_secs(60),
        || {
            one_offs(&project.name)
                .iter()
                .any(|(_, state)| state == "running")
                .then_some(())
        },
    );
    let pid = rustix::process::Pid::from_raw(child.0.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM torq");
    let mut child = child;
    let status = wait_for("torq to exit", Duration::from_secs(60), || {
        child.0.try_wait().expect("try_wait")
    });
    // The container's command exits 0 on SIGTERM; torq passes that on.
    assert_eq!(status.code(), Some(0));
    assert!(
        one_offs(&project.name).is_empty(),
        "{:?}",
        one_offs(&project.name)
    );
}

#[test]
fn exec_returns_the_commands_exit_code_and_refuses_a_stopped_service() {
    let project = TestProject::new("exec", SPEC);
    project.torq(&["up", "db"]).assert_code(0);
    let ok = project.torq(&["exec", "-T", "db", "sh", "-c", "echo $FOO in $(pwd)"]);
    ok.assert_code(0);
    assert_eq!(ok.stdout, "in /\n");
    let with_options = project.torq(&[
        "exec",
        "-T",
        "-e",
        "FOO=bar",
        "-w",
        "/bin",
        "db",
        "sh",
        "-c",
        "echo $FOO in $(pwd); exit 4",
    ]);
    with_options.assert_code(4);
    assert_eq!(with_options.stdout, "bar in /bin\n");

    let stopped = project.torq(&["exec", "-T", "app", "true"]);
    stopped.assert_code(1);
    assert!(
        stopped.stderr.contains("service app is not running"),
        "{}",
        stopped.stderr
    );
    let unknown = project.torq(&["exec", "-T", "nope", "true"]);
    unknown.assert_code(1);
    assert!(
        unknown.stderr.contains("no such service: nope"),
        "{}",
        unknown.stderr
    );
    let index = project.torq(&["exec", "-T", "--index", "2", "db", "true"]);
    index.assert_code(1);
    assert!(
        index.stderr.contains("no container with index 2"),
        "{}",
        index.stderr
    );
}

#[test]
fn run_refuses_a_service_without_image_or_build() {
    let spec = format!("{SPEC}  bare:\n    command: [\"true\"]\n");
    let project = TestProject::new("run-bare", &spec);
    let result = project.torq(&["run", "--rm", "bare", "true"]);
    result.assert_code(1);
    assert!(
        result
            .stderr
            .contains("compose.yaml:15:3: services.bare: a service needs an `image` or a `build`"),
        "{}",
        result.stderr
    );
    assert!(project.containers().is_empty());
}

#[test]
fn run_gives_a_tty_session_through_a_pseudo_terminal() {
    let project = TestProject::new("run-tty", SPEC);
    let mut pty = Pty::open();
    let screen = pty.screen();
    let mut cmd: Command = project.torq_command(&["run", "--rm", "--no-deps", "app", "sh"]);
    cmd.stdin(pty.stdio())
        .stdout(pty.stdio())
        .stderr(pty.stdio());
    let mut child = ChildGuard(cmd.spawn().expect("spawn torq run"));
    let mut seen = String::new();
    // The shell inside says whether it has a terminal; arithmetic proves the
    // answer came from the container, not from the echo of what was typed.
    pty.type_text("[ -t 0 ] && echo tty-$((6*7))\r");
    expect_screen(&screen, &mut seen, "tty-42");
    pty.type_text("exit 3\r");
    let status = wait_for("torq run to exit", Duration::from_secs(60), || {
        child.0.try_wait().expect("try_wait")
    });
    assert_eq!(status.code(), Some(3), "the terminal showed:\n{seen}");
    assert!(one_offs(&project.name).is_empty());
}

#[test]
fn exec_gives_a_tty_session_through_a_pseudo_terminal() {
    let project = TestProject::new("exec-tty", SPEC);
    project.torq(&["up", "db"]).assert_code(0);
    let mut pty = Pty::open();
    let screen = pty.screen();
    let mut cmd: Command = project.torq_command(&["exec", "db", "sh"]);
    cmd.stdin(pty.stdio())
        .stdout(pty.stdio())
        .stderr(pty.stdio());
    let mut child = ChildGuard(cmd.spawn().expect("spawn torq exec"));
    let mut seen = String::new();
    pty.type_text("[ -t 0 ] && echo exec-tty-$((6*7))\r");
    expect_screen(&screen, &mut seen, "exec-tty-42");
    pty.type_text("exit 4\r");
    let status = wait_for("torq exec to exit", Duration::from_secs(60), || {
        child.0.try_wait().expect("try_wait")
    });
    assert_eq!(status.code(), Some(4), "the terminal showed:\n{seen}");
}

/// A one-off container answers on the project network to its own name
/// only — it takes no traffic meant for the service — unless
/// `--use-aliases`, which adds the service's name and aliases (as compose).
#[test]
fn a_one_off_answers_to_the_services_name_only_with_use_aliases() {
    let project = TestProject::new("run-aliases", SPEC);
    let network = format!("{}_default", project.name);
    let aliases_of = |name: &str| {
        let format =
            format!("{{{{json (index .NetworkSettings.Networks \"{network}\").Aliases}}}}");
        let json = docker_ok(&["inspect", "--format", &format, name]);
        serde_json::from_str::<Vec<String>>(&json).expect("aliases as JSON")
    };
    let plain = format!("{}-plain", project.name);
    let aliased = format!("{}-aliased", project.name);
    for (name, flags) in [(&plain, &[][..]), (&aliased, &["--use-aliases"][..])] {
        let mut args = vec!["run", "-d", "--no-deps", "--name", name.as_str()];
        args.extend_from_slice(flags);
        args.extend(["app", "sleep", "600"]);
        project.torq(&args).assert_code(0);
    }
    let plain_aliases = aliases_of(&plain);
    assert!(plain_aliases.contains(&plain), "{plain_aliases:?}");
    assert!(
        !plain_aliases.contains(&"app".to_string()),
        "{plain_aliases:?}"
    );
    let aliased_aliases = aliases_of(&aliased);
    assert!(aliased_aliases.contains(&aliased), "{aliased_aliases:?}");
    assert!(
        aliased_aliases.contains(&"app".to_string()),
        "{aliased_aliases:?}"
    );
    project.torq(&["down"]).assert_code(0);
}
