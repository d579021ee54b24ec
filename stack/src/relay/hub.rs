//! The relay's fan-out hub: the set of connected clients, each with an
//! unbounded queue whose pending bytes are capped. Broadcasting never waits:
//! a client whose pending bytes would pass the cap is cut off (its writer is
//! told to stop) and counted, so one slow subscriber never slows the others.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::protocol::tlv::RelayCounters;

/// One connected client, as the hub sees it.
#[derive(Debug)]
pub struct Subscriber {
    /// The client's id (unique per relay process).
    pub id: u64,
    /// Where the client's writer takes its chunks from.
    queue: mpsc::UnboundedSender<Bytes>,
    /// Bytes queued and not yet written.
    pending: Arc<AtomicUsize>,
    /// Cancelled when the client is cut off.
    pub cut_off: CancellationToken,
}

/// The receiving end a client's writer task owns.
#[derive(Debug)]
pub struct Outlet {
    /// Chunks of frames to write, in order.
    pub queue: mpsc::UnboundedReceiver<Bytes>,
    /// Decrement by the bytes written.
    pub pending: Arc<AtomicUsize>,
    /// Cancelled when the hub cuts the client off.
    pub cut_off: CancellationToken,
}

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames received from clients (valid ones).
    pub frames_in: AtomicU64,
    /// Frames queued to clients.
    pub frames_out: AtomicU64,
    /// Bytes received from clients (valid frames).
    pub bytes_in: AtomicU64,
    /// Frames rejected.
    pub bad_frames: AtomicU64,
    /// Clients cut off for being slow.
    pub slow_dropped: AtomicU64,
    /// Clients accepted since start.
    pub accepted: AtomicU64,
}

/// A client cut off during a broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutOff {
    /// The client's id.
    pub id: u64,
    /// Its pending bytes when it was cut off.
    pub pending: usize,
}

/// The set of clients and the counters.
#[derive(Debug)]
pub struct Hub {
    clients: RwLock<Vec<Arc<Subscriber>>>,
    max_pending: usize,
    next_id: AtomicU64,
    /// The counters.
    pub counters: Counters,
}

impl Hub {
    /// A hub cutting off clients with more than `max_pending` bytes queued.
    pub fn new(max_pending: usize) -> Hub {
        Hub {
            clients: RwLock::new(Vec::new()),
            max_pending,
            next_id: AtomicU64::new(1),
            counters: Counters::default(),
        }
    }

