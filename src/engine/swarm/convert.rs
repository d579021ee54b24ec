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
//! `build`, which torq runs before deploying; keys `up` applies that a
//! Swarm service has no field for get one more warning. A tmpfs mount's
//! `mode` is applied (`docker stack deploy` drops it). docs/swarm.md lists
//! these differences; everything else is sent as the docker CLI sends it
//! (checked against it on the engine by the `swarm_deploy` tests).
//!
//! Pure except for reading the files secrets and configs come from.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    EndpointPortConfig, EndpointSpec, GenericResourcesInner,
    GenericResourcesInnerDiscreteResourceSpec, HealthConfig, Ipam, Limit, Mount as ApiMount,
    MountBindOptions, MountTmpfsOptions, MountVolumeOptions, MountVolumeOptionsDriverConfig,
    NetworkAttachmentConfig, ResourceObject, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecRollbackConfig, ServiceSpecUpdateConfig, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecDnsConfig,
    TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1, TaskSpecContainerSpecPrivileges,
    TaskSpecContainerSpecSecrets, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources,
    TaskSpecRestartPolicy,
};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use super::{api_enum, IMAGE_LABEL, NAMESPACE_LABEL, SPEC_HASH_LABEL};
use crate::compose::model::{
    Deploy, FileMount, FileObject, Healthcheck, Mount, MountKind, Port, Project, ResourceSpec,
    Service, UpdateConfig, Volume,
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

/// Keys `up` applies to containers that a Swarm service spec has no field
/// for: torq warns that the deploy ignores them (`docker stack deploy`
/// refuses most of these keys, and drops `tmpfs` silently).
const NOT_IN_SWARM: &[&str] = &[
    "blkio_config",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "device_cgroup_rules",
    "gpus",
    "group_add",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "oom_kill_disable",
    "pids_limit",
    "post_start",
    "runtime",
    "storage_opt",
    "tmpfs",
    "uts",
    "volumes_from",
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
    /// `ipam`, when it names a driver or a subnet (as `docker stack deploy`).
    pub ipam: Option<Ipam>,
}

/// A secret or config of the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePlan {
    /// The spec's key.
    pub key: String,
    /// The engine-side name (content addressed unless external).
    pub name: String,
    /// The name `docker stack deploy` gives it (`STACK_KEY`, or `name:`):
    /// a service's references are sorted by it, as that tool sorts them.
    pub base: String,
    pub external: bool,
    /// The content (empty when external).
    pub data: Vec<u8>,
    /// `template_driver` (`golang`): the engine expands the content per task.
    pub template_driver: Option<String>,
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

/// The warnings `docker stack deploy` prints for keys Swarm ignores, then
/// one of torq's own for keys `up` applies to containers that a Swarm
/// service does not have (`docker stack deploy` refuses most of them).
fn warnings(project: &Project) -> Vec<String> {
    let mut unsupported: Vec<&str> = Vec::new();
    let mut deprecated: Vec<(&str, &str)> = Vec::new();
    let mut dropped: Vec<&str> = Vec::new();
    for service in project.services.values() {
        let keys = set_keys(service);
        unsupported.extend(UNSUPPORTED.iter().filter(|k| keys.contains(**k)));
        deprecated.extend(DEPRECATED.iter().filter(|(k, _)| keys.contains(*k)));
        dropped.extend(NOT_IN_SWARM.iter().filter(|k| keys.contains(**k)));
        if service.restart.is_some()
            && service
                .deploy
                .as_ref()
                .is_some_and(|d| d.restart_policy.is_some())
        {
            unsupported.push("restart");
        }
    }
    for list in [&mut unsupported, &mut dropped] {
        list.sort_unstable();
        list.dedup();
    }
    deprecated.sort_unstable();
    deprecated.dedup();
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
    if !dropped.is_empty() {
        out.push(format!(
            "Ignoring options a Swarm service does not have: {} \
             (resources go under deploy.resources, tmpfs mounts under volumes)",
            dropped.join(", ")
        ));
    }
    out
}

/// The compose keys `service` sets (those its canonical printing shows).
fn set_keys(service: &Service) -> std::collections::HashSet<String> {
    match serde_json::to_value(service) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().map(|(k, _)| k).collect(),
        _ => std::collections::HashSet::new(),
    }
}

