//! End to end: `torq up` of the real Torq stack (compose/torq.yaml with the
//! CI overlay, its own project name) brings all eight services up healthy,
//! and `torq status` (table and JSON) shows each of them running and healthy;
//! the dashboard's `/ws` then delivers, within 30 s, quotes from the exchange
//! adapters, Polygon pool events, an arbitrage_opportunity and an
//! order_request (the synthetic pools dislocate in a random 40 % of seconds;
//! simulated over 20,000 s, the longest stretch without an opportunity was
//! 17 s, so 30 s is a bound, not a hope); `torq down` stops all eight with exit code 0 (none killed).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{
    docker, docker_ok, now_epoch_secs, project_containers, project_events, run_with_deadline,
    unique_project, wait_for, CommandResult, ProjectGuard, COMMAND_DEADLINE,
};
use crate::support::{STACK_SERVICES, TORQ};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

fn torq(project: &str, args: &[&str]) -> CommandResult {
    let compose = Path::new(env!("CARGO_MANIFEST_DIR")).join("compose");
    let mut cmd = Command::new(TORQ);
    cmd.arg("-p")
        .arg(project)
        .arg("-f")
        .arg(compose.join("torq.yaml"))
        .arg("-f")
        .arg(compose.join("ci.yaml"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TORQ_DASHBOARD_PORT");
    tokio::task::block_in_place(|| run_with_deadline(cmd, COMMAND_DEADLINE))
}

/// How long `/ws` may take to show every kind of event, opportunities included.
const OPPORTUNITY_DEADLINE: Duration = Duration::from_secs(30);

/// The last log lines of `services`, for a failure message.
fn last_logs(project: &str, services: &[&str]) -> String {
    services
        .iter()
        .map(|service| {
            let logs = docker(&["logs", "--tail", "20", &format!("{project}-{service}-1")]);
            format!(
                "--- {service}:\n{}{}",
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn torq_up_runs_the_stack_and_down_stops_it_gracefully() {
    let project = unique_project("stack-e2e");
    let _guard = ProjectGuard::new(project.clone());

    torq(&project, &["up"]).assert_code(0);
    assert_eq!(project_containers(&project).len(), 8);
    // torq gates on its own run of each healthcheck; the engine's first
    // scheduled check follows within an interval.
    wait_for(
        "the engine to report all eight healthy",
        Duration::from_secs(30),
        || {
            let rows = project_containers(&project);
            rows.iter()
                .all(|r| r.state == "running" && r.is_healthy())
                .then_some(())
        },
    );
    assert_status_shows_all_running_and_healthy(&project);

    let ports = docker_ok(&["port", &format!("{project}-dashboard_websocket-1"), "8080"]);
    let port = ports
        .lines()
        .find_map(|l| l.strip_prefix("0.0.0.0:"))
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no published IPv4 port in {ports:?}"));
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .expect("connect to /ws");
    let mut venues = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let wanted = [
        "quote",
        "pool_sync",
        "arbitrage_opportunity",
        "order_request",
    ];
    let reading = async {
        while let Some(message) = ws.next().await {
            let Message::Text(text) = message.expect("a /ws message") else {
                continue;
            };
            let event: Value = serde_json::from_str(text.as_str()).expect("JSON event");
            let msg_type = event["msg_type"].as_str().unwrap_or_default().to_string();
            if matches!(msg_type.as_str(), "quote" | "pool_sync" | "pool_swap") {
                venues.insert(event["venue"].as_str().unwrap_or_default().to_string());
            }
            seen.insert(msg_type);
            if venues.len() == 3 && wanted.iter().all(|w| seen.contains(*w)) {
                return;
            }
        }
    };
    let within = tokio::time::timeout(OPPORTUNITY_DEADLINE, reading).await;
    assert!(
        within.is_ok(),
        "within {OPPORTUNITY_DEADLINE:?} /ws showed venues {venues:?} and events {seen:?}\n{}",
        last_logs(&project, &["flash_arbitrage", "dashboard_websocket"])
    );
    assert_eq!(
        venues,
        BTreeSet::from(["coinbase".into(), "kraken".into(), "polygon".into()])
    );

    let since = now_epoch_secs();
    torq(&project, &["down", "-v"]).assert_code(0);
    let until = now_epoch_secs();
    assert!(
        project_containers(&project).is_empty(),
        "down removes the containers"
    );
    let events = project_events(&project, since, until);
    let deaths: Vec<_> = events.iter().filter(|e| e.action == "die").collect();
    assert_eq!(deaths.len(), 8, "{events:#?}");
    for death in deaths {
        assert_eq!(
            death.exit_code,
            Some(0),
            "{} exits 0 on its stop signal",
            death.service
        );
    }
    let kills: Vec<_> = events
        .iter()
        .filter(|e| e.action == "kill" && e.signal.as_deref() == Some("9"))
        .collect();
    assert!(kills.is_empty(), "none is SIGKILLed: {kills:#?}");
}

/// `torq status` exits 0, its table has a `● RUNNING … healthy` row for every
/// service, and its JSON lists the eight in spec order, running and healthy.
fn assert_status_shows_all_running_and_healthy(project: &str) {
    let table = torq(project, &["status"]);
    table.assert_code(0);
    for service in STACK_SERVICES {
        let row = table
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(service))
            .unwrap_or_else(|| panic!("no row for {service}:\n{}", table.stdout));
        let cells: Vec<&str> = row
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells.get(1..3),
            Some(&["● RUNNING", "healthy"][..]),
            "{service}'s row:\n{}",
            table.stdout
        );
    }

    let json = torq(project, &["status", "--format", "json"]);
    json.assert_code(0);
    let report: Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("status JSON does not parse ({e}):\n{}", json.stdout));
    assert_eq!(report["ok"], true, "{report:#}");
    let rows: Vec<(&str, &str, &str)> = report["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no services in {report:#}"))
        .iter()
        .map(|s| {
            let field = |key: &str| s[key].as_str().unwrap_or_default();
            (field("service"), field("state"), field("health"))
        })
        .collect();
    let expected: Vec<(&str, &str, &str)> = STACK_SERVICES
        .iter()
        .map(|service| (*service, "running", "healthy"))
        .collect();
    assert_eq!(rows, expected, "{report:#}");
}
