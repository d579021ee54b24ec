//! The canonical form of a project, as `docker compose config` prints it:
//! long-syntax ports (`published` as a string) and volumes, durations as Go
//! prints them (`1m30s`), sizes in bytes as strings, `depends_on` as a map
//! with condition/required(/restart), environment as a map, `networks:
//! {default: null}`, named networks and volumes with their engine names.
//!
//! [`to_json`] builds the value; [`to_json_string`] and [`to_yaml_string`]
//! print it. Differences from compose are deliberate and documented in the
//! README: service-level `x-*` extensions are printed in JSON too (compose
//! drops them there), and `command: null`/`entrypoint: null` appear in JSON
//! only, as compose does.

use serde_json::{json, Map, Value};

use super::model::{
    Build, Deploy, FileMount, FileObject, Healthcheck, Mount, MountKind, Network, Placement, Port,
    Project, ResourceSpec, Service, Ulimit, Volume,
};
use super::syntax::format_duration;

/// The project as compose's canonical JSON value.
pub fn to_json(project: &Project) -> Value {
    let mut root = Map::new();
    if !project.configs.is_empty() {
        let configs: Map<String, Value> = project
            .configs
            .iter()
            .map(|(k, c)| (k.clone(), file_object(c)))
            .collect();
        root.insert("configs".into(), Value::Object(configs));
    }
    root.insert("name".into(), json!(project.name));
    if !project.networks.is_empty() {
        let networks: Map<String, Value> = project
            .networks
            .iter()
            .map(|(k, n)| (k.clone(), network(n)))
            .collect();
        root.insert("networks".into(), Value::Object(networks));
    }
    if !project.secrets.is_empty() {
        let secrets: Map<String, Value> = project
            .secrets
            .iter()
            .map(|(k, c)| (k.clone(), file_object(c)))
            .collect();
        root.insert("secrets".into(), Value::Object(secrets));
    }
    let services: Map<String, Value> = project
        .services
        .iter()
        .map(|(k, s)| (k.clone(), service(s)))
        .collect();
    root.insert("services".into(), Value::Object(services));
    if !project.volumes.is_empty() {
        let volumes: Map<String, Value> = project
            .volumes
            .iter()
            .map(|(k, v)| (k.clone(), volume(v)))
            .collect();
        root.insert("volumes".into(), Value::Object(volumes));
    }
    for (k, v) in &project.extensions {
        root.insert(k.clone(), v.clone());
    }
    Value::Object(root)
}

/// Pretty JSON, as `docker compose config --format json`.
pub fn to_json_string(project: &Project) -> String {
    serde_json::to_string_pretty(&printable(project)).unwrap_or_else(|_| "{}".into())
}

/// [`to_json`] with every `$` in a string value written `$$`, as compose
/// prints it, so the output is itself a spec that interpolates back to the
/// same values.
pub fn printable(project: &Project) -> Value {
    let mut value = to_json(project);
    escape_dollars(&mut value);
    value
}

fn escape_dollars(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Value::Array(items) => items.iter_mut().for_each(escape_dollars),
        Value::Object(map) => map.values_mut().for_each(escape_dollars),
        _ => {}
    }
}

/// YAML, as `docker compose config` (without the JSON-only `null` commands).
pub fn to_yaml_string(project: &Project) -> String {
    let mut value = printable(project);
    if let Some(services) = value.get_mut("services").and_then(Value::as_object_mut) {
        for (name, service) in services.iter_mut() {
            if let Some(service) = service.as_object_mut() {
                service.retain(|k, v| !((k == "command" || k == "entrypoint") && v.is_null()));
                if let Some(spec) = project.services.get(name).filter(|s| !s.ulimits.is_empty()) {
                    service.insert("ulimits".into(), ulimits_shaped(&spec.ulimits, true));
                }
                if let Some(blkio) = service.get_mut("blkio_config") {
                    lowercase_device_keys(blkio);
                }
                // compose's YAML leaves out what its JSON prints empty.
                if let Some(deploy) = service.get_mut("deploy").and_then(Value::as_object_mut) {
                    deploy.retain(|k, v| {
                        !(matches!(k.as_str(), "placement" | "resources") && is_empty_object(v))
                    });
                }
                let watches = service
                    .get_mut("develop")
                    .and_then(|d| d.get_mut("watch"))
                    .and_then(Value::as_array_mut);
                for watch in watches.into_iter().flatten() {
                    if let Some(watch) = watch.as_object_mut() {
                        watch.retain(|k, v| !(k == "exec" && *v == json!({"command": null})));
                    }
                }
            }
        }
    }
    if let Some(networks) = value.get_mut("networks").and_then(Value::as_object_mut) {
        for network in networks.values_mut().filter_map(Value::as_object_mut) {
            network.retain(|k, v| !(k == "ipam" && is_empty_object(v)));
        }
    }
    serde_saphyr::to_string(&value).unwrap_or_else(|e| format!("# cannot print YAML: {e}\n"))
}

