//! `torq status` against the real engine: the three states and the health
//! column for running, stopped, dead and unhealthy services with their exit
//! codes; `--format json` carrying the same states; `-q`; zombie detection;
//! a crash loop; recent errors. Every test has its own project, removed by a
//! guard even on failure.

use std::time::Duration;

use crate::support::*;
use serde_json::Value;

/// How long a test waits for something the engine does.
const DEADLINE: Duration = Duration::from_secs(90);

const FOUR_STATES: &str = r#"
services:
  fine:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "{loop}"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  sick:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "{loop}"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
  gone:
    image: {image}
    command: ["sh", "-c", "echo 'ERROR gone for good'; exit 3"]
  never:
    image: {image}
    command: ["sh", "-c", "{loop}"]
"#;

fn status_json(project: &TestProject, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["status", "--format", "json"];
    all.extend_from_slice(args);
    let out = project.torq(&all);
    let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status JSON does not parse ({e}):\n{}\n{}",
            out.stdout, out.stderr
        )
    });
    (out.code, json)
}

fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {report:#}"))
}

/// The table row of `service` split on runs of two or more spaces.
fn row(table: &str, service: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(service))
        .unwrap_or_else(|| panic!("no row for {service}:\n{table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn states_health_and_exit_codes() {
    let project = TestProject::new("status-states", FOUR_STATES);
    // `up` reports the failures of sick and gone; status is what is tested here.
    project.torq(&["up", "fine", "sick", "gone"]);
    wait_for("sick to turn unhealthy and fine healthy", DEADLINE, || {
        let rows = project.containers();
        let sick = rows.iter().find(|c| c.service == "sick")?;
        let fine = rows.iter().find(|c| c.service == "fine")?;
        (sick.status.contains("(unhealthy)") && fine.is_healthy()).then_some(())
    });

    let out = project.torq(&["status"]);
    out.assert_code(2);
    let fine = row(&out.stdout, "fine");
    assert_eq!(&fine[1..3], ["● RUNNING", "healthy"], "{}", out.stdout);
    let sick = row(&out.stdout, "sick");
    assert_eq!(&sick[1..3], ["● RUNNING", "unhealthy"], "{}", out.stdout);
    let gone = row(&out.stdout, "gone");
    assert_eq!(gone[1], "✗ DEAD", "{}", out.stdout);
    assert!(out.stdout.contains("exited (3)"), "{}", out.stdout);
    let never = row(&out.stdout, "never");
    assert_eq!(never[1], "○ STOPPED", "{}", out.stdout);
    // Spec order.
    let order: Vec<&str> = out
        .stdout
        .lines()
        .skip(1)
        .take(4)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(order, ["fine", "sick", "gone", "never"]);
    // Container id and host PID of the running ones.
    let fine_id = project
        .containers()
        .into_iter()
        .find(|c| c.service == "fine")
        .expect("fine's container")
        .id;
    assert_eq!(fine[3], fine_id[..12]);
    assert!(fine[4].parse::<u32>().is_ok(), "a PID: {fine:?}");
    // Warnings say what to do; the recent errors show gone's last words.
    assert!(out.stdout.contains("is unhealthy"), "{}", out.stdout);
    assert!(out.stdout.contains("exited with code 3"), "{}", out.stdout);
    assert!(out.stdout.contains("torq logs gone"), "{}", out.stdout);
    let errors = out
        .stdout
        .split("Recent errors:")
        .nth(1)
        .expect("recent errors");
    assert!(
        errors.contains("gone") && errors.contains("ERROR gone for good"),
        "{errors}"
    );

    // The same states in JSON.
    let (code, json) = status_json(&project, &[]);
    assert_eq!(code, Some(2));
    assert_eq!(json["ok"], false);
    assert_eq!(json["project"], project.name.as_str());
    assert_eq!(service(&json, "fine")["state"], "running");
    assert_eq!(service(&json, "fine")["health"], "healthy");
    assert_eq!(service(&json, "sick")["state"], "running");
    assert_eq!(service(&json, "sick")["health"], "unhealthy");
    assert_eq!(service(&json, "gone")["state"], "dead");
    assert_eq!(service(&json, "gone")["containers"][0]["exit_code"], 3);
    assert_eq!(service(&json, "never")["state"], "stopped");
    assert_eq!(service(&json, "never")["containers"], Value::Array(vec![]));
    assert_eq!(
        service(&json, "fine")["containers"][0]["id"],
        fine_id.as_str()
    );

    // Only healthy, running services selected: exit 0.
    project.torq(&["status", "fine"]).assert_code(0);
    let (code, json) = status_json(&project, &["fine"]);
    assert_eq!((code, &json["ok"]), (Some(0), &Value::Bool(true)));
    // A stopped one selected: exit 2.
    project.torq(&["status", "never"]).assert_code(2);

    // -q: the ids, nothing else.
    let out = project.torq(&["status", "-q"]);
    out.assert_code(2);
    let mut ids: Vec<&str> = out.stdout.lines().collect();
    ids.sort_unstable();
    let mut expected: Vec<String> = project.containers().into_iter().map(|c| c.id).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[test]
fn zombie_processes_are_found_with_the_init_hint() {
    let project = TestProject::new(
        "status-zombie",
        r#"
services:
  reaper:
    image: {image}
    stop_grace_period: 1s
    init: true
    command: ["sh", "-c", "(sleep 0.1 &); exec sleep 1000"]
  leaker:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "(sleep 0.1 &); exec sleep 1000"]
"#,
    );
    project.torq(&["up"]).assert_code(0);
    // `sleep 0.1` is orphaned to PID 1 and exits. In leaker, PID 1 is
    // `sleep 1000`, which never reaps it; in reaper, PID 1 is the init
    // process, which does: wait until reaper holds only init and sleep 1000.
    let reaper = format!("{}-reaper-1", project.name);
    wait_for("reaper's orphan to be reaped", DEADLINE, || {
        let top = docker_ok(&["top", &reaper]);
        (top.lines().count() == 3).then_some(())
    });
    let json = wait_for("a zombie in leaker", DEADLINE, || {
        let (_, json) = status_json(&project, &[]);
        let zombies = service(&json, "leaker")["containers"][0]["zombies"].as_u64()?;
        (zombies >= 1).then_some(json)
    });
    assert_eq!(service(&json, "leaker")["containers"][0]["zombies"], 1);
    // With an init process the child is reaped.
    assert_eq!(service(&json, "reaper")["containers"][0]["zombies"], 0);
    let warnings = json["warnings"].as_array().expect("warnings");
    let zombie = warnings
        .iter()
        .find(|w| w["kind"] == "zombies")
        .unwrap_or_else(|| panic!("no zombie warning: {json:#}"));
    assert_eq!(zombie["service"], "leaker");
    assert!(
        zombie["hint"].as_str().unwrap_or("").contains("init: true"),
        "{zombie}"
    );
    assert!(
        !warnings.iter().any(|w| w["service"] == "reaper"),
        "{json:#}"
    );
    // Zombies are a warning, not a failure.
    project.torq(&["status"]).assert_code(0);
}

/// A one-shot service another waits for (`service_completed_successfully`)
/// that ran and exited 0 is COMPLETED, and the project is healthy: exit 0.
#[test]
fn a_completed_one_shot_service_keeps_status_at_0() {
    let project = TestProject::new(
        "status-oneshot",
        r#"
services:
  migrate:
    image: {image}
    command: ["sh", "-c", "echo migrated"]
  api:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    depends_on:
      migrate: {condition: service_completed_successfully}
"#,
    );
    project.torq(&["up"]).assert_code(0);
    let (code, json) = status_json(&project, &[]);
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(service(&json, "migrate")["state"], "completed");
    assert_eq!(service(&json, "api")["state"], "running");
    let table = project.torq(&["status"]);
    table.assert_code(0);
    assert_eq!(
        row(&table.stdout, "migrate")[1],
        "✓ COMPLETED",
        "{}",
        table.stdout
    );
}

#[test]
fn a_crash_loop_is_dead() {
    let project = TestProject::new(
        "status-crash",
        r#"
services:
  flappy:
    image: {image}
    restart: always
    command: ["sh", "-c", "echo 'FATAL cannot start'; exit 1"]
"#,
    );
    project.torq(&["up"]);
    let json = wait_for("flappy to be seen crash-looping", DEADLINE, || {
        let (_, json) = status_json(&project, &[]);
        let c = &service(&json, "flappy")["containers"][0];
        (c["crash_loop"] == true).then_some(json)
    });
    assert_eq!(service(&json, "flappy")["state"], "dead");
    assert!(
        json["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w["kind"] == "crash_loop" && w["service"] == "flappy"),
        "{json:#}"
    );
    assert_eq!(json["ok"], false);
}

#[test]
fn verbose_adds_resources_image_and_log_file() {
    let project = TestProject::new(
        "status-verbose",
        r#"
services:
  web:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "echo hello; {loop}"]
"#,
    );
    project.torq(&["up"]).assert_code(0);
    let out = project.torq(&["status", "--verbose"]);
    out.assert_code(0);
    let header = out.stdout.lines().next().expect("header");
    for column in ["CPU", "MEMORY", "IMAGE", "LOG SIZE"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(out.stdout.contains(BUSYBOX_IMAGE), "{}", out.stdout);
    assert!(out.stdout.contains("-json.log"), "{}", out.stdout);
    let (_, json) = status_json(&project, &["--verbose"]);
    let c = &service(&json, "web")["containers"][0];
    assert!(c["memory_bytes"].as_u64().is_some(), "{c:#}");
    assert!(c["log_size"].as_u64().unwrap_or(0) > 0, "{c:#}");
}

#[test]
fn a_project_that_is_down_is_all_stopped() {
    let project = TestProject::new(
        "status-down",
        r#"
services:
  a:
    image: {image}
  b:
    image: {image}
"#,
    );
    let out = project.torq(&["status"]);
    out.assert_code(2);
    assert_eq!(row(&out.stdout, "a")[1], "○ STOPPED");
    assert_eq!(row(&out.stdout, "b")[1], "○ STOPPED");
    let out = project.torq(&["ps", "-q"]);
    out.assert_code(2);
    assert_eq!(out.stdout, "");
}

/// Right after `up` called a service healthy (its own probe passed), the
/// engine still says `starting` until its first check, one interval later:
/// `status` probes once and agrees with `up`, marking the health as probed.
#[test]
fn status_agrees_with_up_on_a_service_the_engine_has_not_checked_yet() {
    let project = TestProject::new(
        "status-probed",
        r#"
services:
  slowcheck:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "{loop}"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 300s
  plain:
    image: {image}
    stop_grace_period: 1s
    command: ["sh", "-c", "{loop}"]
"#,
    );
    project.torq(&["up"]).assert_code(0);
    let engine_says = || {
        project
            .containers()
            .into_iter()
            .find(|c| c.service == "slowcheck")
            .expect("slowcheck's container")
            .status
    };
    assert!(
        engine_says().contains("health: starting"),
        "{}",
        engine_says()
    );

    let (code, json) = status_json(&project, &[]);
    assert_eq!(code, Some(0), "{json:#}");
    let c = &service(&json, "slowcheck")["containers"][0];
    assert_eq!(c["health"], "healthy", "{json:#}");
    assert_eq!(c["health_probed"], true, "{json:#}");
    assert_eq!(service(&json, "slowcheck")["health"], "healthy");
    // A service without a healthcheck is not probed.
    assert_eq!(
        service(&json, "plain")["containers"][0]["health_probed"],
        false
    );

    let out = project.torq(&["status", "-v"]);
    out.assert_code(0);
    assert_eq!(
        row(&out.stdout, "slowcheck")[2],
        "healthy (probed)",
        "{}",
        out.stdout
    );
    // Without -v the table says healthy, as `up` did.
    let out = project.torq(&["status"]);
    assert_eq!(
        row(&out.stdout, "slowcheck")[2],
        "healthy",
        "{}",
        out.stdout
    );
    // The engine itself has not checked yet: the probe is what settled it.
    assert!(
        engine_says().contains("health: starting"),
        "{}",
        engine_says()
    );
}
