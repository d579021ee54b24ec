//! torq runs a compose-style project — by default the Torq trading stack — as
//! Docker containers: it starts services in dependency order and waits for
//! their health, stops them gracefully in reverse order, reports their status
//! and multiplexes their logs.
//!
//! # Architecture
//!
//! Layers, from the user inwards; each is a folder (or file) with a module
//! doc of its own. Dependencies point one way: `cli → service → plan →
//! engine`, and every layer may use the pure ones below them (`compose`,
//! `logs`, `naming`, `progress`). `docs/architecture.md` draws the picture.
//!
//! - [`cli`] — clap definitions, one file per command: maps arguments to a
//!   service call and renders the outcome (through `ui`) as an exit code.
//!   No Docker and no command logic; command files share only `cli::shared`.
//!   The Torq stack's embedded spec and self-image Dockerfile are wired in
//!   here (`cli::stack`), the application's edge.
//! - `service` — one module per verb (up, down, restart, build, status,
//!   logs, attach): the work of a command, calling `plan` and [`engine`] and
//!   reporting progress through [`progress::Reporter`]; it never prints.
//! - [`plan`] — convergence as data: spec + observed state → a plan of single
//!   engine operations with dependencies → an executor that runs it with
//!   maximal parallelism. The plan prints as text (`torq up --dry-run`).
//! - [`engine`] — everything that speaks the Docker Engine API (through
//!   bollard): connection, the observed state of a project (found by its
//!   labels; one model of a container, `engine::state::ObservedContainer`),
//!   container/network/volume operations, image builds, events, reading and
//!   following logs, stats.
//! - [`compose`] — the compose model: discovery, YAML loading (anchors, merge
//!   keys), interpolation, `-f` overlay merging, validation, normalization,
//!   the dependency graph and every walk of it. Pure: it reads the spec and
//!   env files, nothing else.
//! - `logs` — pure log handling: lines from the engine's frames, level
//!   detection, per-service colors, merging by timestamp, filters, statistics.
//! - `naming` — the names of a project's objects (containers, networks,
//!   volumes, default images, replica labels), so no two copies drift.
//! - [`progress`] — the progress trait and its events (as compose's
//!   `api.EventProcessor`): how `engine`, `plan` and `service` report without
//!   printing.
//! - `ui` — the terminal: color choice, verbosity, progress bars on a TTY and
//!   plain lines elsewhere (implementing [`progress::Reporter`]), the status
//!   table. The only writer to the terminal, with `cli`.
//!
//! The public surface is what the integration tests need (`engine`, `plan`,
//! `progress`, `compose`, and `cli::main` for the executable); the rest is
//! crate-private. The Torq stack's services live in the `torq-stack` crate,
//! reachable through the hidden `torq node` subcommand; they share no code
//! with the orchestrator.

pub mod cli;
pub mod compose;
pub mod engine;
pub(crate) mod logs;
pub(crate) mod naming;
pub mod plan;
pub mod progress;
pub(crate) mod service;
pub(crate) mod tty;
pub(crate) mod ui;
