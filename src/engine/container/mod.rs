//! How a service of the spec becomes an engine container: the create request
//! (every model field translated for API 1.41), the compose labels and names,
//! and the config hash that decides whether an existing container still
//! matches the spec.
//!
//! A [`Blueprint`] is the per-service part (identical for every replica);
//! [`Blueprint::for_replica`] adds the name, the per-container labels, the
//! container's name as a network alias and the replica's numbered links.
//! Every compose key maps from its typed field of the model. Submodules
//! translate groups of compose keys: [`resources`] (memory, CPU,
//! PIDs, block I/O, devices, GPUs), [`options`] (sysctls, security options,
//! tmpfs, DNS search/options, namespaces, links, `volumes_from`), [`files`]
//! (secrets and configs), [`hooks`] (`post_start`); [`create`] runs the
//! create of one replica (create, extra networks, injected files).
//! [`check_service`] finds what makes a service impossible to create as
//! specified, before anything is created.
//!
//! The config hash is a sha256 over the canonical JSON of the blueprint's
//! create request (plus the injected secret/config files and the
//! `post_start` hooks, when there are any), without the labels that do not
//! describe the container's configuration (the hash itself, `depends_on`,
//! the project's paths, the torq version), so it changes exactly when the
//! container would be created differently. A key the spec does not use
//! leaves its request field unset, so adding support for a key never
//! changes the hash of a spec that does not use it. Replicas, `build` and
//! `pull_policy` never reach the request, so they never change the hash.

pub mod create;
pub(crate) mod files;
pub(crate) mod hooks;
pub mod options;
pub mod resources;

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig,
    HostConfigLogConfig, Mount as ApiMount, MountBindOptions, MountBindOptionsPropagationEnum,
    MountTmpfsOptions, MountType, MountVolumeOptions, NetworkingConfig, PortBinding,
    ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};
use sha2::{Digest, Sha256};

use super::labels;
use crate::compose::model::{BindOptions, Mount, MountKind, Project, Service};
use crate::naming::{container_name, network_name, volume_name};

pub use options::{bound_services, referenced_services};

/// The engine's default grace period between the stop signal and SIGKILL.
pub const DEFAULT_STOP_GRACE_SECS: i64 = 10;

/// What torq writes in `com.docker.compose.version`.
pub const TORQ_VERSION_LABEL: &str = concat!("torq-", env!("CARGO_PKG_VERSION"));

/// The per-service part of a container's create request.
#[derive(Debug, Clone)]
pub struct Blueprint {
    /// The create request, with the project-wide and service labels (the
    /// config hash included) and the first network.
    pub body: ContainerCreateBody,
    /// Networks beyond the first: API 1.41 attaches only one network at
    /// create, so these are connected between create and start.
    pub extra_networks: Vec<(String, EndpointSettings)>,
    /// sha256 of the configuration (see the module doc).
    pub config_hash: String,
    /// Secrets and configs copied into each container after create.
    pub injected_files: Vec<files::InjectedFile>,
    /// Commands run in each container right after it starts.
    pub post_start: Vec<hooks::Hook>,
}

/// What creating one replica sends: its name, its create request and the
/// networks it joins after create.
#[derive(Debug, Clone)]
pub struct ReplicaRequest {
    pub name: String,
    pub body: ContainerCreateBody,
    pub extra_networks: Vec<(String, EndpointSettings)>,
}

impl Blueprint {
    /// Makes the networks' aliases those of a one-off container (`torq
    /// run`), as compose gives them: its own `name` only — so it takes no
    /// traffic meant for the service — or with `use_aliases` (`--use-aliases`)
    /// also the service's name and aliases.
    pub fn set_one_off_aliases(&mut self, name: &str, use_aliases: bool) {
        let first = self.body.networking_config.iter_mut().flat_map(|config| {
            config
                .endpoints_config
                .iter_mut()
                .flat_map(|e| e.values_mut())
        });
        let extra = self.extra_networks.iter_mut().map(|(_, endpoint)| endpoint);
        for endpoint in first.chain(extra) {
            let mut aliases = vec![name.to_string()];
            if use_aliases {
                let service_aliases = endpoint.aliases.take().unwrap_or_default();
                aliases.extend(service_aliases.into_iter().filter(|alias| alias != name));
            }
            endpoint.aliases = Some(aliases);
        }
    }

    /// The name, create request and extra networks of replica `number`:
    /// the blueprint plus what compose sends per container — the
    /// container-number label, the container's name as the first alias on
    /// every network, and the links with the replica's numbered names
    /// ([`options::replica_links`]). Being a function of the spec and the
    /// number, none of it is part of the config hash.
    pub fn for_replica(&self, project: &Project, service: &Service, number: u32) -> ReplicaRequest {
        let name = container_name(project, service, number);
        let mut body = self.body.clone();
        let labels = body.labels.get_or_insert_with(HashMap::new);
        labels.insert(labels::CONTAINER_NUMBER.into(), number.to_string());
        let links = options::replica_links(project, service, number);
        if let Some(host) = body.host_config.as_mut().filter(|h| h.links.is_some()) {
            host.links = Some(links.clone());
        }
        let mut extra_networks = self.extra_networks.clone();
        let first = body
            .networking_config
            .as_mut()
            .and_then(|n| n.endpoints_config.as_mut())
            .into_iter()
            .flat_map(|endpoints| endpoints.values_mut());
        for endpoint in first.chain(extra_networks.iter_mut().map(|(_, e)| e)) {
            endpoint
                .aliases
                .get_or_insert_with(Vec::new)
                .insert(0, name.clone());
            if endpoint.links.is_some() {
                endpoint.links = Some(links.clone());
            }
        }
        ReplicaRequest {
            name,
            body,
            extra_networks,
        }
    }
}

/// The network keys a service joins, by descending priority then name
/// (none with `network_mode`; `default` when it lists none).
pub fn service_network_keys(service: &Service) -> Vec<String> {
    if service.network_mode.is_some() {
        return Vec::new();
    }
    if service.networks.is_empty() {
        return vec!["default".to_string()];
    }
    let mut keys: Vec<(&String, i64)> = service
        .networks
        .iter()
        .map(|(k, n)| (k, n.priority.unwrap_or(0)))
        .collect();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    keys.into_iter().map(|(k, _)| k.clone()).collect()
}

