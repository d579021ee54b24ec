//! Rendering shared by the commands that act on each container of some
//! services (`kill`, `pause`, `unpause`): one line per container, the
//! engine's reason for each refusal, exit 2 when any was refused.

use super::{Context, ExitStatus};
use crate::service::targets::ContainerResult;
use crate::ui::styles;

/// Prints what became of each container; `done` is the past tense shown
/// for a success (`killed`, `paused`). `none` is said when there was nothing to do.
pub(crate) fn report(
    ctx: &Context,
    results: &[ContainerResult],
    done: &str,
    none: &str,
) -> ExitStatus {
    if results.is_empty() {
        ctx.shell.info(none);
        return ExitStatus::Success;
    }
    let width = results.iter().map(|r| r.container.len()).max().unwrap_or(0);
    let mut status = ExitStatus::Success;
    for r in results {
        match &r.result {
            Ok(()) => ctx.shell.info(&format!(
                "{} {:width$}  {done}",
                ctx.shell.paint_err(styles::OK, "✓"),
                r.container
            )),
            Err(reason) => {
                status = ExitStatus::ServiceFailed;
                ctx.shell.error(&format!("{}: {reason}", r.container));
            }
        }
    }
    status
}