/// Whether a loader warning still holds for a deploy: the loader warns that
/// `isolation` is not applied to containers, but a Swarm service takes it.
pub fn loader_warning_holds(warning: &str) -> bool {
    !warning.starts_with("`isolation` (")
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
            ipam: spec.ipam.as_ref().and_then(stack_ipam),
        });
    }
    plans
}

/// A network's `ipam`, unless it names neither a driver nor a pool (then
/// the engine's default, as `docker stack deploy` leaves it).
fn stack_ipam(value: &serde_json::Value) -> Option<Ipam> {
    let ipam = crate::engine::ops::api_ipam(value)?;
    let has_pools = ipam.config.as_ref().is_some_and(|c| !c.is_empty());
    (ipam.driver.is_some() || has_pools).then_some(ipam)
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
            base: object.name.clone(),
            external: true,
            data: Vec::new(),
            template_driver: None,
            labels: HashMap::new(),
        });
    }
    let data = file_content(key, object, kind)?;
    let base = if object.name.is_empty() {
        scoped(&project.name, key)
    } else {
        object.name.clone()
    };
    // The name covers what the object is made of: content, and a template
    // driver when there is one (an object cannot be updated in place).
    let mut made_of = data.clone();
    if let Some(driver) = &object.template_driver {
        made_of.extend_from_slice(format!("\0template_driver={driver}").as_bytes());
    }
    Ok(FilePlan {
        key: key.into(),
        name: format!("{base}-{}", &hash_bytes(&made_of)[..10]),
        base,
        external: false,
        template_driver: object.template_driver.clone(),
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
                options: some_map(l.options.clone().into_iter().collect()),
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
    let (capability_add, capability_drop) =
        effective_capabilities(&service.cap_add, &service.cap_drop);
    Ok(TaskSpecContainerSpec {
        image: Some(tagged_image(image)),
        labels: Some(with_namespace(&project.name, &service.labels)),
        command: service.entrypoint.clone(),
        args: service.command.clone(),
        hostname: service.hostname.clone(),
        env: some_vec(environment(service)),
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
        dns_config: dns_config(service),
        // `docker stack deploy` always sends (empty) privileges.
        privileges: Some(TaskSpecContainerSpecPrivileges::default()),
        isolation: service.isolation.as_deref().and_then(api_enum),
        init: service.init,
        sysctls: some_map(service.sysctls.clone().into_iter().collect()),
        capability_add: some_vec(capability_add),
        capability_drop: some_vec(capability_drop),
        ulimits: some_vec(sorted_ulimits(service)),
        oom_score_adj: service.oom_score_adj,
        ..TaskSpecContainerSpec::default()
    })
}

/// An image reference as the Docker client library sends it to the swarm:
/// its familiar form, tagged `latest` when it names no tag or digest
/// (`torq-test/bb` → `torq-test/bb:latest`, `docker.io/library/busybox` →
/// `busybox:latest`). A reference that does not parse is sent as written.
pub(crate) fn tagged_image(image: &str) -> String {
    let (repository, tag, digest) = crate::engine::image_ref::split_reference(image);
    let Some(familiar) = familiar_repository(repository) else {
        return image.to_string();
    };
    match (tag, digest) {
        (Some(tag), Some(digest)) => format!("{familiar}:{tag}@{digest}"),
        (Some(tag), None) => format!("{familiar}:{tag}"),
        (None, Some(digest)) => format!("{familiar}@{digest}"),
        (None, None) => format!("{familiar}:latest"),
    }
}

/// A repository name without Docker Hub's implied parts (`docker.io/`,
/// `library/`); `None` when it is not a valid repository name.
fn familiar_repository(repository: &str) -> Option<String> {
    let (domain, path) = match repository.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, repository),
    };
    let valid_component = |c: &str| {
        !c.is_empty()
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
    };
    let is_hex_id = path.len() == 64 && path.chars().all(|c| c.is_ascii_hexdigit());
    if !path.split('/').all(valid_component) || is_hex_id {
        return None;
    }
    match domain {
        None | Some("docker.io" | "index.docker.io") => Some(
            path.strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(path)
                .to_string(),
        ),
        Some(domain) => Some(format!("{domain}/{path}")),
    }
}

