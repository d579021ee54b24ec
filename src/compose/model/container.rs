//! The parts of a service that describe its container beyond plain values:
//! healthcheck, logging, block I/O, devices, lifecycle hooks, `develop`,
//! models, provider, credential spec; each typed with its decoder and its
//! canonical printing.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::compose::canonical as print;
use crate::compose::decode::object::compose_object;
use crate::compose::decode::Decoder;

compose_object! {
    /// `healthcheck:` of a service.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct Healthcheck {
        /// `disable: true` (or a `NONE` test).
        #[serde(skip_serializing_if = "print::is_false")]
        disable: bool,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        interval: Option<Duration>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retries: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        start_interval: Option<Duration>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        start_period: Option<Duration>,
        /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]` (a string test
        /// becomes CMD-SHELL).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        test: Vec<String> => Decoder::health_test,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        timeout: Option<Duration>,
    }
    state {}
}

impl Healthcheck {
    /// Whether this healthcheck actually runs a test.
    pub fn is_enabled(&self) -> bool {
        !self.disable && !self.test.is_empty() && self.test[0] != "NONE"
    }
}

compose_object! {
    /// `logging:` of a service.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct Logging {
        #[serde(skip_serializing_if = "Option::is_none")]
        driver: Option<String>,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        options: IndexMap<String, String>,
    }
    state {}
}

compose_object! {
    /// `blkio_config:`; compose's JSON names the device entries' fields
    /// `Path`, `Rate`, `Weight` (its YAML lowercases them).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct BlkioConfig {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        device_read_bps: Vec<ThrottleDevice>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        device_read_iops: Vec<ThrottleDevice>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        device_write_bps: Vec<ThrottleDevice>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        device_write_iops: Vec<ThrottleDevice>,
        #[serde(skip_serializing_if = "Option::is_none")]
        weight: Option<u16> => Decoder::blkio_weight,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        weight_device: Vec<WeightDevice>,
    }
    state {}
}

compose_object! {
    /// A `blkio_config.weight_device` entry.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct WeightDevice {
        #[serde(rename = "Path", skip_serializing_if = "Option::is_none")]
        path: Option<String> => Decoder::some_string,
        #[serde(rename = "Weight", skip_serializing_if = "Option::is_none")]
        weight: Option<u16> => Decoder::some_u16,
    }
    state {}
}

compose_object! {
    /// A `blkio_config.device_{read,write}_{bps,iops}` entry.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ThrottleDevice {
        #[serde(rename = "Path", skip_serializing_if = "Option::is_none")]
        path: Option<String> => Decoder::some_string,
        /// Bytes (or operations) per second.
        #[serde(rename = "Rate", skip_serializing_if = "Option::is_none", serialize_with = "print::bytes")]
        rate: Option<i64> => Decoder::some_signed_bytes,
    }
    state {}
}

compose_object! {
    /// A `devices:` entry (`SOURCE[:TARGET[:PERMISSIONS]]` or the long form).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct DeviceMapping {
        /// Default `rwm`.
        permissions: String,
        /// A host device path, or a CDI name (`vendor.com/class=name`).
        source: String,
        /// Default: the source.
        target: String,
    }
    state {}
}

compose_object! {
    /// `credential_spec:` (Windows engines).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct CredentialSpec {
        #[serde(skip_serializing_if = "Option::is_none")]
        config: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        registry: Option<String>,
    }
    state {}
}

compose_object! {
    /// A lifecycle hook (`post_start`, `pre_stop`, `develop.watch[].exec`).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct Hook {
        command: Option<Vec<String>> => Decoder::command,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        environment: IndexMap<String, Option<String>>,
        #[serde(skip_serializing_if = "print::is_false")]
        privileged: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        working_dir: Option<String>,
    }
    state {}
}

compose_object! {
    /// `develop:` (`docker compose watch`).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct Develop {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        watch: Vec<WatchRule> => Decoder::watch_rules,
    }
    state {}
}

compose_object! {
    /// A `develop.watch` rule.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct WatchRule {
        /// `rebuild`, `sync`, `restart`, `sync+restart` or `sync+exec`.
        action: String => Decoder::watch_action,
        /// Compose prints `{command: null}` when the rule has none.
        exec: Hook => Decoder::hook,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        ignore: Vec<String> => Decoder::string_or_list,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        include: Vec<String> => Decoder::string_or_list,
        #[serde(skip_serializing_if = "print::is_false")]
        initial_sync: bool,
        /// Absolute.
        path: String => Decoder::watch_path,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    }
    state {}
}

compose_object! {
    /// One entry of a service's `models:` mapping.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ServiceModel {
        #[serde(skip_serializing_if = "Option::is_none")]
        endpoint_var: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        model_var: Option<String> => Decoder::some_string,
    }
    state {}
}

compose_object! {
    /// `provider:` of a service.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct Provider {
        /// Each option a list of strings, as compose prints it.
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        options: IndexMap<String, Vec<String>> => Decoder::provider_options,
        r#type: String,
    }
    state {}
}
