//! `torq up` against the real engine: start order, health gating (with and
//! without fast health), failure handling and exit codes, idempotence,
//! recreation of exactly the changed service, concurrent `up`, dry run.
//! Every test has its own project, removed by a guard even on failure.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::*;

/// a ← b ← c, a ← d: levels [a], [b, d], [c].
const LEVELS: &str = r#"
services:
  a:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
  b:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on: [a]
  c:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on:
      b:
        condition: service_started
  d:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on: [a]
"#;

fn ids_by_service(project: &TestProject) -> HashMap<String, String> {
    project
        .containers()
        .into_iter()
        .map(|c| (c.service.clone(), c.id.clone()))
        .collect()
}

#[test]
fn start_order_follows_the_dependency_levels() {
    let project = TestProject::new("levels", LEVELS);
    let since = now_epoch_secs();
    project.torq(&["up"]).assert_code(0);
    let events = project_events(&project.name, since, now_epoch_secs());
    let start = |service: &str| {
        first_event(&events, service, "start")
            .unwrap_or_else(|| panic!("no start event for {service}: {events:#?}"))
            .time_nano
    };
    for (service, dependency) in [("b", "a"), ("c", "b"), ("d", "a")] {
        assert!(
            start(dependency) < start(service),
            "{service} started before its dependency {dependency}"
        );
    }
    let rows = project.containers();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.state == "running"), "{rows:#?}");
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&format!("{}-c-1", project.name).as_str()),
        "{names:?}"
    );
}

/// db turns ready after a moment; api waits for it to be healthy.
const HEALTH_GATED: &str = r#"
services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 0.5; touch /ready; while true; do sleep 0.1; done"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD-SHELL", "test -f /ready"]
      interval: 1s
      retries: 30
  api:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on:
      db:
        condition: service_healthy
"#;

#[test]
fn health_gated_dependent_starts_after_the_engine_reports_healthy() {
    let project = TestProject::new("gate-engine", HEALTH_GATED);
    let since = now_epoch_secs();
    project.torq(&["up", "--no-fast-health"]).assert_code(0);
    let events = project_events(&project.name, since, now_epoch_secs());
    let healthy = first_event(&events, "db", "health_status: healthy")
        .unwrap_or_else(|| panic!("db never reported healthy: {events:#?}"));
    let api_start = first_event(&events, "api", "start").expect("api started");
    assert!(
        healthy.time_nano < api_start.time_nano,
        "api started before db was healthy"
    );
}

#[test]
fn fast_health_gates_on_the_healthcheck_test_before_the_engine_runs_it() {
    // The engine would run its first check only after 60 s; torq's own
    // probes of the same test gate api long before.
    let spec = HEALTH_GATED.replace("interval: 1s", "interval: 60s");
    let project = TestProject::new("gate-fast", &spec);
    let since = now_epoch_secs();
    project.torq(&["up"]).assert_code(0);
    let events = project_events(&project.name, since, now_epoch_secs());
    let api_start = first_event(&events, "api", "start").expect("api started");
    let passed = events_of(&events, "db", "exec_die")
        .into_iter()
        .find(|e| e.exit_code == Some(0))
        .unwrap_or_else(|| panic!("no passing healthcheck run of db: {events:#?}"));
    assert!(passed.time_nano < api_start.time_nano);
    assert!(
        events_of(&events, "db", "health_status").is_empty(),
        "the engine ran its own check already: {events:#?}"
    );
}

