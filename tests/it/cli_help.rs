//! The CLI contract through the real binary: help for torq and every
//! command (with examples), aliases, `--version`, usage errors that exit 1
//! naming the offending command or option, and color control.

use std::process::{Command, Output};

fn torq(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_torq"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run torq")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

const COMMANDS: &[(&str, Option<&str>)] = &[
    ("up", Some("start")),
    ("down", Some("stop")),
    ("restart", None),
    ("status", Some("ps")),
    ("logs", None),
    ("config", None),
    ("build", None),
];

#[test]
fn top_level_help_lists_every_command_and_alias() {
    for args in [&["help"][..], &["--help"], &["-h"]] {
        let out = torq(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout);
        for (command, alias) in COMMANDS {
            assert!(
                help.contains(&format!("  {command} ")),
                "{args:?}: {command} missing"
            );
            if let Some(alias) = alias {
                assert!(
                    help.contains(&format!("[alias: {alias}]")),
                    "{args:?}: alias {alias}"
                );
            }
        }
        assert!(help.contains("Examples:"), "{args:?}");
        assert!(help.contains("Exit codes:"), "{args:?}");
    }
}

#[test]
fn every_command_has_help_with_examples() {
    for (command, alias) in COMMANDS {
        let mut forms = vec![vec!["help", command], vec![command, "--help"]];
        if let Some(alias) = alias {
            forms.push(vec![alias, "--help"]);
        }
        for args in forms {
            let out = torq(&args, &[]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{args:?}: {}",
                text(&out.stderr)
            );
            let help = text(&out.stdout);
            assert!(
                help.contains(&format!("Usage: torq {command}")),
                "{args:?}:\n{help}"
            );
            assert!(help.contains("Examples:"), "{args:?}:\n{help}");
        }
    }
}

#[test]
fn version_is_printed() {
    let out = torq(&["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("torq "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn an_unknown_command_exits_1_naming_it() {
    let out = torq(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("frobnicate"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unknown_options_exit_1_naming_them() {
    for args in [
        &["--frob", "config"][..],
        &["config", "--frob"],
        &["logs", "--frob"],
    ] {
        let out = torq(args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains("--frob"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_bad_option_value_exits_1() {
    let out = torq(&["config", "--format", "xml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("xml"), "{}", text(&out.stderr));
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let args = ["-f", "does-not-exist.yaml", "config"];
    let plain = torq(&args, &[]);
    assert_eq!(plain.status.code(), Some(1));
    assert!(
        !text(&plain.stderr).contains('\u{1b}'),
        "not a terminal: no color"
    );

    let forced = torq(
        &["--color", "always", "-f", "does-not-exist.yaml", "config"],
        &[],
    );
    assert!(
        text(&forced.stderr).contains('\u{1b}'),
        "--color always colors"
    );

    let after = torq(
        &["-f", "does-not-exist.yaml", "config", "--color", "always"],
        &[],
    );
    assert!(
        text(&after.stderr).contains('\u{1b}'),
        "--color works after the command too"
    );

    let no_color = torq(&args, &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]);
    assert!(
        !text(&no_color.stderr).contains('\u{1b}'),
        "NO_COLOR wins in auto mode"
    );

    let clicolor = torq(&args, &[("CLICOLOR_FORCE", "1")]);
    assert!(
        text(&clicolor.stderr).contains('\u{1b}'),
        "CLICOLOR_FORCE colors a pipe"
    );
}
