//! `torq exec`: arguments of a command run in a service's running container
//! (docker compose's flags) and the rendering of its outcome; the work is in
//! `service::exec`.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::service::exec::{self, ExecOutcome, ExecRequest};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq exec signal_relay sh                    A shell in the running container
  torq exec -T market_data_relay ls /run/torq  No TTY (scripts, CI)
  torq exec --index 2 kraken_adapter env       In replica 2
  torq exec -u root -w /tmp -e DEBUG=1 web id  As root, in /tmp, with one more variable
  torq exec -d web touch /tmp/ready            In the background

Exit codes: the command's own exit code; 1 usage, spec or engine error (also
when the service has no running container).";

/// Arguments of `torq exec`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ExecArgs {
    /// The service whose container runs the command.
    #[arg(value_name = "SERVICE")]
    pub service: String,

    /// The command and its arguments.
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,

    /// Run the command in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Don't allocate a TTY (default: a TTY when stdin is a terminal).
    #[arg(short = 'T', long = "no-tty", alias = "no-TTY")]
    pub no_tty: bool,

    /// Keep stdin open (the default; accepted for compatibility).
    #[arg(short = 'i', long, hide = true)]
    pub interactive: bool,

    /// Run the command as this user.
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,

    /// Working directory for the command.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<String>,

    /// Set an environment variable (KEY=VALUE, or KEY to pass torq's own value).
    #[arg(short = 'e', long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,

    /// Give the process extended privileges.
    #[arg(long)]
    pub privileged: bool,

    /// The replica (container number) when the service has several.
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq exec`.
pub(crate) fn run(ctx: &Context, args: ExecArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    let tty = !args.no_tty && !args.detach && crate::tty::stdin_is_tty();
    let request = ExecRequest {
        service: args.service,
        index: args.index,
        command: args.command,
        detach: args.detach,
        tty,
        interactive: !args.detach,
        user: args.user,
        workdir: args.workdir,
        env: args.env,
        privileged: args.privileged,
    };
    let runtime = super::runtime()?;
    let outcome = runtime.block_on(async {
        let engine = crate::service::connect().await?;
        exec::exec(&engine, &project, &request).await
    });
    // A read of the terminal may still block on a thread: don't wait for it.
    runtime.shutdown_background();
    Ok(match outcome? {
        ExecOutcome::Detached { container } => {
            ctx.shell
                .verbose(&format!("started in the background in {container}"));
            ExitStatus::Success
        }
        ExecOutcome::Exited { code } => super::exit_code_status(code),
    })
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn options_after_the_service_belong_to_the_command() {
        let cli = Cli::try_parse_from([
            "torq", "exec", "-T", "--index", "2", "web", "sh", "-c", "x", "-v",
        ])
        .unwrap();
        let Command::Exec(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert!(args.no_tty);
        assert_eq!(args.index, Some(2));
        assert_eq!(args.command, ["sh", "-c", "x", "-v"]);
        assert!(
            Cli::try_parse_from(["torq", "exec", "web"]).is_err(),
            "a command is required"
        );
    }
}
