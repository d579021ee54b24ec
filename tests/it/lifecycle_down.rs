//! `torq down` and `torq restart` against the real engine: grace periods and
//! SIGKILL, parallel stops, isolation from other projects and unlabeled
//! containers, volumes, orphans, a project without a spec, nothing to do.
//! Every test has its own project, removed by a guard even on failure.

use std::time::Duration;

use crate::support::*;

/// Two independent services that ignore SIGTERM, with a 2 s grace period.
const STUBBORN_PAIR: &str = r#"
services:
  one:
    image: {image}
    command: ["sh", "-c", "{stubborn}"]
    stop_grace_period: 2s
  two:
    image: {image}
    command: ["sh", "-c", "{stubborn}"]
    stop_grace_period: 2s
"#;

#[test]
fn services_ignoring_sigterm_are_killed_after_one_shared_grace_period() {
    let project = TestProject::new("stubborn", STUBBORN_PAIR);
    project.torq(&["up"]).assert_code(0);
    let since = now_epoch_secs();
    let result = project.torq(&["down"]);
    result.assert_code(0);
    assert!(result.stderr.contains("killed 2"), "{}", result.stderr);
    assert!(project.containers().is_empty());

    let events = project_events(&project.name, since, now_epoch_secs());
    let signal = |service: &str, signal: &str| {
        events_of(&events, service, "kill")
            .into_iter()
            .find(|e| e.signal.as_deref() == Some(signal))
            .unwrap_or_else(|| panic!("no kill {signal} for {service}: {events:#?}"))
            .time_nano
    };
    for service in ["one", "two"] {
        // SIGKILL only once the grace period after SIGTERM ran out.
        let waited = signal(service, "9") - signal(service, "15");
        assert!(
            waited >= Duration::from_millis(1900).as_nanos() as i64,
            "{service} was killed {waited} ns after SIGTERM"
        );
    }
    // Both got SIGTERM before either got SIGKILL: the grace periods ran in
    // parallel, so down took one grace period, not two.
    let last_term = signal("one", "15").max(signal("two", "15"));
    let first_kill = signal("one", "9").min(signal("two", "9"));
    assert!(last_term < first_kill, "the stops ran one after the other");
}

#[test]
fn timeout_option_overrides_the_grace_period() {
    let project = TestProject::new("timeout", &STUBBORN_PAIR.replace("2s", "60s"));
    project.torq(&["up"]).assert_code(0);
    let since = now_epoch_secs();
    let result = project.torq(&["down", "-t", "1"]);
    result.assert_code(0);
    let events = project_events(&project.name, since, now_epoch_secs());
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "kill" && e.signal.as_deref() == Some("9"))
            .count(),
        2,
        "{events:#?}"
    );
}

#[test]
fn down_stops_dependents_before_their_dependencies() {
    let project = TestProject::new(
        "down-order",
        r#"
services:
  db:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
  api:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on: [db]
  web:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on: [api]
"#,
    );
    project.torq(&["up"]).assert_code(0);
    let since = now_epoch_secs();
    project.torq(&["down"]).assert_code(0);
    let events = project_events(&project.name, since, now_epoch_secs());
    let died = |s: &str| first_event(&events, s, "die").expect("died").time_nano;
    let term = |s: &str| {
        events_of(&events, s, "kill")
            .first()
            .map(|e| e.time_nano)
            .expect("got a stop signal")
    };
    assert!(
        died("web") < term("api"),
        "api was signalled before web stopped"
    );
    assert!(
        died("api") < term("db"),
        "db was signalled before api stopped"
    );
}

