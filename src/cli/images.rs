//! `torq images`: arguments and the images table (or JSON); the work is in
//! `service::images`.

use clap::{Args, ValueEnum};

use super::{Context, ExitStatus, OutputArgs};
use crate::service::images;
use crate::ui::table::{Align, Table};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq images                 Repository, tag, id and size of each container's image
  torq images -q              Image ids only
  torq images --format json

Exit codes: 0 listed; 1 usage, spec or engine error.";

/// Output formats of `torq images`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImagesFormat {
    Table,
    Json,
}

/// Arguments of `torq images`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ImagesArgs {
    /// Services (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ImagesFormat::Table)]
    pub format: ImagesFormat,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq images`.
pub(crate) fn run(ctx: &Context, args: ImagesArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let rows = super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        images::images(&engine, &project, &args.services).await
    })?;
    if ctx.shell.is_quiet() {
        let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        ids.dedup();
        ctx.shell
            .out(&ids.iter().map(|id| format!("{id}\n")).collect::<String>());
        return Ok(ExitStatus::Success);
    }
    if args.format == ImagesFormat::Json {
        ctx.shell
            .out(&format!("{}\n", serde_json::to_string_pretty(&rows)?));
        return Ok(ExitStatus::Success);
    }
    let mut table =
        Table::new(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]).align(4, Align::Right);
    for r in &rows {
        let short =
            r.id.trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>();
        let size = crate::service::status::report::bytes(u64::try_from(r.size).unwrap_or(0));
        table.push(vec![
            r.container.as_str().into(),
            r.repository.as_str().into(),
            r.tag.as_str().into(),
            short.as_str().into(),
            size.as_str().into(),
        ]);
    }
    ctx.shell.out(&table.render(ctx.shell.out_color()));
    Ok(ExitStatus::Success)
}
