//! Compose keys the model has no dedicated field for (resource limits,
//! devices, kernel options, `links`, `develop`, lifecycle hooks, build
//! extras, ...): each is type-checked as compose's schema does and turned
//! into compose's canonical JSON form, which `Service::other` /
//! `Build::other` keep and `torq config` prints.
//!
//! Shapes follow compose: byte sizes become decimal strings (`"1073741824"`),
//! CPU counts numbers, `KEY=VALUE` lists mappings, single strings
//! one-element lists, `gpus: all` `[{count: -1}]`, devices
//! `{source, target, permissions}`; zero/false/empty values are left out,
//! as compose's `omitempty` does.

use serde_json::{json, Map as JsonMap, Value as Json};

use super::Converter;
use crate::compose::error::SpecError;
use crate::compose::syntax;
use crate::compose::yaml::{Node, Value};

impl Converter<'_> {
    /// The canonical JSON of service key `key`, or `None` when compose
    /// would leave it out (zero, false, empty).
    pub fn service_extra(
        &mut self,
        key: &str,
        node: &Node,
        path: &str,
    ) -> Result<Option<Json>, SpecError> {
        let value = match key {
            "cgroup" => {
                let text = self.string(node, path)?;
                if !matches!(text.as_str(), "host" | "private") {
                    return Err(self.error(
                        node.pos,
                        path,
                        format!("invalid cgroup `{text}` (host or private)"),
                    ));
                }
                Some(json!(text))
            }
            "cgroup_parent" | "cpuset" | "ipc" | "isolation" | "mac_address" | "runtime"
            | "uts" | "userns_mode" => self.non_empty_string(node, path)?,
            "pid" if node.is_null() => None,
            "pid" => self.non_empty_string(node, path)?,
            "attach" => Some(json!(self.boolean(node, path)?)),
            "oom_kill_disable" => self.true_only(node, path)?,
            "use_api_socket" => match &node.value {
                Value::Bool(true) => Some(json!(true)),
                Value::Bool(false) => None,
                _ => return Err(self.expected(node, path, "a boolean")),
            },
            "cpu_count" | "cpu_period" | "cpu_quota" | "cpu_rt_period" | "cpu_rt_runtime"
            | "cpu_shares" | "oom_score_adj" | "pids_limit" => {
                let value = self.integer(node, path)?;
                (value != 0).then(|| json!(value))
            }
            "cpus" | "cpu_percent" => {
                let value = self.float(node, path)?;
                if value < 0.0 {
                    return Err(self.error(node.pos, path, "must not be negative"));
                }
                (value != 0.0).then(|| number(value))
            }
            "scale" => Some(json!(self.integer(node, path)?)),
            "mem_limit" | "mem_reservation" | "memswap_limit" | "mem_swappiness" => {
                let bytes = self.signed_bytes(node, path)?;
                (bytes != 0).then(|| json!(bytes.to_string()))
            }
            // Compose drops repeated entries of these…
            "dns_opt" | "links" => non_empty(dedup(self.string_list(node, path)?)),
            "dns_search" | "tmpfs" => non_empty(dedup(self.string_or_list(node, path)?)),
            // … and refuses them in these.
            "device_cgroup_rules" | "external_links" | "security_opt" | "volumes_from" => {
                let items = self.string_list(node, path)?;
                self.no_repeats(node, path, &items)?;
                non_empty(items)
            }
            "group_add" => {
                let items = self.scalar_list(node, path)?;
                self.no_repeats(node, path, &items)?;
                non_empty(items)
            }
            "annotations" | "sysctls" => {
                let map = self.labels(node, path)?;
                (!map.is_empty()).then(|| json!(map))
            }
            "storage_opt" => {
                let map = self.string_map(node, path)?;
                (!map.is_empty()).then(|| json!(map))
            }
            "credential_spec" => self.credential_spec(node, path)?,
            "blkio_config" => self.blkio_config(node, path)?,
            "devices" => non_empty_json(self.devices(node, path)?),
            "gpus" => non_empty_json(self.gpus(node, path)?),
            "develop" => self.develop(node, path)?,
            "post_start" | "pre_stop" => non_empty_json(self.hooks(node, path)?),
            "models" => self.service_models(node, path)?,
            "provider" => self.provider(node, path)?,
            _ => Some(node.to_json()),
        };
        Ok(value)
    }

    /// The canonical JSON of build key `key` (see [`Self::service_extra`]).
    pub fn build_extra(
        &mut self,
        key: &str,
        node: &Node,
        path: &str,
    ) -> Result<Option<Json>, SpecError> {
        let value = match key {
            "dockerfile_inline" | "isolation" => self.non_empty_string(node, path)?,
            "provenance" | "sbom" => Some(json!(self.scalar(node, path)?)),
            "entitlements" | "cache_to" | "tags" => non_empty(self.string_or_list(node, path)?),
            "platforms" => {
                let items = self.string_or_list(node, path)?;
                self.no_repeats(node, path, &items)?;
                non_empty(items)
            }
            "no_cache" | "pull" | "privileged" => self.true_only(node, path)?,
            "shm_size" => {
                let bytes = self.signed_bytes(node, path)?;
                (bytes != 0).then(|| json!(bytes.to_string()))
            }
            "additional_contexts" => {
                let contexts = self.labels(node, path)?;
                let resolved: JsonMap<String, Json> = contexts
                    .into_iter()
                    .map(|(k, v)| {
                        let v = if crate::compose::paths::is_remote_context(&v) {
                            v
                        } else {
                            self.host_path(&v)
                        };
                        (k, json!(v))
                    })
                    .collect();
                (!resolved.is_empty()).then_some(Json::Object(resolved))
            }
            "ssh" => self.ssh(node, path)?,
            "extra_hosts" => {
                let hosts = self.extra_hosts(node, path)?;
                non_empty(
                    hosts
                        .into_iter()
                        .map(|h| match h.split_once(':') {
                            Some((host, ip)) => format!("{host}={ip}"),
                            None => h,
                        })
                        .collect(),
                )
            }
            "ulimits" => {
                let ulimits = self.ulimits(node, path)?;
                (!ulimits.is_empty()).then(|| crate::compose::normalize::ulimits_value(&ulimits))
            }
            _ => Some(node.to_json()),
        };
        Ok(value)
    }

    /// Refuses a list with an entry repeated, as compose's schema does
    /// (`uniqueItems`), pointing at the repeat.
    pub fn no_repeats(&self, node: &Node, path: &str, items: &[String]) -> Result<(), SpecError> {
        let mut seen = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            if !seen.insert(item) {
                let pos = match &node.value {
                    Value::Seq(nodes) => nodes.get(i).map(|n| n.pos).unwrap_or(node.pos),
                    _ => node.pos,
                };
                return Err(self.error(
                    pos,
                    &format!("{path}[{i}]"),
                    format!("`{item}` is listed twice"),
                ));
            }
        }
        Ok(())
    }

    fn non_empty_string(&self, node: &Node, path: &str) -> Result<Option<Json>, SpecError> {
        let text = self.string(node, path)?;
        Ok((!text.is_empty()).then(|| json!(text)))
    }

    /// A boolean printed only when true.
    fn true_only(&mut self, node: &Node, path: &str) -> Result<Option<Json>, SpecError> {
        Ok(self.boolean(node, path)?.then(|| json!(true)))
    }

    /// A byte size that may be negative (`memswap_limit: -1`).
    fn signed_bytes(&self, node: &Node, path: &str) -> Result<i64, SpecError> {
        match &node.value {
            Value::Int(i) => Ok(*i),
            Value::Float(f) => Ok(*f as i64),
            Value::Str(s) if s.trim().parse::<i64>().is_ok() => {
                Ok(s.trim().parse::<i64>().unwrap_or_default())
            }
            Value::Str(s) => syntax::parse_bytes(s)
                .map(|b| b as i64)
                .map_err(|e| self.error(node.pos, path, e)),
            _ => Err(self.expected(node, path, "a size such as `64m`")),
        }
    }

    /// A list of strings or numbers, as strings.
    fn scalar_list(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match &item.value {
                    Value::Str(_) | Value::Int(_) => Ok(item.scalar_text().unwrap_or_default()),
                    _ => Err(self.expected(item, &format!("{path}[{i}]"), "a string or a number")),
                })
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.expected(node, path, "a list")),
        }
    }

    fn credential_spec(&self, node: &Node, path: &str) -> Result<Option<Json>, SpecError> {
        let mut out = JsonMap::new();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "config" | "file" | "registry" => {
                    let text = self.string(&entry.node, &p)?;
                    if !text.is_empty() {
                        out.insert(key.clone(), json!(text));
                    }
                }
                x if x.starts_with("x-") => {}
                _ => {
                    return Err(self.unknown_key(key, entry, path, &["config", "file", "registry"]))
                }
            }
        }
        Ok(Some(Json::Object(out)))
    }

    /// `blkio_config`; compose prints the device entries with Go's field
    /// names (`Path`, `Rate`, `Weight`).
    fn blkio_config(&self, node: &Node, path: &str) -> Result<Option<Json>, SpecError> {
        const KEYS: &[&str] = &[
            "weight",
            "weight_device",
            "device_read_bps",
            "device_read_iops",
            "device_write_bps",
            "device_write_iops",
        ];
        let mut out = JsonMap::new();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "weight" => {
                    let weight = self.int_in::<u16>(&entry.node, &p)?;
                    if weight != 0 {
                        out.insert(key.clone(), json!(weight));
                    }
                }
                "weight_device" | "device_read_bps" | "device_read_iops" | "device_write_bps"
                | "device_write_iops" => {
                    let Value::Seq(items) = &entry.node.value else {
                        return Err(self.expected(&entry.node, &p, "a list"));
                    };
                    let mut devices = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let q = format!("{p}[{i}]");
                        let mut device = JsonMap::new();
                        for (k, e) in self.map(item, &q)?.into_iter().flatten() {
                            let r = format!("{q}.{k}");
                            match (key.as_str(), k.as_str()) {
                                (_, "path") => {
                                    device.insert("Path".into(), json!(self.string(&e.node, &r)?));
                                }
                                ("weight_device", "weight") => {
                                    let weight = self.int_in::<u16>(&e.node, &r)?;
                                    device.insert("Weight".into(), json!(weight));
                                }
                                (_, "rate") if key != "weight_device" => {
                                    let rate = self.signed_bytes(&e.node, &r)?;
                                    device.insert("Rate".into(), json!(rate.to_string()));
                                }
                                (_, x) if x.starts_with("x-") => {}
                                _ => {
                                    let known: &[&str] = if key == "weight_device" {
                                        &["path", "weight"]
                                    } else {
                                        &["path", "rate"]
                                    };
                                    return Err(self.unknown_key(k, e, &q, known));
                                }
                            }
                        }
                        devices.push(Json::Object(device));
                    }
                    if !devices.is_empty() {
                        out.insert(key.clone(), Json::Array(devices));
                    }
                }
                x if x.starts_with("x-") => {}
                _ => return Err(self.unknown_key(key, entry, path, KEYS)),
            }
        }
        Ok(Some(Json::Object(out)))
    }

    /// `devices`: `SOURCE[:TARGET[:PERMISSIONS]]` or the long form, as
    /// `{source, target, permissions}` (permissions default `rwm`); a later
    /// entry for the same target replaces an earlier one.
    fn devices(&self, node: &Node, path: &str) -> Result<Vec<Json>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list of devices"));
        };
        let mut out: Vec<(String, Json)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let (source, target, permissions) = match &item.value {
                Value::Str(spec) => {
                    let parts: Vec<&str> = spec.split(':').collect();
                    match parts.as_slice() {
                        [source] => (source.to_string(), source.to_string(), "rwm".to_string()),
                        [source, target] => {
                            (source.to_string(), target.to_string(), "rwm".to_string())
                        }
                        [source, target, permissions] => (
                            source.to_string(),
                            target.to_string(),
                            permissions.to_string(),
                        ),
                        _ => {
                            return Err(self.error(
                                item.pos,
                                &p,
                                format!("invalid device `{spec}` (SOURCE[:TARGET[:PERMISSIONS]])"),
                            ))
                        }
                    }
                }
                Value::Map(map) => {
                    let (mut source, mut target, mut permissions) = (None, None, None);
                    for (k, e) in map {
                        let q = format!("{p}.{k}");
                        match k.as_str() {
                            "source" => source = Some(self.string(&e.node, &q)?),
                            "target" => target = Some(self.string(&e.node, &q)?),
                            "permissions" => permissions = Some(self.string(&e.node, &q)?),
                            x if x.starts_with("x-") => {}
                            _ => {
                                return Err(self.unknown_key(
                                    k,
                                    e,
                                    &p,
                                    &["source", "target", "permissions"],
                                ))
                            }
                        }
                    }
                    let Some(source) = source else {
                        return Err(self.error(item.pos, &p, "a device needs a `source`"));
                    };
                    let target = target.unwrap_or_else(|| source.clone());
                    (source, target, permissions.unwrap_or_else(|| "rwm".into()))
                }
                _ => return Err(self.expected(item, &p, "a device (`/dev/x`) or a mapping")),
            };
            let device = json!({"source": source, "target": target, "permissions": permissions});
            match out.iter_mut().find(|(t, _)| *t == target) {
                Some(existing) => existing.1 = device,
                None => out.push((target, device)),
            }
        }
        Ok(out.into_iter().map(|(_, d)| d).collect())
    }

    /// `gpus`: `all`, or a list of device requests.
    fn gpus(&self, node: &Node, path: &str) -> Result<Vec<Json>, SpecError> {
        match &node.value {
            Value::Str(s) if s == "all" => Ok(vec![json!({"count": -1})]),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.device_request(item, &format!("{path}[{i}]")))
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.expected(node, path, "`all` or a list of device requests")),
        }
    }

    /// One GPU / device request (`gpus`, `deploy.resources.reservations.devices`).
    pub fn device_request(&self, node: &Node, path: &str) -> Result<Json, SpecError> {
        const KEYS: &[&str] = &["capabilities", "count", "device_ids", "driver", "options"];
        let mut out = JsonMap::new();
        let Some(map) = self.map(node, path)? else {
            return Ok(Json::Object(out));
        };
        for (key, entry) in map {
            let p = format!("{path}.{key}");
            let node = &entry.node;
            match key.as_str() {
                "capabilities" | "device_ids" => {
                    let list = self.string_list(node, &p)?;
                    if !list.is_empty() {
                        out.insert(key.clone(), json!(list));
                    }
                }
                "driver" => {
                    let text = self.string(node, &p)?;
                    if !text.is_empty() {
                        out.insert(key.clone(), json!(text));
                    }
                }
                "count" => {
                    let count = match &node.value {
                        Value::Int(i) => *i,
                        Value::Str(s) if s.eq_ignore_ascii_case("all") => -1,
                        Value::Str(s) => s.trim().parse::<i64>().map_err(|_| {
                            self.error(
                                node.pos,
                                &p,
                                format!("invalid count `{s}` (a number or `all`)"),
                            )
                        })?,
                        _ => return Err(self.expected(node, &p, "a number or `all`")),
                    };
                    if count != 0 {
                        out.insert(key.clone(), json!(count));
                    }
                }
                "options" => {
                    let options = self.labels(node, &p)?;
                    if !options.is_empty() {
                        out.insert(key.clone(), json!(options));
                    }
                }
                x if x.starts_with("x-") => {}
                _ => return Err(self.unknown_key(key, entry, path, KEYS)),
            }
        }
        // Compose's default: no count and no ids means all devices.
        if !map.contains_key("count") && !map.contains_key("device_ids") {
            out.insert("count".into(), json!(-1));
        }
        if map.contains_key("count") && map.contains_key("device_ids") {
            return Err(self.error(
                node.pos,
                path,
                "`count` and `device_ids` cannot both be set",
            ));
        }
        Ok(Json::Object(out))
    }

    /// `develop.watch`: paths absolute; every trigger carries `exec`
    /// (`{command: null}` when it has none), as compose prints it.
    fn develop(&mut self, node: &Node, path: &str) -> Result<Option<Json>, SpecError> {
        let mut out = JsonMap::new();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "watch" => {
                    let Value::Seq(items) = &entry.node.value else {
                        return Err(self.expected(&entry.node, &p, "a list of watch rules"));
                    };
                    let mut triggers = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        triggers.push(self.watch_trigger(item, &format!("{p}[{i}]"))?);
                    }
                    if !triggers.is_empty() {
                        out.insert(key.clone(), Json::Array(triggers));
                    }
                }
                x if x.starts_with("x-") => {}
                _ => return Err(self.unknown_key(key, entry, path, &["watch"])),
            }
        }
        Ok(Some(Json::Object(out)))
    }

    fn watch_trigger(&mut self, node: &Node, path: &str) -> Result<Json, SpecError> {
        const KEYS: &[&str] = &[
            "path",
            "action",
            "target",
            "exec",
            "include",
            "ignore",
            "initial_sync",
        ];
        const ACTIONS: &[&str] = &["rebuild", "sync", "restart", "sync+restart", "sync+exec"];
        let Some(map) = self.map(node, path)? else {
            return Err(self.error(node.pos, path, "a watch rule needs `path` and `action`"));
        };
        let mut out = JsonMap::new();
        let mut exec = json!({"command": null});
        for (key, entry) in map {
            let p = format!("{path}.{key}");
            let node = &entry.node;
            match key.as_str() {
                "path" => {
                    let text = self.string(node, &p)?;
                    if text.is_empty() {
                        return Err(self.error(node.pos, &p, "value can't be blank"));
                    }
                    out.insert(key.clone(), json!(self.host_path(&text)));
                }
                "action" => {
                    let text = self.string(node, &p)?;
                    if !ACTIONS.contains(&text.as_str()) {
                        return Err(self.error(
                            node.pos,
                            &p,
                            format!("invalid action `{text}` ({})", ACTIONS.join(", ")),
                        ));
                    }
                    out.insert(key.clone(), json!(text));
                }
                "target" => {
                    let text = self.string(node, &p)?;
                    if !text.is_empty() {
                        out.insert(key.clone(), json!(text));
                    }
                }
                "exec" => exec = self.hook(node, &p)?,
                "include" | "ignore" => {
                    let list = self.string_or_list(node, &p)?;
                    if !list.is_empty() {
                        out.insert(key.clone(), json!(list));
                    }
                }
                "initial_sync" => {
                    if self.boolean(node, &p)? {
                        out.insert(key.clone(), json!(true));
                    }
                }
                x if x.starts_with("x-") => {}
                _ => return Err(self.unknown_key(key, entry, path, KEYS)),
            }
        }
        for required in ["path", "action"] {
            if !map.contains_key(required) {
                return Err(self.error(node.pos, path, format!("a watch rule needs `{required}`")));
            }
        }
        out.insert("exec".into(), exec);
        Ok(Json::Object(out))
    }

    fn hooks(&mut self, node: &Node, path: &str) -> Result<Vec<Json>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list of hooks"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.hook(item, &format!("{path}[{i}]")))
            .collect()
    }

    /// A lifecycle hook (`post_start`, `pre_stop`, `develop.watch[].exec`).
    fn hook(&mut self, node: &Node, path: &str) -> Result<Json, SpecError> {
        const KEYS: &[&str] = &[
            "command",
            "user",
            "privileged",
            "working_dir",
            "environment",
        ];
        let Some(map) = self.map(node, path)? else {
            return Err(self.error(node.pos, path, "a hook needs a `command`"));
        };
        let mut out = JsonMap::new();
        let mut command = Json::Null;
        for (key, entry) in map {
            let p = format!("{path}.{key}");
            let node = &entry.node;
            match key.as_str() {
                "command" => command = json!(self.command(node, &p)?),
                "user" | "working_dir" => {
                    let text = self.string(node, &p)?;
                    if !text.is_empty() {
                        out.insert(key.clone(), json!(text));
                    }
                }
                "privileged" => {
                    if self.boolean(node, &p)? {
                        out.insert(key.clone(), json!(true));
                    }
                }
                "environment" => {
                    let env = self.key_values(node, &p)?;
                    if !env.is_empty() {
                        out.insert(key.clone(), json!(env));
                    }
                }
                x if x.starts_with("x-") => {}
                _ => return Err(self.unknown_key(key, entry, path, KEYS)),
            }
        }
        if !map.contains_key("command") {
            return Err(self.error(node.pos, path, "a hook needs a `command`"));
        }
        let mut hook = JsonMap::new();
        hook.insert("command".into(), command);
        hook.extend(out);
        Ok(Json::Object(hook))
    }

    /// A service's `models`: a list of names or a mapping of names to
    /// `{endpoint_var, model_var}` (compose prints `name: null` for a bare name).
    fn service_models(&self, node: &Node, path: &str) -> Result<Option<Json>, SpecError> {
        let mut out = JsonMap::new();
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    out.insert(self.string(item, &format!("{path}[{i}]"))?, Json::Null);
                }
            }
            Value::Map(map) => {
                for (name, entry) in map {
                    let p = format!("{path}.{name}");
                    let mut model = JsonMap::new();
                    for (key, e) in self.map(&entry.node, &p)?.into_iter().flatten() {
                        let q = format!("{p}.{key}");
                        match key.as_str() {
                            "endpoint_var" | "model_var" => {
                                model.insert(key.clone(), json!(self.string(&e.node, &q)?));
                            }
                            x if x.starts_with("x-") => {}
                            _ => {
                                return Err(self.unknown_key(
                                    key,
                                    e,
                                    &p,
                                    &["endpoint_var", "model_var"],
                                ))
                            }
                        }
                    }
                    let value = if entry.node.is_null() {
                        Json::Null
                    } else {
                        Json::Object(model)
                    };
                    out.insert(name.clone(), value);
                }
            }
            Value::Null => {}
            _ => return Err(self.expected(node, path, "a list or a mapping of models")),
        }
        Ok((!out.is_empty()).then_some(Json::Object(out)))
    }

    /// `provider`: `type` and `options` (each option a list of strings, as
    /// compose prints it).
    fn provider(&self, node: &Node, path: &str) -> Result<Option<Json>, SpecError> {
        let mut out = JsonMap::new();
        for (key, entry) in self.map(node, path)?.into_iter().flatten() {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "type" => {
                    out.insert(key.clone(), json!(self.string(&entry.node, &p)?));
                }
                "options" => {
                    let mut options = JsonMap::new();
                    for (name, e) in self.map(&entry.node, &p)?.into_iter().flatten() {
                        let q = format!("{p}.{name}");
                        let values = match &e.node.value {
                            Value::Seq(items) => items
                                .iter()
                                .enumerate()
                                .map(|(i, item)| self.scalar(item, &format!("{q}[{i}]")))
                                .collect::<Result<Vec<_>, _>>()?,
                            _ => vec![self.scalar(&e.node, &q)?],
                        };
                        options.insert(name.clone(), json!(values));
                    }
                    if !options.is_empty() {
                        out.insert(key.clone(), Json::Object(options));
                    }
                }
                x if x.starts_with("x-") => {}
                _ => return Err(self.unknown_key(key, entry, path, &["type", "options"])),
            }
        }
        if !out.contains_key("type") {
            return Err(self.error(node.pos, path, "a provider needs a `type`"));
        }
        Ok(Some(Json::Object(out)))
    }

    /// `build.ssh`: `default`, `ID=PATH` entries or a mapping, as a list of
    /// `ID` / `ID=PATH` strings with absolute paths.
    fn ssh(&self, node: &Node, path: &str) -> Result<Option<Json>, SpecError> {
        let mut keys: Vec<(String, Option<String>)> = Vec::new();
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    let text = self.string(item, &p)?;
                    match text.split_once('=') {
                        Some((id, key_path)) => {
                            keys.push((id.to_string(), Some(key_path.to_string())))
                        }
                        None if text == "default" => keys.push((text, None)),
                        None => {
                            return Err(self.error(
                                item.pos,
                                &p,
                                format!("invalid ssh key `{text}` (`default` or ID=PATH)"),
                            ))
                        }
                    }
                }
            }
            Value::Map(map) => {
                for (id, entry) in map {
                    let value = match &entry.node.value {
                        Value::Null => None,
                        _ => Some(self.string(&entry.node, &format!("{path}.{id}"))?),
                    };
                    keys.push((id.clone(), value));
                }
            }
            Value::Null => {}
            _ => return Err(self.expected(node, path, "a list of ssh keys")),
        }
        let list: Vec<String> = keys
            .into_iter()
            .map(|(id, key_path)| match key_path {
                Some(p) if !p.is_empty() => format!("{id}={}", self.host_path(&p)),
                _ => id,
            })
            .collect();
        Ok(non_empty(list))
    }
}

/// Drops repeated entries, keeping the first position.
fn dedup(items: Vec<String>) -> Vec<String> {
    let set: indexmap::IndexSet<String> = items.into_iter().collect();
    set.into_iter().collect()
}

fn non_empty(list: Vec<String>) -> Option<Json> {
    (!list.is_empty()).then(|| json!(list))
}

fn non_empty_json(list: Vec<Json>) -> Option<Json> {
    (!list.is_empty()).then_some(Json::Array(list))
}

/// A float as a JSON number, as Go prints a float32 (`1.5`, `0.1`, `2`).
fn number(value: f64) -> Json {
    let shortest = (value as f32).to_string();
    let value = shortest.parse::<f64>().unwrap_or(value);
    crate::compose::normalize::go_number(value)
}
