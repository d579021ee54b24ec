//! Publisher ids: the header's `source` byte, numbered as the original's
//! codec `SourceType` (collectors 1–19, strategies 20–39, execution 40–59,
//! system services 60–79, relays 80–99). A relay rejects a frame whose source
//! is not one of these, as the original's `MessageHeader::validate` does.

use super::frame::Domain;

/// Who published a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A Binance collector.
    BinanceCollector = 1,
    /// The Kraken adapter.
    KrakenCollector = 2,
    /// The Coinbase adapter.
    CoinbaseCollector = 3,
    /// The Polygon adapter.
    PolygonCollector = 4,
    /// A Gemini collector.
    GeminiCollector = 5,
    /// The flash-arbitrage strategy.
    ArbitrageStrategy = 20,
    /// A market maker.
    MarketMaker = 21,
    /// A trend follower.
    TrendFollower = 22,
    /// The original's Kraken signal strategy.
    KrakenSignalStrategy = 23,
    /// A portfolio manager.
    PortfolioManager = 40,
    /// A risk manager.
    RiskManager = 41,
    /// An execution engine.
    ExecutionEngine = 42,
    /// The dashboard.
    Dashboard = 60,
    /// A metrics collector (the relay benchmark publishes as one).
    MetricsCollector = 61,
    /// A state manager.
    StateManager = 62,
    /// The market-data relay (its heartbeats and counters).
    MarketDataRelay = 80,
    /// The signal relay.
    SignalRelay = 81,
    /// The execution relay.
    ExecutionRelay = 82,
}

impl Source {
    const ALL: [Source; 18] = [
        Source::BinanceCollector,
        Source::KrakenCollector,
        Source::CoinbaseCollector,
        Source::PolygonCollector,
        Source::GeminiCollector,
        Source::ArbitrageStrategy,
        Source::MarketMaker,
        Source::TrendFollower,
        Source::KrakenSignalStrategy,
        Source::PortfolioManager,
        Source::RiskManager,
        Source::ExecutionEngine,
        Source::Dashboard,
        Source::MetricsCollector,
        Source::StateManager,
        Source::MarketDataRelay,
        Source::SignalRelay,
        Source::ExecutionRelay,
    ];

    /// The source of a header byte (None: unknown, a frame to reject).
    pub fn from_u8(value: u8) -> Option<Source> {
        Source::ALL.into_iter().find(|s| *s as u8 == value)
    }

    /// The relay of a domain, as the source of its own frames.
    pub fn relay(domain: Domain) -> Source {
        match domain {
            Domain::MarketData | Domain::System => Source::MarketDataRelay,
            Domain::Signal => Source::SignalRelay,
            Domain::Execution => Source::ExecutionRelay,
        }
    }

    /// Whether this is a relay (80–99).
    pub fn is_relay(self) -> bool {
        (80..=99).contains(&(self as u8))
    }

    /// The name used in logs and JSON: the stack's service name where one
    /// runs as this source, else the original's name in snake case.
    pub fn service_name(self) -> &'static str {
        match self {
            Source::BinanceCollector => "binance_collector",
            Source::KrakenCollector => "kraken_adapter",
            Source::CoinbaseCollector => "coinbase_adapter",
            Source::PolygonCollector => "polygon_adapter",
            Source::GeminiCollector => "gemini_collector",
            Source::ArbitrageStrategy => "flash_arbitrage",
            Source::MarketMaker => "market_maker",
            Source::TrendFollower => "trend_follower",
            Source::KrakenSignalStrategy => "kraken_signal_strategy",
            Source::PortfolioManager => "portfolio_manager",
            Source::RiskManager => "risk_manager",
            Source::ExecutionEngine => "execution_engine",
            Source::Dashboard => "dashboard_websocket",
            Source::MetricsCollector => "metrics_collector",
            Source::StateManager => "state_manager",
            Source::MarketDataRelay => "market_data_relay",
            Source::SignalRelay => "signal_relay",
            Source::ExecutionRelay => "execution_relay",
        }
    }
}

/// The name of a source byte (`source<N>` when unknown).
pub fn source_name(value: u8) -> String {
    Source::from_u8(value).map_or_else(|| format!("source{value}"), |s| s.service_name().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_the_codecs() {
        assert_eq!(Source::KrakenCollector as u8, 2);
        assert_eq!(Source::CoinbaseCollector as u8, 3);
        assert_eq!(Source::PolygonCollector as u8, 4);
        assert_eq!(Source::ArbitrageStrategy as u8, 20);
        assert_eq!(Source::Dashboard as u8, 60);
        assert_eq!(Source::relay(Domain::Execution) as u8, 82);
        assert_eq!(Source::from_u8(10), None);
        assert_eq!(source_name(0xF0), "source240");
        assert!(Source::SignalRelay.is_relay() && !Source::Dashboard.is_relay());
    }
}
