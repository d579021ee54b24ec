//! Typing one service definition: every compose service key torq models,
//! the compose keys it only carries along (`Service::other`), `x-*`
//! extensions, and errors for anything else.

use std::collections::HashMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::Converter;
use crate::compose::dotenv;
use crate::compose::error::SpecError;
use crate::compose::model::{
    Build, Condition, Dependency, Deploy, Healthcheck, Logging, Mount, MountKind, Placement, Port,
    ResourceSpec, Resources, RestartPolicy, Service, ServiceNetwork, Ulimit, UpdateConfig,
};
use crate::compose::syntax;
use crate::compose::yaml::{Map, Node, Value};

/// Service keys torq reads.
const MODELED: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "networks",
    "network_mode",
    "depends_on",
    "healthcheck",
    "restart",
    "stop_signal",
    "stop_grace_period",
    "labels",
    "container_name",
    "hostname",
    "domainname",
    "user",
    "working_dir",
    "init",
    "tty",
    "stdin_open",
    "privileged",
    "read_only",
    "extra_hosts",
    "cap_add",
    "cap_drop",
    "dns",
    "shm_size",
    "ulimits",
    "logging",
    "profiles",
    "deploy",
    "platform",
    "pull_policy",
    "secrets",
    "configs",
];

/// Service keys the engine does not apply to containers (a warning names
/// them when a spec uses them); every other [`CARRIED`] key reaches the
/// create request (`engine::container`). Remove a key here when the engine
/// starts applying it.
pub const NOT_APPLIED: &[&str] = &[
    // API 1.43+ (the engine here speaks 1.41).
    "annotations",
    // Windows engines only.
    "cpu_count",
    "cpu_percent",
    "credential_spec",
    "isolation",
    // `docker compose watch`, models, providers: not torq features.
    "develop",
    "models",
    "provider",
    // API 1.41 takes it in the container config, which bollard 0.21 no
    // longer models (1.44 moved it to the network endpoint).
    "mac_address",
    // `torq down` works from labels, without the spec that holds the hooks.
    "pre_stop",
    "use_api_socket",
];

/// Compose service keys the model has no field for: typed and kept in
/// `Service::other` in compose's canonical form.
const CARRIED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns_opt",
    "dns_search",
    "external_links",
    "gpus",
    "group_add",
    "ipc",
    "isolation",
    "label_file",
    "links",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "post_start",
    "pre_stop",
    "provider",
    "pull_refresh_after",
    "runtime",
    "scale",
    "security_opt",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "use_api_socket",
    "userns_mode",
    "uts",
    "volumes_from",
];

const BUILD_MODELED: &[&str] = &[
    "context",
    "dockerfile",
    "args",
    "target",
    "labels",
    "network",
    "cache_from",
    "secrets",
];
const BUILD_CARRIED: &[&str] = &[
    "additional_contexts",
    "cache_to",
    "dockerfile_inline",
    "entitlements",
    "extra_hosts",
    "isolation",
    "no_cache",
    "platforms",
    "privileged",
    "provenance",
    "pull",
    "sbom",
    "shm_size",
    "ssh",
    "tags",
    "ulimits",
];

/// Service keys whose position later consistency checks may need.
const REMEMBERED: &[&str] = &[
    "build",
    "container_name",
    "cpus",
    "develop",
    "mem_limit",
    "mem_reservation",
    "models",
    "pids_limit",
    "platform",
    "scale",
    "tmpfs",
];

/// An `env_file` entry.
#[derive(Debug, Clone)]
pub struct EnvFile {
    pub path: PathBuf,
    pub required: bool,
    /// `format: raw`: values verbatim.
    pub raw: bool,
    pub pos: crate::compose::error::Pos,
}

/// A service's env and label files, read once profiles are known.
#[derive(Debug, Clone, Default)]
pub struct ServiceFiles {
    pub env_files: Vec<EnvFile>,
    pub label_files: Vec<(PathBuf, crate::compose::error::Pos)>,
}

