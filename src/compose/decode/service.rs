//! Decoding one service definition (its keys through [`Service`]'s table),
//! and the service keys whose values need more than a type: `env_file` and
//! `label_file` entries (read later, by the normalize pass), ports and `expose`, volumes, networks, `depends_on`,
//! `extra_hosts`, `ulimits`.

use std::collections::HashMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::object::{decode_map, decode_object};
use super::values::dedup;
use super::Decoder;
use crate::compose::error::{Pos, SpecError};
use crate::compose::model::{
    Dependency, EnvFile, Healthcheck, Mount, MountKind, Port, Service, ServiceNetwork, Ulimit,
};
use crate::compose::syntax;
use crate::compose::yaml::{Map, Node, Value};

impl Decoder<'_> {
    /// Types the service `name` defined by `node`.
    pub(crate) fn service(&mut self, name: &str, node: &Node) -> Result<Service, SpecError> {
        let path = format!("services.{name}");
        let Some(map) = self.map(node, &path)? else {
            return Err(self.error(node.pos, &path, "a service needs a definition (a mapping)"));
        };
        for (key, entry) in map {
            self.remember(format!("{path}.{key}"), entry.key_pos);
        }
        let mut service = Service {
            name: name.to_string(),
            ..Service::default()
        };
        service.extensions = decode_map(self, map, &path, &mut service)?;
        self.resolve_bare_keys(&mut service);
        Ok(service)
    }

    /// A host path made absolute against the project directory (`~` is $HOME).
    /// Windows paths (`C:\\…`) count as absolute, as in compose.
    pub(crate) fn host_path(&self, path: &str) -> String {
        crate::compose::paths::absolute(
            path,
            self.project_dir,
            self.env.get("HOME").map(String::as_str),
        )
    }

    // ---- environment -----------------------------------------------------

    pub(crate) fn env_files(&mut self, node: &Node, path: &str) -> Result<Vec<EnvFile>, SpecError> {
        let items: Vec<Node> = match &node.value {
            Value::Str(_) => vec![node.clone()],
            Value::Seq(items) => items.clone(),
            Value::Null => Vec::new(),
            _ => return Err(self.expected(node, path, "a path or a list of paths")),
        };
        let mut files = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match &item.value {
                Value::Str(file) => files.push(EnvFile {
                    path: PathBuf::from(self.host_path(file)),
                    pos: item.pos,
                    ..EnvFile::default()
                }),
                Value::Map(map) => {
                    let mut file = EnvFile {
                        pos: item.pos,
                        ..EnvFile::default()
                    };
                    decode_map(self, map, &p, &mut file)?;
                    if !map.contains_key("path") {
                        return Err(self.error(item.pos, &p, "an env_file entry needs a `path`"));
                    }
                    files.push(file);
                }
                _ => return Err(self.expected(item, &p, "a path")),
            }
        }
        Ok(files)
    }

    /// A boolean written as one, or as the text `true`/`false`.
    pub(crate) fn strict_bool_or_text(&self, node: &Node, path: &str) -> Result<bool, SpecError> {
        match &node.value {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) if s == "true" => Ok(true),
            Value::Str(s) if s == "false" => Ok(false),
            _ => Err(self.expected(node, path, "a boolean")),
        }
    }

    /// `env_file[].format`: `raw` or `.env`.
    pub(crate) fn env_file_format(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<String>, SpecError> {
        let format = self.string(node, path)?;
        match format.as_str() {
            "raw" | ".env" => Ok(Some(format)),
            "" => Ok(None),
            _ => Err(self.error(
                node.pos,
                path,
                format!("unsupported env_file format `{format}` (raw or .env)"),
            )),
        }
    }

    /// A host path, made absolute.
    pub(crate) fn host_path_buf(&self, node: &Node, path: &str) -> Result<PathBuf, SpecError> {
        Ok(PathBuf::from(self.host_path(&self.string(node, path)?)))
    }

    /// `KEY` without a value takes the interpolation environment's value when
    /// it has one.
    fn resolve_bare_keys(&self, service: &mut Service) {
        for (key, value) in service.environment.iter_mut() {
            if value.is_none() {
                if let Some(found) = self.env.get(key) {
                    *value = Some(found.clone());
                }
            }
        }
    }

    /// `label_file`: one path or a list.
    pub(crate) fn label_files(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<(PathBuf, Pos)>, SpecError> {
        Ok(self
            .string_or_list(node, path)?
            .iter()
            .map(|f| (PathBuf::from(self.host_path(f)), node.pos))
            .collect())
    }

    // ---- ports and expose --------------------------------------------------

    pub(crate) fn ports(&mut self, node: &Node, path: &str) -> Result<Vec<Port>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list of ports"));
        };
        let mut ports: Vec<Port> = Vec::new();
        let mut index: HashMap<(String, String, u16, String), usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let parsed = match &item.value {
                Value::Int(_) | Value::Str(_) => {
                    let text = item.scalar_text().unwrap_or_default();
                    syntax::parse_port(&text).map_err(|e| self.error(item.pos, &p, e))?
                }
                Value::Map(map) => vec![self.long_port(map, item, &p)?],
                _ => return Err(self.expected(item, &p, "a port (`8080:80`) or a mapping")),
            };
            for port in parsed {
                // A later entry with the same binding replaces the earlier one.
                match index.get(&port_key(&port)) {
                    Some(&j) => ports[j] = port,
                    None => {
                        index.insert(port_key(&port), ports.len());
                        ports.push(port);
                    }
                }
            }
        }
        Ok(ports)
    }

    fn long_port(&mut self, map: &Map, node: &Node, path: &str) -> Result<Port, SpecError> {
        let mut port = Port {
            protocol: "tcp".into(),
            mode: "ingress".into(),
            ..Port::default()
        };
        decode_map(self, map, path, &mut port)?;
        if !map.contains_key("target") {
            return Err(self.error(node.pos, path, "a port needs a `target`"));
        }
        Ok(port)
    }

    pub(crate) fn port_number(&self, node: &Node, path: &str) -> Result<u16, SpecError> {
        self.int_in(node, path)
    }

    /// `published`: a port or a range.
    pub(crate) fn published_port(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<String>, SpecError> {
        let text = self.scalar(node, path)?;
        syntax::parse_port_range(&text).map_err(|e| self.error(node.pos, path, e))?;
        Ok(Some(text))
    }

    pub(crate) fn port_protocol(&self, node: &Node, path: &str) -> Result<String, SpecError> {
        let protocol = self.string(node, path)?.to_ascii_lowercase();
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            return Err(self.error(
                node.pos,
                path,
                format!("invalid protocol `{protocol}` (tcp, udp or sctp)"),
            ));
        }
        Ok(protocol)
    }

    pub(crate) fn port_mode(&self, node: &Node, path: &str) -> Result<String, SpecError> {
        self.one_of(node, path, "mode", &["host", "ingress"])
    }

    pub(crate) fn expose(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list of ports"));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let text = match &item.value {
                Value::Int(_) | Value::Str(_) => item.scalar_text().unwrap_or_default(),
                _ => return Err(self.expected(item, &p, "a port")),
            };
            let port = text.split('/').next().unwrap_or("");
            syntax::parse_port_range(port).map_err(|e| self.error(item.pos, &p, e))?;
            out.push(text);
        }
        Ok(dedup(out))
    }

    // ---- volumes -----------------------------------------------------------

    pub(crate) fn mounts(&mut self, node: &Node, path: &str) -> Result<Vec<Mount>, SpecError> {
        let Value::Seq(items) = &node.value else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(self.expected(node, path, "a list of volumes"));
        };
        let mut mounts: Vec<Mount> = Vec::new();
        let mut by_target: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let mut mount = match &item.value {
                Value::Str(spec) => {
                    let short =
                        syntax::parse_volume(spec).map_err(|e| self.error(item.pos, &p, e))?;
                    short.mount
                }
                Value::Map(map) => self.long_mount(map, item, &p)?,
                _ => return Err(self.expected(item, &p, "a volume (`src:dst`) or a mapping")),
            };
            if mount.kind == MountKind::Bind {
                if let Some(source) = &mount.source {
                    mount.source = Some(self.host_path(source));
                }
            }
            mount.target = syntax::clean_path(&mount.target);
            let index = match by_target.get(&mount.target) {
                Some(&j) => {
                    mounts[j] = mount;
                    j
                }
                None => {
                    by_target.insert(mount.target.clone(), mounts.len());
                    mounts.push(mount);
                    mounts.len() - 1
                }
            };
            self.remember(format!("{path}[{index}]"), item.pos);
        }
        Ok(mounts)
    }

    fn long_mount(&mut self, map: &Map, node: &Node, path: &str) -> Result<Mount, SpecError> {
        let mut mount = Mount::default();
        decode_map(self, map, path, &mut mount)?;
        for required in ["type", "target"] {
            if !map.contains_key(required) {
                return Err(self.error(
                    node.pos,
                    path,
                    format!("a volume mapping needs a `{required}`"),
                ));
            }
        }
        if mount.kind == MountKind::Bind && mount.source.is_none() {
            return Err(self.error(node.pos, path, "a bind mount needs a `source`"));
        }
        Ok(mount)
    }

    /// A mount's `type`.
    pub(crate) fn mount_kind(&self, node: &Node, path: &str) -> Result<MountKind, SpecError> {
        let text = self.string(node, path)?;
        let kind = match text.as_str() {
            "volume" => MountKind::Volume,
            "bind" => MountKind::Bind,
            "tmpfs" => MountKind::Tmpfs,
            "npipe" => MountKind::Npipe,
            "image" => MountKind::Image,
            _ => {
                return Err(self.error(
                    node.pos,
                    path,
                    format!("invalid volume type `{text}` (volume, bind, tmpfs, npipe or image)"),
                ))
            }
        };
        Ok(kind)
    }

    /// `bind.selinux`: `z` or `Z`.
    pub(crate) fn selinux(&self, node: &Node, path: &str) -> Result<Option<String>, SpecError> {
        let value = self.string(node, path)?;
        if !matches!(value.as_str(), "z" | "Z") {
            return Err(self.error(node.pos, path, "expected `z` or `Z`"));
        }
        Ok(Some(value))
    }

    /// `bind.recursive`.
    pub(crate) fn bind_recursive(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<Option<String>, SpecError> {
        self.one_of(
            node,
            path,
            "value",
            &["enabled", "disabled", "writable", "readonly"],
        )
        .map(Some)
    }

    // ---- networks and dependencies ------------------------------------------

    pub(crate) fn service_networks(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, ServiceNetwork>, SpecError> {
        self.named_entries(node, path, |d, entry, at| {
            let mut attachment = ServiceNetwork::default();
            if let Some(options) = d.map(entry, at)? {
                attachment.as_mapping = true;
                decode_map(d, options, at, &mut attachment)?;
            }
            Ok(attachment)
        })
    }

    pub(crate) fn depends_on(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, Dependency>, SpecError> {
        self.named_entries(node, path, decode_object)
    }

    /// A mapping of names to objects (`null` is empty), remembering where
    /// each name is for later checks.
    fn named_entries<T>(
        &mut self,
        node: &Node,
        path: &str,
        mut item: impl FnMut(&mut Self, &Node, &str) -> Result<T, SpecError>,
    ) -> Result<IndexMap<String, T>, SpecError> {
        let mut out = IndexMap::new();
        for (name, entry) in self.map(node, path)?.into_iter().flatten() {
            let at = format!("{path}.{name}");
            self.remember(at.clone(), entry.key_pos);
            out.insert(name.clone(), item(self, &entry.node, &at)?);
        }
        Ok(out)
    }

    // ---- healthcheck -------------------------------------------------------

    pub(crate) fn healthcheck(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Option<Healthcheck>, SpecError> {
        decode_object(self, node, path).map(Some)
    }

    // ---- misc --------------------------------------------------------------

    pub(crate) fn extra_hosts(&self, node: &Node, path: &str) -> Result<Vec<String>, SpecError> {
        let mut hosts = Vec::new();
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    let text = self.string(item, &p)?;
                    let (host, ip) = text
                        .split_once('=')
                        .or_else(|| text.split_once(':'))
                        .ok_or_else(|| {
                            self.error(item.pos, &p, format!("expected `host:ip`, found `{text}`"))
                        })?;
                    hosts.push(format!("{host}:{ip}"));
                }
            }
            Value::Map(map) => {
                let mut pairs = Vec::new();
                for (host, entry) in map {
                    let p = format!("{path}.{host}");
                    match &entry.node.value {
                        Value::Seq(items) => {
                            for (i, item) in items.iter().enumerate() {
                                pairs
                                    .push((host.clone(), self.string(item, &format!("{p}[{i}]"))?));
                            }
                        }
                        _ => pairs.push((host.clone(), self.string(&entry.node, &p)?)),
                    }
                }
                hosts.extend(pairs.into_iter().map(|(h, ip)| format!("{h}:{ip}")));
            }
            Value::Null => {}
            _ => return Err(self.expected(node, path, "a list or a mapping of hosts")),
        }
        // Compose sorts the entries (as `host=ip` strings).
        hosts.sort_by_key(|h| h.replacen(':', "=", 1));
        Ok(dedup(hosts))
    }

    pub(crate) fn ulimits(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<IndexMap<String, Ulimit>, SpecError> {
        let mut out = IndexMap::new();
        for (name, entry) in self.map(node, path)?.into_iter().flatten() {
            let p = format!("{path}.{name}");
            let limit = match &entry.node.value {
                Value::Map(map) => {
                    let mut limit = Ulimit::default();
                    decode_map(self, map, &p, &mut limit)?;
                    if !(map.contains_key("soft") && map.contains_key("hard")) {
                        return Err(self.error(
                            entry.node.pos,
                            &p,
                            "a ulimit mapping needs `soft` and `hard`",
                        ));
                    }
                    limit
                }
                _ => {
                    let value = self.integer(&entry.node, &p)?;
                    Ulimit {
                        soft: value,
                        hard: value,
                        single: true,
                    }
                }
            };
            out.insert(name.clone(), limit);
        }
        Ok(out)
    }
}

/// The identity of a published port for de-duplication, as compose computes it.
fn port_key(port: &Port) -> (String, String, u16, String) {
    (
        port.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into()),
        port.published.clone().unwrap_or_default(),
        port.target,
        port.protocol.clone(),
    )
}
