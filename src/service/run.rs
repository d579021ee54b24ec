//! `run`: a one-off container from a service's configuration, as `docker
//! compose run` makes it — named `PROJECT-SERVICE-run-<id>`, labeled
//! `com.docker.compose.oneoff=True` (plus compose's `slug` label), without
//! the service's ports (unless asked), restart policy or replica number.
//!
//! Its dependencies are converged first by `up`'s own plan (and gated on
//! health as `up` gates them), unless `--no-deps`. Attached, the container's
//! stdio is streamed (a TTY when asked, with raw mode and window size),
//! SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 are forwarded to it (a second
//! SIGINT or SIGTERM kills it), and the outcome is its exit code. With
//! `--rm` the container is removed once it stopped, whatever ended it.

use std::sync::Arc;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use tokio::signal::unix::{signal, SignalKind};

use super::stdio::{self, StdioMode};
use super::FailureSummary;
use crate::compose::graph::DependencyGraph;
use crate::compose::model::{MountKind, Project, Service};
use crate::compose::syntax::{parse_port, parse_volume, shell_split};
use crate::engine::attach::{self, TtyOwner};
use crate::engine::build::{self, BuildPolicy};
use crate::engine::container::{blueprint, service_network_keys, service_volume_keys};
use crate::engine::state::observe;
use crate::engine::{labels, ops, Engine};
use crate::naming::{network_name, volume_name};
use crate::progress::Reporter;

/// What `run` is asked to do.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunRequest {
    pub service: String,
    /// The command (empty: the service's).
    pub command: Vec<String>,
    pub detach: bool,
    pub remove: bool,
    /// `KEY=VALUE`, or `KEY` to take the value from torq's environment.
    pub env: Vec<String>,
    /// `KEY=VALUE` labels added to the container.
    pub labels: Vec<String>,
    /// Overrides the entrypoint (shell words; empty string: none).
    pub entrypoint: Option<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `--cap-add`: capabilities added (and taken off the spec's `cap_drop`).
    pub cap_add: Vec<String>,
    /// `--cap-drop`: capabilities dropped (and taken off the spec's `cap_add`).
    pub cap_drop: Vec<String>,
    /// Allocate a TTY.
    pub tty: bool,
    /// Keep stdin open and forward torq's stdin.
    pub interactive: bool,
    pub no_deps: bool,
    /// Publish the service's own ports.
    pub service_ports: bool,
    /// `-p` port specs.
    pub publish: Vec<String>,
    /// `-v` volume specs.
    pub volumes: Vec<String>,
    /// The container's name (default `PROJECT-SERVICE-run-<id>`).
    pub name: Option<String>,
    /// Build the service's image first.
    pub build: bool,
    /// Answer on the networks to the service's name and aliases too (by
    /// default a one-off answers to its own name only, so it takes no
    /// traffic meant for the service).
    pub use_aliases: bool,
    /// The Dockerfile of the application's self image (the Torq stack's).
    pub self_image_dockerfile: Option<&'static str>,
    /// Where relative `-v` host paths resolve from.
    pub working_dir: std::path::PathBuf,
}

/// What came of a `run`.
#[derive(Debug)]
pub(crate) enum RunOutcome {
    /// `-d`: the container runs in the background.
    Detached { id: String, name: String },
    /// The command ran to its end with this exit code.
    Exited { code: i64 },
    /// A dependency failed to start or become healthy; nothing was run.
    DependenciesFailed(Vec<FailureSummary>),
}

