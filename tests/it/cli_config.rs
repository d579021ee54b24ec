//! `torq config` through the real binary: the output formats, `--services`,
//! `--volumes`, `-q`, discovery (`TORQ_FILE`, parent directories, the
//! embedded spec), and spec errors (exit 1, `file:line:column`, the source
//! line, never a panic) on every invalid fixture.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spec")
}

/// Runs torq in `dir` with a minimal environment plus `env`.
fn torq(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_torq"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/home/torq-test")
        .env("NO_COLOR", "1")
        .args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run torq")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn yaml_is_the_default_format() {
    let out = torq(&fixtures().join("valid/basic"), &["config"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("name: basic\n"), "{text}");
    assert!(text.contains("stop_grace_period: 1m30s"), "{text}");
    assert!(text.contains("pull_policy: missing"), "{text}");
    assert!(!text.contains("command: null"), "{text}");
}

#[test]
fn yaml_leaves_out_what_compose_yaml_leaves_out() {
    // compose's JSON prints `ipam: {}`, `deploy.placement: {}`,
    // `deploy.resources: {}` and a watch's `exec: {command: null}`; its YAML does not.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  app:\n    image: x\n    deploy: {replicas: 2}\n    develop:\n      \
         watch: [{path: ./src, action: sync, target: /app}]\n",
    )
    .unwrap();
    let out = torq(dir.path(), &["config"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // `develop` is read by `watch`: no "not applied" warning for it.
    assert!(!stderr(&out).contains("develop"), "{}", stderr(&out));
    let text = stdout(&out);
    for absent in ["ipam", "placement", "resources", "exec"] {
        assert!(!text.contains(absent), "`{absent}` in\n{text}");
    }
    assert!(text.contains("replicas: 2"), "{text}");
    let out = torq(dir.path(), &["config", "--format", "json"], &[]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(value["networks"]["default"]["ipam"], serde_json::json!({}));
}

#[test]
fn json_has_compose_shapes() {
    let out = torq(
        &fixtures().join("valid/ports"),
        &["config", "--format", "json"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let first = &value["services"]["app"]["ports"][0];
    assert_eq!(
        first,
        &serde_json::json!({"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"})
    );
    assert_eq!(value["networks"]["default"]["name"], "ports_default");
    assert!(value["services"]["app"]["command"].is_null());
}

#[test]
fn services_and_volumes_lists() {
    let dir = fixtures().join("valid/volumes");
    let out = torq(&dir, &["config", "--services"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "db\n");
    let out = torq(&dir, &["config", "--volumes"], &[]);
    assert_eq!(stdout(&out), "db-data\ncache\nlogs\n");
    let out = torq(
        &fixtures().join("valid/depends_on"),
        &["config", "--services"],
        &[],
    );
    assert_eq!(stdout(&out), "db\nmigrate\ncache\napp\nsidecar\nnetns\n");
}

#[test]
fn services_list_in_dependency_order() {
    // As docker compose: a service comes after the services it depends on,
    // even when the spec lists it first.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  zeta: {image: x, depends_on: [mid]}\n  alpha: {image: x}\n  \
         mid: {image: x, depends_on: [beta]}\n  beta: {image: x}\n",
    )
    .unwrap();
    let out = torq(dir.path(), &["config", "--services"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "beta\nmid\nzeta\nalpha\n");
}

#[test]
fn quiet_only_validates() {
    let out = torq(&fixtures().join("valid/misc"), &["config", "-q"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
}

#[test]
fn several_files_and_profiles_from_the_command_line() {
    let dir = fixtures().join("valid/merge");
    let out = torq(
        &dir,
        &[
            "-f",
            "base.yaml",
            "-f",
            "overlay.yaml",
            "config",
            "--format",
            "json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(value["services"]["web"]["image"], "nginx:2");
    assert_eq!(
        value["services"]["web"]["command"],
        serde_json::json!(["nginx-debug"])
    );

    let dir = fixtures().join("valid/profiles");
    let out = torq(&dir, &["--profile", "debug", "config", "--services"], &[]);
    assert_eq!(stdout(&out), "app\ndebugger\ntracer\n");
    let out = torq(
        &dir,
        &["config", "--services"],
        &[("TORQ_PROFILE", "tracing")],
    );
    assert_eq!(stdout(&out), "app\ntracer\n");
}

#[test]
fn torq_file_and_parent_discovery() {
    let root = tempfile::Builder::new()
        .prefix("torqcli")
        .tempdir()
        .unwrap();
    let sub = root.path().join("deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        root.path().join("torq.yaml"),
        "services:\n  found:\n    image: busybox\n",
    )
    .unwrap();
    std::fs::write(
        root.path().join("other.yaml"),
        "services:\n  other:\n    image: busybox\n",
    )
    .unwrap();
    let out = torq(&sub, &["config", "--services"], &[]);
    assert_eq!(stdout(&out), "found\n", "{}", stderr(&out));
    let other = root.path().join("other.yaml");
    let out = torq(
        &sub,
        &["config", "--services"],
        &[("TORQ_FILE", other.to_str().unwrap())],
    );
    assert_eq!(stdout(&out), "other\n", "{}", stderr(&out));
    // The project is named after the spec's directory.
    let out = torq(&sub, &["config"], &[]);
    let expected = format!(
        "name: {}",
        torq::compose::syntax::normalize_project_name(
            &root.path().file_name().unwrap().to_string_lossy()
        )
    );
    assert!(stdout(&out).starts_with(&expected), "{}", stdout(&out));
}

#[test]
fn unset_variables_are_warnings_on_stderr() {
    let root = tempfile::Builder::new()
        .prefix("torqcli")
        .tempdir()
        .unwrap();
    std::fs::write(
        root.path().join("compose.yaml"),
        "services:\n  a:\n    image: busybox:${NOT_SET_ANYWHERE}\n",
    )
    .unwrap();
    let out = torq(root.path(), &["config", "--services"], &[]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("NOT_SET_ANYWHERE"),
        "{}",
        stderr(&out)
    );
    let out = torq(root.path(), &["-q", "config"], &[]);
    assert_eq!(stderr(&out), "", "-q silences warnings");
}

#[test]
fn every_invalid_fixture_exits_1_naming_file_line_column() {
    let dir = fixtures().join("invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: no expectation"));
        let (location, message) = expect.split_once(' ').unwrap_or((expect, ""));
        let out = torq(&dir, &["-f", &name, "config"], &[]);
        let err = stderr(&out);
        // `FILE:LINE:COLUMN` names another file (one an include or extends reads).
        let prefix = if location == "-" {
            format!("error: {name}: ")
        } else if location.matches(':').count() == 2 {
            format!("error: {location}: ")
        } else {
            format!("error: {name}:{location}: ")
        };
        if out.status.code() != Some(1) {
            failures.push(format!("{name}: exit {:?}", out.status.code()));
        }
        if !err.starts_with(&prefix) || !err.contains(message) {
            failures.push(format!(
                "{name}: expected `{prefix}…{message}`, got:\n{err}"
            ));
        }
        if location != "-" && !err.contains(" | ") {
            failures.push(format!("{name}: no source line quoted:\n{err}"));
        }
        if err.contains("panicked") || !stdout(&out).is_empty() {
            failures.push(format!("{name}: panic or output on stdout:\n{err}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_spec_file_is_a_clear_error() {
    let out = torq(&fixtures(), &["-f", "nope.yaml", "config"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.yaml"), "{}", stderr(&out));
}

#[test]
fn an_invalid_project_name_is_refused() {
    let out = torq(
        &fixtures().join("valid/basic"),
        &["-p", "Not Valid", "config"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid project name"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_spec_from_a_pipe_is_read() {
    // `torq -f <(…)`: the spec arrives through a FIFO (/dev/fd/N), as docker compose accepts.
    let torq = env!("CARGO_BIN_EXE_torq");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{torq} -p piped -f <(printf 'services:\\n  piped:\\n    image: x\\n') config --services"
        ))
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "piped");
}

#[test]
fn a_spec_on_stdin_is_read_with_dash() {
    // `torq -f - config`, as `docker compose -f - config`: the spec comes from
    // standard input, the project directory is the working directory, and
    // errors name `<stdin>` with line and column.
    let dir = tempfile::tempdir().expect("temp dir");
    let project_dir = dir.path().join("from-stdin");
    std::fs::create_dir(&project_dir).expect("project dir");
    let run = |spec: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_torq"))
            .current_dir(&project_dir)
            .env("NO_COLOR", "1")
            .args(["-f", "-", "config", "--format", "json"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run torq");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), spec.as_bytes())
            .expect("write the spec");
        drop(child.stdin.take());
        child.wait_with_output().expect("torq ends")
    };
    let out = run("services:\n  web:\n    image: x\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(json["name"], "from-stdin");
    assert_eq!(json["services"]["web"]["image"], "x");

    let out = run("services:\n  web:\n    image: x\n    retries: 3\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("<stdin>:4:5"), "{}", stderr(&out));
}
