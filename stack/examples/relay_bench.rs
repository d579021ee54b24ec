//! Relay benchmark (not a test): frames per second through a market-data
//! relay, one publisher to 1 and to 4 subscribers, 64-byte frames.
//!
//! ```sh
//! cargo run --release -p torq-stack --example relay_bench -- \
//!     [--frames N] [--rounds N] [--subscribers 1,4] [--crc] [--frames-per-write N]
//! ```
//!
//! The relay runs in this process on its own two-thread tokio runtime, the
//! clients on another; all talk over a real Unix socket. The publisher writes
//! batches of frames (1024 per write, 64 KiB, unless `--frames-per-write`); each subscriber reads up to 256 KiB per syscall
//! and walks the headers, counting data frames (relay heartbeats excluded).
//! The rate is frames per second delivered to *each* subscriber: from the
//! first byte published to the last subscriber's last frame.
//!
//! The publisher is flow-controlled: it keeps at most [`WINDOW`] frames in
//! flight ahead of the slowest subscriber, so the run measures the rate the
//! relay sustains with its production slow-client limit (4 MiB pending),
//! not how fast a queue can grow.
//!
//! Frames are the original Protocol V2's: the checksum covers header bytes
//! 0–28 and the payload, so with `--crc` (the relay verifies every frame)
//! the publisher re-stamps it after patching each frame's sequence number;
//! without, it leaves the stale checksum alone (nobody reads it), so the
//! publisher's own cost stays what it was.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use torq_stack::health::Health;
use torq_stack::protocol::frame::{checksum, FrameBuilder, CHECKSUM_SCOPE, HEADER_LEN};
use torq_stack::protocol::{Domain, Source};
use torq_stack::relay::{self, RelayOptions};
use torq_stack::transport::Endpoint;

const FRAME_LEN: usize = 64;
/// Frames the publisher may be ahead of the slowest subscriber (2 MiB).
const WINDOW: u64 = 32 * 1024;

/// How far each subscriber got; the publisher waits on `advanced`.
struct Progress {
    received: Vec<AtomicU64>,
    advanced: Notify,
}

