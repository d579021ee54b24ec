//! The normalized compose model: what a loaded, interpolated, merged and
//! validated spec looks like. Every other layer reads these types; only the
//! compose layer builds them.
//!
//! Each compose object is declared once, with [`compose_object!`]: its keys
//! are its fields, each with the decoder that types it, and the declaration
//! is the object's table of allowed keys. Shapes follow docker compose's
//! canonical form (`docker compose config`): long-syntax ports and volumes,
//! `depends_on` as a map with condition/required/restart, environment as a
//! map, durations as [`std::time::Duration`]. Printing that form is
//! [`crate::compose::canonical`]'s job.
//!
//! Files: [`service`] (a service's keys), [`build`], [`deploy`],
//! [`container`] (healthcheck, logging, devices, hooks, …); this file holds
//! the project and the small shared objects.

mod build;
mod container;
mod deploy;
mod service;

pub use build::Build;
pub use container::{
    BlkioConfig, CredentialSpec, Develop, DeviceMapping, Healthcheck, Hook, Logging, Provider,
    ServiceModel, ThrottleDevice, WatchRule, WeightDevice,
};
pub use deploy::{
    Deploy, DeviceRequest, DiscreteResourceSpec, GenericResource, Placement, ResourceSpec,
    Resources, RestartPolicy, UpdateConfig,
};
pub use service::Service;
pub(crate) use service::NOT_APPLIED;

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

use crate::compose::canonical as print;
use crate::compose::decode::object::compose_object;
use crate::compose::decode::Decoder;
use crate::compose::error::Pos;

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

compose_object! {
    /// A top-level secret or config: where its content comes from. Secrets
    /// have no `content`; configs no `driver` nor `driver_opts`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct FileObject {
        /// Inline content (configs only), after interpolation.
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        driver: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        driver_opts: IndexMap<String, String>,
        /// Name of the variable (of torq's environment) holding the content.
        #[serde(skip_serializing_if = "Option::is_none")]
        environment: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "print::is_false")]
        external: bool => Decoder::external,
        /// Absolute path of the file holding the content.
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf> => Decoder::host_file,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        labels: IndexMap<String, String>,
        /// The engine-side name (`PROJECT_KEY` unless `name:` or external).
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        template_driver: Option<String> => Decoder::some_string,
    }
    state {
        /// The value of `environment`'s variable in the project environment
        /// (the process environment and `.env`) when the spec was loaded;
        /// `None` when unset. Never printed (`torq config` shows the
        /// variable's name).
        #[serde(skip)]
        environment_value: Option<String>,
    }
}

compose_object! {
    /// A service's (or a build's) use of a secret or config.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct FileMount {
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<String> => Decoder::some_string,
        /// File mode (`0o440`; a string is read as octal).
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::file_mode")]
        mode: Option<u32> => Decoder::file_mode,
        /// The key of the top-level secret or config.
        source: String,
        /// Where it appears in the container.
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<String> => Decoder::some_string,
    }
    state {}
}

compose_object! {
    /// An `env_file` entry of a service.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct EnvFile {
        /// `raw` (values verbatim) or `.env`.
        format: Option<String> => Decoder::env_file_format,
        /// Absolute.
        path: PathBuf => Decoder::host_path_buf,
        /// `false`: a missing file is skipped.
        required: bool => Decoder::strict_bool_or_text,
    }
    state {
        pos: Pos,
    }
}

impl Default for EnvFile {
    fn default() -> Self {
        EnvFile {
            format: None,
            path: PathBuf::new(),
            required: true,
            pos: Pos::default(),
        }
    }
}

impl EnvFile {
    /// `format: raw`: values verbatim.
    pub fn is_raw(&self) -> bool {
        self.format.as_deref() == Some("raw")
    }
}

compose_object! {
    /// A published port, long syntax.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct Port {
        #[serde(skip_serializing_if = "Option::is_none")]
        app_protocol: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        host_ip: Option<String> => Decoder::some_string,
        /// `ingress` (default) or `host`.
        mode: String => Decoder::port_mode,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String> => Decoder::some_string,
        /// Host port or range (`"8080"`, `"8000-8010"`); `None` means an
        /// ephemeral port.
        #[serde(skip_serializing_if = "Option::is_none")]
        published: Option<String> => Decoder::published_port,
        /// `tcp` (default), `udp` or `sctp`.
        protocol: String => Decoder::port_protocol,
        target: u16 => Decoder::port_number,
    }
    state {}
}

