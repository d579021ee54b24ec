//! DEX flash arbitrage, the original's strategy: two constant-product
//! (Uniswap V2) pools of the same pair at different prices; borrow the quote
//! token, buy the base token in the cheaper pool, sell it in the dearer one,
//! repay. This module is the pure core: the pools' reserves (kept from
//! `PoolSync`), the exact constant-product output with each pool's fee, the
//! optimal input, and the costs (pool fees, gas, slippage allowance). An
//! opportunity exists only when the profit after all costs is positive.
//!
//! The optimal input is the closed form for two chained pools: with fee
//! multipliers γa, γb, buying in pool A (reserves `a_in` of the quote token,
//! `a_out` of the base) and selling in pool B (`b_in` base, `b_out` quote),
//! the chain acts as one pool with virtual reserves
//! `E0 = a_in·b_in / (b_in + γb·a_out)` and `E1 = γb·a_out·b_out / (b_in + γb·a_out)`,
//! so `out(x) = γa·E1·x / (E0 + γa·x)` and the profit `out(x) − x` peaks at
//! `x* = (√(γa·E0·E1) − E0) / γa` (positive only when `γa·E1 > E0`). The
//! original's `calculate_optimal_arbitrage_amount` uses a shortened form of
//! this; the stack uses the exact one (checked against a numeric optimum in
//! the tests) and keeps the original's cap of 10 % of the buy pool's reserve.

use std::collections::HashMap;

use crate::protocol::event::normalize;
use crate::protocol::instrument::{catalog, venue_name, Address};
use crate::protocol::tlv::PoolSync;

/// The original's gas estimate for a flash-arbitrage transaction.
pub const GAS_UNITS: u64 = 300_000;

/// A pool's side of a trade: what goes in, what comes out, the fee.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    /// Reserve of the token paid in.
    pub reserve_in: f64,
    /// Reserve of the token paid out.
    pub reserve_out: f64,
    /// Swap fee, basis points.
    pub fee_bps: u32,
}

impl Leg {
    /// The fee multiplier γ (0.997 for 30 bps).
    pub fn gamma(&self) -> f64 {
        1.0 - self.fee_bps as f64 / 10_000.0
    }

    /// Constant-product output of `amount_in`, fee deducted from the input.
    pub fn amount_out(&self, amount_in: f64) -> f64 {
        let effective = amount_in * self.gamma();
        self.reserve_out * effective / (self.reserve_in + effective)
    }
}

/// The input that maximizes `buy → sell` profit (0 when none is profitable).
pub fn optimal_input(buy: &Leg, sell: &Leg) -> f64 {
    let (ga, gb) = (buy.gamma(), sell.gamma());
    let denominator = sell.reserve_in + gb * buy.reserve_out;
    let e0 = buy.reserve_in * sell.reserve_in / denominator;
    let e1 = gb * buy.reserve_out * sell.reserve_out / denominator;
    if ga * e1 <= e0 {
        return 0.0;
    }
    ((ga * e0 * e1).sqrt() - e0) / ga
}

/// The costs the strategy counts besides the pool fees.
#[derive(Debug, Clone)]
pub struct DexParams {
    /// Gas price, gwei.
    pub gas_price_gwei: f64,
    /// The chain's native token in USD (MATIC), when no pool prices it.
    pub native_usd: f64,
    /// Slippage allowance, basis points of the capital.
    pub slippage_bps: f64,
    /// The least net profit worth a signal, USD (strictly more than this).
    pub min_profit_usd: f64,
    /// The largest capital of one trade, USD.
    pub max_capital_usd: f64,
    /// The largest input as a share of the buy pool's reserve (the original: 10 %).
    pub max_pool_share: f64,
}

impl Default for DexParams {
    fn default() -> DexParams {
        DexParams {
            gas_price_gwei: 30.0,
            native_usd: 0.5,
            slippage_bps: 10.0,
            min_profit_usd: 0.0,
            max_capital_usd: 100_000.0,
            max_pool_share: 0.1,
        }
    }
}

impl DexParams {
    /// Gas of one transaction, USD.
    pub fn gas_usd(&self, native_usd: f64) -> f64 {
        GAS_UNITS as f64 * self.gas_price_gwei * 1e-9 * native_usd
    }
}

/// The arithmetic of one `buy → sell` trade of `input` quote tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// Quote tokens in (USD).
    pub input: f64,
    /// Base tokens bought in the buy pool.
    pub base: f64,
    /// Quote tokens out of the sell pool.
    pub output: f64,
    /// Pool fees, USD.
    pub fees: f64,
    /// Gas, USD.
    pub gas: f64,
    /// Slippage allowance, USD.
    pub slippage: f64,
}

impl Trade {
    /// Simulates `input` through both pools (the quote token is USD-pegged).
    pub fn simulate(buy: &Leg, sell: &Leg, input: f64, gas: f64, slippage_bps: f64) -> Trade {
        let base = buy.amount_out(input);
        let output = sell.amount_out(base);
        let sell_price = sell.reserve_out / sell.reserve_in;
        let fees = input * (1.0 - buy.gamma()) + base * (1.0 - sell.gamma()) * sell_price;
        Trade {
            input,
            base,
            output,
            fees,
            gas,
            slippage: input * slippage_bps / 10_000.0,
        }
    }

