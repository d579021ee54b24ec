//! `torq run`: arguments of a one-off container (docker compose's flags) and
//! the rendering of its outcome; the work is in `service::run`.

use std::sync::Arc;

use clap::Args;

use super::shared::PullOption;
use super::{Context, ExitStatus, OutputArgsNoShortV};
use crate::service::run::{self, RunOutcome, RunRequest};
use crate::ui::progress::reporter_for;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq run --rm tests cargo test       CI step: exit with the tests' exit code, leave nothing
  torq run signal_relay sh             A shell in a fresh container of a service
  torq run --no-deps -e RUST_LOG=debug kraken_adapter
                                       Without starting dependencies, one more variable
  torq run -d --name probe web sleep 600
                                       In the background; `torq down` removes it
  torq run --service-ports dashboard_websocket
                                       With the service's published ports

The container is named PROJECT-SERVICE-run-ID and labeled as compose labels
one-off containers, so `docker compose run` and `torq run` containers are the
same kind. `torq status --all` lists them; `torq down` removes them.

Exit codes: the command's own exit code; 1 usage, spec or engine error;
2 a dependency failed to start or become healthy.";

/// Arguments of `torq run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// The service whose configuration the container takes.
    #[arg(value_name = "SERVICE")]
    pub service: String,

    /// The command and its arguments (default: the service's command).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,

    /// Run in the background and print the container's id.
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Remove the container when it exits (also when torq is interrupted).
    #[arg(long)]
    pub rm: bool,

    /// Set an environment variable (KEY=VALUE, or KEY to pass torq's own value).
    #[arg(short = 'e', long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,

    /// Add or override a label (KEY=VALUE).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,

    /// Override the image's entrypoint.
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,

    /// Run as this user (name or uid[:gid]).
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,

    /// Working directory inside the container.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<String>,

    /// Add a Linux capability (e.g. NET_ADMIN).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// Drop a Linux capability (e.g. CHOWN).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// Don't allocate a TTY (default: a TTY when stdin is a terminal).
    #[arg(short = 'T', long = "no-TTY", alias = "no-tty")]
    pub no_tty: bool,

    /// Keep stdin open (the default; accepted for compatibility).
    #[arg(short = 'i', long, hide = true)]
    pub interactive: bool,

    /// Don't start the service's dependencies.
    #[arg(long)]
    pub no_deps: bool,

    /// Publish the service's ports as its spec does.
    #[arg(short = 'P', long)]
    pub service_ports: bool,

    /// Publish a port ([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]).
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,

    /// Bind mount a host path or a project volume (SOURCE:TARGET[:ro]).
    #[arg(short = 'v', long = "volume", value_name = "VOLUME")]
    pub volumes: Vec<String>,

    /// The container's name (default PROJECT-SERVICE-run-ID).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Build the service's image before running.
    #[arg(long)]
    pub build: bool,

    /// Answer on the networks to the service's name and aliases too (by
    /// default the container answers to its own name only, and takes no
    /// traffic meant for the service).
    #[arg(long)]
    pub use_aliases: bool,

    /// Pull policy for the images (the service's and its dependencies'):
    /// always, missing, never, or each service's own `pull_policy` (policy).
    #[arg(long, value_enum, value_name = "POLICY", default_value = "policy")]
    pub pull: PullOption,

    #[command(flatten)]
    pub output: OutputArgsNoShortV,
}

/// Runs `torq run`.
pub(crate) fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitStatus> {
    let mut project = ctx.load_project()?;
    args.pull.apply(&mut project);
    let project = Arc::new(project);
    let request = request_from(args, ctx.self_image_dockerfile());
    let runtime = super::runtime()?;
    let status = runtime.block_on(async {
        let engine = crate::service::connect().await?;
        let outcome =
            run::run(&engine, project.clone(), &request, reporter_for(&ctx.shell)).await?;
        Ok::<_, anyhow::Error>(render(ctx, &project.name, outcome))
    });
    // A read of the terminal may still block on a thread: don't wait for it.
    runtime.shutdown_background();
    status
}

fn request_from(args: RunArgs, self_image_dockerfile: Option<&'static str>) -> RunRequest {
    let tty = !args.no_tty && !args.detach && crate::tty::stdin_is_tty();
    RunRequest {
        service: args.service,
        command: args.command,
        detach: args.detach,
        remove: args.rm,
        env: args.env,
        labels: args.labels,
        entrypoint: args.entrypoint,
        user: args.user,
        workdir: args.workdir,
        cap_add: args.cap_add,
        cap_drop: args.cap_drop,
        tty,
        interactive: !args.detach,
        no_deps: args.no_deps,
        service_ports: args.service_ports,
        publish: args.publish,
        volumes: args.volumes,
        name: args.name,
        build: args.build,
        use_aliases: args.use_aliases,
        self_image_dockerfile,
        working_dir: std::env::current_dir().unwrap_or_default(),
    }
}

fn render(ctx: &Context, project: &str, outcome: RunOutcome) -> ExitStatus {
    match outcome {
        RunOutcome::Detached { id, name } => {
            ctx.shell.verbose(&format!("{name} runs in the background"));
            ctx.shell.outln(&id);
            ExitStatus::Success
        }
        RunOutcome::Exited { code } => super::exit_code_status(code),
        RunOutcome::DependenciesFailed(failures) => {
            super::shared::print_summary(ctx, project, &failures, &[])
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn the_command_keeps_its_own_options_and_p_after_run_publishes() {
        let cli = Cli::try_parse_from([
            "torq", "-p", "proj", "run", "--rm", "-p", "8080:80", "-v", "./d:/d", "web", "ls",
            "-la", "-p",
        ])
        .unwrap();
        assert_eq!(cli.project.project_name.as_deref(), Some("proj"));
        let Command::Run(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert!(args.rm);
        assert_eq!(args.publish, ["8080:80"]);
        assert_eq!(args.volumes, ["./d:/d"]);
        assert_eq!(args.service, "web");
        assert_eq!(args.command, ["ls", "-la", "-p"]);
    }
}
