//! JSON events: the dashboard's `/ws` messages and the adapters' replay
//! lines. One event per line or message, tagged by `msg_type`. Converts to
//! and from the binary [`Message`]s.

use serde::{Deserialize, Serialize};

use super::source::Source;
use super::tlv::{
    ArbitrageSignal, Fixed, Message, OrderRequest, PoolSwap, PoolSync, Quote, Side, Trade, Venue,
};

/// A market-data, signal or order event as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename_all = "snake_case")]
pub enum Event {
    /// A trade.
    Trade {
        /// Venue name.
        venue: String,
        /// Instrument, e.g. `BTC/USD`.
        instrument: String,
        /// Price.
        price: f64,
        /// Quantity.
        size: f64,
        /// `buy` or `sell`.
        side: String,
    },
    /// A top-of-book quote.
    Quote {
        /// Venue name.
        venue: String,
        /// Instrument.
        instrument: String,
        /// Best bid.
        bid: f64,
        /// Quantity at the best bid.
        bid_size: f64,
        /// Best ask.
        ask: f64,
        /// Quantity at the best ask.
        ask_size: f64,
    },
    /// A DEX pool swap.
    PoolSwap {
        /// Venue name.
        venue: String,
        /// Pool, e.g. `WETH/USDC`.
        pool: String,
        /// Tokens in.
        amount_in: f64,
        /// Tokens out.
        amount_out: f64,
        /// Token0 in (else token1 in).
        zero_for_one: bool,
        /// Pool price after the swap.
        price: f64,
    },
    /// A DEX pool's reserves.
    PoolSync {
        /// Venue name.
        venue: String,
        /// Pool.
        pool: String,
        /// Reserve of token0.
        reserve0: f64,
        /// Reserve of token1.
        reserve1: f64,
    },
    /// An arbitrage signal.
    ArbitrageOpportunity {
        /// Signal id.
        signal_id: u64,
        /// Instrument.
        instrument: String,
        /// Venue to buy on.
        buy_venue: String,
        /// Venue to sell on.
        sell_venue: String,
        /// Ask bought.
        buy_price: f64,
        /// Bid sold.
        sell_price: f64,
        /// Quantity.
        size: f64,
        /// Profit after fees.
        expected_profit: f64,
        /// Spread between the two venues in basis points of the buy price.
        spread_bps: f64,
    },
    /// An order request.
    OrderRequest {
        /// Order id.
        order_id: u64,
        /// The signal it executes.
        signal_id: u64,
        /// Venue name.
        venue: String,
        /// Instrument.
        instrument: String,
        /// `buy` or `sell`.
        side: String,
        /// Limit price.
        price: f64,
        /// Quantity.
        size: f64,
    },
}

/// An event with where and when it was published, as sent on `/ws`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    /// The event.
    #[serde(flatten)]
    pub event: Event,
    /// The publisher (`kraken_adapter`, `flash_arbitrage`, …).
    pub source: &'static str,
    /// The publisher's frame sequence number.
    pub sequence: u64,
    /// Publication time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

/// Why an event could not become a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// An unknown venue name.
    #[error("{0}")]
    Venue(String),
    /// A side other than buy or sell.
    #[error("unknown side `{0}` (expected buy or sell)")]
    Side(String),
}

