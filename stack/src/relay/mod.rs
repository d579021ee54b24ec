//! A relay: a server for one domain on a Unix socket (or on TCP, same
//! framing). Every valid frame a client sends is broadcast to every other
//! client; bad frames (magic, version, domain, source, CRC) are logged and
//! dropped; a slow client is cut off with an ERROR line (see [`hub`]). Reads
//! take up to 64 KiB per syscall and forward all whole frames of a read as
//! one shared chunk; writes go through a buffer flushed when a client's queue
//! is drained. Every second the relay sends its clients a System-domain frame
//! from its own source id: a Heartbeat, a SystemHealth and its counters (a
//! vendor-range record); every `stats_interval` it logs them.

pub mod hub;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, UnixListener};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::health::Health;
use crate::protocol::tlv::{encode_payload, Heartbeat, Message, SystemHealth};
use crate::protocol::{now_ns, Domain, FrameBuilder, FrameScanner, Scan, Source};
use crate::transport::{split_tcp, split_unix, Endpoint, ReadHalf, WriteHalf};
use hub::{CutOff, Hub, Outlet};

/// Bytes a relay reads per syscall (at most).
const READ_CHUNK: usize = 64 * 1024;

/// How a relay runs.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The domain it serves.
    pub domain: Domain,
    /// Its address: a socket path or `tcp://host:port`.
    pub endpoint: Endpoint,
    /// Whether payload CRCs are verified.
    pub verify_crc: bool,
    /// Pending bytes after which a client is cut off as slow.
    pub max_pending: usize,
    /// How often the counters are logged.
    pub stats_interval: Duration,
    /// How often clients get a heartbeat.
    pub heartbeat_interval: Duration,
}

/// Runs a relay until `cancel`.
pub async fn run(
    options: RelayOptions,
    health: Health,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let socket = Listener::bind(&options.endpoint).await?;
    health.set("listening", true);
    tracing::info!(
        "listening on {} (CRC {}, slow-client limit {} KiB)",
        socket.describe(),
        if options.verify_crc {
            "verified"
        } else {
            "not verified"
        },
        options.max_pending / 1024
    );
    let hub = Arc::new(Hub::new(options.max_pending));
    let started = Instant::now();
    tokio::spawn(
        heartbeats(hub.clone(), options.clone(), started, cancel.clone()).in_current_span(),
    );
    tokio::spawn(stats(hub.clone(), options.stats_interval, cancel.clone()).in_current_span());
    // Not a child of `cancel`: clients are let go only once the socket is gone.
    let release_clients = CancellationToken::new();
    let scanner = FrameScanner::new(options.domain, options.verify_crc);
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = socket.accept() => accepted,
        };
        match accepted {
            Ok(stream) => {
                let client = Client::join(hub.clone(), scanner, release_clients.clone());
                tokio::spawn(client.serve(stream).in_current_span());
            }
            Err(error) => {
                tracing::error!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // First no new connection can reach this relay, then its clients are
    // disconnected: a client reconnecting at once finds no socket (and backs
    // off until the next relay binds one) instead of landing in the backlog of
    // a listener about to close, which would reset it.
    health.set("listening", false);
    socket.close();
    release_clients.cancel();
    tracing::info!("stopped; {}", counters_line(&hub, started.elapsed()));
    Ok(())
}

/// What a relay listens on.
enum Listener {
    /// A Unix socket.
    Unix(RelaySocket),
    /// A TCP port.
    Tcp(TcpListener),
}

impl Listener {
    async fn bind(endpoint: &Endpoint) -> anyhow::Result<Listener> {
        Ok(match endpoint {
            Endpoint::Unix(path) => Listener::Unix(RelaySocket::bind(path)?),
            Endpoint::Tcp(authority) => Listener::Tcp(
                TcpListener::bind(authority.as_str())
                    .await
                    .with_context(|| format!("cannot listen on tcp://{authority}"))?,
            ),
        })
    }

    fn describe(&self) -> String {
        match self {
            Listener::Unix(socket) => socket.path.display().to_string(),
            Listener::Tcp(listener) => listener
                .local_addr()
                .map_or_else(|_| "tcp".into(), |a| format!("tcp://{a}")),
        }
    }

    async fn accept(&self) -> std::io::Result<(ReadHalf, WriteHalf)> {
        match self {
            Listener::Unix(socket) => socket.listener.accept().await.map(|(s, _)| split_unix(s)),
            Listener::Tcp(listener) => listener.accept().await.map(|(s, _)| split_tcp(s)),
        }
    }

    fn close(self) {
        match self {
            Listener::Unix(socket) => socket.close(),
            Listener::Tcp(listener) => drop(listener),
        }
    }
}

/// The relay's listening socket and the identity (device, inode) of the
/// socket file it bound, so that it only ever unlinks its own file.
struct RelaySocket {
    listener: UnixListener,
    path: PathBuf,
    identity: Option<FileIdentity>,
}

/// A file's (device, inode).
type FileIdentity = (u64, u64);

impl RelaySocket {
    /// Binds the socket: creates its directory, replaces a stale socket file,
    /// refuses to steal the socket of a live relay.
    fn bind(path: &Path) -> anyhow::Result<RelaySocket> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                bail!("another relay is already listening on {}", path.display());
            }
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
        }
        let listener = UnixListener::bind(path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666));
        Ok(RelaySocket {
            listener,
            path: path.to_path_buf(),
            identity: file_identity(path),
        })
    }

    /// Stops listening: unlinks the socket file if it is still the one this
    /// relay bound (a newer relay may have replaced it), then closes the listener.
    fn close(self) {
        let RelaySocket {
            listener,
            path,
            identity,
        } = self;
        if identity.is_some() && file_identity(&path) == identity {
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!("cannot remove {}: {error}", path.display());
            }
        } else {
            tracing::info!(
                "{} is no longer this relay's socket: left in place",
                path.display()
            );
        }
        drop(listener);
    }
}

