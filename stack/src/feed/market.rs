//! The synthetic market. A fair value per instrument follows a seeded random
//! walk in log price (one step per second, interpolated in between, restarted
//! at each UTC midnight) that every venue derives from the same market seed
//! and the wall clock, so all venues agree on it. Each venue quotes around it
//! with its own seeded noise and spread, trades now and then, and sometimes
//! (per window, with a probability) dislocates one instrument by tens of basis
//! points — the cross-venue arbitrage the exchange mode hunts. Polygon's
//! pools live in [`super::pools`]: they start at the fair value and then
//! evolve with every swap.

use super::noise::{hash, key, mix, normal, unit};
use super::pools::PoolSimulator;
use crate::protocol::instrument::{catalog, InstrumentId, Venue};
use crate::protocol::tlv::{Fixed, Message, Quote, Side, Trade};

const DAY_MS: u64 = 86_400_000;

/// A typical price of an instrument (or of a pool's tracked instrument).
pub fn base_price(instrument: &str) -> f64 {
    match tracked_instrument(instrument)
        .split('/')
        .next()
        .unwrap_or("")
    {
        "BTC" => 60_000.0,
        "ETH" => 3_000.0,
        "SOL" => 150.0,
        "MATIC" | "POL" => 0.5,
        _ => 100.0,
    }
}

/// A typical order size of an instrument.
pub fn base_size(instrument: &str) -> f64 {
    25_000.0 / base_price(instrument).max(1e-9)
}

/// The CEX instrument a pool tracks: `WETH/USDC` → `ETH/USD`.
pub fn tracked_instrument(pool: &str) -> String {
    let mut parts = pool.split('/');
    let base = parts.next().unwrap_or("");
    let quote = parts.next().unwrap_or("USD");
    let base = base
        .strip_prefix('W')
        .filter(|b| b.len() >= 3)
        .unwrap_or(base);
    let quote = if quote.starts_with("USD") {
        "USD"
    } else {
        quote
    };
    format!("{base}/{quote}")
}

/// The fair value of one instrument, computed incrementally.
#[derive(Debug, Clone)]
pub struct FairValue {
    seed: u64,
    key: u64,
    base: f64,
    volatility: f64,
    day: u64,
    step: u64,
    log_offset: f64,
}

impl FairValue {
    /// The fair value of `instrument` under `market_seed`; `volatility` is the
    /// log-price standard deviation per second.
    pub fn new(market_seed: u64, instrument: &str, volatility: f64) -> FairValue {
        let tracked = tracked_instrument(instrument);
        FairValue {
            seed: market_seed,
            key: key(&tracked),
            base: base_price(&tracked),
            volatility,
            day: u64::MAX,
            step: 0,
            log_offset: 0.0,
        }
    }

    /// The fair value at `t_ms` (milliseconds since the Unix epoch).
    pub fn at(&mut self, t_ms: u64) -> f64 {
        let (day, second) = (t_ms / DAY_MS, (t_ms % DAY_MS) / 1000);
        if day != self.day || second < self.step {
            (self.day, self.step, self.log_offset) = (day, 0, 0.0);
        }
        while self.step < second {
            self.log_offset += self.increment(self.step);
            self.step += 1;
        }
        let next = self.log_offset + self.increment(second);
        let fraction = (t_ms % 1000) as f64 / 1000.0;
        self.base * (self.log_offset + fraction * (next - self.log_offset)).exp()
    }

    fn increment(&self, step: u64) -> f64 {
        self.volatility * normal(hash(self.seed, &[self.key, self.day, step]))
    }
}

/// How a venue quotes.
#[derive(Debug, Clone)]
pub struct VenueParams {
    /// The venue.
    pub venue: Venue,
    /// The venue's own seed (noise, sizes, trades, dislocations).
    pub seed: u64,
    /// The seed shared by all venues (fair values).
    pub market_seed: u64,
    /// Log-price standard deviation of the fair value per second.
    pub volatility: f64,
    /// Quoted spread, basis points.
    pub spread_bps: f64,
    /// Standard deviation of the venue's mid around the fair value, basis points.
    pub noise_bps: f64,
    /// Probability that a window has a dislocation (on one instrument).
    pub dislocation_probability: f64,
    /// Length of a dislocation window, milliseconds.
    pub dislocation_ms: u64,
    /// Smallest and largest dislocation, basis points.
    pub dislocation_bps: (f64, f64),
    /// Probability of a trade per instrument and tick.
    pub trade_probability: f64,
}

