//! The canonical form of a project, as `docker compose config` prints it:
//! long-syntax ports (`published` as a string) and volumes, durations as Go
//! prints them (`1m30s`), sizes in bytes as strings, `depends_on` as a map
//! with condition/required(/restart), environment as a map, `networks:
//! {default: null}`, named networks and volumes with their engine names.
//!
//! Services print from their types (serde: the model's fields are compose's
//! keys; the helpers here are the shapes compose prints); [`to_json`]
//! assembles the project; [`to_json_string`] and [`to_yaml_string`] print
//! it. Differences from compose are deliberate and documented in the
//! README: service-level `x-*` extensions are printed in JSON too (compose
//! drops them there), and `command: null`/`entrypoint: null` appear in JSON
//! only, as compose does.

use std::time::Duration;

use indexmap::IndexMap;
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::model::{Project, ServiceNetwork, Ulimit};
use super::syntax::format_duration;

/// The project as compose's canonical JSON value.
pub(crate) fn to_json(project: &Project) -> Value {
    let mut root = Map::new();
    if !project.configs.is_empty() {
        let configs: Map<String, Value> = project
            .configs
            .iter()
            .map(|(k, c)| (k.clone(), serde_json::to_value(c).unwrap_or_default()))
            .collect();
        root.insert("configs".into(), Value::Object(configs));
    }
    root.insert("name".into(), json!(project.name));
    if !project.networks.is_empty() {
        let networks: Map<String, Value> = project
            .networks
            .iter()
            .map(|(k, n)| (k.clone(), serde_json::to_value(n).unwrap_or_default()))
            .collect();
        root.insert("networks".into(), Value::Object(networks));
    }
    if !project.secrets.is_empty() {
        let secrets: Map<String, Value> = project
            .secrets
            .iter()
            .map(|(k, c)| (k.clone(), serde_json::to_value(c).unwrap_or_default()))
            .collect();
        root.insert("secrets".into(), Value::Object(secrets));
    }
    let services: Map<String, Value> = project
        .services
        .iter()
        .map(|(k, s)| (k.clone(), serde_json::to_value(s).unwrap_or_default()))
        .collect();
    root.insert("services".into(), Value::Object(services));
    if !project.volumes.is_empty() {
        let volumes: Map<String, Value> = project
            .volumes
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
            .collect();
        root.insert("volumes".into(), Value::Object(volumes));
    }
    for (k, v) in &project.extensions {
        root.insert(k.clone(), v.clone());
    }
    Value::Object(root)
}

/// Pretty JSON, as `docker compose config --format json`.
pub(crate) fn to_json_string(project: &Project) -> String {
    serde_json::to_string_pretty(&printable(project)).unwrap_or_else(|_| "{}".into())
}

/// [`to_json`] with every `$` in a string value written `$$`, as compose
/// prints it, so the output is itself a spec that interpolates back to the
/// same values.
pub(crate) fn printable(project: &Project) -> Value {
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
pub(crate) fn to_yaml_string(project: &Project) -> String {
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

// ---- field shapes (serde helpers the model's attributes name) -------------

pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

/// Unset or empty.
pub(crate) fn is_blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(str::is_empty)
}

/// Unset or zero (compose's `omitempty` on numbers).
pub(crate) fn is_zero_or_none<T: Default + PartialEq>(value: &Option<T>) -> bool {
    value.as_ref().is_none_or(|v| *v == T::default())
}

/// A byte size, as a decimal string.
pub(crate) fn bytes<T: std::fmt::Display, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value
        .as_ref()
        .map(ToString::to_string)
        .serialize(serializer)
}

/// A duration as Go prints it (`1m30s`).
pub(crate) fn duration<S: Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.map(format_duration).serialize(serializer)
}

/// A number as Go prints a float32 (`1.5`, `0.1`, `2`).
pub(crate) fn float32<S: Serializer>(
    value: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value
        .map(|v| {
            let shortest = (v as f32).to_string();
            go_number(shortest.parse::<f64>().unwrap_or(v))
        })
        .serialize(serializer)
}

/// A number as Go prints a float64.
pub(crate) fn number<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    value.map(go_number).serialize(serializer)
}

/// `host:ip` entries as compose prints them, `host=ip`.
pub(crate) fn hosts<S: Serializer>(hosts: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    let hosts: Vec<String> = hosts
        .iter()
        .map(|h| match h.split_once(':') {
            Some((host, ip)) => format!("{host}={ip}"),
            None => h.clone(),
        })
        .collect();
    hosts.serialize(serializer)
}

pub(crate) fn ulimits<S: Serializer>(
    value: &IndexMap<String, Ulimit>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    ulimits_value(value).serialize(serializer)
}

/// A service's networks: a bare attachment prints as `null`.
pub(crate) fn attachments<S: Serializer>(
    networks: &IndexMap<String, ServiceNetwork>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let shown: Map<String, Value> = networks
        .iter()
        .map(|(name, attachment)| {
            let value = serde_json::to_value(attachment).unwrap_or_default();
            let bare = is_empty_object(&value) && !attachment.as_mapping;
            (name.clone(), if bare { Value::Null } else { value })
        })
        .collect();
    shown.serialize(serializer)
}

/// A file mode in octal, as a string (`"0440"`), as compose prints it.
pub(crate) fn file_mode<S: Serializer>(
    mode: &Option<u32>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    mode.map(|mode| format!("0{mode:o}")).serialize(serializer)
}

/// An optional value compose prints as `{}` when absent (`ipam`).
pub(crate) fn or_empty_object<S: Serializer>(
    value: &Option<Value>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => v.serialize(serializer),
        None => Map::new().serialize(serializer),
    }
}

/// An optional object compose always prints (`deploy.placement`).
pub(crate) fn or_default<T: Serialize + Default, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => v.serialize(serializer),
        None => T::default().serialize(serializer),
    }
}

/// `ulimits` as compose's JSON prints them: a single number for `nproc:
/// 65535`, else `{soft, hard}`, zero values left out.
pub(crate) fn ulimits_value(ulimits: &indexmap::IndexMap<String, Ulimit>) -> Value {
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
pub(crate) fn go_number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return json!(value as i64);
    }
    serde_json::Number::from_f64(value)
        .map(Value::Number)
        .unwrap_or_else(|| json!(value.to_string()))
}
