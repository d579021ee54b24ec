//! `torq ls`: arguments and the projects table (or JSON, compose's shape);
//! the work is in `service::ls`.

use clap::{Args, ValueEnum};

use super::{Context, ExitStatus, OutputArgs};
use crate::service::ls;
use crate::ui::table::Table;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq ls                     Projects with running containers (torq's and docker compose's)
  torq ls -a                  Also projects whose containers are all stopped
  torq ls --format json       [{\"Name\":…,\"Status\":\"running(3)\",\"ConfigFiles\":…}]
  torq ls -q                  Names only

Exit codes: 0 listed; 1 engine error.";

/// Output formats of `torq ls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LsFormat {
    Table,
    Json,
}

/// Arguments of `torq ls`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LsArgs {
    /// Also projects whose containers are all stopped.
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = LsFormat::Table)]
    pub format: LsFormat,

    /// Only projects whose name contains this (`name=TEXT` as compose takes it).
    #[arg(long, value_name = "name=TEXT")]
    pub filter: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq ls`.
pub(crate) fn run(ctx: &Context, args: LsArgs) -> anyhow::Result<ExitStatus> {
    let filter = match args.filter.as_deref() {
        None => None,
        Some(f) => Some(
            f.strip_prefix("name=")
                .ok_or_else(|| anyhow::anyhow!("--filter {f}: only name=TEXT is supported"))?
                .to_string(),
        ),
    };
    let projects = super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        ls::ls(&engine, args.all, filter.as_deref()).await
    })?;
    if ctx.shell.is_quiet() {
        ctx.shell.out(
            &projects
                .iter()
                .map(|p| format!("{}\n", p.name))
                .collect::<String>(),
        );
        return Ok(ExitStatus::Success);
    }
    if args.format == LsFormat::Json {
        let rows: Vec<serde_json::Value> = projects
            .iter()
            .map(|p| {
                serde_json::json!({
                    "Name": p.name,
                    "Status": p.status(),
                    "ConfigFiles": p.config_files.join(","),
                })
            })
            .collect();
        ctx.shell
            .out(&format!("{}\n", serde_json::to_string(&rows)?));
        return Ok(ExitStatus::Success);
    }
    let mut table = Table::new(["NAME", "STATUS", "CONFIG FILES"]);
    for p in &projects {
        let files = p.config_files.join(",");
        table.push(vec![
            p.name.as_str().into(),
            p.status().as_str().into(),
            files.as_str().into(),
        ]);
    }
    ctx.shell.out(&table.render(ctx.shell.out_color()));
    Ok(ExitStatus::Success)
}
