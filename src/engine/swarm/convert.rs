//! A compose project as Swarm object specs, the way `docker stack deploy`
//! converts it: services named `STACK_SERVICE` with the
//! `com.docker.stack.namespace` label on the service and its containers and
//! `com.docker.stack.image` on the service; networks `STACK_NAME` (overlay
//! unless the spec names a driver; `STACK_default` for services without
//! networks); named volumes `STACK_NAME` with the namespace label.
//!
//! Where torq differs: secrets and configs are content addressed
//! (`STACK_NAME-<hash>`), so a changed file creates a new object and rolls
//! the services using it, where `docker stack deploy` fails to update it; a
//! spec hash label marks each service, so a re-deploy of the same spec changes
//! nothing. Keys Swarm cannot apply get the warnings `docker stack deploy`
//! prints, except `depends_on`, which torq honors (rollout order) and
//! `build`, which torq runs before deploying.
//!
//! Pure except for reading the files secrets and configs come from.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    EndpointPortConfig, EndpointSpec, HealthConfig, Limit, Mount as ApiMount, MountBindOptions,
    MountTmpfsOptions, MountVolumeOptions, MountVolumeOptionsDriverConfig, NetworkAttachmentConfig,
    ResourceObject, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecRollbackConfig, ServiceSpecUpdateConfig, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecDnsConfig, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources,
    TaskSpecRestartPolicy,
};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use super::{api_enum, IMAGE_LABEL, NAMESPACE_LABEL, SPEC_HASH_LABEL};
use crate::compose::model::{
    Deploy, FileMount, FileObject, Healthcheck, Mount, MountKind, Port, Project, ResourceSpec,
    Service, UpdateConfig,
};

/// Keys `docker stack deploy` ignores with "Ignoring unsupported options"
/// (its `UnsupportedProperties`, less `build`, which torq runs, and
/// `restart`, which it maps to a restart policy when `deploy.restart_policy`
/// is absent, as `docker stack deploy` does).
const UNSUPPORTED: &[&str] = &[
    "cgroup",
    "cgroup_parent",
    "devices",
    "domainname",
    "external_links",
    "ipc",
    "links",
    "mac_address",
    "network_mode",
    "pid",
    "privileged",
    "security_opt",
    "shm_size",
    "userns_mode",
];

/// Keys `docker stack deploy` ignores as deprecated, with its reasons.
const DEPRECATED: &[(&str, &str)] = &[
    ("container_name", "Setting the container name is not supported."),
    (
        "expose",
        "Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
    ),
];

/// The image each service runs: the reference and the engine's image id
/// (the id goes into the spec hash, so a rebuilt image rolls the service).
pub type Images = HashMap<String, (String, String)>;

/// A whole stack, ready to create.
#[derive(Debug, Clone, Default)]
pub struct StackSpec {
    /// The stack (project) name.
    pub name: String,
    /// Per compose service, in spec order.
    pub services: IndexMap<String, ServicePlan>,
    pub networks: Vec<NetworkPlan>,
    pub secrets: Vec<FilePlan>,
    pub configs: Vec<FilePlan>,
    /// What Swarm will not apply, worded as `docker stack deploy` words it.
    pub warnings: Vec<String>,
}

/// One service's Swarm spec and its identity.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    /// `STACK_SERVICE`.
    pub name: String,
    /// The spec, with secret and config ids still unset ([`StackSpec`]'s
    /// objects are created first; see [`fill_object_ids`]).
    pub spec: ServiceSpec,
    /// The spec hash (also in the spec's labels).
    pub hash: String,
    /// Replicas wanted; `None` for a global service (one per eligible node).
    pub replicas: Option<u64>,
    /// `update_config.failure_action` (`pause` when unset, as Swarm).
    pub failure_action: String,
}

/// A network of the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPlan {
    pub name: String,
    pub driver: String,
    pub external: bool,
    pub internal: bool,
    pub attachable: bool,
    pub options: HashMap<String, String>,
    pub labels: HashMap<String, String>,
}

