//! TLV records and the typed messages they carry, laid out byte for byte as
//! the original Protocol V2's fixed-size `repr(C)` bodies (little-endian,
//! fields ordered by alignment as its `define_tlv!` macro orders them, its
//! explicit padding zeroed). A record is `type u8, length u8, value`; a value
//! longer than 255 bytes uses the extended form `255, 0, type u8, length u16,
//! value`. Readers skip records of a type they do not know.
//!
//! The offsets of every body are in [`layout`]; the golden tests in
//! `tests/stack_protocol.rs` derive frames from the original's definitions.

use thiserror::Error;

use super::instrument::{Address, InstrumentId};

/// TLV type of a trade (`TradeTLV`, 40 bytes).
pub const TRADE: u8 = 1;
/// TLV type of a top-of-book quote (`QuoteTLV`, 56 bytes).
pub const QUOTE: u8 = 2;
/// TLV type of a DEX pool swap (`PoolSwapTLV`, 208 bytes).
pub const POOL_SWAP: u8 = 11;
/// TLV type of a DEX pool reserve sync (`PoolSyncTLV`, 160 bytes).
pub const POOL_SYNC: u8 = 16;
/// TLV type of an arbitrage signal (`ArbitrageSignalTLV`, 170 bytes, packed).
pub const ARBITRAGE_SIGNAL: u8 = 32;
/// TLV type of an order request (32 bytes; the original has only the size).
pub const ORDER_REQUEST: u8 = 40;
/// TLV type of a heartbeat (16 bytes).
pub const HEARTBEAT: u8 = 100;
/// TLV type of a component's health (`SystemHealthTLV`, 48 bytes).
pub const SYSTEM_HEALTH: u8 = 107;
/// TLV type of a relay's counters: the original's vendor type `CustomMetrics` (203).
pub const RELAY_COUNTERS: u8 = 203;
/// The marker of an extended record.
pub const EXTENDED: u8 = 255;

/// Body sizes and field offsets, from the original's structs.
pub mod layout {
    /// `TradeTLV`.
    pub const TRADE_LEN: usize = 40;
    /// `QuoteTLV` (the struct is 56 bytes; the original's size registry says 52).
    pub const QUOTE_LEN: usize = 56;
    /// `PoolSwapTLV` (208 with `u128` aligned to 16, as Rust lays it out).
    pub const POOL_SWAP_LEN: usize = 208;
    /// `PoolSyncTLV` (`define_tlv_with_padding!` asserts 160).
    pub const POOL_SYNC_LEN: usize = 160;
    /// `ArbitrageSignalTLV` (`repr(C, packed)`).
    pub const ARBITRAGE_SIGNAL_LEN: usize = 170;
    /// The registry's OrderRequest size.
    pub const ORDER_REQUEST_LEN: usize = 32;
    /// The registry's Heartbeat size.
    pub const HEARTBEAT_LEN: usize = 16;
    /// `SystemHealthTLV`.
    pub const SYSTEM_HEALTH_LEN: usize = 48;
    /// The stack's relay counters (vendor range).
    pub const RELAY_COUNTERS_LEN: usize = 56;
}

/// A fixed-point number with eight decimals (prices, sizes, USD amounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fixed(pub i64);

impl Fixed {
    /// The scale: one unit is 10^8.
    pub const SCALE: f64 = 100_000_000.0;

    /// The nearest fixed-point value of `value`.
    pub fn from_f64(value: f64) -> Fixed {
        Fixed((value * Fixed::SCALE).round() as i64)
    }

    /// The value as a float.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / Fixed::SCALE
    }
}

/// Buy or sell (the original's trade `side`: 0 buy, 1 sell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy (the aggressor lifted the ask).
    Buy = 0,
    /// Sell (the aggressor hit the bid).
    Sell = 1,
}

impl Side {
    fn from_u8(value: u8) -> Option<Side> {
        match value {
            0 => Some(Side::Buy),
            1 => Some(Side::Sell),
            _ => None,
        }
    }

