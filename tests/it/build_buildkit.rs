//! BuildKit builds end to end (`torq build` on the real engine, base images
//! local only): a cache mount seen again by a rebuilt step, build secrets from
//! a file and from the environment readable in `RUN` and absent from every
//! layer, a multi-stage Dockerfile built with `target:` and `args`, a failing
//! `RUN` reported with its command and output, `build.ssh` forwarding the
//! agent socket, and the classic builder on `TORQ_BUILDKIT=0`.
//!
//! Each test has its own project and removes the images it built (a guard).

use sha2::{Digest, Sha256};

use crate::support::{
    docker, docker_ok, run_with_deadline, unique_project, CommandResult, ImageGuard, TestProject,
    COMMAND_DEADLINE,
};

/// A project whose context directory holds `dockerfile`, with `yaml`.
fn project_with(purpose: &str, yaml: &str, dockerfile: &str) -> TestProject {
    let project = TestProject::new(purpose, yaml);
    std::fs::write(
        project.dir.path().join("Dockerfile"),
        dockerfile.replace("{image}", crate::support::BUSYBOX_IMAGE),
    )
    .expect("write Dockerfile");
    project
}

fn default_tag(project: &TestProject, service: &str) -> String {
    format!("{}-{service}", project.name)
}

/// `torq ARGS…` on `project` with one more environment variable.
fn torq_with(project: &TestProject, args: &[&str], (name, value): (&str, &str)) -> CommandResult {
    let mut cmd = project.torq_command(args);
    cmd.env(name, value);
    run_with_deadline(cmd, COMMAND_DEADLINE)
}

/// Panics with the whole output unless it holds every one of `needles`.
fn assert_output_has(output: &str, needles: &[&str]) {
    for needle in needles {
        assert!(output.contains(needle), "missing {needle:?} in:\n{output}");
    }
}

/// `cat FILE` in a fresh container of `image`.
fn read_file(image: &str, path: &str) -> String {
    docker_ok(&["run", "--rm", "--entrypoint", "cat", image, path])
}

#[test]
fn a_cache_mount_is_seen_by_the_next_build_of_a_rebuilt_step() {
    // A cache id of its own: other tests' builds never share this cache.
    let cache = unique_project("cache");
    let dockerfile = format!(
        "FROM {{image}}\nARG RUN_ID\nRUN --mount=type=cache,id={cache},target=/cache \
         echo \"$RUN_ID\" >> /cache/runs && cp /cache/runs /runs\n"
    );
    let spec = |run: &str| {
        format!("services:\n  app:\n    build:\n      context: .\n      args: {{RUN_ID: {run}}}\n")
    };
    let project = project_with("bk-cache", &spec("first"), &dockerfile);
    let image = default_tag(&project, "app");
    let _images = ImageGuard(vec![image.clone()]);

    let first = project.torq(&["build", "-v"]);
    first.assert_code(0);
    assert_output_has(&first.output(), &["builder: BuildKit"]);
    assert_eq!(read_file(&image, "/runs").trim(), "first");

    // A changed argument: the RUN step runs again, and finds the first run's file.
    project.write_spec(&spec("second"));
    let second = project.torq(&["build", "-v"]);
    second.assert_code(0);
    let all = second.output();
    let rebuilt = all
        .lines()
        .any(|l| l.contains("RUN --mount=type=cache") && l.contains(" DONE "));
    assert!(rebuilt, "the RUN step did not run again:\n{all}");
    assert_eq!(read_file(&image, "/runs").trim(), "first\nsecond", "{all}");
}

#[test]
fn build_secrets_are_readable_in_run_and_absent_from_every_layer() {
    let from_file = format!("file-secret-{}", unique_project("s"));
    let from_env = format!("env-secret-{}", unique_project("s"));
    // The step records the secrets' digests, never their values. BuildKit's
    // cache key ignores secret values: a unique word makes the step run.
    let dockerfile = format!(
        "FROM {{image}}\nRUN --mount=type=secret,id=token --mount=type=secret,id=api_key \
         echo {} > /run-id && sha256sum /run/secrets/token /run/secrets/api_key > /sums\n",
        unique_project("run")
    );
    let yaml = "services:\n  app:\n    build:\n      context: .\n      secrets:\n        - token\n        \
                - source: key\n          target: api_key\nsecrets:\n  token:\n    file: ./token.txt\n  \
                key:\n    environment: TORQ_TEST_BUILD_SECRET\n";
    let project = project_with("bk-secrets", yaml, &dockerfile);
    std::fs::write(project.dir.path().join("token.txt"), &from_file).expect("write token.txt");
    let image = default_tag(&project, "app");
    let _images = ImageGuard(vec![image.clone()]);

    torq_with(&project, &["build"], ("TORQ_TEST_BUILD_SECRET", &from_env)).assert_code(0);
    let sums = read_file(&image, "/sums");
    for (secret, path) in [
        (&from_file, "/run/secrets/token"),
        (&from_env, "/run/secrets/api_key"),
    ] {
        let digest = hex::encode(Sha256::digest(secret.as_bytes()));
        assert!(
            sums.contains(&format!("{digest}  {path}")),
            "{path} did not hold its secret in RUN:\n{sums}"
        );
    }

    // `docker save` holds the image config and every layer, uncompressed.
    let saved = docker(&["save", &image]);
    assert!(saved.status.success(), "docker save {image} failed");
    let layers = layer_contents(&saved.stdout);
    assert!(
        !layers.is_empty(),
        "docker save {image} holds no layer file"
    );
    for secret in [&from_file, &from_env] {
        assert!(
            !contains(&saved.stdout, secret.as_bytes()),
            "docker save {image} holds the secret {secret}"
        );
        for (name, bytes) in &layers {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "layer file {name} of {image} holds the secret {secret}"
            );
        }
    }
}

