//! What the adapters publish: a deterministic synthetic market ([`market`],
//! built on counter-based [`noise`]) or the replay of a JSON-lines file
//! ([`replay`]).

pub mod market;
pub mod noise;
pub mod replay;
