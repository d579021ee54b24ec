//! Resource limits and devices of a container: compose's service-level keys
//! (`mem_limit`, `memswap_limit`, `mem_reservation`, `mem_swappiness`,
//! `cpus`, `cpu_shares`, `cpu_period`, `cpu_quota`, `cpu_rt_*`, `cpuset`,
//! `pids_limit`, `oom_kill_disable`, `oom_score_adj`, `blkio_config`,
//! `devices`, `device_cgroup_rules`, `gpus`) and `deploy.resources`, merged
//! as compose does: a non-zero `deploy.resources.limits`/`reservations`
//! value wins over the service-level key.
//!
//! Device requests come in compose's order: `deploy.resources.reservations.devices`,
//! then CDI devices named in `devices` (`vendor.com/class=name`), then `gpus`
//! (whose capabilities always include `gpu`).
//!
//! A key the spec leaves out stays `None` in the request (never an explicit
//! zero or `false`), so specs that do not use a key hash as before.
//! `cpu_count` and `cpu_percent` (Windows engines only) are not sent.

use bollard::models::{
    DeviceMapping, DeviceRequest, HostConfig, ResourcesBlkioWeightDevice, ThrottleDevice,
};
use serde_json::Value;

use super::values::{self, as_integer, object_strings, string_list};
use crate::compose::model::Service;

/// Sets every resource field of `host` the service asks for.
pub fn apply(service: &Service, host: &mut HostConfig) {
    let deploy = service.deploy.as_ref().map(|d| &d.resources);
    let limits = deploy.and_then(|r| r.limits.as_ref());
    let reservations = deploy.and_then(|r| r.reservations.as_ref());

    host.memory = limits
        .and_then(|l| l.memory)
        .filter(|m| *m != 0)
        .map(saturate)
        .or_else(|| values::integer(service, "mem_limit"));
    host.memory_reservation = reservations
        .and_then(|r| r.memory)
        .filter(|m| *m != 0)
        .map(saturate)
        .or_else(|| values::integer(service, "mem_reservation"));
    host.memory_swap = values::integer(service, "memswap_limit");
    host.memory_swappiness = values::integer(service, "mem_swappiness");
    host.nano_cpus = limits
        .and_then(|l| l.cpus.as_deref())
        .and_then(|c| c.trim().parse::<f64>().ok())
        .and_then(nano_cpus)
        .or_else(|| values::float(service, "cpus").and_then(nano_cpus));
    host.pids_limit = limits
        .and_then(|l| l.pids)
        .filter(|p| *p != 0)
        .or_else(|| values::integer(service, "pids_limit"));
    host.cpu_shares = values::integer(service, "cpu_shares");
    host.cpu_period = values::integer(service, "cpu_period");
    host.cpu_quota = values::integer(service, "cpu_quota");
    host.cpu_realtime_period = values::integer(service, "cpu_rt_period");
    host.cpu_realtime_runtime = values::integer(service, "cpu_rt_runtime");
    host.cpuset_cpus = values::text(service, "cpuset").map(String::from);
    host.oom_kill_disable = values::flag(service, "oom_kill_disable").then_some(true);
    host.oom_score_adj = values::integer(service, "oom_score_adj");
    host.device_cgroup_rules = non_empty(values::strings(service, "device_cgroup_rules"));
    blkio(service, host);
    devices(service, host);
}

/// `"0.5"` CPUs → 500 000 000 nano-CPUs; `None` for zero or less.
pub fn nano_cpus(cpus: f64) -> Option<i64> {
    (cpus > 0.0).then(|| (cpus * 1e9).round() as i64)
}