    /// `buy` or `sell`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// `TradeTLV`: a trade on a venue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// The instrument (its venue is the trade's venue).
    pub instrument: InstrumentId,
    /// Price.
    pub price: Fixed,
    /// Quantity.
    pub volume: Fixed,
    /// When it traded on the venue (ns since the epoch).
    pub execution_timestamp_ns: u64,
    /// The aggressor's side.
    pub side: Side,
}

/// `QuoteTLV`: the best bid and ask of an instrument on a venue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    /// The instrument (its venue is the quote's venue).
    pub instrument: InstrumentId,
    /// Best bid.
    pub bid_price: Fixed,
    /// Quantity at the best bid.
    pub bid_size: Fixed,
    /// Best ask.
    pub ask_price: Fixed,
    /// Quantity at the best ask.
    pub ask_size: Fixed,
    /// When the venue quoted it (ns since the epoch).
    pub quote_timestamp_ns: u64,
}

/// `PoolSwapTLV`: a swap in a DEX pool (amounts in the tokens' native units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSwap {
    /// The chain venue (Polygon).
    pub venue: u16,
    /// The pool's address.
    pub pool_address: Address,
    /// The token paid in.
    pub token_in: Address,
    /// The token paid out.
    pub token_out: Address,
    /// Amount in (native units).
    pub amount_in: u128,
    /// Amount out (native units).
    pub amount_out: u128,
    /// Active liquidity after the swap (V3; 0 for a V2 pool).
    pub liquidity_after: u128,
    /// When (ns since the epoch).
    pub timestamp_ns: u64,
    /// Block number.
    pub block_number: u64,
    /// Tick after the swap (V3; 0 for a V2 pool).
    pub tick_after: i32,
    /// Decimals of the token in.
    pub amount_in_decimals: u8,
    /// Decimals of the token out.
    pub amount_out_decimals: u8,
    /// sqrt price X96 after the swap (V3; its low 16 bytes on the wire, 0 for a V2 pool).
    pub sqrt_price_x96_after: u128,
}

/// `PoolSyncTLV`: a V2 pool's reserves (native units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSync {
    /// The chain venue (Polygon).
    pub venue: u16,
    /// The pool's address.
    pub pool_address: Address,
    /// Token0.
    pub token0: Address,
    /// Token1.
    pub token1: Address,
    /// Reserve of token0.
    pub reserve0: u128,
    /// Reserve of token1.
    pub reserve1: u128,
    /// When (ns since the epoch).
    pub timestamp_ns: u64,
    /// Block number.
    pub block_number: u64,
    /// Token0's decimals.
    pub token0_decimals: u8,
    /// Token1's decimals.
    pub token1_decimals: u8,
}

/// `ArbitrageSignalTLV`: an opportunity between two pools (USD amounts as
/// fixed point, 8 decimals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArbitrageSignal {
    /// The strategy (21: flash arbitrage).
    pub strategy_id: u16,
    /// The signal's id.
    pub signal_id: u64,
    /// The chain (137: Polygon; 0 for the exchange-to-exchange mode).
    pub chain_id: u32,
    /// Buy here.
    pub source_pool: Address,
    /// Sell here.
    pub target_pool: Address,
    /// The buy side's venue.
    pub source_venue: u16,
    /// The sell side's venue.
    pub target_venue: u16,
    /// The token paid in.
    pub token_in: Address,
    /// The token bought and sold back.
    pub token_out: Address,
    /// Profit before costs.
    pub expected_profit_usd: Fixed,
    /// Capital the trade needs.
    pub required_capital_usd: Fixed,
    /// Spread between the two sides, basis points.
    pub spread_bps: u16,
    /// Pool (or taker) fees.
    pub dex_fees_usd: Fixed,
    /// Gas.
    pub gas_cost_usd: Fixed,
    /// Slippage allowance.
    pub slippage_usd: Fixed,
    /// Profit after all costs.
    pub net_profit_usd: Fixed,
    /// Slippage tolerance, basis points.
    pub slippage_tolerance_bps: u16,
    /// Highest gas price, gwei.
    pub max_gas_price_gwei: u32,
    /// Valid until (seconds since the epoch).
    pub valid_until: u32,
    /// Priority.
    pub priority: u16,
    /// When (ns since the epoch).
    pub timestamp_ns: u64,
}

