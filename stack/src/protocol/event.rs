//! JSON events: the dashboard's `/ws` messages and the adapters' replay
//! lines. One event per line or message, tagged by `msg_type`, with field
//! names as the original dashboard's `message_converter` writes them where
//! the two correspond (`bid_price`, `volume`, `pool_address`, `amount_in.raw`,
//! `estimated_profit`, `net_profit_usd`, `dex_buy`, …). Market-data events
//! convert back into their binary [`Message`]s exactly (replay); derived
//! events (signals, orders) only go one way.

use serde::{Deserialize, Serialize};

use super::instrument::{
    address_hex, catalog, parse_address, venue_by_name, venue_name, Address, InstrumentId,
};
use super::source::source_name;
use super::tlv::{Fixed, Message, PoolSwap, PoolSync, Quote, Side, Trade};

/// A token amount: native units (as a string: they exceed JSON's safe
/// integers), the normalized value and the token's decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amount {
    /// Native units.
    pub raw: String,
    /// `raw / 10^decimals`.
    pub normalized: f64,
    /// The token's decimals.
    pub decimals: u8,
}

impl Amount {
    fn new(raw: u128, decimals: u8) -> Amount {
        Amount {
            raw: raw.to_string(),
            normalized: normalize(raw, decimals),
            decimals,
        }
    }

    fn raw(&self) -> Result<u128, EventError> {
        self.raw
            .parse()
            .map_err(|_| EventError::Field("amount raw"))
    }
}

/// `raw / 10^decimals` as a float.
pub fn normalize(raw: u128, decimals: u8) -> f64 {
    raw as f64 / 10f64.powi(decimals as i32)
}

/// A market-data, signal or order event as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename_all = "snake_case")]
pub enum Event {
    /// A trade (`TradeTLV`).
    Trade {
        /// Venue name.
        venue: String,
        /// Instrument, e.g. `BTC/USD`.
        instrument: String,
        /// The original's `InstrumentId::to_u64()`.
        instrument_id: u64,
        /// Price.
        price: f64,
        /// Quantity.
        volume: f64,
        /// `buy` or `sell`.
        side: String,
        /// When it traded (ns).
        execution_timestamp_ns: u64,
    },
    /// A top-of-book quote (`QuoteTLV`).
    Quote {
        /// Venue name.
        venue: String,
        /// Instrument.
        instrument: String,
        /// The original's `InstrumentId::to_u64()`.
        instrument_id: u64,
        /// Best bid.
        bid_price: f64,
        /// Quantity at the best bid.
        bid_size: f64,
        /// Best ask.
        ask_price: f64,
        /// Quantity at the best ask.
        ask_size: f64,
        /// When the venue quoted it (ns).
        quote_timestamp_ns: u64,
    },
    /// A DEX pool swap (`PoolSwapTLV`).
    PoolSwap {
        /// Chain venue name (`polygon`).
        venue: String,
        /// The pool's DEX (from the catalog; empty when unknown).
        dex: String,
        /// `WETH/USDC` (from the catalog).
        pool: String,
        /// `0x…`.
        pool_address: String,
        /// `0x…`.
        token_in: String,
        /// `0x…`.
        token_out: String,
        /// Amount in.
        amount_in: Amount,
        /// Amount out.
        amount_out: Amount,
        /// The swap's price: token1 per token0, normalized.
        price: f64,
        /// V3 liquidity after (decimal string).
        liquidity_after: String,
        /// V3 sqrt price X96 after (decimal string).
        sqrt_price_x96_after: String,
        /// V3 tick after.
        tick_after: i32,
        /// Block number.
        block_number: u64,
        /// When (ns).
        timestamp_ns: u64,
    },
    /// A DEX pool's reserves (`PoolSyncTLV`).
    PoolSync {
        /// Chain venue name.
        venue: String,
        /// The pool's DEX.
        dex: String,
        /// `WETH/USDC`.
        pool: String,
        /// `0x…`.
        pool_address: String,
        /// `0x…`.
        token0: String,
        /// `0x…`.
        token1: String,
        /// Reserve of token0.
        reserve0: Amount,
        /// Reserve of token1.
        reserve1: Amount,
        /// Token1 per token0, normalized.
        price: f64,
        /// Block number.
        block_number: u64,
        /// When (ns).
        timestamp_ns: u64,
    },
    /// An arbitrage signal (`ArbitrageSignalTLV`).
    ArbitrageOpportunity {
        /// Signal id (a string, as the original writes it).
        signal_id: String,
        /// Strategy id.
        strategy_id: u16,
        /// Chain id (0 for the exchange-to-exchange mode).
        chain_id: u32,
        /// `WETH/USDC` or `BTC/USD`.
        pair: String,
        /// Token in (`0x…`; empty in the exchange mode).
        token_a: String,
        /// Token out.
        token_b: String,
        /// Buy pool (`0x…`; empty in the exchange mode).
        pool_a: String,
        /// Sell pool.
        pool_b: String,
        /// Buy venue name.
        dex_buy: String,
        /// Sell venue name.
        dex_sell: String,
        /// Profit before costs, USD.
        estimated_profit: f64,
        /// Profit after costs, USD.
        net_profit_usd: f64,
        /// Capital needed, USD.
        required_capital_usd: f64,
        /// Spread, percent.
        spread_percent: f64,
        /// Fees, USD.
        dex_fees_usd: f64,
        /// Gas, USD.
        gas_fee_usd: f64,
        /// Slippage allowance, USD.
        slippage_cost_usd: f64,
        /// Slippage tolerance, percent.
        slippage_tolerance: f64,
        /// Highest gas price, gwei.
        max_gas_price_gwei: u32,
        /// Valid until (s since the epoch).
        valid_until: u32,
        /// Priority.
        priority: u16,
    },
    /// An order request.
    OrderRequest {
        /// The signal it executes.
        signal_id: u32,
        /// Venue name.
        venue: String,
        /// Instrument (a pair; a pool's pair on a DEX).
        instrument: String,
        /// The original's `InstrumentId::to_u64()`.
        instrument_id: u64,
        /// `buy` or `sell`.
        side: String,
        /// Limit price.
        price: f64,
        /// Quantity.
        quantity: f64,
    },
}

