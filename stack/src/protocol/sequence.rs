//! Sequence tracking, as the original's consumers do it: every publisher
//! numbers its frames per relay (1, 2, 3, …); a consumer expects the next
//! number from each (domain, source) and counts gaps (frames that never
//! arrived, with their range) and duplicates (a number already seen). A
//! sequence starting over at 1 is a publisher restart, not a duplicate.

use std::collections::BTreeMap;

use serde::Serialize;

use super::frame::{Domain, Header};
use super::source::source_name;

/// What one frame's sequence number says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// The first frame seen from this publisher.
    First,
    /// The expected next number.
    InOrder,
    /// Frames `from..=to` never arrived.
    Gap {
        /// The first missing number.
        from: u64,
        /// The last missing number.
        to: u64,
    },
    /// A number at or below the last one seen.
    Duplicate {
        /// The number received.
        sequence: u64,
        /// The number expected.
        expected: u64,
    },
    /// The publisher started over at 1.
    Restart {
        /// The number that was expected.
        expected: u64,
    },
}

/// The counts of one publisher on one relay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    /// The relay domain.
    pub domain: String,
    /// The publisher.
    pub source: String,
    /// Frames received.
    pub frames: u64,
    /// The last sequence number received.
    pub last_sequence: u64,
    /// Gaps seen.
    pub gaps: u64,
    /// Frames missing in those gaps.
    pub missing: u64,
    /// Duplicate (or out-of-order) frames.
    pub duplicates: u64,
    /// Times the publisher started over.
    pub restarts: u64,
    /// The last gap's range, `[from, to]`.
    pub last_gap: Option<[u64; 2]>,
}

/// Expected sequence numbers per (domain, source).
#[derive(Debug, Clone, Default)]
pub struct SequenceTracker {
    streams: BTreeMap<(u8, u8), StreamStats>,
}

impl SequenceTracker {
    /// No publisher seen yet.
    pub fn new() -> SequenceTracker {
        SequenceTracker::default()
    }

    /// Records a frame's header.
    pub fn observe(&mut self, header: &Header) -> Observation {
        let key = (header.domain, header.source);
        let stream = self.streams.entry(key).or_insert_with(|| StreamStats {
            domain: domain_name(header.domain),
            source: source_name(header.source),
            ..StreamStats::default()
        });
        let sequence = header.sequence;
        stream.frames += 1;
        if stream.frames == 1 {
            stream.last_sequence = sequence;
            return Observation::First;
        }
        let expected = stream.last_sequence.saturating_add(1);
        let observation = match sequence {
            s if s == expected => Observation::InOrder,
            s if s > expected => {
                stream.gaps += 1;
                stream.missing += s - expected;
                stream.last_gap = Some([expected, s - 1]);
                Observation::Gap {
                    from: expected,
                    to: s - 1,
                }
            }
            1 => {
                stream.restarts += 1;
                Observation::Restart { expected }
            }
            s => {
                stream.duplicates += 1;
                return Observation::Duplicate {
                    sequence: s,
                    expected,
                };
            }
        };
        stream.last_sequence = sequence;
        observation
    }

    /// Every publisher's counts.
    pub fn stats(&self) -> Vec<StreamStats> {
        self.streams.values().cloned().collect()
    }

    /// Totals over all publishers: (gaps, missing, duplicates).
    pub fn totals(&self) -> (u64, u64, u64) {
        self.streams.values().fold((0, 0, 0), |(g, m, d), s| {
            (g + s.gaps, m + s.missing, d + s.duplicates)
        })
    }
}

fn domain_name(value: u8) -> String {
    Domain::from_u8(value).map_or_else(|| format!("domain{value}"), |d| d.name().into())
}

/// Logs an observation that is not in order: WARN for gaps and duplicates
/// (with the range), INFO for a restart.
pub fn log_observation(header: &Header, observation: Observation) {
    let source = source_name(header.source);
    let domain = domain_name(header.domain);
    match observation {
        Observation::Gap { from, to } => tracing::warn!(
            "sequence gap from {source} on {domain}: frames {from}..={to} missing ({} frame(s))",
            to - from + 1
        ),
        Observation::Duplicate { sequence, expected } => tracing::warn!(
            "duplicate sequence from {source} on {domain}: got {sequence}, expected {expected}"
        ),
        Observation::Restart { expected } => {
            tracing::info!("{source} on {domain} started over at sequence 1 (expected {expected})")
        }
        Observation::First | Observation::InOrder => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(source: u8, sequence: u64) -> Header {
        Header {
            domain: 1,
            version: 1,
            source,
            flags: 0,
            sequence,
            timestamp_ns: 0,
            payload_len: 0,
            crc32: 0,
        }
    }

    #[test]
    fn gaps_duplicates_and_restarts_are_told_apart_per_source() {
        let mut tracker = SequenceTracker::new();
        let mut seen = |source, sequence| tracker.observe(&header(source, sequence));
        assert_eq!(seen(2, 40), Observation::First);
        assert_eq!(seen(2, 41), Observation::InOrder);
        assert_eq!(seen(3, 1), Observation::First);
        assert_eq!(seen(2, 45), Observation::Gap { from: 42, to: 44 });
        assert_eq!(
            seen(2, 45),
            Observation::Duplicate {
                sequence: 45,
                expected: 46
            }
        );
        assert_eq!(seen(2, 46), Observation::InOrder);
        assert_eq!(seen(2, 1), Observation::Restart { expected: 47 });
        assert_eq!(seen(2, 2), Observation::InOrder);
        assert_eq!(seen(3, 2), Observation::InOrder);
        let stats = tracker.stats();
        let kraken = &stats[0];
        assert_eq!(kraken.source, "kraken_adapter");
        assert_eq!(
            (
                kraken.gaps,
                kraken.missing,
                kraken.duplicates,
                kraken.restarts
            ),
            (1, 3, 1, 1)
        );
        assert_eq!(kraken.last_gap, Some([42, 44]));
        assert_eq!(stats[1].gaps, 0);
        assert_eq!(tracker.totals(), (1, 3, 1));
    }
}
