//! `torq build`: build (or rebuild) services' images through the engine's
//! build API. Each image is built once, at most two at a time; a failed build
//! does not stop the others, and every failure is reported with its step.

use std::collections::BTreeSet;

use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::compose::model::Project;
use crate::engine::build::{self, BuildError, BuildOptions, BuildPolicy};
use crate::engine::Engine;
use crate::progress::Reporter;
use crate::ui::progress::PlainReporter;

pub const AFTER_HELP: &str = "\
Examples:
  torq build                 Build every service that has a `build:` section
  torq build kraken_adapter  Build one service's image
  torq build --no-cache      Ignore the engine's build cache
  torq build -v              Show the build output

Exit codes: 0 built; 1 spec or engine error; 2 a build failed (the others were still built).";

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
    let project = ctx.load_project()?;
    let services = buildable_services(ctx, &project, &args.services);
    if services.is_empty() {
        ctx.shell
            .info("nothing to build: no selected service has a `build:` section");
        return Ok(ExitStatus::Success);
    }
    let options = BuildOptions {
        policy: BuildPolicy::Always,
        no_cache: args.no_cache,
        ..BuildOptions::default()
    };
    super::runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        let reporter = PlainReporter::new(ctx.shell.clone());
        let result =
            build::ensure_images_with(&engine, &project, &services, &options, &reporter).await;
        reporter.finish();
        report(ctx, result)
    })
}

/// The selected services that have something to build (a `build:` section or
/// the self image). Unknown names are kept, so the engine layer reports them.
fn buildable_services(ctx: &Context, project: &Project, names: &[String]) -> Vec<String> {
    let candidates: Vec<String> = if names.is_empty() {
        project.services.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    candidates
        .into_iter()
        .filter(|name| match project.services.get(name) {
            None => true,
            Some(service) if service.build.is_some() || build::is_self_image(service) => true,
            Some(service) => {
                if !names.is_empty() {
                    ctx.shell.info(&format!(
                        "{name}: nothing to build (it runs image {})",
                        service.image.as_deref().unwrap_or("?")
                    ));
                }
                false
            }
        })
        .collect()
}

fn report(
    ctx: &Context,
    result: Result<build::ImageSet, BuildError>,
) -> anyhow::Result<ExitStatus> {
    match result {
        Ok(images) => {
            let count = images
                .iter()
                .map(|(_, image)| image.reference.as_str())
                .collect::<BTreeSet<_>>()
                .len();
            ctx.shell.info(&format!(
                "{count} image{} ready",
                if count == 1 { "" } else { "s" }
            ));
            Ok(ExitStatus::Success)
        }
        Err(BuildError::Images { failures, .. }) => {
            for failure in &failures {
                ctx.shell.error(&failure.to_string());
            }
            if failures.iter().all(|f| f.is_engine_error()) {
                Ok(ExitStatus::Failure)
            } else {
                Ok(ExitStatus::ServiceFailed)
            }
        }
        Err(other) => Err(other.into()),
    }
}
