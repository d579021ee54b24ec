//! The everyday commands around a running project, against the real engine:
//! `ls` (a torq-made and a compose-made project side by side), `kill`,
//! `pause`/`unpause` (and `status` showing PAUSED), `top`, `port`, `images`,
//! `wait`, `events --json` and `pull` (its failure and "already present"
//! paths: this machine has no registry).

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

const SPEC: &str = r#"
services:
  web:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    ports: ["127.0.0.1::80"]
  worker:
    image: {image}
    command: ["sh", "-c", "{loop}"]
"#;

#[test]
fn ls_lists_a_torq_project_and_a_compose_project() {
    let torq_made = TestProject::new("ls-torq", SPEC);
    torq_made.torq(&["up", "web"]).assert_code(0);
    let compose_made = TestProject::new("ls-compose", SPEC);
    let compose = Command::new(compose_v2())
        .args(["-p", &compose_made.name, "-f"])
        .arg(compose_made.spec_path())
        .args(["up", "-d", "worker"])
        .stdin(Stdio::null())
        .output()
        .expect("run docker compose");
    assert!(
        compose.status.success(),
        "{}",
        String::from_utf8_lossy(&compose.stderr)
    );

    let result = torq_made.torq(&["ls", "--format", "json"]);
    result.assert_code(0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&result.stdout).expect("ls JSON");
    for project in [&torq_made, &compose_made] {
        let row = rows
            .iter()
            .find(|r| r["Name"] == project.name.as_str())
            .unwrap_or_else(|| panic!("{} missing from {rows:#?}", project.name));
        assert_eq!(row["Status"], "running(1)");
        assert_eq!(
            row["ConfigFiles"],
            project.spec_path().to_string_lossy().as_ref()
        );
    }
    let table = torq_made.torq(&["ls"]);
    assert!(table.stdout.starts_with("NAME"), "{}", table.stdout);
    assert!(
        table.stdout.contains(&compose_made.name),
        "{}",
        table.stdout
    );
}

#[test]
fn kill_pause_unpause_and_status_paused() {
    let project = TestProject::new("kill-pause", SPEC);
    project.torq(&["up"]).assert_code(0);
    project.torq(&["pause", "web"]).assert_code(0);
    let status = project.torq(&["status", "--format", "json"]);
    status.assert_code(2);
    let report: serde_json::Value = serde_json::from_str(&status.stdout).expect("status JSON");
    let state = |service: &str| {
        report["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == service)
            .map(|s| s["state"].clone())
    };
    assert_eq!(state("web"), Some("paused".into()), "{report:#}");
    assert_eq!(state("worker"), Some("running".into()), "{report:#}");
    assert!(project.torq(&["status"]).stdout.contains("‖ PAUSED"));
    project.torq(&["unpause"]).assert_code(0);
    project.torq(&["status"]).assert_code(0);

    project
        .torq(&["kill", "-s", "SIGTERM", "worker"])
        .assert_code(0);
    let worker = wait_for("worker to exit", Duration::from_secs(60), || {
        project
            .containers()
            .into_iter()
            .find(|c| c.service == "worker" && c.state == "exited")
    });
    assert!(worker.status.starts_with("Exited (0)"), "{worker:?}");
    let web = project
        .containers()
        .into_iter()
        .find(|c| c.service == "web")
        .unwrap();
    assert_eq!(web.state, "running", "kill touched only the named service");
    let bad = project.torq(&["kill", "-s", "SIGNOPE"]);
    bad.assert_code(1);
    assert!(bad.stderr.contains("unknown signal"), "{}", bad.stderr);
}

#[test]
fn top_port_and_images() {
    let project = TestProject::new("top-port", SPEC);
    project.torq(&["up"]).assert_code(0);
    let top = project.torq(&["top", "web"]);
    top.assert_code(0);
    assert!(
        top.stdout
            .starts_with(&format!("web ({}-web-1)\n", project.name)),
        "{}",
        top.stdout
    );
    assert!(
        top.stdout.contains("PID") && top.stdout.contains("while true"),
        "{}",
        top.stdout
    );
    assert!(!top.stdout.contains("worker"), "{}", top.stdout);

    let port = project.torq(&["port", "web", "80"]);
    port.assert_code(0);
    let expected = docker_ok(&["port", &format!("{}-web-1", project.name), "80/tcp"]);
    assert_eq!(port.stdout.trim(), expected.lines().next().unwrap());
    let unpublished = project.torq(&["port", "web", "81"]);
    unpublished.assert_code(1);
    assert!(
        unpublished
            .stderr
            .contains("port 81/tcp is not published (published: 80/tcp)"),
        "{}",
        unpublished.stderr
    );

    let images = project.torq(&["images", "--format", "json"]);
    images.assert_code(0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&images.stdout).expect("images JSON");
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", BUSYBOX_IMAGE]);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for row in &rows {
        assert_eq!(row["repository"], BUSYBOX_IMAGE);
        assert_eq!(row["tag"], "latest");
        assert_eq!(row["id"], id.as_str());
        assert!(row["size"].as_i64().unwrap() > 0);
    }
}

