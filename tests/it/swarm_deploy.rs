//! `torq deploy` / `torq undeploy` on a one-node swarm of the real engine,
//! with a busybox stand-in for the Torq stack's dependency shape (a chain of
//! health-gated levels plus a fan-out).
//!
//! The swarm: each test holds the write side of `support::swarm_lock` (tests
//! that need a plain engine hold the read side); when the engine is not in a
//! swarm it runs `docker swarm init --advertise-addr 127.0.0.1`, and
//! `docker swarm leave --force` when it ends — only if it made the swarm.
//! Every stack is removed by a guard (by its namespace label), also on panic.
//! An engine lost in the middle of a `deploy` or an `undeploy` is taken away
//! through a proxy socket the test owns (`support::EngineProxy`).

use std::collections::HashMap;
use std::sync::{PoisonError, RwLockWriteGuard};

use crate::support::{
    assert_each_once, assert_lost_once, counted, differences, docker, docker_ok,
    finish_after_the_return, http_get, lose_and_regain_the_engine, run_with_deadline,
    stack_objects, swarm_lock, unique_project, wait_for, EngineProxy, TestProject, Watched,
    BUSYBOX_IMAGE, COMMAND_DEADLINE, COUNTERS,
};

const NAMESPACE: &str = "com.docker.stack.namespace";

/// The engine as a swarm manager for one test: holds the write side of
/// [`swarm_lock`] (so no test that needs a plain engine runs meanwhile), makes
/// the swarm when the engine is not in one, and leaves it on drop — only if
/// it made it.
struct SwarmGuard {
    made: bool,
    _lock: RwLockWriteGuard<'static, ()>,
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        if self.made {
            let _ = docker(&["swarm", "leave", "--force"]);
        }
    }
}