/// A secret or config of the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePlan {
    /// The spec's key.
    pub key: String,
    /// The engine-side name (content addressed unless external).
    pub name: String,
    pub external: bool,
    /// The content (empty when external).
    pub data: Vec<u8>,
    pub labels: HashMap<String, String>,
}

/// Why a project cannot become a stack.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("service {service}: {message}")]
    Service { service: String, message: String },
    #[error("{kind} {key}: cannot read {path}: {reason}")]
    Unreadable {
        kind: &'static str,
        key: String,
        path: String,
        reason: String,
    },
}

fn service_error(service: &Service, message: impl Into<String>) -> ConvertError {
    ConvertError::Service {
        service: service.name.clone(),
        message: message.into(),
    }
}

/// Converts `project` into a stack; `images` gives each service's image.
pub fn stack_spec(project: &Project, images: &Images) -> Result<StackSpec, ConvertError> {
    let stack = project.name.clone();
    let secrets = file_plans(project, &project.secrets, "secret")?;
    let configs = file_plans(project, &project.configs, "config")?;
    let mut services = IndexMap::new();
    for (key, service) in &project.services {
        let plan = service_plan(project, service, images, &secrets, &configs)?;
        services.insert(key.clone(), plan);
    }
    Ok(StackSpec {
        networks: network_plans(project),
        warnings: warnings(project),
        name: stack,
        services,
        secrets,
        configs,
    })
}

/// `STACK_NAME`, as `docker stack deploy` scopes names.
pub fn scoped(stack: &str, name: &str) -> String {
    format!("{stack}_{name}")
}

fn with_namespace(stack: &str, labels: &IndexMap<String, String>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = labels.clone().into_iter().collect();
    out.insert(NAMESPACE_LABEL.into(), stack.into());
    out
}

/// The warnings `docker stack deploy` prints for keys Swarm ignores.
fn warnings(project: &Project) -> Vec<String> {
    let mut unsupported: Vec<&str> = Vec::new();
    let mut deprecated: Vec<(&str, &str)> = Vec::new();
    for service in project.services.values() {
        for key in UNSUPPORTED {
            if uses_key(service, key) && !unsupported.contains(key) {
                unsupported.push(key);
            }
        }
        for (key, why) in DEPRECATED {
            if uses_key(service, key) && !deprecated.iter().any(|(k, _)| k == key) {
                deprecated.push((key, why));
            }
        }
        if service.restart.is_some()
            && service
                .deploy
                .as_ref()
                .is_some_and(|d| d.restart_policy.is_some())
        {
            unsupported.push("restart");
        }
    }
    unsupported.sort_unstable();
    unsupported.dedup();
    let mut out = Vec::new();
    if !unsupported.is_empty() {
        out.push(format!(
            "Ignoring unsupported options: {}",
            unsupported.join(", ")
        ));
    }
    for (key, why) in deprecated {
        out.push(format!("Ignoring deprecated option {key}: {why}"));
    }
    out
}

/// Whether `service` sets the compose key `key` (one of [`UNSUPPORTED`] or
/// [`DEPRECATED`]).
fn uses_key(service: &Service, key: &str) -> bool {
    match key {
        "cgroup" => service.cgroup.is_some(),
        "cgroup_parent" => service.cgroup_parent.is_some(),
        "devices" => !service.devices.is_empty(),
        "domainname" => service.domainname.is_some(),
        "external_links" => !service.external_links.is_empty(),
        "ipc" => service.ipc.is_some(),
        "links" => !service.links.is_empty(),
        "mac_address" => service.mac_address.is_some(),
        "network_mode" => service.network_mode.is_some(),
        "pid" => service.pid.is_some(),
        "privileged" => service.privileged,
        "security_opt" => !service.security_opt.is_empty(),
        "shm_size" => service.shm_size.is_some(),
        "userns_mode" => service.userns_mode.is_some(),
        "container_name" => service.container_name.is_some(),
        "expose" => !service.expose.is_empty(),
        _ => false,
    }
}