fn all_keys(lists: &[&[&'static str]]) -> Vec<&'static str> {
    lists.iter().flat_map(|l| l.iter().copied()).collect()
}

impl Converter<'_> {
    /// Types the service `name` defined by `node`.
    pub fn service(&mut self, name: &str, node: &Node) -> Result<Service, SpecError> {
        let path = format!("services.{name}");
        let Some(map) = self.map(node, &path)? else {
            return Err(self.error(node.pos, &path, "a service needs a definition (a mapping)"));
        };
        let mut service = Service {
            name: name.to_string(),
            ..Service::default()
        };
        let mut files = ServiceFiles::default();
        for (key, entry) in map {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            if REMEMBERED.contains(&key.as_str()) {
                self.remember(p.clone(), entry.key_pos);
            }
            match key.as_str() {
                "image" => service.image = self.opt_string(node, &p)?,
                "build" => service.build = Some(self.build(node, &p)?),
                "command" => service.command = self.command(node, &p)?,
                "entrypoint" => service.entrypoint = self.command(node, &p)?,
                "environment" => service.environment = self.key_values(node, &p)?,
                "env_file" => files.env_files = self.env_files(node, &p)?,
                "ports" => service.ports = self.ports(node, &p)?,
                "expose" => service.expose = self.expose(node, &p)?,
                "volumes" => service.volumes = self.mounts(node, &p)?,
                "networks" => service.networks = self.service_networks(node, &p)?,
                "network_mode" => {
                    self.remember(p.clone(), node.pos);
                    service.network_mode = Some(self.string(node, &p)?);
                }
                "depends_on" => service.depends_on = self.depends_on(node, &p)?,
                "healthcheck" => service.healthcheck = Some(self.healthcheck(node, &p)?),
                "restart" => {
                    service.restart = self.opt_string(node, &p)?;
                    if let Some(value) = &service.restart {
                        syntax::check_restart(value).map_err(|e| self.error(node.pos, &p, e))?;
                    }
                }
                "stop_signal" => {
                    service.stop_signal = self.opt_string(node, &p)?;
                    if let Some(value) = &service.stop_signal {
                        syntax::check_signal(value).map_err(|e| self.error(node.pos, &p, e))?;
                    }
                }
                "stop_grace_period" => service.stop_grace_period = Some(self.duration(node, &p)?),
                "labels" => service.labels = self.labels(node, &p)?,
                "container_name" => service.container_name = Some(self.string(node, &p)?),
                "hostname" => service.hostname = self.opt_string(node, &p)?,
                "domainname" => service.domainname = self.opt_string(node, &p)?,
                "user" => service.user = self.opt_string(node, &p)?,
                "working_dir" => service.working_dir = self.opt_string(node, &p)?,
                "init" => service.init = Some(self.boolean(node, &p)?),
                "tty" => service.tty = self.boolean(node, &p)?,
                "stdin_open" => service.stdin_open = self.boolean(node, &p)?,
                "privileged" => service.privileged = self.boolean(node, &p)?,
                "read_only" => service.read_only = self.boolean(node, &p)?,
                "extra_hosts" => service.extra_hosts = self.extra_hosts(node, &p)?,
                "cap_add" => service.cap_add = dedup(self.string_list(node, &p)?),
                "cap_drop" => service.cap_drop = dedup(self.string_list(node, &p)?),
                "dns" => service.dns = dedup(self.string_or_list(node, &p)?),
                "shm_size" => service.shm_size = Some(self.bytes(node, &p)?),
                "ulimits" => service.ulimits = self.ulimits(node, &p)?,
                "logging" => service.logging = Some(self.logging(node, &p)?),
                "profiles" => service.profiles = dedup(self.string_list(node, &p)?),
                "deploy" => service.deploy = self.deploy(node, &p)?,
                "platform" => service.platform = self.opt_string(node, &p)?,
                "secrets" => service.secrets = self.file_mounts(node, &p, Some("/run/secrets"))?,
                "configs" => service.configs = self.file_mounts(node, &p, None)?,
                "pull_policy" => {
                    let value = self.string(node, &p)?;
                    if !is_pull_policy(&value) {
                        return Err(self.error(
                            node.pos,
                            &p,
                            format!("invalid pull policy `{value}` (always, never, missing, build, if_not_present, refresh, daily, weekly or every_<duration>)"),
                        ));
                    }
                    service.pull_policy = Some(if value == "if_not_present" {
                        "missing".into()
                    } else {
                        value
                    });
                }
                k if k.starts_with("x-") => {
                    service.extensions.insert(key.clone(), node.to_json());
                }
                "label_file" => {
                    files.label_files = self
                        .string_or_list(node, &p)?
                        .iter()
                        .map(|f| (PathBuf::from(self.host_path(f)), node.pos))
                        .collect()
                }
                // Compose accepts it but prints (and uses) nothing of it.
                "pull_refresh_after" => {
                    self.string(node, &p)?;
                }
                k if CARRIED.contains(&k) => {
                    if let Some(value) = self.service_extra(k, node, &p)? {
                        service.other.insert(key.clone(), value);
                    }
                }
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        &path,
                        &all_keys(&[MODELED, CARRIED]),
                    ));
                }
            }
        }
        // Compose copies `scale` into `deploy.replicas` when there is a `deploy`.
        let scale = service
            .other
            .get("scale")
            .and_then(serde_json::Value::as_u64);
        if let (Some(scale), Some(deploy)) = (scale, service.deploy.as_mut()) {
            if deploy.replicas.is_none() {
                deploy.replicas = u32::try_from(scale).ok();
            }
        }
        self.resolve_bare_keys(&mut service);
        self.pending_files.insert(name.to_string(), files);
        Ok(service)
    }

    // ---- build -----------------------------------------------------------

    fn build(&mut self, node: &Node, path: &str) -> Result<Build, SpecError> {
        let mut build = Build::default();
        let mut context = ".".to_string();
        let mut inline = false;
        let mut dockerfile_set = false;
        if let Some(map) = self.map(node, path)? {
            for (key, entry) in map {
                let node = &entry.node;
                let p = format!("{path}.{key}");
                match key.as_str() {
                    "context" => context = self.string(node, &p)?,
                    "dockerfile" => {
                        dockerfile_set = true;
                        build.dockerfile = self.opt_string(node, &p)?;
                    }
                    "args" => {
                        for (k, v) in self.key_values(node, &p)? {
                            let v = v.or_else(|| self.env.get(&k).cloned());
                            if let Some(v) = v {
                                build.args.insert(k, Some(v));
                            }
                        }
                    }
                    "target" => build.target = self.opt_string(node, &p)?,
                    "labels" => build.labels = self.labels(node, &p)?,
                    "network" => build.network = self.opt_string(node, &p)?,
                    "cache_from" => {
                        build.cache_from = self.string_or_list(node, &p)?;
                        self.no_repeats(node, &p, &build.cache_from)?;
                    }
                    "secrets" => build.secrets = self.file_mounts(node, &p, None)?,
                    k if k.starts_with("x-") => {
                        build.other.insert(key.clone(), node.to_json());
                    }
                    k if BUILD_CARRIED.contains(&k) => {
                        inline |= k == "dockerfile_inline";
                        if let Some(value) = self.build_extra(k, node, &p)? {
                            build.other.insert(key.clone(), value);
                        }
                    }
                    _ => {
                        return Err(self.unknown_key(
                            key,
                            entry,
                            path,
                            &all_keys(&[BUILD_MODELED, BUILD_CARRIED]),
                        ))
                    }
                }
            }
        }
        if !dockerfile_set && !inline {
            build.dockerfile = Some("Dockerfile".into());
        }
        build.context = self.resolve_context(&context);
        Ok(build)
    }

    /// A local build context becomes absolute; URLs and `service:` stay as they are.
    fn resolve_context(&self, context: &str) -> PathBuf {
        let remote = context.contains("://")
            || context.starts_with("service:")
            || ["github.com/", "git@"]
                .iter()
                .any(|prefix| context.starts_with(prefix));
        if remote {
            PathBuf::from(context)
        } else {
            PathBuf::from(self.host_path(context))
        }
    }

    /// A host path made absolute against the project directory (`~` is $HOME).
    /// Windows paths (`C:\\…`) count as absolute, as in compose.
    pub fn host_path(&self, path: &str) -> String {
        crate::compose::paths::absolute(
            path,
            self.project_dir,
            self.env.get("HOME").map(String::as_str),
        )
    }

    // ---- environment -----------------------------------------------------

    fn env_files(&self, node: &Node, path: &str) -> Result<Vec<EnvFile>, SpecError> {
        let items: Vec<Node> = match &node.value {
            Value::Str(_) => vec![node.clone()],
            Value::Seq(items) => items.clone(),
            Value::Null => Vec::new(),
            _ => return Err(self.expected(node, path, "a path or a list of paths")),
        };
        let mut files = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match &item.value {
                Value::Str(file) => files.push(EnvFile {
                    path: PathBuf::from(self.host_path(file)),
                    required: true,
                    raw: false,
                    pos: item.pos,
                }),
                Value::Map(map) => {
                    let mut file = None;
                    let mut required = true;
                    let mut raw = false;
                    for (key, entry) in map {
                        let q = format!("{p}.{key}");
                        match key.as_str() {
                            "path" => file = Some(self.string(&entry.node, &q)?),
                            "required" => required = self.boolean_const(&entry.node, &q)?,
                            "format" => {
                                let format = self.string(&entry.node, &q)?;
                                raw = match format.as_str() {
                                    "raw" => true,
                                    "" | ".env" => false,
                                    _ => {
                                        return Err(self.error(
                                            entry.node.pos,
                                            &q,
                                            format!(
                                            "unsupported env_file format `{format}` (raw or .env)"
                                        ),
                                        ))
                                    }
                                };
                            }
                            _ => {
                                return Err(self.unknown_key(
                                    key,
                                    entry,
                                    &p,
                                    &["path", "required", "format"],
                                ))
                            }
                        }
                    }
                    let Some(file) = file else {
                        return Err(self.error(item.pos, &p, "an env_file entry needs a `path`"));
                    };
                    files.push(EnvFile {
                        path: PathBuf::from(self.host_path(&file)),
                        required,
                        raw,
                        pos: item.pos,
                    });
                }
                _ => return Err(self.expected(item, &p, "a path")),
            }
        }
        Ok(files)
    }

    fn boolean_const(&self, node: &Node, path: &str) -> Result<bool, SpecError> {
        match &node.value {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) if s == "true" => Ok(true),
            Value::Str(s) if s == "false" => Ok(false),
            _ => Err(self.expected(node, path, "a boolean")),
        }
    }

    /// `KEY` without a value takes the interpolation environment's value when
    /// it has one.
    fn resolve_bare_keys(&self, service: &mut Service) {
        for (key, value) in service.environment.iter_mut() {
            if value.is_none() {
                if let Some(found) = self.env.get(key) {
                    *value = Some(found.clone());
                }
            }
        }
    }

    /// Reads the `env_file`s and `label_file`s of an enabled service (compose
    /// reads none of a disabled one's): file values come first, `environment`
    /// and `labels` override them.
    pub fn resolve_files(
        &mut self,
        service: &mut Service,
        files: ServiceFiles,
    ) -> Result<(), SpecError> {
        self.resolve_env_files(service, files.env_files)?;
        self.resolve_label_files(service, files.label_files)
    }

    fn resolve_env_files(
        &mut self,
        service: &mut Service,
        env_files: Vec<EnvFile>,
    ) -> Result<(), SpecError> {
        if env_files.is_empty() {
            return Ok(());
        }
        let mut lookup: IndexMap<String, String> = service
            .environment
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        for (k, v) in self.env {
            lookup.insert(k.clone(), v.clone());
        }
        let mut from_files: IndexMap<String, Option<String>> = IndexMap::new();
        for file in env_files {
            let text = match std::fs::read_to_string(&file.path) {
                Ok(text) => text,
                Err(_) if !file.required => continue,
                Err(e) => {
                    return Err(self.error(
                        file.pos,
                        &format!("services.{}.env_file", service.name),
                        format!("cannot read env file {}: {e}", file.path.display()),
                    ))
                }
            };
            let vars = if file.raw {
                dotenv::parse_raw(&text, &lookup)
            } else {
                let defined = file_vars(&from_files);
                dotenv::parse_into(&text, &lookup, defined).map_err(|(line, msg)| SpecError {
                    message: msg,
                    file: Some(file.path.display().to_string()),
                    line: Some(line),
                    column: None,
                    snippet: None,
                })?
            };
            for (k, v) in vars {
                from_files.insert(k, Some(v));
            }
        }
        for (k, v) in std::mem::take(&mut service.environment) {
            from_files.insert(k, v);
        }
        service.environment = from_files;
        Ok(())
    }

    fn resolve_label_files(
        &mut self,
        service: &mut Service,
        label_files: Vec<(PathBuf, crate::compose::error::Pos)>,
    ) -> Result<(), SpecError> {
        if label_files.is_empty() {
            return Ok(());
        }
        let mut labels: IndexMap<String, String> = IndexMap::new();
        for (file, pos) in label_files {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                self.error(
                    pos,
                    &format!("services.{}.label_file", service.name),
                    format!("cannot read label file {}: {e}", file.display()),
                )
            })?;
            let lookup = labels.clone();
            let vars = dotenv::parse(&text, &lookup).map_err(|(line, msg)| SpecError {
                message: msg,
                file: Some(file.display().to_string()),
                line: Some(line),
                column: None,
                snippet: None,
            })?;
            labels.extend(vars);
        }
        for (k, v) in std::mem::take(&mut service.labels) {
            labels.insert(k, v);
        }
        service.labels = labels;
        Ok(())
    }

    // ---- ports and expose --------------------------------------------------

    fn ports(&self, node: &Node, path: &str) -> Result<Vec<Port>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list of ports"));
        };
        let mut ports: Vec<Port> = Vec::new();
        let mut index: HashMap<(String, String, u16, String), usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let parsed = match &item.value {
                Value::Int(_) | Value::Str(_) => {
                    let text = item.scalar_text().unwrap_or_default();
                    syntax::parse_port(&text).map_err(|e| self.error(item.pos, &p, e))?
                }
                Value::Map(map) => vec![self.long_port(map, item, &p)?],
                _ => return Err(self.expected(item, &p, "a port (`8080:80`) or a mapping")),
            };
            for port in parsed {
                // A later entry with the same binding replaces the earlier one.
                match index.get(&port_key(&port)) {
                    Some(&j) => ports[j] = port,
                    None => {
                        index.insert(port_key(&port), ports.len());
                        ports.push(port);
                    }
                }
            }
        }
        Ok(ports)
    }

    fn long_port(&self, map: &Map, node: &Node, path: &str) -> Result<Port, SpecError> {
        let mut port = Port {
            protocol: "tcp".into(),
            mode: "ingress".into(),
            ..Port::default()
        };
        let mut has_target = false;
        for (key, entry) in map {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            match key.as_str() {
                "target" => {
                    port.target = self.int_in::<u16>(node, &p)?;
                    has_target = true;
                }
                "published" => {
                    let text = self.scalar(node, &p)?;
                    syntax::parse_port_range(&text).map_err(|e| self.error(node.pos, &p, e))?;
                    port.published = Some(text);
                }
                "host_ip" => port.host_ip = Some(self.string(node, &p)?),
                "protocol" => {
                    let proto = self.string(node, &p)?.to_ascii_lowercase();
                    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
                        return Err(self.error(
                            node.pos,
                            &p,
                            format!("invalid protocol `{proto}` (tcp, udp or sctp)"),
                        ));
                    }
                    port.protocol = proto;
                }
                "mode" => {
                    let mode = self.string(node, &p)?;
                    if !matches!(mode.as_str(), "host" | "ingress") {
                        return Err(self.error(
                            node.pos,
                            &p,
                            format!("invalid mode `{mode}` (host or ingress)"),
                        ));
                    }
                    port.mode = mode;
                }
                "name" => port.name = Some(self.string(node, &p)?),
                "app_protocol" => port.app_protocol = Some(self.string(node, &p)?),
                k if k.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        path,
                        &[
                            "target",
                            "published",
                            "host_ip",
                            "protocol",
                            "mode",
                            "name",
                            "app_protocol",
                        ],
                    ))
                }
            }
        }
        if !has_target {
            return Err(self.error(node.pos, path, "a port needs a `target`"));
        }
        Ok(port)
    }

    fn expose(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list of ports"));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let text = match &item.value {
                Value::Int(_) | Value::Str(_) => item.scalar_text().unwrap_or_default(),
                _ => return Err(self.expected(item, &p, "a port")),
            };
            let port = text.split('/').next().unwrap_or("");
            syntax::parse_port_range(port).map_err(|e| self.error(item.pos, &p, e))?;
            out.push(text);
        }
        Ok(dedup(out))
    }

    // ---- volumes -----------------------------------------------------------

    fn mounts(&mut self, node: &Node, path: &str) -> Result<Vec<Mount>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list of volumes"));
        };
        let mut mounts: Vec<Mount> = Vec::new();
        let mut by_target: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let mut mount = match &item.value {
                Value::Str(spec) => {
                    let short =
                        syntax::parse_volume(spec).map_err(|e| self.error(item.pos, &p, e))?;
                    let mut mount = short.mount;
                    mount.short_syntax = true;
                    mount
                }
                Value::Map(map) => self.long_mount(map, item, &p)?,
                _ => return Err(self.expected(item, &p, "a volume (`src:dst`) or a mapping")),
            };
            if mount.kind == MountKind::Bind {
                if let Some(source) = &mount.source {
                    mount.source = Some(self.host_path(source));
                }
            }
            mount.target = syntax::clean_path(&mount.target);
            let index = match by_target.get(&mount.target) {
                Some(&j) => {
                    mounts[j] = mount;
                    j
                }
                None => {
                    by_target.insert(mount.target.clone(), mounts.len());
                    mounts.push(mount);
                    mounts.len() - 1
                }
            };
            self.remember(format!("{path}[{index}]"), item.pos);
        }
        Ok(mounts)
    }

    fn long_mount(&mut self, map: &Map, node: &Node, path: &str) -> Result<Mount, SpecError> {
        let mut mount = Mount::default();
        let mut kind = None;
        let mut target = None;
        for (key, entry) in map {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            match key.as_str() {
                "type" => {
                    let text = self.string(node, &p)?;
                    kind = Some(match text.as_str() {
                        "volume" => MountKind::Volume,
                        "bind" => MountKind::Bind,
                        "tmpfs" => MountKind::Tmpfs,
                        "npipe" => MountKind::Npipe,
                        "image" => MountKind::Image,
                        _ => {
                            return Err(self.error(
                                node.pos,
                                &p,
                                format!("invalid volume type `{text}` (volume, bind, tmpfs, npipe or image)"),
                            ))
                        }
                    });
                }
                "source" => mount.source = self.opt_string(node, &p)?,
                "target" => target = Some(self.string(node, &p)?),
                "read_only" => mount.read_only = self.boolean(node, &p)?,
                "consistency" => mount.consistency = Some(self.string(node, &p)?),
                "bind" => {
                    for (k, e) in self.map(node, &p)?.into_iter().flatten() {
                        let q = format!("{p}.{k}");
                        match k.as_str() {
                            "propagation" => {
                                mount.bind_propagation = Some(self.string(&e.node, &q)?)
                            }
                            "create_host_path" => {
                                mount.create_host_path = self.boolean(&e.node, &q)?
                            }
                            "selinux" => {
                                let value = self.string(&e.node, &q)?;
                                if !matches!(value.as_str(), "z" | "Z") {
                                    return Err(self.error(e.node.pos, &q, "expected `z` or `Z`"));
                                }
                                mount.selinux = Some(value);
                            }
                            "recursive" => {
                                let value = self.string(&e.node, &q)?;
                                if !matches!(
                                    value.as_str(),
                                    "enabled" | "disabled" | "writable" | "readonly"
                                ) {
                                    return Err(self.error(
                                        e.node.pos,
                                        &q,
                                        format!("invalid value `{value}` (enabled, disabled, writable or readonly)"),
                                    ));
                                }
                                mount.bind_recursive = Some(value);
                            }
                            x if x.starts_with("x-") => {}
                            _ => {
                                return Err(self.unknown_key(
                                    k,
                                    e,
                                    &p,
                                    &["propagation", "create_host_path", "selinux", "recursive"],
                                ))
                            }
                        }
                    }
                }
                "volume" => {
                    for (k, e) in self.map(node, &p)?.into_iter().flatten() {
                        let q = format!("{p}.{k}");
                        match k.as_str() {
                            "nocopy" => mount.volume_nocopy = self.boolean(&e.node, &q)?,
                            "subpath" => mount.volume_subpath = Some(self.string(&e.node, &q)?),
                            "labels" => {}
                            x if x.starts_with("x-") => {}
                            _ => {
                                return Err(self.unknown_key(
                                    k,
                                    e,
                                    &p,
                                    &["nocopy", "subpath", "labels"],
                                ))
                            }
                        }
                    }
                }
                "tmpfs" => {
                    for (k, e) in self.map(node, &p)?.into_iter().flatten() {
                        let q = format!("{p}.{k}");
                        match k.as_str() {
                            "size" => mount.tmpfs_size = Some(self.bytes(&e.node, &q)?),
                            "mode" => mount.tmpfs_mode = Some(self.int_in::<u32>(&e.node, &q)?),
                            x if x.starts_with("x-") => {}
                            _ => return Err(self.unknown_key(k, e, &p, &["size", "mode"])),
                        }
                    }
                }
                "image" => {
                    for (k, e) in self.map(node, &p)?.into_iter().flatten() {
                        let q = format!("{p}.{k}");
                        match k.as_str() {
                            "subpath" => mount.image_subpath = self.opt_string(&e.node, &q)?,
                            x if x.starts_with("x-") => {}
                            _ => return Err(self.unknown_key(k, e, &p, &["subpath"])),
                        }
                    }
                }
                k if k.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        path,
                        &[
                            "type",
                            "source",
                            "target",
                            "read_only",
                            "consistency",
                            "bind",
                            "volume",
                            "tmpfs",
                            "image",
                        ],
                    ))
                }
            }
        }
        let Some(kind) = kind else {
            return Err(self.error(node.pos, path, "a volume mapping needs a `type`"));
        };
        mount.kind = kind;
        let Some(target) = target else {
            return Err(self.error(node.pos, path, "a volume mapping needs a `target`"));
        };
        mount.target = target;
        if kind == MountKind::Bind && mount.source.is_none() {
            return Err(self.error(node.pos, path, "a bind mount needs a `source`"));
        }
        Ok(mount)
    }

    // ---- networks and dependencies ------------------------------------------

    fn service_networks(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, ServiceNetwork>, SpecError> {
        let Some(map) = self.map(node, path)? else {
            return Ok(IndexMap::new());
        };
        let mut out = IndexMap::new();
        for (name, entry) in map {
            let p = format!("{path}.{name}");
            self.remember(p.clone(), entry.key_pos);
            let mut attachment = ServiceNetwork::default();
            if let Some(options) = self.map(&entry.node, &p)? {
                attachment.as_mapping = true;
                for (key, e) in options {
                    let q = format!("{p}.{key}");
                    match key.as_str() {
                        "aliases" => attachment.aliases = dedup(self.string_list(&e.node, &q)?),
                        "ipv4_address" => attachment.ipv4_address = Some(self.string(&e.node, &q)?),
                        "ipv6_address" => attachment.ipv6_address = Some(self.string(&e.node, &q)?),
                        "priority" => attachment.priority = Some(self.integer(&e.node, &q)?),
                        "link_local_ips" => {
                            attachment.link_local_ips = dedup(self.string_list(&e.node, &q)?)
                        }
                        "mac_address" => attachment.mac_address = self.opt_string(&e.node, &q)?,
                        "driver_opts" => attachment.driver_opts = self.string_map(&e.node, &q)?,
                        "gw_priority" => attachment.gw_priority = Some(self.integer(&e.node, &q)?),
                        "interface_name" => {
                            attachment.interface_name = self.opt_string(&e.node, &q)?
                        }
                        k if k.starts_with("x-") => {}
                        _ => {
                            return Err(self.unknown_key(
                                key,
                                e,
                                &p,
                                &[
                                    "aliases",
                                    "ipv4_address",
                                    "ipv6_address",
                                    "priority",
                                    "link_local_ips",
                                    "mac_address",
                                    "driver_opts",
                                    "gw_priority",
                                    "interface_name",
                                ],
                            ))
                        }
                    }
                }
            }
            out.insert(name.clone(), attachment);
        }
        Ok(out)
    }

    fn depends_on(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, Dependency>, SpecError> {
        let Some(map) = self.map(node, path)? else {
            return Ok(IndexMap::new());
        };
        let mut out = IndexMap::new();
        for (name, entry) in map {
            let p = format!("{path}.{name}");
            self.remember(p.clone(), entry.key_pos);
            let mut dependency = Dependency::default();
            for (key, e) in self.map(&entry.node, &p)?.into_iter().flatten() {
                let q = format!("{p}.{key}");
                match key.as_str() {
                    "condition" => {
                        let text = self.string(&e.node, &q)?;
                        dependency.condition = match text.as_str() {
                            "service_started" => Condition::Started,
                            "service_healthy" => Condition::Healthy,
                            "service_completed_successfully" => Condition::CompletedSuccessfully,
                            _ => {
                                return Err(self.error(
                                    e.node.pos,
                                    &q,
                                    format!("invalid condition `{text}` (service_started, service_healthy or service_completed_successfully)"),
                                ))
                            }
                        };
                    }
                    "required" => dependency.required = self.boolean(&e.node, &q)?,
                    "restart" => dependency.restart = self.boolean(&e.node, &q)?,
                    k if k.starts_with("x-") => {}
                    _ => {
                        return Err(self.unknown_key(
                            key,
                            e,
                            &p,
                            &["condition", "required", "restart"],
                        ))
                    }
                }
            }
            out.insert(name.clone(), dependency);
        }
        Ok(out)
    }

    // ---- healthcheck -------------------------------------------------------

    fn healthcheck(&mut self, node: &Node, path: &str) -> Result<Healthcheck, SpecError> {
        let mut check = Healthcheck::default();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            match key.as_str() {
                "test" => {
                    check.test = match &node.value {
                        Value::Str(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                        _ => self.string_list(node, &p)?,
                    };
                    if let Some(first) = check.test.first() {
                        if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                            return Err(self.error(
                                node.pos,
                                &p,
                                format!("a test list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\", not `{first}`"),
                            ));
                        }
                    }
                }
                "interval" => check.interval = Some(self.duration(node, &p)?),
                "timeout" => check.timeout = Some(self.duration(node, &p)?),
                "start_period" => check.start_period = Some(self.duration(node, &p)?),
                "start_interval" => check.start_interval = Some(self.duration(node, &p)?),
                "retries" => check.retries = Some(self.int_in::<u64>(node, &p)?),
                "disable" => check.disable = self.boolean(node, &p)?,
                k if k.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        path,
                        &[
                            "test",
                            "interval",
                            "timeout",
                            "start_period",
                            "start_interval",
                            "retries",
                            "disable",
                        ],
                    ))
                }
            }
        }
        Ok(check)
    }

    // ---- misc --------------------------------------------------------------

    pub(super) fn extra_hosts(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        let mut hosts = Vec::new();
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    let text = self.string(item, &p)?;
                    let (host, ip) = text
                        .split_once('=')
                        .or_else(|| text.split_once(':'))
                        .ok_or_else(|| {
                            self.error(item.pos, &p, format!("expected `host:ip`, found `{text}`"))
                        })?;
                    hosts.push(format!("{host}:{ip}"));
                }
            }
            Value::Map(map) => {
                let mut pairs = Vec::new();
                for (host, entry) in map {
                    let p = format!("{path}.{host}");
                    match &entry.node.value {
                        Value::Seq(items) => {
                            for (i, item) in items.iter().enumerate() {
                                pairs
                                    .push((host.clone(), self.string(item, &format!("{p}[{i}]"))?));
                            }
                        }
                        _ => pairs.push((host.clone(), self.string(&entry.node, &p)?)),
                    }
                }
                hosts.extend(pairs.into_iter().map(|(h, ip)| format!("{h}:{ip}")));
            }
            Value::Null => {}
            _ => return Err(self.expected(node, path, "a list or a mapping of hosts")),
        }
        // Compose sorts the entries (as `host=ip` strings).
        hosts.sort_by_key(|h| h.replacen(':', "=", 1));
        Ok(dedup(hosts))
    }

    pub(super) fn ulimits(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, Ulimit>, SpecError> {
        let mut out = IndexMap::new();
        for (name, entry) in self.map(node, path)?.into_iter().flatten() {
            let p = format!("{path}.{name}");
            let limit = match &entry.node.value {
                Value::Map(map) => {
                    let mut limit = Ulimit::default();
                    let (mut soft, mut hard) = (None, None);
                    for (key, e) in map {
                        let q = format!("{p}.{key}");
                        match key.as_str() {
                            "soft" => soft = Some(self.integer(&e.node, &q)?),
                            "hard" => hard = Some(self.integer(&e.node, &q)?),
                            k if k.starts_with("x-") => {}
                            _ => return Err(self.unknown_key(key, e, &p, &["soft", "hard"])),
                        }
                    }
                    let (Some(s), Some(h)) = (soft, hard) else {
                        return Err(self.error(
                            entry.node.pos,
                            &p,
                            "a ulimit mapping needs `soft` and `hard`",
                        ));
                    };
                    limit.soft = s;
                    limit.hard = h;
                    limit
                }
                _ => {
                    let value = self.integer(&entry.node, &p)?;
                    Ulimit {
                        soft: value,
                        hard: value,
                        single: true,
                    }
                }
            };
            out.insert(name.clone(), limit);
        }
        Ok(out)
    }

    fn logging(&self, node: &Node, path: &str) -> Result<Logging, SpecError> {
        let mut logging = Logging::default();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "driver" => logging.driver = self.opt_string(&entry.node, &p)?,
                "options" => logging.options = self.string_map(&entry.node, &p)?,
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown_key(key, entry, path, &["driver", "options"])),
            }
        }
        Ok(logging)
    }

    // ---- deploy ------------------------------------------------------------

    fn deploy(&mut self, node: &Node, path: &str) -> Result<Option<Deploy>, SpecError> {
        let Some(map) = self.map(node, path)? else {
            return Ok(None);
        };
        let mut deploy = Deploy::default();
        for (key, entry) in map {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            match key.as_str() {
                "mode" => deploy.mode = Some(self.string(node, &p)?),
                "replicas" => deploy.replicas = Some(self.int_in::<u32>(node, &p)?),
                "labels" => deploy.labels = self.labels(node, &p)?,
                "resources" => {
                    let (resources, other) = self.resources(node, &p)?;
                    deploy.resources = resources;
                    deploy.resources_other = other;
                }
                "restart_policy" => deploy.restart_policy = Some(self.restart_policy(node, &p)?),
                "update_config" => deploy.update_config = Some(self.update_config(node, &p)?),
                "placement" => deploy.placement = Some(self.placement(node, &p)?),
                "rollback_config" | "endpoint_mode" => {
                    deploy.other.insert(key.clone(), node.to_json());
                }
                k if k.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        path,
                        &[
                            "mode",
                            "replicas",
                            "labels",
                            "resources",
                            "restart_policy",
                            "update_config",
                            "placement",
                            "rollback_config",
                            "endpoint_mode",
                        ],
                    ))
                }
            }
        }
        Ok(Some(deploy))
    }

    #[allow(clippy::type_complexity)]
    fn resources(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<(Resources, IndexMap<String, serde_json::Value>), SpecError> {
        let mut resources = Resources::default();
        let mut other = IndexMap::new();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "limits" | "reservations" => {
                    let (spec, extras) = self.resource_spec(&entry.node, &p)?;
                    for (k, v) in extras {
                        other.insert(format!("{key}.{k}"), v);
                    }
                    if key == "limits" {
                        resources.limits = Some(spec);
                    } else {
                        resources.reservations = Some(spec);
                    }
                }
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown_key(key, entry, path, &["limits", "reservations"])),
            }
        }
        Ok((resources, other))
    }

    #[allow(clippy::type_complexity)]
    fn resource_spec(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<(ResourceSpec, Vec<(String, serde_json::Value)>), SpecError> {
        let mut spec = ResourceSpec::default();
        let mut extras = Vec::new();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            match key.as_str() {
                "cpus" => {
                    let cpus = self.float(node, &p)?;
                    if cpus < 0.0 {
                        return Err(self.error(node.pos, &p, "must not be negative"));
                    }
                    spec.cpus = Some(crate::compose::yaml::format_float(cpus));
                }
                "memory" => spec.memory = Some(self.bytes(node, &p)?),
                "pids" => spec.pids = Some(self.integer(node, &p)?),
                "devices" => {
                    let Value::Seq(items) = &node.value else {
                        return Err(self.expected(node, &p, "a list of device requests"));
                    };
                    let devices = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| self.device_request(item, &format!("{p}[{i}]")))
                        .collect::<Result<Vec<_>, _>>()?;
                    if !devices.is_empty() {
                        extras.push((key.clone(), serde_json::Value::Array(devices)));
                    }
                }
                "generic_resources" => {
                    let resources = self.generic_resources(node, &p)?;
                    if !resources.is_empty() {
                        extras.push((key.clone(), serde_json::Value::Array(resources)));
                    }
                }
                k if k.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        path,
                        &["cpus", "memory", "pids", "devices", "generic_resources"],
                    ))
                }
            }
        }
        Ok((spec, extras))
    }

    /// `generic_resources`: `[{discrete_resource_spec: {kind, value}}]`.
    fn generic_resources(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<serde_json::Value>, SpecError> {
        let Value::Seq(items) = &node.value else {
            return Err(self.expected(node, path, "a list"));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let mut resource = serde_json::Map::new();
            for (key, entry) in self.map(item, &p)?.into_iter().flatten() {
                let q = format!("{p}.{key}");
                match key.as_str() {
                    "discrete_resource_spec" => {
                        let mut spec = serde_json::Map::new();
                        for (k, e) in self.map(&entry.node, &q)?.into_iter().flatten() {
                            let r = format!("{q}.{k}");
                            match k.as_str() {
                                "kind" => {
                                    spec.insert(k.clone(), self.string(&e.node, &r)?.into());
                                }
                                "value" => {
                                    spec.insert(k.clone(), self.integer(&e.node, &r)?.into());
                                }
                                x if x.starts_with("x-") => {}
                                _ => return Err(self.unknown_key(k, e, &q, &["kind", "value"])),
                            }
                        }
                        resource.insert(key.clone(), serde_json::Value::Object(spec));
                    }
                    x if x.starts_with("x-") => {}
                    _ => return Err(self.unknown_key(key, entry, &p, &["discrete_resource_spec"])),
                }
            }
            out.push(serde_json::Value::Object(resource));
        }
        Ok(out)
    }

    fn restart_policy(&self, node: &Node, path: &str) -> Result<RestartPolicy, SpecError> {
        let mut policy = RestartPolicy::default();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            match key.as_str() {
                // Compose leaves the value to the engine (`unless-stopped`
                // is common in the wild).
                "condition" => policy.condition = Some(self.string(node, &p)?),
                "delay" => policy.delay = Some(self.duration(node, &p)?),
                "max_attempts" => policy.max_attempts = Some(self.int_in::<u64>(node, &p)?),
                "window" => policy.window = Some(self.duration(node, &p)?),
                k if k.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        path,
                        &["condition", "delay", "max_attempts", "window"],
                    ))
                }
            }
        }
        Ok(policy)
    }

    fn update_config(&self, node: &Node, path: &str) -> Result<UpdateConfig, SpecError> {
        let mut config = UpdateConfig::default();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            match key.as_str() {
                "parallelism" => config.parallelism = Some(self.int_in::<u64>(node, &p)?),
                "delay" => config.delay = Some(self.duration(node, &p)?),
                "failure_action" => config.failure_action = Some(self.string(node, &p)?),
                "monitor" => config.monitor = Some(self.duration(node, &p)?),
                "max_failure_ratio" => config.max_failure_ratio = Some(self.float(node, &p)?),
                "order" => {
                    let text = self.string(node, &p)?;
                    if !matches!(text.as_str(), "start-first" | "stop-first") {
                        return Err(self.error(
                            node.pos,
                            &p,
                            format!("invalid order `{text}` (start-first or stop-first)"),
                        ));
                    }
                    config.order = Some(text);
                }
                k if k.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        path,
                        &[
                            "parallelism",
                            "delay",
                            "failure_action",
                            "monitor",
                            "max_failure_ratio",
                            "order",
                        ],
                    ))
                }
            }
        }
        Ok(config)
    }

    fn placement(&self, node: &Node, path: &str) -> Result<Placement, SpecError> {
        let mut placement = Placement::default();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let node = &entry.node;
            let p = format!("{path}.{key}");
            match key.as_str() {
                "constraints" => placement.constraints = self.string_list(node, &p)?,
                "preferences" => {
                    let Value::Seq(items) = &node.value else {
                        return Err(self.expected(node, &p, "a list of preferences"));
                    };
                    for (i, item) in items.iter().enumerate() {
                        placement
                            .preferences
                            .push(self.string_map(item, &format!("{p}[{i}]"))?);
                    }
                }
                "max_replicas_per_node" => {
                    placement.max_replicas_per_node = Some(self.int_in::<u64>(node, &p)?)
                }
                k if k.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(
                        key,
                        entry,
                        path,
                        &["constraints", "preferences", "max_replicas_per_node"],
                    ))
                }
            }
        }
        Ok(placement)
    }
}

