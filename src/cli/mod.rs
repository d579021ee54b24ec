//! The command line: clap types for torq's global options and commands, and the
//! dispatch from a parsed command to the function that runs it.
//!
//! Each command has a file of its own holding its argument struct and a `run`
//! function that maps those arguments to a call of the service layer
//! (`crate::service`), renders its outcome and returns an [`ExitStatus`].
//! No Docker and no command logic here; command files import none of each
//! other, only [`shared`] (what several commands print the same way).
//!
//! Global options (`-f`, `-p`, `--project-directory`, `--env-file`,
//! `--profile`) come before the command, as with `docker compose`; after the
//! command, short options belong to it (`torq logs -f` follows, `torq down -v`
//! removes volumes). The output options `-v/--verbose`, `-q/--quiet` and
//! `--color` are accepted both before and after the command.

mod build;
mod config;
mod containers;
mod deploy;
mod down;
mod events;
mod exec;
mod images;
mod kill;
mod logs;
mod ls;
mod node;
mod pause;
mod port;
mod pull;
mod restart;
mod run;
mod shared;
mod stack;
mod status;
mod top;
mod up;
mod wait;
mod watch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::ui::{ColorChoice, Shell, Verbosity};

/// What a command's outcome means for the process exit code (see the README's
/// "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// Everything asked for happened.
    Success,
    /// A usage, spec or engine error: nothing (more) could be done.
    Failure,
    /// One or more service operations failed; the others proceeded.
    ServiceFailed,
    /// A specific code: a service's own exit code (`up --exit-code-from`) or
    /// a stack service's (`torq node`).
    Code(u8),
}

impl ExitStatus {
    /// The numeric process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::ServiceFailed => 2,
            ExitStatus::Code(code) => code,
        }
    }
}

/// The status for a container's (or exec's) exit code: 0 is success, any
/// other code is passed through as the shell would see it (modulo 256; a
/// code that wraps to 0 stays a failure).
pub(crate) fn exit_code_status(code: i64) -> ExitStatus {
    match (code, code.rem_euclid(256) as u8) {
        (0, _) => ExitStatus::Success,
        (_, 0) => ExitStatus::Failure,
        (_, wrapped) => ExitStatus::Code(wrapped),
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

const AFTER_HELP: &str = "\
Examples:
  torq up                      Build, create and start the Torq stack; wait until healthy
  torq -p ci-123 -f compose/torq.yaml -f compose/ci.yaml up
                               An isolated project with the CI overlay
  torq status                  One row per service; exit 2 if any is not running/healthy
  torq logs -f kraken_adapter  Follow one service's log
  torq down                    Stop in reverse dependency order and remove containers
  torq config --format json    Print the normalized spec

Exit codes: 0 success; 1 usage, spec or engine error; 2 a service operation failed.";

/// torq — run the Torq trading stack (or any compose project) as Docker containers.
#[derive(Debug, Parser)]
#[command(
    name = "torq",
    version,
    about,
    long_about = "torq runs the Torq trading stack — three message relays, three exchange adapters, a \
flash-arbitrage strategy and a WebSocket dashboard — each in its own Docker container, from a \
compose-style spec. It starts services in dependency order and waits for their health, stops \
them gracefully in reverse order, shows their status and multiplexes their logs. It reads \
ordinary compose files too.",
    after_help = AFTER_HELP,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub project: ProjectArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options that select the project: which spec files, which name, which
/// environment. They come before the command.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ProjectArgs {
    /// Spec file (repeatable; later files merge over earlier ones). Default: the
    /// first torq.yaml, torq.yml, compose.yaml, compose.yml, docker-compose.yaml
    /// or docker-compose.yml in the working directory or a parent, else the
    /// embedded Torq stack spec.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        env = "TORQ_FILE",
        value_delimiter = ':'
    )]
    pub files: Vec<PathBuf>,

    /// Project name (default: the spec's `name:`, else the project directory's name).
    #[arg(
        short = 'p',
        long = "project-name",
        value_name = "NAME",
        env = "TORQ_PROJECT_NAME"
    )]
    pub project_name: Option<String>,

    /// Project directory: relative paths in the spec and `.env` resolve from
    /// here (default: the directory of the first spec file).
    #[arg(long, value_name = "DIR", env = "TORQ_PROJECT_DIRECTORY")]
    pub project_directory: Option<PathBuf>,

    /// Environment file for interpolation (repeatable; default: `.env` in the
    /// project directory).
    #[arg(
        long = "env-file",
        value_name = "FILE",
        env = "TORQ_ENV_FILE",
        value_delimiter = ','
    )]
    pub env_files: Vec<PathBuf>,

    /// Enable services of this profile (repeatable, or comma separated).
    #[arg(
        long = "profile",
        value_name = "PROFILE",
        env = "TORQ_PROFILE",
        value_delimiter = ','
    )]
    pub profiles: Vec<String>,
}

