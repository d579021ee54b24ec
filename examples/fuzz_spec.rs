//! A stable-toolchain fuzz harness for the spec loader (`cargo xtask fuzz`).
//!
//! Structure-aware: it mutates the valid fixture specs line by line (delete,
//! duplicate, swap, retype a scalar, inject anchors, merge keys,
//! interpolations, deep nesting) and generates small compose documents, then
//! runs each through `torq::compose::load` in-process under `catch_unwind`
//! with a per-input deadline. It reports inputs/s, panics, slow inputs (over
//! 1 s) and peak RSS, and saves every crashing or slow input to a folder.
//! Not part of the test suite.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use torq::compose::{load, LoadOptions};

/// An input slower than this is a finding.
const SLOW: Duration = Duration::from_secs(1);
/// An input still running after this is abandoned as a hang.
const HANG: Duration = Duration::from_secs(10);

const SCALARS: &[&str] = &[
    "[]",
    "{}",
    "null",
    "~",
    "-1",
    "0",
    "99999999999999999999",
    "1e400",
    "true",
    "\"\"",
    "!!binary aGVsbG8=",
    "${X}",
    "${X:?required}",
    "${X:-${Y:-z}}",
    "$${X}",
    "${",
    "*missing",
    "[a, {b: c}]",
    "\"\\uD800\"",
    "0x1F",
    "1.5",
    "'multi\n  line'",
    "-",
    "&a x",
    "!reset null",
    "!override [1]",
    ">-\n  folded",
];

struct Findings {
    panics: usize,
    slow: usize,
    hangs: usize,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut seconds = 60u64;
    let mut out = PathBuf::from("target/fuzz-findings");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(60),
            "--out" => out = args.next().map(PathBuf::from).unwrap_or(out),
            _ => eprintln!("fuzz_spec: ignoring `{arg}`"),
        }
    }
    std::fs::create_dir_all(&out).expect("create the findings folder");
    let seeds = fixture_seeds();
    let work = tempfile::tempdir().expect("temp dir");
    let mut rng = fastrand::Rng::new();
    let mut findings = Findings {
        panics: 0,
        slow: 0,
        hangs: 0,
    };
    let started = Instant::now();
    let mut inputs = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        let (project_dir, text) = next_input(&mut rng, &seeds, work.path());
        run_one(&text, &project_dir, work.path(), &out, &mut findings);
        inputs += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "fuzz_spec: {inputs} inputs in {elapsed:.0} s ({:.0}/s); panics {}, slow (>1 s) {}, hangs {}; peak RSS {} kB; findings in {}",
        inputs as f64 / elapsed,
        findings.panics,
        findings.slow,
        findings.hangs,
        peak_rss_kb(),
        out.display()
    );
}

/// Every valid fixture's spec files, with the directory they came from.
fn fixture_seeds() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spec/valid");
    let mut seeds = Vec::new();
    for dir in std::fs::read_dir(&root).expect("fixtures").flatten() {
        for file in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = file.path();
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    seeds.push((dir.path(), text));
                }
            }
        }
    }
    assert!(
        !seeds.is_empty(),
        "no fixture specs under {}",
        root.display()
    );
    seeds
}

/// A mutated fixture (in its own directory, so relative references resolve)
/// or, one time in four, a generated document.
fn next_input(
    rng: &mut fastrand::Rng,
    seeds: &[(PathBuf, String)],
    work: &Path,
) -> (PathBuf, String) {
    if rng.u8(0..4) == 0 {
        return (work.to_path_buf(), generate(rng));
    }
    let (dir, text) = &seeds[rng.usize(0..seeds.len())];
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..rng.usize(1..5) {
        mutate(rng, &mut lines);
    }
    (dir.clone(), lines.join("\n") + "\n")
}

