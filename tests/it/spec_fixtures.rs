//! The spec layer on the fixture files, through the library (no process,
//! no Docker):
//!
//! - every file in `tests/fixtures/spec/invalid/` fails to load with the
//!   position and message its first line announces
//!   (`# expect: LINE:COLUMN text`, or `# expect: - text` for file-level errors);
//! - every directory in `tests/fixtures/spec/valid/` loads;
//! - a 10 MB spec loads; merge conflicts across files point at the later file.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use torq::compose::{self, LoadOptions};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spec")
}

fn base_env() -> IndexMap<String, String> {
    [("HOME".to_string(), "/home/torq-test".to_string())]
        .into_iter()
        .collect()
}

/// The expectation on an invalid fixture's first line:
/// `# expect: [FILE:]LINE:COLUMN text`, or `# expect: - text` for an error
/// about the whole file. FILE (relative to the fixture directory) names
/// another file the error is in, e.g. one an `include` or `extends` reads.
struct Expectation {
    file: Option<String>,
    position: Option<(u32, u32)>,
    text: String,
}

fn expectation(path: &Path) -> Expectation {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let first = text.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{} lacks an `# expect:` first line", path.display()));
    let (location, message) = rest.split_once(' ').unwrap_or((rest, ""));
    let parts: Vec<&str> = location.split(':').collect();
    let (file, position) = match parts.as_slice() {
        [file, l, c] => (Some(file.to_string()), Some((*l, *c))),
        [l, c] => (None, Some((*l, *c))),
        _ => (None, None),
    };
    let position = position.map(|(l, c)| {
        (
            l.parse().expect("expected line"),
            c.parse().expect("expected column"),
        )
    });
    Expectation {
        file,
        position,
        text: message.to_string(),
    }
}

#[test]
fn every_invalid_fixture_fails_where_it_says() {
    let dir = fixtures().join("invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("invalid fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "found only {} invalid fixtures",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let expect = expectation(file);
        let options = LoadOptions {
            files: vec![PathBuf::from(&name)],
            working_dir: dir.clone(),
            environment: base_env(),
            ..LoadOptions::default()
        };
        match compose::load(&options) {
            Ok(_) => failures.push(format!("{name}: loaded, but should fail")),
            Err(err) => {
                let shown = err.to_string();
                let position = err.line.zip(err.column);
                if position != expect.position {
                    failures.push(format!(
                        "{name}: error at {position:?}, expected {:?}: {shown}",
                        expect.position
                    ));
                }
                if !err.message.contains(&expect.text) {
                    failures.push(format!("{name}: message lacks `{}`: {shown}", expect.text));
                }
                let file = expect.file.clone().unwrap_or_else(|| name.clone());
                let prefix = match expect.position {
                    Some((l, c)) => format!("{file}:{l}:{c}: "),
                    None => format!("{file}: "),
                };
                if !shown.starts_with(&prefix) {
                    failures.push(format!(
                        "{name}: display does not start with `{prefix}`: {shown}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Reads a valid fixture's `args` (only `-f FILE` and `--profile NAME`) and `env`.
fn valid_options(dir: &Path) -> LoadOptions {
    let read = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.join(name))
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut options = LoadOptions {
        working_dir: dir.to_path_buf(),
        environment: base_env(),
        ..LoadOptions::default()
    };
    let args = read("args");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-f" => options
                .files
                .push(PathBuf::from(it.next().expect("-f FILE"))),
            "--profile" => options
                .profiles
                .push(it.next().expect("--profile NAME").clone()),
            other => panic!("{}: unsupported fixture argument {other}", dir.display()),
        }
    }
    for line in read("env") {
        if let Some((k, v)) = line.split_once('=') {
            options.environment.insert(k.into(), v.into());
        }
    }
    options
}

#[test]
fn every_valid_fixture_loads() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures().join("valid"))
        .expect("valid fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    for dir in &dirs {
        match compose::load(&valid_options(dir)) {
            Ok(project) => {
                if project.services.is_empty() {
                    failures.push(format!("{}: no services", dir.display()));
                }
                // The graph of every valid project covers every enabled service.
                let graph = compose::graph::DependencyGraph::new(&project);
                let placed: usize = graph.start_levels().iter().map(Vec::len).sum();
                if placed != project.services.len() {
                    failures.push(format!("{}: graph places {placed} services", dir.display()));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", dir.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixture_details_survive_loading() {
    let project = compose::load(&valid_options(&fixtures().join("valid/depends_on"))).unwrap();
    let graph = compose::graph::DependencyGraph::new(&project);
    assert_eq!(graph.start_levels()[0], vec!["db", "cache"]);
    // app restarts with db; netns shares app's network namespace (an
    // implicit dependency with restart), so it follows transitively.
    assert_eq!(graph.dependents_with_restart("db"), vec!["app", "netns"]);
    let app = &project.services["app"];
    assert_eq!(
        app.depends_on["migrate"].condition,
        compose::model::Condition::CompletedSuccessfully
    );
    assert!(!app.depends_on["metrics"].required);
    assert!(project.disabled_services.contains_key("metrics"));

    let project = compose::load(&valid_options(&fixtures().join("valid/anchors"))).unwrap();
    let two = &project.services["two"];
    assert_eq!(two.restart.as_deref(), Some("no"));
    assert_eq!(two.environment["REGION"].as_deref(), Some("us"));
    assert_eq!(two.environment["LOG_LEVEL"].as_deref(), Some("info"));
    assert_eq!(
        two.stop_grace_period,
        Some(std::time::Duration::from_secs(20))
    );
    assert_eq!(two.extensions["x-torq-self-image"], serde_json::json!(true));
}

#[test]
fn merge_conflict_points_at_the_later_file() {
    let dir = fixtures().join("invalid-merge");
    let options = LoadOptions {
        files: vec!["base.yaml".into(), "overlay.yaml".into()],
        working_dir: dir,
        environment: base_env(),
        ..LoadOptions::default()
    };
    let err = compose::load(&options).unwrap_err();
    assert_eq!(err.file.as_deref(), Some("overlay.yaml"));
    assert_eq!((err.line, err.column), (Some(4), Some(7)));
    assert!(err.message.contains("services.web.ports"), "{err}");
}

#[test]
fn a_ten_megabyte_spec_loads() {
    let dir = tempfile::Builder::new()
        .prefix("torqspec-big")
        .tempdir()
        .unwrap();
    let mut text = String::from(
        "x-common: &common\n  restart: unless-stopped\n  labels:\n    team: core\nservices:\n",
    );
    let mut count = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!(
            "  svc{count}:\n    <<: *common\n    image: \"registry.example.com/service-{count}:${{TAG:-latest}}\"\n    environment:\n      NAME: svc{count}\n      PADDING: \"{}\"\n    ports: [\"{}:80\"]\n",
            "x".repeat(120),
            10000 + count % 50000
        ));
        if count > 0 {
            text.push_str(&format!("    depends_on: [svc{}]\n", count - 1));
        }
        count += 1;
    }
    std::fs::write(dir.path().join("compose.yaml"), &text).unwrap();
    let options = LoadOptions {
        files: vec!["compose.yaml".into()],
        working_dir: dir.path().to_path_buf(),
        environment: base_env(),
        project_name: Some("big".into()),
        ..LoadOptions::default()
    };
    let project = compose::load(&options).unwrap();
    assert_eq!(project.services.len(), count);
    let graph = compose::graph::DependencyGraph::new(&project);
    assert_eq!(
        graph.start_levels().len(),
        count,
        "a chain has one service per level"
    );
}
