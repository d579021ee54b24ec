//! Images: make sure every service has its image on the engine, building the
//! ones that need it through the engine's build API — with BuildKit when the
//! engine has it ([`buildkit`]: a session serves the context, secrets and SSH
//! agents), else (or on `TORQ_BUILDKIT=0`) with the classic builder and a tar
//! context.
//!
//! [`ensure_images`] is the entry point for `up` and `build`: it plans
//! ([`plan_images`]) which image each service runs and whether it must be
//! built, then builds — at most two at a time, each image once even when
//! several services share it — and returns an [`ImageSet`]: per service, the
//! reference to run and the engine's image id (so a changed image can be
//! detected and its containers recreated).
//!
//! Where an image comes from ([`ImageSource`]):
//! - a `build:` section: the context directory honoring `.dockerignore`
//!   ([`context`], [`dockerignore`]), the compose build keys as [`request`]
//!   maps them; tagged with `image:` or compose's default `PROJECT-SERVICE`
//!   (and `build.tags`);
//! - the self image (`x-torq-self-image: true`, [`self_image`]): torq's own
//!   executable in a `FROM scratch` image, tagged by the executable's hash;
//!   once a new one is built, the older unused ones are removed;
//! - otherwise an image the engine has, or pulls from its registry when it
//!   is missing (as compose does, unless `pull_policy: never`); where no
//!   registry answers, the engine's reason and how to provide the image.
//!
//! Each BuildKit step's start and end goes to the [`Reporter`] as the
//! service's progress; output lines (and BuildKit's bookkeeping steps) as
//! [`Event::BuildOutput`]; a failed build is reported with its failing step,
//! the engine's message and the step's last output lines.

pub(crate) mod buildkit;
pub mod context;
pub mod dockerignore;
pub(crate) mod request;
pub mod self_image;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::{StreamExt, TryStreamExt};
use indexmap::IndexMap;
use thiserror::Error;

use super::Engine;
use crate::compose::model::{Build, FileObject, Project, Service};
use crate::compose::select::{check_services, NoSuchService};
use crate::progress::{Event, Phase, Reporter};
use buildkit::Builder;
pub use buildkit::BUILDKIT_ENV;
pub use request::BuilderKind;
use request::{EngineRequest, RequestInput};
pub use self_image::{is_self_image, Executable, SelfImageError};

/// Builds that run at once by default.
pub const DEFAULT_PARALLEL_BUILDS: usize = 2;

/// Pulls that run at once.
const PARALLEL_PULLS: usize = 4;

