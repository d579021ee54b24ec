//! The service layer: one module per verb, holding the work of a command.
//! A command's `cli` file maps its arguments to a request here and renders
//! the result; the modules here call the compose model, `plan` and `engine`,
//! and report progress through the progress trait, never printing.
//!
//! [`stdio`] is shared by the interactive verbs (`run`, `exec`): it copies a
//! container's stream to and from torq's own stdio.

pub(crate) mod stdio;
pub(crate) mod targets;

pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod images;
pub(crate) mod kill;
pub(crate) mod ls;
pub(crate) mod pause;
pub(crate) mod port;
pub(crate) mod pull;
pub(crate) mod run;
pub(crate) mod top;
pub(crate) mod wait;