/// `KEY=value` entries, sorted; a key without a value (unset where torq
/// runs) is sent bare, as `docker stack deploy` sends it (the engine then
/// drops the image's value of it).
fn environment(service: &Service) -> Vec<String> {
    let mut env: Vec<String> = service
        .environment
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    env.sort();
    env
}

/// `dns`, `dns_search` and `dns_opt` (when one is set).
fn dns_config(service: &Service) -> Option<TaskSpecContainerSpecDnsConfig> {
    if service.dns.is_empty() && service.dns_search.is_empty() && service.dns_opt.is_empty() {
        return None;
    }
    Some(TaskSpecContainerSpecDnsConfig {
        nameservers: some_vec(service.dns.clone()),
        search: some_vec(service.dns_search.clone()),
        options: some_vec(service.dns_opt.clone()),
    })
}

/// `cap_add` and `cap_drop` as the docker CLI sends them: upper case with
/// the `CAP_` prefix, `ALL` alone when present, a capability both added
/// and dropped only added, each list sorted.
fn effective_capabilities(add: &[String], drop: &[String]) -> (Vec<String>, Vec<String>) {
    fn normalized(caps: &[String]) -> std::collections::BTreeSet<String> {
        let set: std::collections::BTreeSet<String> = caps
            .iter()
            .map(|c| {
                let c = c.trim().to_ascii_uppercase();
                if c == "ALL" || c.starts_with("CAP_") {
                    c
                } else {
                    format!("CAP_{c}")
                }
            })
            .collect();
        if set.contains("ALL") {
            return std::collections::BTreeSet::from(["ALL".to_string()]);
        }
        set
    }
    let add = normalized(add);
    let drop = normalized(drop);
    let drop = drop.difference(&add).cloned().collect();
    (add.into_iter().collect(), drop)
}

