//! The normalized compose model: what a loaded, interpolated, merged and
//! validated spec looks like. Every other layer reads these types; only the
//! spec layer builds them.
//!
//! Shapes follow docker compose's canonical form (`docker compose config`):
//! long-syntax ports and volumes, `depends_on` as a map with
//! condition/required/restart, environment as a map, durations as
//! [`std::time::Duration`] (printed like `1m30s`). Serialization to that
//! canonical JSON/YAML is the spec layer's job (see `compose::normalize`).

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

/// A whole project, ready to run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Project {
    /// The normalized project name (`[a-z0-9][a-z0-9_-]*`).
    pub name: String,
    /// The project directory: relative paths were resolved against it.
    pub working_dir: PathBuf,
    /// The spec files in merge order (absolute paths; empty for the embedded spec).
    pub config_files: Vec<PathBuf>,
    /// Services enabled by the active profiles, in spec order.
    pub services: IndexMap<String, Service>,
    /// Services left out because none of their profiles is active.
    pub disabled_services: IndexMap<String, Service>,
    pub networks: IndexMap<String, Network>,
    pub volumes: IndexMap<String, Volume>,
    /// Top-level `secrets` some enabled service (or its build) uses.
    pub secrets: IndexMap<String, FileObject>,
    /// Top-level `configs` some enabled service uses.
    pub configs: IndexMap<String, FileObject>,
    /// Top-level `x-*` extensions.
    pub extensions: IndexMap<String, serde_json::Value>,
    /// Things worth telling the user that do not stop loading (unset
    /// variables, ignored keys). The CLI prints them as warnings.
    pub warnings: Vec<String>,
}

/// One service of the spec.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    pub build: Option<Build>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY: None` means "unset / inherit from torq's environment when known".
    pub environment: IndexMap<String, Option<String>>,
    pub ports: Vec<Port>,
    pub expose: Vec<String>,
    pub volumes: Vec<Mount>,
    /// Networks the service joins, with per-network options. Empty plus no
    /// `network_mode` means the project's `default` network.
    pub networks: IndexMap<String, ServiceNetwork>,
    pub network_mode: Option<String>,
    pub depends_on: IndexMap<String, Dependency>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    pub labels: IndexMap<String, String>,
    pub container_name: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub init: Option<bool>,
    pub tty: bool,
    pub stdin_open: bool,
    pub privileged: bool,
    pub read_only: bool,
    /// `host:ip` entries, as the Docker API takes them (`torq config` prints
    /// compose's `host=ip`).
    pub extra_hosts: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub dns: Vec<String>,
    pub shm_size: Option<u64>,
    pub ulimits: IndexMap<String, Ulimit>,
    pub logging: Option<Logging>,
    pub profiles: Vec<String>,
    pub deploy: Option<Deploy>,
    pub platform: Option<String>,
    pub pull_policy: Option<String>,
    /// `secrets:` the service mounts (`target` always set: default
    /// `/run/secrets/<source>`; a relative target lies under `/run/secrets/`).
    pub secrets: Vec<FileMount>,
    /// `configs:` the service mounts (`target` `None` means `/<source>`).
    pub configs: Vec<FileMount>,
    /// Service-level `x-*` extensions (e.g. torq's own `x-torq-*` keys).
    pub extensions: IndexMap<String, serde_json::Value>,
    /// Compose keys the model has no field for (`sysctls`, `devices`,
    /// `mem_limit`, `links`, `develop`, ...), each in compose's canonical JSON
    /// form (what `docker compose config --format json` prints for it; e.g.
    /// `mem_limit` as a byte-count string, `devices` as a list of
    /// `{source, target, permissions}`), so `torq config` prints them and the
    /// engine can read them. See the README for the list.
    pub other: IndexMap<String, serde_json::Value>,
}

impl Service {
    /// Replicas to run: `scale`, else `deploy.replicas`, else 1.
    pub fn replicas(&self) -> u32 {
        self.other
            .get("scale")
            .and_then(serde_json::Value::as_u64)
            .and_then(|s| u32::try_from(s).ok())
            .or_else(|| self.deploy.as_ref().and_then(|d| d.replicas))
            .unwrap_or(1)
    }
}

/// A top-level secret or config: where its content comes from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileObject {
    /// The engine-side name (`PROJECT_KEY` unless `name:` or external).
    pub name: String,
    /// Absolute path of the file holding the content.
    pub file: Option<PathBuf>,
    /// Name of the variable (of torq's environment) holding the content.
    pub environment: Option<String>,
    /// The value of that variable in the project environment (the process
    /// environment and `.env`) when the spec was loaded; `None` when unset.
    /// Never printed (`torq config` shows the variable's name).
    pub environment_value: Option<String>,
    /// Inline content (configs only), after interpolation.
    pub content: Option<String>,
    pub external: bool,
    pub labels: IndexMap<String, String>,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub template_driver: Option<String>,
}

/// A service's (or a build's) use of a secret or config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileMount {
    /// The key of the top-level secret or config.
    pub source: String,
    /// Where it appears in the container.
    pub target: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    /// File mode (`0o440`).
    pub mode: Option<u32>,
}

/// `build:` of a service.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Build {
    /// Absolute path of the build context (or a URL, kept as is).
    pub context: PathBuf,
    /// The Dockerfile, relative to the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    pub args: IndexMap<String, Option<String>>,
    pub target: Option<String>,
    pub labels: IndexMap<String, String>,
    pub network: Option<String>,
    pub cache_from: Vec<String>,
    /// Build secrets (`target` as written; BuildKit's default is the source).
    pub secrets: Vec<FileMount>,
    /// Other compose build keys (`ssh`, `tags`, `platforms`, ...), each in
    /// compose's canonical JSON form.
    pub other: IndexMap<String, serde_json::Value>,
}

