//! `torq node …` (hidden): runs one of the Torq stack's services. The stack's
//! images are `FROM scratch` with the torq executable as their entrypoint, so
//! the same binary that orchestrates the stack also is the stack.

use std::ffi::OsString;

use clap::Args;

use super::ExitStatus;

/// Arguments of `torq node`: passed untouched to the stack crate.
#[derive(Debug, Clone, Args)]
pub(crate) struct NodeArgs {
    /// The service and its options.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

/// Runs a stack service from parsed arguments.
pub(crate) fn run(args: NodeArgs) -> ExitStatus {
    run_raw(args.args)
}

/// Runs a stack service from raw arguments (everything after `torq node`).
pub(crate) fn run_raw(args: Vec<OsString>) -> ExitStatus {
    let code = torq_stack::run(args);
    ExitStatus::Code(u8::try_from(code).unwrap_or(1))
}