impl VenueParams {
    /// The defaults for `venue` with `seed`: dislocations of 30–80 bps in
    /// 40 % of 1-second windows, against 10 bps taker fees per leg.
    pub fn new(venue: Venue, seed: u64) -> VenueParams {
        VenueParams {
            venue,
            seed,
            market_seed: 42,
            volatility: 2e-4,
            spread_bps: 2.0,
            noise_bps: 0.5,
            dislocation_probability: 0.4,
            dislocation_ms: 1000,
            dislocation_bps: (30.0, 80.0),
            trade_probability: 0.3,
        }
    }
}

/// A venue's synthetic feed: quotes (and trades) on exchanges; on Polygon,
/// swaps and syncs of pools that evolve (see [`super::pools`]).
#[derive(Debug, Clone)]
pub struct SyntheticFeed {
    params: VenueParams,
    instruments: Vec<(String, FairValue)>,
    pools: Option<PoolSimulator>,
}

impl SyntheticFeed {
    /// A feed of `instruments` (pairs such as `WETH/USDC` on Polygon).
    pub fn new(params: VenueParams, instruments: &[String]) -> SyntheticFeed {
        let fair = |i: &String| FairValue::new(params.market_seed, i, params.volatility);
        let pools = (params.venue == Venue::Polygon).then(|| {
            let pools = catalog::pools(instruments)
                .into_iter()
                .map(|pool| {
                    let fair = fair(&pool.pair());
                    (pool, fair)
                })
                .collect();
            PoolSimulator::new(params.seed, pools)
        });
        SyntheticFeed {
            instruments: instruments.iter().map(|i| (i.clone(), fair(i))).collect(),
            params,
            pools,
        }
    }

    /// The venue's events at `t_ms`.
    pub fn tick(&mut self, t_ms: u64) -> Vec<Message> {
        if let Some(pools) = &mut self.pools {
            return pools.tick(t_ms, self.params.dislocation_probability);
        }
        let mut out = Vec::with_capacity(self.instruments.len() * 2);
        for index in 0..self.instruments.len() {
            self.exchange_events(index, t_ms, &mut out);
        }
        out
    }

    /// The pools (Polygon only).
    pub fn pools(&self) -> Option<&PoolSimulator> {
        self.pools.as_ref()
    }

    /// The dislocation (basis points, signed) of instrument `index` at `t_ms`.
    pub fn dislocation_bps(&self, index: usize, t_ms: u64) -> f64 {
        let p = &self.params;
        let window = t_ms / p.dislocation_ms.max(1);
        let h = hash(p.seed, &[window, 0xD15]);
        let chosen = (mix(h) % self.instruments.len().max(1) as u64) as usize;
        if unit(h) >= p.dislocation_probability || chosen != index {
            return 0.0;
        }
        let sign = if mix(h ^ 1) & 1 == 0 { 1.0 } else { -1.0 };
        let (low, high) = p.dislocation_bps;
        sign * (low + unit(mix(h ^ 2)) * (high - low))
    }