#[test]
fn down_leaves_other_projects_and_unlabeled_containers_alone() {
    let image = busybox_image();
    let project = TestProject::new(
        "isolation",
        r#"
services:
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
"#,
    );
    let other = unique_project("isolation-other");
    let _other_guard = ProjectGuard::new(other.clone());
    let other_name = format!("{other}-app-1");
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &other_name,
        "--label",
        &format!("{PROJECT_LABEL}={other}"),
        "--label",
        "com.docker.compose.service=app",
        image,
        "sh",
        "-c",
        LOOP,
    ]);
    let unlabeled = format!("{}-unlabeled", project.name);
    let _unlabeled_guard = ContainerGuard(unlabeled.clone());
    docker_ok(&["run", "-d", "--name", &unlabeled, image, "sh", "-c", LOOP]);

    project.torq(&["up"]).assert_code(0);
    project.torq(&["down"]).assert_code(0);
    assert!(project.containers().is_empty());
    let running = |name: &str| docker_ok(&["inspect", "-f", "{{.State.Running}}", name]);
    assert_eq!(running(&other_name), "true");
    assert_eq!(running(&unlabeled), "true");
}

#[test]
fn nothing_to_stop_succeeds_and_says_so() {
    let project = TestProject::new(
        "nothing",
        r#"
services:
  app:
    image: {image}
"#,
    );
    let result = project.torq(&["down"]);
    result.assert_code(0);
    assert!(result.stderr.contains("nothing to do"), "{}", result.stderr);
}

#[test]
fn volumes_go_only_with_the_volumes_option() {
    let spec = r#"
services:
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    volumes:
      - data:/data
volumes:
  data: {}
"#;
    let project = TestProject::new("volumes", spec);
    let filter = format!("label={PROJECT_LABEL}={}", project.name);
    let volumes = || docker_ok(&["volume", "ls", "-q", "--filter", &filter]);
    project.torq(&["up"]).assert_code(0);
    assert_eq!(volumes(), format!("{}_data", project.name));
    project.torq(&["down"]).assert_code(0);
    assert_eq!(volumes(), format!("{}_data", project.name));
    project.torq(&["up"]).assert_code(0);
    project.torq(&["down", "-v"]).assert_code(0);
    assert_eq!(volumes(), "");
}

#[test]
fn down_removes_orphans_and_works_without_the_spec() {
    let project = TestProject::new(
        "orphans",
        r#"
services:
  keep:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
  gone:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
"#,
    );
    project.torq(&["up"]).assert_code(0);
    // `gone` leaves the spec: it is an orphan now, and up says so.
    project.write_spec(
        r#"
services:
  keep:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
"#,
    );
    let up = project.torq(&["up"]);
    up.assert_code(0);
    assert!(up.stderr.contains("orphan"), "{}", up.stderr);
    // Without any spec file, -p alone is enough.
    std::fs::remove_file(project.spec_path()).expect("remove spec");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_torq"));
    cmd.args(["-p", &project.name, "down"])
        .current_dir(project.dir.path())
        .env("NO_COLOR", "1")
        .env_remove("TORQ_FILE");
    run_with_deadline(cmd, COMMAND_DEADLINE).assert_code(0);
    assert!(project.containers().is_empty());
}

#[test]
fn force_kills_everything_at_once() {
    let project = TestProject::new("force", &STUBBORN_PAIR.replace("2s", "60s"));
    project.torq(&["up"]).assert_code(0);
    let result = project.torq(&["down", "--force"]);
    result.assert_code(0);
    assert!(result.stderr.contains("killed 2"), "{}", result.stderr);
    assert!(project.containers().is_empty());
}

#[test]
fn restart_of_one_service_takes_its_restart_dependents_along() {
    let project = TestProject::new(
        "restart",
        r#"
services:
  db:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
  api:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on:
      db:
        condition: service_started
        restart: true
  web:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    depends_on: [db]
"#,
    );
    project.torq(&["up"]).assert_code(0);
    let ids = |p: &TestProject| -> std::collections::HashMap<String, String> {
        p.containers()
            .into_iter()
            .map(|c| (c.service, c.id))
            .collect()
    };
    let before = ids(&project);
    project
        .torq(&["restart", "--grace", "0", "db"])
        .assert_code(0);
    let after = ids(&project);
    assert_ne!(before["db"], after["db"]);
    assert_ne!(before["api"], after["api"], "api has restart: true on db");
    assert_eq!(before["web"], after["web"], "web has no restart: true");
    assert!(project.containers().iter().all(|c| c.state == "running"));
}