/// Runs a one-off container of `request.service`.
pub(crate) async fn run(
    engine: &Engine,
    project: Arc<Project>,
    request: &RunRequest,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<RunOutcome> {
    let service = runnable_service(&project, &request.service)?;
    if !request.no_deps {
        let failures = start_dependencies(engine, &project, request, reporter.clone()).await?;
        if !failures.is_empty() {
            return Ok(RunOutcome::DependenciesFailed(failures));
        }
    }
    let policy = if request.build {
        BuildPolicy::Always
    } else {
        BuildPolicy::Missing
    };
    let images = build::ensure_images(
        engine,
        &project,
        std::slice::from_ref(&request.service),
        policy,
        reporter.as_ref(),
    )
    .await?;
    reporter.finish();
    ensure_networks_and_volumes(engine, &project, service).await?;
    let one_off = one_off_service(&project, service, request)?;
    let image = images
        .reference(&request.service)
        .map(String::from)
        .unwrap_or_else(|| build::default_reference(&project, service));
    let (name, id) = create(engine, &project, &one_off, &image, request).await?;
    if request.detach {
        if let Err(err) = ops::start_container(engine, &id).await {
            if request.remove {
                remove(engine, &id, &name).await;
            }
            return Err(err.into());
        }
        return Ok(RunOutcome::Detached { id, name });
    }
    let code = run_attached(engine, &id, request).await;
    if request.remove {
        remove(engine, &id, &name).await;
    }
    Ok(RunOutcome::Exited { code: code? })
}

/// The service, if it exists (the spec's validation already refused a
/// service with neither `image` nor `build`).
fn runnable_service<'a>(project: &'a Project, name: &str) -> anyhow::Result<&'a Service> {
    super::select_services(project, &[name.to_string()], true)?;
    Ok(&project.services[name])
}

/// Converges the service's dependencies as `up` does (health-gated), under
/// the project lock; returns their failures.
async fn start_dependencies(
    engine: &Engine,
    project: &Arc<Project>,
    request: &RunRequest,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<Vec<FailureSummary>> {
    let graph = DependencyGraph::new(project);
    let mut deps = graph.closure(std::slice::from_ref(&request.service))?;
    deps.shift_remove(&request.service);
    if deps.is_empty() {
        return Ok(Vec::new());
    }
    let build = if request.build {
        BuildPolicy::Always
    } else {
        BuildPolicy::Missing
    };
    let up = super::up_request(
        deps.into_iter().collect(),
        true,
        build,
        request.self_image_dockerfile,
    );
    let _lock = super::acquire_lock(engine, &project.name, reporter.as_ref()).await?;
    let outcome = super::up::converge(engine, project.clone(), &up, reporter.clone()).await;
    reporter.finish();
    Ok(outcome?.failures)
}

/// Creates the project networks and volumes the service uses that the
/// engine does not hold yet (when its dependencies were not started,
/// nothing else did).
async fn ensure_networks_and_volumes(
    engine: &Engine,
    project: &Project,
    service: &Service,
) -> anyhow::Result<()> {
    let state = observe(engine, &project.name).await?;
    for key in service_network_keys(service) {
        let spec = project.networks.get(&key);
        let name = network_name(project, &key);
        let present = state.networks.iter().any(|n| n.name == name);
        if !present && !spec.is_some_and(|n| n.external) {
            ops::create_network(engine, &project.name, &key, &name, spec).await?;
        }
    }
    for key in service_volume_keys(service) {
        let Some(spec) = project.volumes.get(&key).filter(|v| !v.external) else {
            continue;
        };
        let name = volume_name(project, &key);
        if !state.volumes.iter().any(|v| v.name == name) {
            ops::create_volume(engine, &project.name, &key, &name, Some(spec)).await?;
        }
    }
    Ok(())
}

/// The service's configuration with the run options applied, as compose's
/// `applyRunOptions`: command, entrypoint, environment, user, working
/// directory, capabilities, TTY, ports, extra volumes; no restart policy.
fn one_off_service(
    project: &Project,
    service: &Service,
    request: &RunRequest,
) -> anyhow::Result<Service> {
    let mut one_off = service.clone();
    one_off.tty = request.tty;
    one_off.stdin_open = request.interactive;
    one_off.restart = None;
    if let Some(deploy) = one_off.deploy.as_mut() {
        deploy.restart_policy = None;
        deploy.replicas = Some(1);
    }
    if !request.command.is_empty() {
        one_off.command = Some(request.command.clone());
    }
    if let Some(entrypoint) = &request.entrypoint {
        let words = shell_split(entrypoint).map_err(|e| anyhow::anyhow!("--entrypoint: {e}"))?;
        one_off.entrypoint = Some(words);
        if request.command.is_empty() {
            one_off.command = None;
        }
    }
    if let Some(user) = &request.user {
        one_off.user = Some(user.clone());
    }
    if let Some(dir) = &request.workdir {
        one_off.working_dir = Some(dir.clone());
    }
    apply_capabilities(&mut one_off, &request.cap_add, &request.cap_drop);
    apply_environment(&mut one_off, &request.env);
    one_off.ports = run_ports(service, request)?;
    for spec in &request.volumes {
        one_off.volumes.push(extra_volume(project, spec, request)?);
    }
    for label in &request.labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        one_off.labels.insert(key.to_string(), value.to_string());
    }
    one_off.container_name = None;
    Ok(one_off)
}