fn swarm() -> SwarmGuard {
    let lock = swarm_lock().write().unwrap_or_else(PoisonError::into_inner);
    let state = docker_ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    let made = state != "active";
    if made {
        docker_ok(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    }
    SwarmGuard { made, _lock: lock }
}

/// Removes every service, network, secret, config and volume of a stack on
/// drop.
struct StackGuard(String);

impl Drop for StackGuard {
    fn drop(&mut self) {
        let filter = format!("label={NAMESPACE}={}", self.0);
        for kind in ["service", "secret", "config", "network"] {
            let ids = ids_of(kind, &filter);
            if !ids.is_empty() {
                let mut args = vec![kind, "rm"];
                args.extend(ids.iter().map(String::as_str));
                let _ = docker(&args);
            }
            if kind == "service" {
                wait_no_tasks(&self.0);
            }
        }
        remove_volumes(&self.0);
    }
}

/// Removes the stack's volumes (Swarm made them on this node, labeled
/// with the namespace), retried until a task's stopped container, still
/// being removed, no longer holds them.
fn remove_volumes(stack: &str) {
    let filter = format!("label={NAMESPACE}={stack}");
    wait_for(
        "the stack's volumes to go",
        std::time::Duration::from_secs(60),
        || {
            let volumes = ids_of("volume", &filter);
            if !volumes.is_empty() {
                let mut args = vec!["volume", "rm"];
                args.extend(volumes.iter().map(String::as_str));
                let _ = docker(&args);
            }
            ids_of("volume", &filter).is_empty().then_some(())
        },
    );
}

/// The rollout stopped at `failed`: it and `relay`, the level before it,
/// were deployed; `dashboard`, its dependent, was never created.
fn assert_rollout_stopped_at(stack: &str, failed: &str) {
    let services = versions(stack);
    assert!(
        services.contains_key("relay") && services.contains_key(failed),
        "{services:?}"
    );
    assert!(
        !services.contains_key("dashboard"),
        "a dependent was touched: {services:?}"
    );
}

fn ids_of(kind: &str, filter: &str) -> Vec<String> {
    let out = docker(&[kind, "ls", "-q", "--filter", filter]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Waits (bounded) until no container of the stack is left, so networks can go.
fn wait_no_tasks(stack: &str) {
    let filter = format!("label={NAMESPACE}={stack}");
    wait_for(
        "the stack's containers to go",
        std::time::Duration::from_secs(60),
        || ids_of("container", &filter).is_empty().then_some(()),
    );
}

fn count(kind: &str, stack: &str) -> usize {
    ids_of(kind, &format!("label={NAMESPACE}={stack}")).len()
}

/// `service → (version, spec-hash label)` of a stack's services.
fn versions(stack: &str) -> HashMap<String, (u64, String)> {
    let ids = ids_of("service", &format!("label={NAMESPACE}={stack}"));
    ids.iter()
        .map(|id| {
            let line = docker_ok(&[
                "service",
                "inspect",
                id,
                "--format",
                "{{.Spec.Name}} {{.Version.Index}} {{index .Spec.Labels \"io.torq.deploy.spec-hash\"}}",
            ]);
            let parts: Vec<&str> = line.split_whitespace().collect();
            let name = parts[0].trim_start_matches(&format!("{stack}_")).to_string();
            (name, (parts[1].parse().unwrap(), parts[2].to_string()))
        })
        .collect()
}

/// When the service's first task turned running (RFC 3339), and when the
/// service was created.
fn running_since(stack: &str, service: &str) -> String {
    let name = format!("{stack}_{service}");
    let out = docker_ok(&[
        "service",
        "ps",
        &name,
        "--filter",
        "desired-state=running",
        "-q",
    ]);
    let task = out.lines().next().expect("a running task");
    docker_ok(&[
        "inspect",
        task,
        "--format",
        "{{.Status.State}} {{json .Status.Timestamp}}",
    ])
}

fn created_at(stack: &str, service: &str) -> String {
    docker_ok(&[
        "service",
        "inspect",
        &format!("{stack}_{service}"),
        "--format",
        "{{json .CreatedAt}}",
    ])
}

/// The RFC 3339 timestamp (as `{{json …}}` prints it) at the end of `text`.
fn instant(text: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let stamp = text
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .trim_matches('"');
    chrono::DateTime::parse_from_rfc3339(stamp)
        .unwrap_or_else(|e| panic!("timestamp {stamp:?}: {e}"))
}

const HEALTHY: &str = r#"
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; touch /ready; while true; do sleep 0.2; done"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      timeout: 1s
      retries: 30
"#;

fn spec(extra_for_worker: &str) -> String {
    format!(
        r#"
x-healthy: &healthy {HEALTHY}
secrets:
  token:
    file: ./token.txt
configs:
  settings:
    content: "level=info"
services:
  relay:
    <<: *healthy
    secrets: [token]
    configs: [settings]
  adapter_a:
    <<: *healthy
    depends_on: {{ relay: {{ condition: service_healthy }} }}
  adapter_b:
    <<: *healthy
    depends_on: {{ relay: {{ condition: service_healthy }} }}
  worker:
    <<: *healthy
    depends_on:
      adapter_a: {{ condition: service_healthy }}
      adapter_b: {{ condition: service_healthy }}
{extra_for_worker}
"#
    )
}

#[test]
fn deploy_is_ordered_idempotent_updates_one_service_and_undeploys_everything() {
    let _swarm = swarm();
    let project = TestProject::new("swarm-deploy", "services: {}\n");
    std::fs::write(project.dir.path().join("token.txt"), "s3cret").unwrap();
    project.write_spec(&spec(""));
    let stack = project.name.clone();
    let _guard = StackGuard(stack.clone());

    let dry = project.torq(&["deploy", "--dry-run"]);
    dry.assert_code(0);
    assert!(dry.stdout.contains("level 3:"), "{}", dry.stdout);
    assert_eq!(count("service", &stack), 0, "--dry-run touched nothing");

    project.torq(&["deploy"]).assert_code(0);
    let first = versions(&stack);
    assert_eq!(first.len(), 4, "{first:?}");
    for service in ["relay", "adapter_a", "adapter_b", "worker"] {
        assert!(
            running_since(&stack, service).starts_with("running"),
            "{service}"
        );
    }
    // Dependents were created only once their dependencies ran healthy.
    for (dependency, dependent) in [
        ("relay", "adapter_a"),
        ("relay", "adapter_b"),
        ("adapter_a", "worker"),
        ("adapter_b", "worker"),
    ] {
        let healthy = instant(&running_since(&stack, dependency));
        let created = instant(&created_at(&stack, dependent));
        assert!(
            created >= healthy,
            "{dependent} created at {created} before {dependency} ran healthy at {healthy}"
        );
    }
    assert_eq!(count("secret", &stack), 1);
    assert_eq!(count("config", &stack), 1);
    // `deploy status`: every service's task running and healthy, on this node.
    let status = project.torq(&["deploy", "status", "--format", "json"]);
    status.assert_code(0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).expect("JSON rows");
    assert_eq!(rows.len(), 4, "{}", status.stdout);
    for row in &rows {
        assert_eq!(
            (&row["running"], &row["healthy"], &row["desired"]),
            (&1.into(), &1.into(), &1.into()),
            "{row}"
        );
        assert_eq!(row["nodes"].as_array().map(Vec::len), Some(1), "{row}");
    }

    // The same spec again changes nothing.
    let again = project.torq(&["deploy"]);
    again.assert_code(0);
    assert!(again.stderr.contains("4 unchanged"), "{}", again.stderr);
    assert_eq!(versions(&stack), first);

    // A change to one service updates that service alone.
    project.write_spec(&spec("    environment: { MODE: fast }\n"));
    project.torq(&["deploy"]).assert_code(0);
    let after = versions(&stack);
    for (service, before) in &first {
        if service == "worker" {
            assert_ne!(&after[service], before, "worker was updated");
        } else {
            assert_eq!(&after[service], before, "{service} untouched");
        }
    }

    project.torq(&["undeploy"]).assert_code(0);
    for kind in ["service", "network", "secret", "config", "container"] {
        assert_eq!(count(kind, &stack), 0, "a {kind} of the stack is left");
    }
}

#[test]
fn a_failing_service_stops_the_rollout_and_a_failing_update_rolls_back() {
    let _swarm = swarm();
    let failing = r#"
x-healthy: &healthy HEALTHY
services:
  relay:
    <<: *healthy
  broken:
    <<: *healthy
    command: ["sh", "-c", "echo cannot bind the relay socket; exit 3"]
    deploy: { restart_policy: { condition: none } }
    depends_on: { relay: { condition: service_healthy } }
  dashboard:
    <<: *healthy
    depends_on: { broken: { condition: service_healthy } }
"#
    .replace("HEALTHY", HEALTHY);
    let project = TestProject::new("swarm-fail", &failing);
    let stack = project.name.clone();
    let _guard = StackGuard(stack.clone());

    let result = project.torq(&["deploy", "--wait-timeout", "60"]);
    result.assert_code(2);
    let out = result.output();
    assert!(out.contains("broken"), "{out}");
    assert!(
        out.contains("exit code 3") || out.contains("non-zero exit"),
        "{out}"
    );
    assert!(
        out.contains("cannot bind the relay socket"),
        "the task's last log lines: {out}"
    );
    assert_rollout_stopped_at(&stack, "broken");

    // A failing update of a healthy service rolls back to the spec before it.
    project.torq(&["undeploy"]).assert_code(0);
    let good = format!(
        "x-healthy: &healthy {HEALTHY}\nservices:\n  relay:\n    <<: *healthy\n{}",
        UPDATE
    );
    project.write_spec(&good.replace("COMMAND", ""));
    project.torq(&["deploy"]).assert_code(0);
    let before = versions(&stack)["relay"].1.clone();
    let bad = good.replace(
        "COMMAND",
        "    command: [\"sh\", \"-c\", \"echo new version crashed; exit 4\"]\n",
    );
    project.write_spec(&bad);
    let result = project.torq(&["deploy", "--wait-timeout", "60"]);
    result.assert_code(2);
    assert!(
        result.output().contains("rolled back"),
        "{}",
        result.output()
    );
    let after = versions(&stack)["relay"].1.clone();
    assert_eq!(after, before, "the service runs its previous spec again");
    assert!(running_since(&stack, "relay").starts_with("running"));
}

const UPDATE: &str = "    deploy:
      update_config: { failure_action: rollback, monitor: 5s }
      restart_policy: { condition: none }
COMMAND";

/// The Torq stack itself on the one-node swarm, as it would span nodes:
/// compose/torq.yaml with compose/swarm.yaml (relays on TCP over the stack's
/// overlay network) and the CI overlay: every service healthy, the dashboard
/// answering inside its task and from the host through a published port,
/// the relays carrying frames. The port is published in host mode: the
/// ingress routing mesh does not answer on this test machine (its kernel has
/// no IPVS, which the mesh balances through), host-mode ports do, and they go through the same conversion and engine
/// port binding.
#[test]
fn the_torq_stack_deploys_healthy_and_undeploys() {
    let _swarm = swarm();
    let stack = crate::support::unique_project("swarm-torq");
    let _guard = StackGuard(stack.clone());
    let root = env!("CARGO_MANIFEST_DIR");
    let overlay = tempfile::tempdir().expect("a temporary directory");
    let host_port = overlay.path().join("host-port.yaml");
    std::fs::write(
        &host_port,
        "services:\n  dashboard_websocket:\n    ports: !override\n      - {target: 8080, mode: host}\n",
    )
    .expect("write the host-port overlay");
    let torq = |args: &[&str]| {
        let mut cmd = std::process::Command::new(crate::support::TORQ);
        cmd.args(["-p", &stack])
            .args(["-f", &format!("{root}/compose/torq.yaml")])
            .args(["-f", &format!("{root}/compose/swarm.yaml")])
            .args(["-f", &format!("{root}/compose/ci.yaml")])
            .args(["-f", &host_port.to_string_lossy()])
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("TORQ_FILE");
        crate::support::run_with_deadline(cmd, crate::support::COMMAND_DEADLINE)
    };
    torq(&["deploy"]).assert_code(0);
    let services = versions(&stack);
    assert_eq!(services.len(), 8, "{services:?}");
    for service in services.keys() {
        assert!(
            running_since(&stack, service).starts_with("running"),
            "{service}"
        );
    }
    let task = docker_ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.swarm.service.name={stack}_dashboard_websocket"),
    ]);
    let status = docker_ok(&[
        "exec",
        task.lines().next().expect("the dashboard's container"),
        "/torq",
        "node",
        "probe",
        "--http",
        "http://127.0.0.1:8080/status",
    ]);
    assert!(status.contains("200"), "{status}");
    let dashboard = task.lines().next().expect("the dashboard's container");
    let published = docker_ok(&["port", dashboard, "8080"]);
    let port: u16 = published
        .lines()
        .find_map(|l| l.strip_prefix("0.0.0.0:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no published IPv4 port in {published:?}"));
    let (code, body) = wait_for(
        "the dashboard to answer on its published port",
        std::time::Duration::from_secs(60),
        || http_get(([127, 0, 0, 1], port).into(), "/status").ok(),
    );
    assert_eq!(code, 200, "{body}");
    let logs = torq(&["deploy", "logs", "market_data_relay"]);
    logs.assert_code(0);
    assert!(
        logs.stdout.contains("market_data_relay | ")
            && logs.stdout.contains("relay{domain=market_data}"),
        "{}",
        logs.stdout
    );
    torq(&["deploy", "status"]).assert_code(0);
    torq(&["undeploy"]).assert_code(0);
    for kind in ["service", "network", "container"] {
        assert_eq!(count(kind, &stack), 0, "a {kind} of the stack is left");
    }
}

/// `deploy --prune` removes the stack's services the spec no longer has
/// (as `docker stack deploy --prune`); without it they are left running.
#[test]
fn deploy_prune_removes_services_no_longer_in_the_spec() {
    let _swarm = swarm();
    let both = format!(
        "x-healthy: &healthy {HEALTHY}\nservices:\n  relay:\n    <<: *healthy\n  \
         retired:\n    <<: *healthy\n"
    );
    let project = TestProject::new("swarm-prune", &both);
    let stack = project.name.clone();
    let _guard = StackGuard(stack.clone());
    project.torq(&["deploy"]).assert_code(0);
    let before = versions(&stack);
    assert_eq!(before.len(), 2, "{before:?}");

    project.write_spec(&format!(
        "x-healthy: &healthy {HEALTHY}\nservices:\n  relay:\n    <<: *healthy\n"
    ));
    let kept = project.torq(&["deploy"]);
    kept.assert_code(0);
    assert!(
        kept.stderr.contains("retired") && kept.stderr.contains("--prune"),
        "a warning names the service left running: {}",
        kept.stderr
    );
    assert_eq!(
        versions(&stack).len(),
        2,
        "without --prune nothing is removed"
    );

    let dry = project.torq(&["deploy", "--prune", "--dry-run"]);
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains(&format!("remove service {stack}_retired")),
        "{}",
        dry.stdout
    );
    assert_eq!(versions(&stack).len(), 2, "--dry-run touched nothing");

    let pruned = project.torq(&["deploy", "--prune"]);
    pruned.assert_code(0);
    assert!(pruned.stderr.contains("1 removed"), "{}", pruned.stderr);
    let after = versions(&stack);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        vec!["relay"],
        "only the spec's service is left"
    );
    assert_eq!(after["relay"], before["relay"], "relay was not touched");
    let retired = format!("label=com.docker.swarm.service.name={stack}_retired");
    assert!(
        ids_of("container", &retired).is_empty(),
        "the pruned service's containers are gone"
    );
}