/// How long one pull may take.
pub(crate) const PULL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

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
    /// The builder to use; `None` chooses BuildKit when the engine has it and
    /// `TORQ_BUILDKIT` does not turn it off.
    pub builder: Option<BuilderKind>,
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
    /// The `build:` section asks for something the builder cannot do.
    Unsupported(String),
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
            FailureReason::Context(msg)
            | FailureReason::Engine(msg)
            | FailureReason::Unsupported(msg) => first_line(msg),
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
            FailureReason::Unsupported(msg) => {
                write!(
                    f,
                    "image {} of {who} cannot be built: {msg}",
                    self.reference
                )
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
    #[error(transparent)]
    Engine(#[from] super::error::ApiError),

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
    let builder = match to_build.is_empty() {
        true => None,
        false => Some(buildkit::choose(engine, options.builder).await),
    };
    let builder = builder.as_ref();
    let secrets = &project.secrets;
    let results: Vec<(ImagePlan, Result<String, FailureReason>)> = futures::stream::iter(to_build)
        .map(|plan| async move {
            let run = BuildRun {
                engine,
                plan: &plan,
                options,
                builder,
                secrets,
                reporter,
            };
            let result = build_image(&run).await;
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
        Err(source) => Err(BuildError::Engine(super::error::ApiError::from_bollard(
            format!("look up image {reference}"),
            source,
        ))),
    }
}

/// `reference`, with `:latest` when it names neither a tag nor a digest.
pub(crate) fn with_default_tag(reference: &str) -> String {
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

/// One image build and everything it needs.
struct BuildRun<'a> {
    engine: &'a Engine,
    plan: &'a ImagePlan,
    options: &'a BuildOptions,
    /// The builder chosen for this run (always set when something is built).
    builder: Option<&'a Builder>,
    /// The project's top-level secrets, for `build.secrets`.
    secrets: &'a IndexMap<String, FileObject>,
    reporter: &'a dyn Reporter,
}

impl BuildRun<'_> {
    fn subject(&self) -> String {
        self.plan.services.first().cloned().unwrap_or_default()
    }

    fn output(&self, line: String) {
        self.reporter.report(Event::BuildOutput {
            subject: self.subject(),
            line,
        });
    }

    fn progress(&self, phase: Phase, detail: String) {
        for service in &self.plan.services {
            self.reporter.progress(service, phase, Some(detail.clone()));
        }
    }
}

/// Builds one image and returns its id.
async fn build_image(run: &BuildRun<'_>) -> Result<String, FailureReason> {
    let result = run_build(run).await;
    match &result {
        Ok(id) => {
            run.progress(
                Phase::Built,
                format!("{} {}", run.plan.reference, short_id(id)),
            );
            if let ImageSource::SelfImage(_) = run.plan.source {
                prune_self_images(run.engine, run.plan, id, run.options, run.reporter).await;
            }
        }
        Err(reason) => report_plan_failure(run.reporter, run.plan, reason),
    }
    result
}

async fn run_build(run: &BuildRun<'_>) -> Result<String, FailureReason> {
    let plan = run.plan;
    let build = match &plan.source {
        ImageSource::Build(build) => Some(build.as_ref()),
        ImageSource::SelfImage(_) => None,
        ImageSource::Existing => {
            return Err(FailureReason::Missing {
                hint: plan.missing_hint(run.options.policy),
            })
        }
    };
    // The self image is one COPY into `FROM scratch`: the classic builder
    // does it without a session.
    if let (Some(build), Some(builder)) = (build, run.builder) {
        if builder.kind == BuilderKind::BuildKit {
            match run_buildkit(run, build).await {
                BuildKitOutcome::Ran(result) => return result,
                BuildKitOutcome::NoSession(reason) => {
                    run.reporter.report(Event::Warning(format!(
                        "{}: {reason}; building with the classic builder",
                        plan.reference
                    )));
                }
            }
        }
    }
    run_classic(run, build).await
}

/// How a BuildKit build went.
enum BuildKitOutcome {
    /// It ran: the image id, or why it failed.
    Ran(Result<String, FailureReason>),
    /// No session could be opened: the classic builder takes over.
    NoSession(String),
}

/// Builds with BuildKit: the context and the Dockerfile travel through the
/// session ([`buildkit::filesync`]), as with the docker CLI, so BuildKit
/// sees exactly the files `.dockerignore` leaves.
async fn run_buildkit(run: &BuildRun<'_>, build: &Build) -> BuildKitOutcome {
    let prepared = match prepare_session_context(build).await {
        Ok(prepared) => prepared,
        Err(reason) => return BuildKitOutcome::Ran(Err(reason)),
    };
    let mut request = match engine_request_for(
        run,
        context::SESSION_DOCKERFILE,
        Some(build),
        BuilderKind::BuildKit,
    ) {
        Ok(request) => request,
        Err(reason) => return BuildKitOutcome::Ran(Err(reason)),
    };
    let summary = prepared.summary();
    request.provided.dirs = buildkit::filesync::Dirs::of_build(prepared);
    request.provided.shared_key = build.context.to_string_lossy().into_owned();
    let session = match open_session(run, &mut request).await {
        Ok(session) => session,
        Err(reason) => return BuildKitOutcome::NoSession(reason),
    };
    request.options.remote = Some(buildkit::SESSION_CONTEXT.to_string());
    start_build(run, BuilderKind::BuildKit, &request, summary);
    let client = build_client(run, &request, BuilderKind::BuildKit);
    let body = bollard::body_full(bytes::Bytes::new());
    let output = client.build_image(request.options.clone(), None, Some(body));
    let failure = follow_buildkit(run, output).await;
    drop(session);
    BuildKitOutcome::Ran(match failure {
        Some(reason) => Err(reason),
        None => finish_image(run, &request.tags).await,
    })
}

/// Builds with the classic builder: the context travels as an archive.
async fn run_classic(run: &BuildRun<'_>, build: Option<&Build>) -> Result<String, FailureReason> {
    let context = match (&run.plan.source, build) {
        (ImageSource::SelfImage(exe), _) => {
            exe.context(run.options.self_image_dockerfile.unwrap_or_default())
        }
        (_, Some(build)) => prepare_context(build).await?,
        _ => {
            return Err(FailureReason::Missing {
                hint: run.plan.missing_hint(run.options.policy),
            })
        }
    };
    let request = engine_request_for(run, &context.dockerfile, build, BuilderKind::Classic)?;
    start_build(run, BuilderKind::Classic, &request, context.summary());
    let (archive, writer) = context::into_stream(context);
    let client = build_client(run, &request, BuilderKind::Classic);
    let body = bollard::body_try_stream(archive);
    let output = client.build_image(request.options.clone(), None, Some(body));
    let failure = follow_classic(run, output).await;
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
        (None, _) => finish_image(run, &request.tags).await,
    }
}