fn network_plans(project: &Project) -> Vec<NetworkPlan> {
    let used: Vec<&String> = project
        .services
        .values()
        .flat_map(|s| service_networks(s).into_iter())
        .collect();
    let mut plans = Vec::new();
    for key in used {
        let name = network_name(project, key);
        if plans.iter().any(|p: &NetworkPlan| p.name == name) {
            continue;
        }
        let spec = project
            .networks
            .get(key.as_str())
            .cloned()
            .unwrap_or_default();
        plans.push(NetworkPlan {
            name,
            driver: spec.driver.clone().unwrap_or_else(|| "overlay".into()),
            external: spec.external,
            internal: spec.internal,
            attachable: spec.attachable,
            options: spec.driver_opts.clone().into_iter().collect(),
            labels: with_namespace(&project.name, &spec.labels),
        });
    }
    plans
}

/// The networks a service joins (`default` when it names none).
fn service_networks(service: &Service) -> Vec<&String> {
    static DEFAULT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if service.networks.is_empty() {
        return vec![DEFAULT.get_or_init(|| "default".to_string())];
    }
    service.networks.keys().collect()
}

fn network_name(project: &Project, key: &str) -> String {
    match project.networks.get(key) {
        Some(network) if !network.name.is_empty() => network.name.clone(),
        _ => scoped(&project.name, key),
    }
}

fn file_plans(
    project: &Project,
    objects: &IndexMap<String, FileObject>,
    kind: &'static str,
) -> Result<Vec<FilePlan>, ConvertError> {
    objects
        .iter()
        .map(|(key, object)| file_plan(project, key, object, kind))
        .collect()
}

fn file_plan(
    project: &Project,
    key: &str,
    object: &FileObject,
    kind: &'static str,
) -> Result<FilePlan, ConvertError> {
    if object.external {
        return Ok(FilePlan {
            key: key.into(),
            name: object.name.clone(),
            external: true,
            data: Vec::new(),
            labels: HashMap::new(),
        });
    }
    let data = file_content(key, object, kind)?;
    let base = if object.name.is_empty() {
        scoped(&project.name, key)
    } else {
        object.name.clone()
    };
    Ok(FilePlan {
        key: key.into(),
        name: format!("{base}-{}", &hash_bytes(&data)[..10]),
        external: false,
        data,
        labels: with_namespace(&project.name, &object.labels),
    })
}

fn file_content(
    key: &str,
    object: &FileObject,
    kind: &'static str,
) -> Result<Vec<u8>, ConvertError> {
    if let Some(path) = &object.file {
        return std::fs::read(path).map_err(|e| ConvertError::Unreadable {
            kind,
            key: key.into(),
            path: path.display().to_string(),
            reason: e.to_string(),
        });
    }
    if let Some(content) = &object.content {
        return Ok(content.clone().into_bytes());
    }
    Ok(object
        .environment_value
        .clone()
        .unwrap_or_default()
        .into_bytes())
}

