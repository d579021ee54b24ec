//! The Torq stack as eight host processes of the torq executable (no Docker):
//! the dashboard's `/ws` delivers quotes from all three adapters, arbitrage
//! signals and order requests; the services survive a relay restart by
//! reconnecting, and data flows through the new relay; every service exits 0
//! on SIGTERM.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::{http_get, wait_for, HostStack};
use futures::StreamExt;
use serde_json::Value;
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

    // `/status` shows the three relay links connected (it follows the links
    // asynchronously, so it is polled).
    tokio::task::block_in_place(|| {
        wait_for(
            "/status to show all three relays connected",
            Duration::from_secs(30),
            || {
                let (_, body) = http_get(addr, "/status").ok()?;
                let status: Value = serde_json::from_str(&body).expect("/status JSON");
                ["market_data", "signal", "execution"]
                    .iter()
                    .all(|relay| status["relays"][relay]["connected"] == true)
                    .then_some(())
            },
        )
    });

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
    // Data flows through the new relay: fresh quotes from both quoting venues
    // and fresh pool events from polygon (frames published while the relay was
    // away are dropped, not queued, so these came through the new one).
    let mut fresh_quotes = BTreeSet::new();
    let mut fresh_pools = false;
    read_until(
        &mut ws,
        "quotes and pool events through the restarted relay",
        Duration::from_secs(60),
        |event| {
            if event["timestamp_ns"].as_u64().unwrap_or(0) > restarted_ns {
                match event["msg_type"].as_str() {
                    Some("quote") => {
                        fresh_quotes
                            .insert(event["venue"].as_str().unwrap_or_default().to_string());
                    }
                    Some("pool_swap" | "pool_sync") => fresh_pools |= event["venue"] == "polygon",
                    _ => {}
                }
            }
            fresh_quotes.len() == 2 && fresh_pools
        },
    )
    .await;
    // All five clients of the market-data relay are back on the new relay.
    let new_relay_log = stack.service("market_data_relay").log.clone();
    tokio::task::block_in_place(|| {
        wait_for(
            "the three adapters, the strategy and the dashboard on the new relay",
            Duration::from_secs(60),
            || {
                let log = std::fs::read_to_string(&new_relay_log).ok()?;
                // A client joining (`(clients=5)`) or the counters line (` clients=5 `).
                (log.contains("(clients=5)") || log.contains(" clients=5 ")).then_some(())
            },
        )
    });
    // Each noticed the loss and ended up connected again, however many
    // attempts the reconnect took.
    for client in [
        "polygon_adapter",
        "kraken_adapter",
        "coinbase_adapter",
        "flash_arbitrage",
        "dashboard_websocket",
    ] {
        let log = stack.log(client);
        let lost = log.rfind("lost the market_data relay");
        let connected = log.rfind("connected to the market_data relay");
        assert!(
            lost.is_some() && connected > lost,
            "{client} lost the relay and reconnected:\n{log}"
        );
    }

    let statuses = tokio::task::block_in_place(|| stack.terminate_all());
    assert_eq!(statuses.len(), 8);
    for (service, status) in statuses {
        assert_eq!(status.code(), Some(0), "{service} exits 0 on SIGTERM");
    }
}
