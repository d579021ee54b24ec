//! Typing the top level (services, networks, volumes, extensions) and the
//! checks that look across services: profiles, the implicit `default`
//! network, references to undefined services/networks/volumes, dependency
//! cycles, and the pruning of networks and volumes no enabled service uses
//! (as `docker compose config` does).

use indexmap::IndexMap;

use super::Converter;
use crate::spec::error::SpecError;
use crate::spec::model::{Dependency, Network, Project, Service, ServiceNetwork, Volume};
use crate::spec::yaml::{Node, Value};

const TOP_LEVEL: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "models", "include",
];

/// Types the merged tree `root` as project `name`, with `profiles` active.
pub fn convert_project(
    conv: &mut Converter<'_>,
    root: &Node,
    name: &str,
    profiles: &[String],
) -> Result<Project, SpecError> {
    let mut project = Project {
        name: name.to_string(),
        working_dir: conv.project_dir.to_path_buf(),
        ..Project::default()
    };
    let Some(map) = conv.map(root, "")? else {
        return Err(conv.error(root.pos, "", "the top level must be a mapping"));
    };
    let mut services = IndexMap::new();
    for (key, entry) in map {
        let node = &entry.node;
        match key.as_str() {
            "version" => conv
                .warnings
                .push("the top-level `version` is obsolete and ignored".to_string()),
            "name" => {}
            "services" => {
                for (service_name, e) in conv.map(node, "services")?.into_iter().flatten() {
                    check_service_name(conv, service_name, e)?;
                    conv.remember(format!("services.{service_name}"), e.key_pos);
                    let service = conv.service(service_name, &e.node)?;
                    services.insert(service_name.clone(), service);
                }
            }
            "networks" => project.networks = networks(conv, node, name)?,
            "volumes" => project.volumes = volumes(conv, node, name)?,
            "secrets" | "configs" | "models" => conv
                .warnings
                .push(format!("torq ignores the top-level `{key}`")),
            "include" => {
                return Err(conv.sources.error_at(
                    entry.key_pos,
                    "`include` is not supported by torq; pass the files with several `-f` instead",
                ))
            }
            k if k.starts_with("x-") => {
                project.extensions.insert(key.clone(), node.to_json());
            }
            _ => return Err(conv.unknown_key(key, entry, "", TOP_LEVEL)),
        }
    }
    for service in services.values_mut() {
        add_implicit_dependencies(service);
        attach_default_network(service);
    }
    let uses_default = services
        .values()
        .any(|s| s.networks.contains_key("default"));
    if uses_default && !project.networks.contains_key("default") {
        project.networks.insert(
            "default".into(),
            Network {
                name: format!("{name}_default"),
                ..Network::default()
            },
        );
    }
    let (enabled, disabled) = split_by_profiles(services, profiles);
    project.services = enabled;
    project.disabled_services = disabled;
    check_references(conv, &project)?;
    check_cycles(conv, &project)?;
    prune_unused(&mut project);
    Ok(project)
}

fn check_service_name(
    conv: &Converter<'_>,
    name: &str,
    entry: &crate::spec::yaml::Entry,
) -> Result<(), SpecError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(conv.sources.error_at(
            entry.key_pos,
            format!("invalid service name `{name}` (letters, digits, `.`, `_` and `-` only)"),
        ))
    }
}

/// `network_mode: service:X` makes the service depend on X, as in compose.
fn add_implicit_dependencies(service: &mut Service) {
    if let Some(other) = service
        .network_mode
        .as_deref()
        .and_then(|mode| mode.strip_prefix("service:"))
    {
        if !service.depends_on.contains_key(other) {
            service.depends_on.insert(
                other.to_string(),
                Dependency {
                    restart: true,
                    ..Dependency::default()
                },
            );
        }
    }
}

/// A service with neither `networks` nor `network_mode` joins `default`.
fn attach_default_network(service: &mut Service) {
    if service.network_mode.is_none() && service.networks.is_empty() {
        service
            .networks
            .insert("default".into(), ServiceNetwork::default());
    }
}

/// Services with no profile, or a profile among `profiles` (`*` = all), are enabled.
fn split_by_profiles(
    services: IndexMap<String, Service>,
    profiles: &[String],
) -> (IndexMap<String, Service>, IndexMap<String, Service>) {
    let mut enabled = IndexMap::new();
    let mut disabled = IndexMap::new();
    for (name, service) in services {
        let active = service.profiles.is_empty()
            || profiles
                .iter()
                .any(|p| p == "*" || service.profiles.contains(p));
        if active {
            enabled.insert(name, service);
        } else {
            disabled.insert(name, service);
        }
    }
    (enabled, disabled)
}

