//! Publisher ids: the header's `source` byte.

use super::tlv::Venue;

/// Who published a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The Kraken adapter.
    KrakenAdapter = 1,
    /// The Coinbase adapter.
    CoinbaseAdapter = 2,
    /// The Polygon adapter.
    PolygonAdapter = 3,
    /// The flash-arbitrage strategy.
    FlashArbitrage = 10,
    /// The dashboard.
    Dashboard = 20,
    /// The relay benchmark's publisher.
    Bench = 99,
    /// A relay itself (its heartbeats).
    Relay = 0xF0,
}

impl Source {
    const ALL: [Source; 7] = [
        Source::KrakenAdapter,
        Source::CoinbaseAdapter,
        Source::PolygonAdapter,
        Source::FlashArbitrage,
        Source::Dashboard,
        Source::Bench,
        Source::Relay,
    ];

    /// The source of a header byte.
    pub fn from_u8(value: u8) -> Option<Source> {
        Source::ALL.into_iter().find(|s| *s as u8 == value)
    }

    /// The adapter publishing a venue's feed.
    pub fn adapter(venue: Venue) -> Source {
        match venue {
            Venue::Kraken => Source::KrakenAdapter,
            Venue::Coinbase => Source::CoinbaseAdapter,
            Venue::Polygon => Source::PolygonAdapter,
        }
    }

    /// The service's name in the stack's spec.
    pub fn service_name(self) -> &'static str {
        match self {
            Source::KrakenAdapter => "kraken_adapter",
            Source::CoinbaseAdapter => "coinbase_adapter",
            Source::PolygonAdapter => "polygon_adapter",
            Source::FlashArbitrage => "flash_arbitrage",
            Source::Dashboard => "dashboard_websocket",
            Source::Bench => "relay_bench",
            Source::Relay => "relay",
        }
    }
}