/// `--cap-add` adds to `cap_add` and takes the same names off `cap_drop`;
/// `--cap-drop` the other way round (as compose's `run`).
fn apply_capabilities(service: &mut Service, add: &[String], drop: &[String]) {
    service.cap_drop.retain(|cap| !add.contains(cap));
    service.cap_add.extend(add.iter().cloned());
    service.cap_add.retain(|cap| !drop.contains(cap));
    service.cap_drop.extend(drop.iter().cloned());
}

/// `-e KEY=VALUE` sets; `-e KEY` takes torq's own value (and is dropped when unset).
fn apply_environment(service: &mut Service, env: &[String]) {
    for entry in env {
        match entry.split_once('=') {
            Some((key, value)) => {
                service
                    .environment
                    .insert(key.to_string(), Some(value.to_string()));
            }
            None => {
                if let Ok(value) = std::env::var(entry) {
                    service.environment.insert(entry.clone(), Some(value));
                }
            }
        }
    }
}

/// The service's ports with `--service-ports`, plus `-p` ones; none otherwise.
fn run_ports(
    service: &Service,
    request: &RunRequest,
) -> anyhow::Result<Vec<crate::compose::model::Port>> {
    let mut ports = if request.service_ports {
        service.ports.clone()
    } else {
        Vec::new()
    };
    for spec in &request.publish {
        ports.extend(parse_port(spec).map_err(|e| anyhow::anyhow!("-p {spec}: {e}"))?);
    }
    Ok(ports)
}

/// A `-v` volume: a host path (relative to the working directory) or a
/// named volume of the project.
fn extra_volume(
    project: &Project,
    spec: &str,
    request: &RunRequest,
) -> anyhow::Result<crate::compose::model::Mount> {
    let parsed = parse_volume(spec).map_err(|e| anyhow::anyhow!("-v {spec}: {e}"))?;
    let mut mount = parsed.mount;
    if parsed.is_bind {
        mount.kind = MountKind::Bind;
        mount.bind_options().create_host_path = true;
        if let Some(source) = &mount.source {
            let path = request.working_dir.join(source);
            mount.source = Some(path.to_string_lossy().into_owned());
        }
    } else if let Some(source) = &mount.source {
        if !project.volumes.contains_key(source) {
            anyhow::bail!("-v {spec}: volume {source} is not declared in the spec's `volumes`");
        }
    }
    Ok(mount)
}

/// Creates the one-off container; returns its name and id.
async fn create(
    engine: &Engine,
    project: &Project,
    service: &Service,
    image: &str,
    request: &RunRequest,
) -> anyhow::Result<(String, String)> {
    let blueprint = blueprint(project, service, image);
    let slug = new_slug();
    let name = request
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{}", project.name, service.name, &slug[..12]));
    let mut blueprint = blueprint;
    blueprint.set_one_off_aliases(&name, request.use_aliases);
    let mut body = blueprint.body.clone();
    let container_labels = body.labels.get_or_insert_with(Default::default);
    container_labels.insert(labels::ONEOFF.into(), "True".into());
    container_labels.insert(labels::SLUG.into(), slug);
    if request.interactive && !request.detach {
        body.attach_stdin = Some(true);
        body.stdin_once = Some(true);
    }
    if request.detach && request.remove {
        body.host_config
            .get_or_insert_with(Default::default)
            .auto_remove = Some(true);
    }
    let id = ops::create_container(engine, &name, body).await?;
    for (network, endpoint) in &blueprint.extra_networks {
        ops::connect_network(engine, &id, network, endpoint.clone()).await?;
    }
    if !blueprint.injected_files.is_empty() {
        crate::engine::container::files::inject(engine, &id, &blueprint.injected_files).await?;
    }
    Ok((name, id))
}