/// An order the strategy asks execution to place. The original defines only
/// its size (32 bytes); the stack's layout: asset id `u64`, price `i64`,
/// quantity `i64`, signal id `u32`, venue `u16`, asset type `u8`, side `u8`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderRequest {
    /// The instrument (its venue is where to place the order; `reserved` is not carried).
    pub instrument: InstrumentId,
    /// Limit price.
    pub price: Fixed,
    /// Quantity.
    pub quantity: Fixed,
    /// The signal it executes (its low 32 bits).
    pub signal_id: u32,
    /// Buy or sell.
    pub side: Side,
}

/// A heartbeat (16 bytes, as the original's registry sizes it): the time and
/// the sender's uptime and connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heartbeat {
    /// When (ns since the epoch).
    pub timestamp_ns: u64,
    /// Seconds since the sender started.
    pub uptime_s: u32,
    /// Connections the sender has.
    pub connections: u32,
}

/// `SystemHealthTLV`: a component's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SystemHealth {
    /// When (ns since the epoch).
    pub timestamp_ns: u64,
    /// Active connections.
    pub connection_count: u32,
    /// Messages per second.
    pub message_rate_per_sec: u32,
    /// Last error code (0: none).
    pub last_error_code: u32,
    /// Errors per thousand messages.
    pub error_rate_per_thousand: u16,
    /// p95 latency, µs.
    pub latency_p95_us: u16,
    /// The component (its source id).
    pub service_type: u8,
    /// 0 healthy, 1 degraded, 2 unhealthy, 3 unknown.
    pub health_status: u8,
    /// CPU %.
    pub cpu_usage_pct: u8,
    /// Memory %.
    pub memory_usage_pct: u8,
}

/// A relay's cumulative counters (the stack's record in the vendor range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayCounters {
    /// Milliseconds since the relay started.
    pub uptime_ms: u64,
    /// Frames received from clients.
    pub frames_in: u64,
    /// Frames delivered to client queues.
    pub frames_out: u64,
    /// Bytes received from clients.
    pub bytes_in: u64,
    /// Frames rejected (bad magic, CRC, domain, version, source).
    pub bad_frames: u64,
    /// Clients dropped for being too slow.
    pub slow_dropped: u64,
    /// Clients connected now.
    pub clients: u32,
    /// Clients accepted since start.
    pub accepted: u32,
}

/// One typed TLV record.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// [`TRADE`].
    Trade(Trade),
    /// [`QUOTE`].
    Quote(Quote),
    /// [`POOL_SWAP`].
    PoolSwap(PoolSwap),
    /// [`POOL_SYNC`].
    PoolSync(PoolSync),
    /// [`ARBITRAGE_SIGNAL`].
    ArbitrageSignal(ArbitrageSignal),
    /// [`ORDER_REQUEST`].
    OrderRequest(OrderRequest),
    /// [`HEARTBEAT`].
    Heartbeat(Heartbeat),
    /// [`SYSTEM_HEALTH`].
    SystemHealth(SystemHealth),
    /// [`RELAY_COUNTERS`].
    RelayCounters(RelayCounters),
}

/// Why a TLV record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlvError {
    /// The payload ends inside a record.
    #[error("truncated TLV record")]
    Truncated,
    /// A known type whose value has the wrong size.
    #[error("TLV type {tlv_type} is {found} bytes where its body is {expected}")]
    BadLength {
        /// The record type.
        tlv_type: u8,
        /// The body's size.
        expected: usize,
        /// The value's size.
        found: usize,
    },
    /// A value too long even for the extended form.
    #[error("TLV value of {0} bytes exceeds 65535")]
    TooLong(usize),
    /// A value whose content is invalid.
    #[error("invalid {what} in TLV type {tlv_type}")]
    Invalid {
        /// The record type.
        tlv_type: u8,
        /// The field.
        what: &'static str,
    },
}

