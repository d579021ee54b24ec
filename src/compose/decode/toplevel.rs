//! Decoding the top level: services, networks, volumes, secrets, configs,
//! `models`, extensions. Everything that looks across services (profiles,
//! the implicit `default` network, references, cycles) happens after, in
//! [`crate::compose::normalize`] and [`crate::compose::validate`].

use indexmap::IndexMap;

use super::files::FileKind;
use super::object::decode_map;
use super::Decoder;
use crate::compose::error::SpecError;
use crate::compose::model::{Network, Project, Volume};
use crate::compose::yaml::{Entry, Map, Node, Value};

/// Reads one top-level key into the project.
type TopLevelKey = fn(&mut Decoder<'_>, &Entry, &mut Project) -> Result<(), SpecError>;

/// The top-level keys, each with its decoder.
const TOP_LEVEL: &[(&str, TopLevelKey)] = &[
    ("version", |d, entry, _| {
        let file = d.sources.display(entry.key_pos.file).to_string();
        d.warnings.push(format!(
            "{file}: the top-level `version` is obsolete and ignored; remove it"
        ));
        Ok(())
    }),
    // Read by the loader.
    ("name", |_, _, _| Ok(())),
    ("services", |d, entry, project| {
        services(d, &entry.node, project)
    }),
    ("networks", |d, entry, project| {
        project.networks = networks(d, &entry.node, &project.name)?;
        Ok(())
    }),
    ("volumes", |d, entry, project| {
        project.volumes = volumes(d, &entry.node, &project.name)?;
        Ok(())
    }),
    ("secrets", |d, entry, project| {
        project.secrets = d.file_objects(&entry.node, FileKind::Secret, &project.name)?;
        Ok(())
    }),
    ("configs", |d, entry, project| {
        project.configs = d.file_objects(&entry.node, FileKind::Config, &project.name)?;
        Ok(())
    }),
    ("models", |d, entry, _| {
        for (model, _) in d.map(&entry.node, "models")?.into_iter().flatten() {
            d.models.insert(model.clone());
        }
        d.warnings
            .push("torq ignores the top-level `models`".to_string());
        Ok(())
    }),
    // Resolved and removed by the loader.
    ("include", |_, _, _| Ok(())),
];

/// Decodes the merged tree `root` as project `name`: every service in
/// `services`, whatever its profiles.
pub(crate) fn decode_project(
    d: &mut Decoder<'_>,
    root: &Node,
    name: &str,
) -> Result<Project, SpecError> {
    let mut project = Project {
        name: name.to_string(),
        working_dir: d.project_dir.to_path_buf(),
        ..Project::default()
    };
    let Some(map) = d.map(root, "")? else {
        return Err(d.error(root.pos, "", "the top level must be a mapping"));
    };
    for (key, entry) in map {
        if let Some((_, decode)) = TOP_LEVEL.iter().find(|(k, _)| k == key) {
            decode(d, entry, &mut project)?;
        } else if key.starts_with("x-") {
            project.extensions.insert(key.clone(), entry.node.to_json());
        } else {
            let keys: Vec<&str> = TOP_LEVEL.iter().map(|(k, _)| *k).collect();
            return Err(d.unknown_key(key, entry, "", &keys));
        }
    }
    Ok(project)
}

/// `services:`, in spec order.
fn services(d: &mut Decoder<'_>, node: &Node, project: &mut Project) -> Result<(), SpecError> {
    for (name, entry) in d.map(node, "services")?.into_iter().flatten() {
        check_service_name(d, name, entry)?;
        d.remember(format!("services.{name}"), entry.key_pos);
        let service = d.service(name, &entry.node)?;
        project.services.insert(name.clone(), service);
    }
    Ok(())
}

fn check_service_name(d: &Decoder<'_>, name: &str, entry: &Entry) -> Result<(), SpecError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(d.sources.error_at(
            entry.key_pos,
            format!("invalid service name `{name}` (letters, digits, `.`, `_` and `-` only)"),
        ))
    }
}