/// The named volumes (spec keys) a service mounts.
pub fn service_volume_keys(service: &Service) -> Vec<String> {
    let mut keys: Vec<String> = service
        .volumes
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
        .filter_map(|m| m.source.clone())
        .collect();
    keys.dedup();
    keys
}

/// The service this one shares a network stack with (`network_mode: service:X`).
pub fn network_mode_service(service: &Service) -> Option<&str> {
    service.network_mode.as_deref()?.strip_prefix("service:")
}

/// Builds the blueprint of `service` running `image`.
pub fn blueprint(project: &Project, service: &Service, image: &str) -> Blueprint {
    let file_plan = files::plan(project, service);
    let mut body = create_body(project, service, image, &file_plan);
    let networks = service_network_keys(service);
    let links = options::links(project, service);
    let mut endpoints: Vec<(String, EndpointSettings)> = networks
        .iter()
        .map(|key| (network_name(project, key), endpoint(service, key, &links)))
        .collect();
    let extra_networks = if endpoints.len() > 1 {
        endpoints.split_off(1)
    } else {
        Vec::new()
    };
    if let Some((name, settings)) = endpoints.into_iter().next() {
        body.networking_config = Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(name, settings)])),
        });
    }
    let post_start = hooks::post_start(service);
    let config_hash = hash_of(&body, &extra_networks, &file_plan.injected, &post_start);
    if let Some(labels) = body.labels.as_mut() {
        labels.insert(labels::CONFIG_HASH.into(), config_hash.clone());
        labels.insert(labels::DEPENDS_ON.into(), depends_on_label(service));
        labels.insert(
            labels::WORKING_DIR.into(),
            project.working_dir.to_string_lossy().into_owned(),
        );
        labels.insert(
            labels::CONFIG_FILES.into(),
            project
                .config_files
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(","),
        );
        labels.insert(labels::VERSION.into(), TORQ_VERSION_LABEL.into());
    }
    Blueprint {
        body,
        extra_networks,
        config_hash,
        injected_files: file_plan.injected,
        post_start,
    }
}

/// What stands in the way of creating a service's containers as specified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceCheck {
    /// Problems that make `up` refuse to start (exit 1, nothing created).
    pub errors: Vec<String>,
    /// Things the user should know; `up` goes on.
    pub warnings: Vec<String>,
}

/// Checks what the blueprint of `service` cannot express: unreadable
/// seccomp profiles, invalid security options, secrets and configs that
/// cannot be provided (see [`files`]).
pub fn check_service(project: &Project, service: &Service) -> ServiceCheck {
    let file_plan = files::plan(project, service);
    let mut check = ServiceCheck {
        errors: file_plan.errors,
        warnings: file_plan.warnings,
    };
    if let Err(e) = options::security_opts(&project.working_dir, &service.security_opt) {
        check.errors.push(format!("service {}: {e}", service.name));
    }
    check
}

/// Compose's `depends_on` label: `name:condition:restart`, comma separated.
pub fn depends_on_label(service: &Service) -> String {
    service
        .depends_on
        .iter()
        .map(|(name, dep)| format!("{name}:{}:{}", dep.condition.as_str(), dep.restart))
        .collect::<Vec<_>>()
        .join(",")
}

/// The endpoint settings of `service` on network `key`: aliases (the service
/// name first; each replica puts its container name before it), static and
/// link-local addresses, driver options, legacy links.
fn endpoint(service: &Service, key: &str, links: &[String]) -> EndpointSettings {
    let attachment = service.networks.get(key);
    let mut aliases = vec![service.name.clone()];
    if let Some(a) = attachment {
        for alias in &a.aliases {
            if !aliases.contains(alias) {
                aliases.push(alias.clone());
            }
        }
    }
    let ipam_config = attachment
        .filter(|a| {
            a.ipv4_address.is_some() || a.ipv6_address.is_some() || !a.link_local_ips.is_empty()
        })
        .map(|a| EndpointIpamConfig {
            ipv4_address: a.ipv4_address.clone(),
            ipv6_address: a.ipv6_address.clone(),
            link_local_ips: Some(a.link_local_ips.clone()).filter(|l| !l.is_empty()),
        });
    let driver_opts = attachment
        .map(|a| {
            a.driver_opts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>()
        })
        .filter(|o| !o.is_empty());
    EndpointSettings {
        aliases: Some(aliases),
        ipam_config,
        driver_opts,
        links: Some(links.to_vec()).filter(|l| !l.is_empty()),
        ..Default::default()
    }
}

/// The create request without networking: every field of the model that
/// means something to a single engine (API 1.41).
fn create_body(
    project: &Project,
    service: &Service,
    image: &str,
    file_plan: &files::FilePlan,
) -> ContainerCreateBody {
    let mut labels: HashMap<String, String> = service
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(labels::PROJECT.into(), project.name.clone());
    labels.insert(labels::SERVICE.into(), service.name.clone());
    labels.insert(labels::ONEOFF.into(), "False".into());

    let mut exposed: Vec<String> = service
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.target, protocol(&p.protocol)))
        .collect();
    for e in &service.expose {
        let e = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        if !exposed.contains(&e) {
            exposed.push(e);
        }
    }

    ContainerCreateBody {
        image: Some(image.to_string()),
        hostname: service.hostname.clone(),
        domainname: service.domainname.clone(),
        user: service.user.clone(),
        working_dir: service.working_dir.clone(),
        entrypoint: service.entrypoint.clone(),
        cmd: service.command.clone(),
        env: Some(environment(service)).filter(|e| !e.is_empty()),
        exposed_ports: Some(exposed).filter(|e| !e.is_empty()),
        tty: Some(service.tty),
        open_stdin: Some(service.stdin_open),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        healthcheck: health_config(service),
        labels: Some(labels),
        stop_signal: service.stop_signal.clone(),
        stop_timeout: service
            .stop_grace_period
            .map(|d| d.as_secs().try_into().unwrap_or(i64::MAX)),
        host_config: Some(host_config(project, service, file_plan)),
        ..Default::default()
    }
}

fn protocol(p: &str) -> &str {
    if p.is_empty() {
        "tcp"
    } else {
        p
    }
}

/// `KEY=value` lines in spec order; `KEY` alone for a variable without value.
fn environment(service: &Service) -> Vec<String> {
    service
        .environment
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect()
}

