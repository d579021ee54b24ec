//! Reliability against the real engine: a torq killed in the middle of its
//! work, then run again, converges whatever the dead one left in flight; an
//! attached `up` signalled at any point of its start leaves nothing behind;
//! a stalled stdout does not stall torq (`up --attach` drops lines for it,
//! `logs -f` waits for it).
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

/// `app` shares `vpn`'s network namespace (`network_mode: service:vpn`,
/// which makes it restart with `vpn`); `{extra}` goes under `vpn`.
const SHARED_NET: &str = r#"
services:
  vpn:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    environment:
      VERSION: "{version}"
{extra}
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    network_mode: service:vpn
"#;

/// A recreate of `vpn` that the engine refuses at create leaves `vpn` and
/// `app`, bound to its network namespace, both running; a good change
/// recreates `app` with it, into the new `vpn`'s namespace (the engine
/// binds `service:vpn` to the container's id at create, so a mere restart
/// would name the removed container — as docker compose, which recreates
/// it too).
#[test]
fn a_failing_recreate_leaves_what_is_bound_to_it_running() {
    let spec = |version: &str, extra: &str| {
        SHARED_NET
            .replace("{version}", version)
            .replace("{extra}", extra)
    };
    let project = TestProject::new("saferestart", &spec("1", ""));
    project.torq(&["up"]).assert_code(0);
    let before = project.containers();
    assert_eq!(before.len(), 2, "{before:#?}");

    project.write_spec(&spec("2", "    mem_limit: 4m"));
    let failed = project.torq(&["up"]);
    assert_eq!(failed.code, Some(2), "{}", failed.output());
    let after = project.containers();
    assert_eq!(after.len(), 2, "nothing temporary left:\n{after:#?}");
    for (old, now) in before.iter().zip(&after) {
        assert_eq!(old.id, now.id, "{} was replaced", now.service);
        assert_eq!(
            now.state,
            "running",
            "{} is not running:\n{}",
            now.service,
            failed.output()
        );
    }

    project.write_spec(&spec("2", ""));
    project.torq(&["up"]).assert_code(0);
    let app = project
        .containers()
        .into_iter()
        .find(|c| c.service == "app")
        .expect("app");
    assert_eq!(app.state, "running", "app recreated into the new vpn");
    assert_ne!(app.id, before[0].id, "app was recreated");
    let mac =
        |container: &str| docker_ok(&["exec", container, "cat", "/sys/class/net/eth0/address"]);
    let vpn = format!("{}-vpn-1", project.name);
    assert_eq!(
        mac(&app.name),
        mac(&vpn),
        "app shares the new vpn's network"
    );
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
    assert_eq!(
        text.matches("lost the connection").count(),
        1,
        "one message, not one per service:\n{text}"
    );
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

/// One service writes 60,000 numbered lines of about 110 bytes (more than
/// the follow's 4 MiB queue and a pipe together), then `flood-done`, then idles.
const FLOOD: &str = r#"
services:
  flood:
    image: {image}
    command: ["sh", "-c", "i=0; while [ $$i -lt 60000 ]; do i=$$((i+1)); echo flood-$$i-0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789; done; echo flood-done; {loop}"]
    stop_grace_period: 1s
"#;

/// Waits until torq's stdout writer thread (`torq-stdout`) is blocked in a
/// write to its pipe: the pipe is full and nobody reads it.
fn wait_until_stdout_blocked(torq: &std::process::Child, what: &str) {
    let tasks = format!("/proc/{}/task", torq.id());
    wait_for(what, COMMAND_DEADLINE, || {
        let entries = std::fs::read_dir(&tasks).ok()?;
        entries.flatten().find_map(|task| {
            let read = |name: &str| std::fs::read_to_string(task.path().join(name));
            let writer = read("comm").ok()?.trim() == "torq-stdout";
            (writer && read("wchan").ok()?.contains("pipe_write")).then_some(())
        })
    });
}

/// `torq logs -f | less` with `less` not scrolling: a follow whose stdout
/// is full still handles Ctrl-C at once (its writes wait on a thread of
/// their own, not on the runtime), and a reader that comes back late gets
/// every line, once and in order — the follow waited for it, dropping none.
#[test]
fn logs_follow_waits_for_a_slow_reader_and_still_handles_ctrl_c() {
    use std::io::BufRead;
    let project = TestProject::new("slowread", FLOOD);
    project.torq(&["up"]).assert_code(0);
    let container = &project.containers()[0].name;
    wait_for("the flood to be written", COMMAND_DEADLINE, || {
        docker_ok(&["logs", "--tail", "1", container])
            .contains("flood-done")
            .then_some(())
    });

    // A reader that comes back late gets everything.
    let mut cmd = project.torq_command(&["logs", "-f", "-n", "all", "--no-color"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut late = ChildGuard(cmd.spawn().expect("spawn torq logs -f"));
    let stdout = late.0.stdout.take().expect("stdout");
    wait_until_stdout_blocked(&late.0, "logs -f to fill its pipe");
    let mut numbers = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read logs -f");
        if line.contains("flood-done") {
            break;
        }
        let message = line.rsplit_once("| ").map_or(line.as_str(), |(_, m)| m);
        if let Some(n) = message
            .strip_prefix("flood-")
            .and_then(|m| m.split('-').next())
        {
            numbers.push(n.parse::<u64>().expect("a line number"));
        }
    }
    assert_eq!(numbers.len(), 60_000, "every line once");
    assert!(
        numbers.iter().copied().eq(1..=60_000),
        "in order, none twice"
    );
    drop(late);

    // A reader that never comes back: Ctrl-C still ends the follow.
    let log = project.dir.path().join("stuck.log");
    let file = std::fs::File::create(&log).expect("create stuck.log");
    let mut cmd = project.torq_command(&["logs", "-f", "-n", "all"]);
    cmd.stdout(Stdio::piped()).stderr(file);
    let mut stuck = ChildGuard(cmd.spawn().expect("spawn torq logs -f"));
    let _unread = stuck.0.stdout.take().expect("stdout");
    wait_until_stdout_blocked(&stuck.0, "logs -f to fill its pipe");
    // SAFETY: signalling our own child process by its pid.
    let rc = unsafe { libc::kill(stuck.0.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0, "cannot signal torq");
    let status = wait_for("logs -f to exit on Ctrl-C", COMMAND_DEADLINE, || {
        stuck.0.try_wait().expect("wait for torq")
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "torq:\n{text}");
    assert!(
        text.contains("stdout is still not being read"),
        "says the last lines are not shown:\n{text}"
    );
}

/// A `container_name` moved to another service: the new service's create
/// finds the name held by the old service's container. That container is
/// another service's (an orphan now), so torq leaves it running with its
/// data and fails the create, as docker compose does — it replaces only a
/// leftover of the same replica.
#[test]
fn a_name_held_by_another_service_is_left_alone() {
    let before = r#"
services:
  db:
    image: {image}
    container_name: {name}-pg
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
"#;
    let project = TestProject::new("heldname", "services: {}\n");
    let pg = format!("{}-pg", project.name);
    project.write_spec(&before.replace("{name}", &project.name));
    project.torq(&["up"]).assert_code(0);
    let id_before = docker_ok(&["inspect", "--format", "{{.Id}}", &pg]);
    project.write_spec(
        &before
            .replace("{name}", &project.name)
            .replace("  db:", "  database:"),
    );
    let result = project.torq(&["up"]);
    assert_eq!(result.code, Some(2), "{}", result.stderr);
    assert!(
        result.stderr.contains("which torq leaves alone"),
        "{}",
        result.stderr
    );
    let still = docker_ok(&["inspect", "--format", "{{.Id}} {{.State.Running}}", &pg]);
    assert_eq!(still, format!("{id_before} true"), "{}", result.stderr);
}

/// Two services counting, one numbered line every 50 ms each.
/// The last number `tag`'s container has written, read from the engine directly.
fn written_so_far(project: &TestProject, tag: &str) -> u64 {
    let container = project
        .containers()
        .into_iter()
        .find(|c| c.service == tag)
        .expect("the counter's container");
    let tail = docker_ok(&["logs", "--tail", "1", &container.name]);
    counted(&format!("| {}", tail.trim()), tag)
        .last()
        .copied()
        .unwrap_or(0)
}

/// `logs -f` through an engine that goes away and comes back: it says so
/// once, resumes every container after its last line shown, and ends with
/// Ctrl-C as usual.
#[test]
fn logs_follow_resumes_when_the_engine_comes_back() {
    let project = TestProject::new("lostlogs", COUNTERS);
    project.torq(&["up"]).assert_code(0);
    let mut proxy = EngineProxy::start();
    let mut command =
        project.torq_command(&["logs", "-f", "-n", "all", "--reconnect-timeout", "120s"]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let torq = Watched::spawn(command);
    lose_and_regain_the_engine(&mut proxy, &torq, |tag| written_so_far(&project, tag));
    let stdout = finish_after_the_return(&proxy, torq);
    for tag in ["one", "two"] {
        assert_each_once(&counted(&stdout, tag), tag, 1, &stdout);
    }
}

/// A project of [`COUNTERS`] up, and `logs -f --reconnect-timeout TIMEOUT`
/// following it through a proxy the test owns, once lines come through.
fn follow_through_a_proxy(prefix: &str, timeout: &str) -> (TestProject, EngineProxy, Watched) {
    let project = TestProject::new(prefix, COUNTERS);
    project.torq(&["up"]).assert_code(0);
    let proxy = EngineProxy::start();
    let mut command = project.torq_command(&["logs", "-f", "--reconnect-timeout", timeout]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let torq = Watched::spawn(command);
    torq.wait_for_stdout("lines on stdout", |out| {
        (!counted(out, "one").is_empty()).then_some(())
    });
    (project, proxy, torq)
}

/// How a test takes the engine away from a running torq.
enum Cut {
    /// The proxy closes: every connection breaks.
    Close,
    /// The proxy hangs: connections stay open, nothing is forwarded.
    Freeze,
}

/// Takes the engine away (`cut`) from `torq`, started with
/// `--reconnect-timeout 2s`, and checks it gives up: exit 1, the loss said
/// once, `did not come back within 2s`, no library text.
fn assert_gives_up(what: &str, mut proxy: EngineProxy, torq: Watched, cut: Cut) {
    let cut_at = Instant::now();
    match cut {
        Cut::Close => proxy.close(),
        Cut::Freeze => proxy.freeze(),
    }
    let mut torq = torq;
    let (status, _, stderr) = torq.finish();
    eprintln!(
        "{what} exited {:.1}s after the engine was taken away",
        cut_at.elapsed().as_secs_f64()
    );
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert_eq!(stderr.matches(&lost_message(&proxy)).count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the Docker engine at {} did not come back within 2s",
            proxy.docker_host()
        )),
        "{stderr}"
    );
    for raw in ["hyper", "client error"] {
        assert!(!stderr.contains(raw), "library text {raw:?} in:\n{stderr}");
    }
}

/// `logs -f` whose engine does not come back within `--reconnect-timeout`
/// exits 1, having said once that it lost the engine, and that it gave up.
#[test]
fn logs_follow_exits_1_when_the_engine_stays_away() {
    let (_project, proxy, torq) = follow_through_a_proxy("gonelogs", "2s");
    assert_gives_up("logs -f", proxy, torq, Cut::Close);
}

/// An engine that hangs — every connection stays open, nothing comes back,
/// no stream ends — is noticed by the follow's own ping, not by a TCP
/// timeout: `logs -f` says it lost the engine and, with a short
/// `--reconnect-timeout`, exits 1.
#[test]
fn logs_follow_notices_a_hung_engine() {
    let (_project, proxy, torq) = follow_through_a_proxy("hunglogs", "2s");
    assert_gives_up("logs -f (hung engine)", proxy, torq, Cut::Freeze);
}

/// With `--reconnect-timeout 0`, `logs -f` exits 1 at once with the one
/// message naming the engine.
#[test]
fn logs_follow_with_no_reconnect_timeout_exits_at_once() {
    let (_project, mut proxy, mut torq) = follow_through_a_proxy("gonelogs0", "0");
    proxy.close();
    let (status, _, stderr) = torq.finish();
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert_eq!(stderr.matches(&lost_message(&proxy)).count(), 1, "{stderr}");
    assert!(!stderr.contains("waiting up to"), "{stderr}");
}

/// An attached `up` through an engine that goes away and comes back: the
/// logs resume with every line once, and SIGTERM still takes the project
/// down.
#[test]
fn attached_up_resumes_when_the_engine_comes_back() {
    let project = TestProject::new("lostattach", COUNTERS);
    let mut proxy = EngineProxy::start();
    let mut command = project.torq_command(&["up", "--attach", "--reconnect-timeout", "120s"]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let mut torq = Watched::spawn(command);
    torq.wait_for_stderr("attached to project");
    lose_and_regain_the_engine(&mut proxy, &torq, |tag| written_so_far(&project, tag));
    torq.signal(libc::SIGTERM);
    let (status, stdout, stderr) = torq.finish();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(stderr.matches(&lost_message(&proxy)).count(), 1, "{stderr}");
    for tag in ["one", "two"] {
        assert_each_once(&counted(&stdout, tag), tag, 1, &stdout);
    }
    let left = project.containers();
    assert!(left.is_empty(), "{left:#?}");
}

/// Three services that each print 3,000 lines and a last one when stopped.
const LAST_WORDS: &str = r#"
x-talker: &talker
  image: {image}
  command: ["sh", "-c", "trap 'i=0; while [ $$i -lt 3000 ]; do echo $$TAG-bye-$$i; i=$$((i+1)); done; echo $$TAG-last; exit 0' TERM; echo $$TAG-ready; while true; do sleep 0.1; done"]
  stop_grace_period: 10s
services:
  one: { <<: *talker, environment: { TAG: one } }
  two: { <<: *talker, environment: { TAG: two } }
  three: { <<: *talker, environment: { TAG: three } }
"#;

/// After SIGTERM ends an attached `up`, each container's log is read until
/// its stream ends: every line the services print as they stop (3,000 each,
/// then a last one, more than a follower reads before the `down` removes
/// its container) is in the output.
#[test]
fn an_attached_up_shows_every_last_line_of_its_down() {
    let project = TestProject::new("lastwords", LAST_WORDS);
    let mut torq = Watched::spawn(project.torq_command(&["up", "--attach"]));
    torq.wait_for_stderr("attached to project");
    for tag in ["one", "two", "three"] {
        let ready = format!("{tag}-ready");
        torq.wait_for_stdout(&ready, |out| out.contains(&ready).then_some(()));
    }
    torq.signal(libc::SIGTERM);
    let (status, stdout, stderr) = torq.finish();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    let shown: std::collections::HashSet<&str> = stdout
        .lines()
        .filter_map(|line| Some(line.rsplit_once("| ")?.1.trim()))
        .collect();
    for tag in ["one", "two", "three"] {
        let missing: Vec<String> = (0..3000)
            .map(|i| format!("{tag}-bye-{i}"))
            .chain([format!("{tag}-last")])
            .filter(|line| !shown.contains(line.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {tag}'s last lines missing, from {:?}",
            missing.len(),
            missing.first()
        );
    }
    assert!(project.containers().is_empty());
}

/// `status` whose engine goes away as it lists the project's containers:
/// one message naming the engine, exit 1.
#[test]
fn status_that_loses_the_engine_says_so_once() {
    let project = TestProject::new("loststatus", COUNTERS);
    project.torq(&["up"]).assert_code(0);
    let proxy = EngineProxy::close_on("/containers/json");
    let mut command = project.torq_command(&["status"]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let result = run_with_deadline(command, COMMAND_DEADLINE);
    assert_lost_once(&result, &proxy);
}

/// `down` whose engine goes away as it stops the containers: one message
/// naming the engine (not a failure per container), exit 1, and the
/// containers are left as they were.
#[test]
fn down_that_loses_the_engine_says_so_once() {
    let project = TestProject::new("lostdown", COUNTERS);
    project.torq(&["up"]).assert_code(0);
    let proxy = EngineProxy::close_on("/stop");
    let mut command = project.torq_command(&["down"]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let result = run_with_deadline(command, COMMAND_DEADLINE);
    assert_lost_once(&result, &proxy);
    let left = project.containers();
    assert_eq!(left.len(), 2, "{left:#?}");
}

/// `logs` (no `-f`) whose engine goes away as it reads the containers'
/// logs: one message naming the engine, exit 1, not a warning per
/// container whose log ended early.
#[test]
fn logs_that_lose_the_engine_say_so_once() {
    let project = TestProject::new("lostread", COUNTERS);
    project.torq(&["up"]).assert_code(0);
    let proxy = EngineProxy::close_on("/logs?");
    let mut command = project.torq_command(&["logs"]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let result = run_with_deadline(command, COMMAND_DEADLINE);
    assert_lost_once(&result, &proxy);
    assert!(
        !result.output().contains("ended early"),
        "{}",
        result.output()
    );
}

/// One service that idles.
const ONE: &str = r#"
services:
  one:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
"#;

/// A project of [`ONE`] up, and `torq ARGS…` spawned through a proxy the
/// test owns (its `DOCKER_HOST`). Returns the container's name too.
fn one_through_a_proxy(prefix: &str, args: &[&str]) -> (TestProject, EngineProxy, Watched, String) {
    let project = TestProject::new(prefix, ONE);
    project.torq(&["up"]).assert_code(0);
    let container = project.containers()[0].name.clone();
    let proxy = EngineProxy::start();
    let mut command = project.torq_command(args);
    command.env("DOCKER_HOST", proxy.docker_host());
    let torq = Watched::spawn(command);
    (project, proxy, torq, container)
}

/// A project of [`ONE`] up, and `events --json --reconnect-timeout
/// TIMEOUT` through a proxy the test owns, once an event comes through
/// (the subscription starts some time after the spawn: the container is
/// sent SIGWINCH, which it ignores, until its `kill` event shows). Returns
/// the container's name too.
fn events_through_a_proxy(
    prefix: &str,
    timeout: &str,
) -> (TestProject, EngineProxy, Watched, String) {
    let args = ["events", "--json", "--reconnect-timeout", timeout];
    let (project, proxy, torq, container) = one_through_a_proxy(prefix, &args);
    wait_for("an event through the proxy", COMMAND_DEADLINE, || {
        docker_ok(&["kill", "--signal", "WINCH", &container]);
        torq.stdout().contains("\"action\":\"kill\"").then_some(())
    });
    (project, proxy, torq, container)
}

/// The actions of the event lines `events --json` wrote, each line checked
/// to be there once.
fn event_actions(stdout: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    stdout
        .lines()
        .map(|line| {
            assert!(seen.insert(line), "an event shown twice: {line}");
            let event: serde_json::Value = serde_json::from_str(line).expect("an event line");
            event["action"].as_str().expect("an action").to_string()
        })
        .collect()
}

/// `events` through an engine that goes away and comes back: it says so
/// once, and resumes from the last event shown — the container paused and
/// unpaused while the engine was away shows once each, and no event before
/// the loss shows twice.
#[test]
fn events_resume_when_the_engine_comes_back() {
    let (_project, mut proxy, torq, container) = events_through_a_proxy("lostevents", "120s");
    lose_the_engine_while(&mut proxy, &torq, || {
        docker_ok(&["pause", &container]);
        docker_ok(&["unpause", &container]);
    });
    torq.wait_for_stdout("the unpause made while away", |out| {
        out.contains("\"action\":\"unpause\"").then_some(())
    });
    let stdout = finish_after_the_return(&proxy, torq);
    let actions = event_actions(&stdout);
    for away in ["pause", "unpause"] {
        let shown = actions.iter().filter(|a| *a == away).count();
        assert_eq!(shown, 1, "{away} shown {shown} times:\n{stdout}");
    }
}

/// `events` whose engine does not come back within `--reconnect-timeout`
/// exits 1, having said once that it lost the engine, and that it gave up.
#[test]
fn events_exit_1_when_the_engine_stays_away() {
    let (_project, proxy, torq, _) = events_through_a_proxy("goneevents", "2s");
    assert_gives_up("events", proxy, torq, Cut::Close);
}

/// A project of [`ONE`] up, and `status --watch --reconnect-timeout
/// TIMEOUT` (a line per change, no terminal) through a proxy the test
/// owns, once it shows the service running. Returns the container's name too.
fn status_watch_through_a_proxy(
    prefix: &str,
    timeout: &str,
) -> (TestProject, EngineProxy, Watched, String) {
    let args = ["status", "--watch", "--reconnect-timeout", timeout];
    let (project, proxy, torq, container) = one_through_a_proxy(prefix, &args);
    torq.wait_for_stdout("the service running", |out| {
        out.contains("one ● RUNNING").then_some(())
    });
    (project, proxy, torq, container)
}

/// `status --watch` through an engine that goes away and comes back: it
/// says so once, and the view goes on — a pause made while the engine was
/// away shows once it answers again.
#[test]
fn status_watch_resumes_when_the_engine_comes_back() {
    let (_project, mut proxy, torq, container) =
        status_watch_through_a_proxy("loststatusw", "120s");
    lose_the_engine_while(&mut proxy, &torq, || {
        docker_ok(&["pause", &container]);
    });
    torq.wait_for_stdout("the pause made while away", |out| {
        out.contains("one ‖ PAUSED").then_some(())
    });
    finish_after_the_return(&proxy, torq);
}

/// `status --watch` on a terminal through an engine that goes away and
/// comes back: the loss and the return are notes on the live view itself —
/// the return under the first frame drawn after it (the one showing the
/// pause made while away) — where a note printed beside the view would be
/// overwritten by that frame.
#[test]
fn status_watch_on_a_terminal_keeps_the_loss_on_the_view() {
    let project = TestProject::new("loststatustty", ONE);
    project.torq(&["up"]).assert_code(0);
    let container = project.containers()[0].name.clone();
    let mut proxy = EngineProxy::start();
    let pty = Pty::open();
    let screen = pty.screen();
    let mut command = project.torq_command(&["status", "--watch", "--reconnect-timeout", "120s"]);
    command
        .env("DOCKER_HOST", proxy.docker_host())
        .stdin(pty.stdio())
        .stdout(pty.stdio())
        .stderr(pty.stdio());
    let mut child = ChildGuard(command.spawn().expect("spawn status --watch"));
    let mut seen = String::new();
    expect_screen(&screen, &mut seen, "● RUNNING");
    proxy.close();
    expect_screen(
        &screen,
        &mut seen,
        "warning: lost the connection to the Docker engine",
    );
    docker_ok(&["pause", &container]);
    proxy.reopen();
    expect_screen(&screen, &mut seen, "‖ PAUSED");
    expect_screen(&screen, &mut seen, "answers again");
    let after_pause = &seen[seen.rfind("‖ PAUSED").expect("the paused frame")..];
    let frame_end = after_pause.find("\x1b[H").unwrap_or(after_pause.len());
    assert!(
        after_pause[..frame_end].contains("answers again: the view resumes"),
        "the return is not on the frame that shows the pause:\n{seen:?}"
    );
    let pid = rustix::process::Pid::from_raw(child.0.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("Ctrl-C");
    let status = wait_for("status --watch to end", COMMAND_DEADLINE, || {
        child.0.try_wait().expect("try_wait")
    });
    assert_eq!(status.code(), Some(0));
    docker_ok(&["unpause", &container]);
}

/// `status --watch` whose engine does not come back within
/// `--reconnect-timeout` exits 1, having said once that it lost the engine,
/// and that it gave up.
#[test]
fn status_watch_exits_1_when_the_engine_stays_away() {
    let (_project, proxy, torq, _) = status_watch_through_a_proxy("gonestatusw", "2s");
    assert_gives_up("status --watch", proxy, torq, Cut::Close);
}

/// An engine that hangs under `status --watch` (every connection stays
/// open, nothing comes back) is noticed by its ping: it says it lost the
/// engine and, with a short `--reconnect-timeout`, exits 1.
#[test]
fn status_watch_notices_a_hung_engine() {
    let (_project, proxy, torq, _) = status_watch_through_a_proxy("hungstatusw", "2s");
    assert_gives_up("status --watch (hung engine)", proxy, torq, Cut::Freeze);
}

/// The same for `events`.
#[test]
fn events_notice_a_hung_engine() {
    let (_project, proxy, torq, _) = events_through_a_proxy("hungevents", "2s");
    assert_gives_up("events (hung engine)", proxy, torq, Cut::Freeze);
}
