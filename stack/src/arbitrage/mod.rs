//! The flash-arbitrage strategy service. In its default `dex` mode it is the
//! original's strategy: it keeps the Polygon pools' reserves from
//! `PoolSync` records and, on every sync, looks for the most profitable
//! trade between that pool and another pool of its pair ([`dex`]). In the
//! `exchange` mode it compares Kraken and Coinbase quotes ([`book`]). A
//! profitable opportunity (after every cost) is published as an
//! ArbitrageSignal to the signal relay and the two legs' OrderRequests to the
//! execution relay ([`signal`]), and logged at INFO.

pub mod book;
pub mod dex;
pub mod signal;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::{self, LinkConfig, RelayLink};
use crate::health::Health;
use crate::protocol::instrument::venue_name;
use crate::protocol::tlv::{decode_payload, encode_payload};
use crate::protocol::{now_ns, Domain, Frame, FrameBuilder, Message, Source};
use crate::transport::Endpoint;
use book::{ArbParams, Book, Cooldown};
use dex::{DexParams, PoolBook};
use signal::Signalled;

/// Which arbitrage the strategy trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Between two DEX pools of a pair (the original's strategy).
    Dex,
    /// Between two exchanges' quotes of an instrument.
    Exchange,
}

/// How the strategy runs.
#[derive(Debug, Clone)]
pub struct StrategyOptions {
    /// The market-data relay.
    pub market_data: Endpoint,
    /// The signal relay.
    pub signal: Endpoint,
    /// The execution relay.
    pub execution: Endpoint,
    /// Which arbitrage.
    pub mode: Mode,
    /// The DEX mode's costs.
    pub dex: DexParams,
    /// The exchange mode's parameters.
    pub exchange: ArbParams,
    /// A route fires at most once per this (ns).
    pub cooldown_ns: u64,
    /// How often the counters are logged.
    pub stats_interval: Duration,
}

/// The strategy's counters.
#[derive(Debug, Default)]
struct Counters {
    updates: u64,
    skipped_records: u64,
    signals: u64,
    orders: u64,
    unsent: u64,
}

/// Runs the strategy until `cancel`.
pub async fn run(
    options: StrategyOptions,
    health: Health,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let (inbound, mut frames) = mpsc::channel::<Frame>(4096);
    let link = |domain, endpoint: &Endpoint| LinkConfig {
        domain,
        endpoint: endpoint.clone(),
    };
    let market_data = client::spawn(
        link(Domain::MarketData, &options.market_data),
        Some(inbound),
        health.clone(),
        cancel.clone(),
    );
    let signal = client::spawn(
        link(Domain::Signal, &options.signal),
        None,
        health.clone(),
        cancel.clone(),
    );
    let execution = client::spawn(
        link(Domain::Execution, &options.execution),
        None,
        health.clone(),
        cancel.clone(),
    );
    match options.mode {
        Mode::Dex => tracing::info!(
            "mode dex: pool arbitrage on Polygon, signalling when profit after pool fees, gas ({} gwei) and {} bps slippage beats ${}",
            options.dex.gas_price_gwei,
            options.dex.slippage_bps,
            options.dex.min_profit_usd
        ),
        Mode::Exchange => tracing::info!(
            "mode exchange: trading when a spread beats {} bps of fees per leg plus a profit of {}",
            options.exchange.fee_bps,
            options.exchange.min_profit
        ),
    }
    let mut strategy = Strategy {
        pools: PoolBook::new(),
        book: Book::new(),
        cooldown: Cooldown::default(),
        signal,
        execution,
        signal_frames: FrameBuilder::new(Domain::Signal, Source::ArbitrageStrategy as u8),
        order_frames: FrameBuilder::new(Domain::Execution, Source::ArbitrageStrategy as u8),
        next_id: 1,
        counters: Counters::default(),
        options,
    };
    let mut stats = tokio::time::interval_at(
        tokio::time::Instant::now() + strategy.options.stats_interval,
        strategy.options.stats_interval,
    );
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            frame = frames.recv() => match frame {
                Some(frame) => strategy.on_frame(&frame),
                None => break,
            },
            _ = stats.tick() => strategy.log_counters(&market_data),
        }
    }
    strategy.log_counters(&market_data);
    Ok(())
}

struct Strategy {
    options: StrategyOptions,
    pools: PoolBook,
    book: Book,
    cooldown: Cooldown,
    signal: RelayLink,
    execution: RelayLink,
    signal_frames: FrameBuilder,
    order_frames: FrameBuilder,
    next_id: u64,
    counters: Counters,
}

