//! torq's own image and systemd units (docker/): the image, built by
//! docker/build.sh from this build's torq executable, runs torq as its
//! entrypoint against the host engine through the mounted socket — `up` of
//! the embedded spec, `status`, `down` — and, once `up --attach` streams in
//! the foreground, a `docker stop` of the torq container takes the stack down
//! gracefully. The systemd units pass `systemd-analyze verify`.

mod common;
mod stack_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{
    docker, docker_ok, now_epoch_secs, project_containers, project_events, run_with_deadline,
    unique_project, wait_for, CommandResult, ContainerGuard, ProjectGuard, COMMAND_DEADLINE,
};
use stack_common::{unique, TORQ};

fn docker_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docker"))
}

/// torq's own image under a unique tag; removed on drop.
struct TorqImage(String);

impl TorqImage {
    fn build() -> TorqImage {
        let image = TorqImage(format!("torq/torq:{}", unique("self")));
        let mut cmd = Command::new(docker_dir().join("build.sh"));
        cmd.arg(&image.0).arg(TORQ).env("DOCKER_BUILDKIT", "0");
        run_with_deadline(cmd, COMMAND_DEADLINE).assert_code(0);
        image
    }
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
#[ignore = "needs `torq up --attach` (lifecycle): the image's default command"]
fn torq_container_stops_the_stack_gracefully_on_sigterm() {
    let image = TorqImage::build();
    let project = unique_project("torq-attach");
    let _guard = ProjectGuard::new(project.clone());
    let name = format!("{project}-torq");
    let _container = ContainerGuard(name.clone());
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
    wait_for("the stack to be healthy", Duration::from_secs(120), || {
        let rows = project_containers(&project);
        (rows.len() == 8 && rows.iter().all(|r| r.is_healthy())).then_some(())
    });
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Running}}", &name]),
        "true",
        "`up --attach` stays in the foreground"
    );
    let since = now_epoch_secs();
    docker_ok(&["stop", "-t", "60", &name]);
    let until = now_epoch_secs();
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &name]),
        "0"
    );
    assert!(
        project_containers(&project).is_empty(),
        "SIGTERM ran a full `down`"
    );
    let events = project_events(&project, since, until);
    for death in events.iter().filter(|e| e.action == "die") {
        assert_eq!(death.exit_code, Some(0), "{} exits 0", death.service);
    }
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
    let service = std::fs::read_to_string(docker_dir().join("torq.service")).expect("torq.service");
    for command in [" up\n", " down\n", " status\n"] {
        assert!(service.contains(command), "torq.service runs torq{command}");
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