/// crash exits at once; its health-gated dependent must never start; the
/// independent service is started, waited for, and healthy.
const CRASH: &str = r#"
services:
  crash:
    image: {image}
    command: ["sh", "-c", "echo crash-marker-last-line; exit 3"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  dependent:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on:
      crash:
        condition: service_healthy
  independent:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
"#;

#[test]
fn a_crash_fails_with_exit_2_skips_dependents_and_spares_the_rest() {
    let project = TestProject::new("crash", CRASH);
    let since = now_epoch_secs();
    let result = project.torq(&["up"]);
    result.assert_code(2);
    let output = result.output();
    assert!(output.contains("crash-marker-last-line"), "{output}");
    assert!(output.contains("exited with code 3"), "{output}");
    assert!(output.contains("dependent skipped"), "{output}");
    let events = project_events(&project.name, since, now_epoch_secs());
    assert!(
        first_event(&events, "dependent", "start").is_none(),
        "the dependent was started: {events:#?}"
    );
    wait_for("independent to be healthy", Duration::from_secs(30), || {
        project
            .containers()
            .into_iter()
            .find(|c| c.service == "independent" && c.state == "running" && c.is_healthy())
    });
}

#[test]
fn optional_dependency_failure_is_a_warning() {
    let project = TestProject::new(
        "optional",
        r#"
services:
  flaky:
    image: {image}
    command: ["sh", "-c", "exit 1"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on:
      flaky:
        condition: service_healthy
        required: false
"#,
    );
    let result = project.torq(&["up"]);
    // flaky itself failed (exit 2), but app started anyway with a warning.
    result.assert_code(2);
    assert!(
        result.output().contains("optional dependency flaky"),
        "{}",
        result.output()
    );
    let app = project
        .containers()
        .into_iter()
        .find(|c| c.service == "app")
        .expect("app");
    assert_eq!(app.state, "running");
}

#[test]
fn completed_successfully_gates_on_exit_code_zero() {
    let project = TestProject::new(
        "completed",
        r#"
services:
  migrate:
    image: {image}
    command: ["sh", "-c", "sleep 0.3; echo migrated"]
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on:
      migrate:
        condition: service_completed_successfully
"#,
    );
    let since = now_epoch_secs();
    project.torq(&["up"]).assert_code(0);
    let events = project_events(&project.name, since, now_epoch_secs());
    let died = first_event(&events, "migrate", "die").expect("migrate exited");
    assert_eq!(died.exit_code, Some(0));
    let app_start = first_event(&events, "app", "start").expect("app started");
    assert!(died.time_nano < app_start.time_nano);
}

#[test]
fn a_second_up_changes_nothing() {
    let project = TestProject::new("idempotent", LEVELS);
    project.torq(&["up"]).assert_code(0);
    let before = ids_by_service(&project);
    let since = now_epoch_secs();
    let second = project.torq(&["up"]);
    second.assert_code(0);
    let events = project_events(&project.name, since, now_epoch_secs());
    let changes: Vec<&EngineEvent> = events
        .iter()
        .filter(|e| ["create", "start", "stop", "kill", "destroy"].contains(&e.action.as_str()))
        .collect();
    assert!(
        changes.is_empty(),
        "the second up changed something: {changes:#?}"
    );
    assert_eq!(ids_by_service(&project), before);
    assert!(second.stderr.contains("unchanged"), "{}", second.stderr);
}

/// Three services gated on one healthy service, all sharing one
/// environment (`{version}` changes every container's configuration).
const GATED: &str = r#"
x-svc: &svc
  image: {image}
  command: ["sh", "-c", "{loop}"]
  stop_grace_period: 1s
  environment:
    VERSION: "{version}"
services:
  hub:
    <<: *svc
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  one: { <<: *svc, depends_on: { hub: { condition: service_healthy } } }
  two: { <<: *svc, depends_on: { hub: { condition: service_healthy } } }
  three: { <<: *svc, depends_on: { hub: { condition: service_healthy } } }
"#;

/// A change to every service recreates each one under its own name: the
/// plan's reordering keeps every rename pointed at its own new container
/// (it once renamed the removed old one, failing with "No such container").
#[test]
fn changing_every_service_recreates_each_under_its_name() {
    let project = TestProject::new("recreate-all", &GATED.replace("{version}", "1"));
    project.torq(&["up"]).assert_code(0);
    let before = ids_by_service(&project);
    project.write_spec(&GATED.replace("{version}", "2"));
    let result = project.torq(&["up"]);
    result.assert_code(0);
    let containers = project.containers();
    let mut names: Vec<String> = containers.iter().map(|c| c.name.clone()).collect();
    names.sort();
    let expected: Vec<String> = ["hub", "one", "three", "two"]
        .iter()
        .map(|s| format!("{}-{s}-1", project.name))
        .collect();
    assert_eq!(names, expected, "{}", result.stderr);
    for c in &containers {
        assert_eq!(c.state, "running", "{c:?}");
        assert_ne!(before[&c.service], c.id, "{} was not recreated", c.service);
    }
}

#[test]
fn changing_one_environment_recreates_only_that_service() {
    let project = TestProject::new("recreate", LEVELS);
    project.torq(&["up"]).assert_code(0);
    let before = ids_by_service(&project);
    let changed = LEVELS.replace(
        "    depends_on: [a]\n  c:",
        "    depends_on: [a]\n    environment:\n      MODE: changed\n  c:",
    );
    assert_ne!(changed, LEVELS);
    project.write_spec(&changed);
    let result = project.torq(&["up"]);
    result.assert_code(0);
    let after = ids_by_service(&project);
    assert_ne!(before["b"], after["b"], "b was not recreated");
    for service in ["a", "c", "d"] {
        assert_eq!(before[service], after[service], "{service} was recreated");
    }
    assert!(
        result.stderr.contains("configuration changed"),
        "{}",
        result.stderr
    );
    // A replacement reads as one `recreating … recreated`, as in compose:
    // the old container's stop and removal are not lines of their own.
    let b_lines: Vec<&str> = result
        .stderr
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("b"))
        .collect();
    assert!(
        b_lines.iter().any(|l| l.contains("recreated")),
        "{b_lines:#?}"
    );
    for hidden in ["stopping", "stopped", "removing", "removed", "creating"] {
        assert!(
            !b_lines
                .iter()
                .any(|l| l.split_whitespace().nth(1) == Some(hidden)),
            "`{hidden}` shown for a replacement: {b_lines:#?}"
        );
    }
    assert_eq!(project.containers().len(), 4);
}

#[test]
fn stale_containers_are_replaced_and_the_user_is_told() {
    let project = TestProject::new("stale", LEVELS);
    project.torq(&["up"]).assert_code(0);
    let before = ids_by_service(&project);
    docker_ok(&["stop", "-t", "1", &format!("{}-d-1", project.name)]);
    let result = project.torq(&["up"]);
    result.assert_code(0);
    assert!(
        result.stderr.contains("stale container (exited"),
        "{}",
        result.stderr
    );
    let after = ids_by_service(&project);
    assert_ne!(before["d"], after["d"]);
    assert_eq!(before["a"], after["a"]);
    assert!(project.containers().iter().all(|c| c.state == "running"));
}

#[test]
fn concurrent_ups_leave_one_container_per_service() {
    let project = TestProject::new("concurrent", LEVELS);
    let first = project.torq_command(&["up"]);
    let second = project.torq_command(&["up"]);
    let a = std::thread::spawn(move || run_with_deadline(first, COMMAND_DEADLINE));
    let b = std::thread::spawn(move || run_with_deadline(second, COMMAND_DEADLINE));
    let (a, b) = (a.join().expect("first up"), b.join().expect("second up"));
    a.assert_code(0);
    b.assert_code(0);
    let rows = project.containers();
    let mut services: Vec<&str> = rows.iter().map(|r| r.service.as_str()).collect();
    services.sort();
    assert_eq!(services, vec!["a", "b", "c", "d"], "{rows:#?}");
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let project = TestProject::new("dryrun", LEVELS);
    let result = project.torq(&["up", "--dry-run"]);
    result.assert_code(0);
    assert!(
        result
            .stdout
            .contains(&format!("create container {}-c-1", project.name)),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("create network"),
        "{}",
        result.stdout
    );
    assert!(project.containers().is_empty());
    let filter = format!("label={PROJECT_LABEL}={}", project.name);
    assert_eq!(docker_ok(&["network", "ls", "-q", "--filter", &filter]), "");
}

#[test]
fn scale_runs_numbered_replicas() {
    let project = TestProject::new(
        "scale",
        r#"
services:
  worker:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    deploy:
      replicas: 2
"#,
    );
    project.torq(&["up"]).assert_code(0);
    let names: Vec<String> = project.containers().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        vec![
            format!("{}-worker-1", project.name),
            format!("{}-worker-2", project.name)
        ]
    );
    project.torq(&["up", "--scale", "worker=1"]).assert_code(0);
    let names: Vec<String> = project.containers().into_iter().map(|c| c.name).collect();
    assert_eq!(names, vec![format!("{}-worker-1", project.name)]);
}

