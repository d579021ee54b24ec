//! `torq watch` against the real engine: an edited file is synced into the
//! running container without restarting it (ignored files stay out, a
//! deleted file goes), a `rebuild` rule rebuilds the image and recreates its
//! service only, and a service without `develop.watch` is refused; `up
//! --watch` starts every service, syncs, and on SIGTERM ends its watch with
//! the services left running.

use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

const SPEC: &str = r#"
services:
  synced:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app
          ignore: ["*.tmp"]
  built:
    build: ./ctx
    image: torq-test/watch-built:{name}
    command: ["sh", "-c", "{loop}"]
    develop:
      watch:
        - action: rebuild
          path: ./ctx
  plain:
    image: {image}
    command: ["sh", "-c", "{loop}"]
"#;

/// `docker inspect` of a container: its id and how often it started.
fn identity(container: &str) -> String {
    docker_ok(&[
        "inspect",
        "--format",
        "{{.Id}} {{.State.StartedAt}}",
        container,
    ])
}

fn cat(container: &str, path: &str) -> Option<String> {
    let out = docker(&["exec", container, "cat", path]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A project of [`SPEC`] with its watched files (`src/a.txt`, the `ctx`
/// build context) and a guard for the image its `rebuild` rule builds.
fn watched_project(prefix: &str) -> (TestProject, ImageGuard) {
    let project = TestProject::new(prefix, "services: {}\n");
    project.write_spec(&SPEC.replace("{name}", &project.name));
    let image = ImageGuard(vec![format!("torq-test/watch-built:{}", project.name)]);
    let dir = project.dir.path();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("ctx")).unwrap();
    std::fs::write(dir.join("src/a.txt"), "one\n").unwrap();
    std::fs::write(dir.join("ctx/file"), "v1\n").unwrap();
    std::fs::write(
        dir.join("ctx/Dockerfile"),
        format!("FROM {BUSYBOX_IMAGE}\nCOPY file /file\n"),
    )
    .unwrap();
    (project, image)
}

#[test]
fn watch_syncs_without_restart_and_rebuilds_only_its_service() {
    let (project, _image) = watched_project("watch");
    let dir = project.dir.path();

    let mut cmd = project.torq_command(&["watch"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().expect("spawn torq watch"));
    let mut lines = Lines::new(child.0.stderr.take().expect("stderr"));
    lines.expect("watching");
    let synced = format!("{}-synced-1", project.name);
    let built = format!("{}-built-1", project.name);
    let plain = format!("{}-plain-1", project.name);
    assert!(
        project.containers().iter().all(|c| c.name != plain),
        "watch started only watched services"
    );
    let (synced_before, built_before) = (identity(&synced), identity(&built));

    std::fs::write(dir.join("src/a.txt"), "two\n").unwrap();
    std::fs::write(dir.join("src/skip.tmp"), "ignored\n").unwrap();
    wait_for(
        "the edit inside the container",
        Duration::from_secs(60),
        || (cat(&synced, "/app/a.txt").as_deref() == Some("two\n")).then_some(()),
    );
    lines.expect("watch: synced: synced a.txt");
    assert_eq!(
        identity(&synced),
        synced_before,
        "sync must not restart the container"
    );
    assert_eq!(
        cat(&synced, "/app/skip.tmp"),
        None,
        "ignored files are not synced"
    );

    std::fs::remove_file(dir.join("src/a.txt")).unwrap();
    wait_for(
        "the deletion inside the container",
        Duration::from_secs(60),
        || cat(&synced, "/app/a.txt").is_none().then_some(()),
    );

    std::fs::write(dir.join("ctx/file"), "v2\n").unwrap();
    lines.expect("watch: built: rebuilt and recreated");
    assert_ne!(
        identity(&built),
        built_before,
        "rebuild recreates its service"
    );
    assert_eq!(cat(&built, "/file").as_deref(), Some("v2\n"));
    assert_eq!(
        identity(&synced),
        synced_before,
        "rebuild leaves other services alone"
    );
}

#[test]
fn watch_refuses_a_service_without_develop_watch() {
    let project = TestProject::new("watch-none", "services: {}\n");
    project.write_spec(&SPEC.replace("{name}", &project.name));
    let result = project.torq(&["watch", "plain"]);
    result.assert_code(1);
    assert!(
        result
            .stderr
            .contains("service plain has no `develop.watch` rules"),
        "{}",
        result.stderr
    );
    assert!(project.containers().is_empty());
}

#[test]
fn up_watch_starts_every_service_then_syncs_and_leaves_them_running_on_sigterm() {
    let (project, _image) = watched_project("upwatch");
    let dir = project.dir.path();

    let mut cmd = project.torq_command(&["up", "--watch"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().expect("spawn torq up --watch"));
    let mut lines = Lines::new(child.0.stderr.take().expect("stderr"));
    lines.expect("watching");
    let running = |name: &str| {
        project
            .containers()
            .iter()
            .any(|c| c.name == format!("{}-{name}-1", project.name) && c.state == "running")
    };
    assert!(
        ["synced", "built", "plain"].iter().all(|s| running(s)),
        "up --watch starts every service, watched or not: {:?}",
        project.containers()
    );

    std::fs::write(dir.join("src/b.txt"), "new\n").unwrap();
    let synced = format!("{}-synced-1", project.name);
    wait_for(
        "the new file inside the container",
        Duration::from_secs(60),
        || (cat(&synced, "/app/b.txt").as_deref() == Some("new\n")).then_some(()),
    );
    lines.expect("watch: synced: synced b.txt");

    // SAFETY: kill(2) on the pid of a child we own and have not reaped.
    unsafe {
        libc::kill(child.0.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = wait_for("torq up --watch to exit", Duration::from_secs(60), || {
        child.0.try_wait().expect("wait for torq")
    });
    assert!(status.success(), "exit status {status}");
    assert!(
        ["synced", "built", "plain"].iter().all(|s| running(s)),
        "the services keep running after the watch ends: {:?}",
        project.containers()
    );
}