/// The healthcheck as compose sends it, durations in nanoseconds (no
/// `start_interval`: API 1.44+): `disable` sends the test `NONE`; a
/// healthcheck without a test sends none, so the engine keeps the image's
/// test with the spec's timings.
fn health_config(service: &Service) -> Option<HealthConfig> {
    let hc = service.healthcheck.as_ref()?;
    let test = if hc.disable {
        Some(vec!["NONE".to_string()])
    } else {
        Some(hc.test.clone()).filter(|t| !t.is_empty())
    };
    let ns =
        |d: Option<std::time::Duration>| d.map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Some(HealthConfig {
        test,
        interval: ns(hc.interval),
        timeout: ns(hc.timeout),
        start_period: ns(hc.start_period),
        retries: hc.retries.map(|r| i64::try_from(r).unwrap_or(i64::MAX)),
        start_interval: None,
    })
}

fn host_config(project: &Project, service: &Service, file_plan: &files::FilePlan) -> HostConfig {
    let (binds, mut mounts) = mounts(project, service);
    mounts.extend(file_plan.mounts.iter().cloned());
    let mut host = HostConfig {
        binds: Some(binds).filter(|b| !b.is_empty()),
        mounts: Some(mounts).filter(|m| !m.is_empty()),
        port_bindings: port_bindings(service),
        restart_policy: Some(restart_policy(service)),
        network_mode: Some(network_mode(project, service)),
        cap_add: Some(service.cap_add.clone()).filter(|c| !c.is_empty()),
        cap_drop: Some(service.cap_drop.clone()).filter(|c| !c.is_empty()),
        dns: Some(service.dns.clone()).filter(|d| !d.is_empty()),
        extra_hosts: Some(
            service
                .extra_hosts
                .iter()
                .map(|h| extra_host(h))
                .collect::<Vec<_>>(),
        )
        .filter(|h| !h.is_empty()),
        init: service.init,
        privileged: Some(service.privileged),
        readonly_rootfs: Some(service.read_only),
        shm_size: service
            .shm_size
            .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        ulimits: Some(ulimits(service)).filter(|u| !u.is_empty()),
        log_config: Some(log_config(service)),
        ..Default::default()
    };
    resources::apply(service, &mut host);
    options::apply(project, service, &mut host);
    host
}

/// `host=ip` (compose's preferred form) becomes the engine's `host:ip`.
fn extra_host(entry: &str) -> String {
    match entry.split_once('=') {
        Some((host, ip)) => format!("{host}:{ip}"),
        None => entry.to_string(),
    }
}

/// The network mode: the first network's name, or `network_mode` with
/// `service:X` resolved to X's first container.
fn network_mode(project: &Project, service: &Service) -> String {
    match service.network_mode.as_deref() {
        Some(mode) => options::namespace(project, mode),
        None => service_network_keys(service)
            .first()
            .map(|key| network_name(project, key))
            .unwrap_or_else(|| "default".into()),
    }
}

/// Whether the engine restarts `service`'s containers on its own (a
/// restart policy other than `no`).
pub(crate) fn restarts_on_its_own(service: &Service) -> bool {
    restart_policy(service).name != Some(RestartPolicyNameEnum::NO)
}

/// As docker compose: `deploy.restart_policy` wins over `restart:` (its
/// `condition` `none`/`no`, `on-failure`, `unless-stopped`, `any`/`always`;
/// no condition means no restart); else `restart:`; else `no`. A retry
/// count goes with `on-failure` only (the engine refuses it with another
/// policy).
fn restart_policy(service: &Service) -> RestartPolicy {
    let deploy = service
        .deploy
        .as_ref()
        .and_then(|d| d.restart_policy.as_ref());
    let (name, retries) = match (deploy, service.restart.as_deref()) {
        (Some(policy), _) => (
            policy
                .condition
                .as_deref()
                .map_or(RestartPolicyNameEnum::NO, restart_policy_name),
            policy.max_attempts.and_then(|n| i64::try_from(n).ok()),
        ),
        (None, Some(restart)) => {
            let (word, count) = restart.split_once(':').unwrap_or((restart, ""));
            (restart_policy_name(word), count.parse::<i64>().ok())
        }
        (None, None) => (RestartPolicyNameEnum::NO, None),
    };
    let maximum_retry_count = match name {
        RestartPolicyNameEnum::ON_FAILURE => retries,
        _ => None,
    };
    RestartPolicy {
        name: Some(name),
        maximum_retry_count,
    }
}

/// A restart policy's or condition's name; an unknown one (compose leaves
/// it to the engine, which refuses it) restarts always, as Swarm's `any`.
fn restart_policy_name(word: &str) -> RestartPolicyNameEnum {
    match word {
        "no" | "none" => RestartPolicyNameEnum::NO,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        _ => RestartPolicyNameEnum::ALWAYS,
    }
}

/// The spec's logging, else json-file capped at 3 files of 10 MB.
fn log_config(service: &Service) -> HostConfigLogConfig {
    match &service.logging {
        Some(logging) => HostConfigLogConfig {
            typ: Some(logging.driver.clone().unwrap_or_else(|| "json-file".into())),
            config: Some(
                logging
                    .options
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        },
        None => HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(HashMap::from([
                ("max-size".to_string(), "10m".to_string()),
                ("max-file".to_string(), "3".to_string()),
            ])),
        },
    }
}