fn check_references(conv: &Converter<'_>, project: &Project) -> Result<(), SpecError> {
    for (name, service) in &project.services {
        let at = |path: String| conv.position(&path);
        if service.image.is_none() && service.build.is_none() {
            return Err(conv.error(
                at(format!("services.{name}")),
                &format!("services.{name}"),
                "a service needs an `image` or a `build`",
            ));
        }
        if service.network_mode.is_some()
            && !(service.networks.len() == 1 && service.networks.contains_key("default"))
            && !service.networks.is_empty()
        {
            return Err(conv.error(
                at(format!("services.{name}.network_mode")),
                &format!("services.{name}"),
                "`network_mode` and `networks` cannot both be set",
            ));
        }
        if let Some(other) = service
            .network_mode
            .as_deref()
            .and_then(|m| m.strip_prefix("service:"))
        {
            if !project.services.contains_key(other) {
                return Err(conv.error(
                    at(format!("services.{name}.network_mode")),
                    &format!("services.{name}.network_mode"),
                    format!("refers to undefined service `{other}`"),
                ));
            }
        }
        for (dep, dependency) in &service.depends_on {
            let path = format!("services.{name}.depends_on.{dep}");
            if project.services.contains_key(dep) {
                continue;
            }
            if let Some(disabled) = project.disabled_services.get(dep) {
                if !dependency.required {
                    continue;
                }
                return Err(conv.error(
                    at(path.clone()),
                    &path,
                    format!(
                        "service `{name}` depends on `{dep}`, which is disabled; enable it with --profile {}",
                        disabled.profiles.join(" or --profile ")
                    ),
                ));
            }
            return Err(conv.error(
                at(path.clone()),
                &path,
                format!("service `{name}` depends on undefined service `{dep}`"),
            ));
        }
        for network in service.networks.keys() {
            if !project.networks.contains_key(network) {
                let path = format!("services.{name}.networks.{network}");
                return Err(conv.error(
                    at(path.clone()),
                    &path,
                    format!(
                        "undefined network `{network}` (declare it under the top-level `networks`)"
                    ),
                ));
            }
        }
        for (i, mount) in service.volumes.iter().enumerate() {
            if mount.kind != crate::spec::model::MountKind::Volume {
                continue;
            }
            let Some(source) = &mount.source else {
                continue;
            };
            if !project.volumes.contains_key(source) {
                let path = format!("services.{name}.volumes[{i}]");
                return Err(conv.error(
                    at(path.clone()),
                    &path,
                    format!(
                        "undefined volume `{source}` (declare it under the top-level `volumes`)"
                    ),
                ));
            }
        }
        let replicas = service
            .deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .unwrap_or(1);
        if service.container_name.is_some() && replicas > 1 {
            return Err(conv.error(
                at(format!("services.{name}")),
                &format!("services.{name}"),
                "`container_name` cannot be combined with more than one replica",
            ));
        }
    }
    Ok(())
}