/// A payload's records that this crate understands, and how many it skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    /// The records of known types, in order.
    pub messages: Vec<Message>,
    /// Records of types this crate does not know (skipped).
    pub skipped: usize,
}

/// Iterates over the raw records `(type, value)` of a payload, standard and extended.
pub fn records(payload: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8]), TlvError>> {
    let mut rest = payload;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let next = split_record(rest);
        rest = match &next {
            Ok((_, _, after)) => after,
            Err(_) => &[],
        };
        Some(next.map(|(t, v, _)| (t, v)))
    })
}

/// The first record of `buf`: (type, value, the rest).
fn split_record(buf: &[u8]) -> Result<(u8, &[u8], &[u8]), TlvError> {
    let (tlv_type, header, len) = match buf {
        [EXTENDED, _reserved, tlv_type, lo, hi, ..] => {
            (*tlv_type, 5, u16::from_le_bytes([*lo, *hi]) as usize)
        }
        [EXTENDED, ..] => return Err(TlvError::Truncated),
        [tlv_type, len, ..] => (*tlv_type, 2, *len as usize),
        _ => return Err(TlvError::Truncated),
    };
    let body = buf.get(header..header + len).ok_or(TlvError::Truncated)?;
    Ok((tlv_type, body, &buf[header + len..]))
}

/// Decodes every record of a payload, skipping (and counting) unknown types.
pub fn decode_payload(payload: &[u8]) -> Result<Decoded, TlvError> {
    let mut decoded = Decoded::default();
    for record in records(payload) {
        let (tlv_type, value) = record?;
        match Message::decode(tlv_type, value)? {
            Some(message) => decoded.messages.push(message),
            None => decoded.skipped += 1,
        }
    }
    Ok(decoded)
}

/// Encodes messages into one payload.
pub fn encode_payload(messages: &[Message]) -> Result<Vec<u8>, TlvError> {
    let mut out = Vec::with_capacity(64 * messages.len());
    for message in messages {
        push_record(&mut out, message.tlv_type(), &message.body())?;
    }
    Ok(out)
}

/// Appends one record: the standard form up to 255 bytes, the extended form beyond.
pub fn push_record(out: &mut Vec<u8>, tlv_type: u8, value: &[u8]) -> Result<(), TlvError> {
    match u8::try_from(value.len()) {
        Ok(len) => out.extend_from_slice(&[tlv_type, len]),
        Err(_) => {
            let len = u16::try_from(value.len()).map_err(|_| TlvError::TooLong(value.len()))?;
            out.extend_from_slice(&[EXTENDED, 0, tlv_type]);
            out.extend_from_slice(&len.to_le_bytes());
        }
    }
    out.extend_from_slice(value);
    Ok(())
}

impl Message {
    /// The record's TLV type.
    pub fn tlv_type(&self) -> u8 {
        match self {
            Message::Trade(_) => TRADE,
            Message::Quote(_) => QUOTE,
            Message::PoolSwap(_) => POOL_SWAP,
            Message::PoolSync(_) => POOL_SYNC,
            Message::ArbitrageSignal(_) => ARBITRAGE_SIGNAL,
            Message::OrderRequest(_) => ORDER_REQUEST,
            Message::Heartbeat(_) => HEARTBEAT,
            Message::SystemHealth(_) => SYSTEM_HEALTH,
            Message::RelayCounters(_) => RELAY_COUNTERS,
        }
    }

