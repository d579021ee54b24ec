//! `torq build`: build (or rebuild) services' images through the engine's build API.

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};

pub const AFTER_HELP: &str = "\
Examples:
  torq build                 Build every service that has a `build:` section
  torq build kraken_adapter  Build one service's image
  torq build --no-cache      Ignore the engine's build cache

Exit codes: 0 built; 1 spec or engine error; 2 a build failed.";

/// Arguments of `torq build`.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Services whose images to build (default: all with a build section).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Don't use the engine's build cache.
    #[arg(long)]
    pub no_cache: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `torq build`.
pub fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<ExitStatus> {
    let _ = args;
    super::not_built_yet(ctx, "build")
}
