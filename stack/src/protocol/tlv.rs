//! TLV records (type `u8`, length `u8`, value) and the typed messages they
//! carry. Values are little-endian; prices and sizes are fixed-point with
//! eight decimals ([`Fixed`]); strings are a length byte and UTF-8.

use thiserror::Error;

/// TLV type of a trade.
pub const TRADE: u8 = 1;
/// TLV type of a top-of-book quote.
pub const QUOTE: u8 = 2;
/// TLV type of a DEX pool swap.
pub const POOL_SWAP: u8 = 11;
/// TLV type of a DEX pool reserve sync.
pub const POOL_SYNC: u8 = 16;
/// TLV type of an arbitrage signal.
pub const ARBITRAGE_SIGNAL: u8 = 32;
/// TLV type of an order request.
pub const ORDER_REQUEST: u8 = 40;
/// TLV type of a heartbeat.
pub const HEARTBEAT: u8 = 100;

/// A fixed-point number with eight decimals (prices, sizes, amounts).
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

/// A trading venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    /// Kraken (centralized exchange).
    Kraken = 1,
    /// Coinbase (centralized exchange).
    Coinbase = 2,
    /// Polygon DEX pools.
    Polygon = 3,
}

impl Venue {
    /// All venues.
    pub const ALL: [Venue; 3] = [Venue::Kraken, Venue::Coinbase, Venue::Polygon];

    /// The venue of a wire byte.
    pub fn from_u8(value: u8) -> Option<Venue> {
        Venue::ALL.into_iter().find(|v| *v as u8 == value)
    }

    /// The venue's name (lower case).
    pub fn name(self) -> &'static str {
        match self {
            Venue::Kraken => "kraken",
            Venue::Coinbase => "coinbase",
            Venue::Polygon => "polygon",
        }
    }
}

impl std::fmt::Display for Venue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Venue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Venue::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown venue `{s}` (expected kraken, coinbase or polygon)"))
    }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy (the aggressor lifted the ask).
    Buy = 1,
    /// Sell (the aggressor hit the bid).
    Sell = 2,
}

impl Side {
    fn from_u8(value: u8) -> Option<Side> {
        match value {
            1 => Some(Side::Buy),
            2 => Some(Side::Sell),
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

/// A trade on a venue.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// Where it traded.
    pub venue: Venue,
    /// The instrument, e.g. `BTC/USD`.
    pub instrument: String,
    /// Price.
    pub price: Fixed,
    /// Quantity.
    pub size: Fixed,
    /// The aggressor's side.
    pub side: Side,
}

/// The best bid and ask of an instrument on a venue.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    /// The venue.
    pub venue: Venue,
    /// The instrument.
    pub instrument: String,
    /// Best bid.
    pub bid: Fixed,
    /// Quantity at the best bid.
    pub bid_size: Fixed,
    /// Best ask.
    pub ask: Fixed,
    /// Quantity at the best ask.
    pub ask_size: Fixed,
}

/// A swap in a DEX pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSwap {
    /// The venue (chain).
    pub venue: Venue,
    /// The pool, e.g. `WETH/USDC`.
    pub pool: String,
    /// Tokens in.
    pub amount_in: Fixed,
    /// Tokens out.
    pub amount_out: Fixed,
    /// Token0 in, token1 out (else the reverse).
    pub zero_for_one: bool,
    /// The pool price (token1 per token0) after the swap.
    pub price: Fixed,
}

/// A DEX pool's reserves.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSync {
    /// The venue (chain).
    pub venue: Venue,
    /// The pool.
    pub pool: String,
    /// Reserve of token0.
    pub reserve0: Fixed,
    /// Reserve of token1.
    pub reserve1: Fixed,
}

/// A cross-venue arbitrage opportunity found by the strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct ArbitrageSignal {
    /// The signal's id (unique per strategy process).
    pub signal_id: u64,
    /// The instrument.
    pub instrument: String,
    /// Where to buy (at its ask).
    pub buy_venue: Venue,
    /// Where to sell (at its bid).
    pub sell_venue: Venue,
    /// The ask bought.
    pub buy_price: Fixed,
    /// The bid sold.
    pub sell_price: Fixed,
    /// Quantity.
    pub size: Fixed,
    /// Profit after fees, in the quote currency.
    pub expected_profit: Fixed,
}