    /// The record's body: the original struct's bytes.
    pub fn body(&self) -> Vec<u8> {
        let mut w = Body::default();
        match self {
            Message::Trade(t) => {
                let i = t.instrument;
                w.u64(i.asset_id).i64(t.price.0).i64(t.volume.0);
                w.u64(t.execution_timestamp_ns)
                    .u16(i.venue)
                    .u8(i.asset_type);
                w.u8(i.reserved).u8(t.side as u8).zeros(3);
            }
            Message::Quote(q) => {
                let i = q.instrument;
                w.u64(i.asset_id).i64(q.bid_price.0).i64(q.bid_size.0);
                w.i64(q.ask_price.0)
                    .i64(q.ask_size.0)
                    .u64(q.quote_timestamp_ns);
                w.u16(i.venue).u8(i.asset_type).u8(i.reserved).zeros(4);
            }
            Message::PoolSwap(s) => {
                w.u128(s.amount_in)
                    .u128(s.amount_out)
                    .u128(s.liquidity_after);
                w.u64(s.timestamp_ns).u64(s.block_number).i32(s.tick_after);
                w.u16(s.venue)
                    .u8(s.amount_in_decimals)
                    .u8(s.amount_out_decimals);
                w.zeros(8).address(&s.pool_address).address(&s.token_in);
                w.address(&s.token_out)
                    .u128(s.sqrt_price_x96_after)
                    .zeros(16);
            }
            Message::PoolSync(s) => {
                w.u128(s.reserve0).u128(s.reserve1).u64(s.timestamp_ns);
                w.u64(s.block_number).u16(s.venue).u8(s.token0_decimals);
                w.u8(s.token1_decimals).zeros(12).address(&s.pool_address);
                w.address(&s.token0).address(&s.token1);
            }
            Message::ArbitrageSignal(s) => write_signal(&mut w, s),
            Message::OrderRequest(o) => {
                let i = o.instrument;
                w.u64(i.asset_id).i64(o.price.0).i64(o.quantity.0);
                w.u32(o.signal_id)
                    .u16(i.venue)
                    .u8(i.asset_type)
                    .u8(o.side as u8);
            }
            Message::Heartbeat(h) => {
                w.u64(h.timestamp_ns).u32(h.uptime_s).u32(h.connections);
            }
            Message::SystemHealth(h) => {
                w.u64(h.timestamp_ns).u32(h.connection_count);
                w.u32(h.message_rate_per_sec).u32(h.last_error_code);
                w.u16(h.error_rate_per_thousand).u16(h.latency_p95_us);
                w.u8(h.service_type).u8(h.health_status).u8(h.cpu_usage_pct);
                w.u8(h.memory_usage_pct).zeros(20);
            }
            Message::RelayCounters(c) => {
                w.u64(c.uptime_ms).u64(c.frames_in).u64(c.frames_out);
                w.u64(c.bytes_in).u64(c.bad_frames).u64(c.slow_dropped);
                w.u32(c.clients).u32(c.accepted);
            }
        }
        w.0
    }