#[test]
fn unreachable_engine_exits_1_and_says_how_to_fix_it() {
    let project = TestProject::new("noengine", LEVELS);
    let mut cmd = project.torq_command(&["up"]);
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let result = run_with_deadline(cmd, Duration::from_secs(30));
    result.assert_code(1);
    assert!(result.stderr.contains("DOCKER_HOST"), "{}", result.stderr);
}

#[test]
fn silent_engine_exits_1_at_the_connect_deadline() {
    // Accepts connections (the kernel's backlog) but never answers. Which
    // deadline ended the wait is read from the message, not from a clock:
    // the connect deadline (1.5 s, under the 2 s the issue allows).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a listener");
    let address = listener.local_addr().expect("listener address");
    let project = TestProject::new("silentengine", LEVELS);
    let expected = format!(
        "did not answer within {}s",
        torq::engine::CONNECT_DEADLINE.as_secs_f64()
    );
    assert!(torq::engine::CONNECT_DEADLINE < Duration::from_secs(2));
    for command in ["status", "up", "down"] {
        let mut cmd = project.torq_command(&[command]);
        cmd.env("DOCKER_HOST", format!("tcp://{address}"));
        let result = run_with_deadline(cmd, Duration::from_secs(30));
        result.assert_code(1);
        assert!(
            result.stderr.contains(&expected),
            "`torq {command}`: {}",
            result.stderr
        );
    }
    drop(listener);
}