/// An order the strategy asks execution to place.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRequest {
    /// The order's id.
    pub order_id: u64,
    /// The signal it executes.
    pub signal_id: u64,
    /// The venue.
    pub venue: Venue,
    /// The instrument.
    pub instrument: String,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Fixed,
    /// Quantity.
    pub size: Fixed,
}

/// A relay's liveness and counters, sent to its clients every second.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Heartbeat {
    /// Milliseconds since the relay started.
    pub uptime_ms: u64,
    /// Frames received from clients.
    pub frames_in: u64,
    /// Frames delivered to client queues.
    pub frames_out: u64,
    /// Clients connected now.
    pub clients: u32,
    /// Frames rejected (bad magic, CRC, domain, version).
    pub bad_frames: u64,
    /// Clients dropped for being too slow.
    pub slow_dropped: u64,
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
}

/// Why a TLV record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlvError {
    /// The payload ends inside a record.
    #[error("truncated TLV record")]
    Truncated,
    /// A value too long for the one-byte length.
    #[error("TLV value of {0} bytes exceeds 255")]
    TooLong(usize),
    /// A type this crate does not know.
    #[error("unknown TLV type {0}")]
    UnknownType(u8),
    /// A value whose content is invalid.
    #[error("invalid {what} in TLV type {tlv_type}")]
    Invalid {
        /// The record type.
        tlv_type: u8,
        /// The field.
        what: &'static str,
    },
}

/// Iterates over the raw records `(type, value)` of a payload.
pub fn records(payload: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8]), TlvError>> {
    let mut rest = payload;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() < 2 || rest.len() < 2 + rest[1] as usize {
            rest = &[];
            return Some(Err(TlvError::Truncated));
        }
        let (tlv_type, len) = (rest[0], rest[1] as usize);
        let value = &rest[2..2 + len];
        rest = &rest[2 + len..];
        Some(Ok((tlv_type, value)))
    })
}

/// Decodes every record of a payload.
pub fn decode_payload(payload: &[u8]) -> Result<Vec<Message>, TlvError> {
    records(payload)
        .map(|record| record.and_then(|(t, v)| Message::decode(t, v)))
        .collect()
}

