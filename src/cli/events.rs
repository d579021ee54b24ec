//! `torq events`: arguments and one line per event (compose's text or JSON
//! shape); the work is in `service::events`.

use clap::Args;
use futures::StreamExt;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::events::{self, ProjectEvent};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq events                 Every container event of the project, as it happens
  torq events --json web      JSON lines for one service:
                              {\"action\":\"start\",\"attributes\":{…},\"id\":\"…\",\"service\":\"web\",\"time\":\"…\",\"type\":\"container\"}

Runs until Ctrl-C. Exit codes: 0 ended; 1 usage, spec or engine error.";

/// Arguments of `torq events`.
#[derive(Debug, Clone, Args)]
pub(crate) struct EventsArgs {
    /// Services (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq events`.
pub(crate) fn run(ctx: &Context, args: EventsArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    super::runtime()?.block_on(async {
        let mut stop = crate::service::StopSignals::install()?;
        let engine = crate::service::connect().await?;
        let mut stream = events::events(&engine, &project, &args.services)?;
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(event) => ctx.shell.outln(&line(&event?, args.json)),
                    None => return Ok(ExitStatus::Success),
                },
                () = stop.recv() => return Ok(ExitStatus::Success),
            }
        }
    })
}

/// compose's text line (`2024-05-01 12:00:00.000000 container start ID (k=v, …)`)
/// or JSON object.
fn line(event: &ProjectEvent, json: bool) -> String {
    let secs = event.time_nanos.div_euclid(1_000_000_000);
    let nanos = event.time_nanos.rem_euclid(1_000_000_000) as u32;
    let time = chrono::DateTime::from_timestamp(secs, nanos).unwrap_or_default();
    if json {
        return serde_json::json!({
            "time": time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "type": "container",
            "service": event.service,
            "id": event.container,
            "action": event.action,
            "attributes": event.attributes,
        })
        .to_string();
    }
    let attributes: Vec<String> = event
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{} container {} {} ({})",
        time.format("%Y-%m-%d %H:%M:%S%.6f"),
        event.action,
        event.container,
        attributes.join(", ")
    )
}