fn file_identity(path: &Path) -> Option<FileIdentity> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// One connected client: its reader (this task) and its writer (spawned).
struct Client {
    hub: Arc<Hub>,
    id: u64,
    outlet: Option<Outlet>,
    scanner: FrameScanner,
    cancel: CancellationToken,
    bad_frames: u64,
}

impl Client {
    fn join(hub: Arc<Hub>, scanner: FrameScanner, cancel: CancellationToken) -> Client {
        let (id, outlet) = hub.join();
        Client {
            hub,
            id,
            outlet: Some(outlet),
            scanner,
            cancel,
            bad_frames: 0,
        }
    }

    async fn serve(mut self, (mut read, write): (ReadHalf, WriteHalf)) {
        tracing::info!(
            "client {} connected (clients={})",
            self.id,
            self.hub.client_count()
        );
        let Some(outlet) = self.outlet.take() else {
            return;
        };
        let cut_off = outlet.cut_off.clone();
        let writer = tokio::spawn(write_client(write, outlet).in_current_span());
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let ended = loop {
            let read_result = tokio::select! {
                _ = self.cancel.cancelled() => break "relay stopping".to_string(),
                _ = cut_off.cancelled() => break "cut off as slow".to_string(),
                read_result = read.read_buf(&mut buf) => read_result,
            };
            match read_result {
                Ok(0) => break "closed".to_string(),
                Ok(_) => self.forward(&mut buf),
                Err(error) => break format!("read failed: {error}"),
            }
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
        };
        self.hub.leave(self.id);
        cut_off.cancel();
        let _ = writer.await;
        tracing::info!(
            "client {} disconnected: {ended} (clients={})",
            self.id,
            self.hub.client_count()
        );
    }

    /// Forwards every whole valid frame at the start of `buf`, dropping bad ones.
    fn forward(&mut self, buf: &mut BytesMut) {
        let mut run = 0;
        let mut frames = 0u64;
        loop {
            match self.scanner.scan(&buf[run..]) {
                Scan::Frame(len) => {
                    run += len;
                    frames += 1;
                }
                Scan::Incomplete => break,
                Scan::Bad { skip, error } => {
                    if run > 0 {
                        self.broadcast(buf.split_to(run).freeze(), frames);
                        (run, frames) = (0, 0);
                    }
                    let _ = buf.split_to(skip);
                    self.bad_frame(&error);
                }
            }
        }
        if run > 0 {
            self.broadcast(buf.split_to(run).freeze(), frames);
        }
    }

    fn broadcast(&self, chunk: Bytes, frames: u64) {
        let counters = &self.hub.counters;
        counters.frames_in.fetch_add(frames, Ordering::Relaxed);
        counters
            .bytes_in
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let cut = self.hub.broadcast(self.id, &chunk, frames);
        log_cut_off(&self.hub, &cut);
    }

    fn bad_frame(&mut self, error: &crate::protocol::FrameError) {
        self.bad_frames += 1;
        let total = self.hub.counters.bad_frames.fetch_add(1, Ordering::Relaxed) + 1;
        // Every bad frame is counted; the log shows the first ten per client, then every 1000th.
        if self.bad_frames <= 10 || self.bad_frames % 1000 == 0 {
            tracing::warn!(
                "client {}: bad frame dropped: {error} (bad_frames={total})",
                self.id
            );
        }
    }
}

fn log_cut_off(hub: &Hub, cut: &[CutOff]) {
    for client in cut {
        tracing::error!(
            "client {} is too slow ({} KiB pending): dropped (slow_dropped={})",
            client.id,
            client.pending / 1024,
            hub.counters.slow_dropped.load(Ordering::Relaxed)
        );
    }
}

