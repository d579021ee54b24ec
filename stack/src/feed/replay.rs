//! Replay of a `/ws` capture: JSON lines as the dashboard sends them
//! (`{"msg_type":"quote","venue":"kraken",…,"timestamp":…}`), or hand-written
//! lines of the same form. An adapter replays the market data of its own
//! venue (quotes and trades of its exchange; pool swaps and syncs on
//! Polygon); derived events (`arbitrage_opportunity`, `order_request`) and
//! other venues' lines are skipped and counted. Events keep their recorded
//! timing (the envelope's `timestamp`, ns), sped up or slowed down by
//! `speed`; lines without a timestamp follow the previous one by a fixed
//! period. Consecutive events with the same timestamp travel in one frame,
//! as they were published. Blank lines and `#` comments are skipped.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::protocol::instrument::Venue;
use crate::protocol::{Event, Message};

/// A capture, read for one venue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capture {
    /// The venue's market data, with each line's recorded time (ns) if any.
    pub events: Vec<(Option<u64>, Message)>,
    /// Lines skipped, by reason (`arbitrage_opportunity`, `order_request`, `other venues`).
    pub skipped: BTreeMap<String, u64>,
}

impl Capture {
    /// A one-line summary of what was skipped.
    pub fn skipped_summary(&self) -> String {
        if self.skipped.is_empty() {
            return "nothing skipped".into();
        }
        let parts: Vec<String> = self
            .skipped
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        format!("skipped {}", parts.join(", "))
    }
}

/// Loads a capture's events of `venue`.
pub fn load(path: &Path, venue: Venue) -> anyhow::Result<Capture> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the replay file {}", path.display()))?;
    parse(&text, venue).with_context(|| format!("in the replay file {}", path.display()))
}

/// Parses capture lines, keeping the market data of `venue`.
pub fn parse(text: &str, venue: Venue) -> anyhow::Result<Capture> {
    let mut capture = Capture::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |what: &str| format!("line {}: {what}", number + 1);
        let value: Value = serde_json::from_str(line).with_context(|| at("not JSON"))?;
        let msg_type = value["msg_type"].as_str().unwrap_or_default().to_string();
        if !matches!(
            msg_type.as_str(),
            "trade" | "quote" | "pool_swap" | "pool_sync"
        ) {
            if msg_type.is_empty() {
                bail!(at("no msg_type"));
            }
            *capture.skipped.entry(msg_type).or_default() += 1;
            continue;
        }
        if value["venue"].as_str() != Some(venue.name()) {
            *capture.skipped.entry("other venues".into()).or_default() += 1;
            continue;
        }
        let timestamp = value["timestamp"].as_u64();
        let event: Event = serde_json::from_value(value)
            .with_context(|| at(&format!("not a {msg_type} event")))?;
        let message = event.to_message().with_context(|| at(&msg_type))?;
        capture.events.push((timestamp, message));
    }
    if capture.events.is_empty() {
        bail!(
            "no {} market data ({})",
            venue.name(),
            capture.skipped_summary()
        );
    }
    Ok(capture)
}

/// One frame of a replay: when to send it (after the replay's start) and its records.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Offset from the start of the replay.
    pub at: Duration,
    /// The records.
    pub messages: Vec<Message>,
}