impl Strategy {
    fn on_frame(&mut self, frame: &Frame) {
        let decoded = match decode_payload(&frame.payload) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(
                    "undecodable market data from source {}: {error}",
                    frame.header.source
                );
                return;
            }
        };
        self.counters.skipped_records += decoded.skipped as u64;
        let now = now_ns();
        for message in decoded.messages {
            match (self.options.mode, message) {
                (Mode::Dex, Message::PoolSync(sync)) => {
                    self.counters.updates += 1;
                    self.on_pool(&sync, now);
                }
                (Mode::Exchange, Message::Quote(quote)) => {
                    self.counters.updates += 1;
                    self.on_quote(&quote, now);
                }
                _ => {}
            }
        }
    }

    fn on_pool(&mut self, sync: &crate::protocol::tlv::PoolSync, now: u64) {
        let Some(updated) = self.pools.update(sync) else {
            return;
        };
        let Some(found) = self.pools.best_opportunity(&updated, &self.options.dex) else {
            return;
        };
        if !self
            .cooldown
            .allow(found.route(), now, self.options.cooldown_ns)
        {
            return;
        }
        let id = self.take_id();
        let t = &found.trade;
        tracing::info!(
            "arbitrage #{id} {}: buy {:.4} {} for {:.2} USDC on {}, sell on {} for {:.2} ({:.1} bps); net {:.2} after fees {:.2}, gas {:.4}, slippage {:.2}",
            found.buy.pool.pair(),
            t.base,
            found.buy.pool.token0.symbol,
            t.input,
            venue_name(found.buy.pool.dex),
            venue_name(found.sell.pool.dex),
            t.output,
            found.spread_bps(),
            t.net(),
            t.fees,
            t.gas,
            t.slippage
        );
        self.send(id, signal::dex(&found, id, now), now);
    }

    fn on_quote(&mut self, quote: &crate::protocol::tlv::Quote, now: u64) {
        let Some(instrument) = self.book.update(quote, now) else {
            return;
        };
        let Some(found) = self
            .book
            .best_opportunity(&instrument, now, &self.options.exchange)
        else {
            return;
        };
        if !self
            .cooldown
            .allow(found.route(), now, self.options.cooldown_ns)
        {
            return;
        }
        let id = self.take_id();
        tracing::info!(
            "arbitrage #{id} {}: buy {} @ {:.2} on {}, sell @ {:.2} on {} ({:.1} bps), profit {:.2} after {:.2} fees",
            found.instrument,
            format_size(found.size),
            found.buy_price,
            found.buy_venue,
            found.sell_price,
            found.sell_venue,
            found.spread_bps(),
            found.net_profit,
            found.fees
        );
        self.send(id, signal::exchange(&found, id, now), now);
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn send(&mut self, id: u64, out: Signalled, now: u64) {
        let signal = [Message::ArbitrageSignal(out.signal)];
        let orders = out.orders.map(Message::OrderRequest);
        let sent_signal = publish(&self.signal, &mut self.signal_frames, &signal, now);
        let sent_orders = publish(&self.execution, &mut self.order_frames, &orders, now);
        self.counters.signals += sent_signal as u64;
        self.counters.orders += 2 * sent_orders as u64;
        if !(sent_signal && sent_orders) {
            self.counters.unsent += 1;
            tracing::warn!(
                "arbitrage #{id} not fully sent: signal relay {}, execution relay {}",
                state(sent_signal),
                state(sent_orders)
            );
        }
    }

    fn log_counters(&self, market_data: &RelayLink) {
        let c = &self.counters;
        let (gaps, missing, duplicates) = market_data.sequences().totals();
        tracing::info!(
            "counters updates={} signals={} orders={} unsent={} skipped_records={} sequence_gaps={gaps} missing_frames={missing} duplicates={duplicates}",
            c.updates,
            c.signals,
            c.orders,
            c.unsent,
            c.skipped_records
        );
    }
}

fn publish(link: &RelayLink, builder: &mut FrameBuilder, messages: &[Message], now: u64) -> bool {
    match encode_payload(messages) {
        Ok(payload) => link.publish(builder.build(&payload, now)),
        Err(error) => {
            tracing::error!("cannot encode: {error}");
            false
        }
    }
}

fn state(sent: bool) -> &'static str {
    if sent {
        "ok"
    } else {
        "unavailable"
    }
}

fn format_size(size: f64) -> String {
    let text = format!("{size:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
