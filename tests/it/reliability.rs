//! Reliability against the real engine: a torq killed in the middle of its
//! work, then run again, converges whatever the dead one left in flight; an
//! attached `up` signalled at any point of its start leaves nothing behind;
//! a stalled stdout does not stall torq.
//! Every test has its own project, removed by a guard even on failure.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// Eight services in the Torq stack's dependency shape (three levels), no
/// healthchecks so a trial stays short; `{trial}` changes the environment,
/// so a trial after another recreates every container.
const EIGHT: &str = r#"
x-svc: &svc
  image: {image}
  command: ["sh", "-c", "{loop}"]
  stop_grace_period: 1s
  environment:
    TRIAL: "{trial}"
services:
  market: *svc
  signal: *svc
  execution: *svc
  polygon: { <<: *svc, depends_on: [market] }
  kraken: { <<: *svc, depends_on: [market] }
  coinbase: { <<: *svc, depends_on: [market] }
  arbitrage: { <<: *svc, depends_on: [polygon, signal, execution] }
  dashboard: { <<: *svc, depends_on: [market, signal, execution] }
"#;

/// `kill -9` an `up` at a sweep of points of its work, then `up` again at
/// once: the second `up` must converge every time (exit 0, exactly one
/// running container per service), whether the killed one was creating or
/// recreating, and whatever of its requests were still in the engine.
#[test]
fn up_after_a_killed_up_converges_at_every_kill_point() {
    // The last killed `up`'s requests may land after the test: the guard
    // sweeps until the project stayed empty for a while.
    let project =
        TestProject::new("killup", &EIGHT.replace("{trial}", "0")).settling(Duration::from_secs(3));
    let started = Instant::now();
    let delays_ms = [10u64, 40, 70, 100, 130, 160, 200, 260, 330, 420, 550, 700];
    for (trial, delay) in delays_ms.iter().enumerate() {
        if trial % 3 == 0 {
            project.torq(&["down"]).assert_code(0);
        }
        project.write_spec(&EIGHT.replace("{trial}", &trial.to_string()));
        let mut killed = ChildGuard(project.torq_command(&["up"]).spawn().expect("spawn up"));
        std::thread::sleep(Duration::from_millis(*delay));
        let _ = killed.0.kill();
        let _ = killed.0.wait();
        let again = project.torq(&["up"]);
        assert_eq!(
            again.code,
            Some(0),
            "trial {trial} (kill after {delay} ms): up did not converge:\n{}",
            again.output()
        );
        let containers = project.containers();
        let mut services: Vec<&str> = containers.iter().map(|c| c.service.as_str()).collect();
        services.sort_unstable();
        assert_eq!(
            services,
            [
                "arbitrage",
                "coinbase",
                "dashboard",
                "execution",
                "kraken",
                "market",
                "polygon",
                "signal"
            ],
            "trial {trial} (kill after {delay} ms): one container per service:\n{containers:#?}"
        );
        assert!(
            containers.iter().all(|c| c.state == "running"),
            "trial {trial} (kill after {delay} ms): all running:\n{containers:#?}"
        );
    }
    eprintln!(
        "{} kill points converged in {:.1}s",
        delays_ms.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Seven services in three levels on two networks (the default one and
/// `back`), no healthchecks: an attached `up` of it spends its first second
/// or so creating networks, creating containers and starting them.
const SEVEN: &str = r#"
x-svc: &svc
  image: {image}
  command: ["sh", "-c", "{loop}"]
  stop_grace_period: 1s
services:
  market: *svc
  signal: *svc
  execution: { <<: *svc, networks: [default, back] }
  polygon: { <<: *svc, depends_on: [market] }
  kraken: { <<: *svc, depends_on: [market], networks: [back] }
  arbitrage: { <<: *svc, depends_on: [polygon, signal, execution] }
  dashboard: { <<: *svc, depends_on: [market, kraken] }
networks:
  back: {}
"#;

/// Ctrl-C or SIGTERM at a sweep of points of an attached `up`'s start
/// (before the handlers are installed, during the network and container
/// creates, during the starts, once attached): after torq exits, the
/// project has nothing left — no container, network or volume with its
/// label — every time. A create the engine finishes after the signal must
/// not escape the `down`.
#[test]
fn a_signal_during_an_attached_up_leaves_nothing_at_every_point() {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    let delays_ms: Vec<u64> = (0..=780).step_by(60).collect();
    let mut table = Vec::new();
    for (trial, delay) in delays_ms.iter().enumerate() {
        let project = TestProject::new("sigup", SEVEN);
        let (signal, name) = if trial % 2 == 0 {
            (libc::SIGINT, "SIGINT")
        } else {
            (libc::SIGTERM, "SIGTERM")
        };
        let log = project.dir.path().join("up.log");
        let file = std::fs::File::create(&log).expect("create up.log");
        let mut cmd = project.torq_command(&["up", "--attach"]);
        cmd.stdout(Stdio::null()).stderr(file);
        let mut up = ChildGuard(cmd.spawn().expect("spawn up --attach"));
        std::thread::sleep(Duration::from_millis(*delay));
        // SAFETY: signalling our own child process by its pid.
        let rc = unsafe { libc::kill(up.0.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "cannot signal torq");
        let status = wait_for("torq to exit after the signal", COMMAND_DEADLINE, || {
            up.0.try_wait().expect("wait for torq")
        });
        let text = std::fs::read_to_string(&log).expect("read up.log");
        let left = project_objects(&project.name);
        assert!(
            left.is_empty(),
            "trial {trial} ({name} after {delay} ms): left behind {left:#?}\ntorq:\n{text}"
        );
        // Before torq watches for signals the default action ends it; after,
        // it ends by itself, with exit 0.
        let caught = status.code().is_some();
        assert!(
            status.code() == Some(0) || status.signal() == Some(signal),
            "trial {trial} ({name} after {delay} ms): {status:?}\ntorq:\n{text}"
        );
        table.push(format!(
            "{delay:>4} ms {name:<7} {}: {}",
            if caught { "handled" } else { "default" },
            removed_summary(&text)
        ));
    }
    eprintln!(
        "{} signals, nothing left after any, in {:.1}s:\n{}",
        delays_ms.len(),
        started.elapsed().as_secs_f64(),
        table.join("\n")
    );
}

/// What the closing `down` said it removed (its summary line), or what
/// else ended the session.
fn removed_summary(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.contains("removed ") || l.contains("nothing to do"))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "no down (ended before it started anything)".into())
}

const KEEPER: &str = r#"
services:
  keeper:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    volumes: ["/data"]
    environment:
      VERSION: "{version}"
{extra}
"#;

fn keeper(version: &str, extra: &str) -> String {
    KEEPER
        .replace("{version}", version)
        .replace("{extra}", extra)
}

/// A recreate whose create fails (the engine refuses a 4 MB memory limit at
/// create) leaves the old container running, with its anonymous volume and
/// its data; the next good `up` replaces it, carries the data over, and
/// leaves no temporary container behind.
#[test]
fn a_failing_recreate_leaves_the_old_container_running_with_its_volume() {
    let project = TestProject::new("saferecreate", &keeper("1", ""));
    project.torq(&["up"]).assert_code(0);
    let old = project.containers();
    assert_eq!(old.len(), 1, "{old:#?}");
    docker_ok(&["exec", &old[0].name, "sh", "-c", "echo kept > /data/mark"]);

    project.write_spec(&keeper("2", "    mem_limit: 4m"));
    let failed = project.torq(&["up"]);
    assert_eq!(failed.code, Some(2), "{}", failed.output());
    assert!(
        failed.output().contains("Minimum memory limit"),
        "the engine's reason is shown:\n{}",
        failed.output()
    );
    let after = project.containers();
    assert_eq!(
        after.len(),
        1,
        "no temporary container is left:\n{after:#?}"
    );
    assert_eq!(after[0].id, old[0].id, "the old container stays");
    assert_eq!(after[0].state, "running", "{after:#?}");
    let mark = docker_ok(&["exec", &old[0].name, "cat", "/data/mark"]);
    assert_eq!(mark.trim(), "kept");

    project.write_spec(&keeper("2", ""));
    project.torq(&["up"]).assert_code(0);
    let replaced = project.containers();
    assert_eq!(replaced.len(), 1, "{replaced:#?}");
    assert_ne!(replaced[0].id, old[0].id, "recreated");
    assert_eq!(replaced[0].name, old[0].name, "under the final name");
    let mark = docker_ok(&["exec", &replaced[0].name, "cat", "/data/mark"]);
    assert_eq!(mark.trim(), "kept", "the anonymous volume was taken over");
}

/// `gate` never becomes healthy, so `up` is still waiting on it (with `late`
/// not yet created) when the test takes the engine away.
const GATED: &str = r#"
services:
  gate:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1000
  late:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on:
      gate: { condition: service_healthy }
"#;

/// The engine going away during `up` is one engine error (exit 1, naming the
/// socket), not a per-service list of transport failures, and no library
/// text reaches the user.
#[test]
fn up_that_loses_the_engine_says_so_once() {
    let project = TestProject::new("lostup", GATED);
    let mut proxy = EngineProxy::start();
    let mut cmd = project.torq_command(&["up", "--wait-timeout", "60"]);
    let log = project.dir.path().join("up.log");
    let file = std::fs::File::create(&log).expect("create up.log");
    cmd.env("DOCKER_HOST", proxy.docker_host())
        .stdout(file.try_clone().expect("clone up.log"))
        .stderr(file);
    let mut up = ChildGuard(cmd.spawn().expect("spawn up"));
    wait_for("the first container", Duration::from_secs(60), || {
        (!project.containers().is_empty()).then_some(())
    });
    proxy.close();
    let status = up.0.wait().expect("wait for up");
    let text = std::fs::read_to_string(&log).expect("read up.log");
    assert_eq!(status.code(), Some(1), "up:\n{text}");
    let message = format!(
        "lost the connection to the Docker engine at {}",
        proxy.docker_host()
    );
    assert_eq!(text.matches(&message).count(), 1, "up:\n{text}");
    for raw in ["hyper", "client error", "Connect"] {
        assert!(!text.contains(raw), "library text {raw:?} in:\n{text}");
    }
}

/// A service that writes log lines as fast as it can, and one that idles.
const CHATTY: &str = r#"
services:
  chatty:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do echo chatty-line-0123456789-0123456789-0123456789-0123456789-0123456789; done"]
    stop_grace_period: 1s
  idle:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
"#;

/// `torq up --attach | less` with `less` not scrolling: stdout is a pipe
/// nobody reads. torq says it drops lines, and a SIGTERM still ends the
/// session with a graceful `down` that removes everything (a torq writing
/// on its one runtime thread would block in the write and never see it).
#[test]
fn a_stalled_stdout_does_not_stall_an_attached_up() {
    let project = TestProject::new("stalled", CHATTY);
    let log = project.dir.path().join("up.log");
    let file = std::fs::File::create(&log).expect("create up.log");
    let mut cmd = project.torq_command(&["up", "--attach"]);
    cmd.stdout(Stdio::piped()).stderr(file);
    let mut up = ChildGuard(cmd.spawn().expect("spawn up --attach"));
    // Held open and never read, like a pager that does not scroll.
    let _unread = up.0.stdout.take().expect("stdout pipe");
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("torq to say stdout is not read", COMMAND_DEADLINE, || {
        stderr().contains("stdout is not being read").then_some(())
    });
    // SAFETY: signalling our own child process by its pid.
    let rc = unsafe { libc::kill(up.0.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0, "cannot signal torq");
    let status = wait_for("torq to exit after SIGTERM", COMMAND_DEADLINE, || {
        up.0.try_wait().expect("wait for torq")
    });
    let text = stderr();
    assert_eq!(status.code(), Some(0), "torq:\n{text}");
    assert!(text.contains("SIGTERM: stopping project"), "{text}");
    assert_eq!(
        text.matches("stdout is not being read").count(),
        1,
        "said once:\n{text}"
    );
    let left = project_objects(&project.name);
    assert!(left.is_empty(), "left behind {left:#?}\ntorq:\n{text}");
}

/// `torq logs -f | head -c 64`: once the reader is gone, `logs -f` ends
/// quietly with exit 0 at its next write, rather than writing on (spinning)
/// into a closed pipe.
#[test]
fn logs_follow_into_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let project = TestProject::new("followpipe", CHATTY);
    project.torq(&["up"]).assert_code(0);
    let mut cmd = project.torq_command(&["logs", "-f"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().expect("spawn torq logs -f"));
    let mut stdout = child.0.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = wait_for("logs -f to exit", COMMAND_DEADLINE, || {
        child.0.try_wait().expect("wait for torq")
    });
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.is_empty(), "a closed pipe is not an error: {stderr}");
}
