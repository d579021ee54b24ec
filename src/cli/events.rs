//! `torq events`: arguments and one line per event (compose's text or JSON
//! shape); the work is in `service::events`.

use clap::Args;

use super::shared::{parse_reconnect_timeout, RECONNECT_TIMEOUT_HELP};
use super::{Context, ExitStatus, OutputArgs};
use crate::service::events::{self, EventsRequest, ProjectEvent};
use crate::ui::progress::PlainReporter;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq events                 Every container event of the project, as it happens
  torq events --json web      JSON lines for one service:
                              {\"action\":\"start\",\"attributes\":{…},\"id\":\"…\",\"service\":\"web\",\"time\":\"…\",\"type\":\"container\"}

Runs until Ctrl-C. A lost Docker engine is said once; the events resume (none
missed, none twice) when it answers again within --reconnect-timeout, else torq
exits 1.

Exit codes: 0 ended; 1 usage, spec or engine error (or the engine lost for good).";

/// Arguments of `torq events`.
#[derive(Debug, Clone, Args)]
pub(crate) struct EventsArgs {
    /// Services (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,

    /// How long to wait for a lost Docker engine (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_reconnect_timeout,
          long_help = RECONNECT_TIMEOUT_HELP)]
    pub reconnect_timeout: Option<std::time::Duration>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq events`.
pub(crate) fn run(ctx: &Context, args: EventsArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let request = EventsRequest {
        services: &args.services,
        reconnect_timeout: args
            .reconnect_timeout
            .unwrap_or(crate::service::follow::DEFAULT_RECONNECT_TIMEOUT),
    };
    let reporter = PlainReporter::new(ctx.shell.clone());
    super::runtime()?.block_on(async {
        let mut stop = crate::service::StopSignals::install()?;
        let engine = crate::service::connect().await?;
        let show = |event: &ProjectEvent| {
            ctx.shell.outln(&line(event, args.json));
            Ok(())
        };
        tokio::select! {
            ended = events::follow_events(&engine, &project, &request, &reporter, show) => ended?,
            () = stop.recv() => {}
        }
        Ok(ExitStatus::Success)
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