/// A client's writer: drains its queue through a 64 KiB buffer, flushing when
/// the queue is empty; stops when cut off or when the queue closes.
async fn write_client(write: WriteHalf, mut outlet: Outlet) {
    let mut writer = BufWriter::with_capacity(64 * 1024, write);
    let cut_off = outlet.cut_off.clone();
    let result: std::io::Result<()> = async {
        while let Some(chunk) = outlet.queue.recv().await {
            writer.write_all(&chunk).await?;
            outlet.pending.fetch_sub(chunk.len(), Ordering::AcqRel);
            while let Ok(next) = outlet.queue.try_recv() {
                writer.write_all(&next).await?;
                outlet.pending.fetch_sub(next.len(), Ordering::AcqRel);
            }
            writer.flush().await?;
        }
        Ok(())
    }
    .with_cancel(&cut_off)
    .await
    .unwrap_or(Ok(()));
    if let Err(error) = result {
        tracing::debug!("write failed: {error}");
    }
    cut_off.cancel();
}

/// Racing a future against a token.
trait WithCancel: std::future::Future + Sized {
    async fn with_cancel(self, token: &CancellationToken) -> Option<Self::Output> {
        tokio::select! {
            _ = token.cancelled() => None,
            out = self => Some(out),
        }
    }
}

impl<F: std::future::Future> WithCancel for F {}

async fn heartbeats(
    hub: Arc<Hub>,
    options: RelayOptions,
    started: Instant,
    cancel: CancellationToken,
) {
    let source = Source::relay(options.domain);
    let mut builder = FrameBuilder::new(Domain::System, source as u8);
    let mut ticker = tokio::time::interval(options.heartbeat_interval);
    let mut rate = RateMeter::default();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = now_ns();
        let uptime = started.elapsed();
        let counters = hub.relay_counters(uptime.as_millis() as u64);
        let connections = counters.clients;
        let records = [
            Message::Heartbeat(Heartbeat {
                timestamp_ns: now,
                uptime_s: uptime.as_secs() as u32,
                connections,
            }),
            Message::SystemHealth(SystemHealth {
                timestamp_ns: now,
                connection_count: connections,
                message_rate_per_sec: rate.per_second(counters.frames_in),
                service_type: source as u8,
                ..SystemHealth::default()
            }),
            Message::RelayCounters(counters),
        ];
        let Ok(payload) = encode_payload(&records) else {
            continue;
        };
        let frame = builder.build(&payload, now);
        let cut = hub.broadcast(0, &frame, 0);
        log_cut_off(&hub, &cut);
    }
}

/// Frames per second between two readings of a cumulative counter.
#[derive(Default)]
struct RateMeter {
    last: Option<(u64, Instant)>,
}

impl RateMeter {
    fn per_second(&mut self, total: u64) -> u32 {
        let now = Instant::now();
        let rate = self.last.map_or(0.0, |(before, at)| {
            (total - before) as f64 / now.duration_since(at).as_secs_f64().max(1e-3)
        });
        self.last = Some((total, now));
        rate.min(u32::MAX as f64) as u32
    }
}

async fn stats(hub: Arc<Hub>, interval: Duration, cancel: CancellationToken) {
    let started = Instant::now();
    let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
    let mut last_in = 0u64;
    let mut last_at = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let frames_in = hub.counters.frames_in.load(Ordering::Relaxed);
        let rate = (frames_in - last_in) as f64 / last_at.elapsed().as_secs_f64().max(1e-3);
        (last_in, last_at) = (frames_in, Instant::now());
        tracing::info!(
            "{} rate_in={rate:.0}/s",
            counters_line(&hub, started.elapsed())
        );
    }
}

