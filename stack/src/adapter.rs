//! An exchange adapter service: publishes its venue's feed to the
//! market-data relay — synthetic (one frame per tick holding every
//! instrument's records) or a replayed `/ws` capture (its recorded timing,
//! scaled by `--speed`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::client::{self, LinkConfig, RelayLink};
use crate::feed::market::{SyntheticFeed, VenueParams};
use crate::feed::replay::{self, Batch};
use crate::health::Health;
use crate::protocol::instrument::catalog;
use crate::protocol::tlv::encode_payload;
use crate::protocol::{now_ns, Domain, FrameBuilder, Message, Venue};
use crate::transport::Endpoint;

/// Records per frame at most (a TLV record is at most 257 bytes).
const RECORDS_PER_FRAME: usize = 64;

/// Where an adapter's events come from.
#[derive(Debug, Clone)]
pub enum FeedSource {
    /// The synthetic market.
    Synthetic {
        /// How the venue quotes.
        params: VenueParams,
        /// Instruments (pairs such as `WETH/USDC` on Polygon).
        instruments: Vec<String>,
    },
    /// A `/ws` capture (or hand-written lines of its form).
    Replay {
        /// The file.
        path: PathBuf,
        /// Start over at the end.
        repeat: bool,
        /// Recorded timing divided by this.
        speed: f64,
    },
}

/// How an adapter runs.
#[derive(Debug, Clone)]
pub struct AdapterOptions {
    /// The venue.
    pub venue: Venue,
    /// The market-data relay.
    pub relay: Endpoint,
    /// Ticks per second (synthetic; and the spacing of untimed replay lines).
    pub rate: f64,
    /// The feed.
    pub feed: FeedSource,
    /// How often the counters are logged.
    pub stats_interval: Duration,
}

/// Runs an adapter until `cancel`.
pub async fn run(
    options: AdapterOptions,
    health: Health,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let period = Duration::from_secs_f64(1.0 / options.rate.clamp(0.01, 100_000.0));
    if let (Venue::Polygon, FeedSource::Synthetic { instruments, .. }) =
        (options.venue, &options.feed)
    {
        let unknown = catalog::unknown_pairs(instruments);
        if !unknown.is_empty() {
            let tokens: Vec<&str> = catalog::TOKENS.iter().map(|t| t.symbol).collect();
            bail!(
                "no synthetic pool for {} (the pools pair these tokens: {})",
                unknown.join(", "),
                tokens.join(", ")
            );
        }
    }
    // A replay file is read (and refused) before anything connects.
    let replay = match &options.feed {
        FeedSource::Replay { path, speed, .. } => {
            let capture = replay::load(path, options.venue)?;
            tracing::info!(
                "replaying {} event(s) of {} at {speed}x recorded timing ({})",
                capture.events.len(),
                path.display(),
                capture.skipped_summary()
            );
            Some(replay::schedule(&capture.events, *speed, period))
        }
        FeedSource::Synthetic { .. } => None,
    };
    let link = client::spawn(
        LinkConfig {
            domain: Domain::MarketData,
            endpoint: options.relay.clone(),
        },
        None,
        health,
        cancel.clone(),
    );
    let mut publisher = Publisher {
        builder: FrameBuilder::new(Domain::MarketData, options.venue.adapter() as u8),
        link,
        frames: 0,
        records: 0,
    };
    let stats_interval = options.stats_interval;
    match (replay, &options.feed) {
        (Some(batches), FeedSource::Replay { repeat, .. }) => {
            replay_batches(&batches, *repeat, &mut publisher, stats_interval, &cancel).await
        }
        (
            _,
            FeedSource::Synthetic {
                params,
                instruments,
            },
        ) => {
            let feed = SyntheticFeed::new(params.clone(), instruments);
            tracing::info!(
                "publishing a synthetic feed of {} instrument(s) every {period:?}",
                instruments.len()
            );
            synthetic(feed, period, &mut publisher, stats_interval, &cancel).await
        }
        _ => {}
    }
    publisher.log_counters();
    Ok(())
}

/// Publishes frames to the market-data relay, counting them.
struct Publisher {
    link: RelayLink,
    builder: FrameBuilder,
    frames: u64,
    records: u64,
}

impl Publisher {
    /// Publishes `messages` in frames of at most [`RECORDS_PER_FRAME`] records, stamped `now`.
    fn publish(&mut self, messages: &[Message], now: u64) {
        for chunk in messages.chunks(RECORDS_PER_FRAME) {
            match encode_payload(chunk) {
                Ok(payload) => {
                    if self.link.publish(self.builder.build(&payload, now)) {
                        self.frames += 1;
                        self.records += chunk.len() as u64;
                    }
                }
                Err(error) => tracing::error!("cannot encode a record: {error}"),
            }
        }
    }

    fn log_counters(&self) {
        tracing::info!(
            "counters frames={} records={} dropped={}",
            self.frames,
            self.records,
            self.link.dropped()
        );
    }
}

fn stats_ticker(interval: Duration) -> tokio::time::Interval {
    tokio::time::interval_at(tokio::time::Instant::now() + interval, interval)
}

async fn synthetic(
    mut feed: SyntheticFeed,
    period: Duration,
    publisher: &mut Publisher,
    stats_interval: Duration,
    cancel: &CancellationToken,
) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut stats = stats_ticker(stats_interval);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = stats.tick() => {
                publisher.log_counters();
                continue;
            }
            _ = ticker.tick() => {}
        }
        if !publisher.link.is_connected() {
            continue;
        }
        let now = now_ns();
        let messages = feed.tick(now / 1_000_000);
        publisher.publish(&messages, now);
    }
}

/// Sends each batch at its offset from the start (waiting for the relay
/// before the first), once or in a loop.
async fn replay_batches(
    batches: &[Batch],
    repeat: bool,
    publisher: &mut Publisher,
    stats_interval: Duration,
    cancel: &CancellationToken,
) {
    let mut stats = stats_ticker(stats_interval);
    let mut connection = publisher.link.connection_changes();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = connection.wait_for(|connected| *connected) => if changed.is_err() { return },
        }
        let start = tokio::time::Instant::now();
        for batch in batches {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = stats.tick() => { publisher.log_counters(); continue; }
                    _ = tokio::time::sleep_until(start + batch.at) => break,
                }
            }
            publisher.publish(&batch.messages, now_ns());
        }
        if !repeat {
            tracing::info!("replay finished");
            cancel.cancelled().await;
            return;
        }
    }
}