    /// Profit after the pool fees (they are inside the pool arithmetic).
    pub fn after_fees(&self) -> f64 {
        self.output - self.input
    }

    /// Profit before any cost: what the signal calls the expected profit.
    pub fn expected(&self) -> f64 {
        self.after_fees() + self.fees
    }

    /// Profit after fees, gas and slippage.
    pub fn net(&self) -> f64 {
        self.after_fees() - self.gas - self.slippage
    }
}

/// A pool's latest reserves (normalized).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolView {
    /// The pool (from the catalog: DEX, tokens, fee).
    pub pool: catalog::Pool,
    /// Reserve of token0.
    pub reserve0: f64,
    /// Reserve of token1 (the quote token).
    pub reserve1: f64,
}

impl PoolView {
    /// Token1 per token0.
    pub fn price(&self) -> f64 {
        self.reserve1 / self.reserve0
    }

    /// The leg paying the quote token in (buying token0).
    pub fn buy_leg(&self) -> Leg {
        Leg {
            reserve_in: self.reserve1,
            reserve_out: self.reserve0,
            fee_bps: self.pool.fee_bps,
        }
    }

    /// The leg paying token0 in (selling it).
    pub fn sell_leg(&self) -> Leg {
        Leg {
            reserve_in: self.reserve0,
            reserve_out: self.reserve1,
            fee_bps: self.pool.fee_bps,
        }
    }
}

/// A profitable trade between two pools.
#[derive(Debug, Clone, PartialEq)]
pub struct DexOpportunity {
    /// Buy token0 here (the cheaper pool).
    pub buy: PoolView,
    /// Sell it here.
    pub sell: PoolView,
    /// The trade at the optimal (capped) input.
    pub trade: Trade,
}

impl DexOpportunity {
    /// The route: pair, buy DEX, sell DEX.
    pub fn route(&self) -> String {
        format!(
            "{} {}>{}",
            self.buy.pool.pair(),
            venue_name(self.buy.pool.dex),
            venue_name(self.sell.pool.dex)
        )
    }

    /// The spread between the pools, basis points of their mean price.
    pub fn spread_bps(&self) -> f64 {
        let (low, high) = (self.buy.price(), self.sell.price());
        (high - low) / ((high + low) / 2.0) * 10_000.0
    }
}

/// The pools seen, by address.
#[derive(Debug, Clone, Default)]
pub struct PoolBook {
    pools: HashMap<Address, PoolView>,
}

impl PoolBook {
    /// An empty book.
    pub fn new() -> PoolBook {
        PoolBook::default()
    }

    /// Records a sync; returns the pool's view when it is a catalog pool
    /// quoted in USDC (the strategy's universe).
    pub fn update(&mut self, sync: &PoolSync) -> Option<PoolView> {
        let pool = catalog::pool_by_address(&sync.pool_address)?;
        if pool.token1.symbol != "USDC" {
            return None;
        }
        let view = PoolView {
            pool,
            reserve0: normalize(sync.reserve0, sync.token0_decimals),
            reserve1: normalize(sync.reserve1, sync.token1_decimals),
        };
        if view.reserve0 <= 0.0 || view.reserve1 <= 0.0 {
            return None;
        }
        self.pools.insert(sync.pool_address, view);
        Some(view)
    }

    /// The USD price of the chain's native token, from a WMATIC/USDC pool.
    pub fn native_usd(&self) -> Option<f64> {
        self.pools
            .values()
            .find(|v| v.pool.token0.symbol == "WMATIC")
            .map(PoolView::price)
    }

    /// The best opportunity between `updated` and another pool of its pair.
    pub fn best_opportunity(
        &self,
        updated: &PoolView,
        params: &DexParams,
    ) -> Option<DexOpportunity> {
        let gas = params.gas_usd(self.native_usd().unwrap_or(params.native_usd));
        self.pools
            .values()
            .filter(|other| {
                other.pool.address != updated.pool.address
                    && other.pool.token0 == updated.pool.token0
                    && other.pool.token1 == updated.pool.token1
            })
            .filter_map(|other| {
                let (buy, sell) = if updated.price() < other.price() {
                    (*updated, *other)
                } else {
                    (*other, *updated)
                };
                evaluate(&buy, &sell, gas, params)
            })
            .max_by(|a, b| a.trade.net().total_cmp(&b.trade.net()))
    }
}