pub(crate) fn resource_name(
    d: &mut Decoder<'_>,
    map: &crate::compose::yaml::Map,
    key: &str,
    path: &str,
    project: &str,
) -> Result<(String, bool), SpecError> {
    let mut name = None;
    let mut external = false;
    if let Some(entry) = map.get("name") {
        // An empty name (an unset variable) means the default name.
        name = d.opt_string(&entry.node, &format!("{path}.name"))?;
    }
    if let Some(entry) = map.get("external") {
        let p = format!("{path}.external");
        match &entry.node.value {
            Value::Map(ext) => {
                external = true;
                if let Some(e) = ext.get("name") {
                    d.warnings.push(format!(
                        "{path}: `external.name` is deprecated; set `name` and `external: true`"
                    ));
                    let ext_name = d.string(&e.node, &format!("{p}.name"))?;
                    if name.as_ref().is_some_and(|n| *n != ext_name) {
                        return Err(d.error(
                            e.node.pos,
                            &p,
                            "`name` and `external.name` conflict; use only `name`",
                        ));
                    }
                    name = Some(ext_name);
                }
            }
            _ => external = d.boolean(&entry.node, &p)?,
        }
    }
    let name = match (name, external) {
        (Some(n), _) => n,
        (None, true) => key.to_string(),
        (None, false) => format!("{project}_{key}"),
    };
    Ok((name, external))
}

fn networks(
    d: &mut Decoder<'_>,
    node: &Node,
    project: &str,
) -> Result<IndexMap<String, Network>, SpecError> {
    let mut out = IndexMap::new();
    for (key, entry) in d.map(node, "networks")?.into_iter().flatten() {
        let path = format!("networks.{key}");
        let empty = Map::new();
        let map = d.map(&entry.node, &path)?.unwrap_or(&empty);
        let (name, external) = resource_name(d, map, key, &path, project)?;
        let mut network = Network::default();
        decode_map(d, map, &path, &mut network)?;
        (network.name, network.external) = (name, external);
        out.insert(key.clone(), network);
    }
    Ok(out)
}

fn volumes(
    d: &mut Decoder<'_>,
    node: &Node,
    project: &str,
) -> Result<IndexMap<String, Volume>, SpecError> {
    let mut out = IndexMap::new();
    for (key, entry) in d.map(node, "volumes")?.into_iter().flatten() {
        let path = format!("volumes.{key}");
        let empty = Map::new();
        let map = d.map(&entry.node, &path)?.unwrap_or(&empty);
        let (name, external) = resource_name(d, map, key, &path, project)?;
        let mut volume = Volume::default();
        decode_map(d, map, &path, &mut volume)?;
        (volume.name, volume.external) = (name, external);
        resolve_bind_device(d, &mut volume);
        out.insert(key.clone(), volume);
    }
    Ok(out)
}

/// A local volume with `o: bind` is a bind mount of `device`: a relative
/// device resolves against the project directory.
fn resolve_bind_device(d: &Decoder<'_>, volume: &mut Volume) {
    if volume.driver.as_deref() == Some("local")
        && volume.driver_opts.get("o").map(String::as_str) == Some("bind")
    {
        if let Some(device) = volume.driver_opts.get_mut("device") {
            *device = d.host_path(device);
        }
    }
}

impl Decoder<'_> {
    /// `external` (with `name`) is read by [`resource_name`], before the
    /// object's other keys.
    pub(crate) fn external(&self, _node: &Node, _path: &str) -> Result<bool, SpecError> {
        Ok(false)
    }

    /// A network's `ipam`, as written, without `options` (docker compose's
    /// model has none: it drops them, with a warning here).
    pub(crate) fn ipam(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Option<serde_json::Value>, SpecError> {
        self.map(node, path)?;
        let mut ipam = node.to_json();
        let dropped = ipam
            .as_object_mut()
            .and_then(|m| m.remove("options"))
            .is_some();
        if dropped {
            self.warnings.push(format!(
                "{path}.options is ignored, as docker compose ignores it"
            ));
        }
        Ok(Some(ipam))
    }
}