/// Encodes messages into one payload.
pub fn encode_payload(messages: &[Message]) -> Result<Vec<u8>, TlvError> {
    let mut out = Vec::with_capacity(64 * messages.len());
    for message in messages {
        message.encode_into(&mut out)?;
    }
    Ok(out)
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
        }
    }

    /// Appends the record (type, length, value) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), TlvError> {
        let mut value = ValueWriter::default();
        self.encode_value(&mut value);
        let len = value.0.len();
        if len > u8::MAX as usize {
            return Err(TlvError::TooLong(len));
        }
        out.push(self.tlv_type());
        out.push(len as u8);
        out.extend_from_slice(&value.0);
        Ok(())
    }

    fn encode_value(&self, w: &mut ValueWriter) {
        match self {
            Message::Trade(t) => {
                w.u8(t.venue as u8)
                    .str(&t.instrument)
                    .fixed(t.price)
                    .fixed(t.size);
                w.u8(t.side as u8);
            }
            Message::Quote(q) => {
                w.u8(q.venue as u8)
                    .str(&q.instrument)
                    .fixed(q.bid)
                    .fixed(q.bid_size);
                w.fixed(q.ask).fixed(q.ask_size);
            }
            Message::PoolSwap(s) => {
                w.u8(s.venue as u8)
                    .str(&s.pool)
                    .fixed(s.amount_in)
                    .fixed(s.amount_out);
                w.u8(s.zero_for_one as u8).fixed(s.price);
            }
            Message::PoolSync(s) => {
                w.u8(s.venue as u8)
                    .str(&s.pool)
                    .fixed(s.reserve0)
                    .fixed(s.reserve1);
            }
            Message::ArbitrageSignal(s) => {
                w.u64(s.signal_id).str(&s.instrument).u8(s.buy_venue as u8);
                w.u8(s.sell_venue as u8)
                    .fixed(s.buy_price)
                    .fixed(s.sell_price);
                w.fixed(s.size).fixed(s.expected_profit);
            }
            Message::OrderRequest(o) => {
                w.u64(o.order_id)
                    .u64(o.signal_id)
                    .u8(o.venue as u8)
                    .str(&o.instrument);
                w.u8(o.side as u8).fixed(o.price).fixed(o.size);
            }
            Message::Heartbeat(h) => {
                w.u64(h.uptime_ms)
                    .u64(h.frames_in)
                    .u64(h.frames_out)
                    .u32(h.clients);
                w.u64(h.bad_frames).u64(h.slow_dropped);
            }
        }
    }

    /// Decodes one record's value.
    pub fn decode(tlv_type: u8, value: &[u8]) -> Result<Message, TlvError> {
        let mut r = ValueReader {
            rest: value,
            tlv_type,
        };
        let message = match tlv_type {
            TRADE => Message::Trade(Trade {
                venue: r.venue()?,
                instrument: r.str()?,
                price: r.fixed()?,
                size: r.fixed()?,
                side: r.side()?,
            }),
            QUOTE => Message::Quote(Quote {
                venue: r.venue()?,
                instrument: r.str()?,
                bid: r.fixed()?,
                bid_size: r.fixed()?,
                ask: r.fixed()?,
                ask_size: r.fixed()?,
            }),
            POOL_SWAP => Message::PoolSwap(PoolSwap {
                venue: r.venue()?,
                pool: r.str()?,
                amount_in: r.fixed()?,
                amount_out: r.fixed()?,
                zero_for_one: r.u8()? != 0,
                price: r.fixed()?,
            }),
            POOL_SYNC => Message::PoolSync(PoolSync {
                venue: r.venue()?,
                pool: r.str()?,
                reserve0: r.fixed()?,
                reserve1: r.fixed()?,
            }),
            ARBITRAGE_SIGNAL => Message::ArbitrageSignal(ArbitrageSignal {
                signal_id: r.u64()?,
                instrument: r.str()?,
                buy_venue: r.venue()?,
                sell_venue: r.venue()?,
                buy_price: r.fixed()?,
                sell_price: r.fixed()?,
                size: r.fixed()?,
                expected_profit: r.fixed()?,
            }),
            ORDER_REQUEST => Message::OrderRequest(OrderRequest {
                order_id: r.u64()?,
                signal_id: r.u64()?,
                venue: r.venue()?,
                instrument: r.str()?,
                side: r.side()?,
                price: r.fixed()?,
                size: r.fixed()?,
            }),
            HEARTBEAT => Message::Heartbeat(Heartbeat {
                uptime_ms: r.u64()?,
                frames_in: r.u64()?,
                frames_out: r.u64()?,
                clients: r.u32()?,
                bad_frames: r.u64()?,
                slow_dropped: r.u64()?,
            }),
            other => return Err(TlvError::UnknownType(other)),
        };
        Ok(message)
    }
}

#[derive(Default)]
struct ValueWriter(Vec<u8>);

impl ValueWriter {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn fixed(&mut self, v: Fixed) -> &mut Self {
        self.0.extend_from_slice(&v.0.to_le_bytes());
        self
    }
    /// A string: one length byte, then at most 255 bytes of UTF-8 (cut on a char boundary).
    fn str(&mut self, v: &str) -> &mut Self {
        let mut end = v.len().min(u8::MAX as usize);
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push(end as u8);
        self.0.extend_from_slice(&v.as_bytes()[..end]);
        self
    }
}

struct ValueReader<'a> {
    rest: &'a [u8],
    tlv_type: u8,
}