/// An image the node does not have (and cannot pull: no registry here)
/// fails its service as a task failure with that reason: exit 2, the reason
/// printed, dependents untouched.
#[test]
fn a_missing_image_fails_its_service_with_that_reason() {
    let _swarm = swarm();
    let spec = format!(
        "x-healthy: &healthy {HEALTHY}\nservices:\n  relay:\n    <<: *healthy\n  \
         ghost:\n    <<: *healthy\n    image: torq-missing/ghost:1\n    \
         depends_on: {{ relay: {{ condition: service_healthy }} }}\n  \
         dashboard:\n    <<: *healthy\n    \
         depends_on: {{ ghost: {{ condition: service_healthy }} }}\n"
    );
    let project = TestProject::new("swarm-noimage", &spec);
    let stack = project.name.clone();
    let _guard = StackGuard(stack.clone());
    assert!(
        !docker(&["image", "inspect", "torq-missing/ghost:1"])
            .status
            .success(),
        "the image must not exist on this engine"
    );

    let result = project.torq(&["deploy", "--wait-timeout", "60"]);
    result.assert_code(2);
    let out = result.output();
    assert!(
        out.contains("ghost") && out.contains("image torq-missing/ghost:1 is missing on node"),
        "the failure names the image and the node: {out}"
    );
    assert!(out.contains("No such image"), "the engine's reason: {out}");
    assert_rollout_stopped_at(&stack, "ghost");
}