/// blkio device entries: compose's JSON says `Path`, `Rate`, `Weight`; its
/// YAML `path`, `rate`, `weight`.
fn lowercase_device_keys(blkio: &mut Value) {
    let Some(blkio) = blkio.as_object_mut() else {
        return;
    };
    for devices in blkio.values_mut().filter_map(Value::as_array_mut) {
        for device in devices.iter_mut().filter_map(Value::as_object_mut) {
            *device = std::mem::take(device)
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect();
        }
    }
}

fn is_empty_object(v: &Value) -> bool {
    v.as_object().is_some_and(Map::is_empty)
}

fn insert_if<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.into(), v.into());
    }
}

fn string_map(map: &indexmap::IndexMap<String, String>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn service(s: &Service) -> Value {
    let mut m = Map::new();
    if let Some(build) = &s.build {
        m.insert("build".into(), build_value(build));
    }
    if !s.cap_add.is_empty() {
        m.insert("cap_add".into(), json!(s.cap_add));
    }
    if !s.cap_drop.is_empty() {
        m.insert("cap_drop".into(), json!(s.cap_drop));
    }
    m.insert("command".into(), json!(s.command));
    insert_if(&mut m, "container_name", s.container_name.clone());
    if !s.configs.is_empty() {
        m.insert("configs".into(), file_mounts(&s.configs));
    }
    if !s.depends_on.is_empty() {
        let deps: Map<String, Value> = s
            .depends_on
            .iter()
            .map(|(name, d)| {
                let mut dep = Map::new();
                dep.insert("condition".into(), json!(d.condition.as_str()));
                if d.restart {
                    dep.insert("restart".into(), json!(true));
                }
                dep.insert("required".into(), json!(d.required));
                (name.clone(), Value::Object(dep))
            })
            .collect();
        m.insert("depends_on".into(), Value::Object(deps));
    }
    if let Some(deploy) = &s.deploy {
        m.insert("deploy".into(), deploy_value(deploy));
    }
    if !s.dns.is_empty() {
        m.insert("dns".into(), json!(s.dns));
    }
    insert_if(&mut m, "domainname", s.domainname.clone());
    m.insert("entrypoint".into(), json!(s.entrypoint));
    if !s.environment.is_empty() {
        m.insert(
            "environment".into(),
            Value::Object(
                s.environment
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect(),
            ),
        );
    }
    if !s.expose.is_empty() {
        m.insert("expose".into(), json!(s.expose));
    }
    if !s.extra_hosts.is_empty() {
        let hosts: Vec<String> = s
            .extra_hosts
            .iter()
            .map(|h| match h.split_once(':') {
                Some((host, ip)) => format!("{host}={ip}"),
                None => h.clone(),
            })
            .collect();
        m.insert("extra_hosts".into(), json!(hosts));
    }
    if let Some(check) = &s.healthcheck {
        m.insert("healthcheck".into(), healthcheck_value(check));
    }
    insert_if(&mut m, "hostname", s.hostname.clone());
    insert_if(&mut m, "image", s.image.clone());
    insert_if(&mut m, "init", s.init);
    if !s.labels.is_empty() {
        m.insert("labels".into(), string_map(&s.labels));
    }
    if let Some(logging) = &s.logging {
        let mut l = Map::new();
        insert_if(&mut l, "driver", logging.driver.clone());
        if !logging.options.is_empty() {
            l.insert("options".into(), string_map(&logging.options));
        }
        m.insert("logging".into(), Value::Object(l));
    }
    insert_if(
        &mut m,
        "network_mode",
        s.network_mode.clone().filter(|mode| !mode.is_empty()),
    );
    if !s.networks.is_empty() {
        let networks: Map<String, Value> = s
            .networks
            .iter()
            .map(|(name, n)| {
                let mut v = Map::new();
                if !n.aliases.is_empty() {
                    v.insert("aliases".into(), json!(n.aliases));
                }
                insert_if(&mut v, "ipv4_address", n.ipv4_address.clone());
                insert_if(&mut v, "ipv6_address", n.ipv6_address.clone());
                insert_if(&mut v, "priority", n.priority);
                if !n.link_local_ips.is_empty() {
                    v.insert("link_local_ips".into(), json!(n.link_local_ips));
                }
                insert_if(&mut v, "mac_address", n.mac_address.clone());
                if !n.driver_opts.is_empty() {
                    v.insert("driver_opts".into(), string_map(&n.driver_opts));
                }
                insert_if(&mut v, "gw_priority", n.gw_priority.filter(|p| *p != 0));
                insert_if(&mut v, "interface_name", n.interface_name.clone());
                let value = if v.is_empty() && !n.as_mapping {
                    Value::Null
                } else {
                    Value::Object(v)
                };
                (name.clone(), value)
            })
            .collect();
        m.insert("networks".into(), Value::Object(networks));
    }
    insert_if(&mut m, "platform", s.platform.clone());
    if !s.ports.is_empty() {
        m.insert(
            "ports".into(),
            Value::Array(s.ports.iter().map(port_value).collect()),
        );
    }
    if s.privileged {
        m.insert("privileged".into(), json!(true));
    }
    if !s.profiles.is_empty() {
        m.insert("profiles".into(), json!(s.profiles));
    }
    insert_if(&mut m, "pull_policy", s.pull_policy.clone());
    if s.read_only {
        m.insert("read_only".into(), json!(true));
    }
    insert_if(&mut m, "restart", s.restart.clone());
    if !s.secrets.is_empty() {
        m.insert("secrets".into(), file_mounts(&s.secrets));
    }
    insert_if(&mut m, "shm_size", s.shm_size.map(|b| b.to_string()));
    if s.stdin_open {
        m.insert("stdin_open".into(), json!(true));
    }
    insert_if(
        &mut m,
        "stop_grace_period",
        s.stop_grace_period.map(format_duration),
    );
    insert_if(&mut m, "stop_signal", s.stop_signal.clone());
    if s.tty {
        m.insert("tty".into(), json!(true));
    }
    if !s.ulimits.is_empty() {
        m.insert("ulimits".into(), ulimits_value(&s.ulimits));
    }
    insert_if(&mut m, "user", s.user.clone());
    if !s.volumes.is_empty() {
        m.insert(
            "volumes".into(),
            Value::Array(s.volumes.iter().map(mount_value).collect()),
        );
    }
    insert_if(&mut m, "working_dir", s.working_dir.clone());
    for (k, v) in &s.other {
        m.insert(k.clone(), v.clone());
    }
    for (k, v) in &s.extensions {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn build_value(b: &Build) -> Value {
    let mut m = Map::new();
    m.insert("context".into(), json!(b.context.to_string_lossy()));
    insert_if(&mut m, "dockerfile", b.dockerfile.clone());
    if !b.args.is_empty() {
        m.insert(
            "args".into(),
            Value::Object(b.args.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
        );
    }
    if !b.labels.is_empty() {
        m.insert("labels".into(), string_map(&b.labels));
    }
    if !b.cache_from.is_empty() {
        m.insert("cache_from".into(), json!(b.cache_from));
    }
    insert_if(&mut m, "network", b.network.clone());
    if !b.secrets.is_empty() {
        m.insert("secrets".into(), file_mounts(&b.secrets));
    }
    insert_if(&mut m, "target", b.target.clone());
    for (k, v) in &b.other {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn healthcheck_value(h: &Healthcheck) -> Value {
    let mut m = Map::new();
    if !h.test.is_empty() {
        m.insert("test".into(), json!(h.test));
    }
    insert_if(&mut m, "timeout", h.timeout.map(format_duration));
    insert_if(&mut m, "interval", h.interval.map(format_duration));
    insert_if(&mut m, "retries", h.retries);
    insert_if(&mut m, "start_period", h.start_period.map(format_duration));
    insert_if(
        &mut m,
        "start_interval",
        h.start_interval.map(format_duration),
    );
    if h.disable {
        m.insert("disable".into(), json!(true));
    }
    Value::Object(m)
}

fn port_value(p: &Port) -> Value {
    let mut m = Map::new();
    insert_if(&mut m, "name", p.name.clone());
    m.insert("mode".into(), json!(p.mode));
    insert_if(&mut m, "host_ip", p.host_ip.clone());
    m.insert("target".into(), json!(p.target));
    insert_if(&mut m, "published", p.published.clone());
    m.insert("protocol".into(), json!(p.protocol));
    insert_if(&mut m, "app_protocol", p.app_protocol.clone());
    Value::Object(m)
}

fn mount_value(v: &Mount) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(v.kind.as_str()));
    insert_if(&mut m, "source", v.source.clone());
    m.insert("target".into(), json!(v.target));
    if v.read_only {
        m.insert("read_only".into(), json!(true));
    }
    insert_if(&mut m, "consistency", v.consistency.clone());
    let mut bind = Map::new();
    insert_if(&mut bind, "propagation", v.bind_propagation.clone());
    if v.create_host_path {
        bind.insert("create_host_path".into(), json!(true));
    }
    insert_if(&mut bind, "selinux", v.selinux.clone());
    insert_if(&mut bind, "recursive", v.bind_recursive.clone());
    if !bind.is_empty() {
        m.insert("bind".into(), Value::Object(bind));
    }
    if v.kind == MountKind::Volume {
        let mut volume = Map::new();
        if v.volume_nocopy {
            volume.insert("nocopy".into(), json!(true));
        }
        insert_if(&mut volume, "subpath", v.volume_subpath.clone());
        if !volume.is_empty() || v.short_syntax {
            m.insert("volume".into(), Value::Object(volume));
        }
    }
    if v.kind == MountKind::Image {
        if let Some(subpath) = &v.image_subpath {
            m.insert("image".into(), json!({ "subpath": subpath }));
        }
    }
    let mut tmpfs = Map::new();
    insert_if(&mut tmpfs, "size", v.tmpfs_size.map(|s| s.to_string()));
    insert_if(&mut tmpfs, "mode", v.tmpfs_mode);
    if !tmpfs.is_empty() {
        m.insert("tmpfs".into(), Value::Object(tmpfs));
    }
    Value::Object(m)
}

fn resource_value(r: &ResourceSpec) -> Value {
    let mut m = Map::new();
    if let Some(cpus) = &r.cpus {
        // Compose leaves zero values out.
        match cpus.parse::<f64>() {
            Ok(value) => {
                if value != 0.0 {
                    m.insert("cpus".into(), go_number(value));
                }
            }
            Err(_) => {
                m.insert("cpus".into(), json!(cpus));
            }
        }
    }
    insert_if(
        &mut m,
        "memory",
        r.memory.filter(|b| *b != 0).map(|b| b.to_string()),
    );
    insert_if(&mut m, "pids", r.pids.filter(|p| *p != 0));
    Value::Object(m)
}

fn deploy_value(d: &Deploy) -> Value {
    let mut m = Map::new();
    insert_if(&mut m, "mode", d.mode.clone());
    insert_if(&mut m, "replicas", d.replicas);
    if !d.labels.is_empty() {
        m.insert("labels".into(), string_map(&d.labels));
    }
    if let Some(u) = &d.update_config {
        let mut v = Map::new();
        insert_if(&mut v, "parallelism", u.parallelism);
        insert_if(&mut v, "delay", u.delay.map(format_duration));
        insert_if(&mut v, "failure_action", u.failure_action.clone());
        insert_if(&mut v, "monitor", u.monitor.map(format_duration));
        insert_if(&mut v, "max_failure_ratio", u.max_failure_ratio);
        insert_if(&mut v, "order", u.order.clone());
        m.insert("update_config".into(), Value::Object(v));
    }
    // Compose always prints `resources` and `placement` under `deploy`.
    let mut resources = Map::new();
    if let Some(l) = &d.resources.limits {
        resources.insert("limits".into(), resource_value(l));
    }
    if let Some(r) = &d.resources.reservations {
        resources.insert("reservations".into(), resource_value(r));
    }
    for (key, value) in &d.resources_other {
        if let Some((kind, field)) = key.split_once('.') {
            if let Some(Value::Object(spec)) = resources.get_mut(kind) {
                spec.insert(field.into(), value.clone());
            }
        }
    }
    m.insert("resources".into(), Value::Object(resources));
    if let Some(r) = &d.restart_policy {
        let mut v = Map::new();
        insert_if(&mut v, "condition", r.condition.clone());
        insert_if(&mut v, "delay", r.delay.map(format_duration));
        insert_if(&mut v, "max_attempts", r.max_attempts);
        insert_if(&mut v, "window", r.window.map(format_duration));
        m.insert("restart_policy".into(), Value::Object(v));
    }
    let default_placement = Placement::default();
    {
        let p = d.placement.as_ref().unwrap_or(&default_placement);
        let mut v = Map::new();
        if !p.constraints.is_empty() {
            v.insert("constraints".into(), json!(p.constraints));
        }
        if !p.preferences.is_empty() {
            v.insert(
                "preferences".into(),
                Value::Array(p.preferences.iter().map(string_map).collect()),
            );
        }
        insert_if(&mut v, "max_replicas_per_node", p.max_replicas_per_node);
        m.insert("placement".into(), Value::Object(v));
    }
    for (k, v) in &d.other {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn network(n: &Network) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(n.name));
    insert_if(&mut m, "driver", n.driver.clone());
    if !n.driver_opts.is_empty() {
        m.insert("driver_opts".into(), string_map(&n.driver_opts));
    }
    m.insert("ipam".into(), n.ipam.clone().unwrap_or_else(|| json!({})));
    if n.external {
        m.insert("external".into(), json!(true));
    }
    if n.internal {
        m.insert("internal".into(), json!(true));
    }
    if n.attachable {
        m.insert("attachable".into(), json!(true));
    }
    insert_if(&mut m, "enable_ipv6", n.enable_ipv6);
    insert_if(&mut m, "enable_ipv4", n.enable_ipv4);
    if !n.labels.is_empty() {
        m.insert("labels".into(), string_map(&n.labels));
    }
    Value::Object(m)
}

fn volume(v: &Volume) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(v.name));
    insert_if(&mut m, "driver", v.driver.clone());
    if !v.driver_opts.is_empty() {
        m.insert("driver_opts".into(), string_map(&v.driver_opts));
    }
    if v.external {
        m.insert("external".into(), json!(true));
    }
    if !v.labels.is_empty() {
        m.insert("labels".into(), string_map(&v.labels));
    }
    Value::Object(m)
}

fn file_mounts(mounts: &[FileMount]) -> Value {
    Value::Array(
        mounts
            .iter()
            .map(|f| {
                let mut m = Map::new();
                m.insert("source".into(), json!(f.source));
                insert_if(&mut m, "target", f.target.clone());
                insert_if(&mut m, "uid", f.uid.clone());
                insert_if(&mut m, "gid", f.gid.clone());
                // Compose prints the mode in octal, as a string.
                insert_if(&mut m, "mode", f.mode.map(|mode| format!("0{mode:o}")));
                Value::Object(m)
            })
            .collect(),
    )
}

fn file_object(f: &FileObject) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(f.name));
    insert_if(
        &mut m,
        "file",
        f.file.as_ref().map(|p| p.to_string_lossy().to_string()),
    );
    insert_if(&mut m, "environment", f.environment.clone());
    insert_if(&mut m, "content", f.content.clone());
    if f.external {
        m.insert("external".into(), json!(true));
    }
    if !f.labels.is_empty() {
        m.insert("labels".into(), string_map(&f.labels));
    }
    insert_if(&mut m, "driver", f.driver.clone());
    if !f.driver_opts.is_empty() {
        m.insert("driver_opts".into(), string_map(&f.driver_opts));
    }
    insert_if(&mut m, "template_driver", f.template_driver.clone());
    Value::Object(m)
}

