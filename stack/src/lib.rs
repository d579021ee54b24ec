//! The Torq trading stack's services.
//!
//! Placeholder: the stack issue fills this crate with the relays, adapters,
//! flash arbitrage and dashboard. torq ships them behind the hidden
//! `torq node …` subcommand; they share no code path with the orchestrator.

use std::ffi::OsString;

/// Runs one stack service from its command-line arguments (everything after
/// `torq node`) and returns the process exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    let _ = args;
    eprintln!("ERROR torq node: the stack services are not built yet");
    1
}
