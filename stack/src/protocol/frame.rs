//! The relay frame of the original Protocol V2: a 32-byte little-endian
//! header (its `MessageHeader`: magic, domain, version, source, flags,
//! sequence, timestamp, payload size, checksum) followed by a payload of TLV
//! records. The checksum is CRC32 (IEEE 802.3, the `crc32fast` crate the
//! original uses) over header bytes 0–28 and the payload, as the original's
//! `calculate_checksum`/`verify_checksum` compute it. Owns encoding, header
//! decoding, validation and the stream scanner that finds frame boundaries
//! (and resynchronizes after garbage) in a byte stream.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use super::source::Source;

/// The first four bytes of every frame (little-endian on the wire).
pub const MAGIC: u32 = 0xDEAD_BEEF;
/// The header's length in bytes.
pub const HEADER_LEN: usize = 32;
/// The protocol version this crate writes and accepts.
pub const VERSION: u8 = 1;
/// The largest payload a relay accepts; a longer length means a corrupt header.
pub const MAX_PAYLOAD: usize = 64 * 1024;

const MAGIC_BYTES: [u8; 4] = MAGIC.to_le_bytes();

/// The header bytes the checksum covers (everything before the checksum field).
pub const CHECKSUM_SCOPE: usize = 28;

/// A relay domain: which relay a frame belongs to (the codec's `RelayDomain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// Market data: trades, quotes, pool swaps and syncs.
    MarketData = 1,
    /// Strategy signals.
    Signal = 2,
    /// Order requests.
    Execution = 3,
    /// System messages: relay heartbeats, health and counters.
    System = 4,
}

impl Domain {
    /// The domains of the stack's three relays, in start order.
    pub const RELAYS: [Domain; 3] = [Domain::MarketData, Domain::Signal, Domain::Execution];
    /// All domains.
    pub const ALL: [Domain; 4] = [
        Domain::MarketData,
        Domain::Signal,
        Domain::Execution,
        Domain::System,
    ];

    /// The domain of a header byte.
    pub fn from_u8(value: u8) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| *d as u8 == value)
    }

    /// The domain's name as used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Domain::MarketData => "market_data",
            Domain::Signal => "signal",
            Domain::Execution => "execution",
            Domain::System => "system",
        }
    }

    /// Whether relays of this domain verify payload checksums by default.
    pub fn verifies_crc(self) -> bool {
        !matches!(self, Domain::MarketData)
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Domain {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.replace('-', "_").as_str() {
            "market_data" | "1" => Ok(Domain::MarketData),
            "signal" | "2" => Ok(Domain::Signal),
            "execution" | "3" => Ok(Domain::Execution),
            "system" | "4" => Ok(Domain::System),
            _ => Err(format!(
                "unknown domain `{s}` (expected market_data, signal, execution or system)"
            )),
        }
    }
}

/// A frame header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The domain byte (see [`Domain`]).
    pub domain: u8,
    /// Protocol version.
    pub version: u8,
    /// Who published the frame (see [`crate::protocol::Source`]).
    pub source: u8,
    /// Reserved flags.
    pub flags: u8,
    /// The publisher's sequence number.
    pub sequence: u64,
    /// Publication time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Length of the payload that follows the header.
    pub payload_len: u32,
    /// CRC32 (IEEE) of header bytes 0–28 and the payload.
    pub crc32: u32,
}

/// Why a frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The stream is not at a frame boundary.
    #[error("bad magic {0:#010x}")]
    BadMagic(u32),
    /// The header announces an impossible payload length.
    #[error("payload length {0} exceeds {MAX_PAYLOAD}")]
    PayloadTooLong(u32),
    /// A version this relay does not speak.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    /// A source id the protocol does not define.
    #[error("unknown source {0}")]
    UnknownSource(u8),
    /// A frame of another domain sent to this relay.
    #[error("frame of domain {found} on the {expected} relay")]
    WrongDomain {
        /// The relay's domain.
        expected: Domain,
        /// The header's domain byte.
        found: u8,
    },
    /// The frame does not match its checksum.
    #[error("CRC mismatch: header says {expected:#010x}, frame has {actual:#010x}")]
    BadCrc {
        /// The checksum in the header.
        expected: u32,
        /// The checksum of the header bytes 0–28 and payload received.
        actual: u32,
    },
}

