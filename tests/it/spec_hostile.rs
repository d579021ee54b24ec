//! Large and hostile specs through the real `torq config` binary: a 10 MB
//! spec, 1,000 services, 100-deep nesting (and far deeper), a 1 MB environment
//! value, non-UTF-8 bytes in the spec and in the project's path. Each is
//! handled or refused with a spec error (exit 1, `file:line:column`), never a
//! panic or a crash. Inputs are generated in a temp dir; a generous deadline
//! only turns a hang into a failure, it measures nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{run_with_deadline, CommandResult};

/// Long enough for a debug build on a busy machine; only a hang exceeds it.
const HANG: Duration = Duration::from_secs(180);

/// Runs `torq config ARGS` in `dir`, killing it if it outlives [`HANG`].
fn config(dir: &Path, args: &[&str]) -> CommandResult {
    let mut command = Command::new(env!("CARGO_BIN_EXE_torq"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .arg("config")
        .args(args);
    run_with_deadline(command, HANG)
}

fn write_spec(dir: &Path, text: impl AsRef<[u8]>) {
    std::fs::write(dir.join("compose.yaml"), text).expect("write spec");
}

/// A refusal: exit 1 and a message naming the spec at `line:column`.
fn assert_spec_error(out: &CommandResult, line: usize) {
    let err = &out.stderr;
    assert_eq!(out.code, Some(1), "{err}");
    assert!(err.contains(&format!("compose.yaml:{line}:")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_ten_megabyte_spec_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("x-padding:\n");
    while text.len() < 10 * 1024 * 1024 {
        let _ = writeln!(text, "  - {}", "p".repeat(1000));
    }
    text.push_str("services:\n  app:\n    image: busybox\n");
    write_spec(dir.path(), &text);
    let out = config(dir.path(), &["--services"]);
    assert!(out.code == Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "app\n");
}

#[test]
fn a_thousand_services_load_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("services:\n");
    for i in 0..1000 {
        let _ = writeln!(
            text,
            "  s{i:04}:\n    image: busybox\n    environment: {{N: \"{i}\"}}"
        );
        if i > 0 {
            let _ = writeln!(text, "    depends_on: [s{:04}]", i - 1);
        }
    }
    write_spec(dir.path(), &text);
    let out = config(dir.path(), &["--services"]);
    assert!(out.code == Some(0), "{}", out.stderr);
    let names: Vec<String> = out.stdout.lines().map(str::to_string).collect();
    assert_eq!(names.len(), 1000);
    assert_eq!(names[0], "s0000");
    assert_eq!(names[999], "s0999");
}

/// `depth` nested block mappings under `key`, each one indented further.
fn nested_block(depth: usize) -> String {
    let mut text = String::new();
    for level in 0..depth {
        let _ = writeln!(text, "{}k{level}:", "  ".repeat(level + 3));
    }
    let _ = writeln!(text, "{}leaf: 1", "  ".repeat(depth + 3));
    text
}

/// Service `app` with 100 nested mappings under `keys`.
fn deep_spec(keys: &str) -> String {
    let nested = nested_block(100);
    format!("services:\n  app:\n    image: busybox\n    {keys}\n{nested}")
}

#[test]
fn a_hundred_deep_extension_loads() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), deep_spec("x-deep:"));
    let out = config(dir.path(), &["-q"]);
    assert!(out.code == Some(0), "{}", out.stderr);
}

#[test]
fn a_hundred_deep_mapping_where_a_string_belongs_is_a_spec_error() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), deep_spec("environment:\n      A:"));
    assert_spec_error(&config(dir.path(), &["-q"]), 7);
}

#[test]
fn a_hundred_thousand_deep_flow_sequence_is_refused_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 100_000;
    let text = format!(
        "services:\n  app:\n    image: busybox\n    x-deep: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    write_spec(dir.path(), text);
    assert_spec_error(&config(dir.path(), &["-q"]), 4);
}

#[test]
fn a_one_megabyte_environment_value_is_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let value = "v".repeat(1024 * 1024);
    write_spec(
        dir.path(),
        format!("services:\n  app:\n    image: busybox\n    environment:\n      BIG: {value}\n"),
    );
    let out = config(dir.path(), &["--format", "json"]);
    assert!(out.code == Some(0), "{}", out.stderr);
    let text = out.stdout;
    assert!(
        text.contains(&format!("\"BIG\": \"{value}\"")),
        "BIG missing or cut"
    );
}

#[test]
fn non_utf8_bytes_in_the_spec_are_a_spec_error() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), b"services:\n  app:\n    image: busy\xffbox\n");
    let out = config(dir.path(), &["-q"]);
    let err = &out.stderr;
    assert_eq!(out.code, Some(1), "{err}");
    assert!(err.contains("compose.yaml"), "{err}");
    assert!(err.contains("UTF-8"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_project_under_a_non_utf8_directory_is_refused_not_swapped_for_the_embedded_spec() {
    use std::os::unix::ffi::OsStrExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(std::ffi::OsStr::from_bytes(b"proj-\xff"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("app.env"), "A=1\n").unwrap();
    write_spec(
        &dir,
        "services:\n  app:\n    image: busybox\n    env_file: app.env\n    volumes:\n      - ./data:/data\n",
    );
    let out = config(&dir, &["--format", "json"]);
    let err = &out.stderr;
    assert!(!err.contains("panicked"), "{err}");
    // Never the embedded spec (a lossy path names no directory, so
    // discovery would find nothing): a refusal naming the path.
    assert_eq!(out.code, Some(1), "{err}");
    assert!(err.contains("proj-"), "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");
}
