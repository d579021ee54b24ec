//! What the dashboard knows: the latest quote per venue and instrument, the
//! latest state of each pool, recent signals and orders, counts per event
//! type, each relay's link state and counters (from the counters record of
//! its System-domain heartbeat frames), and every publisher's sequence gaps
//! and duplicates (from the links). Every event is also broadcast, as JSON,
//! to the `/ws` clients.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::client::RelayLink;
use crate::protocol::sequence::StreamStats;
use crate::protocol::tlv::{decode_payload, RelayCounters};
use crate::protocol::{Domain, Envelope, Event, Frame, Message};

/// Signals and orders kept for new `/ws` clients.
const HISTORY: usize = 50;
/// Events a slow `/ws` client may lag behind before it skips some.
const WS_BACKLOG: usize = 4096;

/// The dashboard's shared state.
#[derive(Debug)]
pub struct DashboardState {
    inner: Mutex<Snapshot>,
    events: broadcast::Sender<Utf8Bytes>,
    started: Instant,
    links: Mutex<Vec<RelayLink>>,
}

#[derive(Debug, Default)]
struct Snapshot {
    quotes: BTreeMap<(String, String), Utf8Bytes>,
    pools: BTreeMap<String, Utf8Bytes>,
    signals: VecDeque<Utf8Bytes>,
    orders: VecDeque<Utf8Bytes>,
    counts: BTreeMap<&'static str, u64>,
    relays: BTreeMap<Domain, RelayView>,
    undecodable: u64,
    unknown_records: u64,
}

/// One relay as the dashboard sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayView {
    /// The link is up.
    pub connected: bool,
    /// Frames received from it.
    pub frames: u64,
    /// The relay's own counters, from its last heartbeat frame.
    pub counters: Option<CountersView>,
}

/// A relay's counters, as its counters record reports them.
#[derive(Debug, Clone, Serialize)]
pub struct CountersView {
    /// Relay uptime.
    pub uptime_ms: u64,
    /// Frames received by the relay.
    pub frames_in: u64,
    /// Frames the relay queued to clients.
    pub frames_out: u64,
    /// Bytes received by the relay.
    pub bytes_in: u64,
    /// Clients connected to the relay.
    pub clients: u32,
    /// Frames the relay rejected.
    pub bad_frames: u64,
    /// Clients the relay cut off as slow.
    pub slow_dropped: u64,
}

impl From<&RelayCounters> for CountersView {
    fn from(c: &RelayCounters) -> CountersView {
        CountersView {
            uptime_ms: c.uptime_ms,
            frames_in: c.frames_in,
            frames_out: c.frames_out,
            bytes_in: c.bytes_in,
            clients: c.clients,
            bad_frames: c.bad_frames,
            slow_dropped: c.slow_dropped,
        }
    }
}

/// Sequence tracking over every relay link.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SequenceView {
    /// Gaps seen, all publishers.
    pub gaps: u64,
    /// Frames missing in them.
    pub missing: u64,
    /// Duplicate frames.
    pub duplicates: u64,
    /// Per relay and publisher.
    pub streams: Vec<StreamStats>,
}

/// The `/status` document.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Always `dashboard_websocket`.
    pub service: &'static str,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Connected `/ws` clients.
    pub ws_clients: usize,
    /// Events received, by `msg_type`.
    pub events: BTreeMap<&'static str, u64>,
    /// Frames whose payload could not be decoded.
    pub undecodable: u64,
    /// Records of unknown types, skipped.
    pub unknown_records: u64,
    /// Each relay.
    pub relays: BTreeMap<&'static str, RelayView>,
    /// Sequence gaps and duplicates per publisher.
    pub sequences: SequenceView,
}

impl Default for DashboardState {
    fn default() -> Self {
        DashboardState::new()
    }
}

impl DashboardState {
    /// An empty state.
    pub fn new() -> DashboardState {
        let (events, _) = broadcast::channel(WS_BACKLOG);
        let mut snapshot = Snapshot::default();
        for domain in Domain::RELAYS {
            snapshot.relays.insert(domain, RelayView::default());
        }
        DashboardState {
            inner: Mutex::new(snapshot),
            events,
            started: Instant::now(),
            links: Mutex::default(),
        }
    }

