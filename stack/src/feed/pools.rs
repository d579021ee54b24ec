//! Polygon's synthetic DEX pools: Uniswap-V2-style constant-product pools
//! (one per DEX and pair) that start at the shared fair value and then
//! evolve with every swap — the reserves move by the swap's exact
//! constant-product amounts with the pool fee kept in the pool, and a
//! `PoolSync` with the new reserves follows each `PoolSwap`, as on chain.
//! Traders pull each pool back toward the fair value a fraction at a time;
//! now and then (per one-second window, with a probability) a large swap
//! dislocates one pool by 80–200 bps — the gap between two pools of a pair
//! that the flash-arbitrage strategy hunts.

use super::market::FairValue;
use super::noise::{hash, key, mix, normal, unit};
use crate::protocol::instrument::{catalog::Pool, venue_id};
use crate::protocol::tlv::{Message, PoolSwap, PoolSync};

/// Liquidity of each side of a pool, USD, by DEX (QuickSwap deeper than SushiSwap).
fn depth_usd(dex: u16) -> f64 {
    if dex == venue_id::QUICKSWAP {
        4_000_000.0
    } else {
        1_500_000.0
    }
}

/// Blocks on Polygon come about every 2 s.
const BLOCK_MS: u64 = 2_000;
/// The share of the gap to the fair value one reverting trade closes.
const REVERSION: f64 = 0.25;
/// The range of a dislocating swap's price move, basis points.
const DISLOCATION_BPS: (f64, f64) = (80.0, 200.0);

/// One pool's state: normalized reserves (token units, not native units).
#[derive(Debug, Clone)]
pub struct PoolState {
    /// The pool.
    pub pool: Pool,
    /// Reserve of token0.
    pub reserve0: f64,
    /// Reserve of token1.
    pub reserve1: f64,
    fair: FairValue,
}

impl PoolState {
    /// Token1 per token0.
    pub fn price(&self) -> f64 {
        self.reserve1 / self.reserve0
    }

    /// Swaps `amount_in` of token0 (`zero_for_one`) or token1 into the pool;
    /// returns the amount out (constant product, fee kept in the pool).
    pub fn swap(&mut self, amount_in: f64, zero_for_one: bool) -> f64 {
        let fee = self.pool.fee_bps as f64 / 10_000.0;
        let (reserve_in, reserve_out) = match zero_for_one {
            true => (self.reserve0, self.reserve1),
            false => (self.reserve1, self.reserve0),
        };
        let effective = amount_in * (1.0 - fee);
        let out = reserve_out * effective / (reserve_in + effective);
        match zero_for_one {
            true => (self.reserve0, self.reserve1) = (reserve_in + amount_in, reserve_out - out),
            false => (self.reserve1, self.reserve0) = (reserve_in + amount_in, reserve_out - out),
        }
        out
    }

    /// The swap that moves the price to `target`: (amount in, token0 in).
    pub fn swap_toward(&self, target: f64) -> (f64, bool) {
        let k = self.reserve0 * self.reserve1;
        let fee = self.pool.fee_bps as f64 / 10_000.0;
        let reserve0_at_target = (k / target).sqrt();
        if reserve0_at_target > self.reserve0 {
            ((reserve0_at_target - self.reserve0) / (1.0 - fee), true)
        } else {
            let reserve1_at_target = (k * target).sqrt();
            (
                (reserve1_at_target - self.reserve1).max(0.0) / (1.0 - fee),
                false,
            )
        }
    }
}

/// The pools of the Polygon adapter.
#[derive(Debug, Clone)]
pub struct PoolSimulator {
    seed: u64,
    pools: Vec<PoolState>,
    started: bool,
    dislocated_window: Option<u64>,
}

impl PoolSimulator {
    /// Pools with their fair values; reserves are set at the first tick.
    pub fn new(seed: u64, pools: Vec<(Pool, FairValue)>) -> PoolSimulator {
        let pools = pools
            .into_iter()
            .map(|(pool, fair)| PoolState {
                pool,
                reserve0: 0.0,
                reserve1: 0.0,
                fair,
            })
            .collect();
        PoolSimulator {
            seed,
            pools,
            started: false,
            dislocated_window: None,
        }
    }

