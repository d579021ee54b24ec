//! An exchange adapter service: publishes its venue's feed — synthetic or
//! replayed — to the market-data relay, one frame per tick holding every
//! instrument's records.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::client::{self, LinkConfig};
use crate::feed::market::{SyntheticFeed, VenueParams};
use crate::feed::replay;
use crate::health::Health;
use crate::protocol::tlv::encode_payload;
use crate::protocol::{now_ns, Domain, FrameBuilder, Message, Source, Venue};

/// Records per frame at most (a TLV record is at most 257 bytes).
const RECORDS_PER_FRAME: usize = 64;

/// Where an adapter's events come from.
#[derive(Debug, Clone)]
pub enum FeedSource {
    /// The synthetic market.
    Synthetic {
        /// How the venue quotes.
        params: VenueParams,
        /// Instruments (pool names on Polygon).
        instruments: Vec<String>,
    },
    /// A JSON-lines file, one event per tick.
    Replay {
        /// The file.
        path: PathBuf,
        /// Start over at the end.
        repeat: bool,
    },
}

/// How an adapter runs.
#[derive(Debug, Clone)]
pub struct AdapterOptions {
    /// The venue.
    pub venue: Venue,
    /// The market-data relay socket.
    pub relay: PathBuf,
    /// Ticks per second.
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
    let mut feed = Feed::open(&options.feed)?;
    let link = client::spawn(
        LinkConfig {
            domain: Domain::MarketData,
            path: options.relay.clone(),
        },
        None,
        health,
        cancel.clone(),
    );
    let period = Duration::from_secs_f64(1.0 / options.rate.clamp(0.01, 100_000.0));
    tracing::info!("publishing {} every {period:?}", feed.describe());
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut stats = tokio::time::interval_at(
        tokio::time::Instant::now() + options.stats_interval,
        options.stats_interval,
    );
    let mut builder = FrameBuilder::new(Domain::MarketData, Source::adapter(options.venue) as u8);
    let (mut frames, mut records) = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = stats.tick() => {
                tracing::info!("counters frames={frames} records={records} dropped={}", link.dropped());
                continue;
            }
            _ = ticker.tick() => {}
        }
        if !link.is_connected() {
            continue;
        }
        let now = now_ns();
        for chunk in feed.next(now / 1_000_000).chunks(RECORDS_PER_FRAME) {
            match encode_payload(chunk) {
                Ok(payload) => {
                    if link.publish(builder.build(&payload, now)) {
                        frames += 1;
                        records += chunk.len() as u64;
                    }
                }
                Err(error) => tracing::error!("cannot encode a record: {error}"),
            }
        }
    }
    tracing::info!(
        "counters frames={frames} records={records} dropped={}",
        link.dropped()
    );
    Ok(())
}

enum Feed {
    Synthetic(SyntheticFeed, usize),
    Replay {
        messages: Vec<Message>,
        next: usize,
        repeat: bool,
        finished: bool,
    },
}

impl Feed {
    fn open(source: &FeedSource) -> anyhow::Result<Feed> {
        Ok(match source {
            FeedSource::Synthetic {
                params,
                instruments,
            } => Feed::Synthetic(
                SyntheticFeed::new(params.clone(), instruments),
                instruments.len(),
            ),
            FeedSource::Replay { path, repeat } => Feed::Replay {
                messages: replay::load(path)?,
                next: 0,
                repeat: *repeat,
                finished: false,
            },
        })
    }

    fn describe(&self) -> String {
        match self {
            Feed::Synthetic(_, n) => format!("a synthetic feed of {n} instrument(s)"),
            Feed::Replay {
                messages, repeat, ..
            } => format!(
                "a replay of {} event(s){}, one",
                messages.len(),
                if *repeat { " in a loop" } else { "" }
            ),
        }
    }

    fn next(&mut self, t_ms: u64) -> Vec<Message> {
        match self {
            Feed::Synthetic(feed, _) => feed.tick(t_ms),
            Feed::Replay {
                messages,
                next,
                repeat,
                finished,
            } => {
                if *next >= messages.len() {
                    if !*repeat {
                        if !*finished {
                            tracing::info!("replay finished");
                            *finished = true;
                        }
                        return Vec::new();
                    }
                    *next = 0;
                }
                *next += 1;
                vec![messages[*next - 1].clone()]
            }
        }
    }
}