/// A container the plan saw not running but that runs by the time it is
/// removed — an `up --attach` cancelled by SIGTERM while its start request
/// was still in flight at the engine: the removal stops it gracefully (its
/// own stop signal, SIGTERM), then removes it, instead of failing with "You
/// cannot remove a running container" and leaving it (and the network)
/// behind.
#[test]
fn a_container_started_after_the_plan_is_stopped_then_removed() {
    use std::collections::HashMap;
    use std::sync::Arc;

    use torq::compose::model::Project;
    use torq::engine::events::EventHub;
    use torq::engine::Engine;
    use torq::plan::exec::{execute, ExecContext};
    use torq::plan::{ContainerRef, Op, Plan};
    use torq::progress::NullReporter;

    let project = TestProject::new(
        "startedlate",
        "services:\n  svc:\n    image: {image}\n    command: [\"sh\", \"-c\", \"{loop}\"]\n",
    );
    project.torq(&["up"]).assert_code(0);
    let row = project.containers().remove(0);
    assert_eq!(row.state, "running");
    let since = now_epoch_secs();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(async {
        let engine = Engine::connect().await.expect("engine");
        let mut plan = Plan::default();
        plan.push(
            "svc",
            Op::RemoveContainer {
                service: "svc".into(),
                container: ContainerRef {
                    id: row.id.clone(),
                    name: row.name.clone(),
                },
                force: false,
                keep_anonymous_volumes: false,
                anonymous_volumes: Vec::new(),
            },
            Vec::new(),
            None,
        );
        let ctx = Arc::new(ExecContext {
            hub: Arc::new(EventHub::subscribe(&engine, &project.name)),
            engine,
            project: Arc::new(Project {
                name: project.name.clone(),
                ..Default::default()
            }),
            blueprints: Arc::new(HashMap::new()),
            reporter: Arc::new(NullReporter),
            wait_deadline: tokio::time::Instant::now(),
            wait_timeout: Duration::ZERO,
            fast_health: false,
        });
        execute(&plan, ctx).await
    });
    assert!(
        report.outcomes[0].is_done(),
        "removal failed: {:?}",
        report.outcomes[0]
    );
    assert!(project.containers().is_empty());
    let events = project_events(&project.name, since, now_epoch_secs());
    let signals: Vec<_> = events_of(&events, "svc", "kill")
        .iter()
        .map(|e| e.signal.clone().unwrap_or_default())
        .collect();
    assert_eq!(signals, ["15"], "stopped with SIGTERM only: {events:#?}");
    let died = first_event(&events, "svc", "die").expect("a die event");
    assert_eq!(died.exit_code, Some(0));
}

/// `down --dry-run` prints what it would stop and remove, in order, and
/// touches nothing.
#[test]
fn dry_run_prints_the_down_plan_and_touches_nothing() {
    let project = TestProject::new(
        "down-dry",
        r#"
services:
  db:
    image: {image}
    command: ["sh", "-c", "{loop}"]
  api:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    depends_on: [db]
"#,
    );
    project.torq(&["up"]).assert_code(0);
    // Ids and states, not `docker ps`'s status text ("Up 2 seconds"), which ages.
    let ids_and_states = || -> Vec<(String, String)> {
        project
            .containers()
            .into_iter()
            .map(|c| (c.id, c.state))
            .collect()
    };
    let before = ids_and_states();
    let result = project.torq(&["down", "--dry-run"]);
    result.assert_code(0);
    let text = &result.stdout;
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing from:\n{text}"))
    };
    let db = format!("stop {}-db-1", project.name);
    let api = format!("stop {}-api-1", project.name);
    assert!(at(&api) < at(&db), "api stops before db:\n{text}");
    at(&format!("remove network {}_default", project.name));
    assert_eq!(ids_and_states(), before, "nothing touched");
    assert!(
        before.iter().all(|(_, state)| state == "running"),
        "{before:?}"
    );
}