    /// Registers a client; returns its id and its writer's outlet.
    pub fn join(&self) -> (u64, Outlet) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let cut_off = CancellationToken::new();
        let subscriber = Arc::new(Subscriber {
            id,
            queue,
            pending: pending.clone(),
            cut_off: cut_off.clone(),
        });
        if let Ok(mut clients) = self.clients.write() {
            clients.push(subscriber);
        }
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let outlet = Outlet {
            queue: rx,
            pending,
            cut_off,
        };
        (id, outlet)
    }

    /// Unregisters a client (idempotent).
    pub fn leave(&self, id: u64) {
        if let Ok(mut clients) = self.clients.write() {
            clients.retain(|c| c.id != id);
        }
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.clients.read().map(|c| c.len()).unwrap_or(0)
    }

    /// Queues `chunk` (holding `frames` whole frames) to every client but
    /// `from`; returns the clients cut off for being slow (already removed).
    pub fn broadcast(&self, from: u64, chunk: &Bytes, frames: u64) -> Vec<CutOff> {
        let len = chunk.len();
        let mut cut = Vec::new();
        let mut delivered = 0u64;
        if let Ok(clients) = self.clients.read() {
            for client in clients.iter().filter(|c| c.id != from) {
                let before = client.pending.fetch_add(len, Ordering::AcqRel);
                // A client with nothing pending always gets the chunk, however large.
                if before > 0 && before + len > self.max_pending {
                    client.pending.fetch_sub(len, Ordering::AcqRel);
                    cut.push(CutOff {
                        id: client.id,
                        pending: before,
                    });
                    continue;
                }
                if client.queue.send(chunk.clone()).is_ok() {
                    delivered += frames;
                } else {
                    client.pending.fetch_sub(len, Ordering::AcqRel);
                }
            }
        }
        self.counters
            .frames_out
            .fetch_add(delivered, Ordering::Relaxed);
        if !cut.is_empty() {
            self.cut_off(&cut);
        }
        cut
    }

    fn cut_off(&self, cut: &[CutOff]) {
        if let Ok(mut clients) = self.clients.write() {
            clients.retain(|c| {
                let slow = cut.iter().any(|s| s.id == c.id);
                if slow {
                    c.cut_off.cancel();
                }
                !slow
            });
        }
        self.counters
            .slow_dropped
            .fetch_add(cut.len() as u64, Ordering::Relaxed);
    }

    /// The counters as the record relays send with their heartbeats.
    pub fn relay_counters(&self, uptime_ms: u64) -> RelayCounters {
        let c = &self.counters;
        RelayCounters {
            uptime_ms,
            frames_in: c.frames_in.load(Ordering::Relaxed),
            frames_out: c.frames_out.load(Ordering::Relaxed),
            bytes_in: c.bytes_in.load(Ordering::Relaxed),
            bad_frames: c.bad_frames.load(Ordering::Relaxed),
            slow_dropped: c.slow_dropped.load(Ordering::Relaxed),
            clients: self.client_count() as u32,
            accepted: c.accepted.load(Ordering::Relaxed) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_skips_the_sender() {
        let hub = Hub::new(1024);
        let (a, mut outlet_a) = hub.join();
        let (_b, mut outlet_b) = hub.join();
        let chunk = Bytes::from_static(b"0123456789");
        assert!(hub.broadcast(a, &chunk, 2).is_empty());
        assert!(outlet_a.queue.try_recv().is_err());
        assert_eq!(outlet_b.queue.try_recv().unwrap(), chunk);
        assert_eq!(outlet_b.pending.load(Ordering::Acquire), 10);
        assert_eq!(hub.counters.frames_out.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_slow_client_is_cut_off_and_the_others_still_get_everything() {
        let hub = Hub::new(25);
        let (publisher, _p) = hub.join();
        let (slow, slow_outlet) = hub.join();
        let (_fast, mut fast_outlet) = hub.join();
        let chunk = Bytes::from_static(b"0123456789");
        let mut cut = Vec::new();
        for _ in 0..5 {
            cut.extend(hub.broadcast(publisher, &chunk, 1));
            // The fast client keeps up: it drains its queue every time.
            while let Ok(got) = fast_outlet.queue.try_recv() {
                fast_outlet.pending.fetch_sub(got.len(), Ordering::AcqRel);
            }
        }
        assert_eq!(
            cut,
            vec![CutOff {
                id: slow,
                pending: 20
            }]
        );
        assert!(slow_outlet.cut_off.is_cancelled());
        assert_eq!(hub.client_count(), 2);
        assert_eq!(hub.counters.slow_dropped.load(Ordering::Relaxed), 1);
        assert_eq!(hub.counters.frames_out.load(Ordering::Relaxed), 5 + 2);
    }

    #[test]
    fn an_idle_client_accepts_a_chunk_larger_than_the_cap() {
        let hub = Hub::new(4);
        let (_a, _outlet_a) = hub.join();
        let (_b, mut outlet_b) = hub.join();
        assert!(hub
            .broadcast(0, &Bytes::from_static(b"0123456789"), 1)
            .is_empty());
        assert!(outlet_b.queue.try_recv().is_ok());
    }

    #[test]
    fn leave_forgets_the_client() {
        let hub = Hub::new(4);
        let (a, _outlet) = hub.join();
        hub.leave(a);
        hub.leave(a);
        assert_eq!(hub.client_count(), 0);
    }
}