    /// Adds a relay link whose sequence tracking `/status` reports.
    pub fn add_link(&self, link: RelayLink) {
        if let Ok(mut links) = self.links.lock() {
            links.push(link);
        }
    }

    fn sequences(&self) -> SequenceView {
        let mut view = SequenceView::default();
        let links = self.links.lock().map(|l| l.clone()).unwrap_or_default();
        for link in links {
            let tracker = link.sequences();
            let (gaps, missing, duplicates) = tracker.totals();
            view.gaps += gaps;
            view.missing += missing;
            view.duplicates += duplicates;
            view.streams.extend(tracker.stats());
        }
        view
    }

    /// Records a relay link going up or down.
    pub fn set_connected(&self, domain: Domain, connected: bool) {
        if let Ok(mut s) = self.inner.lock() {
            s.relays.entry(domain).or_default().connected = connected;
        }
    }

    /// Takes in a frame from the `domain` relay.
    pub fn on_frame(&self, domain: Domain, frame: &Frame) {
        let Ok(mut s) = self.inner.lock() else { return };
        s.relays.entry(domain).or_default().frames += 1;
        let decoded = match decode_payload(&frame.payload) {
            Ok(decoded) => decoded,
            Err(_) => {
                s.undecodable += 1;
                return;
            }
        };
        s.unknown_records += decoded.skipped as u64;
        let h = &frame.header;
        for message in &decoded.messages {
            if let Message::RelayCounters(counters) = message {
                s.relays.entry(domain).or_default().counters = Some(counters.into());
                continue;
            }
            let Some(envelope) = Envelope::new(message, h.source, h.sequence, h.timestamp_ns)
            else {
                continue;
            };
            let Ok(json) = serde_json::to_string(&envelope) else {
                continue;
            };
            let json = Utf8Bytes::from(json);
            s.remember(&envelope.event, json.clone());
            let _ = self.events.send(json);
        }
    }

    /// A `/ws` client's view: the current snapshot, then live events.
    pub fn subscribe(&self) -> (Vec<Utf8Bytes>, broadcast::Receiver<Utf8Bytes>) {
        let Ok(s) = self.inner.lock() else {
            return (Vec::new(), self.events.subscribe());
        };
        let mut snapshot: Vec<Utf8Bytes> = s.quotes.values().cloned().collect();
        snapshot.extend(s.pools.values().cloned());
        snapshot.extend(s.signals.iter().cloned());
        snapshot.extend(s.orders.iter().cloned());
        (snapshot, self.events.subscribe())
    }