/// The client a build request goes out with: `version=2` for BuildKit, and
/// the query pairs bollard's options cannot hold.
fn build_client(run: &BuildRun<'_>, request: &EngineRequest, kind: BuilderKind) -> bollard::Docker {
    buildkit::with_query(
        run.engine.docker(),
        kind == BuilderKind::BuildKit,
        request::encode_query(&request.extra_query),
    )
}

/// What every build says as it starts: the builder (with `-v`), the keys it
/// ignores, and the service's progress line.
fn start_build(run: &BuildRun<'_>, kind: BuilderKind, request: &EngineRequest, summary: String) {
    announce_builder(run, kind);
    for warning in &request.warnings {
        run.reporter
            .report(Event::Warning(format!("{}: {warning}", run.plan.reference)));
    }
    run.progress(
        Phase::Building,
        format!("{} ({summary})", run.plan.reference),
    );
}

/// The context archive's entries for a `build:` section.
async fn prepare_context(build: &Build) -> Result<context::PreparedContext, FailureReason> {
    let dir = build.context.clone();
    let dockerfile = build.dockerfile.clone();
    let inline = request::dockerfile_inline(build);
    tokio::task::spawn_blocking(move || match inline {
        Some(text) => context::prepare_inline(&dir, &text),
        None => context::prepare_directory(&dir, dockerfile.as_deref()),
    })
    .await
    .map_err(|e| FailureReason::Context(e.to_string()))?
    .map_err(|e| FailureReason::Context(error_text(&e)))
}

/// The context's entries and the Dockerfile, apart, for a session build.
async fn prepare_session_context(build: &Build) -> Result<context::SessionContext, FailureReason> {
    let dir = build.context.clone();
    let dockerfile = build.dockerfile.clone();
    let inline = request::dockerfile_inline(build);
    tokio::task::spawn_blocking(move || {
        context::prepare_session(&dir, dockerfile.as_deref(), inline.as_deref())
    })
    .await
    .map_err(|e| FailureReason::Context(e.to_string()))?
    .map_err(|e| FailureReason::Context(error_text(&e)))
}

/// The engine request for this build on builder `kind`.
fn engine_request_for(
    run: &BuildRun<'_>,
    dockerfile: &str,
    build: Option<&Build>,
    kind: BuilderKind,
) -> Result<EngineRequest, FailureReason> {
    match (&run.plan.source, build) {
        (ImageSource::SelfImage(exe), _) => Ok(EngineRequest {
            options: self_image_request(&run.plan.reference, dockerfile, exe, run.options),
            extra_query: Vec::new(),
            tags: Vec::new(),
            provided: Default::default(),
            warnings: Vec::new(),
        }),
        (_, Some(build)) => request::engine_request(&RequestInput {
            reference: &run.plan.reference,
            dockerfile,
            build,
            secrets: run.secrets,
            builder: kind,
            platform: run.builder.map_or("linux/amd64", |b| b.platform.as_str()),
            no_cache: run.options.no_cache,
        })
        .map_err(FailureReason::Unsupported),
        _ => Err(FailureReason::Missing {
            hint: run.plan.missing_hint(run.options.policy),
        }),
    }
}

/// Opens the BuildKit session this build's request names.
async fn open_session(
    run: &BuildRun<'_>,
    request: &mut EngineRequest,
) -> Result<buildkit::session::Session, String> {
    let api = run.builder.map_or("1.41", |b| b.api.as_str());
    let provided = std::mem::take(&mut request.provided);
    let session = buildkit::session::open(run.engine.host(), api, provided)
        .await
        .map_err(|e| e.to_string())?;
    request.options.session = Some(session.id().to_string());
    Ok(session)
}

/// Says which builder runs (shown with `-v`).
fn announce_builder(run: &BuildRun<'_>, kind: BuilderKind) {
    let why = match (run.builder, &run.plan.source) {
        (_, ImageSource::SelfImage(_)) => "the self image is a single COPY".to_string(),
        (Some(builder), _) if builder.kind == kind => builder.reason.clone(),
        _ => "BuildKit is unavailable".to_string(),
    };
    tracing::debug!(image = %run.plan.reference, builder = kind.name(), %why);
    run.output(format!("builder: {} ({why})", kind.name()));
}

/// The engine's answer to a build request.
type BuildItem = Result<bollard::models::BuildInfo, bollard::errors::Error>;