impl ValueReader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], TlvError> {
        if self.rest.len() < N {
            return Err(TlvError::Truncated);
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.rest[..N]);
        self.rest = &self.rest[N..];
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, TlvError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, TlvError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, TlvError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn fixed(&mut self) -> Result<Fixed, TlvError> {
        Ok(Fixed(i64::from_le_bytes(self.take()?)))
    }
    fn str(&mut self) -> Result<String, TlvError> {
        let len = self.u8()? as usize;
        if self.rest.len() < len {
            return Err(TlvError::Truncated);
        }
        let (bytes, rest) = self.rest.split_at(len);
        self.rest = rest;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.invalid("string"))
    }
    fn venue(&mut self) -> Result<Venue, TlvError> {
        let byte = self.u8()?;
        Venue::from_u8(byte).ok_or(self.invalid("venue"))
    }
    fn side(&mut self) -> Result<Side, TlvError> {
        let byte = self.u8()?;
        Side::from_u8(byte).ok_or(self.invalid("side"))
    }
    fn invalid(&self, what: &'static str) -> TlvError {
        TlvError::Invalid {
            tlv_type: self.tlv_type,
            what,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Message> {
        vec![
            Message::Trade(Trade {
                venue: Venue::Kraken,
                instrument: "BTC/USD".into(),
                price: Fixed::from_f64(60_000.5),
                size: Fixed::from_f64(0.25),
                side: Side::Sell,
            }),
            Message::Quote(Quote {
                venue: Venue::Coinbase,
                instrument: "ETH/USD".into(),
                bid: Fixed::from_f64(3000.0),
                bid_size: Fixed::from_f64(2.0),
                ask: Fixed::from_f64(3000.5),
                ask_size: Fixed::from_f64(1.5),
            }),
            Message::PoolSwap(PoolSwap {
                venue: Venue::Polygon,
                pool: "WETH/USDC".into(),
                amount_in: Fixed::from_f64(1.0),
                amount_out: Fixed::from_f64(2990.0),
                zero_for_one: true,
                price: Fixed::from_f64(2999.0),
            }),
            Message::PoolSync(PoolSync {
                venue: Venue::Polygon,
                pool: "WETH/USDC".into(),
                reserve0: Fixed::from_f64(1000.0),
                reserve1: Fixed::from_f64(3_000_000.0),
            }),
            Message::ArbitrageSignal(ArbitrageSignal {
                signal_id: 7,
                instrument: "BTC/USD".into(),
                buy_venue: Venue::Kraken,
                sell_venue: Venue::Coinbase,
                buy_price: Fixed::from_f64(60_000.0),
                sell_price: Fixed::from_f64(60_300.0),
                size: Fixed::from_f64(0.5),
                expected_profit: Fixed::from_f64(90.0),
            }),
            Message::OrderRequest(OrderRequest {
                order_id: 14,
                signal_id: 7,
                venue: Venue::Kraken,
                instrument: "BTC/USD".into(),
                side: Side::Buy,
                price: Fixed::from_f64(60_000.0),
                size: Fixed::from_f64(0.5),
            }),
            Message::Heartbeat(Heartbeat {
                uptime_ms: 1,
                frames_in: 2,
                frames_out: 3,
                clients: 4,
                bad_frames: 5,
                slow_dropped: 6,
            }),
        ]
    }

    #[test]
    fn every_message_round_trips() {
        let messages = samples();
        let payload = encode_payload(&messages).unwrap();
        assert_eq!(decode_payload(&payload).unwrap(), messages);
    }

    #[test]
    fn records_carry_type_and_length() {
        let payload = encode_payload(&samples()[..1]).unwrap();
        assert_eq!(payload[0], TRADE);
        assert_eq!(payload[1] as usize, payload.len() - 2);
        let types: Vec<u8> = records(&encode_payload(&samples()).unwrap())
            .map(|r| r.unwrap().0)
            .collect();
        assert_eq!(types, vec![1, 2, 11, 16, 32, 40, 100]);
    }

    #[test]
    fn truncated_and_unknown_records_are_errors() {
        let payload = encode_payload(&samples()[..1]).unwrap();
        assert_eq!(
            decode_payload(&payload[..payload.len() - 1]),
            Err(TlvError::Truncated)
        );
        assert_eq!(decode_payload(&[99, 0]), Err(TlvError::UnknownType(99)));
        assert_eq!(decode_payload(&[TRADE]), Err(TlvError::Truncated));
        let mut bad_venue = payload.clone();
        bad_venue[2] = 42;
        assert!(matches!(
            decode_payload(&bad_venue),
            Err(TlvError::Invalid { what: "venue", .. })
        ));
    }

    #[test]
    fn oversized_values_are_rejected() {
        let message = Message::PoolSync(PoolSync {
            venue: Venue::Polygon,
            pool: "é".repeat(200),
            reserve0: Fixed(1),
            reserve1: Fixed(2),
        });
        let mut out = Vec::new();
        assert_eq!(message.encode_into(&mut out), Err(TlvError::TooLong(272)));
    }

    #[test]
    fn fixed_point_has_eight_decimals() {
        assert_eq!(Fixed::from_f64(1.5).0, 150_000_000);
        assert_eq!(Fixed(123_456_789).to_f64(), 1.23456789);
    }
}
