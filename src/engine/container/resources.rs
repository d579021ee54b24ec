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

use crate::compose::model::{self, BlkioConfig, Service};

/// Sets every resource field of `host` the service asks for.
pub(crate) fn apply(service: &Service, host: &mut HostConfig) {
    let deploy = service.deploy.as_ref().map(|d| &d.resources);
    let limits = deploy.and_then(|r| r.limits.as_ref());
    let reservations = deploy.and_then(|r| r.reservations.as_ref());

    host.memory = limits
        .and_then(|l| l.memory)
        .filter(|m| *m != 0)
        .map(saturate)
        .or(service.mem_limit);
    host.memory_reservation = reservations
        .and_then(|r| r.memory)
        .filter(|m| *m != 0)
        .map(saturate)
        .or(service.mem_reservation);
    host.memory_swap = service.memswap_limit;
    host.memory_swappiness = service.mem_swappiness;
    host.nano_cpus = limits
        .and_then(|l| l.cpus)
        .and_then(nano_cpus)
        .or_else(|| service.cpus.and_then(nano_cpus));
    host.pids_limit = limits
        .and_then(|l| l.pids)
        .filter(|p| *p != 0)
        .or(service.pids_limit);
    host.cpu_shares = service.cpu_shares;
    host.cpu_period = service.cpu_period;
    host.cpu_quota = service.cpu_quota;
    host.cpu_realtime_period = service.cpu_rt_period;
    host.cpu_realtime_runtime = service.cpu_rt_runtime;
    host.cpuset_cpus = service.cpuset.clone();
    host.oom_kill_disable = service.oom_kill_disable.then_some(true);
    host.oom_score_adj = service.oom_score_adj;
    host.device_cgroup_rules = non_empty(service.device_cgroup_rules.clone());
    if let Some(config) = &service.blkio_config {
        blkio(config, host);
    }
    devices(service, host);
}

/// `0.5` CPUs → 500 000 000 nano-CPUs; `None` for zero or less.
pub(crate) fn nano_cpus(cpus: f64) -> Option<i64> {
    (cpus > 0.0).then(|| (cpus * 1e9).round() as i64)
}

fn saturate(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// `blkio_config`: weight, per-device weights and throttles.
fn blkio(config: &BlkioConfig, host: &mut HostConfig) {
    host.blkio_weight = config.weight;
    host.blkio_weight_device = non_empty(
        config
            .weight_device
            .iter()
            .map(|d| ResourcesBlkioWeightDevice {
                path: d.path.clone(),
                weight: d.weight.map(usize::from),
            })
            .collect(),
    );
    let throttles = |devices: &[model::ThrottleDevice]| {
        non_empty(
            devices
                .iter()
                .map(|d| ThrottleDevice {
                    path: d.path.clone(),
                    rate: d.rate,
                })
                .collect(),
        )
    };
    host.blkio_device_read_bps = throttles(&config.device_read_bps);
    host.blkio_device_read_iops = throttles(&config.device_read_iops);
    host.blkio_device_write_bps = throttles(&config.device_write_bps);
    host.blkio_device_write_iops = throttles(&config.device_write_iops);
}

/// `devices` (host devices, or CDI names), `gpus` and
/// `deploy.resources.reservations.devices`.
fn devices(service: &Service, host: &mut HostConfig) {
    let mut mappings = Vec::new();
    let mut cdi = Vec::new();
    for device in &service.devices {
        if device.source == device.target && is_cdi_name(&device.source) {
            cdi.push(device.source.clone());
            continue;
        }
        mappings.push(DeviceMapping {
            path_on_host: Some(device.source.clone()),
            path_in_container: Some(device.target.clone()),
            cgroup_permissions: Some(device.permissions.clone()),
        });
    }
    host.devices = non_empty(mappings);

    let reserved = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.reservations.as_ref())
        .map(|r| r.devices.as_slice())
        .unwrap_or_default();
    let mut requests: Vec<DeviceRequest> =
        reserved.iter().map(|d| device_request(d, false)).collect();
    if !cdi.is_empty() {
        requests.push(DeviceRequest {
            driver: Some("cdi".into()),
            device_ids: Some(cdi),
            ..Default::default()
        });
    }
    requests.extend(service.gpus.iter().map(|d| device_request(d, true)));
    host.device_requests = non_empty(requests);
}