impl Header {
    /// Decodes the first [`HEADER_LEN`] bytes of `buf` (which must hold at least that many).
    pub fn decode(buf: &[u8]) -> Result<Header, FrameError> {
        let magic = u32_at(buf, 0);
        if magic != MAGIC {
            return Err(FrameError::BadMagic(magic));
        }
        let header = Header {
            domain: buf[4],
            version: buf[5],
            source: buf[6],
            flags: buf[7],
            sequence: u64_at(buf, 8),
            timestamp_ns: u64_at(buf, 16),
            payload_len: u32_at(buf, 24),
            crc32: u32_at(buf, 28),
        };
        if header.payload_len as usize > MAX_PAYLOAD {
            return Err(FrameError::PayloadTooLong(header.payload_len));
        }
        Ok(header)
    }

    /// Writes the header's 32 bytes.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32_le(MAGIC);
        out.put_u8(self.domain);
        out.put_u8(self.version);
        out.put_u8(self.source);
        out.put_u8(self.flags);
        out.put_u64_le(self.sequence);
        out.put_u64_le(self.timestamp_ns);
        out.put_u32_le(self.payload_len);
        out.put_u32_le(self.crc32);
    }

    /// The whole frame's length: header plus payload.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(bytes)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// The frame checksum: CRC32 (IEEE) of the header's first 28 bytes (all
/// but the checksum field) followed by the payload.
pub fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[..CHECKSUM_SCOPE]);
    hasher.update(payload);
    hasher.finalize()
}

/// A decoded frame: its header and its payload (TLV records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The payload.
    pub payload: Bytes,
}

/// Builds the frames of one publisher: fills in domain, source, the next
/// sequence number, the time and the checksum.
#[derive(Debug, Clone)]
pub struct FrameBuilder {
    domain: Domain,
    source: u8,
    next_sequence: u64,
}

impl FrameBuilder {
    /// A builder for frames of `domain` published by `source`.
    pub fn new(domain: Domain, source: u8) -> FrameBuilder {
        FrameBuilder {
            domain,
            source,
            next_sequence: 1,
        }
    }

    /// The next frame carrying `payload`, stamped with `timestamp_ns`.
    pub fn build(&mut self, payload: &[u8], timestamp_ns: u64) -> Bytes {
        let header = Header {
            domain: self.domain as u8,
            version: VERSION,
            source: self.source,
            flags: 0,
            sequence: self.next_sequence,
            timestamp_ns,
            payload_len: payload.len() as u32,
            crc32: 0,
        };
        self.next_sequence += 1;
        encode_frame(header, payload)
    }

    /// The sequence number the next frame gets.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }
}

/// Encodes a frame with `header` (its checksum computed here) and `payload`.
pub fn encode_frame(mut header: Header, payload: &[u8]) -> Bytes {
    header.payload_len = payload.len() as u32;
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    header.encode(&mut out);
    header.crc32 = checksum(&out, payload);
    out[CHECKSUM_SCOPE..HEADER_LEN].copy_from_slice(&header.crc32.to_le_bytes());
    out.put_slice(payload);
    out.freeze()
}

/// The next step the scanner found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// A valid frame of this many bytes starts the buffer.
    Frame(usize),
    /// More bytes are needed to decide.
    Incomplete,
    /// The bytes at the start are bad: skip this many and scan again.
    Bad {
        /// Bytes to discard.
        skip: usize,
        /// What was wrong.
        error: FrameError,
    },
}

/// Finds frame boundaries in a relay's input and validates each frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameScanner {
    domain: Option<Domain>,
    verify_crc: bool,
}

impl FrameScanner {
    /// A scanner for a relay of `domain`, checking frame CRCs when `verify_crc`.
    pub fn new(domain: Domain, verify_crc: bool) -> FrameScanner {
        FrameScanner {
            domain: Some(domain),
            verify_crc,
        }
    }

    /// A scanner of any domain that trusts checksums (a client reading what
    /// its relay already checked).
    pub fn any() -> FrameScanner {
        FrameScanner {
            domain: None,
            verify_crc: false,
        }
    }

    /// Looks at the start of `buf`.
    pub fn scan(&self, buf: &[u8]) -> Scan {
        if buf.len() < HEADER_LEN {
            return match buf.len() >= 4 && buf[..4] != MAGIC_BYTES {
                true => self.resync(buf, FrameError::BadMagic(u32_at(buf, 0))),
                false => Scan::Incomplete,
            };
        }
        let header = match Header::decode(buf) {
            Ok(header) => header,
            Err(error) => return self.resync(buf, error),
        };
        let len = header.frame_len();
        if buf.len() < len {
            return Scan::Incomplete;
        }
        match self.check(&header, &buf[..len]) {
            Ok(()) => Scan::Frame(len),
            Err(error) => Scan::Bad { skip: len, error },
        }
    }