/// A published port, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Port {
    pub target: u16,
    /// Host port or range (`"8080"`, `"8000-8010"`); `None` means an ephemeral port.
    pub published: Option<String>,
    pub host_ip: Option<String>,
    /// `tcp` (default), `udp` or `sctp`.
    pub protocol: String,
    /// `ingress` (default) or `host`.
    pub mode: String,
    pub name: Option<String>,
    pub app_protocol: Option<String>,
}

/// A mount, long syntax.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mount {
    pub kind: MountKind,
    /// Host path (bind, absolute), or the key of a top-level volume (volume;
    /// its engine name is `Project::volumes[key].name`; `None` = anonymous);
    /// unused for tmpfs.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    /// bind: create the host path if missing (short syntax does).
    pub create_host_path: bool,
    pub bind_propagation: Option<String>,
    /// bind: `recursive` (`enabled`, `disabled`, `writable`, `readonly`).
    pub bind_recursive: Option<String>,
    pub selinux: Option<String>,
    pub volume_nocopy: bool,
    pub volume_subpath: Option<String>,
    /// image mounts: the path inside the image to mount.
    pub image_subpath: Option<String>,
    pub tmpfs_size: Option<u64>,
    pub tmpfs_mode: Option<u32>,
    pub consistency: Option<String>,
    /// Written in short syntax (`SRC:DST[:OPTS]`); only changes how
    /// `torq config` prints it (compose prints `volume: {}` for those).
    pub short_syntax: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MountKind {
    #[default]
    Volume,
    Bind,
    Tmpfs,
    Npipe,
    Image,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Npipe => "npipe",
            MountKind::Image => "image",
        }
    }
}

/// A service's attachment to one network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub priority: Option<i64>,
    pub link_local_ips: Vec<String>,
    pub mac_address: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub gw_priority: Option<i64>,
    pub interface_name: Option<String>,
    /// Written as a mapping (`front: {}`) rather than a bare name or `null`;
    /// only changes how `torq config` prints an attachment without options.
    pub as_mapping: bool,
}

/// One entry of `depends_on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub condition: Condition,
    /// `false`: a failed or missing dependency is a warning, not a failure.
    pub required: bool,
    /// `true`: restarting the dependency restarts this service too.
    pub restart: bool,
}

impl Default for Dependency {
    fn default() -> Self {
        Dependency {
            condition: Condition::Started,
            required: true,
            restart: false,
        }
    }
}

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `service_started`
    Started,
    /// `service_healthy`
    Healthy,
    /// `service_completed_successfully`
    CompletedSuccessfully,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "service_started",
            Condition::Healthy => "service_healthy",
            Condition::CompletedSuccessfully => "service_completed_successfully",
        }
    }
}

/// `healthcheck:` of a service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]` (a string test becomes CMD-SHELL).
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u64>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    /// `disable: true` (or a `NONE` test).
    pub disable: bool,
}

impl Healthcheck {
    /// Whether this healthcheck actually runs a test.
    pub fn is_enabled(&self) -> bool {
        !self.disable && !self.test.is_empty() && self.test[0] != "NONE"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
    /// Written as a single number (`nproc: 65535`): soft = hard.
    pub single: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: IndexMap<String, String>,
}

/// `deploy:` of a service (the parts that mean something outside a swarm,
/// plus `placement` kept for the swarm deploy).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deploy {
    pub mode: Option<String>,
    pub replicas: Option<u32>,
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
    pub update_config: Option<UpdateConfig>,
    pub placement: Option<Placement>,
    pub labels: IndexMap<String, String>,
    /// `resources.limits`/`resources.reservations` `devices` and
    /// `generic_resources`, in compose's canonical JSON, keyed
    /// `reservations.devices` etc. (GPU requests live in
    /// `reservations.devices`: `[{capabilities, driver, count (-1 = all), device_ids, options}]`).
    pub resources_other: IndexMap<String, serde_json::Value>,
    /// Other compose deploy keys (`endpoint_mode`, `rollback_config`), as written.
    pub other: IndexMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    pub limits: Option<ResourceSpec>,
    pub reservations: Option<ResourceSpec>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceSpec {
    /// CPUs as a decimal string, as compose prints it (`"0.5"`).
    pub cpus: Option<String>,
    /// Bytes.
    pub memory: Option<u64>,
    pub pids: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestartPolicy {
    /// `none`, `on-failure` or `any`.
    pub condition: Option<String>,
    pub delay: Option<Duration>,
    pub max_attempts: Option<u64>,
    pub window: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateConfig {
    pub parallelism: Option<u64>,
    pub delay: Option<Duration>,
    pub failure_action: Option<String>,
    pub monitor: Option<Duration>,
    pub max_failure_ratio: Option<f64>,
    pub order: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Placement {
    pub constraints: Vec<String>,
    pub preferences: Vec<IndexMap<String, String>>,
    pub max_replicas_per_node: Option<u64>,
}

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Network {
    /// The engine-side name (`PROJECT_KEY` unless `name:` or external).
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub external: bool,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: Option<bool>,
    pub enable_ipv4: Option<bool>,
    pub labels: IndexMap<String, String>,
    pub ipam: Option<serde_json::Value>,
}

/// A top-level volume.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Volume {
    /// The engine-side name (`PROJECT_KEY` unless `name:` or external).
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub external: bool,
    pub labels: IndexMap<String, String>,
}
