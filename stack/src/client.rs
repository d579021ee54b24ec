//! A service's link to one relay: connects to the relay's address (a Unix
//! socket or `tcp://host:port`), reconnects with exponential backoff when the
//! relay goes away, publishes queued frames (buffered, flushed when the queue
//! is drained) and reads what the relay fans out — tracking every publisher's
//! sequence numbers (gaps and duplicates logged at WARN and counted) and
//! delivering frames to the service or discarding them. A relay sends a
//! heartbeat every second, so five silent seconds mean a dead link and a
//! reconnect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::health::Health;
use crate::protocol::sequence::{log_observation, SequenceTracker};
use crate::protocol::{Domain, Frame, FrameReader};
use crate::transport::{Endpoint, ReadHalf, WriteHalf};

/// Frames a service may queue for a relay before publishing fails.
const OUTBOX_CAPACITY: usize = 4096;
/// Silence after which the relay is presumed gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(5);

/// Exponential backoff between reconnection attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Delays starting at `first`, doubling up to `max`.
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Where a link connects.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The relay's domain (for logs and health).
    pub domain: Domain,
    /// The relay's address.
    pub endpoint: Endpoint,
}

/// A handle on a running link.
#[derive(Debug, Clone)]
pub struct RelayLink {
    outbox: mpsc::Sender<Bytes>,
    connected: watch::Receiver<bool>,
    dropped: Arc<AtomicU64>,
    sequences: Arc<Mutex<SequenceTracker>>,
}

impl RelayLink {
    /// Queues a frame for the relay. Returns false (and counts the frame as
    /// dropped) when the relay is unreachable or the queue is full.
    pub fn publish(&self, frame: Bytes) -> bool {
        if !*self.connected.borrow() || self.outbox.try_send(frame).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Whether the link is connected now.
    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// A receiver of the link state, to wait for its changes.
    pub fn connection_changes(&self) -> watch::Receiver<bool> {
        self.connected.clone()
    }

    /// Frames dropped because the relay was unreachable or slow.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The sequence numbers of every publisher this link received frames from.
    pub fn sequences(&self) -> SequenceTracker {
        self.sequences.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Health check name of a link.
pub fn check_name(domain: Domain) -> String {
    format!("{domain} relay")
}

/// Starts a link. Frames the relay sends go to `inbound` (or are discarded
/// when `None`); the link's state is kept in `health`.
pub fn spawn(
    config: LinkConfig,
    inbound: Option<mpsc::Sender<Frame>>,
    health: Health,
    cancel: CancellationToken,
) -> RelayLink {
    let (outbox, outbox_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let (connected_tx, connected) = watch::channel(false);
    health.set(&check_name(config.domain), false);
    let link = RelayLink {
        outbox,
        connected,
        dropped: Arc::default(),
        sequences: Arc::default(),
    };
    let task = Connector {
        sequences: link.sequences.clone(),
        config,
        inbound,
        health,
        cancel,
        connected: connected_tx,
        outbox: outbox_rx,
    };
    tokio::spawn(task.run().in_current_span());
    link
}

struct Connector {
    config: LinkConfig,
    inbound: Option<mpsc::Sender<Frame>>,
    health: Health,
    cancel: CancellationToken,
    connected: watch::Sender<bool>,
    outbox: mpsc::Receiver<Bytes>,
    sequences: Arc<Mutex<SequenceTracker>>,
}

impl Connector {
    async fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut failures = 0u64;
        let (domain, endpoint) = (self.config.domain, self.config.endpoint.clone());
        while !self.cancel.is_cancelled() {
            match endpoint.connect().await {
                Ok(stream) => {
                    tracing::info!("connected to the {domain} relay at {endpoint}");
                    backoff.reset();
                    failures = 0;
                    self.set_connected(true);
                    let ended = self.session(stream).await;
                    self.set_connected(false);
                    if self.cancel.is_cancelled() {
                        return;
                    }
                    tracing::warn!("lost the {domain} relay: {ended}; reconnecting");
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    if failures % 20 == 0 {
                        tracing::warn!(
                            "the {domain} relay at {endpoint} is unavailable ({error}); retrying every {:?} at most",
                            Duration::from_secs(2)
                        );
                    }
                    failures += 1;
                    tokio::select! {
                        _ = self.cancel.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    fn set_connected(&mut self, connected: bool) {
        if connected {
            while self.outbox.try_recv().is_ok() {}
        }
        self.health.set(&check_name(self.config.domain), connected);
        let _ = self.connected.send(connected);
    }

    /// One connection, until it fails or the service stops; returns why it ended.
    async fn session(&mut self, (mut read, write): (ReadHalf, WriteHalf)) -> String {
        let mut writer = BufWriter::with_capacity(64 * 1024, write);
        let mut reader = FrameReader::new();
        let mut last_heard = Instant::now();
        let mut liveness = tokio::time::interval(Duration::from_secs(1));
        // A subscribe-only service drops its handle: then there is nothing to publish.
        let mut publishing = !self.outbox.is_closed();
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => return "stopping".into(),
                frame = self.outbox.recv(), if publishing => {
                    let Some(frame) = frame else {
                        publishing = false;
                        continue;
                    };
                    if let Err(error) = write_queued(&mut writer, frame, &mut self.outbox).await {
                        return format!("write failed: {error}");
                    }
                }
                read_result = read.read_buf(reader.buffer()) => {
                    match read_result {
                        Ok(0) => return "connection closed by the relay".into(),
                        Ok(_) => last_heard = Instant::now(),
                        Err(error) => return format!("read failed: {error}"),
                    }
                    if let Err(reason) = self.deliver(&mut reader).await {
                        return reason;
                    }
                }
                _ = liveness.tick() => {
                    if last_heard.elapsed() > SILENCE_LIMIT {
                        return format!("no heartbeat for {SILENCE_LIMIT:?}");
                    }
                }
            }
        }
    }

    async fn deliver(&mut self, reader: &mut FrameReader) -> Result<(), String> {
        while let Some(next) = reader.next_frame() {
            // Consumers track publishers' sequences; a publish-only link discards what it reads.
            if let (Ok(frame), Some(_)) = (&next, &self.inbound) {
                self.track(frame);
            }
            match (next, &self.inbound) {
                (Ok(frame), Some(inbound)) => {
                    if inbound.send(frame).await.is_err() {
                        return Err("consumer gone".into());
                    }
                }
                (Ok(_), None) => {}
                (Err(error), _) => tracing::warn!("skipped bytes from the relay: {error}"),
            }
        }
        if reader.buffer().capacity() - reader.buffer().len() < 16 * 1024 {
            reader.buffer().reserve(64 * 1024);
        }
        Ok(())
    }
}

impl Connector {
    fn track(&self, frame: &Frame) {
        let Ok(mut sequences) = self.sequences.lock() else {
            return;
        };
        let observation = sequences.observe(&frame.header);
        log_observation(&frame.header, observation);
    }
}

/// Writes `first` and whatever else is queued, then flushes.
async fn write_queued(
    writer: &mut BufWriter<impl AsyncWrite + Unpin>,
    first: Bytes,
    outbox: &mut mpsc::Receiver<Bytes>,
) -> std::io::Result<()> {
    writer.write_all(&first).await?;
    while let Ok(next) = outbox.try_recv() {
        writer.write_all(&next).await?;
    }
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let delays: Vec<u128> = (0..5).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }
}
