//! The relay protocol: frames (32-byte header + payload), TLV records and
//! typed messages, publisher ids, and the JSON form of events.

pub mod event;
pub mod frame;
pub mod source;
pub mod tlv;

pub use event::{Envelope, Event};
pub use frame::{Domain, Frame, FrameBuilder, FrameError, FrameReader, FrameScanner, Header, Scan};
pub use source::Source;
pub use tlv::{Fixed, Message, Side, Venue};

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