/// Port bindings: `target/proto` → host address and port (ephemeral when unset).
fn port_bindings(service: &Service) -> Option<HashMap<String, Option<Vec<PortBinding>>>> {
    let mut map: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &service.ports {
        let key = format!("{}/{}", port.target, protocol(&port.protocol));
        let binding = PortBinding {
            host_ip: port.host_ip.clone(),
            host_port: Some(port.published.clone().unwrap_or_default()),
        };
        map.entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    (!map.is_empty()).then_some(map)
}

/// Mounts: bind mounts that go through `Binds` (see [`through_binds`]),
/// everything else through `Mounts`.
fn mounts(project: &Project, service: &Service) -> (Vec<String>, Vec<ApiMount>) {
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    for m in &service.volumes {
        match m.kind {
            MountKind::Bind if through_binds(m) => binds.push(bind_string(m)),
            _ => mounts.push(api_mount(project, m)),
        }
    }
    (binds, mounts)
}

/// Whether a bind mount goes through `Binds`, where the engine creates a
/// missing host path (the Mount API's `CreateMountpoint` is API 1.42+): as
/// compose, one without a `bind:` block, or one that may create its host
/// path and needs no `recursive` option (which only the Mount API
/// expresses). With a `propagation` too compose takes the Mount API, which
/// on this engine fails on a missing path; torq keeps `Binds` and creates it.
fn through_binds(m: &Mount) -> bool {
    match &m.bind {
        None => true,
        Some(bind) => bind.create_host_path && bind.recursive.is_none(),
    }
}

fn bind_string(m: &Mount) -> String {
    let mut options = Vec::new();
    if m.read_only {
        options.push("ro".to_string());
    }
    if let Some(bind) = &m.bind {
        options.extend(bind.propagation.clone());
        options.extend(bind.selinux.clone());
    }
    let source = m.source.clone().unwrap_or_default();
    if options.is_empty() {
        format!("{source}:{}", m.target)
    } else {
        format!("{source}:{}:{}", m.target, options.join(","))
    }
}

fn api_mount(project: &Project, m: &Mount) -> ApiMount {
    let mut mount = ApiMount {
        target: Some(m.target.clone()),
        read_only: Some(m.read_only).filter(|r| *r),
        consistency: m.consistency.clone(),
        ..Default::default()
    };
    match m.kind {
        MountKind::Volume => {
            mount.typ = Some(MountType::VOLUME);
            mount.source = m.source.as_deref().map(|key| volume_name(project, key));
            if m.volume.as_ref().is_some_and(|v| v.nocopy) {
                mount.volume_options = Some(MountVolumeOptions {
                    no_copy: Some(true),
                    ..Default::default()
                });
            }
        }
        MountKind::Bind => {
            mount.typ = Some(MountType::BIND);
            mount.source = m.source.clone();
            mount.bind_options = m
                .bind
                .as_ref()
                .map(bind_options)
                .filter(|o| *o != MountBindOptions::default());
        }
        MountKind::Tmpfs => {
            mount.typ = Some(MountType::TMPFS);
            if let Some(tmpfs) = &m.tmpfs {
                mount.tmpfs_options = Some(MountTmpfsOptions {
                    size_bytes: tmpfs.size.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
                    mode: tmpfs.mode.map(i64::from),
                    ..Default::default()
                });
            }
        }
        MountKind::Npipe => {
            mount.typ = Some(MountType::NPIPE);
            mount.source = m.source.clone();
        }
        MountKind::Image => {
            mount.typ = Some(MountType::IMAGE);
            mount.source = m.source.clone();
        }
    }
    mount
}

/// A bind's options as compose sends them: propagation, `recursive`
/// (`disabled`, `writable`, `readonly`; the last two are API 1.44+, which
/// older engines ignore) and `create_host_path` as `CreateMountpoint`
/// (API 1.42+). `selinux` has no Mount API form (compose drops it too).
fn bind_options(bind: &BindOptions) -> MountBindOptions {
    let recursive = bind.recursive.as_deref();
    MountBindOptions {
        propagation: bind.propagation.as_deref().and_then(propagation),
        non_recursive: (recursive == Some("disabled")).then_some(true),
        read_only_non_recursive: (recursive == Some("writable")).then_some(true),
        read_only_force_recursive: (recursive == Some("readonly")).then_some(true),
        create_mountpoint: bind.create_host_path.then_some(true),
    }
}

fn propagation(p: &str) -> Option<MountBindOptionsPropagationEnum> {
    Some(match p {
        "private" => MountBindOptionsPropagationEnum::PRIVATE,
        "rprivate" => MountBindOptionsPropagationEnum::RPRIVATE,
        "shared" => MountBindOptionsPropagationEnum::SHARED,
        "rshared" => MountBindOptionsPropagationEnum::RSHARED,
        "slave" => MountBindOptionsPropagationEnum::SLAVE,
        "rslave" => MountBindOptionsPropagationEnum::RSLAVE,
        _ => return None,
    })
}

/// sha256 of the canonical JSON of the configuration-bearing parts (the
/// injected files and hooks only when there are any, so specs without them
/// hash as they always did).
fn hash_of(
    body: &ContainerCreateBody,
    extra_networks: &[(String, EndpointSettings)],
    injected: &[files::InjectedFile],
    post_start: &[hooks::Hook],
) -> String {
    let mut value = serde_json::json!({
        "container": body,
        "networks": extra_networks,
    });
    if !injected.is_empty() {
        value["files"] = serde_json::json!(injected);
    }
    if !post_start.is_empty() {
        value["post_start"] = serde_json::json!(post_start);
    }
    let canonical = canonical_json(&value);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// JSON text with object keys sorted at every depth, so equal values hash
/// equally whatever the order of the maps they came from.
pub fn canonical_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(k.clone()),
                        canonical_json(&map[k])
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// The service's `ulimits` as the API takes them (containers and Swarm tasks).
pub(crate) fn ulimits(service: &Service) -> Vec<ResourcesUlimits> {
    service
        .ulimits
        .iter()
        .map(|(name, u)| ResourcesUlimits {
            name: Some(name.clone()),
            soft: Some(u.soft),
            hard: Some(u.hard),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{
        Dependency, Deploy, Healthcheck, Logging, Port, ResourceSpec, Resources, ServiceNetwork,
        Ulimit,
    };
    use indexmap::IndexMap;
    use std::time::Duration;

    fn project_with(service: Service) -> Project {
        let mut services = IndexMap::new();
        services.insert(service.name.clone(), service);
        Project {
            name: "demo".into(),
            working_dir: "/srv/demo".into(),
            services,
            ..Default::default()
        }
    }

    fn web() -> Service {
        Service {
            name: "web".into(),
            image: Some("busybox".into()),
            command: Some(vec!["sleep".into(), "60".into()]),
            environment: IndexMap::from([
                ("A".to_string(), Some("1".to_string())),
                ("B".to_string(), None),
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn names_and_labels_follow_compose() {
        let project = project_with(web());
        let service = &project.services["web"];
        let bp = blueprint(&project, service, "busybox");
        let ReplicaRequest { name, body, .. } = bp.for_replica(&project, service, 2);
        assert_eq!(name, "demo-web-2");
        let labels = body.labels.unwrap();
        assert_eq!(labels[labels::PROJECT], "demo");
        assert_eq!(labels[labels::SERVICE], "web");
        assert_eq!(labels[labels::CONTAINER_NUMBER], "2");
        assert_eq!(labels[labels::ONEOFF], "False");
        assert_eq!(labels[labels::CONFIG_HASH], bp.config_hash);
        assert_eq!(labels[labels::WORKING_DIR], "/srv/demo");
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints["demo_default"].aliases.as_deref(),
            Some(&["demo-web-2".to_string(), "web".to_string()][..]),
            "the container's name, then the service's, as compose"
        );
        assert_eq!(body.env.unwrap(), vec!["A=1".to_string(), "B".to_string()]);
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("demo_default"));
        let log = host.log_config.unwrap();
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        assert_eq!(log.config.unwrap()["max-size"], "10m");
    }

    /// Every network of a replica names it first and carries its numbered
    /// links; the config hash is the blueprint's, whatever the replica.
    #[test]
    fn replicas_get_their_name_as_alias_and_their_links_on_every_network() {
        let mut s = web();
        s.links = vec!["db".into()];
        s.networks = IndexMap::from([
            ("front".to_string(), ServiceNetwork::default()),
            ("back".to_string(), ServiceNetwork::default()),
        ]);
        let mut project = project_with(s);
        project.services.insert(
            "db".into(),
            Service {
                name: "db".into(),
                ..Default::default()
            },
        );
        let service = &project.services["web"];
        let bp = blueprint(&project, service, "busybox");
        let replica = bp.for_replica(&project, service, 2);
        let links = vec![
            "demo-db-1:db".to_string(),
            "demo-db-1:db-2".to_string(),
            "demo-db-1:demo-db-2".to_string(),
        ];
        let endpoints = replica
            .body
            .networking_config
            .as_ref()
            .and_then(|n| n.endpoints_config.clone())
            .unwrap();
        let first = &endpoints["demo_back"];
        let (extra_name, extra) = &replica.extra_networks[0];
        assert_eq!(extra_name, "demo_front");
        for endpoint in [first, extra] {
            assert_eq!(
                endpoint.aliases.as_deref(),
                Some(&["demo-web-2".to_string(), "web".to_string()][..])
            );
            assert_eq!(endpoint.links.as_ref(), Some(&links));
        }
        assert_eq!(replica.body.host_config.unwrap().links, Some(links));
        assert_eq!(
            replica.body.labels.unwrap()[labels::CONFIG_HASH],
            bp.config_hash
        );
        assert_eq!(
            bp.extra_networks[0].1.aliases.as_deref(),
            Some(&["web".to_string()][..]),
            "the blueprint itself stays per service"
        );
    }

    #[test]
    fn hash_is_stable_and_ignores_replicas_build_and_dependencies() {
        let project = project_with(web());
        let base = blueprint(&project, &project.services["web"], "busybox").config_hash;
        let again = blueprint(&project, &project.services["web"], "busybox").config_hash;
        assert_eq!(base, again);

        let mut scaled = web();
        scaled.deploy = Some(Deploy {
            replicas: Some(3),
            ..Default::default()
        });
        scaled.build = Some(Default::default());
        scaled.pull_policy = Some("always".into());
        scaled.depends_on.insert("db".into(), Dependency::default());
        let project2 = project_with(scaled);
        assert_eq!(
            blueprint(&project2, &project2.services["web"], "busybox").config_hash,
            base
        );

        let mut changed = web();
        changed.environment.insert("A".into(), Some("2".into()));
        let project3 = project_with(changed);
        assert_ne!(
            blueprint(&project3, &project3.services["web"], "busybox").config_hash,
            base
        );
        assert_ne!(
            blueprint(&project, &project.services["web"], "other-image").config_hash,
            base
        );
    }

    /// A service using every key torq applied before it applied the
    /// kernel, namespace and resource keys.
    fn rich() -> Service {
        let mut s = web();
        s.ports = vec![Port {
            target: 80,
            published: Some("8080".into()),
            host_ip: Some("127.0.0.1".into()),
            protocol: "tcp".into(),
            mode: "ingress".into(),
            ..Default::default()
        }];
        s.expose = vec!["9000".into()];
        s.healthcheck = Some(Healthcheck {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval: Some(Duration::from_secs(1)),
            timeout: Some(Duration::from_millis(500)),
            retries: Some(3),
            start_period: Some(Duration::from_secs(2)),
            start_interval: Some(Duration::from_secs(1)),
            disable: false,
        });
        s.init = Some(true);
        s.tty = true;
        s.ulimits = IndexMap::from([(
            "nofile".to_string(),
            Ulimit {
                soft: 10,
                hard: 20,
                ..Default::default()
            },
        )]);
        s.logging = Some(Logging {
            driver: Some("local".into()),
            options: IndexMap::new(),
        });
        s.cap_add = vec!["NET_ADMIN".into()];
        s.cap_drop = vec!["ALL".into()];
        s.extra_hosts = vec!["db=10.0.0.1".into()];
        s.restart = Some("on-failure:3".into());
        s.stop_signal = Some("SIGINT".into());
        s.stop_grace_period = Some(Duration::from_secs(3));
        s.shm_size = Some(1 << 20);
        s.user = Some("1000".into());
        s.working_dir = Some("/w".into());
        s.deploy = Some(Deploy {
            resources: Resources {
                limits: Some(ResourceSpec {
                    cpus: Some(0.5),
                    memory: Some(1 << 26),
                    pids: Some(100),
                    ..Default::default()
                }),
                reservations: None,
            },
            ..Default::default()
        });
        s.networks = IndexMap::from([
            (
                "front".to_string(),
                ServiceNetwork {
                    aliases: vec!["www".into()],
                    ..Default::default()
                },
            ),
            ("back".to_string(), ServiceNetwork::default()),
        ]);
        s.volumes = vec![
            Mount {
                kind: MountKind::Volume,
                source: Some("data".into()),
                target: "/data".into(),
                ..Default::default()
            },
            Mount {
                kind: MountKind::Bind,
                source: Some("/tmp/x".into()),
                target: "/x".into(),
                read_only: true,
                bind: Some(crate::compose::model::BindOptions {
                    create_host_path: true,
                    ..Default::default()
                }),
                ..Default::default()
            },
            Mount {
                kind: MountKind::Tmpfs,
                target: "/t".into(),
                tmpfs: Some(crate::compose::model::TmpfsOptions {
                    size: Some(1000),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ];
        s
    }

    #[test]
    fn every_field_reaches_the_request() {
        let s = rich();
        let project = project_with(s);
        let bp = blueprint(&project, &project.services["web"], "busybox");
        let body = &bp.body;
        let hc = body.healthcheck.as_ref().unwrap();
        assert_eq!(hc.interval, Some(1_000_000_000));
        assert_eq!(hc.timeout, Some(500_000_000));
        assert_eq!(hc.start_period, Some(2_000_000_000));
        assert_eq!(hc.retries, Some(3));
        assert_eq!(hc.start_interval, None, "API 1.41 has no start_interval");
        let mut exposed = body.exposed_ports.clone().unwrap();
        exposed.sort();
        assert_eq!(exposed, vec!["80/tcp".to_string(), "9000/tcp".to_string()]);
        assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(body.stop_timeout, Some(3));
        assert_eq!(body.user.as_deref(), Some("1000"));
        assert_eq!(body.working_dir.as_deref(), Some("/w"));
        assert_eq!(body.tty, Some(true));
        let host = body.host_config.as_ref().unwrap();
        let binding = &host.port_bindings.as_ref().unwrap()["80/tcp"]
            .as_ref()
            .unwrap()[0];
        assert_eq!(binding.host_port.as_deref(), Some("8080"));
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.ulimits.as_ref().unwrap()[0].hard, Some(20));
        assert_eq!(
            host.log_config.as_ref().unwrap().typ.as_deref(),
            Some("local")
        );
        assert_eq!(
            host.cap_add.as_deref(),
            Some(&["NET_ADMIN".to_string()][..])
        );
        assert_eq!(host.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
        assert_eq!(
            host.extra_hosts.as_deref(),
            Some(&["db:10.0.0.1".to_string()][..])
        );
        let rp = host.restart_policy.as_ref().unwrap();
        assert_eq!(rp.name, Some(RestartPolicyNameEnum::ON_FAILURE));
        assert_eq!(rp.maximum_retry_count, Some(3));
        assert_eq!(host.shm_size, Some(1 << 20));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.memory, Some(1 << 26));
        assert_eq!(host.pids_limit, Some(100));
        assert_eq!(
            host.binds.as_deref(),
            Some(&["/tmp/x:/x:ro".to_string()][..])
        );
        let mounts = host.mounts.as_ref().unwrap();
        assert_eq!(mounts[0].source.as_deref(), Some("demo_data"));
        assert_eq!(mounts[1].typ, Some(MountType::TMPFS));
        // Two networks: `back` and `front` have equal priority, so by name.
        assert_eq!(host.network_mode.as_deref(), Some("demo_back"));
        assert_eq!(bp.extra_networks.len(), 1);
        assert_eq!(bp.extra_networks[0].0, "demo_front");
        assert_eq!(
            bp.extra_networks[0].1.aliases.as_deref(),
            Some(&["web".to_string(), "www".to_string()][..])
        );
    }

    /// As compose, a bind without a `bind:` block goes through `Binds` (the
    /// engine creates its missing path), one with `recursive` through the
    /// Mount API with its options, one with `create_host_path: false` too.
    #[test]
    fn bind_mounts_take_the_api_compose_takes() {
        use crate::compose::model::BindOptions;
        let bind = |target: &str, options: Option<BindOptions>| Mount {
            kind: MountKind::Bind,
            source: Some(format!("/h{target}")),
            target: target.into(),
            bind: options,
            ..Default::default()
        };
        let mut s = web();
        s.volumes = vec![
            bind("/plain", None),
            bind(
                "/created",
                Some(BindOptions {
                    create_host_path: true,
                    propagation: Some("private".into()),
                    ..Default::default()
                }),
            ),
            bind("/kept", Some(BindOptions::default())),
            bind(
                "/flat",
                Some(BindOptions {
                    create_host_path: true,
                    recursive: Some("disabled".into()),
                    ..Default::default()
                }),
            ),
        ];
        let p = project_with(s);
        let request = serde_json::to_value(blueprint(&p, &p.services["web"], "bb").body).unwrap();
        assert_eq!(
            request.pointer("/HostConfig/Binds"),
            Some(&serde_json::json!([
                "/h/plain:/plain",
                "/h/created:/created:private"
            ]))
        );
        assert_eq!(
            request.pointer("/HostConfig/Mounts"),
            Some(&serde_json::json!([
                {"Type": "bind", "Source": "/h/kept", "Target": "/kept"},
                {"Type": "bind", "Source": "/h/flat", "Target": "/flat",
                 "BindOptions": {"NonRecursive": true, "CreateMountpoint": true}}
            ]))
        );
    }

    /// As compose: a healthcheck without a test keeps the image's test (none
    /// is sent) with the spec's timings; `disable` sends `NONE`, timings too.
    #[test]
    fn healthchecks_without_a_test_keep_the_images() {
        let health = |hc: Healthcheck| {
            let mut s = web();
            s.healthcheck = Some(hc);
            health_config(&s).unwrap()
        };
        let timed = health(Healthcheck {
            interval: Some(Duration::from_secs(30)),
            ..Default::default()
        });
        assert_eq!(timed.test, None);
        assert_eq!(timed.interval, Some(30_000_000_000));
        let disabled = health(Healthcheck {
            disable: true,
            retries: Some(2),
            ..Default::default()
        });
        assert_eq!(disabled.test, Some(vec!["NONE".to_string()]));
        assert_eq!(disabled.retries, Some(2));
    }

    /// As compose: `deploy.restart_policy` wins over `restart:`, its
    /// condition maps to the engine's policy, and no condition means none.
    #[test]
    fn restart_policy_follows_compose() {
        use crate::compose::model::RestartPolicy as DeployRestart;
        let policy = |restart: Option<&str>, condition: Option<&str>, attempts: Option<u64>| {
            let s = Service {
                restart: restart.map(String::from),
                deploy: (condition.is_some() || attempts.is_some()).then(|| Deploy {
                    restart_policy: Some(DeployRestart {
                        condition: condition.map(String::from),
                        max_attempts: attempts,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let rp = restart_policy(&s);
            (rp.name.unwrap(), rp.maximum_retry_count)
        };
        use RestartPolicyNameEnum::*;
        assert_eq!(policy(None, None, None), (NO, None));
        assert_eq!(
            policy(Some("on-failure:2"), None, None),
            (ON_FAILURE, Some(2))
        );
        assert_eq!(
            policy(Some("unless-stopped"), None, None),
            (UNLESS_STOPPED, None)
        );
        assert_eq!(
            policy(Some("always"), Some("on-failure"), Some(3)),
            (ON_FAILURE, Some(3)),
            "deploy.restart_policy wins"
        );
        assert_eq!(
            policy(None, Some("unless-stopped"), None),
            (UNLESS_STOPPED, None)
        );
        assert_eq!(policy(None, Some("any"), Some(3)), (ALWAYS, None));
        assert_eq!(policy(None, Some("none"), None), (NO, None));
        assert_eq!(
            policy(Some("always"), None, Some(5)),
            (NO, None),
            "no condition: no restart"
        );
    }

    #[test]
    fn network_mode_service_points_at_its_first_container() {
        let mut s = web();
        s.network_mode = Some("service:db".into());
        let project = project_with(s);
        let bp = blueprint(&project, &project.services["web"], "busybox");
        let host = bp.body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("container:demo-db-1"));
        assert!(bp.body.networking_config.is_none());
    }

    /// Specs that use none of the newly applied keys hash exactly as torq
    /// 0.1 hashed them (values computed by that version): upgrading torq
    /// must not recreate every running container.
    #[test]
    fn hashes_of_existing_specs_are_stable() {
        let plain = project_with(web());
        assert_eq!(
            blueprint(&plain, &plain.services["web"], "busybox").config_hash,
            "ff2f4fe8c7597946cf040b130ed1234d7a88c4b0c5780f168b579ec2f29efde1"
        );
        let rich = project_with(rich());
        assert_eq!(
            blueprint(&rich, &rich.services["web"], "busybox").config_hash,
            "9f4ae12b7e9e84b95545f3c952384a3c9a81274c25ebc9b3891312a649d153a2"
        );
    }

    /// Each kernel, namespace and resource key of the model reaches the
    /// create request under the API's field name, and changes the config
    /// hash.
    #[test]
    fn service_keys_reach_the_request_json_and_the_hash() {
        use serde_json::json;
        let base = {
            let p = project_with(web());
            blueprint(&p, &p.services["web"], "busybox").config_hash
        };
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        type Case = (
            &'static str,
            Box<dyn Fn(&mut Service)>,
            &'static str,
            serde_json::Value,
        );
        let cases: Vec<Case> = vec![
            (
                "mem_limit",
                Box::new(|s| s.mem_limit = Some(67108864)),
                "/HostConfig/Memory",
                json!(67108864),
            ),
            (
                "memswap_limit",
                Box::new(|s| s.memswap_limit = Some(-1)),
                "/HostConfig/MemorySwap",
                json!(-1),
            ),
            (
                "mem_reservation",
                Box::new(|s| s.mem_reservation = Some(1024)),
                "/HostConfig/MemoryReservation",
                json!(1024),
            ),
            (
                "mem_swappiness",
                Box::new(|s| s.mem_swappiness = Some(10)),
                "/HostConfig/MemorySwappiness",
                json!(10),
            ),
            (
                "cpus",
                Box::new(|s| s.cpus = Some(0.25)),
                "/HostConfig/NanoCpus",
                json!(250000000),
            ),
            (
                "cpu_shares",
                Box::new(|s| s.cpu_shares = Some(512)),
                "/HostConfig/CpuShares",
                json!(512),
            ),
            (
                "cpu_period",
                Box::new(|s| s.cpu_period = Some(100000)),
                "/HostConfig/CpuPeriod",
                json!(100000),
            ),
            (
                "cpu_quota",
                Box::new(|s| s.cpu_quota = Some(50000)),
                "/HostConfig/CpuQuota",
                json!(50000),
            ),
            (
                "cpu_rt_period",
                Box::new(|s| s.cpu_rt_period = Some(1000000)),
                "/HostConfig/CpuRealtimePeriod",
                json!(1000000),
            ),
            (
                "cpu_rt_runtime",
                Box::new(|s| s.cpu_rt_runtime = Some(95000)),
                "/HostConfig/CpuRealtimeRuntime",
                json!(95000),
            ),
            (
                "cpuset",
                Box::new(|s| s.cpuset = Some("0".into())),
                "/HostConfig/CpusetCpus",
                json!("0"),
            ),
            (
                "pids_limit",
                Box::new(|s| s.pids_limit = Some(50)),
                "/HostConfig/PidsLimit",
                json!(50),
            ),
            (
                "oom_kill_disable",
                Box::new(|s| s.oom_kill_disable = true),
                "/HostConfig/OomKillDisable",
                json!(true),
            ),
            (
                "oom_score_adj",
                Box::new(|s| s.oom_score_adj = Some(-500)),
                "/HostConfig/OomScoreAdj",
                json!(-500),
            ),
            (
                "blkio_config",
                Box::new(|s| {
                    s.blkio_config = Some(crate::compose::model::BlkioConfig {
                        weight: Some(500),
                        ..Default::default()
                    })
                }),
                "/HostConfig/BlkioWeight",
                json!(500),
            ),
            (
                "devices",
                Box::new(|s| {
                    s.devices = vec![crate::compose::model::DeviceMapping {
                        source: "/dev/null".into(),
                        target: "/dev/x".into(),
                        permissions: "r".into(),
                    }]
                }),
                "/HostConfig/Devices/0",
                json!({"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "r"}),
            ),
            (
                "device_cgroup_rules",
                Box::new(move |s| s.device_cgroup_rules = strings(&["c 1:3 r"])),
                "/HostConfig/DeviceCgroupRules",
                json!(["c 1:3 r"]),
            ),
            (
                "gpus",
                Box::new(|s| {
                    s.gpus = vec![crate::compose::model::DeviceRequest {
                        count: Some(-1),
                        ..Default::default()
                    }]
                }),
                "/HostConfig/DeviceRequests/0",
                json!({"Count": -1, "Capabilities": [["gpu"]]}),
            ),
            (
                "group_add",
                Box::new(move |s| s.group_add = strings(&["audio"])),
                "/HostConfig/GroupAdd",
                json!(["audio"]),
            ),
            (
                "runtime",
                Box::new(|s| s.runtime = Some("runc".into())),
                "/HostConfig/Runtime",
                json!("runc"),
            ),
            (
                "storage_opt",
                Box::new(|s| s.storage_opt = [("size".to_string(), "1G".to_string())].into()),
                "/HostConfig/StorageOpt",
                json!({"size": "1G"}),
            ),
            (
                "sysctls",
                Box::new(|s| {
                    s.sysctls = [("net.ipv4.ip_forward".to_string(), "1".to_string())].into()
                }),
                "/HostConfig/Sysctls",
                json!({"net.ipv4.ip_forward": "1"}),
            ),
            (
                "security_opt",
                Box::new(move |s| s.security_opt = strings(&["no-new-privileges"])),
                "/HostConfig/SecurityOpt",
                json!(["no-new-privileges"]),
            ),
            (
                "tmpfs",
                Box::new(move |s| s.tmpfs = strings(&["/run:size=1m"])),
                "/HostConfig/Tmpfs",
                json!({"/run": "size=1m"}),
            ),
            (
                "dns_search",
                Box::new(move |s| s.dns_search = strings(&["example.com"])),
                "/HostConfig/DnsSearch",
                json!(["example.com"]),
            ),
            (
                "dns_opt",
                Box::new(move |s| s.dns_opt = strings(&["ndots:1"])),
                "/HostConfig/DnsOptions",
                json!(["ndots:1"]),
            ),
            (
                "userns_mode",
                Box::new(|s| s.userns_mode = Some("host".into())),
                "/HostConfig/UsernsMode",
                json!("host"),
            ),
            (
                "pid",
                Box::new(|s| s.pid = Some("service:db".into())),
                "/HostConfig/PidMode",
                json!("container:demo-db-1"),
            ),
            (
                "ipc",
                Box::new(|s| s.ipc = Some("shareable".into())),
                "/HostConfig/IpcMode",
                json!("shareable"),
            ),
            (
                "uts",
                Box::new(|s| s.uts = Some("host".into())),
                "/HostConfig/UTSMode",
                json!("host"),
            ),
            (
                "cgroup",
                Box::new(|s| s.cgroup = Some("host".into())),
                "/HostConfig/CgroupnsMode",
                json!("host"),
            ),
            (
                "cgroup_parent",
                Box::new(|s| s.cgroup_parent = Some("/torq".into())),
                "/HostConfig/CgroupParent",
                json!("/torq"),
            ),
            (
                "volumes_from",
                Box::new(move |s| s.volumes_from = strings(&["db:ro"])),
                "/HostConfig/VolumesFrom",
                json!(["demo-db-1:ro"]),
            ),
            (
                "links",
                Box::new(move |s| s.links = strings(&["db:database"])),
                "/HostConfig/Links",
                json!(["demo-db-1:database"]),
            ),
            (
                "links",
                Box::new(move |s| s.links = strings(&["db:database"])),
                "/NetworkingConfig/EndpointsConfig/demo_default/Links",
                json!(["demo-db-1:database"]),
            ),
            (
                "external_links",
                Box::new(move |s| s.external_links = strings(&["redis:cache"])),
                "/HostConfig/Links",
                json!(["redis:cache"]),
            ),
        ];
        for (key, set, pointer, expected) in cases {
            let mut s = web();
            set(&mut s);
            let mut p = project_with(s);
            p.services.insert(
                "db".into(),
                Service {
                    name: "db".into(),
                    ..Default::default()
                },
            );
            let bp = blueprint(&p, &p.services["web"], "busybox");
            let request = serde_json::to_value(&bp.body).unwrap();
            assert_eq!(
                request.pointer(pointer),
                Some(&expected),
                "{key} → {pointer}"
            );
            assert_ne!(bp.config_hash, base, "{key} must change the config hash");
        }
    }

    #[test]
    fn secrets_and_configs_mount_or_inject_and_hash() {
        use crate::compose::model::{FileMount, FileObject};
        let mut s = web();
        s.secrets = vec![FileMount {
            source: "token".into(),
            target: Some("/run/secrets/token".into()),
            ..Default::default()
        }];
        s.configs = vec![FileMount {
            source: "motd".into(),
            ..Default::default()
        }];
        let mut p = project_with(s);
        p.secrets.insert(
            "token".into(),
            FileObject {
                file: Some("/srv/demo/token.txt".into()),
                ..Default::default()
            },
        );
        p.configs.insert(
            "motd".into(),
            FileObject {
                content: Some("hello".into()),
                ..Default::default()
            },
        );
        let bp = blueprint(&p, &p.services["web"], "busybox");
        let request = serde_json::to_value(&bp.body).unwrap();
        assert_eq!(
            request.pointer("/HostConfig/Mounts/0"),
            Some(&serde_json::json!({
                "Target": "/run/secrets/token", "Source": "/srv/demo/token.txt",
                "Type": "bind", "ReadOnly": true
            }))
        );
        assert_eq!(bp.injected_files.len(), 1);
        assert_eq!(bp.injected_files[0].target, "/motd");
        let before = bp.config_hash;
        p.configs["motd"].content = Some("changed".into());
        let after = blueprint(&p, &p.services["web"], "busybox").config_hash;
        assert_ne!(before, after, "injected content is part of the hash");
    }

    #[test]
    fn post_start_hooks_reach_the_blueprint_and_the_hash() {
        let mut s = web();
        let plain = {
            let p = project_with(s.clone());
            blueprint(&p, &p.services["web"], "busybox").config_hash
        };
        s.post_start = vec![crate::compose::model::Hook {
            command: Some(vec!["touch".into(), "/ready".into()]),
            ..Default::default()
        }];
        let p = project_with(s);
        let bp = blueprint(&p, &p.services["web"], "busybox");
        assert_eq!(bp.post_start[0].command, vec!["touch", "/ready"]);
        assert_ne!(bp.config_hash, plain);
    }

    #[test]
    fn check_service_names_what_cannot_be_created() {
        let mut s = web();
        s.security_opt = vec!["seccomp=/nonexistent/profile.json".into()];
        let p = project_with(s);
        let check = check_service(&p, &p.services["web"]);
        assert!(
            check.errors[0].contains("/nonexistent/profile.json"),
            "{check:?}"
        );
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let a = serde_json::json!({"b": 1, "a": {"d": 2, "c": [3, {"f": 1, "e": 0}]}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":[3,{"e":0,"f":1}],"d":2},"b":1}"#
        );
    }
}
