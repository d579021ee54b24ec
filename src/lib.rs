//! torq runs a compose-style project — by default the Torq trading stack — as
//! Docker containers: it starts services in dependency order and waits for
//! their health, stops them gracefully in reverse order, reports their status
//! and multiplexes their logs.
//!
//! # Architecture
//!
//! Layers, from the user inwards. Each is a folder with a module doc of its own.
//!
//! - [`cli`] — clap definitions, one file per command. Turns arguments into
//!   calls of the layers below and their results into an [`cli::ExitStatus`].
//!   No Docker API calls of its own.
//! - [`compose`] — the compose model: discovery, YAML loading (anchors, merge
//!   keys), interpolation, `-f` overlay merging, validation, normalization and
//!   the dependency graph. Pure: it reads the spec and env files, nothing else.
//! - [`engine`] — everything that speaks the Docker Engine API (through
//!   bollard): connection, the observed state of a project (found by its
//!   labels), container/network/volume operations, image builds, events, logs
//!   and stats.
//! - [`plan`] — convergence as data: spec + observed state → a plan of single
//!   engine operations with dependencies → an executor that runs it with
//!   maximal parallelism. The plan prints as text (`torq up --dry-run`).
//! - [`logs`] — the log multiplexer: level detection, per-service colors,
//!   merging by timestamp, filters and statistics.
//! - [`ui`] — the terminal: color choice, verbosity, progress bars on a TTY and
//!   plain lines elsewhere, JSON output. Core layers report progress through
//!   [`progress::Reporter`] and never print.
//!
//! The Torq stack's services themselves live in the `torq-stack` crate and are
//! reachable through the hidden `torq node` subcommand; they share no code with
//! the orchestrator.

pub mod cli;
pub mod compose;
pub mod engine;
pub mod logs;
pub mod naming;
pub mod plan;
pub mod progress;
pub mod service;
pub mod ui;
