//! Images: make sure every service has its image on the engine, building the
//! ones that need it through the engine's build API (the classic builder;
//! no BuildKit session is needed).
//!
//! [`ensure_images`] is the entry point for `up` and `build`: it plans
//! ([`plan_images`]) which image each service runs and whether it must be
//! built, then builds — at most two at a time, each image once even when
//! several services share it — and returns an [`ImageSet`]: per service, the
//! reference to run and the engine's image id (so a changed image can be
//! detected and its containers recreated).
//!
//! Where an image comes from ([`ImageSource`]):
//! - a `build:` section: a tar context of the directory honoring
//!   `.dockerignore` ([`context`], [`dockerignore`]), with `dockerfile` (also
//!   one outside the context), `args`, `target`, `labels`, `network`,
//!   `cache_from`; tagged with `image:` or compose's default `PROJECT-SERVICE`;
//! - the self image (`x-torq-self-image: true`, [`self_image`]): torq's own
//!   executable in a `FROM scratch` image, tagged by the executable's hash;
//!   once a new one is built, the older unused ones are removed;
//! - otherwise an image the engine has, or pulls from its registry when it
//!   is missing (as compose does, unless `pull_policy: never`); where no
//!   registry answers, the engine's reason and how to provide the image.
//!
//! Build output lines go to the [`Reporter`] as [`Event::BuildOutput`]; a failed
//! build is reported with its failing step, the engine's message and the
//! step's last output lines.

pub mod context;
pub mod dockerignore;
pub mod self_image;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::{StreamExt, TryStreamExt};
use indexmap::IndexMap;
use thiserror::Error;

use super::Engine;
use crate::compose::model::{Build, Project, Service};
use crate::compose::select::{check_services, NoSuchService};
use crate::progress::{Event, Phase, Reporter};
pub use self_image::{is_self_image, Executable, SelfImageError};

/// Builds that run at once by default.
pub const DEFAULT_PARALLEL_BUILDS: usize = 2;

/// Pulls that run at once.
const PARALLEL_PULLS: usize = 4;

/// How long one pull may take.
const PULL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Output lines of the failing step kept for the error report.
const FAILURE_OUTPUT_LINES: usize = 20;

/// When to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildPolicy {
    /// Build only images that are absent (`up`).
    #[default]
    Missing,
    /// Build every buildable image (`up --build`, `torq build`).
    Always,
    /// Never build (`up --no-build`): a missing image is a failure.
    Never,
}

/// Everything that shapes a run of [`ensure_images_with`].
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub policy: BuildPolicy,
    /// Ignore the engine's build cache (`torq build --no-cache`).
    pub no_cache: bool,
    /// The executable for self images (default: the running one,
    /// `/proc/self/exe`). Tests that call the library set torq's binary here.
    pub self_executable: Option<PathBuf>,
    /// The Dockerfile self images are built from (the application's; none:
    /// a service that asks for the self image is an error).
    pub self_image_dockerfile: Option<&'static str>,
    /// Builds at once (0 means [`DEFAULT_PARALLEL_BUILDS`]).
    pub parallel: usize,
    /// How much older than a newly built self image an unused one must be to
    /// be removed (default: [`self_image::prune::GRACE`]).
    pub self_image_prune_grace: Option<std::time::Duration>,
}

impl From<BuildPolicy> for BuildOptions {
    fn from(policy: BuildPolicy) -> Self {
        BuildOptions {
            policy,
            ..BuildOptions::default()
        }
    }
}

/// The image a service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceImage {
    /// The reference to create containers from (`repo:tag`).
    pub reference: String,
    /// The engine's image id (`sha256:…`).
    pub id: String,
}

/// Per service, the image to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSet {
    services: IndexMap<String, ServiceImage>,
}

impl ImageSet {
    pub fn get(&self, service: &str) -> Option<&ServiceImage> {
        self.services.get(service)
    }

    /// The reference to run for `service`.
    pub fn reference(&self, service: &str) -> Option<&str> {
        self.get(service).map(|i| i.reference.as_str())
    }

    /// The image id of `service`'s image.
    pub fn id(&self, service: &str) -> Option<&str> {
        self.get(service).map(|i| i.id.as_str())
    }

    pub fn insert(&mut self, service: impl Into<String>, image: ServiceImage) {
        self.services.insert(service.into(), image);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &ServiceImage)> {
        self.services.iter()
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// A service's `build:` section.
    Build(Box<Build>),
    /// torq's own executable in a `FROM scratch` image.
    SelfImage(Executable),
    /// Nothing to build from: the image must already be on the engine.
    Existing,
}

/// What [`ensure_images`] does about one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAction {
    /// Build it.
    Build,
    /// Use the image the engine has.
    Use,
    /// It is absent: have the engine pull it.
    Pull,
    /// It is absent and may not (or cannot) be built or pulled.
    Missing,
}