/// The trade buying in `buy` and selling in `sell`, if its net profit beats the minimum.
pub fn evaluate(
    buy: &PoolView,
    sell: &PoolView,
    gas: f64,
    params: &DexParams,
) -> Option<DexOpportunity> {
    let (buy_leg, sell_leg) = (buy.buy_leg(), sell.sell_leg());
    let cap = params
        .max_capital_usd
        .min(buy_leg.reserve_in * params.max_pool_share);
    let input = optimal_input(&buy_leg, &sell_leg).min(cap);
    if input <= 0.0 {
        return None;
    }
    let trade = Trade::simulate(&buy_leg, &sell_leg, input, gas, params.slippage_bps);
    (trade.net() > params.min_profit_usd).then_some(DexOpportunity {
        buy: *buy,
        sell: *sell,
        trade,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::instrument::venue_id;

    const FEE: u32 = 30;

    fn leg(reserve_in: f64, reserve_out: f64) -> Leg {
        Leg {
            reserve_in,
            reserve_out,
            fee_bps: FEE,
        }
    }

    #[test]
    fn the_output_is_the_constant_product_with_the_fee() {
        // 1000 USDC into 3,000,000 USDC / 1000 WETH at 0.3 %:
        // 997 × 1000 / (3,000,000 + 997) = 0.332222925 WETH.
        let out = leg(3_000_000.0, 1000.0).amount_out(1000.0);
        assert!((out - 0.332_222_925).abs() < 1e-9, "{out}");
    }

    #[test]
    fn the_optimal_input_matches_the_hand_computation() {
        // Buy WETH at 3000 (A: 3,000,000 USDC / 1000 WETH), sell at 3100
        // (B: 1000 WETH / 3,100,000 USDC), both 0.3 %:
        // E0 = 3e6·1000 / (1000 + 0.997·1000)       = 1,502,253.380
        // E1 = 0.997·1000·3.1e6 / (1000 + 0.997·1000) = 1,547,671.507
        // x* = (√(0.997·E0·E1) − E0) / 0.997         = 20,311.9956 USDC
        // base = 6.705091 WETH, out = 20,585.8105 USDC, profit 273.8149.
        let (buy, sell) = (leg(3_000_000.0, 1000.0), leg(1000.0, 3_100_000.0));
        let x = optimal_input(&buy, &sell);
        assert!((x - 20_311.995_569).abs() < 1e-3, "{x}");
        let trade = Trade::simulate(&buy, &sell, x, 0.0, 0.0);
        assert!((trade.base - 6.705_091).abs() < 1e-5);
        assert!((trade.after_fees() - 273.814_949).abs() < 1e-4);
        // It is the optimum: one dollar more or less earns less.
        for other in [x - 1.0, x + 1.0] {
            assert!(
                Trade::simulate(&buy, &sell, other, 0.0, 0.0).after_fees() < trade.after_fees()
            );
        }
    }

    #[test]
    fn a_gap_smaller_than_both_fees_has_no_optimal_input() {
        // 3000 vs 3010 (33 bps) against 2 × 30 bps of fees.
        assert_eq!(
            optimal_input(&leg(3_000_000.0, 1000.0), &leg(1000.0, 3_010_000.0)),
            0.0
        );
    }

    #[test]
    fn costs_are_fees_gas_and_slippage() {
        let (buy, sell) = (leg(3_000_000.0, 1000.0), leg(1000.0, 3_100_000.0));
        // Gas: 300,000 × 30 gwei × 1e-9 × $0.5 = $0.0045.
        let gas = DexParams::default().gas_usd(0.5);
        assert!((gas - 0.0045).abs() < 1e-12);
        let trade = Trade::simulate(&buy, &sell, 20_000.0, gas, 10.0);
        // Slippage: 10 bps of $20,000 = $20.
        assert!((trade.slippage - 20.0).abs() < 1e-9);
        // Fees: 0.3 % of 20,000 in, plus 0.3 % of the WETH sold at 3100.
        let expected_fees = 60.0 + trade.base * 0.003 * 3100.0;
        assert!((trade.fees - expected_fees).abs() < 1e-9);
        assert!((trade.net() - (trade.after_fees() - 20.0 - gas)).abs() < 1e-9);
        assert!((trade.expected() - (trade.after_fees() + trade.fees)).abs() < 1e-9);
    }

    fn view(dex: u16, weth: f64, usdc: f64) -> PoolView {
        PoolView {
            pool: catalog::Pool::new(dex, "WETH/USDC").unwrap(),
            reserve0: weth,
            reserve1: usdc,
        }
    }

    #[test]
    fn a_signal_needs_profit_after_every_cost() {
        let params = DexParams::default();
        let cheap = view(venue_id::QUICKSWAP, 1000.0, 3_000_000.0);
        let dear = view(venue_id::SUSHISWAP_POLYGON, 1000.0, 3_100_000.0);
        let found = evaluate(&cheap, &dear, 0.01, &params).expect("profitable");
        assert!(found.trade.net() > 0.0);
        assert!((found.spread_bps() - 327.87).abs() < 0.01);
        // The same gap with a slippage allowance that eats the profit: no signal.
        let strict = DexParams {
            slippage_bps: 150.0,
            ..DexParams::default()
        };
        assert_eq!(evaluate(&cheap, &dear, 0.01, &strict), None);
        // Capped capital: the input never passes the cap.
        let capped = DexParams {
            max_capital_usd: 5_000.0,
            ..DexParams::default()
        };
        assert_eq!(
            evaluate(&cheap, &dear, 0.01, &capped).unwrap().trade.input,
            5_000.0
        );
    }
}