/// `ulimits`, sorted by name.
fn sorted_ulimits(service: &Service) -> Vec<bollard::models::ResourcesUlimits> {
    let mut ulimits = crate::engine::container::ulimits(service);
    ulimits.sort_by(|a, b| a.name.cmp(&b.name));
    ulimits
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

/// The healthcheck; `start_interval` is left out (API 1.44+). `disable`
/// is the test `NONE` alone; a healthcheck without `test` keeps the
/// image's test (its other fields apply).
fn healthcheck(check: &Healthcheck) -> HealthConfig {
    if check.disable {
        return HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..HealthConfig::default()
        };
    }
    HealthConfig {
        test: some_vec(check.test.clone()),
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
            // An anonymous volume has no options; an external one only the
            // mount's own; a stack volume its labels and driver.
            out.volume_options = volume.map(|v| MountVolumeOptions {
                no_copy: m.volume.as_ref().is_some_and(|o| o.nocopy).then_some(true),
                labels: (!v.external).then(|| with_namespace(&project.name, &v.labels)),
                driver_config: (!v.external).then(|| volume_driver(v)).flatten(),
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
            out.tmpfs_options = m.tmpfs.as_ref().map(|t| MountTmpfsOptions {
                size_bytes: t.size.and_then(|s| i64::try_from(s).ok()),
                // `docker stack deploy` drops the mode; torq applies it.
                mode: t.mode.map(i64::from),
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

/// A stack volume's driver and options, when it names either.
fn volume_driver(volume: &Volume) -> Option<MountVolumeOptionsDriverConfig> {
    if volume.driver.is_none() && volume.driver_opts.is_empty() {
        return None;
    }
    Some(MountVolumeOptionsDriverConfig {
        name: volume.driver.clone(),
        options: some_map(volume.driver_opts.clone().into_iter().collect()),
    })
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
            let target = network_name(project, key);
            let mut aliases = options.aliases.clone();
            if is_user_defined(&target) {
                aliases.push(service.name.clone());
            }
            NetworkAttachmentConfig {
                target: Some(target),
                aliases: some_vec(aliases),
                driver_opts: some_map(options.driver_opts.into_iter().collect()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.target.cmp(&b.target));
    out
}

/// Whether a network takes aliases: not one of the engine's own
/// (`default`, `bridge`, `host`, `none`, `container:…`), as the docker CLI
/// decides before adding the service's name.
fn is_user_defined(network: &str) -> bool {
    !matches!(network, "default" | "bridge" | "host" | "none") && !network.starts_with("container:")
}

fn some_map(map: HashMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

fn endpoint(service: &Service, deploy: &Deploy) -> Result<EndpointSpec, ConvertError> {
    let mut ports = service
        .ports
        .iter()
        .map(|p| port(service, p))
        .collect::<Result<Vec<_>, _>>()?;
    // As `docker stack deploy`: by published port (unpublished first).
    ports.sort_by_key(|p| p.published_port.unwrap_or(0));
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
            generic_resources: some_vec(generic_resources(r)),
        }),
        ..TaskSpecResources::default()
    })
}

/// `reservations.generic_resources` (discrete ones, as `docker stack deploy`).
fn generic_resources(spec: &ResourceSpec) -> Vec<GenericResourcesInner> {
    spec.generic_resources
        .iter()
        .map(|g| GenericResourcesInner {
            discrete_resource_spec: g.discrete_resource_spec.as_ref().map(|d| {
                GenericResourcesInnerDiscreteResourceSpec {
                    kind: d.kind.clone(),
                    value: d.value,
                }
            }),
            named_resource_spec: None,
        })
        .collect()
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

/// The service's secrets, sorted by their [`FilePlan::base`] name.
fn secret_refs(service: &Service, secrets: &[FilePlan]) -> Vec<TaskSpecContainerSpecSecrets> {
    sorted_by_base(&service.secrets, secrets)
        .into_iter()
        .map(|(m, plan)| {
            let target = m.target.clone().unwrap_or_else(|| m.source.clone());
            let name = target.strip_prefix("/run/secrets/").unwrap_or(&target);
            TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(name.to_string()),
                    uid: Some(id_or_root(&m.uid)),
                    gid: Some(id_or_root(&m.gid)),
                    mode: Some(file_mode(m)),
                }),
                secret_name: Some(plan.name.clone()),
                secret_id: None,
            }
        })
        .collect()
}

/// The service's configs, sorted by their [`FilePlan::base`] name; one
/// without `target` is named by its key (the engine places a relative name
/// under `/`), as `docker stack deploy` names it.
fn config_refs(service: &Service, configs: &[FilePlan]) -> Vec<TaskSpecContainerSpecConfigs> {
    sorted_by_base(&service.configs, configs)
        .into_iter()
        .map(|(m, plan)| TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(m.target.clone().unwrap_or_else(|| m.source.clone())),
                uid: Some(id_or_root(&m.uid)),
                gid: Some(id_or_root(&m.gid)),
                mode: Some(file_mode(m)),
            }),
            config_name: Some(plan.name.clone()),
            ..TaskSpecContainerSpecConfigs::default()
        })
        .collect()
}

