//! The exchange-to-exchange mode's pure core: the best bid and ask per venue
//! and instrument, and the search for a cross-venue trade whose spread beats
//! both legs' taker fees plus a minimum profit. A cooldown (shared with the
//! DEX mode) keeps one dislocation from firing on every update.

use std::collections::{BTreeMap, HashMap};

use crate::protocol::instrument::Venue;
use crate::protocol::tlv::Quote;

/// The best bid and ask of an instrument on one venue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopOfBook {
    /// Best bid.
    pub bid: f64,
    /// Quantity at the bid.
    pub bid_size: f64,
    /// Best ask.
    pub ask: f64,
    /// Quantity at the ask.
    pub ask_size: f64,
    /// When the quote arrived (ns since the epoch).
    pub updated_ns: u64,
}

/// Top of book for every instrument and venue seen.
#[derive(Debug, Clone, Default)]
pub struct Book {
    instruments: HashMap<String, BTreeMap<Venue, TopOfBook>>,
}

/// What the strategy trades on.
#[derive(Debug, Clone)]
pub struct ArbParams {
    /// Taker fee per leg, basis points of the notional.
    pub fee_bps: f64,
    /// The least profit after fees worth a trade (quote currency).
    pub min_profit: f64,
    /// The largest notional of one leg (quote currency).
    pub max_notional: f64,
    /// Quotes older than this are ignored (ns).
    pub max_age_ns: u64,
}

impl Default for ArbParams {
    fn default() -> ArbParams {
        ArbParams {
            fee_bps: 10.0,
            min_profit: 1.0,
            max_notional: 50_000.0,
            max_age_ns: 2_000_000_000,
        }
    }
}

/// A profitable cross-venue trade.
#[derive(Debug, Clone, PartialEq)]
pub struct Opportunity {
    /// The instrument.
    pub instrument: String,
    /// Buy here, at its ask.
    pub buy_venue: Venue,
    /// Sell here, at its bid.
    pub sell_venue: Venue,
    /// The ask.
    pub buy_price: f64,
    /// The bid.
    pub sell_price: f64,
    /// Quantity.
    pub size: f64,
    /// Fees of both legs.
    pub fees: f64,
    /// Profit after fees.
    pub net_profit: f64,
}

impl Opportunity {
    /// The spread in basis points of the buy price.
    pub fn spread_bps(&self) -> f64 {
        (self.sell_price - self.buy_price) / self.buy_price * 10_000.0
    }
}

impl Book {
    /// An empty book.
    pub fn new() -> Book {
        Book::default()
    }

    /// Records a quote arriving at `now_ns`; returns its instrument's name
    /// (None for a venue the stack does not know).
    pub fn update(&mut self, quote: &Quote, now_ns: u64) -> Option<String> {
        let venue = Venue::from_id(quote.instrument.venue)?;
        let top = TopOfBook {
            bid: quote.bid_price.to_f64(),
            bid_size: quote.bid_size.to_f64(),
            ask: quote.ask_price.to_f64(),
            ask_size: quote.ask_size.to_f64(),
            updated_ns: now_ns,
        };
        let instrument = quote.instrument.symbol();
        self.instruments
            .entry(instrument.clone())
            .or_default()
            .insert(venue, top);
        Some(instrument)
    }

    /// The top of book of `instrument` on `venue`.
    pub fn top(&self, instrument: &str, venue: Venue) -> Option<&TopOfBook> {
        self.instruments.get(instrument)?.get(&venue)
    }

    /// The most profitable cross-venue trade of `instrument` now, if one beats
    /// fees plus the minimum profit.
    pub fn best_opportunity(
        &self,
        instrument: &str,
        now_ns: u64,
        params: &ArbParams,
    ) -> Option<Opportunity> {
        let venues = self.instruments.get(instrument)?;
        let fresh = |top: &&TopOfBook| now_ns.saturating_sub(top.updated_ns) <= params.max_age_ns;
        let fee = params.fee_bps * 1e-4;
        let mut best: Option<Opportunity> = None;
        for (buy_venue, buy) in venues.iter().filter(|(_, t)| fresh(t)) {
            for (sell_venue, sell) in venues.iter().filter(|(_, t)| fresh(t)) {
                if buy_venue == sell_venue || sell.bid <= buy.ask || buy.ask <= 0.0 {
                    continue;
                }
                let size = buy
                    .ask_size
                    .min(sell.bid_size)
                    .min(params.max_notional / buy.ask);
                let fees = (buy.ask + sell.bid) * size * fee;
                let net_profit = (sell.bid - buy.ask) * size - fees;
                if net_profit <= params.min_profit {
                    continue;
                }
                if best.as_ref().is_some_and(|b| b.net_profit >= net_profit) {
                    continue;
                }
                best = Some(Opportunity {
                    instrument: instrument.to_string(),
                    buy_venue: *buy_venue,
                    sell_venue: *sell_venue,
                    buy_price: buy.ask,
                    sell_price: sell.bid,
                    size,
                    fees,
                    net_profit,
                });
            }
        }
        best
    }
}

/// Remembers when each route (instrument or pair, buy side, sell side) last fired.
#[derive(Debug, Clone, Default)]
pub struct Cooldown {
    last_fired: HashMap<String, u64>,
}