fn hash_bytes(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn service_plan(
    project: &Project,
    service: &Service,
    images: &Images,
    secrets: &[FilePlan],
    configs: &[FilePlan],
) -> Result<ServicePlan, ConvertError> {
    let (image, image_id) = images
        .get(&service.name)
        .cloned()
        .or_else(|| service.image.clone().map(|i| (i, String::new())))
        .ok_or_else(|| service_error(service, "has neither `image` nor `build`"))?;
    let deploy = service.deploy.clone().unwrap_or_default();
    let stack = &project.name;
    let mut container = container_spec(project, service, &image)?;
    container.secrets = some_vec(secret_refs(service, secrets));
    container.configs = some_vec(config_refs(service, configs));
    let (mode, replicas) = mode(service, &deploy)?;
    let mut labels = with_namespace(stack, &deploy.labels);
    labels.insert(IMAGE_LABEL.into(), service.image.clone().unwrap_or(image));
    let mut spec = ServiceSpec {
        name: Some(scoped(stack, &service.name)),
        labels: Some(labels),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(resources(&deploy)?).filter(|r| *r != TaskSpecResources::default()),
            restart_policy: restart_policy(service, &deploy)?,
            placement: placement(&deploy),
            networks: Some(network_attachments(project, service)),
            log_driver: service.logging.as_ref().map(|l| TaskSpecLogDriver {
                name: l.driver.clone(),
                options: Some(l.options.clone().into_iter().collect()),
            }),
            ..TaskSpec::default()
        }),
        mode: Some(mode),
        update_config: deploy.update_config.as_ref().map(update_config),
        rollback_config: rollback_config(&deploy),
        endpoint_spec: Some(endpoint(service, &deploy)?),
        ..ServiceSpec::default()
    };
    let hash = spec_hash(&spec, &image_id);
    set_hash(&mut spec, &hash);
    Ok(ServicePlan {
        name: scoped(stack, &service.name),
        spec,
        hash,
        replicas,
        failure_action: deploy
            .update_config
            .and_then(|u| u.failure_action)
            .unwrap_or_else(|| "pause".into()),
    })
}

/// The hash of a spec (before the hash label is set) and its image id.
fn spec_hash(spec: &ServiceSpec, image_id: &str) -> String {
    let json = serde_json::to_vec(&sorted_json(spec)).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(&json);
    hasher.update(image_id.as_bytes());
    hex::encode(hasher.finalize())[..16].to_string()
}

/// The spec as JSON with object keys sorted (labels are hash maps).
fn sorted_json(spec: &ServiceSpec) -> serde_json::Value {
    fn sort(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sort(v))).collect())
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sort).collect())
            }
            other => other,
        }
    }
    sort(serde_json::to_value(spec).unwrap_or_default())
}

/// Puts the hash on the service and on its containers (so each task says
/// which spec it runs).
fn set_hash(spec: &mut ServiceSpec, hash: &str) {
    spec.labels
        .get_or_insert_with(HashMap::new)
        .insert(SPEC_HASH_LABEL.into(), hash.into());
    if let Some(container) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    {
        container
            .labels
            .get_or_insert_with(HashMap::new)
            .insert(SPEC_HASH_LABEL.into(), hash.into());
    }
}

/// Sets the engine ids of the secrets and configs a spec references.
pub fn fill_object_ids(spec: &mut ServiceSpec, ids: &HashMap<String, String>) {
    let Some(container) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    else {
        return;
    };
    for secret in container.secrets.iter_mut().flatten() {
        secret.secret_id = secret
            .secret_name
            .as_ref()
            .and_then(|n| ids.get(n))
            .cloned();
    }
    for config in container.configs.iter_mut().flatten() {
        config.config_id = config
            .config_name
            .as_ref()
            .and_then(|n| ids.get(n))
            .cloned();
    }
}

fn some_vec<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn container_spec(
    project: &Project,
    service: &Service,
    image: &str,
) -> Result<TaskSpecContainerSpec, ConvertError> {
    let mut env: Vec<String> = service
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    env.sort();
    Ok(TaskSpecContainerSpec {
        image: Some(image.to_string()),
        labels: Some(with_namespace(&project.name, &service.labels)),
        command: service.entrypoint.clone(),
        args: service.command.clone(),
        hostname: service.hostname.clone(),
        env: some_vec(env),
        dir: service.working_dir.clone(),
        user: service.user.clone(),
        tty: service.tty.then_some(true),
        open_stdin: service.stdin_open.then_some(true),
        read_only: service.read_only.then_some(true),
        mounts: some_vec(mounts(project, service)?),
        stop_signal: service.stop_signal.clone(),
        stop_grace_period: service.stop_grace_period.map(nanos),
        health_check: service.healthcheck.as_ref().map(healthcheck),
        hosts: some_vec(hosts(&service.extra_hosts)),
        dns_config: (!service.dns.is_empty()).then(|| TaskSpecContainerSpecDnsConfig {
            nameservers: Some(service.dns.clone()),
            ..Default::default()
        }),
        init: service.init,
        capability_add: some_vec(service.cap_add.clone()),
        capability_drop: some_vec(service.cap_drop.clone()),
        ulimits: some_vec(crate::engine::container::ulimits(service)),
        ..TaskSpecContainerSpec::default()
    })
}

