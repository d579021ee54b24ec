//! The arguments of `torq node …`: one subcommand per service kind, plus the
//! probe. Relay addresses are socket paths — by default `/run/torq/<domain>.sock`,
//! the stack's shared volume — or `tcp://host:port`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing::Instrument;

use crate::adapter::{self, AdapterOptions, FeedSource};
use crate::arbitrage::book::ArbParams;
use crate::arbitrage::dex::DexParams;
use crate::arbitrage::{self, Mode, StrategyOptions};
use crate::dashboard::{self, DashboardOptions};
use crate::feed::market::VenueParams;
use crate::health::{self, Health, ProbeTarget};
use crate::protocol::{Domain, Venue};
use crate::relay::{self, RelayOptions};
use crate::shutdown;
use crate::transport::Endpoint;

/// Where the stack's relay sockets live by default.
pub const RUN_DIR: &str = "/run/torq";

/// `torq node`: runs one service of the Torq stack.
#[derive(Debug, Parser)]
#[command(
    name = "torq node",
    about = "Runs one service of the Torq trading stack"
)]
pub struct NodeCli {
    /// The service.
    #[command(subcommand)]
    pub service: Service,
}

/// A service (or the probe).
#[derive(Debug, Subcommand)]
pub enum Service {
    /// A relay: broadcasts every frame a client sends to all other clients.
    Relay(RelayArgs),
    /// An exchange adapter: publishes a venue's market data.
    Adapter(AdapterArgs),
    /// The flash-arbitrage strategy.
    FlashArbitrage(StrategyArgs),
    /// The dashboard: HTTP page, /ws events, /health, /status.
    Dashboard(DashboardArgs),
    /// Health probe (for healthchecks; needs no shell): exits 0 when healthy.
    Probe(ProbeArgs),
}

/// Options every long-running service has.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Name of the health endpoint `torq node probe --health` asks
    /// (default: derived from the service, e.g. `relay-market_data`).
    #[arg(long, value_name = "NAME")]
    pub health_name: Option<String>,
    /// Seconds between counter log lines.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub stats_interval: f64,
}

impl CommonArgs {
    fn stats_interval(&self) -> Duration {
        Duration::from_secs_f64(self.stats_interval.clamp(0.1, 86_400.0))
    }
}

/// `torq node relay`.
#[derive(Debug, Clone, Args)]
pub struct RelayArgs {
    /// The domain: market_data, signal, execution (or system).
    #[arg(long)]
    pub domain: Domain,
    /// Where to listen: a socket path or tcp://HOST:PORT [default: /run/torq/<domain>.sock].
    #[arg(long, visible_alias = "listen", value_name = "ADDRESS")]
    pub socket: Option<Endpoint>,
    /// Verify frame CRC32s [default: true on signal and execution, false on market_data].
    #[arg(long, value_name = "BOOL")]
    pub verify_crc: Option<bool>,
    /// Pending KiB after which a client is dropped as too slow.
    #[arg(long, value_name = "KIB", default_value_t = 4096)]
    pub max_pending_kib: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `torq node adapter`.
#[derive(Debug, Clone, Args)]
pub struct AdapterArgs {
    /// The venue: kraken, coinbase or polygon.
    #[arg(long)]
    pub venue: Venue,
    /// The market-data relay: a socket path or tcp://HOST:PORT.
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "/run/torq/market_data.sock"
    )]
    pub relay: Endpoint,
    /// Ticks per second (each tick: every instrument's quote, maybe a trade;
    /// every pool's swaps). A replay spaces lines without a timestamp this way.
    #[arg(long, value_name = "HZ", default_value_t = 10.0)]
    pub rate: f64,
    /// The venue's seed [default: 1 kraken, 2 coinbase, 3 polygon].
    #[arg(long)]
    pub seed: Option<u64>,
    /// The seed of the fair values all venues share.
    #[arg(long, default_value_t = 42)]
    pub market_seed: u64,
    /// Comma-separated instruments (pairs on polygon, two pools each: QuickSwap and SushiSwap)
    /// [default: BTC/USD,ETH/USD,SOL/USD; polygon: WETH/USDC,WBTC/USDC,WMATIC/USDC].
    #[arg(long, value_delimiter = ',')]
    pub instruments: Vec<String>,
    /// Quoted spread in basis points.
    #[arg(long, value_name = "BPS", default_value_t = 2.0)]
    pub spread_bps: f64,
    /// Fair-value volatility: log-price standard deviation per second.
    #[arg(long, default_value_t = 2e-4)]
    pub volatility: f64,
    /// Probability that a one-second window dislocates one instrument by 30–80 bps.
    #[arg(long, value_name = "P", default_value_t = 0.4)]
    pub dislocation_probability: f64,
    /// Replay a /ws capture (JSON lines; this venue's market data, at the
    /// recorded timing) instead of the synthetic feed.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// With --replay: start over at the end.
    #[arg(long = "loop", requires = "replay")]
    pub repeat: bool,
    /// With --replay: play the recorded timing this many times faster.
    #[arg(
        long,
        value_name = "FACTOR",
        default_value_t = 1.0,
        requires = "replay"
    )]
    pub speed: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Relay addresses of a service that talks to all three relays (socket
/// paths or tcp://HOST:PORT).
#[derive(Debug, Clone, Args)]
pub struct RelaySockets {
    /// The market-data relay.
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "/run/torq/market_data.sock"
    )]
    pub market_data: Endpoint,
    /// The signal relay.
    #[arg(long, value_name = "ADDRESS", default_value = "/run/torq/signal.sock")]
    pub signal: Endpoint,
    /// The execution relay.
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "/run/torq/execution.sock"
    )]
    pub execution: Endpoint,
}