    /// The `/status` document.
    pub fn status(&self) -> Status {
        let sequences = self.sequences();
        let s = self.inner.lock().ok();
        Status {
            sequences,
            service: "dashboard_websocket",
            uptime_s: self.started.elapsed().as_secs(),
            ws_clients: self.events.receiver_count(),
            events: s.as_ref().map(|s| s.counts.clone()).unwrap_or_default(),
            undecodable: s.as_ref().map_or(0, |s| s.undecodable),
            unknown_records: s.as_ref().map_or(0, |s| s.unknown_records),
            relays: s
                .map(|s| {
                    s.relays
                        .iter()
                        .map(|(d, v)| (d.name(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl Snapshot {
    fn remember(&mut self, event: &Event, json: Utf8Bytes) {
        *self.counts.entry(event.msg_type()).or_default() += 1;
        match event {
            Event::Quote {
                venue, instrument, ..
            } => {
                self.quotes
                    .insert((venue.clone(), instrument.clone()), json);
            }
            Event::PoolSync { pool_address, .. } => {
                self.pools.insert(pool_address.clone(), json);
            }
            Event::ArbitrageOpportunity { .. } => push_bounded(&mut self.signals, json),
            Event::OrderRequest { .. } => push_bounded(&mut self.orders, json),
            Event::Trade { .. } | Event::PoolSwap { .. } => {}
        }
    }
}

fn push_bounded(queue: &mut VecDeque<Utf8Bytes>, json: Utf8Bytes) {
    if queue.len() == HISTORY {
        queue.pop_front();
    }
    queue.push_back(json);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::instrument::{venue_id, InstrumentId};
    use crate::protocol::tlv::{encode_payload, ArbitrageSignal, Fixed, Quote};
    use crate::protocol::{FrameBuilder, FrameReader, Source};

    fn frame(domain: Domain, source: Source, messages: &[Message]) -> Frame {
        let bytes =
            FrameBuilder::new(domain, source as u8).build(&encode_payload(messages).unwrap(), 9);
        let mut reader = FrameReader::new();
        reader.buffer().extend_from_slice(&bytes);
        reader.next_frame().unwrap().unwrap()
    }

    fn quote() -> Message {
        Message::Quote(Quote {
            instrument: InstrumentId::coin(venue_id::KRAKEN, "BTC/USD"),
            bid_price: Fixed::from_f64(1.0),
            bid_size: Fixed::from_f64(1.0),
            ask_price: Fixed::from_f64(2.0),
            ask_size: Fixed::from_f64(1.0),
            quote_timestamp_ns: 0,
        })
    }

    fn signal() -> Message {
        let found = crate::arbitrage::book::Opportunity {
            instrument: "BTC/USD".into(),
            buy_venue: crate::protocol::Venue::Kraken,
            sell_venue: crate::protocol::Venue::Coinbase,
            buy_price: 1.0,
            sell_price: 2.0,
            size: 1.0,
            fees: 0.0,
            net_profit: 1.0,
        };
        let signal: ArbitrageSignal = crate::arbitrage::signal::exchange(&found, 1, 0).signal;
        Message::ArbitrageSignal(signal)
    }

    #[test]
    fn events_are_broadcast_as_json_and_remembered() {
        let state = DashboardState::new();
        let (snapshot, mut live) = state.subscribe();
        assert!(snapshot.is_empty());
        state.on_frame(
            Domain::MarketData,
            &frame(
                Domain::MarketData,
                Source::KrakenCollector,
                &[quote(), quote()],
            ),
        );
        state.on_frame(
            Domain::Signal,
            &frame(Domain::Signal, Source::ArbitrageStrategy, &[signal()]),
        );
        let first: serde_json::Value =
            serde_json::from_str(live.try_recv().unwrap().as_str()).unwrap();
        assert_eq!(first["msg_type"], "quote");
        assert_eq!(first["source"], "kraken_adapter");
        let (snapshot, _) = state.subscribe();
        assert_eq!(
            snapshot.len(),
            2,
            "one quote per venue and instrument, one signal"
        );
        let status = state.status();
        assert_eq!(status.events["quote"], 2);
        assert_eq!(status.events["arbitrage_opportunity"], 1);
        assert_eq!(status.relays["market_data"].frames, 1);
    }

    #[test]
    fn relay_counters_update_the_relay_and_are_not_events() {
        let state = DashboardState::new();
        let counters = Message::RelayCounters(RelayCounters {
            frames_in: 5,
            clients: 3,
            ..RelayCounters::default()
        });
        state.on_frame(
            Domain::Execution,
            &frame(Domain::System, Source::ExecutionRelay, &[counters]),
        );
        let status = state.status();
        let counters = status.relays["execution"].counters.as_ref().unwrap();
        assert_eq!((counters.frames_in, counters.clients), (5, 3));
        assert!(status.events.is_empty());
    }

    #[test]
    fn unknown_records_are_skipped_and_counted() {
        let state = DashboardState::new();
        let mut payload = vec![99, 2, 0, 0];
        payload.extend(encode_payload(&[quote()]).unwrap());
        let bytes = FrameBuilder::new(Domain::MarketData, 2).build(&payload, 0);
        let mut reader = FrameReader::new();
        reader.buffer().extend_from_slice(&bytes);
        state.on_frame(Domain::MarketData, &reader.next_frame().unwrap().unwrap());
        let status = state.status();
        assert_eq!((status.unknown_records, status.events["quote"]), (1, 1));
    }

    #[test]
    fn history_is_bounded() {
        let state = DashboardState::new();
        for _ in 0..HISTORY + 10 {
            state.on_frame(
                Domain::Signal,
                &frame(Domain::Signal, Source::ArbitrageStrategy, &[signal()]),
            );
        }
        assert_eq!(state.subscribe().0.len(), HISTORY);
    }
}