impl Opportunity {
    /// The route: instrument, buy venue, sell venue.
    pub fn route(&self) -> String {
        format!("{} {}>{}", self.instrument, self.buy_venue, self.sell_venue)
    }
}

impl Cooldown {
    /// Whether `route` may fire at `now_ns`; if so, it is recorded as fired.
    pub fn allow(&mut self, route: String, now_ns: u64, cooldown_ns: u64) -> bool {
        match self.last_fired.get(&route) {
            Some(&last) if now_ns.saturating_sub(last) < cooldown_ns => false,
            _ => {
                self.last_fired.insert(route, now_ns);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Fixed;

    const SEC: u64 = 1_000_000_000;

    fn quote(venue: Venue, bid: f64, ask: f64, size: f64) -> Quote {
        Quote {
            instrument: crate::protocol::InstrumentId::coin(venue.id(), "BTC/USD"),
            bid_price: Fixed::from_f64(bid),
            bid_size: Fixed::from_f64(size),
            ask_price: Fixed::from_f64(ask),
            ask_size: Fixed::from_f64(size),
            quote_timestamp_ns: 0,
        }
    }

    fn params() -> ArbParams {
        ArbParams {
            fee_bps: 10.0,
            min_profit: 1.0,
            max_notional: 1_000_000.0,
            ..ArbParams::default()
        }
    }

    #[test]
    fn no_trade_when_the_venues_agree() {
        let mut book = Book::new();
        book.update(&quote(Venue::Kraken, 100.0, 100.1, 10.0), 0);
        book.update(&quote(Venue::Coinbase, 100.0, 100.1, 10.0), 0);
        assert_eq!(book.best_opportunity("BTC/USD", 0, &params()), None);
    }

    #[test]
    fn a_spread_beating_fees_and_min_profit_is_a_trade() {
        let mut book = Book::new();
        book.update(&quote(Venue::Kraken, 99.9, 100.0, 10.0), 0);
        book.update(&quote(Venue::Coinbase, 101.0, 101.1, 4.0), 0);
        let found = book.best_opportunity("BTC/USD", 0, &params()).unwrap();
        assert_eq!(
            (found.buy_venue, found.sell_venue),
            (Venue::Kraken, Venue::Coinbase)
        );
        assert_eq!(
            (found.buy_price, found.sell_price, found.size),
            (100.0, 101.0, 4.0)
        );
        // gross 4.0, fees (100 + 101) * 4 * 0.001 = 0.804
        assert!((found.net_profit - 3.196).abs() < 1e-9);
        assert!((found.spread_bps() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_spread_eaten_by_fees_or_below_min_profit_is_not() {
        let mut book = Book::new();
        // 15 bps spread against 20 bps of fees.
        book.update(&quote(Venue::Kraken, 99.9, 100.0, 10.0), 0);
        book.update(&quote(Venue::Coinbase, 100.15, 100.2, 10.0), 0);
        assert_eq!(book.best_opportunity("BTC/USD", 0, &params()), None);
        // 100 bps spread, but a profit of 0.8 on size 1 is below the minimum of 1.
        book.update(&quote(Venue::Coinbase, 101.0, 101.1, 1.0), 0);
        assert_eq!(book.best_opportunity("BTC/USD", 0, &params()), None);
    }

    #[test]
    fn stale_quotes_are_ignored_and_size_is_capped_by_notional() {
        let mut book = Book::new();
        book.update(&quote(Venue::Kraken, 99.9, 100.0, 10.0), 0);
        book.update(&quote(Venue::Coinbase, 101.0, 101.1, 10.0), 3 * SEC);
        assert_eq!(book.best_opportunity("BTC/USD", 3 * SEC, &params()), None);
        book.update(&quote(Venue::Kraken, 99.9, 100.0, 10.0), 3 * SEC);
        let capped = ArbParams {
            max_notional: 500.0,
            ..params()
        };
        let found = book.best_opportunity("BTC/USD", 3 * SEC, &capped).unwrap();
        assert_eq!(found.size, 5.0);
    }

    #[test]
    fn the_best_of_several_venues_wins() {
        let mut book = Book::new();
        book.update(&quote(Venue::Kraken, 99.9, 100.0, 10.0), 0);
        book.update(&quote(Venue::Coinbase, 101.0, 101.1, 10.0), 0);
        book.update(&quote(Venue::Polygon, 102.0, 102.2, 10.0), 0);
        let found = book.best_opportunity("BTC/USD", 0, &params()).unwrap();
        assert_eq!(
            (found.buy_venue, found.sell_venue),
            (Venue::Kraken, Venue::Polygon)
        );
    }

    #[test]
    fn a_route_fires_once_per_cooldown() {
        let mut book = Book::new();
        book.update(&quote(Venue::Kraken, 99.9, 100.0, 10.0), 0);
        book.update(&quote(Venue::Coinbase, 101.0, 101.1, 10.0), 0);
        let found = book.best_opportunity("BTC/USD", 0, &params()).unwrap();
        let mut cooldown = Cooldown::default();
        assert!(cooldown.allow(found.route(), 0, SEC));
        assert!(!cooldown.allow(found.route(), SEC / 2, SEC));
        assert!(cooldown.allow(found.route(), SEC, SEC));
    }
}