    /// Decodes one record's value; `None` for a type this crate does not know.
    pub fn decode(tlv_type: u8, value: &[u8]) -> Result<Option<Message>, TlvError> {
        let Some(expected) = body_len(tlv_type) else {
            return Ok(None);
        };
        if value.len() != expected {
            return Err(TlvError::BadLength {
                tlv_type,
                expected,
                found: value.len(),
            });
        }
        let r = Reader(value);
        let side = |at| {
            Side::from_u8(r.u8(at)).ok_or(TlvError::Invalid {
                tlv_type,
                what: "side",
            })
        };
        let message = match tlv_type {
            TRADE => Message::Trade(Trade {
                instrument: r.instrument(0, 32, 34, Some(35)),
                price: Fixed(r.i64(8)),
                volume: Fixed(r.i64(16)),
                execution_timestamp_ns: r.u64(24),
                side: side(36)?,
            }),
            QUOTE => Message::Quote(Quote {
                instrument: r.instrument(0, 48, 50, Some(51)),
                bid_price: Fixed(r.i64(8)),
                bid_size: Fixed(r.i64(16)),
                ask_price: Fixed(r.i64(24)),
                ask_size: Fixed(r.i64(32)),
                quote_timestamp_ns: r.u64(40),
            }),
            POOL_SWAP => Message::PoolSwap(PoolSwap {
                amount_in: r.u128(0),
                amount_out: r.u128(16),
                liquidity_after: r.u128(32),
                timestamp_ns: r.u64(48),
                block_number: r.u64(56),
                tick_after: r.u32(64) as i32,
                venue: r.u16(68),
                amount_in_decimals: r.u8(70),
                amount_out_decimals: r.u8(71),
                pool_address: r.address(80),
                token_in: r.address(112),
                token_out: r.address(144),
                sqrt_price_x96_after: r.u128(176),
            }),
            POOL_SYNC => Message::PoolSync(PoolSync {
                reserve0: r.u128(0),
                reserve1: r.u128(16),
                timestamp_ns: r.u64(32),
                block_number: r.u64(40),
                venue: r.u16(48),
                token0_decimals: r.u8(50),
                token1_decimals: r.u8(51),
                pool_address: r.address(64),
                token0: r.address(96),
                token1: r.address(128),
            }),
            ARBITRAGE_SIGNAL => Message::ArbitrageSignal(read_signal(&r)),
            ORDER_REQUEST => Message::OrderRequest(OrderRequest {
                instrument: r.instrument(0, 28, 30, None),
                price: Fixed(r.i64(8)),
                quantity: Fixed(r.i64(16)),
                signal_id: r.u32(24),
                side: side(31)?,
            }),
            HEARTBEAT => Message::Heartbeat(Heartbeat {
                timestamp_ns: r.u64(0),
                uptime_s: r.u32(8),
                connections: r.u32(12),
            }),
            SYSTEM_HEALTH => Message::SystemHealth(SystemHealth {
                timestamp_ns: r.u64(0),
                connection_count: r.u32(8),
                message_rate_per_sec: r.u32(12),
                last_error_code: r.u32(16),
                error_rate_per_thousand: r.u16(20),
                latency_p95_us: r.u16(22),
                service_type: r.u8(24),
                health_status: r.u8(25),
                cpu_usage_pct: r.u8(26),
                memory_usage_pct: r.u8(27),
            }),
            _ => Message::RelayCounters(RelayCounters {
                uptime_ms: r.u64(0),
                frames_in: r.u64(8),
                frames_out: r.u64(16),
                bytes_in: r.u64(24),
                bad_frames: r.u64(32),
                slow_dropped: r.u64(40),
                clients: r.u32(48),
                accepted: r.u32(52),
            }),
        };
        Ok(Some(message))
    }
}

/// The body size of a known type.
pub fn body_len(tlv_type: u8) -> Option<usize> {
    use layout::*;
    Some(match tlv_type {
        TRADE => TRADE_LEN,
        QUOTE => QUOTE_LEN,
        POOL_SWAP => POOL_SWAP_LEN,
        POOL_SYNC => POOL_SYNC_LEN,
        ARBITRAGE_SIGNAL => ARBITRAGE_SIGNAL_LEN,
        ORDER_REQUEST => ORDER_REQUEST_LEN,
        HEARTBEAT => HEARTBEAT_LEN,
        SYSTEM_HEALTH => SYSTEM_HEALTH_LEN,
        RELAY_COUNTERS => RELAY_COUNTERS_LEN,
        _ => return None,
    })
}

/// `ArbitrageSignalTLV` is `repr(C, packed)`: declaration order, no padding.
fn write_signal(w: &mut Body, s: &ArbitrageSignal) {
    w.u16(s.strategy_id).u64(s.signal_id).u32(s.chain_id);
    w.raw(&s.source_pool).raw(&s.target_pool);
    w.u16(s.source_venue)
        .u16(s.target_venue)
        .raw(&s.token_in)
        .raw(&s.token_out);
    w.i64(s.expected_profit_usd.0).i64(s.required_capital_usd.0);
    w.u16(s.spread_bps)
        .i64(s.dex_fees_usd.0)
        .i64(s.gas_cost_usd.0);
    w.i64(s.slippage_usd.0).i64(s.net_profit_usd.0);
    w.u16(s.slippage_tolerance_bps)
        .u32(s.max_gas_price_gwei)
        .u32(s.valid_until);
    w.u16(s.priority).zeros(2).u64(s.timestamp_ns);
}

