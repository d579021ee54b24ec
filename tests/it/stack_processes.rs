//! The Torq stack as eight host processes of the torq executable (no Docker):
//! the dashboard's `/ws` delivers quotes from all three adapters, DEX
//! arbitrage signals (the default mode) and order requests, and `/status`
//! the sequence tracking; the services survive a relay restart by
//! reconnecting, and data flows through the new relay; every service exits 0
//! on SIGTERM. A second run puts the relays on TCP and the strategy in its
//! exchange-to-exchange mode. A third replays a `/ws` capture through an
//! adapter: its venue's market data, frames as recorded, the rest skipped
//! and counted.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::{frame, http_get, wait_for, FrameClient, HostStack};
use futures::StreamExt;
use serde_json::{json, Value};
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
                        event["bid_price"].as_f64() < event["ask_price"].as_f64(),
                        "crossed quote {event}"
                    );
                    quote_venues.insert(venue);
                }
                Some("pool_swap" | "pool_sync") => {
                    pool_venues.insert(venue);
                }
                Some("arbitrage_opportunity") => {
                    // The original's DEX strategy: two Polygon pools, profit after every cost.
                    assert!(
                        event["net_profit_usd"].as_f64().unwrap_or(0.0) > 0.0,
                        "{event}"
                    );
                    assert_eq!(event["chain_id"], 137, "{event}");
                    assert_ne!(event["pool_a"], event["pool_b"]);
                    assert_ne!(event["dex_buy"], event["dex_sell"]);
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
                let tracked = status["sequences"]["streams"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["source"] == "kraken_adapter"));
                (tracked
                    && ["market_data", "signal", "execution"]
                        .iter()
                        .all(|relay| status["relays"][relay]["connected"] == true))
                .then_some(())
            },
        )
    });

    // A publisher skips frames 3 and 4 and repeats 5: the consumers see the
    // gap (with its range) and the duplicate, on /status and in their logs.
    let socket = std::path::PathBuf::from(stack.socket("market_data"));
    tokio::task::block_in_place(|| {
        let mut gemini = FrameClient::connect(&socket);
        gemini.wait_registered();
        for sequence in [1, 2, 5, 5, 6] {
            gemini.send(&frame(1, 5, sequence, &[], None));
        }
        let stream = wait_for(
            "/status to show the gemini collector's gap and duplicate",
            Duration::from_secs(30),
            || {
                let (_, body) = http_get(addr, "/status").ok()?;
                let status: Value = serde_json::from_str(&body).expect("/status JSON");
                let streams = status["sequences"]["streams"].as_array()?.clone();
                streams
                    .into_iter()
                    .find(|s| s["source"] == "gemini_collector" && s["frames"] == 5)
            },
        );
        assert_eq!(
            (&stream["gaps"], &stream["missing"], &stream["duplicates"]),
            (&json!(1), &json!(2), &json!(1)),
            "{stream}"
        );
        assert_eq!(stream["last_gap"], json!([3, 4]));
    });
    for consumer in ["dashboard_websocket", "flash_arbitrage"] {
        let gap = "sequence gap from gemini_collector on market_data: frames 3..=4 missing";
        let log = tokio::task::block_in_place(|| {
            wait_for(
                &format!("{consumer} to log the gap"),
                Duration::from_secs(30),
                || {
                    let log = stack.log(consumer);
                    log.contains(gap).then_some(log)
                },
            )
        });
        assert!(
            log.lines().any(|l| l.contains(" WARN ") && l.contains(gap)),
            "{consumer} logs the gap at WARN:\n{log}"
        );
        assert!(
            log.contains(
                "duplicate sequence from gemini_collector on market_data: got 5, expected 6"
            ),
            "{consumer}:\n{log}"
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
            if event["timestamp"].as_u64().unwrap_or(0) > restarted_ns {
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

#[tokio::test(flavor = "multi_thread")]
async fn the_stack_runs_over_tcp_in_exchange_mode() {
    let mut stack = HostStack::start_with(&[], &["--mode", "exchange"], true);
    let addr = tokio::task::block_in_place(|| stack.dashboard_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connect to /ws");
    let (mut quotes, mut signals, mut orders) = (BTreeSet::new(), 0, 0);
    read_until(
        &mut ws,
        "quotes, an exchange-to-exchange signal and an order over TCP relays",
        Duration::from_secs(60),
        |event| {
            match event["msg_type"].as_str() {
                Some("quote") => {
                    quotes.insert(event["venue"].as_str().unwrap_or_default().to_string());
                }
                Some("arbitrage_opportunity") => {
                    // The exchange mode on the DEX-shaped record: chain 0, venues as the sides.
                    assert_eq!(event["chain_id"], 0, "{event}");
                    let sides = [event["dex_buy"].as_str(), event["dex_sell"].as_str()];
                    assert!(
                        sides == [Some("kraken"), Some("coinbase")]
                            || sides == [Some("coinbase"), Some("kraken")],
                        "{event}"
                    );
                    assert!(event["net_profit_usd"].as_f64().unwrap_or(0.0) > 0.0);
                    signals += 1;
                }
                Some("order_request") => orders += 1,
                _ => {}
            }
            quotes.len() == 2 && signals > 0 && orders > 0
        },
    )
    .await;
    let relay_log = stack.log("market_data_relay");
    assert!(
        relay_log.contains("listening on tcp://127.0.0.1:"),
        "{relay_log}"
    );
    let statuses = tokio::task::block_in_place(|| stack.terminate_all());
    assert_eq!(statuses.len(), 8);
    for (service, status) in statuses {
        assert_eq!(status.code(), Some(0), "{service} exits 0 on SIGTERM");
    }
}

/// A /ws capture, as the dashboard sends it: two Kraken events recorded
/// together, a Coinbase quote, a signal and its orders, a later Kraken quote.
const CAPTURE: &str = r#"{"msg_type":"quote","venue":"kraken","instrument":"BTC/USD","instrument_id":0,"bid_price":60000.5,"bid_size":1,"ask_price":60001,"ask_size":2,"quote_timestamp_ns":1,"source":"kraken_adapter","sequence":7,"timestamp":1700000000000000000}
{"msg_type":"trade","venue":"kraken","instrument":"BTC/USD","instrument_id":0,"price":60001,"volume":0.5,"side":"buy","execution_timestamp_ns":1,"source":"kraken_adapter","sequence":7,"timestamp":1700000000000000000}
{"msg_type":"quote","venue":"coinbase","instrument":"BTC/USD","instrument_id":0,"bid_price":60100,"bid_size":1,"ask_price":60101,"ask_size":1,"quote_timestamp_ns":1,"source":"coinbase_adapter","sequence":3,"timestamp":1700000000100000000}
{"msg_type":"arbitrage_opportunity","signal_id":"1","pair":"BTC/USD","net_profit_usd":40,"source":"flash_arbitrage","sequence":1,"timestamp":1700000000150000000}
{"msg_type":"order_request","signal_id":1,"venue":"kraken","instrument":"BTC/USD","side":"buy","price":60001,"quantity":1,"source":"flash_arbitrage","sequence":1,"timestamp":1700000000150000000}
{"msg_type":"quote","venue":"kraken","instrument":"ETH/USD","instrument_id":0,"bid_price":3000,"bid_size":1,"ask_price":3000.5,"ask_size":1,"quote_timestamp_ns":2,"source":"kraken_adapter","sequence":8,"timestamp":1700000000300000000}
"#;

#[test]
fn an_adapter_replays_its_venues_market_data_from_a_ws_capture() {
    use torq_stack::protocol::tlv::{decode_payload, Message};
    let mut stack = HostStack::empty();
    stack.start_relay("market_data");
    let socket = std::path::PathBuf::from(stack.socket("market_data"));
    let mut subscriber = FrameClient::connect(&socket);
    subscriber.wait_registered();
    let capture = stack.dir.path().join("capture.jsonl");
    std::fs::write(&capture, CAPTURE).expect("write the capture");
    let relay = stack.socket("market_data");
    let capture = capture.display().to_string();
    let args = [
        "adapter", "--venue", "kraken", "--relay", &relay, "--replay", &capture, "--speed", "10",
    ];
    stack.spawn("kraken_adapter", &args);

    // The two events recorded together travel in one frame, then the later quote.
    let frames: Vec<([u8; 32], Vec<Message>)> = (0..2)
        .map(|_| {
            let (header, payload) = subscriber.next_data_frame();
            (header, decode_payload(&payload).expect("records").messages)
        })
        .collect();
    let kinds: Vec<Vec<&str>> = frames
        .iter()
        .map(|(_, messages)| {
            messages
                .iter()
                .map(|m| match m {
                    Message::Quote(q) if q.instrument.symbol() == "BTC/USD" => "BTC quote",
                    Message::Quote(q) if q.instrument.symbol() == "ETH/USD" => "ETH quote",
                    Message::Trade(_) => "trade",
                    _ => "other",
                })
                .collect()
        })
        .collect();
    assert_eq!(kinds, vec![vec!["BTC quote", "trade"], vec!["ETH quote"]]);
    for (index, (header, _)) in frames.iter().enumerate() {
        assert_eq!(header[6], 2, "published as the Kraken collector");
        assert_eq!(
            u64::from_le_bytes(header[8..16].try_into().unwrap()),
            index as u64 + 1
        );
    }
    let Message::Quote(quote) = &frames[0].1[0] else {
        panic!()
    };
    assert_eq!(quote.bid_price.to_f64(), 60000.5);

    let log = wait_for("the replay to finish", Duration::from_secs(20), || {
        let log = stack.log("kraken_adapter");
        log.contains("replay finished").then_some(log)
    });
    assert!(
        log.contains("skipped 1 arbitrage_opportunity, 1 order_request, 1 other venues"),
        "{log}"
    );
    let status = stack.terminate("kraken_adapter");
    assert_eq!(status.code(), Some(0), "the adapter exits 0 on SIGTERM");
}