impl Event {
    /// The `msg_type` tag.
    pub fn msg_type(&self) -> &'static str {
        match self {
            Event::Trade { .. } => "trade",
            Event::Quote { .. } => "quote",
            Event::PoolSwap { .. } => "pool_swap",
            Event::PoolSync { .. } => "pool_sync",
            Event::ArbitrageOpportunity { .. } => "arbitrage_opportunity",
            Event::OrderRequest { .. } => "order_request",
        }
    }

    /// The event of a message (heartbeats have none).
    pub fn from_message(message: &Message) -> Option<Event> {
        let event = match message {
            Message::Trade(t) => Event::Trade {
                venue: t.venue.name().into(),
                instrument: t.instrument.clone(),
                price: t.price.to_f64(),
                size: t.size.to_f64(),
                side: t.side.name().into(),
            },
            Message::Quote(q) => Event::Quote {
                venue: q.venue.name().into(),
                instrument: q.instrument.clone(),
                bid: q.bid.to_f64(),
                bid_size: q.bid_size.to_f64(),
                ask: q.ask.to_f64(),
                ask_size: q.ask_size.to_f64(),
            },
            Message::PoolSwap(s) => Event::PoolSwap {
                venue: s.venue.name().into(),
                pool: s.pool.clone(),
                amount_in: s.amount_in.to_f64(),
                amount_out: s.amount_out.to_f64(),
                zero_for_one: s.zero_for_one,
                price: s.price.to_f64(),
            },
            Message::PoolSync(s) => Event::PoolSync {
                venue: s.venue.name().into(),
                pool: s.pool.clone(),
                reserve0: s.reserve0.to_f64(),
                reserve1: s.reserve1.to_f64(),
            },
            Message::ArbitrageSignal(s) => Event::ArbitrageOpportunity {
                signal_id: s.signal_id,
                instrument: s.instrument.clone(),
                buy_venue: s.buy_venue.name().into(),
                sell_venue: s.sell_venue.name().into(),
                buy_price: s.buy_price.to_f64(),
                sell_price: s.sell_price.to_f64(),
                size: s.size.to_f64(),
                expected_profit: s.expected_profit.to_f64(),
                spread_bps: spread_bps(s.buy_price, s.sell_price),
            },
            Message::OrderRequest(o) => Event::OrderRequest {
                order_id: o.order_id,
                signal_id: o.signal_id,
                venue: o.venue.name().into(),
                instrument: o.instrument.clone(),
                side: o.side.name().into(),
                price: o.price.to_f64(),
                size: o.size.to_f64(),
            },
            Message::Heartbeat(_) => return None,
        };
        Some(event)
    }

    /// The binary message of this event.
    pub fn to_message(&self) -> Result<Message, EventError> {
        let message = match self {
            Event::Trade {
                venue,
                instrument,
                price,
                size,
                side,
            } => Message::Trade(Trade {
                venue: parse_venue(venue)?,
                instrument: instrument.clone(),
                price: Fixed::from_f64(*price),
                size: Fixed::from_f64(*size),
                side: parse_side(side)?,
            }),
            Event::Quote {
                venue,
                instrument,
                bid,
                bid_size,
                ask,
                ask_size,
            } => Message::Quote(Quote {
                venue: parse_venue(venue)?,
                instrument: instrument.clone(),
                bid: Fixed::from_f64(*bid),
                bid_size: Fixed::from_f64(*bid_size),
                ask: Fixed::from_f64(*ask),
                ask_size: Fixed::from_f64(*ask_size),
            }),
            Event::PoolSwap {
                venue,
                pool,
                amount_in,
                amount_out,
                zero_for_one,
                price,
            } => Message::PoolSwap(PoolSwap {
                venue: parse_venue(venue)?,
                pool: pool.clone(),
                amount_in: Fixed::from_f64(*amount_in),
                amount_out: Fixed::from_f64(*amount_out),
                zero_for_one: *zero_for_one,
                price: Fixed::from_f64(*price),
            }),
            Event::PoolSync {
                venue,
                pool,
                reserve0,
                reserve1,
            } => Message::PoolSync(PoolSync {
                venue: parse_venue(venue)?,
                pool: pool.clone(),
                reserve0: Fixed::from_f64(*reserve0),
                reserve1: Fixed::from_f64(*reserve1),
            }),
            Event::ArbitrageOpportunity {
                signal_id,
                instrument,
                buy_venue,
                sell_venue,
                buy_price,
                sell_price,
                size,
                expected_profit,
                ..
            } => Message::ArbitrageSignal(ArbitrageSignal {
                signal_id: *signal_id,
                instrument: instrument.clone(),
                buy_venue: parse_venue(buy_venue)?,
                sell_venue: parse_venue(sell_venue)?,
                buy_price: Fixed::from_f64(*buy_price),
                sell_price: Fixed::from_f64(*sell_price),
                size: Fixed::from_f64(*size),
                expected_profit: Fixed::from_f64(*expected_profit),
            }),
            Event::OrderRequest {
                order_id,
                signal_id,
                venue,
                instrument,
                side,
                price,
                size,
            } => Message::OrderRequest(OrderRequest {
                order_id: *order_id,
                signal_id: *signal_id,
                venue: parse_venue(venue)?,
                instrument: instrument.clone(),
                side: parse_side(side)?,
                price: Fixed::from_f64(*price),
                size: Fixed::from_f64(*size),
            }),
        };
        Ok(message)
    }
}