    fn exchange_events(&mut self, index: usize, t_ms: u64, out: &mut Vec<Message>) {
        let dislocation = self.dislocation_bps(index, t_ms);
        let p = &self.params;
        let (instrument, fair) = &mut self.instruments[index];
        let k = key(instrument);
        let noise = p.noise_bps * normal(hash(p.seed, &[k, t_ms, 1]));
        let mid = fair.at(t_ms) * ((noise + dislocation) * 1e-4).exp();
        let half_spread = mid * p.spread_bps * 1e-4 / 2.0;
        let (bid, ask) = (mid - half_spread, mid + half_spread);
        let lot = base_size(instrument);
        let bid_size = lot * (0.2 + 1.3 * unit(hash(p.seed, &[k, t_ms, 2])));
        let ask_size = lot * (0.2 + 1.3 * unit(hash(p.seed, &[k, t_ms, 3])));
        let id = InstrumentId::coin(p.venue.id(), instrument);
        let t_ns = t_ms * 1_000_000;
        out.push(Message::Quote(Quote {
            instrument: id,
            bid_price: Fixed::from_f64(bid),
            bid_size: Fixed::from_f64(bid_size),
            ask_price: Fixed::from_f64(ask),
            ask_size: Fixed::from_f64(ask_size),
            quote_timestamp_ns: t_ns,
        }));
        let trade = hash(p.seed, &[k, t_ms, 4]);
        if unit(trade) < p.trade_probability {
            let side = if mix(trade) & 1 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            out.push(Message::Trade(Trade {
                instrument: id,
                price: Fixed::from_f64(if side == Side::Buy { ask } else { bid }),
                volume: Fixed::from_f64(lot * (0.01 + 0.5 * unit(mix(trade ^ 3)))),
                execution_timestamp_ns: t_ns,
                side,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_790_000_000_000;

    fn instruments() -> Vec<String> {
        ["BTC/USD", "ETH/USD", "SOL/USD"].map(String::from).to_vec()
    }

    fn quotes(messages: &[Message]) -> Vec<Quote> {
        messages
            .iter()
            .filter_map(|m| match m {
                Message::Quote(q) => Some(*q),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_feed() {
        let mut a = SyntheticFeed::new(VenueParams::new(Venue::Kraken, 1), &instruments());
        let mut b = SyntheticFeed::new(VenueParams::new(Venue::Kraken, 1), &instruments());
        for t in (0..50).map(|i| T0 + i * 100) {
            assert_eq!(a.tick(t), b.tick(t));
        }
        let mut c = SyntheticFeed::new(VenueParams::new(Venue::Kraken, 2), &instruments());
        assert_ne!(a.tick(T0), c.tick(T0));
    }

    #[test]
    fn an_instant_does_not_depend_on_the_ticks_before_it() {
        let mut walked = FairValue::new(42, "BTC/USD", 2e-4);
        for t in (0..100).map(|i| T0 + i * 250) {
            walked.at(t);
        }
        let mut fresh = FairValue::new(42, "BTC/USD", 2e-4);
        let t = T0 + 99 * 250;
        assert_eq!(walked.at(t), fresh.at(t));
    }

    #[test]
    fn fair_value_walks_but_stays_near_its_base() {
        let mut fair = FairValue::new(42, "ETH/USD", 2e-4);
        let values: Vec<f64> = (0..600).map(|i| fair.at(T0 + i * 1000)).collect();
        assert!(values.windows(2).any(|w| w[0] != w[1]));
        assert!(values.iter().all(|v| (v / 3000.0 - 1.0).abs() < 0.5));
    }

    #[test]
    fn quotes_are_sane_and_venues_agree_on_the_fair_value() {
        let mut kraken = SyntheticFeed::new(VenueParams::new(Venue::Kraken, 1), &instruments());
        let mut coinbase = SyntheticFeed::new(VenueParams::new(Venue::Coinbase, 2), &instruments());
        let mut agreeing = 0;
        for t in (0..200).map(|i| T0 + i * 100) {
            for (k, c) in quotes(&kraken.tick(t))
                .iter()
                .zip(quotes(&coinbase.tick(t)).iter())
            {
                assert!(k.bid_price < k.ask_price && k.bid_size.0 > 0 && k.ask_size.0 > 0);
                let gap = (k.bid_price.to_f64() / c.bid_price.to_f64() - 1.0).abs();
                assert!(gap < 0.02, "venues {gap} apart");
                agreeing += (gap < 0.001) as usize;
            }
        }
        assert!(
            agreeing > 300,
            "only {agreeing} of 600 quote pairs within 10 bps"
        );
    }

    #[test]
    fn dislocations_happen_in_about_the_configured_share_of_windows() {
        let feed = SyntheticFeed::new(VenueParams::new(Venue::Coinbase, 9), &instruments());
        let windows = 2_000u64;
        let dislocated = (0..windows)
            .filter(|w| (0..3).any(|i| feed.dislocation_bps(i, T0 + w * 1000) != 0.0))
            .count();
        let share = dislocated as f64 / windows as f64;
        assert!((share - 0.4).abs() < 0.05, "share {share}");
        let sizes: Vec<f64> = (0..windows)
            .flat_map(|w| (0..3).map(move |i| (i, w)))
            .map(|(i, w)| feed.dislocation_bps(i, T0 + w * 1000).abs())
            .filter(|bps| *bps > 0.0)
            .collect();
        assert!(sizes.iter().all(|bps| (30.0..=80.0).contains(bps)));
    }

    #[test]
    fn trades_happen_at_the_quote() {
        let mut feed = SyntheticFeed::new(VenueParams::new(Venue::Kraken, 3), &instruments());
        let mut trades = 0;
        for t in (0..100).map(|i| T0 + i * 100) {
            let events = feed.tick(t);
            for event in &events {
                if let Message::Trade(trade) = event {
                    let quote = quotes(&events)
                        .into_iter()
                        .find(|q| q.instrument == trade.instrument)
                        .unwrap();
                    assert!(trade.price == quote.bid_price || trade.price == quote.ask_price);
                    trades += 1;
                }
            }
        }
        assert!(trades > 0);
    }

    #[test]
    fn pools_track_their_exchange_instrument() {
        assert_eq!(tracked_instrument("WETH/USDC"), "ETH/USD");
        assert_eq!(tracked_instrument("WBTC/USDC"), "BTC/USD");
        assert_eq!(tracked_instrument("BTC/USD"), "BTC/USD");
        assert_eq!(base_price("WMATIC/USDC"), 0.5);
    }
}