/// An event with where and when it was published, as sent on `/ws`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    /// The event.
    #[serde(flatten)]
    pub event: Event,
    /// The publisher (`kraken_adapter`, `flash_arbitrage`, …).
    pub source: String,
    /// The publisher's frame sequence number.
    pub sequence: u64,
    /// The frame's timestamp, nanoseconds since the Unix epoch.
    pub timestamp: u64,
}

/// Why an event could not become a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// An unknown venue name.
    #[error("unknown venue `{0}`")]
    Venue(String),
    /// A side other than buy or sell.
    #[error("unknown side `{0}` (expected buy or sell)")]
    Side(String),
    /// A malformed field.
    #[error("invalid {0}")]
    Field(&'static str),
    /// A derived event (signal, order): not market data.
    #[error("{0} is derived, not market data")]
    Derived(&'static str),
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

    /// The event of a message (system records have none).
    pub fn from_message(message: &Message) -> Option<Event> {
        Some(match message {
            Message::Trade(t) => trade_event(t),
            Message::Quote(q) => quote_event(q),
            Message::PoolSwap(s) => swap_event(s),
            Message::PoolSync(s) => sync_event(s),
            Message::ArbitrageSignal(s) => signal_event(s),
            Message::OrderRequest(o) => Event::OrderRequest {
                signal_id: o.signal_id,
                venue: venue_name(o.instrument.venue),
                instrument: o.instrument.name(),
                instrument_id: o.instrument.to_u64(),
                side: o.side.name().into(),
                price: o.price.to_f64(),
                quantity: o.quantity.to_f64(),
            },
            Message::Heartbeat(_) | Message::SystemHealth(_) | Message::RelayCounters(_) => {
                return None
            }
        })
    }

    /// The binary message of a market-data event.
    pub fn to_message(&self) -> Result<Message, EventError> {
        match self {
            Event::Trade {
                venue,
                instrument,
                price,
                volume,
                side,
                execution_timestamp_ns,
                ..
            } => Ok(Message::Trade(Trade {
                instrument: InstrumentId::coin(parse_venue(venue)?, instrument),
                price: Fixed::from_f64(*price),
                volume: Fixed::from_f64(*volume),
                execution_timestamp_ns: *execution_timestamp_ns,
                side: parse_side(side)?,
            })),
            Event::Quote {
                venue,
                instrument,
                bid_price,
                bid_size,
                ask_price,
                ask_size,
                quote_timestamp_ns,
                ..
            } => Ok(Message::Quote(Quote {
                instrument: InstrumentId::coin(parse_venue(venue)?, instrument),
                bid_price: Fixed::from_f64(*bid_price),
                bid_size: Fixed::from_f64(*bid_size),
                ask_price: Fixed::from_f64(*ask_price),
                ask_size: Fixed::from_f64(*ask_size),
                quote_timestamp_ns: *quote_timestamp_ns,
            })),
            Event::PoolSwap { .. } => swap_message(self),
            Event::PoolSync { .. } => sync_message(self),
            Event::ArbitrageOpportunity { .. } | Event::OrderRequest { .. } => {
                Err(EventError::Derived(self.msg_type()))
            }
        }
    }
}

fn trade_event(t: &Trade) -> Event {
    Event::Trade {
        venue: venue_name(t.instrument.venue),
        instrument: t.instrument.name(),
        instrument_id: t.instrument.to_u64(),
        price: t.price.to_f64(),
        volume: t.volume.to_f64(),
        side: t.side.name().into(),
        execution_timestamp_ns: t.execution_timestamp_ns,
    }
}

fn quote_event(q: &Quote) -> Event {
    Event::Quote {
        venue: venue_name(q.instrument.venue),
        instrument: q.instrument.name(),
        instrument_id: q.instrument.to_u64(),
        bid_price: q.bid_price.to_f64(),
        bid_size: q.bid_size.to_f64(),
        ask_price: q.ask_price.to_f64(),
        ask_size: q.ask_size.to_f64(),
        quote_timestamp_ns: q.quote_timestamp_ns,
    }
}

/// (dex, pair) of a pool address, from the catalog.
fn pool_names(address: &Address) -> (String, String) {
    catalog::pool_by_address(address)
        .map_or_else(Default::default, |p| (venue_name(p.dex), p.pair()))
}

fn swap_event(s: &PoolSwap) -> Event {
    let (dex, pool) = pool_names(&s.pool_address);
    let amount_in = Amount::new(s.amount_in, s.amount_in_decimals);
    let amount_out = Amount::new(s.amount_out, s.amount_out_decimals);
    let token0_in =
        catalog::pool_by_address(&s.pool_address).is_none_or(|p| p.token0.address == s.token_in);
    let price = match token0_in {
        true => amount_out.normalized / amount_in.normalized.max(f64::MIN_POSITIVE),
        false => amount_in.normalized / amount_out.normalized.max(f64::MIN_POSITIVE),
    };
    Event::PoolSwap {
        venue: venue_name(s.venue),
        dex,
        pool,
        pool_address: address_hex(&s.pool_address),
        token_in: address_hex(&s.token_in),
        token_out: address_hex(&s.token_out),
        amount_in,
        amount_out,
        price,
        liquidity_after: s.liquidity_after.to_string(),
        sqrt_price_x96_after: s.sqrt_price_x96_after.to_string(),
        tick_after: s.tick_after,
        block_number: s.block_number,
        timestamp_ns: s.timestamp_ns,
    }
}

fn sync_event(s: &PoolSync) -> Event {
    let (dex, pool) = pool_names(&s.pool_address);
    let reserve0 = Amount::new(s.reserve0, s.token0_decimals);
    let reserve1 = Amount::new(s.reserve1, s.token1_decimals);
    Event::PoolSync {
        venue: venue_name(s.venue),
        dex,
        pool,
        pool_address: address_hex(&s.pool_address),
        token0: address_hex(&s.token0),
        token1: address_hex(&s.token1),
        price: reserve1.normalized / reserve0.normalized.max(f64::MIN_POSITIVE),
        reserve0,
        reserve1,
        block_number: s.block_number,
        timestamp_ns: s.timestamp_ns,
    }
}

fn signal_event(s: &super::tlv::ArbitrageSignal) -> Event {
    let dex_mode = s.chain_id != 0;
    let hex_if = |a: &Address| {
        if dex_mode {
            address_hex(a)
        } else {
            String::new()
        }
    };
    let pair = if dex_mode {
        format!(
            "{}/{}",
            catalog::symbol_of(&s.token_out),
            catalog::symbol_of(&s.token_in)
        )
    } else {
        super::instrument::instrument_from_address(&s.source_pool).symbol()
    };
    Event::ArbitrageOpportunity {
        signal_id: s.signal_id.to_string(),
        strategy_id: s.strategy_id,
        chain_id: s.chain_id,
        pair,
        token_a: hex_if(&s.token_in),
        token_b: hex_if(&s.token_out),
        pool_a: hex_if(&s.source_pool),
        pool_b: hex_if(&s.target_pool),
        dex_buy: venue_name(s.source_venue),
        dex_sell: venue_name(s.target_venue),
        estimated_profit: s.expected_profit_usd.to_f64(),
        net_profit_usd: s.net_profit_usd.to_f64(),
        required_capital_usd: s.required_capital_usd.to_f64(),
        spread_percent: s.spread_bps as f64 / 100.0,
        dex_fees_usd: s.dex_fees_usd.to_f64(),
        gas_fee_usd: s.gas_cost_usd.to_f64(),
        slippage_cost_usd: s.slippage_usd.to_f64(),
        slippage_tolerance: s.slippage_tolerance_bps as f64 / 100.0,
        max_gas_price_gwei: s.max_gas_price_gwei,
        valid_until: s.valid_until,
        priority: s.priority,
    }
}

fn swap_message(event: &Event) -> Result<Message, EventError> {
    let Event::PoolSwap {
        venue,
        pool_address,
        token_in,
        token_out,
        amount_in,
        amount_out,
        liquidity_after,
        sqrt_price_x96_after,
        tick_after,
        block_number,
        timestamp_ns,
        ..
    } = event
    else {
        return Err(EventError::Field("pool swap"));
    };
    Ok(Message::PoolSwap(PoolSwap {
        venue: parse_venue(venue)?,
        pool_address: address(pool_address)?,
        token_in: address(token_in)?,
        token_out: address(token_out)?,
        amount_in: amount_in.raw()?,
        amount_out: amount_out.raw()?,
        liquidity_after: number(liquidity_after)?,
        timestamp_ns: *timestamp_ns,
        block_number: *block_number,
        tick_after: *tick_after,
        amount_in_decimals: amount_in.decimals,
        amount_out_decimals: amount_out.decimals,
        sqrt_price_x96_after: number(sqrt_price_x96_after)?,
    }))
}

fn sync_message(event: &Event) -> Result<Message, EventError> {
    let Event::PoolSync {
        venue,
        pool_address,
        token0,
        token1,
        reserve0,
        reserve1,
        block_number,
        timestamp_ns,
        ..
    } = event
    else {
        return Err(EventError::Field("pool sync"));
    };
    Ok(Message::PoolSync(PoolSync {
        venue: parse_venue(venue)?,
        pool_address: address(pool_address)?,
        token0: address(token0)?,
        token1: address(token1)?,
        reserve0: reserve0.raw()?,
        reserve1: reserve1.raw()?,
        timestamp_ns: *timestamp_ns,
        block_number: *block_number,
        token0_decimals: reserve0.decimals,
        token1_decimals: reserve1.decimals,
    }))
}

fn address(text: &str) -> Result<Address, EventError> {
    parse_address(text).ok_or(EventError::Field("address"))
}

fn number(text: &str) -> Result<u128, EventError> {
    text.parse().map_err(|_| EventError::Field("number"))
}

impl Envelope {
    /// The envelope of a message received in a frame from `source`.
    pub fn new(message: &Message, source: u8, sequence: u64, timestamp: u64) -> Option<Envelope> {
        Some(Envelope {
            event: Event::from_message(message)?,
            source: source_name(source),
            sequence,
            timestamp,
        })
    }
}

fn parse_venue(name: &str) -> Result<u16, EventError> {
    venue_by_name(name).ok_or_else(|| EventError::Venue(name.into()))
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
    use crate::protocol::instrument::venue_id;

    fn weth_usdc() -> catalog::Pool {
        catalog::Pool::new(venue_id::QUICKSWAP, "WETH/USDC").unwrap()
    }

    fn market_data() -> Vec<Message> {
        let pool = weth_usdc();
        vec![
            Message::Quote(Quote {
                instrument: InstrumentId::coin(venue_id::KRAKEN, "BTC/USD"),
                bid_price: Fixed::from_f64(1.0),
                bid_size: Fixed::from_f64(2.0),
                ask_price: Fixed::from_f64(3.0),
                ask_size: Fixed::from_f64(4.0),
                quote_timestamp_ns: 5,
            }),
            Message::Trade(Trade {
                instrument: InstrumentId::coin(venue_id::COINBASE, "ETH/USD"),
                price: Fixed::from_f64(3001.25),
                volume: Fixed::from_f64(1.5),
                execution_timestamp_ns: 6,
                side: Side::Sell,
            }),
            Message::PoolSwap(PoolSwap {
                venue: venue_id::POLYGON,
                pool_address: pool.address,
                token_in: pool.token0.address,
                token_out: pool.token1.address,
                amount_in: 2 * 10u128.pow(18),
                amount_out: 6_000_000_000,
                liquidity_after: 0,
                timestamp_ns: 7,
                block_number: 8,
                tick_after: 0,
                amount_in_decimals: 18,
                amount_out_decimals: 6,
                sqrt_price_x96_after: 0,
            }),
            Message::PoolSync(PoolSync {
                venue: venue_id::POLYGON,
                pool_address: pool.address,
                token0: pool.token0.address,
                token1: pool.token1.address,
                reserve0: 10u128.pow(21),
                reserve1: 3 * 10u128.pow(12),
                timestamp_ns: 9,
                block_number: 10,
                token0_decimals: 18,
                token1_decimals: 6,
            }),
        ]
    }

    #[test]
    fn market_data_survives_json_both_ways() {
        for message in market_data() {
            let event = Event::from_message(&message).unwrap();
            let json = serde_json::to_string(&event).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(back.to_message().unwrap(), message, "{json}");
        }
    }

    #[test]
    fn json_uses_the_original_dashboards_names() {
        let [quote, trade, swap, sync] = &market_data()[..] else {
            panic!()
        };
        let json = |m| serde_json::to_value(Event::from_message(m).unwrap()).unwrap();
        let quote = json(quote);
        assert_eq!(quote["msg_type"], "quote");
        assert_eq!(
            (quote["venue"].as_str(), quote["bid_price"].as_f64()),
            (Some("kraken"), Some(1.0))
        );
        assert_eq!(json(trade)["volume"], 1.5);
        let swap = json(swap);
        assert_eq!(swap["amount_in"]["raw"], "2000000000000000000");
        assert_eq!(
            (swap["dex"].as_str(), swap["pool"].as_str()),
            (Some("quickswap"), Some("WETH/USDC"))
        );
        assert_eq!(swap["price"], 3000.0);
        assert_eq!(json(sync)["price"], 3000.0);
    }

    #[test]
    fn derived_events_do_not_become_market_data() {
        let event = Event::OrderRequest {
            signal_id: 1,
            venue: "kraken".into(),
            instrument: "BTC/USD".into(),
            instrument_id: 0,
            side: "buy".into(),
            price: 1.0,
            quantity: 1.0,
        };
        assert_eq!(
            event.to_message(),
            Err(EventError::Derived("order_request"))
        );
    }

    #[test]
    fn envelope_flattens_the_event() {
        let message = &market_data()[3];
        let envelope = Envelope::new(message, 4, 5, 6).unwrap();
        let json = serde_json::to_value(envelope).unwrap();
        assert_eq!(json["msg_type"], "pool_sync");
        assert_eq!(json["source"], "polygon_adapter");
        assert_eq!(
            (json["sequence"].as_u64(), json["timestamp"].as_u64()),
            (Some(5), Some(6))
        );
    }
}
