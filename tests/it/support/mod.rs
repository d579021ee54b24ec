//! Support shared by every module of the integration test binary, in the
//! manner of cargo's own testsuite: the tests import it as `crate::support`.
//!
//! - [`engine`]: unique project names, cleanup guards, the busybox test image,
//!   temporary projects run through the `torq` executable, and readers of the
//!   engine's state and events through the docker CLI;
//! - [`counters`]: counter services and the steps of taking the engine away
//!   from a follow and giving it back;
//! - [`lines`]: a child's output line by line, waited on with a deadline;
//! - [`proxy`]: a socket forwarding to the engine that a test can close;
//! - [`pty`]: a pseudo-terminal to run torq on;
//! - [`stack`]: the Torq stack's `torq/node` image, the stack run as host
//!   processes, HTTP and relay-frame utilities;
//! - [`swarm_specs`]: a Swarm stack's service specs, networks, secrets and
//!   configs, normalized so that two stacks of one spec compare equal;
//! - [`watched`]: a running torq whose output is collected as it comes;
//! - [`tools`]: the outside programs some tests drive (docker compose v2,
//!   Chromium), found where `cargo xtask test` installs them;
//! - [`json`]: the differences between two JSON documents (torq's output
//!   against docker compose's).
//!
//! All are re-exported here, so a test writes `use crate::support::*;`.

mod counters;
mod engine;
mod json;
mod lines;
mod proxy;
mod pty;
mod stack;
mod swarm_specs;
mod tests;
mod tools;
mod watched;

pub use counters::*;
pub use engine::*;
pub use json::json_differences;
pub use lines::Lines;
pub use proxy::{assert_lost_once, lost_message, EngineProxy};
pub use pty::{expect_screen, Pty};
pub use stack::*;
pub use swarm_specs::{differences, stack_objects};
pub use tools::*;
pub use watched::Watched;

/// The torq executable under test (built by cargo for this test binary).
pub const TORQ: &str = env!("CARGO_BIN_EXE_torq");