/// Rejects `depends_on` cycles among enabled services, naming the cycle.
fn check_cycles(conv: &Converter<'_>, project: &Project) -> Result<(), SpecError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let names: Vec<&String> = project.services.keys().collect();
    let edges: Vec<Vec<(usize, &String)>> = project
        .services
        .values()
        .map(|s| {
            s.depends_on
                .keys()
                .filter_map(|d| project.services.get_index_of(d).map(|i| (i, d)))
                .collect()
        })
        .collect();
    let mut marks = vec![Mark::New; names.len()];
    for start in 0..names.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (service, next dependency to look at).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::Active;
        while let Some(&mut (current, ref mut next)) = stack.last_mut() {
            let Some(&(d, dep)) = edges[current].get(*next) else {
                marks[current] = Mark::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match marks[d] {
                Mark::Done => {}
                Mark::New => {
                    marks[d] = Mark::Active;
                    stack.push((d, 0));
                }
                Mark::Active => {
                    let from = stack.iter().position(|(s, _)| *s == d).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[from..]
                        .iter()
                        .map(|(s, _)| names[*s].as_str())
                        .collect();
                    cycle.push(names[d].as_str());
                    let last = names[current];
                    let path = format!("services.{last}.depends_on.{dep}");
                    return Err(conv.error(
                        conv.position(&path),
                        "",
                        format!("dependency cycle: {}", cycle.join(" -> ")),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Drops networks and volumes no enabled service uses, as `docker compose config` does.
fn prune_unused(project: &mut Project) {
    let used_networks: std::collections::HashSet<String> = project
        .services
        .values()
        .flat_map(|s| s.networks.keys().cloned())
        .collect();
    project.networks.retain(|k, _| used_networks.contains(k));
    let used_volumes: std::collections::HashSet<String> = project
        .services
        .values()
        .flat_map(|s| s.volumes.iter())
        .filter(|m| m.kind == crate::spec::model::MountKind::Volume)
        .filter_map(|m| m.source.clone())
        .collect();
    project.volumes.retain(|k, _| used_volumes.contains(k));
}

fn resource_name(
    conv: &mut Converter<'_>,
    map: &crate::spec::yaml::Map,
    key: &str,
    path: &str,
    project: &str,
) -> Result<(String, bool), SpecError> {
    let mut name = None;
    let mut external = false;
    if let Some(entry) = map.get("name") {
        name = Some(conv.string(&entry.node, &format!("{path}.name"))?);
    }
    if let Some(entry) = map.get("external") {
        let p = format!("{path}.external");
        match &entry.node.value {
            Value::Map(ext) => {
                external = true;
                if let Some(e) = ext.get("name") {
                    let ext_name = conv.string(&e.node, &format!("{p}.name"))?;
                    if name.as_ref().is_some_and(|n| *n != ext_name) {
                        return Err(conv.error(
                            e.node.pos,
                            &p,
                            "`name` and `external.name` conflict; use only `name`",
                        ));
                    }
                    name = Some(ext_name);
                }
            }
            _ => external = conv.boolean(&entry.node, &p)?,
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
    conv: &mut Converter<'_>,
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
    for (key, entry) in conv.map(node, "networks")?.into_iter().flatten() {
        let path = format!("networks.{key}");
        let empty = crate::spec::yaml::Map::new();
        let map = conv.map(&entry.node, &path)?.unwrap_or(&empty);
        let (name, external) = resource_name(conv, map, key, &path, project)?;
        let mut network = Network {
            name,
            external,
            ..Network::default()
        };
        for (k, e) in map {
            let p = format!("{path}.{k}");
            match k.as_str() {
                "name" | "external" => {}
                "driver" => network.driver = Some(conv.string(&e.node, &p)?),
                "driver_opts" => network.driver_opts = conv.string_map(&e.node, &p)?,
                "internal" => network.internal = conv.boolean(&e.node, &p)?,
                "attachable" => network.attachable = conv.boolean(&e.node, &p)?,
                "enable_ipv6" => network.enable_ipv6 = Some(conv.boolean(&e.node, &p)?),
                "enable_ipv4" => conv.warnings.push(format!("{p}: torq ignores this key")),
                "ipam" => {
                    conv.map(&e.node, &p)?;
                    network.ipam = Some(e.node.to_json());
                }
                "labels" => network.labels = conv.labels(&e.node, &p)?,
                x if x.starts_with("x-") => {}
                _ => return Err(conv.unknown_key(k, e, &path, KEYS)),
            }
        }
        out.insert(key.clone(), network);
    }
    Ok(out)
}

fn volumes(
    conv: &mut Converter<'_>,
    node: &Node,
    project: &str,
) -> Result<IndexMap<String, Volume>, SpecError> {
    const KEYS: &[&str] = &["name", "driver", "driver_opts", "external", "labels"];
    let mut out = IndexMap::new();
    for (key, entry) in conv.map(node, "volumes")?.into_iter().flatten() {
        let path = format!("volumes.{key}");
        let empty = crate::spec::yaml::Map::new();
        let map = conv.map(&entry.node, &path)?.unwrap_or(&empty);
        let (name, external) = resource_name(conv, map, key, &path, project)?;
        let mut volume = Volume {
            name,
            external,
            ..Volume::default()
        };
        for (k, e) in map {
            let p = format!("{path}.{k}");
            match k.as_str() {
                "name" | "external" => {}
                "driver" => volume.driver = Some(conv.string(&e.node, &p)?),
                "driver_opts" => volume.driver_opts = conv.string_map(&e.node, &p)?,
                "labels" => volume.labels = conv.labels(&e.node, &p)?,
                x if x.starts_with("x-") => {}
                _ => return Err(conv.unknown_key(k, e, &path, KEYS)),
            }
        }
        out.insert(key.clone(), volume);
    }
    Ok(out)
}