fn saturate(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// `blkio_config`: weight, per-device weights and throttles (the spec keeps
/// compose's `Path`/`Rate`/`Weight` field names).
fn blkio(service: &Service, host: &mut HostConfig) {
    let Some(config) = service.other.get("blkio_config") else {
        return;
    };
    host.blkio_weight = config
        .get("weight")
        .and_then(as_integer)
        .and_then(|w| u16::try_from(w).ok())
        .filter(|w| *w != 0);
    let entries = |key: &str| -> &[Value] {
        config
            .get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    host.blkio_weight_device = non_empty(
        entries("weight_device")
            .iter()
            .map(|d| ResourcesBlkioWeightDevice {
                path: device_path(d),
                weight: d
                    .get("Weight")
                    .and_then(as_integer)
                    .and_then(|w| usize::try_from(w).ok()),
            })
            .collect(),
    );
    let throttles = |key: &str| {
        non_empty(
            entries(key)
                .iter()
                .map(|d| ThrottleDevice {
                    path: device_path(d),
                    rate: d.get("Rate").and_then(as_integer),
                })
                .collect(),
        )
    };
    host.blkio_device_read_bps = throttles("device_read_bps");
    host.blkio_device_read_iops = throttles("device_read_iops");
    host.blkio_device_write_bps = throttles("device_write_bps");
    host.blkio_device_write_iops = throttles("device_write_iops");
}

fn device_path(entry: &Value) -> Option<String> {
    entry
        .get("Path")
        .or_else(|| entry.get("path"))
        .and_then(Value::as_str)
        .map(String::from)
}

/// `devices` (host devices, or CDI names), `gpus` and
/// `deploy.resources.reservations.devices`.
fn devices(service: &Service, host: &mut HostConfig) {
    let mut mappings = Vec::new();
    let mut cdi = Vec::new();
    for device in values::objects(service, "devices") {
        let field = |k: &str| device.get(k).and_then(Value::as_str).map(String::from);
        let source = field("source").unwrap_or_default();
        let target = field("target").unwrap_or_else(|| source.clone());
        if source == target && is_cdi_name(&source) {
            cdi.push(source);
            continue;
        }
        mappings.push(DeviceMapping {
            path_on_host: Some(source),
            path_in_container: Some(target),
            cgroup_permissions: Some(field("permissions").unwrap_or_else(|| "rwm".into())),
        });
    }
    host.devices = non_empty(mappings);

    let mut requests: Vec<DeviceRequest> = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources_other.get("reservations.devices"))
        .and_then(Value::as_array)
        .map(|items| items.iter().map(|d| device_request(d, false)).collect())
        .unwrap_or_default();
    if !cdi.is_empty() {
        requests.push(DeviceRequest {
            driver: Some("cdi".into()),
            device_ids: Some(cdi),
            ..Default::default()
        });
    }
    requests.extend(
        values::objects(service, "gpus")
            .iter()
            .map(|d| device_request(d, true)),
    );
    host.device_requests = non_empty(requests);
}

/// One device request; `gpu` adds the `gpu` capability (compose's `gpus:`).
fn device_request(entry: &Value, gpu: bool) -> DeviceRequest {
    let mut capabilities = string_list(entry.get("capabilities"));
    if gpu {
        capabilities.push("gpu".into());
    }
    let options = entry.get("options").map(object_strings).unwrap_or_default();
    DeviceRequest {
        driver: entry
            .get("driver")
            .and_then(Value::as_str)
            .map(String::from),
        count: entry.get("count").and_then(as_integer),
        device_ids: non_empty(string_list(entry.get("device_ids"))),
        capabilities: Some(vec![capabilities]),
        options: (!options.is_empty()).then_some(options),
    }
}

/// A fully qualified CDI device name: `vendor.com/class=name`.
fn is_cdi_name(name: &str) -> bool {
    let Some((kind, device)) = name.split_once('=') else {
        return false;
    };
    let Some((vendor, class)) = kind.split_once('/') else {
        return false;
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    word(vendor) && word(class) && !device.is_empty() && !name.starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Deploy, ResourceSpec, Resources};
    use serde_json::json;

    fn service(other: Value) -> Service {
        let mut s = Service::default();
        for (k, v) in other.as_object().unwrap() {
            s.other.insert(k.clone(), v.clone());
        }
        s
    }

    fn host_of(s: &Service) -> HostConfig {
        let mut host = HostConfig::default();
        apply(s, &mut host);
        host
    }

    #[test]
    fn service_level_limits() {
        let host = host_of(&service(json!({
            "mem_limit": "67108864", "memswap_limit": "-1", "mem_reservation": "1048576",
            "mem_swappiness": "60", "cpus": 1.5, "cpu_shares": 512, "cpu_period": 100000,
            "cpu_quota": 50000, "cpu_rt_period": 1000000, "cpu_rt_runtime": 950000,
            "cpuset": "0-1", "pids_limit": 64, "oom_kill_disable": true, "oom_score_adj": 500,
            "device_cgroup_rules": ["c 1:3 mr"],
        })));
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.memory_swap, Some(-1));
        assert_eq!(host.memory_reservation, Some(1 << 20));
        assert_eq!(host.memory_swappiness, Some(60));
        assert_eq!(host.nano_cpus, Some(1_500_000_000));
        assert_eq!(host.cpu_shares, Some(512));
        assert_eq!(host.cpu_period, Some(100_000));
        assert_eq!(host.cpu_quota, Some(50_000));
        assert_eq!(host.cpu_realtime_period, Some(1_000_000));
        assert_eq!(host.cpu_realtime_runtime, Some(950_000));
        assert_eq!(host.cpuset_cpus.as_deref(), Some("0-1"));
        assert_eq!(host.pids_limit, Some(64));
        assert_eq!(host.oom_kill_disable, Some(true));
        assert_eq!(host.oom_score_adj, Some(500));
        assert_eq!(host.device_cgroup_rules, Some(vec!["c 1:3 mr".to_string()]));
    }

    #[test]
    fn unset_keys_stay_unset() {
        let host = host_of(&Service::default());
        let json = serde_json::to_value(&host).unwrap();
        assert_eq!(json, json!({}), "nothing set means nothing sent");
    }

    #[test]
    fn deploy_resources_win_when_non_zero() {
        let mut s = service(
            json!({"mem_limit": "1000", "cpus": 2.0, "pids_limit": 10, "mem_reservation": "500"}),
        );
        s.deploy = Some(Deploy {
            resources: Resources {
                limits: Some(ResourceSpec {
                    cpus: Some("0.5".into()),
                    memory: Some(2000),
                    pids: Some(20),
                }),
                reservations: Some(ResourceSpec {
                    memory: Some(0),
                    ..Default::default()
                }),
            },
            ..Default::default()
        });
        let host = host_of(&s);
        assert_eq!(host.memory, Some(2000));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.pids_limit, Some(20));
        assert_eq!(
            host.memory_reservation,
            Some(500),
            "zero reservation: the service key"
        );
    }

    #[test]
    fn blkio_config_becomes_throttles() {
        let host = host_of(&service(json!({"blkio_config": {
            "weight": 300,
            "weight_device": [{"Path": "/dev/sda", "Weight": 400}],
            "device_read_bps": [{"Path": "/dev/sda", "Rate": "1048576"}],
            "device_write_iops": [{"Path": "/dev/sdb", "Rate": "30"}],
        }})));
        assert_eq!(host.blkio_weight, Some(300));
        let wd = &host.blkio_weight_device.unwrap()[0];
        assert_eq!(
            (wd.path.as_deref(), wd.weight),
            (Some("/dev/sda"), Some(400))
        );
        let rbps = &host.blkio_device_read_bps.unwrap()[0];
        assert_eq!(rbps.rate, Some(1 << 20));
        assert_eq!(host.blkio_device_write_iops.unwrap()[0].rate, Some(30));
        assert!(host.blkio_device_write_bps.is_none());
    }

    #[test]
    fn devices_gpus_and_reservations() {
        let mut s = service(json!({
            "devices": [
                {"source": "/dev/null", "target": "/dev/nothing", "permissions": "rwm"},
                {"source": "nvidia.com/gpu=all", "target": "nvidia.com/gpu=all", "permissions": "rwm"},
            ],
            "gpus": [{"count": -1}],
        }));
        s.deploy = Some(Deploy {
            resources_other: indexmap::IndexMap::from([(
                "reservations.devices".to_string(),
                json!([{"capabilities": ["gpu"], "driver": "nvidia", "count": 1, "options": {"a": "b"}}]),
            )]),
            ..Default::default()
        });
        let host = host_of(&s);
        let devices = host.devices.unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].path_on_host.as_deref(), Some("/dev/null"));
        assert_eq!(
            devices[0].path_in_container.as_deref(),
            Some("/dev/nothing")
        );
        assert_eq!(devices[0].cgroup_permissions.as_deref(), Some("rwm"));
        let requests = host.device_requests.unwrap();
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[0].driver.as_deref(), Some("nvidia"));
        assert_eq!(requests[0].count, Some(1));
        assert_eq!(
            requests[0].capabilities,
            Some(vec![vec!["gpu".to_string()]])
        );
        assert_eq!(requests[0].options.as_ref().unwrap()["a"], "b");
        assert_eq!(requests[1].driver.as_deref(), Some("cdi"));
        assert_eq!(
            requests[1].device_ids,
            Some(vec!["nvidia.com/gpu=all".to_string()])
        );
        assert_eq!(requests[2].count, Some(-1));
        assert_eq!(
            requests[2].capabilities,
            Some(vec![vec!["gpu".to_string()]])
        );
    }

    #[test]
    fn cdi_names() {
        assert!(is_cdi_name("nvidia.com/gpu=all"));
        assert!(!is_cdi_name("/dev/null"));
        assert!(!is_cdi_name("gpu=all"));
    }
}