/// One device request; `gpu` adds the `gpu` capability (compose's `gpus:`).
fn device_request(request: &model::DeviceRequest, gpu: bool) -> DeviceRequest {
    let mut capabilities = request.capabilities.clone();
    if gpu {
        capabilities.push("gpu".into());
    }
    let options: std::collections::HashMap<String, String> = request
        .options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    DeviceRequest {
        driver: request.driver.clone(),
        count: request.count,
        device_ids: non_empty(request.device_ids.clone()),
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
    use crate::compose::model::{
        Deploy, DeviceRequest as Request, ResourceSpec, Resources, ThrottleDevice as Throttle,
        WeightDevice,
    };
    use serde_json::json;

    fn host_of(s: &Service) -> HostConfig {
        let mut host = HostConfig::default();
        apply(s, &mut host);
        host
    }

    #[test]
    fn service_level_limits() {
        let s = Service {
            mem_limit: Some(64 << 20),
            memswap_limit: Some(-1),
            mem_reservation: Some(1 << 20),
            mem_swappiness: Some(60),
            cpus: Some(1.5),
            cpu_shares: Some(512),
            cpu_period: Some(100_000),
            cpu_quota: Some(50_000),
            cpu_rt_period: Some(1_000_000),
            cpu_rt_runtime: Some(950_000),
            cpuset: Some("0-1".into()),
            pids_limit: Some(64),
            oom_kill_disable: true,
            oom_score_adj: Some(500),
            device_cgroup_rules: vec!["c 1:3 mr".into()],
            ..Default::default()
        };
        let host = host_of(&s);
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
        let s = Service {
            mem_limit: Some(1000),
            cpus: Some(2.0),
            pids_limit: Some(10),
            mem_reservation: Some(500),
            deploy: Some(Deploy {
                resources: Resources {
                    limits: Some(ResourceSpec {
                        cpus: Some(0.5),
                        memory: Some(2000),
                        pids: Some(20),
                        ..Default::default()
                    }),
                    reservations: Some(ResourceSpec {
                        memory: Some(0),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            ..Default::default()
        };
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
        let throttle = |path: &str, rate: i64| Throttle {
            path: Some(path.into()),
            rate: Some(rate),
        };
        let s = Service {
            blkio_config: Some(BlkioConfig {
                weight: Some(300),
                weight_device: vec![WeightDevice {
                    path: Some("/dev/sda".into()),
                    weight: Some(400),
                }],
                device_read_bps: vec![throttle("/dev/sda", 1 << 20)],
                device_write_iops: vec![throttle("/dev/sdb", 30)],
                ..Default::default()
            }),
            ..Default::default()
        };
        let host = host_of(&s);
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
        let device = |source: &str, target: &str| model::DeviceMapping {
            source: source.into(),
            target: target.into(),
            permissions: "rwm".into(),
        };
        let s = Service {
            devices: vec![
                device("/dev/null", "/dev/nothing"),
                device("nvidia.com/gpu=all", "nvidia.com/gpu=all"),
            ],
            gpus: vec![Request {
                count: Some(-1),
                ..Default::default()
            }],
            deploy: Some(Deploy {
                resources: Resources {
                    reservations: Some(ResourceSpec {
                        devices: vec![Request {
                            capabilities: vec!["gpu".into()],
                            driver: Some("nvidia".into()),
                            count: Some(1),
                            options: [("a".to_string(), "b".to_string())].into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        };
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