fn read_signal(r: &Reader) -> ArbitrageSignal {
    ArbitrageSignal {
        strategy_id: r.u16(0),
        signal_id: r.u64(2),
        chain_id: r.u32(10),
        source_pool: r.address(14),
        target_pool: r.address(34),
        source_venue: r.u16(54),
        target_venue: r.u16(56),
        token_in: r.address(58),
        token_out: r.address(78),
        expected_profit_usd: Fixed(r.i64(98)),
        required_capital_usd: Fixed(r.i64(106)),
        spread_bps: r.u16(114),
        dex_fees_usd: Fixed(r.i64(116)),
        gas_cost_usd: Fixed(r.i64(124)),
        slippage_usd: Fixed(r.i64(132)),
        net_profit_usd: Fixed(r.i64(140)),
        slippage_tolerance_bps: r.u16(148),
        max_gas_price_gwei: r.u32(150),
        valid_until: r.u32(154),
        priority: r.u16(158),
        timestamp_ns: r.u64(162),
    }
}

/// A body being written, little-endian.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn u8(&mut self, v: u8) -> &mut Self {
        self.raw(&[v])
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    fn u128(&mut self, v: u128) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    /// An address as the original's pool bodies hold it: 20 bytes, 12 of padding.
    fn address(&mut self, a: &Address) -> &mut Self {
        self.raw(a).zeros(12)
    }
}

