//! The service layer: one module per verb, holding the work of a command —
//! calling the compose model, plan and engine, reporting progress through
//! [`crate::progress::Reporter`] — and returning a result the CLI renders.

pub mod deploy;
pub mod deployed;
pub mod undeploy;
