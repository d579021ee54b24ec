//! torq's integration tests: one test binary, so the crate links once.
//!
//! One module per area (the CLI, the compose model, lifecycle commands against
//! the real Docker engine, builds, logs, status, the Torq stack), all sharing
//! [`support`]. Run a subset with a filter on the module path, e.g.
//! `cargo test --test it lifecycle_up::` or `cargo test --test it stack_`.
//! Every test that touches the engine uses a unique project name and a guard
//! that removes what it made, so tests run in parallel and clean up on failure.

mod support;

mod build_buildkit;
mod build_cli;
mod build_images;
mod cli_config;
mod cli_help;
mod compose_parity;
mod everyday_cmds;
mod everyday_run;
mod everyday_watch;
mod lifecycle_attach;
mod lifecycle_down;
mod lifecycle_keys;
mod lifecycle_state;
mod lifecycle_up;
mod logs_engine;
mod reliability;
mod spec_conformance;
mod spec_fixtures;
mod spec_hostile;
mod stack_browser;
mod stack_compose;
mod stack_docker;
mod stack_e2e;
mod stack_images;
mod stack_processes;
mod stack_protocol;
mod stack_self_image;
mod status_engine;
mod swarm_deploy;