/// A service whose placement no node satisfies: the scheduler leaves its
/// task pending with its reason, and Swarm would keep it so until a node
/// changes. The deploy stops there — exit 2, the scheduler's reason shown,
/// the dependent never created — without waiting for its timeout (here
/// longer than the command's own deadline).
#[test]
fn a_service_no_node_can_take_fails_at_once_with_the_schedulers_reason() {
    let _swarm = swarm();
    let spec = format!(
        "x-healthy: &healthy {HEALTHY}\nservices:\n  relay:\n    <<: *healthy\n  \
         pinned:\n    <<: *healthy\n    \
         deploy: {{ placement: {{ constraints: [node.labels.torq-none == yes] }} }}\n    \
         depends_on: {{ relay: {{ condition: service_healthy }} }}\n  \
         dashboard:\n    <<: *healthy\n    \
         depends_on: {{ pinned: {{ condition: service_healthy }} }}\n"
    );
    let project = TestProject::new("swarm-nonode", &spec);
    let stack = project.name.clone();
    let _guard = StackGuard(stack.clone());

    let result = project.torq(&["deploy", "--wait-timeout", "3600"]);
    result.assert_code(2);
    let out = result.output();
    assert!(
        out.contains("pinned")
            && out.contains("no suitable node (scheduling constraints not satisfied on 1 node)"),
        "the scheduler's reason: {out}"
    );
    assert!(
        !out.contains("tasks running after"),
        "failed on the reason, not on the timeout: {out}"
    );
    assert!(
        !out.contains("Error grabbing logs"),
        "a task never scheduled has no logs to show: {out}"
    );
    assert_rollout_stopped_at(&stack, "pinned");
}