/// Output options, accepted before and after the command.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct OutputArgs {
    /// More output: -v shows details and torq's own tracing events on stderr
    /// (filter them with TORQ_LOG), -vv more.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = false)]
    pub verbose: u8,

    /// Less output: only errors and final summaries (commands refine this, e.g.
    /// `status -q` prints container ids only).
    #[arg(short = 'q', long = "quiet", env = "TORQ_QUIET", value_parser = clap::builder::FalseyValueParser::new())]
    pub quiet: bool,

    /// When to use color (NO_COLOR and CLICOLOR_FORCE are honored with `auto`).
    #[arg(long, value_enum, value_name = "WHEN", env = "TORQ_COLOR")]
    pub color: Option<ColorWhen>,
}

/// The same output options for commands where `-v` means something else
/// (`down -v` removes volumes, as in docker compose): `--verbose` has no short form.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct OutputArgsNoShortV {
    /// More output (see the global -v/--verbose).
    #[arg(long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less output: only errors and the final summary.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// When to use color.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub color: Option<ColorWhen>,
}

impl From<OutputArgsNoShortV> for OutputArgs {
    fn from(o: OutputArgsNoShortV) -> Self {
        OutputArgs {
            verbose: o.verbose,
            quiet: o.quiet,
            color: o.color,
        }
    }
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorWhen {
    /// Color when writing to a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it).
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

impl OutputArgs {
    /// Combines the options given before the command with those given after it.
    pub(crate) fn merged(&self, after: &OutputArgs) -> OutputArgs {
        OutputArgs {
            verbose: self.verbose.saturating_add(after.verbose),
            quiet: self.quiet || after.quiet,
            color: after.color.or(self.color),
        }
    }

    fn verbosity(&self) -> Verbosity {
        if self.quiet {
            Verbosity::Quiet
        } else if self.verbose > 0 {
            Verbosity::Verbose(self.verbose)
        } else {
            Verbosity::Normal
        }
    }

    fn color_choice(&self) -> ColorChoice {
        match self.color {
            Some(ColorWhen::Always) => ColorChoice::Always,
            Some(ColorWhen::Never) => ColorChoice::Never,
            Some(ColorWhen::Auto) | None => ColorChoice::Auto,
        }
    }
}

/// torq's commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build missing images, create networks and volumes, start services level by
    /// level and wait until they are running/healthy (detached by default).
    #[command(visible_alias = "start", after_help = up::AFTER_HELP)]
    Up(up::UpArgs),

    /// Stop services in reverse dependency order (stop signal, grace period,
    /// then SIGKILL) and remove the project's containers and networks.
    #[command(visible_alias = "stop", after_help = down::AFTER_HELP)]
    Down(down::DownArgs),

    /// down, a grace pause, up — for the whole project or some services.
    #[command(after_help = restart::AFTER_HELP)]
    Restart(restart::RestartArgs),

    /// One row per service: state, health, container, PID, uptime, restarts,
    /// ports; exit 2 when a service is not running or is unhealthy.
    #[command(visible_alias = "ps", after_help = status::AFTER_HELP)]
    Status(status::StatusArgs),

    /// Show services' logs, merged by time, with colored prefixes and levels.
    #[command(after_help = logs::AFTER_HELP)]
    Logs(logs::LogsArgs),

    /// Validate the spec and print it in normalized form.
    #[command(after_help = config::AFTER_HELP)]
    Config(config::ConfigArgs),

    /// Build (or rebuild) services' images.
    #[command(after_help = build::AFTER_HELP)]
    Build(build::BuildArgs),

    /// Run a one-off command in a new container of a service.
    #[command(after_help = run::AFTER_HELP)]
    Run(run::RunArgs),

    /// Run a command in a service's running container.
    #[command(after_help = exec::AFTER_HELP)]
    Exec(exec::ExecArgs),

    /// List the compose projects on the engine (torq's and docker compose's).
    #[command(after_help = ls::AFTER_HELP)]
    Ls(ls::LsArgs),

    /// Send a signal (default SIGKILL) to services' containers.
    #[command(after_help = kill::AFTER_HELP)]
    Kill(kill::KillArgs),

    /// Pause services' containers.
    #[command(after_help = pause::AFTER_HELP)]
    Pause(pause::PauseArgs),

    /// Unpause services' containers.
    #[command(after_help = pause::AFTER_HELP)]
    Unpause(pause::PauseArgs),

    /// Show the processes running in services' containers.
    #[command(after_help = top::AFTER_HELP)]
    Top(top::TopArgs),

    /// Print the host address of a service's published port.
    #[command(after_help = port::AFTER_HELP)]
    Port(port::PortArgs),

    /// List the images the project's containers use.
    #[command(after_help = images::AFTER_HELP)]
    Images(images::ImagesArgs),

    /// Pull services' images.
    #[command(after_help = pull::AFTER_HELP)]
    Pull(pull::PullArgs),

    /// Block until services' containers stop; exit with the first one's code.
    #[command(after_help = wait::AFTER_HELP)]
    Wait(wait::WaitArgs),

    /// Stream the project's container events.
    #[command(after_help = events::AFTER_HELP)]
    Events(events::EventsArgs),

    /// Follow the services' develop.watch rules: sync, restart or rebuild on edits.
    #[command(after_help = watch::AFTER_HELP)]
    Watch(watch::WatchArgs),

    /// Deploy the project to Docker Swarm as a stack: level by level in
    /// dependency order, each level running and healthy before the next.
    #[command(after_help = deploy::AFTER_HELP)]
    Deploy(deploy::DeployArgs),

    /// Remove the project's Swarm stack in reverse dependency order, with its
    /// networks, secrets and configs.
    #[command(after_help = deploy::UNDEPLOY_AFTER_HELP)]
    Undeploy(deploy::UndeployArgs),

    /// Run one of the Torq stack's services (used inside the stack's images).
    #[command(hide = true)]
    Node(node::NodeArgs),
}

impl Command {
    /// The output options given after the command, if it has any.
    fn output(&self) -> OutputArgs {
        match self {
            Command::Up(a) => a.output.clone(),
            Command::Down(a) => a.output.clone().into(),
            Command::Restart(a) => a.output.clone(),
            Command::Status(a) => a.output.clone(),
            Command::Logs(a) => a.output.clone(),
            Command::Config(a) => a.output.clone(),
            Command::Build(a) => a.output.clone(),
            Command::Run(a) => a.output.clone().into(),
            Command::Exec(a) => a.output.clone(),
            Command::Ls(a) => a.output.clone(),
            Command::Kill(a) => a.output.clone(),
            Command::Pause(a) | Command::Unpause(a) => a.output.clone(),
            Command::Top(a) => a.output.clone(),
            Command::Port(a) => a.output.clone(),
            Command::Images(a) => a.output.clone(),
            Command::Pull(a) => a.output.clone(),
            Command::Wait(a) => a.output.clone(),
            Command::Events(a) => a.output.clone(),
            Command::Watch(a) => a.output.clone(),
            Command::Deploy(a) => a.output_args(),
            Command::Undeploy(a) => a.output.clone(),
            Command::Node(_) => OutputArgs::default(),
        }
    }
}

/// What every command gets: the shell to report through and the project
/// selection options.
pub(crate) struct Context {
    pub shell: Shell,
    pub project: ProjectArgs,
}

impl Context {
    /// The spec layer's inputs, from the global options and the process.
    pub(crate) fn load_options(&self) -> crate::compose::LoadOptions {
        crate::compose::LoadOptions {
            files: self.project.files.clone(),
            project_name: self.project.project_name.clone(),
            project_directory: self.project.project_directory.clone(),
            env_files: self.project.env_files.clone(),
            profiles: self.project.profiles.clone(),
            builtin: Some(stack::SPEC),
            working_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            environment: std::env::vars().collect(),
        }
    }

