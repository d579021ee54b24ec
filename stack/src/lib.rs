//! The Torq trading stack's services — three relays, three exchange adapters,
//! the flash-arbitrage strategy and the dashboard — plus the health probe.
//! torq ships them in its own executable behind the hidden `torq node …`
//! subcommand (the stack's images are `FROM scratch` plus that executable);
//! they share no code path with the orchestrator.
//!
//! - [`protocol`] — the original Protocol V2: frames (32-byte header, CRC32),
//!   TLV records, ids, sequence tracking; and the JSON form of events.
//! - [`relay`] — the fan-out server; [`transport`] — Unix socket or TCP.
//! - [`client`] — a service's reconnecting link to a relay.
//! - [`feed`] — the synthetic market and `/ws` capture replay; [`adapter`] publishes them.
//! - [`arbitrage`] — the strategy; [`dashboard`] — HTTP, `/ws`, the page.
//! - [`health`] — status endpoints and `torq node probe`.
//! - [`cli`] — the `torq node` arguments; [`logging`], [`shutdown`] — process plumbing.

pub mod adapter;
pub mod arbitrage;
pub mod cli;
pub mod client;
pub mod dashboard;
pub mod feed;
pub mod health;
pub mod logging;
pub mod protocol;
pub mod relay;
pub mod shutdown;
pub mod transport;

use std::ffi::OsString;
use std::time::Duration;

/// Runs one stack service (or the probe) from its command-line arguments —
/// everything after `torq node` — and returns the process exit code: 0 after
/// a clean stop (SIGTERM or SIGINT), 1 on a usage error or a failure.
pub fn run(args: Vec<OsString>) -> i32 {
    // First thing: a stop signal that comes before the handlers exist stays
    // pending instead of being lost (PID 1 of a container drops a signal it
    // has no handler for, and is then SIGKILLed at the end of its grace).
    shutdown::hold_stop_signals(true);
    let argv = std::iter::once(OsString::from("torq node")).chain(args);
    let command = match <cli::NodeCli as clap::Parser>::try_parse_from(argv) {
        Ok(parsed) => parsed.service,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { 1 } else { 0 };
        }
    };
    match command {
        cli::Service::Probe(args) => {
            shutdown::hold_stop_signals(false);
            cli::probe(args)
        }
        service => serve(service),
    }
}

/// Runs a long-lived service on a tokio runtime until it stops.
fn serve(service: cli::Service) -> i32 {
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("cannot start the runtime: {error}");
            return 1;
        }
    };
    let result = runtime.block_on(cli::serve(service));
    runtime.shutdown_timeout(Duration::from_millis(200));
    // Failures were logged in the service's span.
    if result.is_ok() {
        0
    } else {
        1
    }
}