impl Progress {
    fn slowest(&self) -> u64 {
        self.received
            .iter()
            .map(|r| r.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }
}

struct Settings {
    frames: u64,
    subscribers: Vec<usize>,
    verify_crc: bool,
    rounds: usize,
    frames_per_write: usize,
}

fn main() -> anyhow::Result<()> {
    let settings = parse_args()?;
    // The relay's warnings and errors (a subscriber cut off as slow) show; its INFO lines do not.
    if std::env::var_os(torq_stack::logging::FILTER_ENV).is_none() {
        std::env::set_var(torq_stack::logging::FILTER_ENV, "warn");
    }
    torq_stack::logging::init();
    let relay_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("relay")
        .enable_all()
        .build()?;
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("clients")
        .enable_all()
        .build()?;
    println!(
        "relay_bench: {} frames of {FRAME_LEN} bytes per run, {} per write, CRC {}, {} core(s)",
        settings.frames,
        settings.frames_per_write,
        if settings.verify_crc {
            "verified"
        } else {
            "not verified"
        },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for &subscribers in &settings.subscribers {
        for round in 1..=settings.rounds {
            let dir = std::env::temp_dir().join(format!(
                "relay-bench-{}-{subscribers}-{round}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir)?;
            let socket = dir.join("market_data.sock");
            let cancel = CancellationToken::new();
            let options = RelayOptions {
                domain: Domain::MarketData,
                endpoint: Endpoint::Unix(socket.clone()),
                verify_crc: settings.verify_crc,
                max_pending: 4 * 1024 * 1024,
                stats_interval: Duration::from_secs(3600),
                heartbeat_interval: Duration::from_millis(100),
            };
            let relay = relay_runtime.spawn(relay::run(options, Health::new(), cancel.clone()));
            let outcome = client_runtime.block_on(run_once(&socket, subscribers, &settings));
            cancel.cancel();
            let _ = relay_runtime.block_on(relay);
            let _ = std::fs::remove_dir_all(&dir);
            let outcome = outcome?;
            println!(
                "1 publisher -> {subscribers} subscriber(s), round {round}: {:>10.0} frames/s per subscriber, {:>10.0} frames/s delivered in total, {:>7.1} MiB/s out ({:.2} s)",
                outcome.rate(),
                outcome.rate() * subscribers as f64,
                outcome.rate() * subscribers as f64 * FRAME_LEN as f64 / 1_048_576.0,
                outcome.elapsed.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn parse_args() -> anyhow::Result<Settings> {
    let mut settings = Settings {
        frames: 20_000_000,
        subscribers: vec![1, 4],
        verify_crc: false,
        rounds: 3,
        frames_per_write: 1024,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--frames" => settings.frames = args.next().context("--frames N")?.parse()?,
            "--rounds" => settings.rounds = args.next().context("--rounds N")?.parse()?,
            "--subscribers" => {
                settings.subscribers = args
                    .next()
                    .context("--subscribers 1,4")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--crc" => settings.verify_crc = true,
            "--frames-per-write" => {
                settings.frames_per_write = args
                    .next()
                    .context("--frames-per-write N")?
                    .parse::<usize>()?
                    .max(1);
            }
            "--bench" => {}
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(settings)
}

struct Outcome {
    frames: u64,
    elapsed: Duration,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64()
    }
}

async fn run_once(
    socket: &Path,
    subscribers: usize,
    settings: &Settings,
) -> anyhow::Result<Outcome> {
    let frames = settings.frames;
    let mut readers = Vec::new();
    for _ in 0..subscribers {
        let mut stream = connect(socket).await?;
        // The first heartbeat proves the relay has registered this subscriber.
        wait_for_heartbeat(&mut stream).await?;
        readers.push(stream);
    }
    let publisher = connect(socket).await?;
    let progress = Arc::new(Progress {
        received: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
        advanced: Notify::new(),
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, stream) in readers.into_iter().enumerate() {
        tasks.push(tokio::spawn(count_frames(
            stream,
            frames,
            progress.clone(),
            index,
        )));
    }
    let publish = tokio::spawn(publish(
        publisher,
        frames,
        (settings.frames_per_write, settings.verify_crc),
        progress,
    ));
    let mut finished = started;
    for task in tasks {
        finished = finished.max(task.await??);
    }
    publish.await??;
    Ok(Outcome {
        frames,
        elapsed: finished - started,
    })
}

async fn connect(socket: &Path) -> anyhow::Result<UnixStream> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match UnixStream::connect(socket).await {
            Ok(stream) => return Ok(stream),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(error) => {
                return Err(error).with_context(|| format!("connecting to {}", socket.display()))
            }
        }
    }
}

async fn wait_for_heartbeat(stream: &mut UnixStream) -> anyhow::Result<()> {
    let mut header = [0u8; HEADER_LEN];
    stream.read_exact(&mut header).await?;
    let len = u32::from_le_bytes([header[24], header[25], header[26], header[27]]) as usize;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    Ok(())
}

/// Writes `frames` 64-byte frames, `per_write` per syscall (sequence numbers
/// patched per batch, and the checksum re-stamped when the relay verifies it).
async fn publish(
    mut stream: UnixStream,
    frames: u64,
    (per_write, stamp_crc): (usize, bool),
    progress: Arc<Progress>,
) -> anyhow::Result<()> {
    let mut builder = FrameBuilder::new(Domain::MarketData, Source::MetricsCollector as u8);
    let payload = payload();
    let mut batch = Vec::with_capacity(FRAME_LEN * per_write);
    for _ in 0..per_write {
        batch.extend_from_slice(&builder.build(&payload, 0));
    }
    let mut sequence = 0u64;
    let mut left = frames;
    while left > 0 {
        while sequence >= progress.slowest() + WINDOW {
            let advanced = progress.advanced.notified();
            if sequence < progress.slowest() + WINDOW {
                break;
            }
            advanced.await;
        }
        let n = left.min(per_write as u64) as usize;
        for frame in batch.chunks_exact_mut(FRAME_LEN).take(n) {
            sequence += 1;
            frame[8..16].copy_from_slice(&sequence.to_le_bytes());
            if stamp_crc {
                let crc = checksum(frame, &frame[HEADER_LEN..]);
                frame[CHECKSUM_SCOPE..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
            }
        }
        stream.write_all(&batch[..n * FRAME_LEN]).await?;
        left -= n as u64;
    }
    stream.flush().await?;
    Ok(())
}

/// A 32-byte payload: one TLV record (type, length 30, value) so the frame
/// is 64 bytes; the type is the original's vendor `ProprietaryData` (202),
/// which readers skip.
fn payload() -> Vec<u8> {
    let mut payload = vec![202, (FRAME_LEN - HEADER_LEN - 2) as u8];
    payload.resize(FRAME_LEN - HEADER_LEN, 0xAB);
    payload
}

/// Reads until `frames` data frames arrived; returns when the last one did.
async fn count_frames(
    mut stream: UnixStream,
    frames: u64,
    progress: Arc<Progress>,
    index: usize,
) -> anyhow::Result<Instant> {
    let mut buf = vec![0u8; 256 * 1024];
    let (mut filled, mut counted) = (0usize, 0u64);
    while counted < frames {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            bail!("the relay closed the connection after {counted} frames");
        }
        filled += n;
        let mut at = 0;
        while filled - at >= HEADER_LEN {
            let header = &buf[at..at + HEADER_LEN];
            if header[..4] != 0xDEAD_BEEFu32.to_le_bytes() {
                bail!("lost frame sync after {counted} frames");
            }
            let len = HEADER_LEN
                + u32::from_le_bytes([header[24], header[25], header[26], header[27]]) as usize;
            if filled - at < len {
                break;
            }
            if header[4] != Domain::System as u8 {
                counted += 1;
            }
            at += len;
        }
        buf.copy_within(at..filled, 0);
        filled -= at;
        progress.received[index].store(counted, Ordering::Release);
        progress.advanced.notify_one();
    }
    Ok(Instant::now())
}
