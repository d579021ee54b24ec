//! `torq logs` against the real engine: lines of several services merged in
//! timestamp order, following across a restart and onto services that start
//! later, level detection and colors in plain/logfmt/JSON lines, exact
//! `--stats`, long and non-UTF-8 lines, stderr marking, and a closed pipe.
//! Every test has its own project, removed by a guard even on failure.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::*;

/// How long a test waits for something the engine does.
const DEADLINE: Duration = Duration::from_secs(60);

/// Waits until `service`'s log holds `marker` (the service wrote everything
/// it was going to write). The whole log is searched: the engine timestamps
/// stdout and stderr separately, so the marker need not be the last line.
fn wait_for_marker(project: &TestProject, service: &str, marker: &str) {
    let name = format!("{}-{service}-1", project.name);
    let started = Instant::now();
    loop {
        let out = docker(&["logs", &name]);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if text.contains(marker) {
            return;
        }
        if started.elapsed() > DEADLINE {
            let all = docker(&["logs", "--tail", "5", &name]);
            let state = docker(&[
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
                &name,
            ]);
            panic!(
                "{service} did not print {marker} within {}s; state {}; last lines:\n{}{}",
                DEADLINE.as_secs(),
                String::from_utf8_lossy(&state.stdout).trim(),
                String::from_utf8_lossy(&all.stdout),
                String::from_utf8_lossy(&all.stderr),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ping-pong through a shared directory: `ping i` is always written before
/// `pong i`, which is written before `ping i+1`. docker compose would print
/// all of ping's lines, then all of pong's.
const PING_PONG: &str = r#"
services:
  ping:
    image: {image}
    volumes: ["./sync:/s"]
    stop_grace_period: 1s
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo ping $$i; touch /s/a$$i; while [ ! -e /s/b$$i ]; do sleep 0.02; done; done; echo END; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
  pong:
    image: {image}
    volumes: ["./sync:/s"]
    stop_grace_period: 1s
    command: ["sh", "-c", "for i in 1 2 3 4 5; do while [ ! -e /s/a$$i ]; do sleep 0.02; done; echo pong $$i; touch /s/b$$i; done; echo END; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
"#;

/// An engine timestamp as a sortable value: RFC3339Nano trims trailing zeros,
/// so the text itself does not sort.
fn ts_key(ts: &str) -> (String, u32) {
    let (seconds, fraction) = ts
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((ts, "0"));
    let nanos = format!("{fraction:0<9}")
        .parse()
        .expect("a fraction of a second");
    (seconds.to_string(), nanos)
}

/// Every line of `service` as `docker logs -t` shows it: (time, service, message).
fn engine_lines(project: &TestProject, service: &str) -> Vec<((String, u32), String, String)> {
    let name = format!("{}-{service}-1", project.name);
    let out = docker(&["logs", "-t", &name]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let (ts, message) = line.split_once(' ').expect("a timestamped line");
            (ts_key(ts), service.to_string(), message.to_string())
        })
        .collect()
}

#[test]
fn lines_of_all_services_are_merged_in_timestamp_order() {
    let project = TestProject::new("logs-merge", PING_PONG);
    std::fs::create_dir_all(project.dir.path().join("sync")).expect("sync dir");
    project.torq(&["up"]).assert_code(0);
    wait_for_marker(&project, "ping", "END");
    wait_for_marker(&project, "pong", "END");

    // The oracle: both services' lines as the engine timestamps them, sorted
    // by time (ties: spec order). The ping-pong makes them interleave.
    let mut expected = engine_lines(&project, "ping");
    expected.extend(engine_lines(&project, "pong"));
    expected.sort_by(|a, b| (&a.0, a.1 == "pong").cmp(&(&b.0, b.1 == "pong")));
    let switches = expected.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(
        switches >= 3,
        "the services did not interleave: {expected:?}"
    );

    let out = project.torq(&["logs", "-n", "all", "-t"]);
    out.assert_code(0);
    let got: Vec<((String, u32), String, String)> = out
        .stdout
        .lines()
        .map(|line| {
            // `ping | 2024-…Z ping 1`
            let (prefix, rest) = line.split_once(" | ").expect("a prefixed line");
            let (ts, message) = rest.split_once(' ').expect("a timestamped line");
            (ts_key(ts), prefix.trim().to_string(), message.to_string())
        })
        .collect();
    assert_eq!(got, expected, "\n{}", out.stdout);
    let messages: Vec<&str> = got
        .iter()
        .map(|l| l.2.as_str())
        .filter(|m| *m != "END")
        .collect();
    assert_eq!(messages.len(), 10, "{}", out.stdout);

    // -n 2 keeps the last two lines of each service.
    let out = project.torq(&["logs", "-n", "2", "--no-log-prefix"]);
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert_eq!(lines.iter().filter(|l| **l == "END").count(), 2);
    assert!(
        lines.contains(&"ping 5") && lines.contains(&"pong 5"),
        "{}",
        out.stdout
    );
}

/// A child process whose stdout lines arrive on a channel; killed when dropped.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn start(project: &TestProject, args: &[&str]) -> Follower {
        let mut cmd = project.torq_command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn torq logs -f");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; returns it.
    fn expect(&mut self, text: &str) -> String {
        self.expect_where(text, |_| true)
    }

    /// Waits for a line containing `text` for which `also` holds; returns it.
    fn expect_where(&mut self, text: &str, also: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(text) && also(l)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no line with {text:?} within {}s; got:\n{}",
                    DEADLINE.as_secs(),
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every start prints a line naming its own PID-namespace start time, so the
/// first and the second run of the container print different lines.
const RESTARTABLE: &str = r#"
services:
  svc:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "echo \"boot $$(cat /proc/uptime)\"; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
  late:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "echo late hello; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
"#;

#[test]
fn follow_survives_a_restart_and_picks_up_services_that_start_later() {
    let project = TestProject::new("logs-follow", RESTARTABLE);
    project.torq(&["up", "svc"]).assert_code(0);
    wait_for_marker(&project, "svc", "boot");

    let mut follower = Follower::start(&project, &["logs", "-f"]);
    let first = follower.expect("boot");

    let container = format!("{}-svc-1", project.name);
    docker_ok(&["restart", "-t", "1", &container]);
    let second = follower.expect_where("boot", |line| line != first);
    assert!(second.starts_with("svc  | boot "), "{second}");

    project.torq(&["up", "late"]).assert_code(0);
    let late = follower.expect("late hello");
    assert_eq!(late, "late | late hello");

    // Nothing was shown twice after the re-attach.
    let boots = follower.seen.iter().filter(|l| l.contains("boot")).count();
    assert_eq!(boots, 2, "{}", follower.seen.join("\n"));
}

/// Three formats, four levels, and a line on stderr.
const FORMATS: &str = r#"
services:
  app:
    image: {image}
    stop_grace_period: 1s
    command:
      - sh
      - -c
      - |
        echo 'ERROR plain failure'
        echo 'ts=1 level=warn msg=logfmt'
        echo '{"level":"info","msg":"json"}'
        echo 'DEBUG details'
        echo 'written to stderr' >&2
        echo END
        trap 'exit 0' TERM; while true; do sleep 0.1; done
"#;

#[test]
fn levels_are_detected_in_three_formats_and_colored() {
    let project = TestProject::new("logs-levels", FORMATS);
    project.torq(&["up"]).assert_code(0);
    wait_for_marker(&project, "app", "END");

    let out = project.torq(&["logs", "-n", "all", "--color", "always"]);
    out.assert_code(0);
    let red = "\u{1b}[31mERROR\u{1b}[0m plain failure";
    let yellow = "level=\u{1b}[33mwarn\u{1b}[0m msg=logfmt";
    let blue = "{\"level\":\"\u{1b}[34minfo\u{1b}[0m\",\"msg\":\"json\"}";
    let gray = "\u{1b}[90mDEBUG\u{1b}[0m details";
    for colored in [red, yellow, blue, gray] {
        assert!(
            out.stdout.contains(colored),
            "missing {colored:?} in:\n{:?}",
            out.stdout
        );
    }

    let out = project.torq(&["logs", "-n", "all", "--level", "warn", "--no-color"]);
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "app | ERROR plain failure",
            "app | ts=1 level=warn msg=logfmt"
        ],
        "{}",
        out.stdout
    );

    let out = project.torq(&["logs", "-n", "all", "--grep", "std(err|out)"]);
    out.assert_code(0);
    assert_eq!(
        out.stdout, "app ! written to stderr\n",
        "stderr lines are marked with !"
    );
    assert!(!out.stdout.contains('\u{1b}'), "NO_COLOR is honored");
}

/// A 40 000-byte line (the engine splits it into 16 KiB pieces), and bytes
/// that are not UTF-8 — through the `local` log driver, since json-file
/// stores invalid UTF-8 as U+FFFD (and the local driver of Engine 20.10 drops
/// the newline of a split line, so the long line stays with json-file).
const BYTES: &str = r#"
services:
  long:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo; echo END; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
  raw:
    image: {image}
    stop_grace_period: 1s
    logging:
      driver: local
    command: ["sh", "-c", "printf 'bad \\377\\376 bytes\\n'; echo END; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
"#;

#[test]
fn long_and_non_utf8_lines_come_out_whole() {
    let project = TestProject::new("logs-bytes", BYTES);
    project.torq(&["up"]).assert_code(0);
    wait_for_marker(&project, "long", "END");
    wait_for_marker(&project, "raw", "END");

    let mut cmd = project.torq_command(&["logs", "-n", "all", "--no-log-prefix"]);
    let out = cmd.output().expect("run torq logs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&[u8]> = out.stdout.split(|b| *b == b'\n').collect();
    let long = lines
        .iter()
        .find(|l| l.starts_with(b"xxxx"))
        .expect("the long line");
    assert_eq!(long.len(), 40_000);
    assert!(long.iter().all(|b| *b == b'x'));
    assert!(
        lines.contains(&&b"bad \xff\xfe bytes"[..]),
        "raw bytes are passed through"
    );

    // One service without -t is read without engine timestamps: the same lines.
    let long_line = vec![b'x'; 40_000];
    for (service, first) in [
        ("long", &long_line[..]),
        ("raw", &b"bad \xff\xfe bytes"[..]),
    ] {
        let mut cmd = project.torq_command(&["logs", "-n", "all", "--no-log-prefix", service]);
        let alone = cmd.output().expect("run torq logs SERVICE");
        assert!(alone.status.success());
        let got: Vec<&[u8]> = alone
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(got, [first, b"END"], "{service}");
    }
}

/// 100 INFO, 10 WARN, 5 ERROR lines on stdout, 3 ERROR lines on stderr, END.
const WORKLOAD: &str = r#"
services:
  load:
    image: {image}
    stop_grace_period: 1s
    command:
      - sh
      - -c
      - |
        i=0; while [ $$i -lt 100 ]; do echo "INFO tick $$i"; i=$$((i+1)); done
        i=0; while [ $$i -lt 10 ]; do echo "WARN slow"; i=$$((i+1)); done
        i=0; while [ $$i -lt 5 ]; do echo "ERROR failed"; i=$$((i+1)); done
        i=0; while [ $$i -lt 3 ]; do echo "ERROR on stderr" >&2; i=$$((i+1)); done
        echo END
        trap 'exit 0' TERM; while true; do sleep 0.1; done
  quiet:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
"#;

#[test]
fn stats_count_exactly() {
    let project = TestProject::new("logs-stats", WORKLOAD);
    project.torq(&["up"]).assert_code(0);
    wait_for_marker(&project, "load", "END");

    let out = project.torq(&["logs", "--stats"]);
    out.assert_code(0);
    let mut rows = out.stdout.lines();
    let header: Vec<&str> = rows.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "SERVICE", "LINES", "BYTES", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL",
            "OTHER", "STDERR", "LINES/S", "FIRST", "LAST"
        ]
    );
    let load: Vec<&str> = rows
        .clone()
        .find(|r| r.starts_with("load "))
        .expect("a row for load")
        .split_whitespace()
        .collect();
    // "INFO tick 0".."INFO tick 99": 10 + 90×2 digit lengths, plus 11 bytes each.
    let info_bytes: usize = (0..100)
        .map(|i: usize| "INFO tick ".len() + i.to_string().len() + 1)
        .sum();
    let bytes = info_bytes
        + 10 * "WARN slow\n".len()
        + 5 * "ERROR failed\n".len()
        + 3 * "ERROR on stderr\n".len()
        + "END\n".len();
    assert_eq!(load[1], "119", "lines: {}", out.stdout);
    assert_eq!(load[2], bytes.to_string(), "bytes: {}", out.stdout);
    assert_eq!(
        &load[3..11],
        ["0", "0", "100", "10", "8", "0", "1", "3"],
        "{}",
        out.stdout
    );
    let quiet: Vec<&str> = rows
        .find(|r| r.starts_with("quiet "))
        .expect("a row for quiet")
        .split_whitespace()
        .collect();
    assert_eq!(quiet[1], "0");

    // Filters apply to the statistics too.
    let out = project.torq(&["logs", "--stats", "--level", "error", "load"]);
    out.assert_code(0);
    let load: Vec<&str> = out
        .stdout
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(
        (load[0], load[1], load[7]),
        ("load", "8", "8"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_0() {
    let project = TestProject::new(
        "logs-pipe",
        r#"
services:
  chatty:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "i=0; while [ $$i -lt 20000 ]; do echo line $$i; i=$$((i+1)); done; echo END; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
"#,
    );
    project.torq(&["up"]).assert_code(0);
    wait_for_marker(&project, "chatty", "END");

    let mut cmd = project.torq_command(&["logs", "-n", "all"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn torq logs");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout); // like `| head -c 64`
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait for torq");
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.is_empty(), "a closed pipe is not an error: {stderr}");
}

#[test]
fn unknown_services_and_bad_options_are_usage_errors() {
    let project = TestProject::new(
        "logs-usage",
        r#"
services:
  web:
    image: {image}
"#,
    );
    let out = project.torq(&["logs", "nosuch"]);
    out.assert_code(1);
    assert!(out.stderr.contains("nosuch"), "{}", out.stderr);
    let out = project.torq(&["logs", "--level", "loud"]);
    out.assert_code(1);
    assert!(out.stderr.contains("loud"), "{}", out.stderr);
    // A project without containers has no logs: not an error.
    project.torq(&["logs"]).assert_code(0);
}