    /// The Dockerfile of the self image the stack's services run.
    pub(crate) fn self_image_dockerfile(&self) -> Option<&'static str> {
        Some(stack::SELF_IMAGE_DOCKERFILE)
    }

    /// Loads the project the global options select.
    pub(crate) fn load_project(&self) -> anyhow::Result<crate::compose::Project> {
        Ok(crate::compose::load(&self.load_options())?)
    }

    /// The project a command looks at: its name, and its spec when one loads.
    /// With `-p NAME` a project whose spec is not at hand is still found by its
    /// containers' labels (as with `docker compose -p NAME logs`).
    pub(crate) fn target_project(
        &self,
    ) -> anyhow::Result<(String, Option<crate::compose::Project>)> {
        match self.load_project() {
            Ok(project) => Ok((project.name.clone(), Some(project))),
            Err(err) => match &self.project.project_name {
                Some(name) if self.project.files.is_empty() => {
                    self.shell.verbose(&format!(
                        "no spec ({err:#}); looking at project {name} by its labels only"
                    ));
                    Ok((name.clone(), None))
                }
                _ => Err(err),
            },
        }
    }

    /// The project to take down: the spec's, else `-p` alone (down needs no
    /// spec: the containers' labels say everything).
    pub(crate) fn project_name(&self) -> anyhow::Result<String> {
        match self.load_project() {
            Ok(project) => Ok(project.name),
            Err(err) => match &self.project.project_name {
                Some(name) => {
                    self.shell.verbose(&format!(
                        "no usable spec ({err}); taking down project {name} by its labels"
                    ));
                    Ok(name.clone())
                }
                None => Err(err),
            },
        }
    }
}