/// A random 64-hex-digit id (compose's `slug`; the name takes its first 12).
fn new_slug() -> String {
    let mut hasher = Sha256::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.update(now.as_nanos().to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    let stack_address = &hasher as *const _ as usize;
    hasher.update(stack_address.to_le_bytes());
    hex::encode(hasher.finalize())
}

/// Attaches, starts, streams and forwards signals until the container
/// stops; returns its exit code.
async fn run_attached(engine: &Engine, id: &str, request: &RunRequest) -> anyhow::Result<i64> {
    let signals = Signals::install()?;
    let session = attach::attach_container(engine, id, request.interactive).await?;
    ops::start_container(engine, id).await?;
    let mode = StdioMode {
        tty: request.tty.then(|| TtyOwner::Container(id.to_string())),
        stdin: request.interactive,
    };
    tokio::select! {
        result = stdio::stream(engine, session, mode) => {
            result.context("streaming the container's output")?;
        }
        () = signals.forward(engine, id) => {}
    }
    Ok(attach::wait_exit(engine, id).await?)
}

/// The signals torq forwards to an attached one-off container.
struct Signals {
    received: tokio::sync::mpsc::UnboundedReceiver<&'static str>,
}

impl Signals {
    /// Starts catching SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2.
    fn install() -> anyhow::Result<Signals> {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
            (SignalKind::user_defined1(), "SIGUSR1"),
            (SignalKind::user_defined2(), "SIGUSR2"),
        ];
        let (tx, received) = tokio::sync::mpsc::unbounded_channel();
        for (kind, name) in kinds {
            let mut stream = signal(kind).context("cannot watch signals")?;
            let tx = tx.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if tx.send(name).is_err() {
                        return;
                    }
                }
            });
        }
        Ok(Signals { received })
    }

    /// Forwards each signal to container `id`; a second SIGINT or SIGTERM
    /// kills it. Returns only when the container is gone.
    async fn forward(mut self, engine: &Engine, id: &str) {
        let mut stops = 0;
        while let Some(name) = self.received.recv().await {
            let is_stop = matches!(name, "SIGINT" | "SIGTERM");
            stops += usize::from(is_stop);
            let sent = if stops > 1 && is_stop {
                "SIGKILL"
            } else {
                name
            };
            match attach::signal_container(engine, id, sent).await {
                Err(err) if err.is_not_found() => return,
                Err(err) => tracing::debug!(%err, "cannot forward {sent}"),
                Ok(()) => {}
            }
        }
    }
}

/// Removes the one-off container and its anonymous volumes.
async fn remove(engine: &Engine, id: &str, name: &str) {
    let removal = ops::Removal {
        force: true,
        anonymous_volumes: true,
    };
    if let Err(err) = ops::remove_container(engine, id, name, removal).await {
        tracing::warn!("{err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn cap_flags_override_the_spec_both_ways() {
        let mut service = Service {
            cap_add: caps(&["SYS_TIME", "NET_RAW"]),
            cap_drop: caps(&["CHOWN", "MKNOD"]),
            ..Service::default()
        };
        apply_capabilities(&mut service, &caps(&["CHOWN"]), &caps(&["NET_RAW"]));
        assert_eq!(service.cap_add, caps(&["SYS_TIME", "CHOWN"]));
        assert_eq!(service.cap_drop, caps(&["MKNOD", "NET_RAW"]));
    }
}
