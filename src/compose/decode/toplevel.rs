//! Decoding the top level: services, networks, volumes, secrets, configs,
//! `models`, extensions. Everything that looks across services (profiles,
//! the implicit `default` network, references, cycles) happens after, in
//! [`crate::compose::normalize`] and [`crate::compose::validate`].

use indexmap::IndexMap;

use super::files::FileKind;
use super::Decoder;
use crate::compose::error::SpecError;
use crate::compose::model::{Network, Project, Volume};
use crate::compose::yaml::{Entry, Node, Value};

const TOP_LEVEL: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "models", "include",
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
        let node = &entry.node;
        match key.as_str() {
            "version" => {
                let file = d.sources.display(entry.key_pos.file).to_string();
                d.warnings.push(format!(
                    "{file}: the top-level `version` is obsolete and ignored; remove it"
                ));
            }
            // Read by the loader (`name`) or resolved and removed by it (`include`).
            "name" | "include" => {}
            "services" => services(d, node, &mut project)?,
            "networks" => project.networks = networks(d, node, name)?,
            "volumes" => project.volumes = volumes(d, node, name)?,
            "secrets" => project.secrets = d.file_objects(node, FileKind::Secret, name)?,
            "configs" => project.configs = d.file_objects(node, FileKind::Config, name)?,
            "models" => {
                for (model, _) in d.map(node, "models")?.into_iter().flatten() {
                    d.models.insert(model.clone());
                }
                d.warnings
                    .push("torq ignores the top-level `models`".to_string());
            }
            k if k.starts_with("x-") => {
                project.extensions.insert(key.clone(), node.to_json());
            }
            _ => return Err(d.unknown_key(key, entry, "", TOP_LEVEL)),
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
    const KEYS: &[&str] = &[
        "name",
        "driver",
        "driver_opts",
        "external",
        "internal",
        "attachable",
        "enable_ipv6",
        "enable_ipv4",
        "ipam",
        "labels",
    ];
    let mut out = IndexMap::new();
    for (key, entry) in d.map(node, "networks")?.into_iter().flatten() {
        let path = format!("networks.{key}");
        let empty = crate::compose::yaml::Map::new();
        let map = d.map(&entry.node, &path)?.unwrap_or(&empty);
        let (name, external) = resource_name(d, map, key, &path, project)?;
        let mut network = Network {
            name,
            external,
            ..Network::default()
        };
        for (k, e) in map {
            let p = format!("{path}.{k}");
            match k.as_str() {
                "name" | "external" => {}
                "driver" => network.driver = Some(d.string(&e.node, &p)?),
                "driver_opts" => network.driver_opts = d.string_map(&e.node, &p)?,
                "internal" => network.internal = d.boolean(&e.node, &p)?,
                "attachable" => network.attachable = d.boolean(&e.node, &p)?,
                "enable_ipv6" => network.enable_ipv6 = Some(d.boolean(&e.node, &p)?),
                "enable_ipv4" => network.enable_ipv4 = Some(d.boolean(&e.node, &p)?),
                "ipam" => {
                    d.map(&e.node, &p)?;
                    let mut ipam = e.node.to_json();
                    // docker compose's model has no ipam options: it drops them.
                    let dropped = ipam
                        .as_object_mut()
                        .and_then(|m| m.remove("options"))
                        .is_some();
                    if dropped {
                        d.warnings.push(format!(
                            "networks.{key}.ipam.options is ignored, as docker compose ignores it"
                        ));
                    }
                    network.ipam = Some(ipam);
                }
                "labels" => network.labels = d.labels(&e.node, &p)?,
                x if x.starts_with("x-") => {}
                _ => return Err(d.unknown_key(k, e, &path, KEYS)),
            }
        }
        out.insert(key.clone(), network);
    }
    Ok(out)
}

fn volumes(
    d: &mut Decoder<'_>,
    node: &Node,
    project: &str,
) -> Result<IndexMap<String, Volume>, SpecError> {
    const KEYS: &[&str] = &["name", "driver", "driver_opts", "external", "labels"];
    let mut out = IndexMap::new();
    for (key, entry) in d.map(node, "volumes")?.into_iter().flatten() {
        let path = format!("volumes.{key}");
        let empty = crate::compose::yaml::Map::new();
        let map = d.map(&entry.node, &path)?.unwrap_or(&empty);
        let (name, external) = resource_name(d, map, key, &path, project)?;
        let mut volume = Volume {
            name,
            external,
            ..Volume::default()
        };
        for (k, e) in map {
            let p = format!("{path}.{k}");
            match k.as_str() {
                "name" | "external" => {}
                "driver" => volume.driver = Some(d.string(&e.node, &p)?),
                "driver_opts" => volume.driver_opts = d.string_map(&e.node, &p)?,
                "labels" => volume.labels = d.labels(&e.node, &p)?,
                x if x.starts_with("x-") => {}
                _ => return Err(d.unknown_key(k, e, &path, KEYS)),
            }
        }
        // A local volume with `o: bind` is a bind mount of `device`: a
        // relative device resolves against the project directory.
        if volume.driver.as_deref() == Some("local")
            && volume.driver_opts.get("o").map(String::as_str) == Some("bind")
        {
            if let Some(device) = volume.driver_opts.get_mut("device") {
                *device = d.host_path(device);
            }
        }
        out.insert(key.clone(), volume);
    }
    Ok(out)
}