/// A failing update under `failure_action: pause` and `continue`: Swarm
/// pauses the one and completes the other, both keep the new spec (no
/// rollback), and the deploy exits 2 saying the update was left in place.
/// One fails by its new command exiting, the other by a new healthcheck
/// that fails.
#[test]
fn a_failing_update_is_left_in_place_under_pause_and_continue() {
    let _swarm = swarm();
    let services = |paused_extra: &str, continued_extra: &str| {
        format!(
            "x-healthy: &healthy {HEALTHY}\nservices:\n  \
             paused:\n    <<: *healthy\n    deploy:\n      \
             update_config: {{ failure_action: pause, monitor: 5s }}\n      \
             restart_policy: {{ condition: none }}\n{paused_extra}  \
             continued:\n    <<: *healthy\n    deploy:\n      \
             update_config: {{ failure_action: continue, monitor: 5s }}\n      \
             restart_policy: {{ condition: none }}\n{continued_extra}"
        )
    };
    let project = TestProject::new("swarm-leftin", &services("", ""));
    let stack = project.name.clone();
    let _guard = StackGuard(stack.clone());
    project.torq(&["deploy"]).assert_code(0);
    let before = versions(&stack);

    project.write_spec(&services(
        "    command: [\"sh\", \"-c\", \"echo new version crashed; exit 1\"]\n",
        "    healthcheck: { test: [\"CMD\", \"false\"], interval: 1s, timeout: 1s, retries: 1 }\n",
    ));
    let result = project.torq(&["deploy", "--wait-timeout", "120"]);
    result.assert_code(2);
    let out = result.output();
    assert!(
        out.contains("update left in place (update_config.failure_action: pause): Swarm paused"),
        "{out}"
    );
    assert!(
        out.contains(
            "update left in place (update_config.failure_action: continue): Swarm completed"
        ),
        "{out}"
    );
    assert!(out.contains("new version crashed"), "the task's log: {out}");
    assert!(!out.contains("rolled back"), "{out}");

    let after = versions(&stack);
    for (service, swarm_state) in [("paused", "paused"), ("continued", "completed")] {
        let state = docker_ok(&[
            "service",
            "inspect",
            &format!("{stack}_{service}"),
            "--format",
            "{{.UpdateStatus.State}}",
        ]);
        assert_eq!(
            state.trim(),
            swarm_state,
            "{service}'s update as Swarm records it"
        );
        assert_ne!(
            after[service].1, before[service].1,
            "{service} keeps the new spec (not rolled back)"
        );
    }
}

/// A stop-first update of a service that reserves more than half of the
/// node's CPUs: the new task is scheduled while the old one still stops,
/// and waits "no suitable node (insufficient resources …)" until it has —
/// not a verdict during an update, so each update converges. Start-first,
/// the node cannot hold both: the wait times out naming the scheduler's
/// reason.
#[test]
fn an_update_short_of_resources_until_its_old_task_stops_converges() {
    let _swarm = swarm();
    let nano_cpus: u64 = docker_ok(&[
        "node",
        "inspect",
        "self",
        "--format",
        "{{.Description.Resources.NanoCPUs}}",
    ])
    .trim()
    .parse()
    .expect("the node's CPUs");
    let cpus = format!("{:.2}", nano_cpus as f64 * 0.75 / 1e9);
    let spec = |version: u32, order: &str| {
        format!(
            "x-healthy: &healthy {HEALTHY}\nservices:\n  big:\n    <<: *healthy\n    \
             environment: {{ VERSION: \"{version}\" }}\n    deploy:\n      \
             resources: {{ reservations: {{ cpus: \"{cpus}\" }} }}\n      \
             update_config: {{ order: {order} }}\n"
        )
    };
    let project = TestProject::new("swarm-tight", &spec(0, "stop-first"));
    let stack = project.name.clone();
    let _guard = StackGuard(stack.clone());
    project.torq(&["deploy"]).assert_code(0);
    for version in 1..=3 {
        project.write_spec(&spec(version, "stop-first"));
        project.torq(&["deploy"]).assert_code(0);
    }

    project.write_spec(&spec(4, "start-first"));
    let result = project.torq(&["deploy", "--wait-timeout", "5"]);
    result.assert_code(2);
    let out = result.output();
    assert!(
        out.contains("tasks running after 5s: no suitable node (insufficient resources"),
        "{out}"
    );
}

