//! The Torq stack as eight host processes of the torq executable (no Docker):
//! the dashboard's `/ws` delivers quotes from all three adapters, arbitrage
//! signals and order requests; the services survive a relay restart by
//! reconnecting; every service exits 0 on SIGTERM.

mod stack_common;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use stack_common::{http_get, HostStack};
use tokio_tungstenite::tungstenite::Message;

const MSG_TYPES: [&str; 6] = [
    "trade",
    "quote",
    "pool_swap",
    "pool_sync",
    "arbitrage_opportunity",
    "order_request",
];

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads `/ws` events until `done` says so, or fails after `deadline`.
async fn read_until(
    ws: &mut Socket,
    what: &str,
    deadline: Duration,
    mut done: impl FnMut(&Value) -> bool,
) {
    let reading = async {
        while let Some(message) = ws.next().await {
            let Message::Text(text) = message.expect("a /ws message") else {
                continue;
            };
            let event: Value = serde_json::from_str(text.as_str()).expect("JSON event");
            let msg_type = event["msg_type"].as_str().unwrap_or_default();
            assert!(
                MSG_TYPES.contains(&msg_type),
                "unexpected msg_type in {event}"
            );
            if done(&event) {
                return;
            }
        }
        panic!("/ws closed while waiting for {what}");
    };
    tokio::time::timeout(deadline, reading)
        .await
        .unwrap_or_else(|_| panic!("no {what} on /ws within {deadline:?}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stack_processes_stream_events_reconnect_and_stop_cleanly() {
    let mut stack = HostStack::start(&[]);
    let addr = tokio::task::block_in_place(|| stack.dashboard_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connect to /ws");

    let mut quote_venues = BTreeSet::new();
    let mut pool_venues = BTreeSet::new();
    let (mut signals, mut orders) = (0, 0);
    read_until(
        &mut ws,
        "quotes of every venue, a signal and an order",
        Duration::from_secs(60),
        |event| {
            let venue = event["venue"].as_str().unwrap_or_default().to_string();
            match event["msg_type"].as_str() {
                Some("quote") => {
                    assert!(
                        event["bid"].as_f64() < event["ask"].as_f64(),
                        "crossed quote {event}"
                    );
                    quote_venues.insert(venue);
                }
                Some("pool_swap" | "pool_sync") => {
                    pool_venues.insert(venue);
                }
                Some("arbitrage_opportunity") => {
                    assert!(
                        event["expected_profit"].as_f64().unwrap_or(0.0) > 0.0,
                        "{event}"
                    );
                    assert_ne!(event["buy_venue"], event["sell_venue"]);
                    signals += 1;
                }
                Some("order_request") => orders += 1,
                _ => {}
            }
            quote_venues.len() == 2 && pool_venues.contains("polygon") && signals > 0 && orders > 0
        },
    )
    .await;
    assert_eq!(
        quote_venues,
        BTreeSet::from(["coinbase".to_string(), "kraken".to_string()])
    );

    let status = tokio::task::block_in_place(|| http_get(addr, "/status")).expect("GET /status");
    let status: Value = serde_json::from_str(&status.1).expect("/status JSON");
    for relay in ["market_data", "signal", "execution"] {
        assert_eq!(
            status["relays"][relay]["connected"], true,
            "{relay} in {status}"
        );
    }

    // The market-data relay goes away and comes back: adapters and subscribers reconnect.
    let stopped = tokio::task::block_in_place(|| stack.terminate("market_data_relay"));
    assert!(
        stopped.success(),
        "the relay exits 0 on SIGTERM: {stopped:?}"
    );
    stack.start_relay("market_data");
    let restarted_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let mut fresh_venues = BTreeSet::new();
    read_until(
        &mut ws,
        "quotes through the restarted relay",
        Duration::from_secs(60),
        |event| {
            if event["msg_type"] == "quote"
                && event["timestamp_ns"].as_u64().unwrap_or(0) > restarted_ns
            {
                fresh_venues.insert(event["venue"].as_str().unwrap_or_default().to_string());
            }
            fresh_venues.len() == 2
        },
    )
    .await;
    let kraken_log = stack.log("kraken_adapter");
    assert!(
        kraken_log.contains("lost the market_data relay"),
        "{kraken_log}"
    );
    assert_eq!(
        kraken_log
            .matches("connected to the market_data relay")
            .count(),
        2,
        "{kraken_log}"
    );

    let statuses = tokio::task::block_in_place(|| stack.terminate_all());
    assert_eq!(statuses.len(), 8);
    for (service, status) in statuses {
        assert_eq!(status.code(), Some(0), "{service} exits 0 on SIGTERM");
    }
}