impl Envelope {
    /// The envelope of a message received in a frame from `source`.
    pub fn new(
        message: &Message,
        source: u8,
        sequence: u64,
        timestamp_ns: u64,
    ) -> Option<Envelope> {
        Some(Envelope {
            event: Event::from_message(message)?,
            source: Source::from_u8(source).map_or("unknown", Source::service_name),
            sequence,
            timestamp_ns,
        })
    }
}

/// The spread between a buy and a sell price, in basis points of the buy price.
pub fn spread_bps(buy: Fixed, sell: Fixed) -> f64 {
    let buy = buy.to_f64();
    if buy <= 0.0 {
        return 0.0;
    }
    (sell.to_f64() - buy) / buy * 10_000.0
}

fn parse_venue(name: &str) -> Result<Venue, EventError> {
    name.parse().map_err(EventError::Venue)
}

fn parse_side(name: &str) -> Result<Side, EventError> {
    match name {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        other => Err(EventError::Side(other.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_json_is_tagged_by_msg_type() {
        let event = Event::Quote {
            venue: "kraken".into(),
            instrument: "BTC/USD".into(),
            bid: 1.0,
            bid_size: 2.0,
            ask: 3.0,
            ask_size: 4.0,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["msg_type"], "quote");
        assert_eq!(json["venue"], "kraken");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn events_and_messages_convert_both_ways() {
        let line = r#"{"msg_type":"order_request","order_id":2,"signal_id":1,"venue":"coinbase",
            "instrument":"ETH/USD","side":"sell","price":3001.25,"size":1.5,"extra":"ignored"}"#;
        let event: Event = serde_json::from_str(line).unwrap();
        let message = event.to_message().unwrap();
        assert_eq!(Event::from_message(&message), Some(event));
    }

    #[test]
    fn bad_names_are_reported() {
        let event = Event::Trade {
            venue: "nyse".into(),
            instrument: "X".into(),
            price: 1.0,
            size: 1.0,
            side: "buy".into(),
        };
        assert!(matches!(event.to_message(), Err(EventError::Venue(_))));
    }

    #[test]
    fn envelope_flattens_the_event() {
        let message = Event::PoolSync {
            venue: "polygon".into(),
            pool: "WETH/USDC".into(),
            reserve0: 1.0,
            reserve1: 3000.0,
        }
        .to_message()
        .unwrap();
        let envelope = Envelope::new(&message, Source::PolygonAdapter as u8, 5, 6).unwrap();
        let json = serde_json::to_value(envelope).unwrap();
        assert_eq!(json["msg_type"], "pool_sync");
        assert_eq!(json["source"], "polygon_adapter");
        assert_eq!(json["sequence"], 5);
    }

    #[test]
    fn spread_is_in_basis_points() {
        let bps = spread_bps(Fixed::from_f64(100.0), Fixed::from_f64(101.0));
        assert!((bps - 100.0).abs() < 1e-9);
    }
}