/// `torq node flash-arbitrage`.
#[derive(Debug, Clone, Args)]
pub struct StrategyArgs {
    #[command(flatten)]
    pub relays: RelaySockets,
    /// dex: arbitrage between Polygon pools (the original's strategy);
    /// exchange: between Kraken and Coinbase quotes.
    #[arg(long, value_enum, default_value = "dex")]
    pub mode: Mode,
    /// dex: gas price, gwei (300,000 gas per trade, priced in MATIC).
    #[arg(long, value_name = "GWEI", default_value_t = 30.0)]
    pub gas_price_gwei: f64,
    /// dex: slippage allowance, basis points of the capital.
    #[arg(long, value_name = "BPS", default_value_t = 10.0)]
    pub slippage_bps: f64,
    /// dex: signal only above this net profit (USD; 0: any profit after costs).
    #[arg(long, value_name = "USD", default_value_t = 0.0)]
    pub min_profit_usd: f64,
    /// dex: the largest capital of one trade (USD).
    #[arg(long, value_name = "USD", default_value_t = 100_000.0)]
    pub max_capital_usd: f64,
    /// exchange: taker fee per leg, basis points.
    #[arg(long, value_name = "BPS", default_value_t = 10.0)]
    pub fee_bps: f64,
    /// exchange: the least profit after fees worth trading (quote currency).
    #[arg(long, default_value_t = 1.0)]
    pub min_profit: f64,
    /// exchange: the largest notional of one leg (quote currency).
    #[arg(long, default_value_t = 50_000.0)]
    pub max_notional: f64,
    /// exchange: quotes older than this are ignored.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub max_quote_age_ms: u64,
    /// A route (pair or instrument, buy side, sell side) fires at most once per this.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub cooldown_ms: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `torq node dashboard`.
#[derive(Debug, Clone, Args)]
pub struct DashboardArgs {
    /// The HTTP address.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub relays: RelaySockets,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `torq node probe`: exactly one target.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false, id = "target")]
pub struct ProbeArgs {
    /// A service's health endpoint (e.g. `relay-market_data`, `adapter-kraken`).
    #[arg(long, value_name = "NAME", group = "target")]
    pub health: Option<String>,
    /// A relay address (socket path or tcp://HOST:PORT) that must accept a connection.
    #[arg(long, value_name = "ADDRESS", group = "target")]
    pub socket: Option<Endpoint>,
    /// An http:// URL that must answer 2xx.
    #[arg(long, value_name = "URL", group = "target")]
    pub http: Option<String>,
    /// Give up after this long.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub timeout_ms: u64,
}

/// Runs the probe: prints one line, returns 0 when healthy and 1 otherwise.
pub fn probe(args: ProbeArgs) -> i32 {
    let target = match (args.health, args.socket, args.http) {
        (Some(name), _, _) => ProbeTarget::Endpoint(name),
        (_, Some(endpoint), _) => ProbeTarget::Socket(endpoint),
        (_, _, Some(url)) => ProbeTarget::Http(url),
        _ => return 1,
    };
    match health::probe(&target, Duration::from_millis(args.timeout_ms)) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(error) => {
            println!("{error:#}");
            1
        }
    }
}

/// Runs a long-lived service in its log span until SIGTERM or SIGINT.
/// Failures are logged (in the span) before they are returned.
pub async fn serve(service: Service) -> anyhow::Result<()> {
    let (span, health_name) = match &service {
        Service::Relay(a) => (
            tracing::info_span!("relay", domain = %a.domain),
            format!("relay-{}", a.domain),
        ),
        Service::Adapter(a) => (
            tracing::info_span!("adapter", venue = %a.venue),
            format!("adapter-{}", a.venue),
        ),
        Service::FlashArbitrage(_) => (
            tracing::info_span!("flash_arbitrage"),
            "flash-arbitrage".into(),
        ),
        Service::Dashboard(_) => (tracing::info_span!("dashboard"), "dashboard".into()),
        Service::Probe(_) => return Ok(()),
    };
    let run = async move {
        let cancel = shutdown::on_signal()?;
        let health = Health::new();
        let name = common(&service)
            .and_then(|c| c.health_name.clone())
            .unwrap_or(health_name);
        health::serve(name, health.clone(), cancel.clone());
        let work = start(service, health, cancel.clone());
        shutdown::run_until_stopped(work, cancel).await
    };
    let result = run.instrument(span.clone()).await;
    if let Err(error) = &result {
        span.in_scope(|| tracing::error!("{error:#}"));
    }
    result
}

fn common(service: &Service) -> Option<&CommonArgs> {
    match service {
        Service::Relay(a) => Some(&a.common),
        Service::Adapter(a) => Some(&a.common),
        Service::FlashArbitrage(a) => Some(&a.common),
        Service::Dashboard(a) => Some(&a.common),
        Service::Probe(_) => None,
    }
}

async fn start(
    service: Service,
    health: Health,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    match service {
        Service::Relay(a) => relay::run(relay_options(a), health, cancel).await,
        Service::Adapter(a) => adapter::run(adapter_options(a), health, cancel).await,
        Service::FlashArbitrage(a) => arbitrage::run(strategy_options(a), health, cancel).await,
        Service::Dashboard(a) => dashboard::run(dashboard_options(a), health, cancel).await,
        Service::Probe(_) => Ok(()),
    }
}

/// The relay options of `torq node relay` arguments.
pub fn relay_options(a: RelayArgs) -> RelayOptions {
    RelayOptions {
        domain: a.domain,
        endpoint: a.socket.unwrap_or_else(|| {
            Endpoint::Unix(PathBuf::from(format!("{RUN_DIR}/{}.sock", a.domain)))
        }),
        verify_crc: a.verify_crc.unwrap_or(a.domain.verifies_crc()),
        max_pending: a.max_pending_kib.max(1) * 1024,
        stats_interval: a.common.stats_interval(),
        heartbeat_interval: Duration::from_secs(1),
    }
}

fn adapter_options(a: AdapterArgs) -> AdapterOptions {
    let feed = match a.replay.clone() {
        Some(path) => FeedSource::Replay {
            path,
            repeat: a.repeat,
            speed: a.speed,
        },
        None => {
            let mut params = VenueParams::new(a.venue, a.seed.unwrap_or(a.venue as u64));
            params.market_seed = a.market_seed;
            params.spread_bps = a.spread_bps;
            params.volatility = a.volatility;
            params.dislocation_probability = a.dislocation_probability.clamp(0.0, 1.0);
            FeedSource::Synthetic {
                params,
                instruments: instruments(&a),
            }
        }
    };
    AdapterOptions {
        venue: a.venue,
        relay: a.relay,
        rate: a.rate,
        feed,
        stats_interval: a.common.stats_interval(),
    }
}

fn instruments(a: &AdapterArgs) -> Vec<String> {
    let given: Vec<String> = a
        .instruments
        .iter()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect();
    if !given.is_empty() {
        return given;
    }
    let defaults: &[&str] = match a.venue {
        Venue::Polygon => &crate::protocol::instrument::catalog::DEFAULT_PAIRS,
        _ => &["BTC/USD", "ETH/USD", "SOL/USD"],
    };
    defaults.iter().map(|s| s.to_string()).collect()
}

fn strategy_options(a: StrategyArgs) -> StrategyOptions {
    StrategyOptions {
        market_data: a.relays.market_data,
        signal: a.relays.signal,
        execution: a.relays.execution,
        mode: a.mode,
        dex: DexParams {
            gas_price_gwei: a.gas_price_gwei,
            slippage_bps: a.slippage_bps,
            min_profit_usd: a.min_profit_usd,
            max_capital_usd: a.max_capital_usd,
            ..DexParams::default()
        },
        exchange: ArbParams {
            fee_bps: a.fee_bps,
            min_profit: a.min_profit,
            max_notional: a.max_notional,
            max_age_ns: a.max_quote_age_ms * 1_000_000,
        },
        cooldown_ns: a.cooldown_ms * 1_000_000,
        stats_interval: a.common.stats_interval(),
    }
}

fn dashboard_options(a: DashboardArgs) -> DashboardOptions {
    DashboardOptions {
        listen: a.listen,
        relays: vec![
            (Domain::MarketData, a.relays.market_data),
            (Domain::Signal, a.relays.signal),
            (Domain::Execution, a.relays.execution),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Service, clap::Error> {
        NodeCli::try_parse_from(std::iter::once("torq node").chain(args.iter().copied()))
            .map(|c| c.service)
    }

    #[test]
    fn the_cli_is_consistent() {
        use clap::CommandFactory;
        NodeCli::command().debug_assert();
    }

    #[test]
    fn relay_defaults_follow_the_domain() {
        let Ok(Service::Relay(args)) = parse(&["relay", "--domain", "signal"]) else {
            panic!()
        };
        let options = relay_options(args);
        assert_eq!(
            options.endpoint,
            Endpoint::Unix("/run/torq/signal.sock".into())
        );
        assert!(options.verify_crc);
        let Ok(Service::Relay(args)) =
            parse(&["relay", "--domain", "market_data", "--verify-crc", "true"])
        else {
            panic!()
        };
        assert!(relay_options(args).verify_crc);
        let Ok(Service::Relay(args)) = parse(&["relay", "--domain", "market-data"]) else {
            panic!()
        };
        assert!(!relay_options(args).verify_crc);
    }

    #[test]
    fn adapters_default_their_instruments_and_seed() {
        let Ok(Service::Adapter(args)) = parse(&["adapter", "--venue", "polygon"]) else {
            panic!()
        };
        assert_eq!(instruments(&args)[0], "WETH/USDC");
        let Ok(Service::Adapter(args)) = parse(&[
            "adapter",
            "--venue",
            "kraken",
            "--instruments",
            "BTC/USD, ETH/USD",
        ]) else {
            panic!()
        };
        assert_eq!(instruments(&args), vec!["BTC/USD", "ETH/USD"]);
        let err = parse(&["adapter", "--venue", "nyse"]).unwrap_err();
        assert!(err.to_string().contains("unknown venue `nyse`"), "{err}");
        let err = parse(&["adapter", "--venue", "kraken", "--loop"]).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::MissingRequiredArgument,
            "{err}"
        );
        assert!(err.to_string().contains("--replay <FILE>"), "{err}");
    }

    #[test]
    fn probe_takes_exactly_one_target() {
        let err = parse(&["probe"]).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::MissingRequiredArgument,
            "{err}"
        );
        let err = parse(&["probe", "--health", "a", "--socket", "/x"]).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "{err}"
        );
        assert!(matches!(
            parse(&["probe", "--http", "http://127.0.0.1:8080/health"]),
            Ok(Service::Probe(_))
        ));
    }
}