#[test]
fn recreating_a_dependency_restarts_its_restart_true_dependents_in_place() {
    let spec = r#"
services:
  api:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    environment:
      MODE: one
  web:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on:
      api:
        condition: service_started
        restart: true
  other:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on: [api]
"#;
    let project = TestProject::new("restart-dep", spec);
    project.torq(&["up"]).assert_code(0);
    let before = ids_by_service(&project);
    project.write_spec(&spec.replace("MODE: one", "MODE: two"));
    let since = now_epoch_secs();
    project.torq(&["up"]).assert_code(0);
    let events = project_events(&project.name, since, now_epoch_secs());
    let after = ids_by_service(&project);
    assert_ne!(before["api"], after["api"], "api was not recreated");
    assert_eq!(
        before["web"], after["web"],
        "web is restarted, not recreated"
    );
    assert!(
        first_event(&events, "web", "start").is_some(),
        "web was not restarted: {events:#?}"
    );
    assert!(
        first_event(&events, "other", "start").is_none(),
        "other has no restart: true"
    );
    // web stopped before the old api did, and started after the new api.
    let web_died = first_event(&events, "web", "die")
        .expect("web stopped")
        .time_nano;
    let api_events = events_of(&events, "api", "");
    let old_api_died = api_events
        .iter()
        .find(|e| e.action == "die")
        .expect("old api stopped")
        .time_nano;
    let new_api_started = api_events
        .iter()
        .find(|e| e.action == "start")
        .expect("new api started")
        .time_nano;
    assert!(web_died < old_api_died);
    assert!(new_api_started < first_event(&events, "web", "start").unwrap().time_nano);
    assert!(project.containers().iter().all(|c| c.state == "running"));
}

