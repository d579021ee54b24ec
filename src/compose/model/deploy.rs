//! `deploy:` of a service: replicas, resources (limits, reservations,
//! devices, generic resources), restart, update and rollback policies,
//! placement; every key typed, with its decoder and canonical printing.
//! Containers use replicas, resources and the restart policy; the rest is
//! for a swarm deploy.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::compose::canonical as print;
use crate::compose::decode::object::compose_object;
use crate::compose::decode::Decoder;

compose_object! {
    /// `deploy:` of a service.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct Deploy {
        /// `vip` or `dnsrr`.
        #[serde(skip_serializing_if = "Option::is_none")]
        endpoint_mode: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        labels: IndexMap<String, String>,
        /// `replicated` (default), `global`, `replicated-job`, `global-job`.
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<String> => Decoder::some_string,
        /// Compose always prints it.
        #[serde(serialize_with = "print::or_default")]
        placement: Option<Placement>,
        #[serde(skip_serializing_if = "Option::is_none")]
        replicas: Option<u32>,
        resources: Resources,
        #[serde(skip_serializing_if = "Option::is_none")]
        restart_policy: Option<RestartPolicy>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rollback_config: Option<UpdateConfig>,
        #[serde(skip_serializing_if = "Option::is_none")]
        update_config: Option<UpdateConfig>,
    }
    state {}
}

compose_object! {
    /// `deploy.resources`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct Resources {
        #[serde(skip_serializing_if = "Option::is_none")]
        limits: Option<ResourceSpec>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reservations: Option<ResourceSpec>,
    }
    state {}
}

compose_object! {
    /// `deploy.resources.limits` or `.reservations`; zero means unset.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct ResourceSpec {
        #[serde(skip_serializing_if = "print::is_zero_or_none", serialize_with = "print::number")]
        cpus: Option<f64> => Decoder::cpus,
        /// Device requests (GPUs): `reservations` only, in compose's schema.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        devices: Vec<DeviceRequest> => Decoder::device_requests,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        generic_resources: Vec<GenericResource>,
        /// Bytes.
        #[serde(skip_serializing_if = "print::is_zero_or_none", serialize_with = "print::bytes")]
        memory: Option<u64> => Decoder::some_bytes,
        #[serde(skip_serializing_if = "print::is_zero_or_none")]
        pids: Option<i64>,
    }
    state {}
}

compose_object! {
    /// A device request (`deploy.resources.reservations.devices`, `gpus`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct DeviceRequest {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        capabilities: Vec<String>,
        /// How many devices; -1 means all.
        #[serde(skip_serializing_if = "Option::is_none")]
        count: Option<i64> => Decoder::device_count,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        device_ids: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        driver: Option<String>,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        options: IndexMap<String, String>,
    }
    state {}
}

compose_object! {
    /// One of `generic_resources`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct GenericResource {
        #[serde(skip_serializing_if = "Option::is_none")]
        discrete_resource_spec: Option<DiscreteResourceSpec>,
    }
    state {}
}

compose_object! {
    /// `generic_resources[].discrete_resource_spec`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct DiscreteResourceSpec {
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<i64>,
    }
    state {}
}

compose_object! {
    /// `deploy.restart_policy`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct RestartPolicy {
        /// `none`, `on-failure` or `any` (compose leaves the value to the engine).
        #[serde(skip_serializing_if = "Option::is_none")]
        condition: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        delay: Option<Duration>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_attempts: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        window: Option<Duration>,
    }
    state {}
}

compose_object! {
    /// `deploy.update_config` or `deploy.rollback_config`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct UpdateConfig {
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        delay: Option<Duration>,
        #[serde(skip_serializing_if = "Option::is_none")]
        failure_action: Option<String> => Decoder::some_string,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_failure_ratio: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::duration")]
        monitor: Option<Duration>,
        /// `start-first` or `stop-first`.
        #[serde(skip_serializing_if = "Option::is_none")]
        order: Option<String> => Decoder::update_order,
        #[serde(skip_serializing_if = "Option::is_none")]
        parallelism: Option<u64>,
    }
    state {}
}

compose_object! {
    /// `deploy.placement`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct Placement {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        constraints: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_replicas_per_node: Option<u64>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        preferences: Vec<IndexMap<String, String>> => Decoder::preferences,
    }
    state {}
}