compose_object! {
    /// A mount, long syntax (short syntax is parsed into the same shape).
    /// Option groups that say nothing are `None`: a `volume` only on volume
    /// mounts (`{}` when written in short syntax, as compose prints it), an
    /// `image` only on image mounts with a `subpath`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct Mount {
        #[serde(skip_serializing_if = "Option::is_none")]
        bind: Option<BindOptions>,
        #[serde(skip_serializing_if = "Option::is_none")]
        consistency: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        image: Option<ImageOptions>,
        #[serde(skip_serializing_if = "print::is_false")]
        read_only: bool,
        /// Host path (bind, absolute), or the key of a top-level volume
        /// (volume; its engine name is `Project::volumes[key].name`; `None` =
        /// anonymous); unused for tmpfs.
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        target: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tmpfs: Option<TmpfsOptions>,
        #[serde(rename = "type")]
        kind as "type": MountKind => Decoder::mount_kind,
        #[serde(skip_serializing_if = "Option::is_none")]
        volume: Option<VolumeOptions>,
    }
    state {}
}

compose_object! {
    /// `bind:` options of a mount.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct BindOptions {
        /// Create the host path if missing (short syntax does).
        #[serde(skip_serializing_if = "print::is_false")]
        create_host_path: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        propagation: Option<String> => Decoder::some_string,
        /// `enabled`, `disabled`, `writable` or `readonly`.
        #[serde(skip_serializing_if = "Option::is_none")]
        recursive: Option<String> => Decoder::bind_recursive,
        /// `z` or `Z`.
        #[serde(skip_serializing_if = "Option::is_none")]
        selinux: Option<String> => Decoder::selinux,
    }
    state {}
}

compose_object! {
    /// `volume:` options of a mount.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct VolumeOptions {
        /// Accepted and not used, as compose uses none.
        #[serde(skip)]
        labels: IndexMap<String, String>,
        #[serde(skip_serializing_if = "print::is_false")]
        nocopy: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        subpath: Option<String> => Decoder::some_string,
    }
    state {}
}

compose_object! {
    /// `tmpfs:` options of a mount.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct TmpfsOptions {
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
        /// Bytes.
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::bytes")]
        size: Option<u64> => Decoder::some_bytes,
    }
    state {}
}

compose_object! {
    /// `image:` options of a mount.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ImageOptions {
        /// The path inside the image to mount.
        #[serde(skip_serializing_if = "Option::is_none")]
        subpath: Option<String>,
    }
    state {}
}

impl Mount {
    /// Whether a bind mount may create its missing host path.
    pub fn creates_host_path(&self) -> bool {
        self.bind.as_ref().is_some_and(|b| b.create_host_path)
    }

    /// The bind options, created empty when missing.
    pub(crate) fn bind_options(&mut self) -> &mut BindOptions {
        self.bind.get_or_insert_with(BindOptions::default)
    }
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

impl Serialize for MountKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
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

compose_object! {
    /// A service's attachment to one network.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ServiceNetwork {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        aliases: Vec<String> => Decoder::unique_list,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        driver_opts: IndexMap<String, String>,
        #[serde(skip_serializing_if = "print::is_zero_or_none")]
        gw_priority: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        interface_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ipv4_address: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        ipv6_address: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        link_local_ips: Vec<String> => Decoder::unique_list,
        #[serde(skip_serializing_if = "Option::is_none")]
        mac_address: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        priority: Option<i64>,
    }
    state {
        #[serde(skip)]
        /// Written as a mapping (`front: {}`) rather than a bare name or
        /// `null`; only changes how `torq config` prints an attachment
        /// without options.
        as_mapping: bool,
    }
}

compose_object! {
    /// One entry of `depends_on`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
    pub struct Dependency {
        condition: Condition,
        /// `false`: a failed or missing dependency is a warning, not a failure.
        required: bool,
        /// `true`: restarting the dependency restarts this service too.
        #[serde(skip_serializing_if = "print::is_false")]
        restart: bool,
    }
    state {}
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

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
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

compose_object! {
    /// One of `ulimits`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Ulimit {
        hard: i64,
        soft: i64,
    }
    state {
        /// Written as a single number (`nproc: 65535`): soft = hard.
        single: bool,
    }
}

compose_object! {
    /// A top-level network.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct Network {
        #[serde(skip_serializing_if = "print::is_false")]
        attachable: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        driver: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        driver_opts: IndexMap<String, String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        enable_ipv4: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        enable_ipv6: Option<bool>,
        #[serde(skip_serializing_if = "print::is_false")]
        external: bool => Decoder::external,
        #[serde(skip_serializing_if = "print::is_false")]
        internal: bool,
        /// As written, without `options` (compose drops them); printed `{}`
        /// when absent.
        #[serde(serialize_with = "print::or_empty_object")]
        ipam: Option<serde_json::Value> => Decoder::ipam,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        labels: IndexMap<String, String>,
        /// The engine-side name (`PROJECT_KEY` unless `name:` or external).
        name: String,
    }
    state {}
}

compose_object! {
    /// A top-level volume.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct Volume {
        #[serde(skip_serializing_if = "Option::is_none")]
        driver: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        driver_opts: IndexMap<String, String>,
        #[serde(skip_serializing_if = "print::is_false")]
        external: bool => Decoder::external,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        labels: IndexMap<String, String>,
        /// The engine-side name (`PROJECT_KEY` unless `name:` or external).
        name: String,
    }
    state {}
}