    fn check(&self, header: &Header, frame: &[u8]) -> Result<(), FrameError> {
        if header.version != VERSION {
            return Err(FrameError::UnsupportedVersion(header.version));
        }
        if Source::from_u8(header.source).is_none() {
            return Err(FrameError::UnknownSource(header.source));
        }
        if let Some(expected) = self.domain.filter(|d| *d as u8 != header.domain) {
            return Err(FrameError::WrongDomain {
                expected,
                found: header.domain,
            });
        }
        if self.verify_crc {
            let actual = checksum(frame, &frame[HEADER_LEN..]);
            if actual != header.crc32 {
                return Err(FrameError::BadCrc {
                    expected: header.crc32,
                    actual,
                });
            }
        }
        Ok(())
    }

    /// Skips to the next place the magic could start (a partial magic at the
    /// very end is kept, since the rest may still arrive).
    fn resync(&self, buf: &[u8], error: FrameError) -> Scan {
        let skip = (1..buf.len())
            .find(|&at| {
                let tail = &buf[at..];
                let n = tail.len().min(4);
                tail[..n] == MAGIC_BYTES[..n]
            })
            .unwrap_or(buf.len());
        Scan::Bad { skip, error }
    }
}

/// Splits a byte stream into frames (client side): the counterpart of the
/// relay's scanner, without domain or CRC checks (the relay did them).
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: BytesMut,
}

impl FrameReader {
    /// An empty reader.
    pub fn new() -> FrameReader {
        FrameReader {
            buf: BytesMut::with_capacity(64 * 1024),
        }
    }