/// `extra_hosts` (`host:ip`) in the `/etc/hosts` order Swarm takes (`ip host`).
fn hosts(extra: &[String]) -> Vec<String> {
    extra
        .iter()
        .filter_map(|entry| entry.split_once(':'))
        .map(|(host, ip)| format!("{ip} {host}"))
        .collect()
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The healthcheck; `start_interval` is left out (API 1.44+).
fn healthcheck(check: &Healthcheck) -> HealthConfig {
    let test = if check.is_enabled() {
        check.test.clone()
    } else {
        vec!["NONE".to_string()]
    };
    HealthConfig {
        test: Some(test),
        interval: check.interval.map(nanos),
        timeout: check.timeout.map(nanos),
        retries: check.retries.and_then(|r| i64::try_from(r).ok()),
        start_period: check.start_period.map(nanos),
        start_interval: None,
    }
}

fn mounts(project: &Project, service: &Service) -> Result<Vec<ApiMount>, ConvertError> {
    service
        .volumes
        .iter()
        .map(|m| mount(project, service, m))
        .collect()
}

fn mount(project: &Project, service: &Service, m: &Mount) -> Result<ApiMount, ConvertError> {
    let mut out = ApiMount {
        target: Some(m.target.clone()),
        read_only: m.read_only.then_some(true),
        consistency: m.consistency.clone(),
        ..ApiMount::default()
    };
    match m.kind {
        MountKind::Volume => {
            let volume = m.source.as_ref().and_then(|k| project.volumes.get(k));
            out.typ = api_enum("volume");
            out.source = volume.map(|v| v.name.clone());
            out.volume_options = Some(MountVolumeOptions {
                no_copy: m.volume.as_ref().is_some_and(|v| v.nocopy).then_some(true),
                labels: volume
                    .filter(|v| !v.external)
                    .map(|v| with_namespace(&project.name, &v.labels)),
                driver_config: volume.and_then(|v| v.driver.clone()).map(|name| {
                    MountVolumeOptionsDriverConfig {
                        name: Some(name),
                        options: volume.map(|v| v.driver_opts.clone().into_iter().collect()),
                    }
                }),
                ..MountVolumeOptions::default()
            });
        }
        MountKind::Bind => {
            out.typ = api_enum("bind");
            out.source = m.source.clone();
            out.bind_options = m
                .bind
                .as_ref()
                .and_then(|b| b.propagation.as_ref())
                .map(|p| MountBindOptions {
                    propagation: api_enum(p),
                    ..MountBindOptions::default()
                });
        }
        MountKind::Tmpfs => {
            out.typ = api_enum("tmpfs");
            out.tmpfs_options = Some(MountTmpfsOptions {
                size_bytes: m
                    .tmpfs
                    .as_ref()
                    .and_then(|t| t.size)
                    .and_then(|s| i64::try_from(s).ok()),
                mode: m.tmpfs.as_ref().and_then(|t| t.mode).map(i64::from),
                ..MountTmpfsOptions::default()
            });
        }
        MountKind::Npipe | MountKind::Image => {
            return Err(service_error(
                service,
                format!(
                    "{} mount at {}: not supported by Swarm",
                    m.kind.as_str(),
                    m.target
                ),
            ))
        }
    }
    Ok(out)
}

fn network_attachments(project: &Project, service: &Service) -> Vec<NetworkAttachmentConfig> {
    let mut out: Vec<NetworkAttachmentConfig> = service_networks(service)
        .into_iter()
        .map(|key| {
            let options = service
                .networks
                .get(key.as_str())
                .cloned()
                .unwrap_or_default();
            let mut aliases = options.aliases.clone();
            aliases.push(service.name.clone());
            NetworkAttachmentConfig {
                target: Some(network_name(project, key)),
                aliases: Some(aliases),
                driver_opts: some_map(options.driver_opts.into_iter().collect()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.target.cmp(&b.target));
    out
}

fn some_map(map: HashMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

fn endpoint(service: &Service, deploy: &Deploy) -> Result<EndpointSpec, ConvertError> {
    let ports = service
        .ports
        .iter()
        .map(|p| port(service, p))
        .collect::<Result<Vec<_>, _>>()?;
    let mode = deploy.endpoint_mode.as_deref().map(str::to_lowercase);
    Ok(EndpointSpec {
        mode: match mode.as_deref() {
            None => None,
            Some(m) => Some(api_enum(m).ok_or_else(|| {
                service_error(
                    service,
                    format!("deploy.endpoint_mode `{m}`: expected vip or dnsrr"),
                )
            })?),
        },
        ports: some_vec(ports),
    })
}

fn port(service: &Service, p: &Port) -> Result<EndpointPortConfig, ConvertError> {
    let published = match &p.published {
        None => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            service_error(
                service,
                format!(
                    "port {text}:{}: Swarm publishes single ports, not ranges",
                    p.target
                ),
            )
        })?),
    };
    Ok(EndpointPortConfig {
        protocol: api_enum(&p.protocol),
        target_port: Some(i64::from(p.target)),
        published_port: published,
        publish_mode: api_enum(&p.mode),
        ..EndpointPortConfig::default()
    })
}

fn mode(
    service: &Service,
    deploy: &Deploy,
) -> Result<(ServiceSpecMode, Option<u64>), ConvertError> {
    match deploy.mode.as_deref().unwrap_or("replicated") {
        "global" => {
            if deploy.replicas.is_some() {
                return Err(service_error(
                    service,
                    "replicas can only be used with replicated mode",
                ));
            }
            Ok((
                ServiceSpecMode {
                    global: Some(HashMap::new()),
                    ..ServiceSpecMode::default()
                },
                None,
            ))
        }
        "replicated" => {
            let replicas = u64::from(service.replicas());
            Ok((
                ServiceSpecMode {
                    replicated: Some(ServiceSpecModeReplicated {
                        replicas: i64::try_from(replicas).ok(),
                    }),
                    ..ServiceSpecMode::default()
                },
                Some(replicas),
            ))
        }
        other => Err(service_error(
            service,
            format!("deploy.mode `{other}`: torq deploys replicated and global services"),
        )),
    }
}

fn resources(deploy: &Deploy) -> Result<TaskSpecResources, ConvertError> {
    let limits = deploy.resources.limits.as_ref();
    let reservations = deploy.resources.reservations.as_ref();
    Ok(TaskSpecResources {
        limits: limits.map(|l| Limit {
            nano_cpus: nano_cpus(l),
            memory_bytes: l.memory.and_then(|m| i64::try_from(m).ok()),
            pids: l.pids,
        }),
        reservations: reservations.map(|r| ResourceObject {
            nano_cpus: nano_cpus(r),
            memory_bytes: r.memory.and_then(|m| i64::try_from(m).ok()),
            generic_resources: None,
        }),
        ..TaskSpecResources::default()
    })
}

fn nano_cpus(spec: &ResourceSpec) -> Option<i64> {
    let cpus = spec.cpus?;
    Some((cpus * 1e9).round() as i64)
}

/// `deploy.restart_policy`, else the service's `restart` (as `docker stack deploy`).
fn restart_policy(
    service: &Service,
    deploy: &Deploy,
) -> Result<Option<TaskSpecRestartPolicy>, ConvertError> {
    if let Some(policy) = &deploy.restart_policy {
        return Ok(Some(TaskSpecRestartPolicy {
            condition: policy.condition.as_deref().and_then(api_enum),
            delay: policy.delay.map(nanos),
            max_attempts: policy.max_attempts.and_then(|m| i64::try_from(m).ok()),
            window: policy.window.map(nanos),
        }));
    }
    let Some(restart) = service.restart.as_deref() else {
        return Ok(None);
    };
    let (name, count) = restart.split_once(':').unwrap_or((restart, ""));
    let condition = match name {
        "no" | "" => return Ok(None),
        "always" | "unless-stopped" => "any",
        "on-failure" => "on-failure",
        other => {
            return Err(service_error(
                service,
                format!("restart `{other}`: unknown policy"),
            ))
        }
    };
    Ok(Some(TaskSpecRestartPolicy {
        condition: api_enum(condition),
        max_attempts: count.parse::<i64>().ok().filter(|c| *c > 0),
        ..TaskSpecRestartPolicy::default()
    }))
}

fn placement(deploy: &Deploy) -> Option<TaskSpecPlacement> {
    let placement = deploy.placement.as_ref()?;
    let preferences: Vec<_> = placement
        .preferences
        .iter()
        .filter_map(|p| p.get("spread"))
        .map(|spread| TaskSpecPlacementPreferences {
            spread: Some(TaskSpecPlacementSpread {
                spread_descriptor: Some(spread.clone()),
            }),
        })
        .collect();
    Some(TaskSpecPlacement {
        constraints: some_vec(placement.constraints.clone()),
        preferences: some_vec(preferences),
        max_replicas: placement
            .max_replicas_per_node
            .and_then(|m| i64::try_from(m).ok()),
        platforms: None,
    })
}

/// A compose `update_config`/`rollback_config` as the Swarm type `$api`
/// (bollard has one type for each, with the same fields).
macro_rules! swarm_update_config {
    ($u:expr, $api:ident) => {{
        let u: &UpdateConfig = $u;
        $api {
            parallelism: Some(
                u.parallelism
                    .and_then(|p| i64::try_from(p).ok())
                    .unwrap_or(1),
            ),
            delay: u.delay.map(nanos),
            failure_action: u.failure_action.as_deref().and_then(api_enum),
            monitor: u.monitor.map(nanos),
            max_failure_ratio: u.max_failure_ratio,
            order: u.order.as_deref().and_then(api_enum),
        }
    }};
}

fn update_config(u: &UpdateConfig) -> ServiceSpecUpdateConfig {
    swarm_update_config!(u, ServiceSpecUpdateConfig)
}

/// `deploy.rollback_config`: the same fields as `update_config`.
fn rollback_config(deploy: &Deploy) -> Option<ServiceSpecRollbackConfig> {
    Some(swarm_update_config!(
        deploy.rollback_config.as_ref()?,
        ServiceSpecRollbackConfig
    ))
}

fn secret_refs(service: &Service, secrets: &[FilePlan]) -> Vec<TaskSpecContainerSpecSecrets> {
    service
        .secrets
        .iter()
        .filter_map(|m| {
            let plan = secrets.iter().find(|s| s.key == m.source)?;
            let target = m.target.clone().unwrap_or_else(|| m.source.clone());
            let name = target.strip_prefix("/run/secrets/").unwrap_or(&target);
            Some(TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(name.to_string()),
                    uid: Some(id_or_root(&m.uid)),
                    gid: Some(id_or_root(&m.gid)),
                    mode: Some(file_mode(m)),
                }),
                secret_name: Some(plan.name.clone()),
                secret_id: None,
            })
        })
        .collect()
}