/// One image, the services that run it, and what will happen to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePlan {
    pub reference: String,
    /// Services running this image, in spec order.
    pub services: Vec<String>,
    pub source: ImageSource,
    /// The engine's id for `reference`, when it exists.
    pub existing: Option<String>,
    pub action: ImageAction,
    /// A service running it says `pull_policy: never`.
    pub pull_never: bool,
}

impl ImagePlan {
    /// "build torq/node:0123456789ab for a, b": a line of `up --dry-run`.
    pub fn describe(&self) -> String {
        let verb = match self.action {
            ImageAction::Build => "build",
            ImageAction::Use => "use",
            ImageAction::Pull => "pull",
            ImageAction::Missing => "missing",
        };
        format!("{verb} {} for {}", self.reference, self.services.join(", "))
    }

    fn missing_hint(&self, policy: BuildPolicy) -> String {
        let services = self.services.join(" ");
        match (&self.source, policy) {
            (ImageSource::Existing, _) if self.pull_never => format!(
                "it is not on the engine and `pull_policy: never` forbids pulling it: \
                 load or build it first (`docker load`, `docker build -t {} …`)",
                self.reference
            ),
            (ImageSource::Existing, _) => format!(
                "load or build it first (`docker load`, `docker build -t {} …`), or give the \
                 service a `build:` section",
                self.reference
            ),
            _ => format!(
                "it is not on the engine and building is disabled (--no-build): \
                 build it first with `torq build {services}`"
            ),
        }
    }
}

/// Why one image could not be provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// Absent, and not to be built; the hint says how to provide it.
    Missing { hint: String },
    /// The engine could not pull it (the engine's message), and how to
    /// provide it otherwise.
    Pull { message: String, hint: String },
    /// The build context could not be assembled or sent.
    Context(String),
    /// The build failed: the failing step (`Step 2/5 : RUN …`), the engine's
    /// message and the step's last output lines.
    Step {
        step: Option<String>,
        message: String,
        output: Vec<String>,
    },
    /// The engine failed otherwise (connection lost, …).
    Engine(String),
}

/// An image that could not be provided, and the services that needed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFailure {
    pub reference: String,
    pub services: Vec<String>,
    pub reason: FailureReason,
}

impl ImageFailure {
    /// One line for progress output.
    pub fn short(&self) -> String {
        match &self.reason {
            FailureReason::Missing { .. } => format!("image {} is missing", self.reference),
            FailureReason::Pull { message, .. } => {
                format!("cannot pull {}: {}", self.reference, first_line(message))
            }
            FailureReason::Context(msg) | FailureReason::Engine(msg) => first_line(msg),
            FailureReason::Step {
                step: Some(step), ..
            } => format!("at {step}"),
            FailureReason::Step { message, .. } => first_line(message),
        }
    }

    /// Whether the engine itself failed (rather than the build or the spec).
    pub fn is_engine_error(&self) -> bool {
        matches!(self.reason, FailureReason::Engine(_))
    }
}

