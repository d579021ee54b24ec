//! What an opportunity becomes on the wire: an `ArbitrageSignal` (the
//! original's DEX-shaped record) and the two legs' `OrderRequest`s. The DEX
//! mode fills the signal as the original's strategy does (pools, tokens,
//! DEX venues, chain 137, USD costs). The exchange-to-exchange mode maps onto
//! the same record: chain id 0, the buy and sell venues in `source_venue` /
//! `target_venue`, each side's `InstrumentId` in the pool fields (its 12 wire
//! bytes, zero-padded), token fields zero, taker fees as `dex_fees_usd`, no
//! gas or slippage.

use super::book::Opportunity;
use super::dex::DexOpportunity;
use crate::protocol::instrument::{instrument_address, InstrumentId, POLYGON_CHAIN_ID};
use crate::protocol::tlv::{ArbitrageSignal, Fixed, OrderRequest, Side};

/// The original's strategy id of flash arbitrage.
pub const STRATEGY_ID: u16 = 21;
/// The original's default slippage tolerance, basis points.
const SLIPPAGE_TOLERANCE_BPS: u16 = 50;
/// The original's default gas price ceiling, gwei.
const MAX_GAS_PRICE_GWEI: u32 = 100;
/// How long a signal stays valid, seconds (the original: 5 minutes).
const VALID_FOR_S: u32 = 300;

/// A signal and its orders.
#[derive(Debug, Clone, PartialEq)]
pub struct Signalled {
    /// The signal.
    pub signal: ArbitrageSignal,
    /// Buy leg, sell leg.
    pub orders: [OrderRequest; 2],
}

fn usd(value: f64) -> Fixed {
    Fixed::from_f64(value)
}

/// A signal with the fields every mode fills the same way.
fn base_signal(signal_id: u64, spread_bps: f64, now_ns: u64) -> ArbitrageSignal {
    let spread_bps = spread_bps.clamp(0.0, u16::MAX as f64) as u16;
    ArbitrageSignal {
        strategy_id: STRATEGY_ID,
        signal_id,
        chain_id: 0,
        source_pool: [0; 20],
        target_pool: [0; 20],
        source_venue: 0,
        target_venue: 0,
        token_in: [0; 20],
        token_out: [0; 20],
        expected_profit_usd: Fixed(0),
        required_capital_usd: Fixed(0),
        spread_bps,
        dex_fees_usd: Fixed(0),
        gas_cost_usd: Fixed(0),
        slippage_usd: Fixed(0),
        net_profit_usd: Fixed(0),
        slippage_tolerance_bps: SLIPPAGE_TOLERANCE_BPS,
        max_gas_price_gwei: MAX_GAS_PRICE_GWEI,
        valid_until: (now_ns / 1_000_000_000) as u32 + VALID_FOR_S,
        priority: (spread_bps as u32 * 10).min(u16::MAX as u32) as u16,
        timestamp_ns: now_ns,
    }
}

fn order(
    instrument: InstrumentId,
    side: Side,
    price: f64,
    quantity: f64,
    signal_id: u64,
) -> OrderRequest {
    OrderRequest {
        instrument,
        price: Fixed::from_f64(price),
        quantity: Fixed::from_f64(quantity),
        signal_id: signal_id as u32,
        side,
    }
}

/// The DEX mode's signal and orders.
pub fn dex(found: &DexOpportunity, signal_id: u64, now_ns: u64) -> Signalled {
    let (buy, sell, trade) = (&found.buy.pool, &found.sell.pool, &found.trade);
    let signal = ArbitrageSignal {
        chain_id: POLYGON_CHAIN_ID,
        source_pool: buy.address,
        target_pool: sell.address,
        source_venue: buy.dex,
        target_venue: sell.dex,
        token_in: buy.token1.address,
        token_out: buy.token0.address,
        expected_profit_usd: usd(trade.expected()),
        required_capital_usd: usd(trade.input),
        dex_fees_usd: usd(trade.fees),
        gas_cost_usd: usd(trade.gas),
        slippage_usd: usd(trade.slippage),
        net_profit_usd: usd(trade.net()),
        ..base_signal(signal_id, found.spread_bps(), now_ns)
    };
    let base = trade.base.max(f64::MIN_POSITIVE);
    let orders = [
        order(
            buy.instrument(),
            Side::Buy,
            trade.input / base,
            trade.base,
            signal_id,
        ),
        order(
            sell.instrument(),
            Side::Sell,
            trade.output / base,
            trade.base,
            signal_id,
        ),
    ];
    Signalled { signal, orders }
}

/// The exchange-to-exchange mode's signal and orders.
pub fn exchange(found: &Opportunity, signal_id: u64, now_ns: u64) -> Signalled {
    let buy = InstrumentId::coin(found.buy_venue.id(), &found.instrument);
    let sell = InstrumentId::coin(found.sell_venue.id(), &found.instrument);
    let capital = found.buy_price * found.size;
    let signal = ArbitrageSignal {
        source_pool: instrument_address(buy),
        target_pool: instrument_address(sell),
        source_venue: buy.venue,
        target_venue: sell.venue,
        expected_profit_usd: usd(found.net_profit + found.fees),
        required_capital_usd: usd(capital),
        dex_fees_usd: usd(found.fees),
        net_profit_usd: usd(found.net_profit),
        ..base_signal(signal_id, found.spread_bps(), now_ns)
    };
    let orders = [
        order(buy, Side::Buy, found.buy_price, found.size, signal_id),
        order(sell, Side::Sell, found.sell_price, found.size, signal_id),
    ];
    Signalled { signal, orders }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::instrument::{instrument_from_address, Venue};
    use crate::protocol::{Event, Message};

    #[test]
    fn the_exchange_mode_round_trips_through_the_dex_shaped_record() {
        let found = Opportunity {
            instrument: "BTC/USD".into(),
            buy_venue: Venue::Kraken,
            sell_venue: Venue::Coinbase,
            buy_price: 100.0,
            sell_price: 101.0,
            size: 4.0,
            fees: 0.804,
            net_profit: 3.196,
        };
        let out = exchange(&found, 9, 1_700_000_000_000_000_000);
        let s = out.signal;
        assert_eq!((s.chain_id, s.source_venue, s.target_venue), (0, 101, 102));
        assert_eq!(instrument_from_address(&s.source_pool).symbol(), "BTC/USD");
        assert_eq!((s.spread_bps, s.priority), (100, 1000));
        assert_eq!(s.net_profit_usd, Fixed::from_f64(3.196));
        assert_eq!(s.expected_profit_usd, Fixed::from_f64(4.0));
        assert_eq!(s.valid_until, 1_700_000_300);
        let Some(Event::ArbitrageOpportunity {
            pair,
            dex_buy,
            dex_sell,
            ..
        }) = Event::from_message(&Message::ArbitrageSignal(s))
        else {
            panic!()
        };
        assert_eq!(
            (pair.as_str(), dex_buy.as_str(), dex_sell.as_str()),
            ("BTC/USD", "kraken", "coinbase")
        );
        assert_eq!(out.orders[0].side, Side::Buy);
        assert_eq!(out.orders[1].instrument.venue, 102);
    }
}
