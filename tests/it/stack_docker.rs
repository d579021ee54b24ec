//! torq's own image and systemd units (docker/): the image, built by
//! docker/build.sh from this build's torq executable, runs torq as its
//! entrypoint against the host engine through the mounted socket — `up` of
//! the embedded spec, `status`, `down` — and, once `up --attach` streams in
//! the foreground, a `docker stop` of the torq container takes the stack down
//! gracefully. The systemd units pass `systemd-analyze verify`.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{
    docker, docker_ok, now_epoch_secs, project_containers, project_events, run_with_deadline,
    unique_project, wait_for, CommandResult, ContainerGuard, ProjectGuard, COMMAND_DEADLINE,
};
use crate::support::{PROJECT_LABEL, TORQ};

fn docker_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docker"))
}

/// torq's own image under a unique tag; removed on drop.
struct TorqImage(String);

impl TorqImage {
    /// From this build's torq executable.
    fn build() -> TorqImage {
        TorqImage::build_from(Path::new(TORQ))
    }

    /// From the torq executable at `executable`.
    fn build_from(executable: &Path) -> TorqImage {
        let image = TorqImage(format!("torq/torq:{}", unique_project("self")));
        let mut cmd = Command::new(docker_dir().join("build.sh"));
        cmd.arg(&image.0)
            .arg(executable)
            .env("DOCKER_BUILDKIT", "0");
        run_with_deadline(cmd, COMMAND_DEADLINE).assert_code(0);
        image
    }
}

/// An image removed (untagged) on drop.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", &self.0]);
    }
}

/// A copy of this build's torq executable with a unique trailer appended
/// (ignored by the loader), so its SHA-256 — and the self image's tag — is
/// new; in a temporary directory removed on drop.
struct UniqueExecutable {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl UniqueExecutable {
    fn new() -> UniqueExecutable {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("torq");
        std::fs::copy(TORQ, &path).expect("copy the torq executable");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open the copy");
        writeln!(file, "\ntorq test trailer {}", unique_project("exe")).expect("append a trailer");
        UniqueExecutable { _dir: dir, path }
    }