/// A service's uses of secrets or configs with their plans, in the order
/// of the plans' base names (stable: two uses of one object keep theirs).
fn sorted_by_base<'a>(
    uses: &'a [FileMount],
    plans: &'a [FilePlan],
) -> Vec<(&'a FileMount, &'a FilePlan)> {
    let mut found: Vec<_> = uses
        .iter()
        .filter_map(|m| Some((m, plans.iter().find(|p| p.key == m.source)?)))
        .collect();
    found.sort_by(|a, b| a.1.base.cmp(&b.1.base));
    found
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
    use crate::compose::LoadOptions;
    use crate::engine::swarm::enum_text;

    /// A spec loaded as `torq deploy` loads it (project `demo`), with the
    /// files it names; the directory lives as long as the returned guard.
    fn load(yaml: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let project = crate::compose::load(&LoadOptions {
            files: vec!["compose.yaml".into()],
            working_dir: dir.path().to_path_buf(),
            project_name: Some("demo".into()),
            ..LoadOptions::default()
        })
        .unwrap();
        (dir, project)
    }

    /// The one service `s` of `yaml`, converted.
    fn converted(yaml: &str, files: &[(&str, &str)]) -> (ServiceSpec, StackSpec) {
        let (_dir, project) = load(yaml, files);
        let stack = stack_spec(&project, &Images::new()).unwrap();
        (stack.services["s"].spec.clone(), stack)
    }

    fn container(spec: &ServiceSpec) -> &TaskSpecContainerSpec {
        spec.task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .unwrap()
    }

    #[test]
    fn images_are_sent_in_their_familiar_form_tagged_latest_when_untagged() {
        for (written, sent) in [
            ("torq-test/bb", "torq-test/bb:latest"),
            ("busybox", "busybox:latest"),
            ("docker.io/library/busybox", "busybox:latest"),
            ("index.docker.io/team/app:1.2", "team/app:1.2"),
            ("docker.io/library/a/b", "library/a/b:latest"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            (
                "registry.example:5000/torq/node:1.2",
                "registry.example:5000/torq/node:1.2",
            ),
            ("busybox@sha256:abc", "busybox@sha256:abc"),
            (
                "docker.io/library/busybox:1@sha256:abc",
                "busybox:1@sha256:abc",
            ),
            ("Not/Valid", "Not/Valid"),
        ] {
            assert_eq!(tagged_image(written), sent, "{written}");
        }
        let (spec, _) = converted("services:\n  s:\n    image: torq-test/bb\n", &[]);
        assert_eq!(
            container(&spec).image.as_deref(),
            Some("torq-test/bb:latest")
        );
        // The label keeps the image as the spec names it.
        assert_eq!(spec.labels.as_ref().unwrap()[IMAGE_LABEL], "torq-test/bb");
    }

    #[test]
    fn container_fields_follow_docker_stack_deploy() {
        let (spec, _) = converted(
            r#"
services:
  s:
    image: bb
    environment: [B=2, UNSET_HERE, A=1, EMPTY=]
    cap_add: [net_admin, CAP_SYS_TIME, chown]
    cap_drop: [chown, MKNOD]
    ulimits: { nproc: 10, nofile: { soft: 1, hard: 2 } }
    dns: [8.8.8.8]
    dns_search: [example.internal]
    dns_opt: ["ndots:2"]
    sysctls: { net.core.somaxconn: "1024" }
    isolation: default
    oom_score_adj: 100
    logging: { driver: json-file }
"#,
            &[],
        );
        let c = container(&spec);
        assert_eq!(
            c.env.as_ref().unwrap(),
            &["A=1", "B=2", "EMPTY=", "UNSET_HERE"],
            "sorted; a key without a value is sent bare"
        );
        assert_eq!(
            c.capability_add.as_ref().unwrap(),
            &["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_TIME"]
        );
        assert_eq!(
            c.capability_drop.as_ref().unwrap(),
            &["CAP_MKNOD"],
            "an added capability is not dropped"
        );
        let names: Vec<_> = c.ulimits.iter().flatten().map(|u| u.name.clone()).collect();
        assert_eq!(names, [Some("nofile".into()), Some("nproc".into())]);
        let dns = c.dns_config.as_ref().unwrap();
        assert_eq!(dns.search.as_ref().unwrap(), &["example.internal"]);
        assert_eq!(dns.options.as_ref().unwrap(), &["ndots:2"]);
        assert_eq!(c.sysctls.as_ref().unwrap()["net.core.somaxconn"], "1024");
        assert_eq!(
            c.isolation.as_ref().map(enum_text).as_deref(),
            Some("default")
        );
        assert_eq!(c.oom_score_adj, Some(100));
        assert_eq!(
            c.privileges,
            Some(TaskSpecContainerSpecPrivileges::default())
        );
        let log = spec
            .task_template
            .as_ref()
            .unwrap()
            .log_driver
            .as_ref()
            .unwrap();
        assert_eq!(log.options, None, "no options: none sent");
    }

    #[test]
    fn all_capabilities_stand_alone() {
        assert_eq!(
            effective_capabilities(&["ALL".into(), "chown".into()], &["all".into(), "x".into()]),
            (vec!["ALL".to_string()], vec![])
        );
        assert_eq!(
            effective_capabilities(&[], &["ALL".into(), "x".into()]),
            (vec![], vec!["ALL".to_string()])
        );
    }

    #[test]
    fn a_healthcheck_without_a_test_keeps_the_images_and_disable_is_none_alone() {
        let (spec, _) = converted(
            "services:\n  s:\n    image: bb\n    healthcheck: { interval: 5s, retries: 2 }\n",
            &[],
        );
        let check = container(&spec).health_check.clone().unwrap();
        assert_eq!(check.test, None, "the image's test stays");
        assert_eq!(check.interval, Some(5_000_000_000));
        let (spec, _) = converted(
            "services:\n  s:\n    image: bb\n    healthcheck: { disable: true, interval: 5s }\n",
            &[],
        );
        let check = container(&spec).health_check.clone().unwrap();
        assert_eq!(check.test, Some(vec!["NONE".to_string()]));
        assert_eq!(check.interval, None);
    }

    #[test]
    fn ports_are_sorted_by_published_port() {
        let (spec, _) = converted(
            r#"
services:
  s:
    image: bb
    ports: ["9002:82", "9001:81/udp", { target: 83, mode: host }]
"#,
            &[],
        );
        let ports = spec.endpoint_spec.unwrap().ports.unwrap();
        let published: Vec<_> = ports.iter().map(|p| p.published_port).collect();
        assert_eq!(published, [None, Some(9001), Some(9002)]);
    }

    #[test]
    fn secrets_and_configs_are_sorted_by_name_and_a_config_is_named_by_its_key() {
        let (spec, stack) = converted(
            r#"
secrets:
  zeta: { file: ./z.txt }
  alpha: { file: ./a.txt }
configs:
  zconf: { file: ./z.txt }
  aconf: { file: ./a.txt, template_driver: golang }
services:
  s:
    image: bb
    secrets: [zeta, { source: alpha, target: key, uid: "1", mode: 0400 }]
    configs: [zconf, { source: aconf, target: /etc/a }]
"#,
            &[("z.txt", "z"), ("a.txt", "a")],
        );
        let c = container(&spec);
        let secrets = c.secrets.as_ref().unwrap();
        assert!(secrets[0]
            .secret_name
            .as_ref()
            .unwrap()
            .starts_with("demo_alpha-"));
        let file = secrets[0].file.as_ref().unwrap();
        assert_eq!(
            (file.name.as_deref(), file.uid.as_deref(), file.mode),
            (Some("key"), Some("1"), Some(0o400))
        );
        assert_eq!(
            secrets[1].file.as_ref().unwrap().name.as_deref(),
            Some("zeta")
        );
        let configs = c.configs.as_ref().unwrap();
        let names: Vec<_> = configs
            .iter()
            .map(|c| c.file.as_ref().unwrap().name.clone().unwrap())
            .collect();
        assert_eq!(names, ["/etc/a", "zconf"]);
        let aconf = stack.configs.iter().find(|c| c.key == "aconf").unwrap();
        assert_eq!(aconf.template_driver.as_deref(), Some("golang"));
        let zconf = stack.configs.iter().find(|c| c.key == "zconf").unwrap();
        assert_ne!(
            aconf.name.rsplit('-').next(),
            stack
                .secrets
                .iter()
                .find(|s| s.key == "alpha")
                .unwrap()
                .name
                .rsplit('-')
                .next(),
            "the template driver is part of what names the object"
        );
        assert_eq!(zconf.template_driver, None);
    }

    #[test]
    fn volume_mounts_carry_what_docker_stack_deploy_gives_them() {
        let (spec, _) = converted(
            r#"
volumes:
  opts: { driver_opts: { type: tmpfs, device: tmpfs } }
  ext: { external: true, name: shared }
services:
  s:
    image: bb
    volumes:
      - /anon
      - opts:/o
      - type: volume
        source: ext
        target: /e
        volume: { nocopy: true }
      - type: tmpfs
        target: /t
"#,
            &[],
        );
        let mounts = container(&spec).mounts.clone().unwrap();
        assert_eq!(mounts[0].volume_options, None, "anonymous: no options");
        let opts = mounts[1].volume_options.as_ref().unwrap();
        let driver = opts.driver_config.as_ref().unwrap();
        assert_eq!(driver.name, None);
        assert_eq!(driver.options.as_ref().unwrap()["type"], "tmpfs");
        assert_eq!(opts.labels.as_ref().unwrap()[NAMESPACE_LABEL], "demo");
        let ext = mounts[2].volume_options.as_ref().unwrap();
        assert_eq!(mounts[2].source.as_deref(), Some("shared"));
        assert_eq!((ext.labels.as_ref(), ext.no_copy), (None, Some(true)));
        assert_eq!(mounts[3].tmpfs_options, None, "no tmpfs options: none sent");
    }

    #[test]
    fn the_services_name_is_no_alias_on_the_engines_own_networks() {
        let (spec, _) = converted(
            r#"
networks:
  hostnet: { external: true, name: host }
  front: {}
services:
  s:
    image: bb
    networks: [hostnet, front]
"#,
            &[],
        );
        let attachments = spec.task_template.unwrap().networks.unwrap();
        let aliases: Vec<_> = attachments
            .iter()
            .map(|a| (a.target.clone().unwrap(), a.aliases.clone()))
            .collect();
        assert_eq!(
            aliases,
            [
                ("demo_front".to_string(), Some(vec!["s".to_string()])),
                ("host".to_string(), None)
            ]
        );
    }

    #[test]
    fn a_network_names_its_ipam_pools_and_reservations_their_generic_resources() {
        let (spec, stack) = converted(
            r#"
networks:
  sub: { ipam: { driver: default, config: [{ subnet: 10.9.0.0/24 }] } }
  plain: {}
services:
  s:
    image: bb
    networks: [sub, plain]
    deploy:
      resources:
        reservations:
          generic_resources: [{ discrete_resource_spec: { kind: gpu, value: 2 } }]
"#,
            &[],
        );
        let sub = stack
            .networks
            .iter()
            .find(|n| n.name == "demo_sub")
            .unwrap();
        let ipam = sub.ipam.as_ref().unwrap();
        assert_eq!(ipam.driver.as_deref(), Some("default"));
        assert_eq!(
            ipam.config.as_ref().unwrap()[0].subnet.as_deref(),
            Some("10.9.0.0/24")
        );
        let plain = stack
            .networks
            .iter()
            .find(|n| n.name == "demo_plain")
            .unwrap();
        assert_eq!(plain.ipam, None, "the engine picks the pool");
        let reservations = spec
            .task_template
            .unwrap()
            .resources
            .unwrap()
            .reservations
            .unwrap();
        let generic = reservations.generic_resources.unwrap();
        let discrete = generic[0].discrete_resource_spec.as_ref().unwrap();
        assert_eq!(
            (discrete.kind.as_deref(), discrete.value),
            (Some("gpu"), Some(2))
        );
    }

    #[test]
    fn keys_a_swarm_service_lacks_are_warned_and_isolation_is_not() {
        let (_dir, project) = load(
            "services:\n  s:\n    image: bb\n    mem_limit: 64m\n    tmpfs: [/run]\n    privileged: true\n    isolation: default\n",
            &[],
        );
        let stack = stack_spec(&project, &Images::new()).unwrap();
        assert_eq!(
            stack.warnings,
            [
                "Ignoring unsupported options: privileged".to_string(),
                "Ignoring options a Swarm service does not have: mem_limit, tmpfs \
                 (resources go under deploy.resources, tmpfs mounts under volumes)"
                    .to_string()
            ]
        );
        assert!(project
            .warnings
            .iter()
            .any(|w| w.starts_with("`isolation`")));
        assert!(project
            .warnings
            .iter()
            .filter(|w| w.starts_with("`isolation`"))
            .all(|w| !loader_warning_holds(w)));
    }

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
