//! `torq port`: arguments and the printed address; the work is in `service::port`.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::port::{self, PortRequest};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq port dashboard_websocket 8080        The host address of the dashboard (0.0.0.0:8080)
  torq port --index 2 web 80                Of replica 2
  torq port --protocol udp dns 53

Exit codes: 0 printed; 1 usage, spec or engine error (also when the port is
not published).";

/// Arguments of `torq port`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PortArgs {
    /// The service.
    #[arg(value_name = "SERVICE")]
    pub service: String,

    /// The container port.
    #[arg(value_name = "PRIVATE_PORT")]
    pub private_port: u16,

    /// tcp, udp or sctp.
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "udp", "sctp"])]
    pub protocol: String,

    /// The replica (container number) when the service has several.
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq port`.
pub(crate) fn run(ctx: &Context, args: PortArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let request = PortRequest {
        service: args.service,
        private_port: args.private_port,
        protocol: args.protocol,
        index: args.index,
    };
    let addresses = super::runtime()?.block_on(async {
        let engine = crate::service::connect().await?;
        port::port(&engine, &project, &request).await
    })?;
    // IPv4 first, as the engine lists it for `docker port`.
    let first = addresses
        .iter()
        .find(|a| !a.ip.contains(':'))
        .or(addresses.first());
    if let Some(address) = first {
        let ip = if address.ip.is_empty() {
            "0.0.0.0"
        } else {
            &address.ip
        };
        ctx.shell.outln(&format!("{ip}:{}", address.port));
    }
    Ok(ExitStatus::Success)
}
