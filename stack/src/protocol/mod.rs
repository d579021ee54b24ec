//! The relay protocol, wire-compatible with the original Torq Protocol V2:
//! frames (32-byte header, CRC32 over header and payload), TLV records with
//! the original's fixed-size bodies, instrument and venue ids, publisher
//! ids, per-source sequence tracking, and the JSON form of events.

pub mod event;
pub mod frame;
pub mod instrument;
pub mod sequence;
pub mod source;
pub mod tlv;

pub use event::{Envelope, Event};
pub use frame::{Domain, Frame, FrameBuilder, FrameError, FrameReader, FrameScanner, Header, Scan};
pub use instrument::{InstrumentId, Venue};
pub use source::Source;
pub use tlv::{Fixed, Message, Side};

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