/// The replay's frames: events grouped by recorded time, at the recorded
/// offsets divided by `speed`; untimed events `period` after the previous one.
pub fn schedule(events: &[(Option<u64>, Message)], speed: f64, period: Duration) -> Vec<Batch> {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    let mut batches: Vec<Batch> = Vec::new();
    let mut first_ns: Option<u64> = None;
    let mut last: Option<(Option<u64>, Duration)> = None;
    for (timestamp, message) in events {
        let at = match (timestamp, last) {
            (Some(t), Some((Some(previous), at))) if *t == previous => at,
            (Some(t), _) => {
                let first = *first_ns.get_or_insert(*t);
                let recorded = Duration::from_nanos(t.saturating_sub(first)).div_f64(speed);
                // Never earlier than the previous batch (a capture is in arrival order).
                last.map_or(recorded, |(_, at)| recorded.max(at))
            }
            (None, Some((_, at))) => at + period,
            (None, None) => Duration::ZERO,
        };
        let same_batch = last
            .is_some_and(|(t, previous)| timestamp.is_some() && t == *timestamp && previous == at);
        match (same_batch, batches.last_mut()) {
            (true, Some(batch)) => batch.messages.push(message.clone()),
            _ => batches.push(Batch {
                at,
                messages: vec![message.clone()],
            }),
        }
        last = Some((*timestamp, at));
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURE: &str = r#"
# a /ws capture
{"msg_type":"quote","venue":"kraken","instrument":"BTC/USD","instrument_id":0,"bid_price":1,"bid_size":1,"ask_price":2,"ask_size":1,"quote_timestamp_ns":5,"source":"kraken_adapter","sequence":1,"timestamp":1000000000}
{"msg_type":"trade","venue":"kraken","instrument":"BTC/USD","instrument_id":0,"price":2,"volume":1,"side":"buy","execution_timestamp_ns":5,"source":"kraken_adapter","sequence":1,"timestamp":1000000000}

{"msg_type":"quote","venue":"coinbase","instrument":"BTC/USD","instrument_id":0,"bid_price":1,"bid_size":1,"ask_price":2,"ask_size":1,"quote_timestamp_ns":5,"timestamp":1100000000}
{"msg_type":"arbitrage_opportunity","signal_id":"1","pair":"BTC/USD"}
{"msg_type":"order_request","signal_id":1}
{"msg_type":"order_request","signal_id":1}
{"msg_type":"quote","venue":"kraken","instrument":"ETH/USD","instrument_id":0,"bid_price":1,"bid_size":1,"ask_price":2,"ask_size":1,"quote_timestamp_ns":6,"timestamp":1500000000}
{"msg_type":"quote","venue":"kraken","instrument":"SOL/USD","instrument_id":0,"bid_price":1,"bid_size":1,"ask_price":2,"ask_size":1,"quote_timestamp_ns":7}
"#;

    #[test]
    fn a_capture_replays_its_venues_market_data_and_counts_the_rest() {
        let capture = parse(CAPTURE, Venue::Kraken).unwrap();
        assert_eq!(capture.events.len(), 4);
        assert!(matches!(capture.events[1].1, Message::Trade(_)));
        assert_eq!(
            capture.skipped_summary(),
            "skipped 1 arbitrage_opportunity, 2 order_request, 1 other venues"
        );
        let coinbase = parse(CAPTURE, Venue::Coinbase).unwrap();
        assert_eq!(coinbase.events.len(), 1);
        assert!(format!("{:#}", parse(CAPTURE, Venue::Polygon).unwrap_err())
            .contains("no polygon market data"));
    }

    #[test]
    fn recorded_timing_is_kept_and_scaled() {
        let capture = parse(CAPTURE, Venue::Kraken).unwrap();
        let period = Duration::from_millis(100);
        let batches = schedule(&capture.events, 1.0, period);
        let offsets: Vec<(u128, usize)> = batches
            .iter()
            .map(|b| (b.at.as_millis(), b.messages.len()))
            .collect();
        // The quote and trade recorded together travel together; ETH 500 ms
        // later; the untimed SOL line one period after that.
        assert_eq!(offsets, vec![(0, 2), (500, 1), (600, 1)]);
        let fast = schedule(&capture.events, 10.0, period);
        assert_eq!(fast[1].at, Duration::from_millis(50));
    }

    #[test]
    fn errors_name_the_line() {
        let error = parse("{}\n", Venue::Kraken).unwrap_err();
        assert!(
            format!("{error:#}").contains("line 1: no msg_type"),
            "{error:#}"
        );
        let bad = r#"{"msg_type":"quote","venue":"kraken"}"#;
        assert!(format!("{:#}", parse(bad, Venue::Kraken).unwrap_err())
            .contains("line 1: not a quote event"));
    }
}