/// Entry point of the executable: parse, run, map errors to exit codes.
pub fn main() -> ExitCode {
    run(std::env::args_os().collect()).into()
}

/// Parses `args` (including the program name) and runs the command.
pub(crate) fn run(args: Vec<OsString>) -> ExitStatus {
    // The stack's services parse their own arguments; hand them over untouched.
    if args.get(1).map(|a| a == "node").unwrap_or(false) {
        return node::run_raw(args.into_iter().skip(2).collect());
    }

    let cli = match parse(args) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(err),
    };
    let output = cli.output.merged(&cli.command.output());
    let shell = Shell::new(output.verbosity(), output.color_choice());
    crate::ui::init_tracing(&shell);
    let ctx = Context {
        shell,
        project: cli.project,
    };
    let result = match cli.command {
        Command::Up(args) => up_then_watch(&ctx, args),
        Command::Down(args) => down::run(&ctx, args),
        Command::Restart(args) => restart::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Logs(args) => logs::run(&ctx, args),
        Command::Config(args) => config::run(&ctx, args),
        Command::Build(args) => build::run(&ctx, args),
        Command::Run(args) => run::run(&ctx, args),
        Command::Exec(args) => exec::run(&ctx, args),
        Command::Ls(args) => ls::run(&ctx, args),
        Command::Kill(args) => kill::run(&ctx, args),
        Command::Pause(args) => pause::run_pause(&ctx, args),
        Command::Unpause(args) => pause::run_unpause(&ctx, args),
        Command::Top(args) => top::run(&ctx, args),
        Command::Port(args) => port::run(&ctx, args),
        Command::Images(args) => images::run(&ctx, args),
        Command::Pull(args) => pull::run(&ctx, args),
        Command::Wait(args) => wait::run(&ctx, args),
        Command::Events(args) => events::run(&ctx, args),
        Command::Watch(args) => watch::run(&ctx, args),
        Command::Deploy(args) => deploy::run(&ctx, args),
        Command::Undeploy(args) => deploy::run_undeploy(&ctx, args),
        Command::Node(args) => Ok(node::run(args)),
    };
    match result {
        Ok(status) => status,
        Err(err) => {
            ctx.shell.error_chain(&crate::service::as_engine_gone(err));
            ExitStatus::Failure
        }
    }
}