/// Compose's `pull_policy` pattern.
fn is_pull_policy(value: &str) -> bool {
    matches!(
        value,
        "always"
            | "never"
            | "build"
            | "if_not_present"
            | "missing"
            | "refresh"
            | "daily"
            | "weekly"
    ) || value.strip_prefix("every_").is_some_and(|rest| {
        !rest.is_empty()
            && rest.split_inclusive(['w', 'd', 'h', 'm', 's']).all(|part| {
                part.len() >= 2
                    && part[..part.len() - 1].chars().all(|c| c.is_ascii_digit())
                    && part.ends_with(['w', 'd', 'h', 'm', 's'])
            })
    })
}

/// Variables the service's earlier env files defined (visible to later ones).
fn file_vars(from_files: &IndexMap<String, Option<String>>) -> IndexMap<String, String> {
    from_files
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect()
}

/// The identity of a published port for de-duplication, as compose computes it.
fn port_key(port: &Port) -> (String, String, u16, String) {
    (
        port.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into()),
        port.published.clone().unwrap_or_default(),
        port.target,
        port.protocol.clone(),
    )
}

/// Drops repeated entries, keeping the first position.
fn dedup(items: Vec<String>) -> Vec<String> {
    let set: indexmap::IndexSet<String> = items.into_iter().collect();
    set.into_iter().collect()
}