/// A recreated container takes over the anonymous volumes of the one it
/// replaces (as docker compose does), so a config change keeps a database's
/// data; `--renew-anon-volumes` starts it afresh; `down` removes them.
#[test]
fn a_recreated_service_keeps_its_anonymous_volume_data() {
    const STORE: &str = r#"
services:
  store:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    volumes: ["/data"]
    environment:
      GENERATION: "1"
"#;
    let project = TestProject::new("anon-volume", STORE);
    project.torq(&["up"]).assert_code(0);
    let container = format!("{}-store-1", project.name);
    docker_ok(&["exec", &container, "sh", "-c", "echo keep > /data/f"]);
    let volume_of = |container: &str| {
        docker_ok(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Name}}{{end}}",
            container,
        ])
    };
    let volume = volume_of(&container);
    assert_eq!(volume.len(), 64, "an anonymous volume: {volume}");

    let before = ids_by_service(&project);
    project.write_spec(&STORE.replace("GENERATION: \"1\"", "GENERATION: \"2\""));
    let result = project.torq(&["up"]);
    result.assert_code(0);
    assert_ne!(
        before["store"],
        ids_by_service(&project)["store"],
        "recreated"
    );
    assert_eq!(docker_ok(&["exec", &container, "cat", "/data/f"]), "keep");
    assert_eq!(volume_of(&container), volume);

    project.write_spec(&STORE.replace("GENERATION: \"1\"", "GENERATION: \"3\""));
    project.torq(&["up", "--renew-anon-volumes"]).assert_code(0);
    let missing = docker(&["exec", &container, "cat", "/data/f"]);
    assert!(!missing.status.success(), "a fresh volume has no file");
    assert_ne!(volume_of(&container), volume);
    let listed = docker_ok(&["volume", "ls", "-q"]);
    assert!(
        !listed.lines().any(|v| v == volume),
        "the renewed volume went with its old container"
    );

    let fresh = volume_of(&container);
    project.torq(&["down"]).assert_code(0);
    let listed = docker_ok(&["volume", "ls", "-q"]);
    assert!(!listed.lines().any(|v| v == fresh), "down removes it");
}

/// A missing image without a `build:` section is pulled, as docker compose
/// does; with no registry answering, `up` fails before creating anything and
/// says why. `pull_policy: never` does not even try.
#[test]
fn a_missing_image_is_pulled_unless_pull_policy_never() {
    let absent = format!("{}:1", unique_project("torq-absent"));
    let spec = format!("services:\n  db:\n    image: {absent}\n");
    let project = TestProject::new("pull", &spec);
    let result = project.torq(&["up"]);
    result.assert_code(1);
    let all = result.output();
    assert!(all.contains("  pulling  "), "{all}");
    assert!(all.contains("could not pull"), "{all}");
    assert!(project.containers().is_empty());

    // `--pull never` overrides the spec's (default) policy, for `up` and `run`.
    for args in [
        &["up", "--pull", "never"][..],
        &["run", "--rm", "--pull", "never", "db"],
    ] {
        let result = project.torq(args);
        result.assert_code(1);
        let all = result.output();
        assert!(
            !all.contains("  pulling  "),
            "{args:?}: no pull phase: {all}"
        );
        assert!(all.contains("pull_policy: never"), "{args:?}: {all}");
    }

    project.write_spec(&format!("{spec}    pull_policy: never\n"));
    let result = project.torq(&["up"]);
    result.assert_code(1);
    let all = result.output();
    assert!(!all.contains("  pulling  "), "no pull phase: {all}");
    assert!(all.contains("pull_policy: never"), "{all}");
}

/// Without a terminal, progress is one plain line per change, and the phase
/// column stays put from the first line to the last: the build's line for
/// `a` comes first, yet the network's longer name is counted in from the start.
#[test]
fn plain_progress_keeps_one_column() {
    busybox_image();
    let context = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/build/good");
    let project = TestProject::new(
        "plain-progress",
        &format!(
            r#"
services:
  a:
    build: {context}
    command: ["sh", "-c", "{{loop}}"]
    stop_grace_period: 1s
"#
        ),
    );
    let image = format!("{}-a", project.name);
    let _image = ImageGuard(vec![image]);
    let result = project.torq(&["up"]);
    result.assert_code(0);
    let columns: Vec<usize> = result
        .stderr
        .lines()
        .filter_map(|line| {
            [
                "building", "built", "creating", "created", "starting", "started", "running",
            ]
            .iter()
            .filter_map(|phase| line.find(&format!("  {phase}")))
            .min()
            .map(|at| at + 2)
        })
        .collect();
    assert!(columns.len() >= 4, "{}", result.stderr);
    assert!(
        columns.iter().all(|c| *c == columns[0]),
        "{:?}\n{}",
        columns,
        result.stderr
    );
}

