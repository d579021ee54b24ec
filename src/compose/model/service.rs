//! A service of the spec: every compose service key, typed, with its
//! decoder (see [`compose_object!`]) and its canonical printing (serde
//! attributes: what `docker compose config` leaves out, and how it prints
//! sizes, durations and CPU counts).

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use super::{
    BlkioConfig, Build, CredentialSpec, Dependency, Deploy, Develop, DeviceMapping, DeviceRequest,
    EnvFile, FileMount, Healthcheck, Hook, Logging, Mount, Port, Provider, ServiceModel,
    ServiceNetwork, Ulimit,
};
use crate::compose::canonical as print;
use crate::compose::decode::object::compose_object;
use crate::compose::decode::Decoder;
use crate::compose::error::Pos;

compose_object! {
    /// One service of the spec. Fields are compose's keys; zero, empty and
    /// `false` values mean "not set" (compose's `omitempty`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct Service {
        /// API 1.43+: carried, not applied.
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        annotations: IndexMap<String, String>,
        /// `false`: `up --attach`/`logs` leave the service out.
        #[serde(skip_serializing_if = "Option::is_none")]
        attach: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        blkio_config: Option<BlkioConfig>,
        #[serde(skip_serializing_if = "Option::is_none")]
        build: Option<Build> => Decoder::build,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        cap_add: Vec<String> => Decoder::unique_list,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        cap_drop: Vec<String> => Decoder::unique_list,
        /// `host` or `private`.
        #[serde(skip_serializing_if = "Option::is_none")]
        cgroup: Option<String> => Decoder::cgroup,
        #[serde(skip_serializing_if = "Option::is_none")]
        cgroup_parent: Option<String>,
        command: Option<Vec<String>> => Decoder::command,
        /// `configs:` the service mounts (`target` `None` means `/<source>`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        configs: Vec<FileMount> => Decoder::config_mounts,
        #[serde(skip_serializing_if = "Option::is_none")]
        container_name: Option<String> => Decoder::some_string,
        /// Windows engines only: carried, not applied.
        #[serde(skip_serializing_if = "Option::is_none")]
        cpu_count: Option<i64> => Decoder::non_zero_integer,
        /// Windows engines only: carried, not applied.
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::float32")]
        cpu_percent: Option<f64> => Decoder::non_zero_cpus,
        #[serde(skip_serializing_if = "Option::is_none")]
        cpu_period: Option<i64> => Decoder::non_zero_integer,
        #[serde(skip_serializing_if = "Option::is_none")]
        cpu_quota: Option<i64> => Decoder::non_zero_integer,
        #[serde(skip_serializing_if = "Option::is_none")]
        cpu_rt_period: Option<i64> => Decoder::non_zero_integer,
        #[serde(skip_serializing_if = "Option::is_none")]
        cpu_rt_runtime: Option<i64> => Decoder::non_zero_integer,
        #[serde(skip_serializing_if = "Option::is_none")]
        cpu_shares: Option<i64> => Decoder::non_zero_integer,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::float32")]
        cpus: Option<f64> => Decoder::non_zero_cpus,
        #[serde(skip_serializing_if = "Option::is_none")]
        cpuset: Option<String>,
        /// Windows engines only: carried, not applied.
        #[serde(skip_serializing_if = "Option::is_none")]
        credential_spec: Option<CredentialSpec>,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        depends_on: IndexMap<String, Dependency> => Decoder::depends_on,
        #[serde(skip_serializing_if = "Option::is_none")]
        deploy: Option<Deploy> => Decoder::deploy,
        /// The rules of `torq watch` and `up --watch` (containers are made without them).
        #[serde(skip_serializing_if = "Option::is_none")]
        develop: Option<Develop>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        device_cgroup_rules: Vec<String> => Decoder::distinct_list,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        devices: Vec<DeviceMapping> => Decoder::devices,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        dns: Vec<String> => Decoder::unique_string_or_list,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        dns_opt: Vec<String> => Decoder::unique_list,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        dns_search: Vec<String> => Decoder::unique_string_or_list,
        #[serde(skip_serializing_if = "Option::is_none")]
        domainname: Option<String>,
        entrypoint: Option<Vec<String>> => Decoder::command,
        /// Read into `environment` for enabled services; never printed.
        #[serde(skip)]
        env_file: Vec<EnvFile> => Decoder::env_files,
        /// `KEY: None` means "unset / inherit from torq's environment when known".
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        environment: IndexMap<String, Option<String>>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        expose: Vec<String> => Decoder::expose,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        external_links: Vec<String> => Decoder::distinct_list,
        /// `host:ip` entries, as the Docker API takes them (printed as
        /// compose's `host=ip`).
        #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "print::hosts")]
        extra_hosts: Vec<String> => Decoder::extra_hosts,
        /// GPU requests (`gpus: all` is one request with count -1).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        gpus: Vec<DeviceRequest> => Decoder::gpus,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        group_add: Vec<String> => Decoder::group_add,
        #[serde(skip_serializing_if = "Option::is_none")]
        healthcheck: Option<Healthcheck> => Decoder::healthcheck,
        #[serde(skip_serializing_if = "Option::is_none")]
        hostname: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        image: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        init: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ipc: Option<String>,
        /// Windows engines only: carried, not applied.
        #[serde(skip_serializing_if = "Option::is_none")]
        isolation: Option<String>,
        /// Read into `labels` for enabled services; never printed.
        #[serde(skip)]
        label_file: Vec<(PathBuf, Pos)> => Decoder::label_files,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        labels: IndexMap<String, String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        links: Vec<String> => Decoder::unique_list,
        #[serde(skip_serializing_if = "Option::is_none")]
        logging: Option<Logging>,
        /// API 1.41 takes it in a container field bollard no longer models:
        /// carried, not applied.
        #[serde(skip_serializing_if = "Option::is_none")]
        mac_address: Option<String>,
        /// Bytes.
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::bytes")]
        mem_limit: Option<i64> => Decoder::non_zero_bytes,
        /// Bytes.
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::bytes")]
        mem_reservation: Option<i64> => Decoder::non_zero_bytes,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::bytes")]
        mem_swappiness: Option<i64> => Decoder::non_zero_bytes,
        /// Bytes (`-1`: unlimited swap).
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::bytes")]
        memswap_limit: Option<i64> => Decoder::non_zero_bytes,
        /// Models the service uses (`None`: written as a bare name): carried,
        /// not applied.
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        models: IndexMap<String, Option<ServiceModel>> => Decoder::service_models,
        #[serde(skip_serializing_if = "print::is_blank")]
        network_mode: Option<String> => Decoder::network_mode,
        /// Networks the service joins, with per-network options. Empty plus
        /// no `network_mode` means the project's `default` network.
        #[serde(skip_serializing_if = "IndexMap::is_empty", serialize_with = "print::attachments")]
        networks: IndexMap<String, ServiceNetwork> => Decoder::service_networks,
        #[serde(skip_serializing_if = "print::is_false")]
        oom_kill_disable: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        oom_score_adj: Option<i64> => Decoder::non_zero_integer,
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<String> => Decoder::nullable_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        pids_limit: Option<i64> => Decoder::non_zero_integer,
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        ports: Vec<Port> => Decoder::ports,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        post_start: Vec<Hook> => Decoder::hooks,
        /// `torq down` works from labels, without the spec: carried, not applied.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pre_stop: Vec<Hook> => Decoder::hooks,
        #[serde(skip_serializing_if = "print::is_false")]
        privileged: bool,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        profiles: Vec<String> => Decoder::unique_list,
        /// A service run by a provider plugin: carried, not applied.
        #[serde(skip_serializing_if = "Option::is_none")]
        provider: Option<Provider> => Decoder::provider,
        #[serde(skip_serializing_if = "Option::is_none")]
        pull_policy: Option<String> => Decoder::pull_policy,
        /// Accepted (a string), as compose accepts it; never printed nor used.
        #[serde(skip)]
        pull_refresh_after: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "print::is_false")]
        read_only: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        restart: Option<String> => Decoder::restart,
        #[serde(skip_serializing_if = "Option::is_none")]
        runtime: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        scale: Option<i64> => Decoder::some_integer,
        /// `secrets:` the service mounts (`target` always set: default
        /// `/run/secrets/<source>`; a relative target lies under `/run/secrets/`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        secrets: Vec<FileMount> => Decoder::secret_mounts,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        security_opt: Vec<String> => Decoder::distinct_list,
        /// Bytes.
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::bytes")]
        shm_size: Option<u64> => Decoder::some_bytes,
        #[serde(skip_serializing_if = "print::is_false")]
        stdin_open: bool,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        stop_grace_period: Option<Duration>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stop_signal: Option<String> => Decoder::stop_signal,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        storage_opt: IndexMap<String, String>,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        sysctls: IndexMap<String, String>,
        /// `PATH[:OPTIONS]` entries.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tmpfs: Vec<String> => Decoder::unique_string_or_list,
        #[serde(skip_serializing_if = "print::is_false")]
        tty: bool,
        #[serde(skip_serializing_if = "IndexMap::is_empty", serialize_with = "print::ulimits")]
        ulimits: IndexMap<String, Ulimit> => Decoder::ulimits,
        /// Carried, not applied.
        #[serde(skip_serializing_if = "print::is_false")]
        use_api_socket: bool => Decoder::strict_boolean,
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        userns_mode: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uts: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        volumes: Vec<Mount> => Decoder::mounts,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        volumes_from: Vec<String> => Decoder::distinct_list,
        #[serde(skip_serializing_if = "Option::is_none")]
        working_dir: Option<String>,
    }
    state {
        /// The service's key in `services:`.
        #[serde(skip)]
        name: String,
        /// Service-level `x-*` extensions (e.g. torq's own `x-torq-*` keys).
        #[serde(flatten)]
        extensions: IndexMap<String, serde_json::Value>,
    }
}

/// Service keys the engine does not apply to containers (a dotted key is
/// one inside another): loading warns when an enabled service sets one.
pub(crate) const NOT_APPLIED: &[&str] = &[
    "annotations",
    "healthcheck.start_interval",
    "cpu_count",
    "cpu_percent",
    "credential_spec",
    "isolation",
    "models",
    "provider",
    "mac_address",
    "pre_stop",
    "use_api_socket",
];

impl Service {
    /// Replicas to run: `scale`, else `deploy.replicas`, else 1.
    pub fn replicas(&self) -> u32 {
        self.scale
            .and_then(|s| u32::try_from(s).ok())
            .or_else(|| self.deploy.as_ref().and_then(|d| d.replicas))
            .unwrap_or(1)
    }
}
