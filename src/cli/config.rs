//! `torq config`: validate the spec and print its normalized form.

use clap::{Args, ValueEnum};

use super::{Context, ExitStatus, OutputArgs};
use crate::compose::canonical;
use crate::compose::graph::DependencyGraph;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq config                       The normalized spec as YAML
  torq config --format json         As JSON (comparable with `docker compose config --format json`)
  torq config --services            Service names, one per line
  torq -f a.yaml -f b.yaml config   The merge of two files
  torq config -q                    Only validate (exit 1 with file:line:column on error)

Exit codes: 0 valid; 1 the spec is invalid.";

/// Output formats of `torq config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ConfigFormat {
    Yaml,
    Json,
}

/// Arguments of `torq config`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ConfigFormat::Yaml)]
    pub format: ConfigFormat,

    /// Print the service names, one per line.
    #[arg(long)]
    pub services: bool,

    /// Print the named volumes, one per line.
    #[arg(long)]
    pub volumes: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq config`.
pub(crate) fn run(ctx: &Context, args: ConfigArgs) -> anyhow::Result<ExitStatus> {
    let project = ctx.load_project()?;
    for warning in &project.warnings {
        ctx.shell.warn(warning);
    }
    if ctx.shell.is_quiet() {
        return Ok(ExitStatus::Success);
    }
    if args.services || args.volumes {
        if args.services {
            let graph = DependencyGraph::new(&project);
            for name in graph.dependency_order(project.services.keys()) {
                ctx.shell.outln(&name);
            }
        }
        if args.volumes {
            for name in project.volumes.keys() {
                ctx.shell.outln(name);
            }
        }
        return Ok(ExitStatus::Success);
    }
    let text = match args.format {
        ConfigFormat::Json => {
            let mut json = canonical::to_json_string(&project);
            json.push('\n');
            json
        }
        ConfigFormat::Yaml => canonical::to_yaml_string(&project),
    };
    ctx.shell.out(&text);
    Ok(ExitStatus::Success)
}