/// The image's own `VOLUME` keeps its data when the service is recreated
/// for a new image (`up --build` after a change), as with compose: the new
/// container takes over the old one's anonymous volume at that path.
#[test]
fn a_rebuilt_image_keeps_the_data_of_its_volume() {
    let project = TestProject::new(
        "image-volume",
        r#"
services:
  db:
    build:
      context: ./db
      args:
        GENERATION: "1"
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
"#,
    );
    let context = project.dir.path().join("db");
    std::fs::create_dir(&context).expect("context dir");
    std::fs::write(
        context.join("Dockerfile"),
        "FROM torq-test/bb\nARG GENERATION\nRUN echo $GENERATION > /generation\nVOLUME /var/lib/db\n",
    )
    .expect("Dockerfile");
    let _image = ImageGuard(vec![format!("{}-db", project.name)]);
    project.torq(&["up"]).assert_code(0);
    let container = format!("{}-db-1", project.name);
    docker_ok(&["exec", &container, "sh", "-c", "echo keep > /var/lib/db/f"]);
    let before = ids_by_service(&project);

    let spec = std::fs::read_to_string(project.spec_path()).expect("spec");
    project.write_spec(&spec.replace("GENERATION: \"1\"", "GENERATION: \"2\""));
    project.torq(&["up", "--build"]).assert_code(0);
    assert_ne!(before["db"], ids_by_service(&project)["db"], "recreated");
    assert_eq!(docker_ok(&["exec", &container, "cat", "/generation"]), "2");
    assert_eq!(
        docker_ok(&["exec", &container, "cat", "/var/lib/db/f"]),
        "keep"
    );
}

/// A service dropped from the spec leaves an orphan container: `up -d`
/// (compose's spelling of the default) warns and keeps it; `up
/// --remove-orphans` stops and removes it, leaving the rest as it was.
#[test]
fn remove_orphans_removes_only_the_containers_of_dropped_services() {
    let two = r#"
services:
  kept:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
  dropped:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
"#;
    let project = TestProject::new("orphans", two);
    project.torq(&["up"]).assert_code(0);
    let before = ids_by_service(&project);
    project.write_spec(
        r#"
services:
  kept:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
"#,
    );
    let warned = project.torq(&["up", "-d"]);
    warned.assert_code(0);
    assert!(
        warned.stderr.contains("orphan containers"),
        "{}",
        warned.stderr
    );
    assert_eq!(ids_by_service(&project), before);

    let removed = project.torq(&["up", "--remove-orphans"]);
    removed.assert_code(0);
    assert!(
        !removed.stderr.contains("orphan containers ("),
        "{}",
        removed.stderr
    );
    let after = ids_by_service(&project);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after["kept"], before["kept"]);
}

/// `up --no-recreate` keeps a container whose configuration changed and
/// starts a stopped one as it is (the same container, as compose does),
/// where a plain `up` would replace both.
#[test]
fn no_recreate_keeps_changed_containers_and_starts_stopped_ones() {
    let project = TestProject::new("norecreate", LEVELS);
    project.torq(&["up"]).assert_code(0);
    let before = ids_by_service(&project);
    docker_ok(&["stop", "-t", "1", &format!("{}-d-1", project.name)]);
    project.write_spec(&LEVELS.replacen(
        "    stop_grace_period: 1s\n",
        "    stop_grace_period: 1s\n    environment: { CHANGED: \"yes\" }\n",
        1,
    ));
    let result = project.torq(&["up", "--no-recreate"]);
    result.assert_code(0);
    assert_eq!(ids_by_service(&project), before, "{}", result.stderr);
    assert!(project.containers().iter().all(|c| c.state == "running"));
    // Without it, the changed service is recreated.
    project.torq(&["up"]).assert_code(0);
    assert_ne!(ids_by_service(&project)["a"], before["a"]);
}

/// `up --no-start` creates the project (networks and every container) and
/// starts nothing; `up --no-recreate` then starts those same containers.
#[test]
fn no_start_creates_everything_and_starts_nothing() {
    let project = TestProject::new("nostart", LEVELS);
    let result = project.torq(&["up", "--no-start"]);
    result.assert_code(0);
    assert!(
        result.stderr.contains("created, not started"),
        "{}",
        result.stderr
    );
    let created = project.containers();
    assert_eq!(created.len(), 4, "{created:?}");
    assert!(created.iter().all(|c| c.state == "created"), "{created:?}");
    let before = ids_by_service(&project);
    project.torq(&["up", "--no-recreate"]).assert_code(0);
    assert_eq!(ids_by_service(&project), before);
    assert!(project.containers().iter().all(|c| c.state == "running"));
}