#[test]
fn wait_returns_the_first_exit_code_and_can_take_the_project_down() {
    let spec = r#"
services:
  job:
    image: {image}
    command: ["sh", "-c", "while [ ! -e /done ]; do sleep 0.1; done; exit 5"]
  other:
    image: {image}
    command: ["sh", "-c", "{loop}"]
"#;
    let project = TestProject::new("wait", spec);
    project.torq(&["up", "--no-wait"]).assert_code(0);
    let mut cmd = project.torq_command(&["wait", "--down-project", "job"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut waiting = ChildGuard(cmd.spawn().expect("spawn torq wait"));
    assert!(
        waiting.0.try_wait().expect("try_wait").is_none(),
        "wait returned before the job ended"
    );
    docker_ok(&["exec", &format!("{}-job-1", project.name), "touch", "/done"]);
    let status = wait_for("torq wait to return", Duration::from_secs(120), || {
        waiting.0.try_wait().expect("try_wait")
    });
    assert_eq!(status.code(), Some(5));
    assert!(
        project.containers().is_empty(),
        "{:?}",
        project.containers()
    );
}

#[test]
fn events_json_lines_parse() {
    let project = TestProject::new("events", SPEC);
    project.torq(&["up", "web"]).assert_code(0);
    let mut cmd = project.torq_command(&["events", "--json"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = ChildGuard(cmd.spawn().expect("spawn torq events"));
    let mut lines = Lines::new(child.0.stdout.take().expect("stdout"));
    // The subscription starts some time after spawning: pause and unpause
    // until the events come through.
    let line = wait_for("a pause event", Duration::from_secs(60), || {
        project.torq(&["pause", "web"]);
        project.torq(&["unpause", "web"]);
        lines.next_within(Duration::from_millis(500))
    });
    let event: serde_json::Value = serde_json::from_str(&line).expect("an event line is JSON");
    assert_eq!(event["type"], "container");
    assert_eq!(event["service"], "web");
    assert!(
        ["pause", "unpause"].contains(&event["action"].as_str().unwrap()),
        "{event}"
    );
    assert_eq!(
        event["attributes"]["name"],
        format!("{}-web-1", project.name)
    );
    assert_eq!(event["id"].as_str().unwrap().len(), 64);
    assert!(event["time"].as_str().unwrap().ends_with('Z'), "{event}");
}

#[test]
fn pull_reports_the_engines_reason_and_skips_present_images() {
    let spec = r#"
services:
  present:
    image: {image}:latest-local
    pull_policy: missing
  absent:
    image: torq-test/no-such-image:1
"#;
    let project = TestProject::new("pull", spec);
    let _tag = ImageGuard(vec![format!("{BUSYBOX_IMAGE}:latest-local")]);
    docker_ok(&[
        "tag",
        BUSYBOX_IMAGE,
        &format!("{BUSYBOX_IMAGE}:latest-local"),
    ]);
    let present = project.torq(&["-v", "pull", "present"]);
    present.assert_code(0);
    assert!(
        present
            .stderr
            .contains("present: skipped: image is already present"),
        "{}",
        present.stderr
    );

    let absent = project.torq(&["pull", "absent"]);
    absent.assert_code(2);
    assert!(
        absent
            .stderr
            .contains("absent: cannot pull torq-test/no-such-image:1"),
        "{}",
        absent.stderr
    );
    project
        .torq(&["pull", "--ignore-pull-failures"])
        .assert_code(0);
}

#[test]
fn status_all_lists_one_offs_and_watch_follows_changes() {
    let project = TestProject::new("status-watch", SPEC);
    project.torq(&["up", "worker"]).assert_code(0);
    project
        .torq(&["run", "-d", "--no-deps", "web"])
        .assert_code(0);
    let plain = project.torq(&["status", "worker"]);
    assert!(!plain.stdout.contains("(run)"), "{}", plain.stdout);
    let all = project.torq(&["status", "--all", "worker"]);
    assert!(
        all.stdout.contains("web (run)  ● RUNNING"),
        "{}",
        all.stdout
    );

    // Without a terminal: a line per change.
    let mut cmd = project.torq_command(&["status", "--watch", "worker"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = ChildGuard(cmd.spawn().expect("spawn status --watch"));
    let mut lines = Lines::new(child.0.stdout.take().expect("stdout"));
    lines.expect("worker ● RUNNING");
    project.torq(&["pause", "worker"]).assert_code(0);
    lines.expect("worker ‖ PAUSED");
    project.torq(&["unpause", "worker"]).assert_code(0);
    lines.expect("worker ● RUNNING");
}

#[test]
fn status_watch_redraws_in_place_on_a_terminal_and_ctrl_c_restores_it() {
    let project = TestProject::new("status-tty", SPEC);
    project.torq(&["up", "worker"]).assert_code(0);
    let pty = Pty::open();
    let screen = pty.screen();
    let mut cmd = project.torq_command(&["status", "--watch", "worker"]);
    cmd.stdin(pty.stdio())
        .stdout(pty.stdio())
        .stderr(pty.stdio());
    let mut child = ChildGuard(cmd.spawn().expect("spawn status --watch"));
    let mut seen = String::new();
    expect_screen(&screen, &mut seen, "● RUNNING");
    assert!(
        seen.contains("\x1b[?25l"),
        "the cursor is hidden while the view runs"
    );
    let pid = rustix::process::Pid::from_raw(child.0.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("Ctrl-C");
    let status = wait_for("status --watch to end", Duration::from_secs(60), || {
        child.0.try_wait().expect("try_wait")
    });
    assert_eq!(status.code(), Some(0));
    expect_screen(&screen, &mut seen, "\x1b[?25h");
}