/// `relay`, and with `adapters` two services that depend on it (one level
/// of two, created or removed at once).
fn relay_and_adapters(adapters: bool) -> String {
    let mut spec =
        format!("x-healthy: &healthy {HEALTHY}\nservices:\n  relay:\n    <<: *healthy\n");
    if adapters {
        for adapter in ["adapter_a", "adapter_b"] {
            spec.push_str(&format!(
                "  {adapter}:\n    <<: *healthy\n    \
                 depends_on: {{ relay: {{ condition: service_healthy }} }}\n"
            ));
        }
    }
    spec
}

/// What a command that lost the engine must not say: a failure per service.
fn assert_no_failure_per_service(output: &str) {
    for per_service in ["✗", "rollout stopped", "adapter_a:", "adapter_b:"] {
        assert!(
            !output.contains(per_service),
            "{per_service:?}: a failure per service in:\n{output}"
        );
    }
}

/// A `deploy` that loses the engine in the middle of its rollout — `relay`
/// is deployed and unchanged, the proxy closes at the first service create
/// (the two adapters of the next level) — exits 1 with the one message
/// naming the engine, not a failure per service.
#[test]
fn deploy_that_loses_the_engine_says_so_once() {
    let _swarm = swarm();
    let project = TestProject::new("swarm-lostdeploy", &relay_and_adapters(false));
    let _guard = StackGuard(project.name.clone());
    project.torq(&["deploy"]).assert_code(0);

    project.write_spec(&relay_and_adapters(true));
    let proxy = EngineProxy::close_on("/services/create");
    let mut command = project.torq_command(&["deploy", "--wait-timeout", "60"]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let result = run_with_deadline(command, COMMAND_DEADLINE);
    assert_lost_once(&result, &proxy);
    assert_no_failure_per_service(&result.output());
}

/// An `undeploy` that loses the engine as it deletes the first level's
/// services (the two adapters, at once; the proxy closes at the first
/// service deletion) exits 1 with the one message naming the engine, not a
/// failure per service.
#[test]
fn undeploy_that_loses_the_engine_says_so_once() {
    let _swarm = swarm();
    let project = TestProject::new("swarm-lostundeploy", &relay_and_adapters(true));
    let _guard = StackGuard(project.name.clone());
    project.torq(&["deploy"]).assert_code(0);

    let proxy = EngineProxy::close_on("DELETE /services/");
    let mut command = project.torq_command(&["undeploy", "--timeout", "60"]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let result = run_with_deadline(command, COMMAND_DEADLINE);
    assert_lost_once(&result, &proxy);
    assert_no_failure_per_service(&result.output());
}

/// `deploy logs -f` through an engine that goes away and comes back: it
/// says so once, resumes each service after its last line shown — every
/// number of both counters exactly once, those written meanwhile included —
/// and ends with Ctrl-C.
#[test]
fn deploy_logs_follow_resumes_when_the_engine_comes_back() {
    let _swarm = swarm();
    let project = TestProject::new("swarm-lostlogs", COUNTERS);
    let _guard = StackGuard(project.name.clone());
    project.torq(&["deploy"]).assert_code(0);

    let mut proxy = EngineProxy::start();
    let mut command = project.torq_command(&[
        "deploy",
        "logs",
        "-f",
        "-n",
        "all",
        "--reconnect-timeout",
        "120s",
    ]);
    command.env("DOCKER_HOST", proxy.docker_host());
    let torq = Watched::spawn(command);
    lose_and_regain_the_engine(&mut proxy, &torq, |tag| {
        service_written_so_far(&project.name, tag)
    });
    let stdout = finish_after_the_return(&proxy, torq);
    for tag in ["one", "two"] {
        assert_each_once(&counted(&stdout, tag), tag, 1, &stdout);
    }
}

/// The last number the counter service `tag` of `stack` has written, read
/// from the engine directly.
fn service_written_so_far(stack: &str, tag: &str) -> u64 {
    let service = format!("{stack}_{tag}");
    let tail = docker_ok(&["service", "logs", "--raw", "--tail", "1", &service]);
    counted(&format!("| {}", tail.trim()), tag)
        .last()
        .copied()
        .unwrap_or(0)
}

/// A spec using what `docker stack deploy` converts (every service runs on
/// this node). `{ext}` is an external overlay network, `{p1}`…`{p4}` free
/// ports. It avoids what docs/swarm.md names as torq's deliberate
/// differences in the created service: `extra_hosts` are in sorted order
/// and no tmpfs mount has a `mode`.
const RICH: &str = r#"
networks:
  front:
    driver: overlay
    attachable: true
    labels: { tier: front }
    driver_opts: { com.docker.network.driver.mtu: "1400" }
  back:
    internal: true
    ipam: { driver: default }
  outside: { external: true, name: "{ext}" }
volumes:
  data: { labels: { kind: data } }
  cache: { driver: local, driver_opts: { type: tmpfs, device: tmpfs, o: size=10m } }
secrets:
  token: { file: ./token.txt }
  api: { file: ./api.txt, labels: { purpose: api } }
configs:
  app: { file: ./app.conf }
  motd: { file: ./motd.txt, labels: { purpose: motd } }
services:
  web:
    image: {image}
    entrypoint: ["sh", "-c"]
    command: ["{loop}"]
    user: "0:0"
    working_dir: /srv
    hostname: web-host
    labels: { svc.label: container-side }
    environment: { MODE: fast, EMPTY: "", SHARED: inline }
    env_file: [./app.env]
    networks:
      front: { aliases: [www, web-alias] }
      back: {}
      outside: {}
    ports:
      - "{p1}:80"
      - "{p2}:81/udp"
      - { target: 82, published: {p3}, protocol: tcp, mode: ingress }
      - { target: 83, protocol: tcp, mode: host }
    volumes:
      - data:/data
      - { type: volume, source: cache, target: /cache, volume: { nocopy: true } }
      - ./site:/site:ro
      - { type: bind, source: ./site, target: /site2, read_only: true, bind: { propagation: rprivate } }
      - { type: tmpfs, target: /scratch, tmpfs: { size: 1048576 } }
    secrets:
      - token
      - { source: api, target: api_key, uid: "100", gid: "101", mode: 0400 }
    configs:
      - app
      - { source: motd, target: /etc/motd, uid: "0", gid: "0", mode: 0440 }
    extra_hosts: ["cache.local:10.0.0.6", "db.local:10.0.0.5"]
    dns: [8.8.8.8, 1.1.1.1]
    dns_search: [example.internal]
    cap_add: [NET_ADMIN, sys_time]
    cap_drop: [MKNOD]
    sysctls: { net.core.somaxconn: "1024" }
    ulimits: { nproc: 2048, nofile: { soft: 1024, hard: 4096 } }
    init: true
    read_only: true
    tty: true
    stdin_open: true
    stop_grace_period: 15s
    stop_signal: SIGINT
    logging: { driver: json-file, options: { max-size: 1m, max-file: "2" } }
    healthcheck:
      test: ["CMD-SHELL", "test -e /proc/1"]
      interval: 1s
      timeout: 1s
      retries: 3
      start_period: 5s
    isolation: default
    deploy:
      mode: replicated
      replicas: 2
      endpoint_mode: vip
      labels: { svc.deploy.label: service-side }
      resources:
        limits: { cpus: "0.5", memory: 64M, pids: 100 }
        reservations: { cpus: "0.01", memory: 8M }
      restart_policy: { condition: on-failure, delay: 2s, max_attempts: 3, window: 30s }
      update_config:
        { parallelism: 2, delay: 1s, failure_action: rollback, monitor: 3s, max_failure_ratio: 0.2, order: start-first }
      rollback_config:
        { parallelism: 0, delay: 500ms, failure_action: pause, monitor: 2s, max_failure_ratio: 0.5, order: stop-first }
      placement:
        constraints: [node.role == manager]
        preferences: [{ spread: node.labels.zone }]
        max_replicas_per_node: 2
  agent:
    image: docker.io/{image}
    entrypoint: sh -c
    command: "'trap \"exit 0\" TERM; while true; do sleep 0.1; done'"
    environment: [LIST_A=1, LIST_B=, TORQ_STACKDIFF_UNSET]
    ports: [{ target: 90, published: {p4}, mode: host, protocol: udp }]
    networks: [back]
    healthcheck: { disable: true }
    restart: always
    deploy:
      mode: global
      endpoint_mode: dnsrr
      update_config: { order: stop-first }
      placement: { constraints: [node.platform.os == linux] }
  worker:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    depends_on: [web]
    restart: on-failure
    healthcheck: { test: test -e /proc/1, interval: 1s, retries: 5 }
    stop_grace_period: 1m30s
    privileged: true
    security_opt: [no-new-privileges:true]
    container_name: fixed-worker
    expose: ["9000"]
    cap_drop: [ALL]
    cap_add: [CHOWN]
    logging: { driver: json-file }
    extra_hosts: { alpha.local: 10.0.0.8, zeta.local: 10.0.0.9 }
  oneshot:
    image: {image}:latest
    command: ["sh", "-c", "{loop}"]
    restart: "on-failure:4"
    healthcheck: { interval: 5s, retries: 2 }
    deploy:
      replicas: 0
      resources: { limits: { memory: 32M } }
      update_config: { failure_action: continue }
"#;

/// `docker stack deploy` and `torq deploy` of one rich spec create the same
/// services, networks, secrets and configs — compared as the engine holds
/// them, less what torq adds on purpose (its spec-hash label, the content
/// hash ending its secret and config names) — and warn about the same
/// ignored keys (but `restart`, which both convert and torq does not call
/// ignored). The two stacks are deployed one after the other: they publish
/// the same ports.
#[test]
fn deploy_creates_what_docker_stack_deploy_creates() {
    let _swarm = swarm();
    let project = TestProject::new("swarm-stackdiff", "services: {}\n");
    let dir = project.dir.path();
    for (file, text) in [
        ("token.txt", "s3cret"),
        ("api.txt", "apikey"),
        ("app.conf", "level=info\n"),
        ("motd.txt", "motd\n"),
        (
            "app.env",
            "FROM_FILE=1\nSHARED=file\n# comment\nEMPTY_IN_FILE=\n",
        ),
    ] {
        std::fs::write(dir.join(file), text).unwrap();
    }
    std::fs::create_dir(dir.join("site")).unwrap();
    let external = NetworkGuard::overlay(&unique_project("swarm-stackdiff-ext"));
    let ports = free_ports();
    let mut spec = RICH
        .replace("{ext}", &external.0)
        .replace("{image}", BUSYBOX_IMAGE);
    for (i, port) in ports.iter().enumerate() {
        spec = spec.replace(&format!("{{p{}}}", i + 1), &port.to_string());
    }
    project.write_spec(&spec);
    let reference_stack = format!("{}-ref", project.name);

    let reference_guard = StackGuard(reference_stack.clone());
    let mut stack_deploy = std::process::Command::new("docker");
    stack_deploy
        .args(["stack", "deploy", "--detach=true", "-c"])
        .arg(project.spec_path())
        .arg(&reference_stack)
        .current_dir(dir);
    let reference_run = run_with_deadline(stack_deploy, COMMAND_DEADLINE);
    reference_run.assert_code(0);
    let reference = stack_objects(&reference_stack);
    drop(reference_guard);
    // The scheduler frees a removed task's host port once the task is
    // gone from the swarm's store (until then torq's service would be
    // told the port is in use).
    wait_for(
        "the reference stack's tasks to be deleted",
        std::time::Duration::from_secs(60),
        || {
            let tasks = docker(&["stack", "ps", "-q", &reference_stack]);
            String::from_utf8_lossy(&tasks.stdout)
                .trim()
                .is_empty()
                .then_some(())
        },
    );

    let _guard = StackGuard(project.name.clone());
    let deployed = project.torq(&["deploy"]);
    deployed.assert_code(0);
    let ours = stack_objects(&project.name);

    let objects: Vec<&str> = reference.keys().map(String::as_str).collect();
    assert_eq!(
        objects,
        [
            "config STACK_app",
            "config STACK_motd",
            "network STACK_back",
            "network STACK_default",
            "network STACK_front",
            "secret STACK_api",
            "secret STACK_token",
            "service STACK_agent",
            "service STACK_oneshot",
            "service STACK_web",
            "service STACK_worker",
        ]
    );
    let differences = differences(&reference, &ours);
    assert!(
        differences.is_empty(),
        "docker stack deploy != torq deploy:\n{}",
        differences.join("\n")
    );
    assert_eq!(
        ignored_keys(&reference_run.stderr, "Ignoring unsupported options: "),
        ["privileged", "restart", "security_opt"]
    );
    assert_eq!(
        ignored_keys(&deployed.stderr, "warning: Ignoring unsupported options: "),
        ["privileged", "security_opt"]
    );
    let deprecated = |stderr: &str| -> Vec<String> {
        let mut lines: Vec<String> = stderr
            .lines()
            .map(|l| l.trim_start_matches("warning: Ignoring deprecated option "))
            .filter(|l| l.starts_with("container_name: ") || l.starts_with("expose: "))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(deprecated(&reference_run.stderr).len(), 2);
    assert_eq!(
        deprecated(&reference_run.stderr),
        deprecated(&deployed.stderr)
    );
}

/// The keys of the warning line starting with `prefix`.
fn ignored_keys(stderr: &str, prefix: &str) -> Vec<String> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|keys| keys.split(", ").map(str::to_string).collect())
        .unwrap_or_default()
}

/// Four ports nothing listens on now (for the published ports of a spec).
fn free_ports() -> [u16; 4] {
    let listeners: Vec<std::net::TcpListener> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    let port = |l: &std::net::TcpListener| l.local_addr().expect("its address").port();
    [
        port(&listeners[0]),
        port(&listeners[1]),
        port(&listeners[2]),
        port(&listeners[3]),
    ]
}

/// An attachable overlay network the test made (a spec's external
/// network), removed on drop.
struct NetworkGuard(String);

impl NetworkGuard {
    fn overlay(name: &str) -> NetworkGuard {
        docker_ok(&["network", "create", "-d", "overlay", "--attachable", name]);
        NetworkGuard(name.to_string())
    }
}

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.0]);
    }
}