/// A body being read at fixed offsets (its length was checked).
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.0[at..at + N]);
        out
    }
    fn u8(&self, at: usize) -> u8 {
        self.0[at]
    }
    fn u16(&self, at: usize) -> u16 {
        u16::from_le_bytes(self.array(at))
    }
    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.array(at))
    }
    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.array(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_le_bytes(self.array(at))
    }
    fn u128(&self, at: usize) -> u128 {
        u128::from_le_bytes(self.array(at))
    }
    fn address(&self, at: usize) -> Address {
        self.array(at)
    }
    fn instrument(
        &self,
        id: usize,
        venue: usize,
        kind: usize,
        reserved: Option<usize>,
    ) -> InstrumentId {
        InstrumentId {
            asset_id: self.u64(id),
            venue: self.u16(venue),
            asset_type: self.u8(kind),
            reserved: reserved.map_or(0, |at| self.u8(at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::instrument::venue_id;

    fn samples() -> Vec<Message> {
        let btc = InstrumentId::coin(venue_id::KRAKEN, "BTC/USD");
        vec![
            Message::Trade(Trade {
                instrument: btc,
                price: Fixed::from_f64(60_000.5),
                volume: Fixed::from_f64(0.25),
                execution_timestamp_ns: 7,
                side: Side::Sell,
            }),
            Message::Quote(Quote {
                instrument: InstrumentId::coin(venue_id::COINBASE, "ETH/USD"),
                bid_price: Fixed::from_f64(3000.0),
                bid_size: Fixed::from_f64(2.0),
                ask_price: Fixed::from_f64(3000.5),
                ask_size: Fixed::from_f64(1.5),
                quote_timestamp_ns: 8,
            }),
            Message::PoolSwap(PoolSwap {
                venue: venue_id::POLYGON,
                pool_address: [1; 20],
                token_in: [2; 20],
                token_out: [3; 20],
                amount_in: 10u128.pow(18),
                amount_out: 2_990_000_000,
                liquidity_after: 0,
                timestamp_ns: 9,
                block_number: 10,
                tick_after: -5,
                amount_in_decimals: 18,
                amount_out_decimals: 6,
                sqrt_price_x96_after: 1 << 96,
            }),
            Message::PoolSync(PoolSync {
                venue: venue_id::POLYGON,
                pool_address: [1; 20],
                token0: [2; 20],
                token1: [3; 20],
                reserve0: 1000 * 10u128.pow(18),
                reserve1: 3_000_000 * 10u128.pow(6),
                timestamp_ns: 11,
                block_number: 12,
                token0_decimals: 18,
                token1_decimals: 6,
            }),
            Message::ArbitrageSignal(ArbitrageSignal {
                strategy_id: 21,
                signal_id: 7,
                chain_id: 137,
                source_pool: [4; 20],
                target_pool: [5; 20],
                source_venue: 400,
                target_venue: 401,
                token_in: [6; 20],
                token_out: [7; 20],
                expected_profit_usd: Fixed::from_f64(100.0),
                required_capital_usd: Fixed::from_f64(10_000.0),
                spread_bps: 80,
                dex_fees_usd: Fixed::from_f64(60.0),
                gas_cost_usd: Fixed::from_f64(0.01),
                slippage_usd: Fixed::from_f64(10.0),
                net_profit_usd: Fixed::from_f64(29.99),
                slippage_tolerance_bps: 50,
                max_gas_price_gwei: 100,
                valid_until: 1_700_000_300,
                priority: 800,
                timestamp_ns: 13,
            }),
            Message::OrderRequest(OrderRequest {
                instrument: btc,
                price: Fixed::from_f64(60_000.0),
                quantity: Fixed::from_f64(0.5),
                signal_id: 7,
                side: Side::Buy,
            }),
            Message::Heartbeat(Heartbeat {
                timestamp_ns: 1,
                uptime_s: 2,
                connections: 3,
            }),
            Message::SystemHealth(SystemHealth {
                timestamp_ns: 1,
                connection_count: 2,
                message_rate_per_sec: 3,
                service_type: 80,
                ..SystemHealth::default()
            }),
            Message::RelayCounters(RelayCounters {
                uptime_ms: 1,
                frames_in: 2,
                frames_out: 3,
                bytes_in: 4,
                bad_frames: 5,
                slow_dropped: 6,
                clients: 7,
                accepted: 8,
            }),
        ]
    }

    #[test]
    fn every_message_round_trips_at_its_original_size() {
        let messages = samples();
        for message in &messages {
            assert_eq!(
                Some(message.body().len()),
                body_len(message.tlv_type()),
                "{message:?}"
            );
        }
        let payload = encode_payload(&messages).unwrap();
        let decoded = decode_payload(&payload).unwrap();
        assert_eq!(decoded.messages, messages);
        assert_eq!(decoded.skipped, 0);
    }

    #[test]
    fn unknown_records_are_skipped_standard_and_extended() {
        let mut payload = vec![99, 3, 1, 2, 3];
        push_record(&mut payload, 250, &[0u8; 300]).unwrap();
        assert_eq!(&payload[5..10], &[255, 0, 250, 0x2C, 0x01]);
        payload.extend(encode_payload(&samples()[..1]).unwrap());
        let decoded = decode_payload(&payload).unwrap();
        assert_eq!(decoded.skipped, 2);
        assert_eq!(decoded.messages, samples()[..1]);
    }

    #[test]
    fn a_known_type_in_the_extended_form_decodes() {
        let message = &samples()[0];
        let mut payload = vec![255, 0, TRADE, 40, 0];
        payload.extend(message.body());
        assert_eq!(
            decode_payload(&payload).unwrap().messages,
            vec![message.clone()]
        );
    }

    #[test]
    fn truncated_and_missized_records_are_errors() {
        let payload = encode_payload(&samples()[..1]).unwrap();
        assert_eq!(
            decode_payload(&payload[..payload.len() - 1]),
            Err(TlvError::Truncated)
        );
        assert_eq!(decode_payload(&[TRADE]), Err(TlvError::Truncated));
        assert_eq!(decode_payload(&[255, 0, 1, 9]), Err(TlvError::Truncated));
        assert!(matches!(
            decode_payload(&[TRADE, 1, 0]),
            Err(TlvError::BadLength { expected: 40, .. })
        ));
        let mut bad_side = payload.clone();
        bad_side[2 + 36] = 7;
        assert!(matches!(
            decode_payload(&bad_side),
            Err(TlvError::Invalid { what: "side", .. })
        ));
    }

    #[test]
    fn fixed_point_has_eight_decimals() {
        assert_eq!(Fixed::from_f64(1.5).0, 150_000_000);
        assert_eq!(Fixed(123_456_789).to_f64(), 1.23456789);
    }
}