/// Follows a classic build's output; returns its failure, if any.
async fn follow_classic(
    run: &BuildRun<'_>,
    output: impl futures::Stream<Item = BuildItem>,
) -> Option<FailureReason> {
    let mut output = std::pin::pin!(output);
    let mut log = BuildLog::default();
    while let Some(item) = output.next().await {
        match item {
            Ok(info) => {
                for line in log.record(&info) {
                    run.output(line);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Some(log.failure(error))
            }
            Err(other) => return Some(engine_failure(other)),
        }
    }
    None
}

/// Follows a BuildKit build's trace: each step's start and end as progress,
/// its output with `-v`; returns the failure with its step and output.
async fn follow_buildkit(
    run: &BuildRun<'_>,
    output: impl futures::Stream<Item = BuildItem>,
) -> Option<FailureReason> {
    use bollard::models::BuildInfoAux;
    let mut output = std::pin::pin!(output);
    let mut trace = buildkit::progress::Trace::default();
    while let Some(item) = output.next().await {
        match item {
            Ok(info) => {
                if let Some(BuildInfoAux::BuildKit(status)) = &info.aux {
                    for event in trace.record(status) {
                        report_step(run, &event);
                    }
                }
                if let Some(text) = &info.stream {
                    for line in text.lines().filter(|l| !l.trim().is_empty()) {
                        run.output(line.to_string());
                    }
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                let failed = trace.failed_step();
                let step = failed.as_ref().map(|f| f.step.clone());
                let message = with_base_image_hint(run, step.as_deref(), error);
                return Some(FailureReason::Step {
                    step,
                    message,
                    output: failed.map(|f| f.output).unwrap_or_default(),
                });
            }
            Err(other) => return Some(engine_failure(other)),
        }
    }
    None
}

/// The engine's own reason for a failed build request.
fn engine_failure(err: bollard::errors::Error) -> FailureReason {
    FailureReason::Engine(super::error::ApiError::from_bollard("build", err).message())
}

/// A base image BuildKit could not resolve: say where it must come from.
fn with_base_image_hint(run: &BuildRun<'_>, step: Option<&str>, message: String) -> String {
    if !step.is_some_and(|s| s.contains("load metadata for ")) {
        return message;
    }
    let pull = match &run.plan.source {
        ImageSource::Build(build) => request::pulls(build),
        _ => false,
    };
    let hint = if pull {
        "`build.pull: true` makes BuildKit ask the registry even for a base image the engine \
         has; drop it to build from local images"
    } else {
        "the base image is not on the engine and no registry provided it: build or load it \
         first (`docker images` lists what the engine has)"
    };
    format!("{message}\n  hint: {hint}")
}

/// A step of the Dockerfile moves the service's progress line; BuildKit's
/// bookkeeping steps and every output line show with `-v`.
fn report_step(run: &BuildRun<'_>, event: &buildkit::progress::StepEvent) {
    use buildkit::progress::StepEvent;
    let line = event.line();
    if event.is_internal() || matches!(event, StepEvent::Output { .. }) {
        run.output(line);
        return;
    }
    let detail = match event {
        StepEvent::Cached { number, name } => format!("#{number} {name} CACHED"),
        StepEvent::Done {
            number,
            name,
            seconds,
        } => format!("#{number} {name} DONE {seconds:.1}s"),
        _ => line,
    };
    run.progress(Phase::Building, detail);
}

/// After a successful build: the extra tags, then the image's id.
async fn finish_image(run: &BuildRun<'_>, tags: &[String]) -> Result<String, FailureReason> {
    let reference = &run.plan.reference;
    for tag in tags {
        let (repo, tag_part) = split_tag(tag);
        let options = bollard::query_parameters::TagImageOptionsBuilder::new()
            .repo(repo)
            .tag(tag_part)
            .build();
        if let Err(err) = run
            .engine
            .docker()
            .tag_image(reference, Some(options))
            .await
        {
            return Err(FailureReason::Engine(format!(
                "tagging {reference} as {tag}: {}",
                error_text(&err)
            )));
        }
        run.output(format!("tagged {tag}"));
    }
    match image_id(run.engine, reference).await {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(FailureReason::Engine(format!(
            "the build finished but the engine has no image {reference}"
        ))),
        Err(err) => Err(FailureReason::Engine(error_text(&err))),
    }
}

/// `repo:tag` → (`repo`, `tag`); no tag means `latest`.
fn split_tag(reference: &str) -> (&str, &str) {
    let (repository, tag, _) = crate::engine::image_ref::split_reference(reference);
    (repository, tag.unwrap_or("latest"))
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
