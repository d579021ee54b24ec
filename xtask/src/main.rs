//! `cargo xtask`: the workspace's developer commands (the alias lives in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask test [ARGS…]` makes this machine ready for the test suite
//!   (see [`setup`]) and then runs `cargo test --no-fail-fast ARGS…` in the
//!   workspace root; its exit code is cargo's, and cargo's output is the
//!   last thing printed.
//! - `cargo xtask setup` does only the preparation.
//! - `cargo xtask fuzz [--seconds N] [--out DIR]` runs the spec loader's fuzz
//!   harness (the `fuzz_spec` example of the `torq` crate) for N seconds.

mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [ARGS...]   install/start what the tests need when missing (Docker engine,
                   docker compose v2, busybox-static, Chromium), then
                   `cargo test --no-fail-fast ARGS...`
  setup            only the installing/starting part
  fuzz [--seconds N] [--out DIR]
                   fuzz the spec loader for N seconds (default 60); findings
                   are saved under DIR (default target/fuzz-findings)
  help             this text";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("test") => run_tests(args.collect()),
        Some("setup") => setup::prepare().map(|()| ExitCode::SUCCESS),
        Some("fuzz") => run_fuzz(args.collect()),
        Some("help" | "-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => {
            eprintln!("xtask: unknown command `{other}`\n\n{USAGE}");
            Ok(ExitCode::FAILURE)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("xtask: {error:#}");
        ExitCode::FAILURE
    })
}

/// Runs the `fuzz_spec` example (release build) with `args`.
fn run_fuzz(args: Vec<String>) -> Result<ExitCode> {
    let status = cargo()
        .args([
            "run",
            "--release",
            "-p",
            "torq",
            "--example",
            "fuzz_spec",
            "--",
        ])
        .args(&args)
        .current_dir(workspace_root())
        .status()
        .context("cannot run the fuzz_spec example")?;
    Ok(exit_code(status))
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    let code = status.code().and_then(|c| u8::try_from(c).ok());
    ExitCode::from(code.unwrap_or(1))
}

/// Prepares the machine, then hands over to `cargo test` with `args`.
fn run_tests(args: Vec<String>) -> Result<ExitCode> {
    setup::prepare()?;
    let mut cargo_test = cargo();
    cargo_test.arg("test");
    // Every test target runs even when an earlier one fails, so one run
    // reports every failure (cargo otherwise stops at the first failed target).
    if !args.iter().any(|a| a == "--no-fail-fast") {
        cargo_test.arg("--no-fail-fast");
    }
    let status = cargo_test
        .args(&args)
        .current_dir(workspace_root())
        .status()
        .context("cannot run `cargo test`")?;
    Ok(exit_code(status))
}

/// The workspace root (this crate's parent directory).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}
