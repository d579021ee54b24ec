//! Decoding the container keys whose values need more than their type's
//! decoder: `devices` (short and long form), `gpus`, lifecycle hooks,
//! `develop.watch` rules, `models` and `provider`.

use indexmap::IndexMap;

use super::object::decode_map;
use super::Decoder;
use crate::compose::error::SpecError;
use crate::compose::model::{
    DeviceMapping, DeviceRequest, Hook, Provider, ServiceModel, WatchRule,
};
use crate::compose::yaml::{Node, Value};

/// What a `develop.watch` rule may do.
const WATCH_ACTIONS: &[&str] = &["rebuild", "sync", "restart", "sync+restart", "sync+exec"];

impl Decoder<'_> {
    /// `devices`: a later entry for the same target replaces an earlier one.
    pub(crate) fn devices(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<DeviceMapping>, SpecError> {
        let items = self.optional_list(node, path, "a list of devices", Self::device)?;
        let mut out: Vec<DeviceMapping> = Vec::new();
        for device in items {
            match out.iter_mut().find(|d| d.target == device.target) {
                Some(existing) => *existing = device,
                None => out.push(device),
            }
        }
        Ok(out)
    }

    /// One device: `SOURCE[:TARGET[:PERMISSIONS]]` or the long form
    /// (target default the source, permissions default `rwm`).
    fn device(&mut self, node: &Node, path: &str) -> Result<DeviceMapping, SpecError> {
        let mut device = match &node.value {
            Value::Str(spec) => short_device(spec).ok_or_else(|| {
                self.error(
                    node.pos,
                    path,
                    format!("invalid device `{spec}` (SOURCE[:TARGET[:PERMISSIONS]])"),
                )
            })?,
            Value::Map(map) => {
                let mut device = DeviceMapping::default();
                decode_map(self, map, path, &mut device)?;
                if !map.contains_key("source") {
                    return Err(self.error(node.pos, path, "a device needs a `source`"));
                }
                device
            }
            _ => return Err(self.expected(node, path, "a device (`/dev/x`) or a mapping")),
        };
        if device.target.is_empty() {
            device.target = device.source.clone();
        }
        if device.permissions.is_empty() {
            device.permissions = "rwm".into();
        }
        Ok(device)
    }

    /// `gpus`: `all`, or a list of device requests.
    pub(crate) fn gpus(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<DeviceRequest>, SpecError> {
        match &node.value {
            Value::Str(s) if s == "all" => Ok(vec![DeviceRequest {
                count: Some(-1),
                ..DeviceRequest::default()
            }]),
            Value::Seq(_) => self.list(node, path, Self::device_request),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.expected(node, path, "`all` or a list of device requests")),
        }
    }

    /// `post_start` / `pre_stop`.
    pub(crate) fn hooks(&mut self, node: &Node, path: &str) -> Result<Vec<Hook>, SpecError> {
        self.optional_list(node, path, "a list of hooks", Self::hook)
    }

    /// A lifecycle hook; it needs a `command`.
    pub(crate) fn hook(&mut self, node: &Node, path: &str) -> Result<Hook, SpecError> {
        let mut hook = Hook::default();
        let Some(map) = self.map(node, path)? else {
            return Err(self.error(node.pos, path, "a hook needs a `command`"));
        };
        decode_map(self, map, path, &mut hook)?;
        if !map.contains_key("command") {
            return Err(self.error(node.pos, path, "a hook needs a `command`"));
        }
        Ok(hook)
    }

    /// `develop.watch`.
    pub(crate) fn watch_rules(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<WatchRule>, SpecError> {
        if !matches!(node.value, Value::Seq(_)) {
            return Err(self.expected(node, path, "a list of watch rules"));
        }
        self.list(node, path, Self::watch_rule)
    }

    /// A watch rule; it needs `path` and `action`.
    fn watch_rule(&mut self, node: &Node, path: &str) -> Result<WatchRule, SpecError> {
        let Some(map) = self.map(node, path)? else {
            return Err(self.error(node.pos, path, "a watch rule needs `path` and `action`"));
        };
        let mut rule = WatchRule::default();
        decode_map(self, map, path, &mut rule)?;
        for required in ["path", "action"] {
            if !map.contains_key(required) {
                return Err(self.error(node.pos, path, format!("a watch rule needs `{required}`")));
            }
        }
        Ok(rule)
    }

    pub(crate) fn watch_action(&self, node: &Node, path: &str) -> Result<String, SpecError> {
        let text = self.string(node, path)?;
        if !WATCH_ACTIONS.contains(&text.as_str()) {
            return Err(self.error(
                node.pos,
                path,
                format!("invalid action `{text}` ({})", WATCH_ACTIONS.join(", ")),
            ));
        }
        Ok(text)
    }

    /// A watched path: not blank, made absolute.
    pub(crate) fn watch_path(&self, node: &Node, path: &str) -> Result<String, SpecError> {
        let text = self.string(node, path)?;
        if text.is_empty() {
            return Err(self.error(node.pos, path, "value can't be blank"));
        }
        Ok(self.host_path(&text))
    }

    /// A service's `models`: a list of names or a mapping of names to
    /// `{endpoint_var, model_var}` (a bare name has no options).
    pub(crate) fn service_models(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, Option<ServiceModel>>, SpecError> {
        let mut out = IndexMap::new();
        match &node.value {
            Value::Seq(_) => {
                for name in self.string_list(node, path)? {
                    out.insert(name, None);
                }
            }
            Value::Map(map) => {
                for (name, entry) in map {
                    let model = match self.map(&entry.node, &format!("{path}.{name}"))? {
                        Some(options) => {
                            let mut model = ServiceModel::default();
                            decode_map(self, options, &format!("{path}.{name}"), &mut model)?;
                            Some(model)
                        }
                        None => None,
                    };
                    out.insert(name.clone(), model);
                }
            }
            Value::Null => {}
            _ => return Err(self.expected(node, path, "a list or a mapping of models")),
        }
        Ok(out)
    }

    /// `provider`: it needs a `type`.
    pub(crate) fn provider(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Option<Provider>, SpecError> {
        let mut provider = Provider::default();
        let map = self.map(node, path)?;
        if let Some(map) = map {
            decode_map(self, map, path, &mut provider)?;
        }
        if !map.is_some_and(|m| m.contains_key("type")) {
            return Err(self.error(node.pos, path, "a provider needs a `type`"));
        }
        Ok(Some(provider))
    }

    /// `provider.options`: each option a scalar or a list of scalars.
    pub(crate) fn provider_options(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, Vec<String>>, SpecError> {
        let mut options = IndexMap::new();
        for (name, entry) in self.map(node, path)?.into_iter().flatten() {
            let at = format!("{path}.{name}");
            let values = match &entry.node.value {
                Value::Seq(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.scalar(item, &format!("{at}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => vec![self.scalar(&entry.node, &at)?],
            };
            options.insert(name.clone(), values);
        }
        Ok(options)
    }
}

/// `SOURCE[:TARGET[:PERMISSIONS]]`.
fn short_device(spec: &str) -> Option<DeviceMapping> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, permissions) = match parts.as_slice() {
        [source] => (*source, *source, "rwm"),
        [source, target] => (*source, *target, "rwm"),
        [source, target, permissions] => (*source, *target, *permissions),
        _ => return None,
    };
    Some(DeviceMapping {
        source: source.to_string(),
        target: target.to_string(),
        permissions: permissions.to_string(),
    })
}