/// `ulimits` as compose's JSON prints them: a single number for `nproc:
/// 65535`, else `{soft, hard}`, zero values left out.
pub fn ulimits_value(ulimits: &indexmap::IndexMap<String, Ulimit>) -> Value {
    ulimits_shaped(ulimits, false)
}

/// [`ulimits_value`]; with `keep_zeros`, as compose's YAML prints them:
/// `{soft, hard}` always with both.
fn ulimits_shaped(ulimits: &indexmap::IndexMap<String, Ulimit>, keep_zeros: bool) -> Value {
    let map: Map<String, Value> = ulimits
        .iter()
        .map(|(k, u)| {
            let v = if u.single && u.soft != 0 {
                json!(u.soft)
            } else {
                let mut limit = Map::new();
                if keep_zeros || u.soft != 0 {
                    limit.insert("soft".into(), json!(u.soft));
                }
                if keep_zeros || u.hard != 0 {
                    limit.insert("hard".into(), json!(u.hard));
                }
                Value::Object(limit)
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(map)
}

/// A number as Go's JSON encoder prints it: integral values without a
/// fraction (`2`, not `2.0`).
pub fn go_number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return json!(value as i64);
    }
    serde_json::Number::from_f64(value)
        .map(Value::Number)
        .unwrap_or_else(|| json!(value.to_string()))
}