    /// The pools now.
    pub fn pools(&self) -> &[PoolState] {
        &self.pools
    }

    /// The swaps (each followed by its sync) at `t_ms`; the first tick
    /// publishes every pool's sync instead.
    pub fn tick(&mut self, t_ms: u64, dislocation_probability: f64) -> Vec<Message> {
        if !self.started {
            self.started = true;
            return self.open(t_ms);
        }
        let mut out = Vec::new();
        let dislocated = self.dislocated_pool(t_ms, dislocation_probability);
        for index in 0..self.pools.len() {
            let h = hash(
                self.seed,
                &[key(&self.pools[index].pool.pair()), index as u64, t_ms],
            );
            let target = match dislocated {
                Some((chosen, bps)) if chosen == index => {
                    self.pools[index].price() * (bps * 1e-4).exp()
                }
                _ if unit(h) < 0.4 => self.reverting_target(index, t_ms, h),
                _ => continue,
            };
            let (amount_in, zero_for_one) = self.pools[index].swap_toward(target);
            if amount_in > 0.0 {
                out.extend(self.swap(index, amount_in, zero_for_one, t_ms));
            }
        }
        out
    }

    /// Every pool at its fair value, as syncs.
    fn open(&mut self, t_ms: u64) -> Vec<Message> {
        (0..self.pools.len())
            .map(|index| {
                let state = &mut self.pools[index];
                let price = state.fair.at(t_ms);
                let depth = depth_usd(state.pool.dex);
                (state.reserve0, state.reserve1) = (depth / price, depth);
                self.sync(index, t_ms)
            })
            .collect()
    }

    /// The dislocation of this one-second window, if any: (pool, signed bps).
    /// It lands on the window's first tick only (a single large swap).
    fn dislocated_pool(&mut self, t_ms: u64, probability: f64) -> Option<(usize, f64)> {
        let window = t_ms / 1000;
        let h = hash(self.seed, &[window, 0xD15]);
        if unit(h) >= probability || self.pools.is_empty() {
            return None;
        }
        if self.dislocated_window.replace(window) == Some(window) {
            return None;
        }
        let chosen = (mix(h) % self.pools.len() as u64) as usize;
        let sign = if mix(h ^ 1) & 1 == 0 { 1.0 } else { -1.0 };
        let (low, high) = DISLOCATION_BPS;
        Some((chosen, sign * (low + unit(mix(h ^ 2)) * (high - low))))
    }

    /// A trader's target: a quarter of the way back to the fair value, with noise.
    fn reverting_target(&mut self, index: usize, t_ms: u64, h: u64) -> f64 {
        let state = &mut self.pools[index];
        let fair = state.fair.at(t_ms) * (2e-4 * normal(mix(h))).exp();
        let price = state.price();
        price * (fair / price).powf(REVERSION)
    }

    fn swap(
        &mut self,
        index: usize,
        amount_in: f64,
        zero_for_one: bool,
        t_ms: u64,
    ) -> [Message; 2] {
        let state = &mut self.pools[index];
        let amount_out = state.swap(amount_in, zero_for_one);
        let pool = state.pool;
        let (token_in, token_out) = match zero_for_one {
            true => (pool.token0, pool.token1),
            false => (pool.token1, pool.token0),
        };
        let swap = Message::PoolSwap(PoolSwap {
            venue: venue_id::POLYGON,
            pool_address: pool.address,
            token_in: token_in.address,
            token_out: token_out.address,
            amount_in: native(amount_in, token_in.decimals),
            amount_out: native(amount_out, token_out.decimals),
            liquidity_after: 0,
            timestamp_ns: t_ms * 1_000_000,
            block_number: block(t_ms),
            tick_after: 0,
            amount_in_decimals: token_in.decimals,
            amount_out_decimals: token_out.decimals,
            sqrt_price_x96_after: 0,
        });
        [swap, self.sync(index, t_ms)]
    }