/// `up`, then with `--watch` (and a successful `up`) `watch` on its services.
fn up_then_watch(ctx: &Context, args: up::UpArgs) -> anyhow::Result<ExitStatus> {
    let (follow, services) = (args.watch, args.services.clone());
    let status = up::run(ctx, args)?;
    if follow && status == ExitStatus::Success {
        return watch::follow_after_up(ctx, &services);
    }
    Ok(status)
}

fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
}

/// Prints a clap error or help text. Help and version exit 0; any usage error
/// exits 1 (clap's own default is 2, which torq reserves for service failures).
fn report_clap_error(err: clap::Error) -> ExitStatus {
    use clap::error::ErrorKind;
    let _ = err.print();
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitStatus::Success,
        _ => ExitStatus::Failure,
    }
}

/// Builds a tokio runtime for a command: one thread. Commands are I/O bound
/// (every engine call overlaps on one thread just as well), and on a small
/// machine the engine itself needs the cores: worker threads handing tasks to
/// each other cost futex wake-ups and CPU that the engine then lacks — `logs`
/// over 200,000 lines took 0.9 s multi-threaded and 0.65 s on one thread
/// (README, Benchmarks).
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_exit_codes_pass_through_as_a_shell_sees_them() {
        assert_eq!(exit_code_status(0), ExitStatus::Success);
        assert_eq!(exit_code_status(7).code(), 7);
        assert_eq!(exit_code_status(-1).code(), 255);
        assert_eq!(
            exit_code_status(256),
            ExitStatus::Failure,
            "wrapping to 0 stays a failure"
        );
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn aliases_parse_as_their_commands() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(args)
                .unwrap_or_else(|e| panic!("{args:?} does not parse: {e}"))
                .command
        };
        let start = parse(&["torq", "start", "web"]);
        assert!(
            matches!(&start, Command::Up(a) if a.services == ["web"]),
            "`start web` parsed as {start:?}"
        );
        let stop = parse(&["torq", "stop", "-v"]);
        assert!(
            matches!(&stop, Command::Down(a) if a.volumes),
            "`stop -v` parsed as {stop:?}"
        );
        let ps = parse(&["torq", "ps"]);
        assert!(matches!(&ps, Command::Status(_)), "`ps` parsed as {ps:?}");
    }

    #[test]
    fn down_v_means_volumes_and_logs_f_means_follow() {
        let cli = Cli::try_parse_from(["torq", "down", "-v"]).unwrap();
        match cli.command {
            Command::Down(a) => assert!(a.volumes),
            other => panic!("parsed as {other:?}"),
        }
        let cli = Cli::try_parse_from(["torq", "-f", "x.yaml", "logs", "-f"]).unwrap();
        assert_eq!(cli.project.files, vec![PathBuf::from("x.yaml")]);
        match cli.command {
            Command::Logs(a) => assert!(a.follow),
            other => panic!("parsed as {other:?}"),
        }
    }
}