fn counters_line(hub: &Hub, uptime: Duration) -> String {
    let c = &hub.counters;
    format!(
        "counters frames_in={} frames_out={} bytes_in={} clients={} accepted={} bad_frames={} slow_dropped={} uptime={}s",
        c.frames_in.load(Ordering::Relaxed),
        c.frames_out.load(Ordering::Relaxed),
        c.bytes_in.load(Ordering::Relaxed),
        hub.client_count(),
        c.accepted.load(Ordering::Relaxed),
        c.bad_frames.load(Ordering::Relaxed),
        c.slow_dropped.load(Ordering::Relaxed),
        uptime.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixStream;

    fn options(socket: &Path) -> RelayOptions {
        RelayOptions {
            domain: Domain::MarketData,
            endpoint: Endpoint::Unix(socket.to_path_buf()),
            verify_crc: false,
            max_pending: 1 << 20,
            stats_interval: Duration::from_secs(60),
            heartbeat_interval: Duration::from_millis(50),
        }
    }

    /// Connects, retrying until the relay has bound its socket.
    async fn connect(socket: &Path) -> UnixStream {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match UnixStream::connect(socket).await {
                Ok(stream) => return stream,
                Err(error) => assert!(Instant::now() < until, "relay never listened: {error}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Reads until the relay closes the connection.
    async fn read_to_end(stream: &mut UnixStream) {
        let mut buf = vec![0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopping_relay_is_unreachable_before_it_disconnects_its_clients() {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("market_data.sock");
        let cancel = CancellationToken::new();
        let relay = tokio::spawn(run(options(&socket), Health::new(), cancel.clone()));
        let mut clients = Vec::new();
        for _ in 0..4 {
            let mut client = connect(&socket).await;
            // The first heartbeat: the client is registered.
            let mut byte = [0u8; 1];
            client.read_exact(&mut byte).await.expect("a heartbeat");
            clients.push(client);
        }
        cancel.cancel();
        for client in &mut clients {
            read_to_end(client).await;
            // What a reconnecting client does at once: it must not reach the stopping relay.
            let reconnect = UnixStream::connect(&socket).await;
            assert!(
                matches!(&reconnect, Err(e) if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                )),
                "a client reached a relay that had already disconnected its clients: {reconnect:?}"
            );
        }
        relay
            .await
            .expect("relay task")
            .expect("relay stops cleanly");
        assert!(!socket.exists(), "the relay removes its socket");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopping_relay_leaves_a_newer_relays_socket_in_place() {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("market_data.sock");
        let old_cancel = CancellationToken::new();
        let old = tokio::spawn(run(options(&socket), Health::new(), old_cancel.clone()));
        drop(connect(&socket).await);
        // The old relay's file disappears (as if stale) and a new relay binds the path.
        std::fs::remove_file(&socket).expect("remove the old socket file");
        let new_cancel = CancellationToken::new();
        let new = tokio::spawn(run(options(&socket), Health::new(), new_cancel.clone()));
        drop(connect(&socket).await);

        old_cancel.cancel();
        old.await.expect("old relay task").expect("old relay stops");
        let mut client = UnixStream::connect(&socket)
            .await
            .expect("the new relay's socket survives the old relay's shutdown");
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).await.expect("a heartbeat");

        new_cancel.cancel();
        new.await.expect("new relay task").expect("new relay stops");
        assert!(!socket.exists(), "the new relay removes its own socket");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tcp_relay_fans_out_the_same_frames() {
        use crate::protocol::{FrameReader, Source};
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        let endpoint: Endpoint = format!("tcp://127.0.0.1:{port}").parse().unwrap();
        let mut relay_options = options(Path::new("/unused"));
        relay_options.endpoint = endpoint.clone();
        let cancel = CancellationToken::new();
        let relay = tokio::spawn(run(relay_options, Health::new(), cancel.clone()));
        let until = Instant::now() + Duration::from_secs(10);
        let connect = || async {
            loop {
                match endpoint.connect().await {
                    Ok(halves) => return halves,
                    Err(error) => assert!(Instant::now() < until, "relay never listened: {error}"),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let (mut read_a, _write_a) = connect().await;
        let (mut read_b, mut write_b) = connect().await;
        // Both registered: each has its first heartbeat.
        let mut reader_a = FrameReader::new();
        let next_frame = async |read: &mut ReadHalf, reader: &mut FrameReader| loop {
            if let Some(frame) = reader.next_frame() {
                return frame.expect("a valid frame");
            }
            read.read_buf(reader.buffer()).await.expect("read");
        };
        let first = next_frame(&mut read_a, &mut reader_a).await;
        assert_eq!(first.header.domain, Domain::System as u8);
        assert_eq!(first.header.source, Source::MarketDataRelay as u8);
        let mut reader_b = FrameReader::new();
        next_frame(&mut read_b, &mut reader_b).await;
        let sent = FrameBuilder::new(Domain::MarketData, Source::KrakenCollector as u8)
            .build(b"over tcp", 5);
        write_b.write_all(&sent).await.expect("send");
        let received = loop {
            let frame = next_frame(&mut read_a, &mut reader_a).await;
            if frame.header.domain == Domain::MarketData as u8 {
                break frame;
            }
        };
        assert_eq!(&received.payload[..], b"over tcp");
        cancel.cancel();
        relay.await.expect("relay task").expect("relay stops");
    }

    #[tokio::test]
    async fn a_relay_refuses_the_socket_of_a_live_relay() {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("signal.sock");
        let cancel = CancellationToken::new();
        let live = tokio::spawn(run(options(&socket), Health::new(), cancel.clone()));
        drop(connect(&socket).await);
        let error = run(options(&socket), Health::new(), CancellationToken::new())
            .await
            .expect_err("a second relay on the same socket");
        assert!(error.to_string().contains("already listening"), "{error}");
        cancel.cancel();
        live.await.expect("relay task").expect("relay stops");
        assert!(!socket.exists());
    }
}