fn config_refs(service: &Service, configs: &[FilePlan]) -> Vec<TaskSpecContainerSpecConfigs> {
    service
        .configs
        .iter()
        .filter_map(|m| {
            let plan = configs.iter().find(|c| c.key == m.source)?;
            Some(TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(m.target.clone().unwrap_or_else(|| format!("/{}", m.source))),
                    uid: Some(id_or_root(&m.uid)),
                    gid: Some(id_or_root(&m.gid)),
                    mode: Some(file_mode(m)),
                }),
                config_name: Some(plan.name.clone()),
                ..TaskSpecContainerSpecConfigs::default()
            })
        })
        .collect()
}

fn id_or_root(id: &Option<String>) -> String {
    id.clone().unwrap_or_else(|| "0".into())
}

fn file_mode(m: &FileMount) -> u32 {
    m.mode.unwrap_or(0o444)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Dependency, Network};

    fn project() -> Project {
        let mut project = Project {
            name: "demo".into(),
            ..Project::default()
        };
        for name in ["db", "web"] {
            let mut service = Service {
                name: name.into(),
                image: Some("busybox".into()),
                ..Service::default()
            };
            if name == "web" {
                service
                    .depends_on
                    .insert("db".into(), Dependency::default());
                service.ports.push(Port {
                    target: 80,
                    published: Some("8080".into()),
                    protocol: "tcp".into(),
                    mode: "ingress".into(),
                    ..Port::default()
                });
                service.container_name = Some("web".into());
            }
            project.services.insert(name.into(), service);
        }
        project.networks.insert(
            "default".into(),
            Network {
                name: "demo_default".into(),
                ..Network::default()
            },
        );
        project
    }

    #[test]
    fn names_labels_and_networks_follow_docker_stack_deploy() {
        let stack = stack_spec(&project(), &Images::new()).unwrap();
        let web = &stack.services["web"];
        assert_eq!(web.name, "demo_web");
        let labels = web.spec.labels.as_ref().unwrap();
        assert_eq!(labels[NAMESPACE_LABEL], "demo");
        assert_eq!(labels[IMAGE_LABEL], "busybox");
        let attachments = web
            .spec
            .task_template
            .as_ref()
            .unwrap()
            .networks
            .clone()
            .unwrap();
        assert_eq!(attachments[0].target.as_deref(), Some("demo_default"));
        assert_eq!(
            attachments[0].aliases.as_ref().unwrap(),
            &vec!["web".to_string()]
        );
        assert_eq!(stack.networks.len(), 1);
        assert_eq!(stack.networks[0].driver, "overlay");
        let ports = web
            .spec
            .endpoint_spec
            .as_ref()
            .unwrap()
            .ports
            .clone()
            .unwrap();
        assert_eq!(ports[0].published_port, Some(8080));
        assert_eq!(web.replicas, Some(1));
    }

    #[test]
    fn ignored_keys_are_warned_as_docker_does() {
        let stack = stack_spec(&project(), &Images::new()).unwrap();
        assert!(
            stack
                .warnings
                .iter()
                .any(|w| w.starts_with("Ignoring deprecated option container_name")),
            "{:?}",
            stack.warnings
        );
    }

    #[test]
    fn the_hash_changes_with_the_spec_and_the_image_only() {
        let project = project();
        let first = stack_spec(&project, &Images::new()).unwrap();
        let again = stack_spec(&project, &Images::new()).unwrap();
        assert_eq!(first.services["web"].hash, again.services["web"].hash);
        let mut changed = project.clone();
        changed.services["web"]
            .environment
            .insert("A".into(), Some("1".into()));
        let changed = stack_spec(&changed, &Images::new()).unwrap();
        assert_ne!(first.services["web"].hash, changed.services["web"].hash);
        assert_eq!(first.services["db"].hash, changed.services["db"].hash);
        let rebuilt = Images::from([(
            "db".to_string(),
            ("busybox".to_string(), "sha256:2".to_string()),
        )]);
        let rebuilt = stack_spec(&project, &rebuilt).unwrap();
        assert_ne!(first.services["db"].hash, rebuilt.services["db"].hash);
    }

    #[test]
    fn secrets_are_content_addressed() {
        let mut project = project();
        project.secrets.insert(
            "token".into(),
            FileObject {
                name: "demo_token".into(),
                content: Some("a".into()),
                ..FileObject::default()
            },
        );
        let first = stack_spec(&project, &Images::new()).unwrap();
        project.secrets["token"].content = Some("b".into());
        let second = stack_spec(&project, &Images::new()).unwrap();
        assert!(first.secrets[0].name.starts_with("demo_token-"));
        assert_ne!(first.secrets[0].name, second.secrets[0].name);
    }
}