impl fmt::Display for ImageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = plural("service", &self.services);
        match &self.reason {
            FailureReason::Missing { hint } => {
                write!(f, "image {} of {who} is missing: {hint}", self.reference)
            }
            FailureReason::Pull { message, hint } => write!(
                f,
                "image {} of {who} is missing: the engine could not pull it ({}); {hint}",
                self.reference,
                message.trim_end()
            ),
            FailureReason::Context(msg) => write!(
                f,
                "image {} of {who}: cannot send the build context: {msg}",
                self.reference
            ),
            FailureReason::Engine(msg) => {
                write!(f, "image {} of {who}: engine error: {msg}", self.reference)
            }
            FailureReason::Step {
                step,
                message,
                output,
            } => {
                write!(f, "image {} of {who} failed to build", self.reference)?;
                match step {
                    Some(step) => write!(f, " at {step}")?,
                    None => write!(f, " before its first step")?,
                }
                write!(f, "\n  {}", message.trim_end())?;
                if !output.is_empty() {
                    write!(f, "\n  last output of the step:")?;
                    for line in output {
                        write!(f, "\n    {line}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Why [`ensure_images`] could not provide every image.
#[derive(Debug, Error)]
pub enum BuildError {
    /// A selected service is not in the project.
    #[error(transparent)]
    UnknownService(#[from] NoSuchService),

    /// A service says neither what to run nor how to build it.
    #[error("service {service:?} has neither `image:` nor `build:`, so there is nothing to run")]
    NoImage { service: String },

    /// The self image cannot be made from torq's executable.
    #[error(transparent)]
    SelfImage(#[from] SelfImageError),

    /// The engine failed while looking images up.
    #[error("engine error while {doing}: {source}")]
    Engine {
        doing: String,
        #[source]
        source: bollard::errors::Error,
    },

    /// Some images could not be provided; `built` holds the services whose
    /// images are ready.
    #[error("{}", summarize(failures))]
    Images {
        failures: Vec<ImageFailure>,
        built: ImageSet,
    },
}

impl BuildError {
    /// Whether this is about individual images that failed to build or are
    /// missing (the other images were still provided) rather than a spec or
    /// engine error that stopped everything.
    pub fn is_image_failure(&self) -> bool {
        match self {
            BuildError::Images { failures, .. } => !failures.iter().all(|f| f.is_engine_error()),
            _ => false,
        }
    }
}

fn summarize(failures: &[ImageFailure]) -> String {
    let mut text = match failures.len() {
        1 => "an image could not be provided".to_string(),
        n => format!("{n} images could not be provided"),
    };
    for failure in failures {
        text.push_str("\n- ");
        text.push_str(&failure.to_string().replace('\n', "\n  "));
    }
    text
}

fn plural(noun: &str, names: &[String]) -> String {
    match names {
        [one] => format!("{noun} {one}"),
        many => format!("{noun}s {}", many.join(", ")),
    }
}

fn first_line(text: &str) -> String {
    text.trim().lines().next().unwrap_or_default().to_string()
}

/// The image reference a service with a `build:` section is tagged with:
/// its `image:`, else compose's default `PROJECT-SERVICE`.
pub fn default_reference(project: &Project, service: &Service) -> String {
    crate::naming::image_reference(project, service)
}

/// Makes sure each of `services` (all of the project's when empty) has its
/// image, building according to `policy`.
pub async fn ensure_images(
    engine: &Engine,
    project: &Project,
    services: &[String],
    policy: BuildPolicy,
    reporter: &dyn Reporter,
) -> Result<ImageSet, BuildError> {
    ensure_images_with(engine, project, services, &policy.into(), reporter).await
}

/// [`ensure_images`] with every option.
pub async fn ensure_images_with(
    engine: &Engine,
    project: &Project,
    services: &[String],
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<ImageSet, BuildError> {
    let plans = plan_images(engine, project, services, options, reporter).await?;
    let mut images = ImageSet::default();
    let mut failures = Vec::new();
    let mut to_build = Vec::new();
    let mut to_pull = Vec::new();
    for plan in plans {
        match (plan.action, &plan.existing) {
            (ImageAction::Use, Some(id)) => {
                if options.policy == BuildPolicy::Always {
                    let detail = format!("{} is up to date", plan.reference);
                    for service in &plan.services {
                        reporter.progress(service, Phase::Unchanged, Some(detail.clone()));
                    }
                }
                add_image(&mut images, &plan, id);
            }
            (ImageAction::Build, _) => to_build.push(plan),
            (ImageAction::Pull, _) => to_pull.push(plan),
            _ => {
                let failure = ImageFailure {
                    reference: plan.reference.clone(),
                    services: plan.services.clone(),
                    reason: FailureReason::Missing {
                        hint: plan.missing_hint(options.policy),
                    },
                };
                report_failure(reporter, &failure);
                failures.push(failure);
            }
        }
    }

    let pulled: Vec<(ImagePlan, Result<String, FailureReason>)> = futures::stream::iter(to_pull)
        .map(|plan| async move {
            let result = pull_image(engine, &plan, reporter).await;
            (plan, result)
        })
        .buffer_unordered(PARALLEL_PULLS)
        .collect()
        .await;
    absorb_results(pulled, &mut images, &mut failures);

    let parallel = match options.parallel {
        0 => DEFAULT_PARALLEL_BUILDS,
        n => n,
    };
    let results: Vec<(ImagePlan, Result<String, FailureReason>)> = futures::stream::iter(to_build)
        .map(|plan| async move {
            let result = build_image(engine, &plan, options, reporter).await;
            (plan, result)
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    absorb_results(results, &mut images, &mut failures);

    // Spec order, whatever order the builds finished in.
    let order: HashMap<&String, usize> = project.services.keys().zip(0..).collect();
    images
        .services
        .sort_by_key(|name, _| order.get(name).copied().unwrap_or(usize::MAX));
    if failures.is_empty() {
        Ok(images)
    } else {
        failures.sort_by_key(|f| {
            f.services
                .first()
                .and_then(|s| order.get(s).copied())
                .unwrap_or(usize::MAX)
        });
        Err(BuildError::Images {
            failures,
            built: images,
        })
    }
}

/// Pulled or built images into `images`, failures (already reported) into
/// `failures`.
fn absorb_results(
    results: Vec<(ImagePlan, Result<String, FailureReason>)>,
    images: &mut ImageSet,
    failures: &mut Vec<ImageFailure>,
) {
    for (plan, result) in results {
        match result {
            Ok(id) => add_image(images, &plan, &id),
            Err(reason) => failures.push(ImageFailure {
                reference: plan.reference,
                services: plan.services,
                reason,
            }),
        }
    }
}

fn add_image(images: &mut ImageSet, plan: &ImagePlan, id: &str) {
    for service in &plan.services {
        images.insert(
            service.clone(),
            ServiceImage {
                reference: plan.reference.clone(),
                id: id.to_string(),
            },
        );
    }
}

/// Reports that `plan`'s image could not be provided, for `reason`.
fn report_plan_failure(reporter: &dyn Reporter, plan: &ImagePlan, reason: &FailureReason) {
    let failure = ImageFailure {
        reference: plan.reference.clone(),
        services: plan.services.clone(),
        reason: reason.clone(),
    };
    report_failure(reporter, &failure);
}

fn report_failure(reporter: &dyn Reporter, failure: &ImageFailure) {
    for service in &failure.services {
        reporter.progress(service, Phase::Failed, Some(failure.short()));
    }
}

/// Which image each of `services` (all when empty) runs, whether it exists,
/// and whether it will be built. Reads from the engine, changes nothing: the
/// basis of `up --dry-run`.
pub async fn plan_images(
    engine: &Engine,
    project: &Project,
    services: &[String],
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Vec<ImagePlan>, BuildError> {
    let selected = select_services(project, services)?;
    let executable = if let Some(service) = selected.iter().find(|s| is_self_image(s)) {
        if options.self_image_dockerfile.is_none() {
            let service = service.name.clone();
            return Err(SelfImageError::NoDockerfile { service }.into());
        }
        Some(load_executable(options.self_executable.clone()).await?)
    } else {
        None
    };

    let mut plans: IndexMap<String, ImagePlan> = IndexMap::new();
    for service in selected {
        let (reference, source) = image_of(project, service, executable.as_ref())?;
        let pull_never = service.pull_policy.as_deref() == Some("never");
        match plans.get_mut(&reference) {
            Some(plan) => {
                plan.services.push(service.name.clone());
                plan.pull_never |= pull_never;
                merge_source(plan, source, &service.name, reporter);
            }
            None => {
                plans.insert(
                    reference.clone(),
                    ImagePlan {
                        reference,
                        services: vec![service.name.clone()],
                        source,
                        existing: None,
                        action: ImageAction::Use,
                        pull_never,
                    },
                );
            }
        }
    }

    let mut plans: Vec<ImagePlan> = plans.into_values().collect();
    let ids = futures::stream::iter(plans.iter().map(|p| image_id(engine, &p.reference)))
        .buffered(4)
        .try_collect::<Vec<_>>()
        .await?;
    for (plan, id) in plans.iter_mut().zip(ids) {
        plan.action = decide(&plan.source, id.is_some(), options.policy, plan.pull_never);
        plan.existing = id;
    }
    Ok(plans)
}

/// The services to look at: the named ones (in spec order), or all.
fn select_services<'p>(
    project: &'p Project,
    names: &[String],
) -> Result<Vec<&'p Service>, BuildError> {
    check_services(project, names)?;
    Ok(project
        .services
        .values()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect())
}

async fn load_executable(path: Option<PathBuf>) -> Result<Executable, BuildError> {
    let loaded = tokio::task::spawn_blocking(move || match path {
        Some(path) => Executable::at(&path),
        None => Executable::current(),
    })
    .await;
    match loaded {
        Ok(result) => Ok(result?),
        Err(join) => Err(BuildError::SelfImage(SelfImageError::Read {
            path: PathBuf::from("/proc/self/exe"),
            source: std::io::Error::other(join.to_string()),
        })),
    }
}

/// The reference a service runs and where that image comes from.
fn image_of(
    project: &Project,
    service: &Service,
    executable: Option<&Executable>,
) -> Result<(String, ImageSource), BuildError> {
    if let (true, Some(exe)) = (is_self_image(service), executable) {
        let image = service.image.as_deref().unwrap_or("torq/node");
        let repository = self_image::repository_of(image);
        return Ok((exe.tag(repository), ImageSource::SelfImage(exe.clone())));
    }
    match (&service.build, &service.image) {
        (Some(build), _) => Ok((
            default_reference(project, service),
            ImageSource::Build(Box::new(build.clone())),
        )),
        (None, Some(image)) => Ok((image.clone(), ImageSource::Existing)),
        (None, None) => Err(BuildError::NoImage {
            service: service.name.clone(),
        }),
    }
}

/// Two services with one reference: a buildable source wins over an existing
/// image; two different build sections build once, from the first.
fn merge_source(plan: &mut ImagePlan, source: ImageSource, service: &str, reporter: &dyn Reporter) {
    match (&plan.source, &source) {
        (ImageSource::Existing, ImageSource::Build(_) | ImageSource::SelfImage(_)) => {
            plan.source = source;
        }
        (ImageSource::Build(a), ImageSource::Build(b)) if a != b => {
            reporter.report(Event::Warning(format!(
                "services {} and {service} build the same image {} differently; \
                 building it once, from {}'s build section",
                plan.services[0], plan.reference, plan.services[0]
            )));
        }
        _ => {}
    }
}

fn decide(
    source: &ImageSource,
    present: bool,
    policy: BuildPolicy,
    pull_never: bool,
) -> ImageAction {
    match (source, present, policy) {
        // The self image's tag names its content: an existing one is current.
        (ImageSource::SelfImage(_), true, _) => ImageAction::Use,
        (ImageSource::Existing, true, _) => ImageAction::Use,
        (ImageSource::Existing, false, _) if pull_never => ImageAction::Missing,
        (ImageSource::Existing, false, _) => ImageAction::Pull,
        (_, false, BuildPolicy::Never) => ImageAction::Missing,
        (_, true, BuildPolicy::Never | BuildPolicy::Missing) => ImageAction::Use,
        (_, _, _) => ImageAction::Build,
    }
}

/// The id of image `reference` on the engine, or `None` when absent.
pub async fn image_id(engine: &Engine, reference: &str) -> Result<Option<String>, BuildError> {
    match engine.docker().inspect_image(reference).await {
        Ok(inspect) => Ok(inspect.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) => Err(BuildError::Engine {
            doing: format!("looking up image {reference}"),
            source,
        }),
    }
}

/// `reference`, with `:latest` when it names neither a tag nor a digest.
fn with_default_tag(reference: &str) -> String {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    if reference.contains('@') || name.contains(':') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

/// Has the engine pull `plan`'s image (anonymously: no registry
/// credentials are sent); returns its id.
async fn pull_image(
    engine: &Engine,
    plan: &ImagePlan,
    reporter: &dyn Reporter,
) -> Result<String, FailureReason> {
    let result = run_pull(engine, plan, reporter).await;
    if let Err(reason) = &result {
        report_plan_failure(reporter, plan, reason);
    }
    result
}

async fn run_pull(
    engine: &Engine,
    plan: &ImagePlan,
    reporter: &dyn Reporter,
) -> Result<String, FailureReason> {
    for service in &plan.services {
        reporter.progress(service, Phase::Pulling, Some(plan.reference.clone()));
    }
    // Without a tag the engine would pull every tag of the repository
    // (`docker pull` adds `:latest` on the client side; so does torq).
    let options = bollard::query_parameters::CreateImageOptionsBuilder::new()
        .from_image(&with_default_tag(&plan.reference))
        .build();
    let pull = async {
        let mut stream = engine.docker().create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info = item?;
            if let Some(status) = info.status {
                for service in &plan.services {
                    reporter.report(Event::BuildOutput {
                        subject: service.clone(),
                        line: status.clone(),
                    });
                }
            }
        }
        Ok::<_, bollard::errors::Error>(())
    };
    let failed = |message: String| FailureReason::Pull {
        message,
        hint: plan.missing_hint(BuildPolicy::Missing),
    };
    match tokio::time::timeout(PULL_DEADLINE, pull).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            let op = format!("pull {}", plan.reference);
            return Err(failed(
                super::error::ApiError::from_bollard(op, err).message(),
            ));
        }
        Err(_) => return Err(failed(format!("no answer within {PULL_DEADLINE:?}"))),
    }
    match image_id(engine, &plan.reference).await {
        Ok(Some(id)) => {
            for service in &plan.services {
                reporter.progress(
                    service,
                    Phase::Unchanged,
                    Some(format!("pulled {}", plan.reference)),
                );
            }
            Ok(id)
        }
        Ok(None) => Err(failed("the pull ended without the image".into())),
        Err(err) => Err(FailureReason::Engine(err.to_string())),
    }
}

/// Builds one image and returns its id.
async fn build_image(
    engine: &Engine,
    plan: &ImagePlan,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<String, FailureReason> {
    let result = run_build(engine, plan, options, reporter).await;
    match &result {
        Ok(id) => {
            let detail = format!("{} {}", plan.reference, short_id(id));
            for service in &plan.services {
                reporter.progress(service, Phase::Built, Some(detail.clone()));
            }
            if let ImageSource::SelfImage(_) = plan.source {
                prune_self_images(engine, plan, id, options, reporter).await;
            }
        }
        Err(reason) => report_plan_failure(reporter, plan, reason),
    }
    result
}

async fn run_build(
    engine: &Engine,
    plan: &ImagePlan,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<String, FailureReason> {
    let (context, request) = match &plan.source {
        ImageSource::Build(build) => {
            let dir = build.context.clone();
            let dockerfile = build.dockerfile.clone();
            let context = tokio::task::spawn_blocking(move || {
                context::prepare_directory(&dir, dockerfile.as_deref())
            })
            .await
            .map_err(|e| FailureReason::Context(e.to_string()))?
            .map_err(|e| FailureReason::Context(error_text(&e)))?;
            let request = build_request(&plan.reference, &context.dockerfile, build, options);
            (context, request)
        }
        ImageSource::SelfImage(exe) => {
            let context = exe.context(options.self_image_dockerfile.unwrap_or_default());
            let request = self_image_request(&plan.reference, &context.dockerfile, exe, options);
            (context, request)
        }
        ImageSource::Existing => {
            return Err(FailureReason::Missing {
                hint: plan.missing_hint(options.policy),
            })
        }
    };

    let detail = format!("{} ({})", plan.reference, context.summary());
    for service in &plan.services {
        reporter.progress(service, Phase::Building, Some(detail.clone()));
    }
    let subject = plan.services.first().cloned().unwrap_or_default();
    let (archive, writer) = context::into_stream(context);
    let mut log = BuildLog::default();
    let mut failure = None;
    {
        let mut output =
            engine
                .docker()
                .build_image(request, None, Some(bollard::body_try_stream(archive)));
        while let Some(item) = output.next().await {
            match item {
                Ok(info) => {
                    for line in log.record(&info) {
                        reporter.report(Event::BuildOutput {
                            subject: subject.clone(),
                            line,
                        });
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    failure = Some(log.failure(error));
                    break;
                }
                Err(other) => {
                    failure = Some(FailureReason::Engine(error_text(&other)));
                    break;
                }
            }
        }
    }
    // The upload ends once the request is gone; its own error explains a
    // broken request better than the engine's.
    let written = writer.await;
    match (failure, written) {
        (Some(FailureReason::Engine(msg)), Ok(Err(io))) => {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                Err(FailureReason::Engine(msg))
            } else {
                Err(FailureReason::Context(io.to_string()))
            }
        }
        (Some(reason), _) => Err(reason),
        (None, Ok(Err(io))) => Err(FailureReason::Context(io.to_string())),
        (None, _) => match image_id(engine, &plan.reference).await {
            Ok(Some(id)) => Ok(id),
            Ok(None) => Err(FailureReason::Engine(format!(
                "the build finished but the engine has no image {}",
                plan.reference
            ))),
            Err(err) => Err(FailureReason::Engine(error_text(&err))),
        },
    }
}

/// The engine's build parameters for a `build:` section.
fn build_request(
    reference: &str,
    dockerfile: &str,
    build: &Build,
    options: &BuildOptions,
) -> bollard::query_parameters::BuildImageOptions {
    // forcerm: a failed step leaves no stopped intermediate container behind.
    let mut request = BuildImageOptionsBuilder::default()
        .dockerfile(dockerfile)
        .t(reference)
        .rm(true)
        .forcerm(true)
        .nocache(options.no_cache);
    let args: HashMap<String, String> = build
        .args
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
        .collect();
    if !args.is_empty() {
        request = request.buildargs(&args);
    }
    if let Some(target) = &build.target {
        request = request.target(target);
    }
    if !build.labels.is_empty() {
        let labels: HashMap<String, String> = build
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        request = request.labels(&labels);
    }
    if let Some(network) = &build.network {
        request = request.networkmode(network);
    }
    if !build.cache_from.is_empty() {
        request = request.cachefrom(&build.cache_from);
    }
    request.build()
}

/// After a new self image is built: removes the older unused self images of
/// its repository ([`self_image::prune`]), reporting each removal as a
/// verbose line. Pruning never fails the build.
async fn prune_self_images(
    engine: &Engine,
    plan: &ImagePlan,
    newest_id: &str,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) {
    let repository = self_image::repository_of(&plan.reference);
    let grace = options
        .self_image_prune_grace
        .unwrap_or(self_image::prune::GRACE);
    let subject = plan.services.first().cloned().unwrap_or_default();
    let line = |line: String| {
        reporter.report(Event::BuildOutput {
            subject: subject.clone(),
            line,
        })
    };
    match self_image::prune::prune_older(engine, repository, newest_id, grace).await {
        Ok(pruned) => {
            for reference in pruned.removed {
                line(format!("removed the older self image {reference}"));
            }
            for (reference, reason) in pruned.kept {
                line(format!("kept the older self image {reference}: {reason}"));
            }
        }
        Err(error) => line(format!(
            "could not look for older self images of {repository}: {}",
            error_text(&error)
        )),
    }
}

/// The label on self images naming the executable's full SHA-256.
pub const SELF_IMAGE_LABEL: &str = "dev.torq.executable.sha256";

fn self_image_request(
    reference: &str,
    dockerfile: &str,
    exe: &Executable,
    options: &BuildOptions,
) -> bollard::query_parameters::BuildImageOptions {
    let labels = HashMap::from([
        (SELF_IMAGE_LABEL.to_string(), exe.sha256.clone()),
        (
            self_image::MARKER_LABEL.to_string(),
            self_image::repository_of(reference).to_string(),
        ),
    ]);
    BuildImageOptionsBuilder::default()
        .dockerfile(dockerfile)
        .t(reference)
        .rm(true)
        .forcerm(true)
        .nocache(options.no_cache)
        .labels(&labels)
        .build()
}

/// The build's output, line by line, remembering the current step and its
/// last lines for the error report.
#[derive(Debug, Default)]
struct BuildLog {
    step: Option<String>,
    step_output: VecDeque<String>,
    partial: String,
}

impl BuildLog {
    /// Records one message of the engine; returns the complete lines it held.
    fn record(&mut self, info: &bollard::models::BuildInfo) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(text) = &info.stream {
            self.partial.push_str(text);
            while let Some(newline) = self.partial.find('\n') {
                let line: String = self.partial.drain(..=newline).collect();
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                if !line.is_empty() {
                    self.note(&line);
                    lines.push(line);
                }
            }
        }
        if let Some(status) = &info.status {
            let line = match &info.id {
                Some(id) => format!("{id}: {status}"),
                None => status.clone(),
            };
            lines.push(line);
        }
        lines
    }

    fn note(&mut self, line: &str) {
        if line.starts_with("Step ") && line.contains(" : ") {
            self.step = Some(line.to_string());
            self.step_output.clear();
        } else if !line.starts_with(" ---> ") && !line.starts_with("Removing intermediate") {
            if self.step_output.len() == FAILURE_OUTPUT_LINES {
                self.step_output.pop_front();
            }
            self.step_output.push_back(line.to_string());
        }
    }

    /// The failure the engine reported with `message`.
    fn failure(&mut self, message: String) -> FailureReason {
        let rest = std::mem::take(&mut self.partial);
        let rest = rest.trim_end();
        if !rest.is_empty() {
            self.note(rest);
        }
        FailureReason::Step {
            step: self.step.clone(),
            message,
            output: self.step_output.iter().cloned().collect(),
        }
    }
}

/// An error with its causes, on one line.
fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `sha256:0123456789ab…` → `0123456789ab`.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NullReporter;

    fn stream(text: &str) -> bollard::models::BuildInfo {
        bollard::models::BuildInfo {
            stream: Some(text.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn the_failing_step_and_its_output_are_kept() {
        let mut log = BuildLog::default();
        let mut lines = Vec::new();
        for chunk in [
            "Step 1/3 : FROM torq-test/bb\n",
            " ---> 1234\n",
            "Step 2/3 : RUN echo before && exit 3\n",
            " ---> Running in abcd\n",
            "bef",
            "ore\n",
        ] {
            lines.extend(log.record(&stream(chunk)));
        }
        assert_eq!(
            lines,
            vec![
                "Step 1/3 : FROM torq-test/bb",
                " ---> 1234",
                "Step 2/3 : RUN echo before && exit 3",
                " ---> Running in abcd",
                "before",
            ]
        );
        let failure = log.failure(
            "The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3".into(),
        );
        assert_eq!(
            failure,
            FailureReason::Step {
                step: Some("Step 2/3 : RUN echo before && exit 3".into()),
                message:
                    "The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3"
                        .into(),
                output: vec!["before".into()],
            }
        );
        let failure = ImageFailure {
            reference: "p-web".into(),
            services: vec!["web".into()],
            reason: failure,
        };
        let text = failure.to_string();
        assert!(
            text.contains("at Step 2/3 : RUN echo before && exit 3"),
            "{text}"
        );
        assert!(text.contains("non-zero code: 3"), "{text}");
        assert!(text.contains("    before"), "{text}");
        assert_eq!(failure.short(), "at Step 2/3 : RUN echo before && exit 3");
    }

    #[test]
    fn step_output_is_bounded() {
        let mut log = BuildLog::default();
        log.record(&stream("Step 1/1 : RUN seq 100\n"));
        for i in 0..100 {
            log.record(&stream(&format!("{i}\n")));
        }
        match log.failure("boom".into()) {
            FailureReason::Step { output, .. } => {
                assert_eq!(output.len(), FAILURE_OUTPUT_LINES);
                assert_eq!(output.last().map(String::as_str), Some("99"));
            }
            other => panic!("{other:?}"),
        }
    }

    fn project() -> Project {
        let mut project = Project {
            name: "shop".into(),
            ..Default::default()
        };
        let services = [
            Service {
                name: "Web".into(),
                build: Some(Build {
                    context: "/tmp/web".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Service {
                name: "worker".into(),
                image: Some("shop/app:1".into()),
                build: Some(Build {
                    context: "/tmp/app".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Service {
                name: "db".into(),
                image: Some("postgres:16".into()),
                ..Default::default()
            },
        ];
        for s in services {
            project.services.insert(s.name.clone(), s);
        }
        project
    }

    #[test]
    fn references_follow_compose() {
        let p = project();
        assert_eq!(default_reference(&p, &p.services["Web"]), "shop-web");
        assert_eq!(default_reference(&p, &p.services["worker"]), "shop/app:1");
        let (reference, source) = image_of(&p, &p.services["db"], None).unwrap();
        assert_eq!(reference, "postgres:16");
        assert_eq!(source, ImageSource::Existing);
    }

    #[test]
    fn self_images_are_tagged_by_the_executable() {
        let mut p = project();
        let mut node = Service {
            name: "relay".into(),
            image: Some("torq/node".into()),
            ..Default::default()
        };
        node.extensions
            .insert(self_image::EXTENSION.into(), serde_json::Value::Bool(true));
        assert!(is_self_image(&node));
        p.services.insert("relay".into(), node);
        let exe = Executable {
            path: "/x".into(),
            len: 1,
            sha256: "0123456789abcdef".repeat(4),
        };
        let (reference, source) = image_of(&p, &p.services["relay"], Some(&exe)).unwrap();
        assert_eq!(reference, "torq/node:0123456789ab");
        assert!(matches!(source, ImageSource::SelfImage(_)));
    }

    #[test]
    fn the_policy_decides() {
        let build = ImageSource::Build(Box::default());
        let exe = ImageSource::SelfImage(Executable {
            path: "/x".into(),
            len: 1,
            sha256: "0".repeat(64),
        });
        use BuildPolicy::*;
        use ImageAction as A;
        for (source, present, policy, expected) in [
            (&build, true, Missing, A::Use),
            (&build, false, Missing, A::Build),
            (&build, true, Always, A::Build),
            (&build, false, Never, A::Missing),
            (&build, true, Never, A::Use),
            (&exe, true, Always, A::Use),
            (&exe, false, Missing, A::Build),
            (&exe, false, Never, A::Missing),
            (&ImageSource::Existing, false, Always, A::Pull),
            (&ImageSource::Existing, false, Never, A::Pull),
            (&ImageSource::Existing, true, Never, A::Use),
        ] {
            assert_eq!(
                decide(source, present, policy, false),
                expected,
                "{source:?} present={present} {policy:?}"
            );
        }
        // `pull_policy: never`: a missing image stays missing.
        assert_eq!(
            decide(&ImageSource::Existing, false, Missing, true),
            A::Missing
        );
        assert_eq!(decide(&ImageSource::Existing, true, Missing, true), A::Use);
    }

    #[test]
    fn unknown_and_imageless_services_are_spec_errors() {
        let mut p = project();
        let err = select_services(&p, &["nope".into()]).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert!(err.to_string().contains("worker"), "{err}");
        p.services.insert(
            "empty".into(),
            Service {
                name: "empty".into(),
                ..Default::default()
            },
        );
        let err = image_of(&p, &p.services["empty"], None).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        assert!(!BuildError::NoImage {
            service: "x".into()
        }
        .is_image_failure());
    }

    #[test]
    fn shared_images_merge_and_warn_on_conflicts() {
        let mut plan = ImagePlan {
            reference: "app".into(),
            services: vec!["a".into()],
            source: ImageSource::Existing,
            existing: None,
            action: ImageAction::Use,
            pull_never: false,
        };
        let build = ImageSource::Build(Box::new(Build {
            context: "/a".into(),
            ..Default::default()
        }));
        merge_source(&mut plan, build.clone(), "b", &NullReporter);
        assert_eq!(plan.source, build);
        merge_source(&mut plan, ImageSource::Existing, "c", &NullReporter);
        assert_eq!(plan.source, build);
    }

    #[test]
    fn missing_images_say_how_to_provide_them() {
        let plan = ImagePlan {
            reference: "postgres:16".into(),
            services: vec!["db".into()],
            source: ImageSource::Existing,
            existing: None,
            action: ImageAction::Missing,
            pull_never: true,
        };
        let hint = plan.missing_hint(BuildPolicy::Missing);
        assert!(hint.contains("pull_policy: never"), "{hint}");
        assert!(hint.contains("docker build -t postgres:16"), "{hint}");
        let plan = ImagePlan {
            source: ImageSource::Build(Box::default()),
            reference: "shop-web".into(),
            services: vec!["web".into()],
            pull_never: false,
            ..plan
        };
        let hint = plan.missing_hint(BuildPolicy::Never);
        assert!(hint.contains("torq build web"), "{hint}");
        assert_eq!(plan.describe(), "missing shop-web for web");
    }

    #[test]
    fn pulls_name_a_tag() {
        assert_eq!(with_default_tag("redis"), "redis:latest");
        assert_eq!(with_default_tag("redis:7"), "redis:7");
        assert_eq!(
            with_default_tag("registry.local:5000/team/app"),
            "registry.local:5000/team/app:latest"
        );
        assert_eq!(
            with_default_tag("registry.local:5000/team/app:2"),
            "registry.local:5000/team/app:2"
        );
        assert_eq!(with_default_tag("app@sha256:abc"), "app@sha256:abc");
    }

    #[test]
    fn short_ids() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }
}