    /// The first 12 hex digits of the executable's SHA-256 (the self image's tag).
    fn sha256_prefix(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        let mut file = std::fs::File::open(&self.path).expect("open the copy");
        std::io::copy(&mut file, &mut hasher).expect("hash the copy");
        let digest = hasher.finalize();
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }
}

/// A container's stdout and stderr, for assertions and failure messages.
fn container_logs(name: &str) -> String {
    let out = docker(&["logs", name]);
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Drop for TorqImage {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", "--force", &self.0]);
    }
}

/// `docker run --rm` of torq's image with the engine socket, for `project`.
fn run_torq(image: &TorqImage, project: &str, args: &[&str]) -> CommandResult {
    let mut cmd = Command::new("docker");
    cmd.args([
        "run",
        "--rm",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
    ])
    .args(["-e", &format!("TORQ_PROJECT_NAME={project}")])
    .args(["-e", "TORQ_DASHBOARD_PORT=0", "-e", "NO_COLOR=1"])
    .arg(&image.0)
    .args(args);
    run_with_deadline(cmd, COMMAND_DEADLINE)
}

#[test]
fn torq_image_drives_the_host_engine() {
    let image = TorqImage::build();
    let version = run_with_deadline(
        {
            let mut cmd = Command::new("docker");
            cmd.args(["run", "--rm", &image.0, "--version"]);
            cmd
        },
        COMMAND_DEADLINE,
    );
    version.assert_code(0);
    assert!(version.stdout.starts_with("torq "), "{}", version.output());

    let project = unique_project("torq-image");
    let _guard = ProjectGuard::new(project.clone());
    run_torq(&image, &project, &["up"]).assert_code(0);
    let rows = project_containers(&project);
    assert_eq!(
        rows.len(),
        8,
        "the embedded spec's eight services: {rows:#?}"
    );
    wait_for(
        "the engine to report all eight healthy",
        Duration::from_secs(60),
        || {
            project_containers(&project)
                .iter()
                .all(|r| r.state == "running" && r.is_healthy())
                .then_some(())
        },
    );
    run_torq(&image, &project, &["status"]).assert_code(0);
    run_torq(&image, &project, &["down", "-v"]).assert_code(0);
    assert!(project_containers(&project).is_empty());
}

#[test]
fn torq_container_stops_the_stack_gracefully_on_sigterm() {
    // A torq executable no other test has: the stack's node image, tagged by
    // the executable's hash, cannot exist yet, so the containerized torq must
    // build it itself from its own /proc/self/exe.
    let executable = UniqueExecutable::new();
    let image = TorqImage::build_from(&executable.path);
    let node_image = ImageGuard(format!("torq/node:{}", executable.sha256_prefix()));
    let project = unique_project("torq-attach");
    let _guard = ProjectGuard::new(project.clone());
    let name = format!("{project}-torq");
    let _container = ContainerGuard(name.clone());
    // No --init: torq is PID 1 and handles SIGTERM itself.
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--stop-timeout",
        "60",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-e",
        &format!("TORQ_PROJECT_NAME={project}"),
        "-e",
        "TORQ_DASHBOARD_PORT=0",
        &image.0,
    ]);
    wait_for("the stack to be healthy", Duration::from_secs(180), || {
        let rows = project_containers(&project);
        (rows.len() == 8 && rows.iter().all(|r| r.is_healthy())).then_some(())
    });
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Running}}", &name]),
        "true",
        "`up --attach` stays in the foreground: {}",
        container_logs(&name)
    );
    let images: Vec<String> = project_containers(&project)
        .iter()
        .map(|r| docker_ok(&["inspect", "-f", "{{.Config.Image}}", &r.id]))
        .collect();
    assert!(
        images.iter().all(|i| *i == node_image.0),
        "every service runs the node image built inside the container, {}: {images:?}",
        node_image.0
    );
    wait_for(
        "the torq container to stream the stack's logs",
        Duration::from_secs(30),
        || {
            let logs = docker(&["logs", &name]);
            String::from_utf8_lossy(&logs.stdout)
                .contains("dashboard_websocket")
                .then_some(())
        },
    );

    let since = now_epoch_secs();
    docker_ok(&["stop", "-t", "60", &name]);
    let until = now_epoch_secs();
    let logs = container_logs(&name);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &name]),
        "0",
        "torq exits 0 by itself (137 would be docker's SIGKILL): {logs}"
    );
    assert!(
        logs.contains(&format!("SIGTERM: stopping project {project}")),
        "{logs}"
    );
    assert!(
        project_containers(&project).is_empty(),
        "SIGTERM ran a full `down`: {logs}"
    );
    let network = format!("label={PROJECT_LABEL}={project}");
    assert_eq!(
        docker_ok(&["network", "ls", "-q", "--filter", &network]),
        "",
        "`down` removed the project's network"
    );
    let events = project_events(&project, since, until);
    let deaths: Vec<_> = events.iter().filter(|e| e.action == "die").collect();
    assert_eq!(deaths.len(), 8, "every service stopped once: {deaths:#?}");
    for death in &deaths {
        assert_eq!(death.exit_code, Some(0), "{} exits 0", death.service);
    }
    let kills: Vec<_> = events
        .iter()
        .filter(|e| e.action == "kill" && e.signal.as_deref() != Some("15"))
        .collect();
    assert!(kills.is_empty(), "only SIGTERM, no SIGKILL: {kills:#?}");
}

#[test]
fn systemd_units_verify() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut units = Vec::new();
    for unit in ["torq.service", "torq-status.service", "torq-status.timer"] {
        let text = std::fs::read_to_string(docker_dir().join(unit)).expect("read a unit");
        assert!(text.contains("torq") && !text.contains("\t"), "{unit}");
        // Verify against this build's executable instead of /usr/local/bin/torq.
        let text = text.replace("/usr/local/bin/torq", TORQ);
        let path = dir.path().join(unit);
        std::fs::write(&path, text).expect("write a unit");
        units.push(path);
    }
    let service = unit_settings("torq.service");
    for (key, value) in [
        // Detached `up`: the containers, not a process, are the state.
        ("Type", "oneshot"),
        ("RemainAfterExit", "yes"),
        ("ExecStart", "/usr/local/bin/torq up"),
        ("ExecStartPost", "-/usr/local/bin/torq status"),
        ("ExecReload", "/usr/local/bin/torq up"),
        // Also after a failed or timed-out start.
        ("ExecStopPost", "/usr/local/bin/torq down"),
    ] {
        assert!(
            service.contains(&(key.to_string(), value.to_string())),
            "torq.service: {key}={value}"
        );
    }
    let timer = unit_settings("torq-status.timer");
    for (key, value) in [("PartOf", "torq.service"), ("WantedBy", "torq.service")] {
        assert!(
            timer.contains(&(key.to_string(), value.to_string())),
            "torq-status.timer: {key}={value}"
        );
    }
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=false"])
        .args(&units)
        .output()
        .expect("systemd-analyze (Debian's systemd package) runs");
    let complaints = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );
}

/// The `Key=value` lines of a unit in docker/.
fn unit_settings(unit: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(docker_dir().join(unit)).expect("read a unit");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}