    /// The buffer to read into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The next complete frame, or `None` when more bytes are needed.
    /// Garbage is skipped up to the next magic.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        match FrameScanner::any().scan(&self.buf) {
            Scan::Frame(len) => {
                let mut frame = self.buf.split_to(len);
                let payload = frame.split_off(HEADER_LEN).freeze();
                let header = Header::decode(&frame).ok()?;
                Some(Ok(Frame { header, payload }))
            }
            Scan::Incomplete => None,
            Scan::Bad { skip, error } => {
                let _ = self.buf.split_to(skip);
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(domain: Domain, payload: &[u8]) -> Bytes {
        FrameBuilder::new(domain, Source::ArbitrageStrategy as u8).build(payload, 1_234)
    }

    #[test]
    fn header_round_trips_in_little_endian() {
        let bytes = FrameBuilder::new(Domain::Signal, 20).build(b"abc", 0x0102_0304_0506_0708);
        assert_eq!(&bytes[..4], &[0xEF, 0xBE, 0xAD, 0xDE]);
        assert_eq!(bytes[4], 2);
        assert_eq!(bytes[5], VERSION);
        assert_eq!(bytes[6], 20);
        assert_eq!(&bytes[8..16], &1u64.to_le_bytes());
        assert_eq!(&bytes[16..24], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&bytes[24..28], &3u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &checksum(&bytes, b"abc").to_le_bytes());
        let header = Header::decode(&bytes).unwrap();
        assert_eq!(header.sequence, 1);
        assert_eq!(header.frame_len(), 35);
        let mut again = BytesMut::new();
        header.encode(&mut again);
        assert_eq!(&again[..], &bytes[..32]);
    }

    #[test]
    fn builder_numbers_frames() {
        let mut builder = FrameBuilder::new(Domain::MarketData, 2);
        let a = Header::decode(&builder.build(b"", 0)).unwrap();
        let b = Header::decode(&builder.build(b"", 0)).unwrap();
        assert_eq!((a.sequence, b.sequence), (1, 2));
    }

    #[test]
    fn scanner_finds_whole_frames_and_waits_for_partial_ones() {
        let scanner = FrameScanner::new(Domain::MarketData, true);
        let bytes = frame(Domain::MarketData, b"hello");
        assert_eq!(scanner.scan(&bytes), Scan::Frame(37));
        assert_eq!(scanner.scan(&bytes[..36]), Scan::Incomplete);
        assert_eq!(scanner.scan(&bytes[..10]), Scan::Incomplete);
        assert_eq!(scanner.scan(&[]), Scan::Incomplete);
    }

    #[test]
    fn scanner_rejects_a_bad_crc_and_skips_the_frame() {
        let mut bytes = BytesMut::from(&frame(Domain::Signal, b"hello")[..]);
        bytes[HEADER_LEN] ^= 0xFF;
        let checked = FrameScanner::new(Domain::Signal, true);
        assert!(matches!(
            checked.scan(&bytes),
            Scan::Bad {
                skip: 37,
                error: FrameError::BadCrc { .. }
            }
        ));
        let unchecked = FrameScanner::new(Domain::Signal, false);
        assert_eq!(unchecked.scan(&bytes), Scan::Frame(37));
    }

    #[test]
    fn the_checksum_covers_the_header_too() {
        let checked = FrameScanner::new(Domain::Signal, true);
        let mut bytes = BytesMut::from(&frame(Domain::Signal, b"hello")[..]);
        bytes[8] ^= 0x01; // the sequence number
        assert!(matches!(
            checked.scan(&bytes),
            Scan::Bad {
                error: FrameError::BadCrc { .. },
                ..
            }
        ));
    }

    #[test]
    fn scanner_rejects_unknown_sources() {
        let scanner = FrameScanner::new(Domain::Signal, false);
        let bytes = FrameBuilder::new(Domain::Signal, 0xF0).build(b"x", 0);
        assert!(matches!(
            scanner.scan(&bytes),
            Scan::Bad {
                error: FrameError::UnknownSource(0xF0),
                ..
            }
        ));
    }

    #[test]
    fn scanner_rejects_other_domains_and_versions() {
        let scanner = FrameScanner::new(Domain::Execution, true);
        let bytes = frame(Domain::Signal, b"x");
        assert!(matches!(
            scanner.scan(&bytes),
            Scan::Bad {
                skip: 33,
                error: FrameError::WrongDomain { found: 2, .. }
            }
        ));
        let mut bytes = BytesMut::from(&frame(Domain::Execution, b"x")[..]);
        bytes[5] = 9;
        assert!(matches!(
            scanner.scan(&bytes),
            Scan::Bad {
                error: FrameError::UnsupportedVersion(9),
                ..
            }
        ));
    }

    #[test]
    fn scanner_resyncs_after_garbage() {
        let scanner = FrameScanner::new(Domain::MarketData, false);
        let mut stream = b"garbage!".to_vec();
        stream.extend_from_slice(&frame(Domain::MarketData, b"ok"));
        let Scan::Bad { skip, error } = scanner.scan(&stream) else {
            panic!("garbage accepted")
        };
        assert!(matches!(error, FrameError::BadMagic(_)));
        assert_eq!(skip, 8);
        assert_eq!(scanner.scan(&stream[skip..]), Scan::Frame(34));
    }

    #[test]
    fn scanner_keeps_a_partial_magic_at_the_end() {
        let scanner = FrameScanner::new(Domain::MarketData, false);
        let mut stream = b"xxxxx".to_vec();
        stream.extend_from_slice(&MAGIC_BYTES[..2]);
        assert!(matches!(scanner.scan(&stream), Scan::Bad { skip: 5, .. }));
    }

    #[test]
    fn scanner_rejects_huge_lengths() {
        let scanner = FrameScanner::new(Domain::MarketData, false);
        let mut bytes = BytesMut::from(&frame(Domain::MarketData, b"")[..]);
        bytes[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            scanner.scan(&bytes),
            Scan::Bad {
                error: FrameError::PayloadTooLong(_),
                ..
            }
        ));
    }

    #[test]
    fn reader_splits_a_stream_into_frames() {
        let mut reader = FrameReader::new();
        let a = frame(Domain::MarketData, b"one");
        let b = frame(Domain::MarketData, b"two!");
        reader.buffer().extend_from_slice(&a);
        reader.buffer().extend_from_slice(b"junk");
        reader.buffer().extend_from_slice(&b[..10]);
        let first = reader.next_frame().unwrap().unwrap();
        assert_eq!(&first.payload[..], b"one");
        assert!(matches!(
            reader.next_frame(),
            Some(Err(FrameError::BadMagic(_)))
        ));
        assert!(reader.next_frame().is_none());
        reader.buffer().extend_from_slice(&b[10..]);
        assert_eq!(&reader.next_frame().unwrap().unwrap().payload[..], b"two!");
        assert!(reader.next_frame().is_none());
    }
}
