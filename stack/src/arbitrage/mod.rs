//! The flash-arbitrage strategy service: subscribes to market data, keeps the
//! [`book`], and when a cross-venue spread beats fees plus the minimum profit
//! publishes an ArbitrageSignal to the signal relay and the two legs'
//! OrderRequests to the execution relay, and logs the trade at INFO.

pub mod book;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::{self, LinkConfig, RelayLink};
use crate::health::Health;
use crate::protocol::tlv::{decode_payload, encode_payload, ArbitrageSignal, OrderRequest};
use crate::protocol::{now_ns, Domain, Fixed, Frame, FrameBuilder, Message, Side, Source};
use book::{ArbParams, Book, Cooldown, Opportunity};

/// How the strategy runs.
#[derive(Debug, Clone)]
pub struct StrategyOptions {
    /// The market-data relay socket.
    pub market_data: PathBuf,
    /// The signal relay socket.
    pub signal: PathBuf,
    /// The execution relay socket.
    pub execution: PathBuf,
    /// Trading parameters.
    pub params: ArbParams,
    /// How often the counters are logged.
    pub stats_interval: Duration,
}

/// The strategy's counters.
#[derive(Debug, Default)]
struct Counters {
    quotes: u64,
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
    let link = |domain, path: &PathBuf| LinkConfig {
        domain,
        path: path.clone(),
    };
    client::spawn(
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
    tracing::info!(
        "trading when a spread beats {} bps of fees per leg plus a profit of {}",
        options.params.fee_bps,
        options.params.min_profit
    );
    let mut strategy = Strategy {
        params: options.params,
        book: Book::new(),
        cooldown: Cooldown::default(),
        signal,
        execution,
        signal_frames: FrameBuilder::new(Domain::Signal, Source::FlashArbitrage as u8),
        order_frames: FrameBuilder::new(Domain::Execution, Source::FlashArbitrage as u8),
        next_id: 1,
        counters: Counters::default(),
    };
    let mut stats = tokio::time::interval_at(
        tokio::time::Instant::now() + options.stats_interval,
        options.stats_interval,
    );
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            frame = frames.recv() => match frame {
                Some(frame) => strategy.on_frame(&frame),
                None => break,
            },
            _ = stats.tick() => strategy.log_counters(),
        }
    }
    strategy.log_counters();
    Ok(())
}

struct Strategy {
    params: ArbParams,
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
        let messages = match decode_payload(&frame.payload) {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(
                    "undecodable market data from source {}: {error}",
                    frame.header.source
                );
                return;
            }
        };
        let now = now_ns();
        for message in messages {
            if let Message::Quote(quote) = message {
                self.counters.quotes += 1;
                self.book.update(&quote, now);
                if let Some(found) =
                    self.book
                        .best_opportunity(&quote.instrument, now, &self.params)
                {
                    if self.cooldown.allow(&found, now, self.params.cooldown_ns) {
                        self.fire(&found, now);
                    }
                }
            }
        }
    }

    fn fire(&mut self, found: &Opportunity, now: u64) {
        let signal_id = self.next_id;
        self.next_id += 1;
        let signal = Message::ArbitrageSignal(ArbitrageSignal {
            signal_id,
            instrument: found.instrument.clone(),
            buy_venue: found.buy_venue,
            sell_venue: found.sell_venue,
            buy_price: Fixed::from_f64(found.buy_price),
            sell_price: Fixed::from_f64(found.sell_price),
            size: Fixed::from_f64(found.size),
            expected_profit: Fixed::from_f64(found.net_profit),
        });
        let leg = |order_id, venue, side, price| {
            Message::OrderRequest(OrderRequest {
                order_id,
                signal_id,
                venue,
                instrument: found.instrument.clone(),
                side,
                price: Fixed::from_f64(price),
                size: Fixed::from_f64(found.size),
            })
        };
        let orders = [
            leg(
                signal_id * 2 - 1,
                found.buy_venue,
                Side::Buy,
                found.buy_price,
            ),
            leg(
                signal_id * 2,
                found.sell_venue,
                Side::Sell,
                found.sell_price,
            ),
        ];
        tracing::info!(
            "arbitrage #{signal_id} {}: buy {} @ {:.2} on {}, sell @ {:.2} on {} ({:.1} bps), profit {:.2} after {:.2} fees",
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
        let sent_signal = publish(&self.signal, &mut self.signal_frames, &[signal], now);
        let sent_orders = publish(&self.execution, &mut self.order_frames, &orders, now);
        self.counters.signals += sent_signal as u64;
        self.counters.orders += 2 * sent_orders as u64;
        if !(sent_signal && sent_orders) {
            self.counters.unsent += 1;
            tracing::warn!(
                "arbitrage #{signal_id} not fully sent: signal relay {}, execution relay {}",
                state(sent_signal),
                state(sent_orders)
            );
        }
    }

    fn log_counters(&self) {
        let c = &self.counters;
        tracing::info!(
            "counters quotes={} signals={} orders={} unsent={}",
            c.quotes,
            c.signals,
            c.orders,
            c.unsent
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
