//! What the adapters publish: a deterministic synthetic market ([`market`],
//! its evolving DEX [`pools`], built on counter-based [`noise`]) or the
//! replay of a `/ws` capture ([`replay`]).

pub mod market;
pub mod noise;
pub mod pools;
pub mod replay;