/// The files of every layer archive in a `docker save` tar, as (name, bytes).
fn layer_contents(saved: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut layers = Vec::new();
    let mut archive = tar::Archive::new(saved);
    for entry in archive.entries().expect("read docker save output") {
        let mut entry = entry.expect("a docker save entry");
        let name = entry.path().expect("entry path").display().to_string();
        if !name.ends_with("layer.tar") {
            continue;
        }
        let mut layer = Vec::new();
        entry.read_to_end(&mut layer).expect("read layer");
        let mut files = tar::Archive::new(layer.as_slice());
        for file in files.entries().expect("read layer archive") {
            let mut file = file.expect("a layer entry");
            let path = file.path().expect("path").display().to_string();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).expect("read layer file");
            layers.push((format!("{name}:{path}"), bytes));
        }
    }
    layers
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_multi_stage_build_honors_target_and_args() {
    let dockerfile =
        "FROM {image} AS builder\nARG FLAVOR=plain\nRUN echo \"built-$FLAVOR\" > /artifact\n\
                      FROM {image} AS runtime\nCOPY --from=builder /artifact /artifact\n\
                      FROM runtime AS debug\nRUN echo debug > /debug\n";
    let yaml = "services:\n  app:\n    build:\n      context: .\n      target: runtime\n      \
                args:\n        FLAVOR: spicy\n";
    let project = project_with("bk-stages", yaml, dockerfile);
    let image = default_tag(&project, "app");
    let _images = ImageGuard(vec![image.clone()]);

    project.torq(&["build"]).assert_code(0);
    assert_eq!(read_file(&image, "/artifact").trim(), "built-spicy");
    let debug = docker(&["run", "--rm", "--entrypoint", "cat", &image, "/debug"]);
    assert!(
        !debug.status.success(),
        "the debug stage (after the target) was built into {image}"
    );
}

#[test]
fn a_failing_run_is_reported_with_its_command_and_output() {
    let marker = unique_project("out");
    let dockerfile =
        format!("FROM {{image}}\nRUN echo \"{marker}\" && echo second-line && exit 3\n");
    let project = project_with("bk-fail", "services:\n  app:\n    build: .\n", &dockerfile);
    let _images = ImageGuard(vec![default_tag(&project, "app")]);

    let result = project.torq(&["build"]);
    result.assert_code(2);
    let step = format!("[2/2] RUN echo \"{marker}\" && echo second-line && exit 3");
    let output_line = format!("    {marker}\n");
    assert_output_has(
        &result.output(),
        &[
            &step,
            "exit code: 3",
            "last output of the step",
            &output_line,
            "    second-line",
        ],
    );
}

#[test]
fn torq_buildkit_0_builds_with_the_classic_builder() {
    let dockerfile = "FROM {image}\nRUN echo classic > /built-by\n";
    let project = project_with(
        "bk-classic",
        "services:\n  app:\n    build: .\n",
        dockerfile,
    );
    let image = default_tag(&project, "app");
    let _images = ImageGuard(vec![image.clone()]);

    let result = torq_with(&project, &["build", "-v"], ("TORQ_BUILDKIT", "0"));
    result.assert_code(0);
    // The classic builder's own output, not BuildKit's steps.
    assert_output_has(
        &result.output(),
        &[
            "builder: the classic builder (TORQ_BUILDKIT=0",
            "Step 2/2 : RUN echo classic > /built-by",
        ],
    );
    assert_eq!(read_file(&image, "/built-by").trim(), "classic");

    // What only BuildKit can do is refused, not dropped.
    std::fs::write(project.dir.path().join("s.txt"), "x").expect("write s.txt");
    project.write_spec(
        "services:\n  app:\n    build:\n      context: .\n      secrets: [s]\nsecrets:\n  s:\n    file: ./s.txt\n",
    );
    let result = torq_with(&project, &["build"], ("TORQ_BUILDKIT", "0"));
    result.assert_code(2);
    assert_output_has(&result.output(), &["`build.secrets` needs BuildKit"]);
}

/// `build.ssh: [default]` forwards `SSH_AUTH_SOCK`: a step that connects to
/// its agent socket reaches the agent torq was given. The test's agent is a
/// listener that counts connections; the step connects with torq's own
/// static executable (`torq node probe --socket`), as busybox cannot.
#[test]
fn build_ssh_forwards_the_agent_socket() {
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let dockerfile = format!(
        "FROM {{image}}\nCOPY torq /torq\nRUN --mount=type=ssh /torq node probe --socket \"$SSH_AUTH_SOCK\" \
         && echo {}\n",
        unique_project("ssh")
    );
    let yaml = "services:\n  app:\n    build:\n      context: .\n      ssh: [default]\n";
    let project = project_with("bk-ssh", yaml, &dockerfile);
    std::fs::copy(crate::support::TORQ, project.dir.path().join("torq")).expect("copy torq");
    let image = default_tag(&project, "app");
    let _images = ImageGuard(vec![image]);

    let agent_path = project.dir.path().join("agent.sock");
    let agent = UnixListener::bind(&agent_path).expect("bind the test agent");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in agent.incoming() {
            if stream.is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    let agent = agent_path.to_string_lossy().into_owned();
    let result = torq_with(&project, &["build", "-v"], ("SSH_AUTH_SOCK", &agent));
    result.assert_code(0);
    assert_output_has(&result.output(), &["accepts connections"]);
    assert!(
        connections.load(Ordering::SeqCst) >= 1,
        "the agent saw no connection:\n{}",
        result.output()
    );
}