fn mutate(rng: &mut fastrand::Rng, lines: &mut Vec<String>) {
    if lines.is_empty() {
        lines.push("services: {}".into());
    }
    let i = rng.usize(0..lines.len());
    match rng.u8(0..8) {
        0 => {
            lines.remove(i);
        }
        1 => lines.insert(i, lines[i].clone()),
        2 => {
            let j = rng.usize(0..lines.len());
            lines.swap(i, j);
        }
        3 => retype_scalar(rng, &mut lines[i]),
        4 => {
            if let Some(colon) = lines[i].find(':') {
                lines[i].insert_str(colon + 1, " &a");
            }
        }
        5 => {
            let indent = indent_of(&lines[i]);
            lines.insert(i, format!("{}<<: *a", " ".repeat(indent)));
        }
        6 => {
            if let Some(colon) = lines[i].find(": ") {
                lines[i].truncate(colon + 2);
                lines[i].push_str("${TORQ_FUZZ:-x}${UNSET}$$");
            }
        }
        _ => {
            let depth = rng.usize(1..200);
            if let Some(colon) = lines[i].find(": ") {
                lines[i].truncate(colon + 2);
                lines[i].push_str(&"[".repeat(depth));
                lines[i].push_str(&"]".repeat(depth));
            }
        }
    }
}

fn retype_scalar(rng: &mut fastrand::Rng, line: &mut String) {
    let scalar = SCALARS[rng.usize(0..SCALARS.len())];
    match line.find(": ") {
        Some(colon) => {
            line.truncate(colon + 2);
            line.push_str(scalar);
        }
        None => {
            let indent = indent_of(line);
            *line = format!("{}- {scalar}", " ".repeat(indent));
        }
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// A small compose document from the spec's main keys.
fn generate(rng: &mut fastrand::Rng) -> String {
    const KEYS: &[&str] = &[
        "image",
        "command",
        "environment",
        "ports",
        "volumes",
        "depends_on",
        "extends",
        "networks",
        "env_file",
        "healthcheck",
        "deploy",
        "build",
        "profiles",
        "restart",
        "labels",
        "secrets",
        "configs",
        "develop",
        "scale",
        "x-ext",
    ];
    let mut text = String::from("services:\n");
    let services = rng.usize(1..5);
    for s in 0..services {
        text.push_str(&format!("  s{s}:\n"));
        for _ in 0..rng.usize(0..6) {
            let key = KEYS[rng.usize(0..KEYS.len())];
            let value = match rng.u8(0..3) {
                0 => SCALARS[rng.usize(0..SCALARS.len())].to_string(),
                1 => format!("[s{}]", rng.usize(0..services + 1)),
                _ => format!("{{service: s{}, file: x.yaml}}", rng.usize(0..services + 1)),
            };
            text.push_str(&format!("    {key}: {value}\n"));
        }
    }
    if rng.bool() {
        text.push_str("networks: {n: {external: true}}\nvolumes: {v: {}}\n");
    }
    text
}

/// Loads `text` as the project's only spec in a worker thread; records a
/// panic, a slow input or a hang and saves the input.
fn run_one(text: &str, project_dir: &Path, work: &Path, out: &Path, findings: &mut Findings) {
    let spec = work.join("compose.yaml");
    std::fs::write(&spec, text).expect("write input");
    // Saved before the run: an abort (a stack overflow) leaves it behind.
    std::fs::write(out.join("last-input.yaml"), text).expect("save input");
    let options = LoadOptions {
        files: vec![spec],
        project_directory: Some(project_dir.to_path_buf()),
        working_dir: work.to_path_buf(),
        project_name: Some("fuzz".into()),
        ..LoadOptions::default()
    };
    let (done, result) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| load(&options).map(|_| ()));
        let _ = done.send(outcome.is_err());
    });
    let kind = match result.recv_timeout(HANG) {
        Ok(true) => {
            findings.panics += 1;
            "panic"
        }
        Ok(false) if started.elapsed() > SLOW => {
            findings.slow += 1;
            "slow"
        }
        Ok(false) => return,
        Err(_) => {
            findings.hangs += 1;
            "hang"
        }
    };
    let n = findings.panics + findings.slow + findings.hangs;
    std::fs::write(out.join(format!("{kind}-{n}.yaml")), text).expect("save finding");
}

/// The process's peak resident set (`VmHWM`), in kB (0 where unknown).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
