//! `torq top`: arguments and the processes table (grouped by service, one
//! block per container); the work is in `service::top`.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::top::{self, ContainerProcesses};
use crate::ui::table::Table;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq top                    The processes of every running container
  torq top market_data_relay  One service's

Exit codes: 0 listed; 1 usage, spec or engine error.";

/// Arguments of `torq top`.
#[derive(Debug, Clone, Args)]
pub(crate) struct TopArgs {
    /// Services (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq top`.
pub(crate) fn run(ctx: &Context, args: TopArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let listed = super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        top::top(&engine, &project, &args.services).await
    })?;
    if listed.is_empty() {
        ctx.shell.info("no running container");
    }
    let blocks: Vec<String> = listed.iter().map(|c| block(ctx, c)).collect();
    ctx.shell.out(&blocks.join("\n"));
    Ok(ExitStatus::Success)
}

/// `SERVICE (CONTAINER)` and its processes table.
fn block(ctx: &Context, c: &ContainerProcesses) -> String {
    let mut table = Table::new(c.titles.iter().map(String::as_str));
    for row in &c.rows {
        table.push(row.iter().map(|cell| cell.as_str().into()).collect());
    }
    format!(
        "{} ({})\n{}",
        c.service,
        c.container,
        table.render(ctx.shell.out_color())
    )
}