    fn sync(&self, index: usize, t_ms: u64) -> Message {
        let state = &self.pools[index];
        let pool = state.pool;
        Message::PoolSync(PoolSync {
            venue: venue_id::POLYGON,
            pool_address: pool.address,
            token0: pool.token0.address,
            token1: pool.token1.address,
            reserve0: native(state.reserve0, pool.token0.decimals),
            reserve1: native(state.reserve1, pool.token1.decimals),
            timestamp_ns: t_ms * 1_000_000,
            block_number: block(t_ms),
            token0_decimals: pool.token0.decimals,
            token1_decimals: pool.token1.decimals,
        })
    }
}

/// A block number for a time (a Polygon-like height, one block per 2 s).
fn block(t_ms: u64) -> u64 {
    t_ms / BLOCK_MS
}

/// Native units of a normalized amount.
pub fn native(amount: f64, decimals: u8) -> u128 {
    (amount.max(0.0) * 10f64.powi(decimals as i32)) as u128
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::instrument::catalog;

    const T0: u64 = 1_790_000_000_000;

    fn simulator() -> PoolSimulator {
        let pools = catalog::pools(&["WETH/USDC".to_string()])
            .into_iter()
            .map(|pool| (pool, FairValue::new(42, &pool.pair(), 2e-4)))
            .collect();
        PoolSimulator::new(3, pools)
    }

    #[test]
    fn a_swap_moves_reserves_along_the_constant_product_with_the_fee() {
        let pool = catalog::Pool::new(venue_id::QUICKSWAP, "WETH/USDC").unwrap();
        let mut state = PoolState {
            pool,
            reserve0: 1_000.0,
            reserve1: 3_000_000.0,
            fair: FairValue::new(42, "WETH/USDC", 2e-4),
        };
        // 10 WETH in, 0.3 % fee: 9.97 effective; out = 3e6 × 9.97 / 1009.97.
        let out = state.swap(10.0, true);
        assert!((out - 29_614.741_032).abs() < 1e-3, "{out}");
        assert_eq!(state.reserve0, 1_010.0);
        assert!((state.reserve1 - (3_000_000.0 - out)).abs() < 1e-9);
        // k grows by the fee kept in the pool.
        assert!(state.reserve0 * state.reserve1 > 3e9);
        let before = state.price();
        let (amount, token0_in) = state.swap_toward(before * 1.01);
        assert!(!token0_in && amount > 0.0);
        state.swap(amount, false);
        assert!(
            (state.price() / (before * 1.01) - 1.0).abs() < 1e-4,
            "{}",
            state.price()
        );
    }

    #[test]
    fn pools_open_at_the_fair_value_then_evolve_with_syncs_after_swaps() {
        let mut sim = simulator();
        let opened = sim.tick(T0, 0.0);
        assert_eq!(opened.len(), 2);
        assert!(opened.iter().all(|m| matches!(m, Message::PoolSync(_))));
        let before: Vec<f64> = sim.pools().iter().map(PoolState::price).collect();
        let mut swaps = 0;
        for t in (1..200).map(|i| T0 + i * 100) {
            let events = sim.tick(t, 0.4);
            for pair in events.chunks(2) {
                let [Message::PoolSwap(swap), Message::PoolSync(sync)] = pair else {
                    panic!("a swap is followed by its sync: {pair:?}")
                };
                assert_eq!(swap.pool_address, sync.pool_address);
                swaps += 1;
            }
        }
        assert!(swaps > 50, "{swaps} swaps");
        let after: Vec<f64> = sim.pools().iter().map(PoolState::price).collect();
        assert_ne!(before, after, "reserves evolve");
        for (state, price) in sim.pools().iter().zip(&after) {
            assert!(
                (price / 3000.0 - 1.0).abs() < 0.2,
                "{} at {price}",
                state.pool.pair()
            );
        }
    }

    #[test]
    fn a_dislocation_opens_a_gap_between_the_two_pools() {
        let mut sim = simulator();
        sim.tick(T0, 1.0);
        let widest = (1..100)
            .map(|i| {
                sim.tick(T0 + i * 100, 1.0);
                let prices: Vec<f64> = sim.pools().iter().map(PoolState::price).collect();
                (prices[0] / prices[1] - 1.0).abs() * 10_000.0
            })
            .fold(0.0, f64::max);
        assert!(widest > 70.0, "widest gap {widest} bps");
    }
}
