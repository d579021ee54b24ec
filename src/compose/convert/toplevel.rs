//! Typing the top level (services, networks, volumes, extensions) and the
//! checks that look across services: profiles, the implicit `default`
//! network, references to undefined services/networks/volumes, dependency
//! cycles, and the pruning of networks and volumes no enabled service uses
//! (as `docker compose config` does).

use indexmap::IndexMap;

use super::resources::FileKind;
use super::service::NOT_APPLIED;
use super::Converter;
use crate::compose::error::SpecError;
use crate::compose::model::{Dependency, Network, Project, Service, ServiceNetwork, Volume};
use crate::compose::yaml::{Node, Value};

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
            "version" => {
                let file = conv.sources.display(entry.key_pos.file).to_string();
                conv.warnings.push(format!(
                    "{file}: the top-level `version` is obsolete and ignored; remove it"
                ));
            }
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
            "secrets" => project.secrets = conv.file_objects(node, FileKind::Secret, name)?,
            "configs" => project.configs = conv.file_objects(node, FileKind::Config, name)?,
            "models" => {
                for (model, _) in conv.map(node, "models")?.into_iter().flatten() {
                    conv.models.insert(model.clone());
                }
                conv.warnings
                    .push("torq ignores the top-level `models`".to_string());
            }
            // Resolved (and removed) by the loader.
            "include" => {}
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
    let (mut enabled, disabled) = split_by_profiles(services, profiles);
    for service in enabled.values_mut() {
        if let Some(files) = conv.pending_files.remove(&service.name) {
            conv.resolve_files(service, files)?;
        }
    }
    project.services = enabled;
    project.disabled_services = disabled;
    warn_not_applied(conv, &project);
    check_references(conv, &project)?;
    check_cycles(conv, &project)?;
    prune_unused(&mut project);
    Ok(project)
}

/// One warning per compose key the engine does not apply yet, naming the
/// services that use it.
fn warn_not_applied(conv: &mut Converter<'_>, project: &Project) {
    let mut users: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for (name, service) in &project.services {
        let keys = service
            .other
            .keys()
            .map(String::as_str)
            .chain((!service.secrets.is_empty()).then_some("secrets"))
            .chain((!service.configs.is_empty()).then_some("configs"));
        for key in keys {
            if NOT_APPLIED.contains(&key) {
                users.entry(key).or_default().push(name);
            }
        }
    }
    for (key, services) in users {
        conv.warnings.push(format!(
            "`{key}` ({}) is kept in the model but not applied to containers yet",
            services.join(", ")
        ));
    }
}

fn check_service_name(
    conv: &Converter<'_>,
    name: &str,
    entry: &crate::compose::yaml::Entry,
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

/// Implicit dependencies, as compose adds them: `links` and a
/// `service:X` namespace (`network_mode`, `ipc`, `pid`, `uts`, `cgroup`)
/// make the service depend on X (restarting with it); `volumes_from: [X]`
/// makes it depend on X. Explicit `depends_on` entries win.
fn add_implicit_dependencies(service: &mut Service) {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let list = |key: &str| -> Vec<String> {
        service
            .other
            .get(key)
            .and_then(|v| v.as_array())
            .map(|items| items.iter().filter_map(text).collect())
            .unwrap_or_default()
    };
    let mut implied: Vec<(String, bool)> = Vec::new();
    for link in list("links") {
        let target = match link.split(':').collect::<Vec<_>>().as_slice() {
            [name, _alias] => name.to_string(),
            _ => link.clone(),
        };
        implied.push((target, true));
    }
    let namespaces = std::iter::once(service.network_mode.clone()).chain(
        ["ipc", "pid", "uts", "cgroup"]
            .iter()
            .map(|k| service.other.get(*k).and_then(text)),
    );
    for namespace in namespaces.flatten() {
        if let Some(other) = namespace.strip_prefix("service:") {
            implied.push((other.to_string(), true));
        }
    }
    for from in list("volumes_from") {
        if !from.starts_with("container:") {
            let name = from.split(':').next().unwrap_or_default().to_string();
            implied.push((name, false));
        }
    }
    for (name, restart) in implied {
        service.depends_on.entry(name).or_insert(Dependency {
            restart,
            ..Dependency::default()
        });
    }
}

/// Provider services run nothing: compose attaches them to no network.
fn is_provider(service: &Service) -> bool {
    service.other.contains_key("provider")
}

/// A service with neither `networks` nor `network_mode` joins `default`.
fn attach_default_network(service: &mut Service) {
    if service.network_mode.is_none() && service.networks.is_empty() && !is_provider(service) {
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
        if service.image.is_none() && service.build.is_none() && !is_provider(service) {
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
            if mount.kind != crate::compose::model::MountKind::Volume {
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
        let uses = [
            ("secrets", "secret", &service.secrets, &project.secrets),
            ("configs", "config", &service.configs, &project.configs),
        ];
        let build_secrets = service.build.as_ref().map(|b| &b.secrets);
        let build_uses =
            build_secrets.map(|secrets| ("build.secrets", "secret", secrets, &project.secrets));
        for (key, what, mounts, defined) in uses.into_iter().chain(build_uses) {
            for (i, mount) in mounts.iter().enumerate() {
                if !defined.contains_key(&mount.source) {
                    let path = format!("services.{name}.{key}[{i}]");
                    return Err(conv.error(
                        at(path.clone()),
                        &path,
                        format!(
                            "undefined {what} `{}` (declare it under the top-level `{}`)",
                            mount.source,
                            key.trim_start_matches("build.")
                        ),
                    ));
                }
            }
        }
        check_service_consistency(conv, project, name, service)?;
    }
    check_container_names(conv, project)
}

/// Compose's consistency checks on one service beyond references.
fn check_service_consistency(
    conv: &Converter<'_>,
    project: &Project,
    name: &str,
    service: &Service,
) -> Result<(), SpecError> {
    let fail = |key: &str, message: String| -> Result<(), SpecError> {
        let path = format!("services.{name}.{key}");
        let pos = conv
            .positions
            .get(&path)
            .copied()
            .unwrap_or_else(|| conv.position(&format!("services.{name}")));
        Err(conv.error(pos, &path, message))
    };
    let scale = service
        .other
        .get("scale")
        .and_then(serde_json::Value::as_i64);
    if let Some(scale) = scale {
        if scale < 0 {
            return fail("scale", "must be greater than or equal to 0".into());
        }
        let replicas = service.deploy.as_ref().and_then(|d| d.replicas);
        if replicas.is_some_and(|r| i64::from(r) != scale) {
            return fail(
                "scale",
                "`scale` and `deploy.replicas` cannot have different values".into(),
            );
        }
    }
    if service.container_name.is_some() && service.replicas() > 1 {
        return fail(
            "container_name",
            "`container_name` cannot be combined with more than one replica (container names must be unique)".into(),
        );
    }
    if let Some(build) = &service.build {
        if build.other.contains_key("dockerfile_inline") && build.dockerfile.is_some() {
            return fail(
                "build",
                "`dockerfile` and `dockerfile_inline` cannot both be set".into(),
            );
        }
        if let Some(contexts) = build
            .other
            .get("additional_contexts")
            .and_then(|c| c.as_object())
        {
            for (context, value) in contexts {
                let Some(target) = value.as_str().and_then(|v| v.strip_prefix("service:")) else {
                    continue;
                };
                match project.services.get(target) {
                    None => {
                        return fail(
                            "build",
                            format!("additional context `{context}` names unknown service `{target}`"),
                        )
                    }
                    Some(other) if other.build.is_none() => {
                        return fail(
                            "build",
                            format!("additional context `{context}` names service `{target}`, which has no `build`"),
                        )
                    }
                    Some(_) => {}
                }
            }
        }
        let platforms: Vec<&str> = build
            .other
            .get("platforms")
            .and_then(|p| p.as_array())
            .map(|items| items.iter().filter_map(|p| p.as_str()).collect())
            .unwrap_or_default();
        if let Some(platform) = &service.platform {
            if !platforms.is_empty() && !platforms.contains(&platform.as_str()) {
                return fail(
                    "platform",
                    format!("`build.platforms` must include the service's platform `{platform}`"),
                );
            }
        }
    }
    let limits = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.limits.as_ref());
    let reservations = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.reservations.as_ref());
    let bytes = |key: &str| {
        service
            .other
            .get(key)
            .and_then(|v| v.as_str())
            .and_then(|v| v.parse::<u64>().ok())
    };
    if let (Some(cpus), Some(limit)) = (
        service
            .other
            .get("cpus")
            .and_then(serde_json::Value::as_f64),
        limits
            .and_then(|l| l.cpus.as_deref())
            .and_then(|c| c.parse::<f64>().ok()),
    ) {
        if (cpus - limit).abs() > 1e-6 {
            return fail(
                "cpus",
                "`cpus` and `deploy.resources.limits.cpus` cannot have different values".into(),
            );
        }
    }
    if let (Some(memory), Some(limit)) = (bytes("mem_limit"), limits.and_then(|l| l.memory)) {
        if memory != limit {
            return fail(
                "mem_limit",
                "`mem_limit` and `deploy.resources.limits.memory` cannot have different values"
                    .into(),
            );
        }
    }
    if let (Some(memory), Some(reserved)) = (
        bytes("mem_reservation"),
        reservations.and_then(|r| r.memory),
    ) {
        if memory != reserved {
            return fail(
                "mem_reservation",
                "`mem_reservation` and `deploy.resources.reservations.memory` cannot have different values".into(),
            );
        }
    }
    if let (Some(pids), Some(limit)) = (
        service
            .other
            .get("pids_limit")
            .and_then(serde_json::Value::as_i64),
        limits.and_then(|l| l.pids),
    ) {
        if pids != limit {
            return fail(
                "pids_limit",
                "`pids_limit` and `deploy.resources.limits.pids` cannot have different values"
                    .into(),
            );
        }
    }
    let watch = service
        .other
        .get("develop")
        .and_then(|d| d.get("watch"))
        .and_then(|w| w.as_array());
    for rule in watch.into_iter().flatten() {
        let action = rule.get("action").and_then(|a| a.as_str()).unwrap_or("");
        if rule.get("target").is_none() && !matches!(action, "rebuild" | "restart") {
            return fail(
                "develop",
                format!("watch: a `{action}` rule needs a `target`"),
            );
        }
    }
    let mut mounted: std::collections::HashSet<String> = std::collections::HashSet::new();
    let tmpfs = service.other.get("tmpfs").and_then(|t| t.as_array());
    for entry in tmpfs.into_iter().flatten().filter_map(|t| t.as_str()) {
        let target = entry.split(':').next().unwrap_or(entry);
        if !mounted.insert(target.to_string()) {
            return fail("tmpfs", format!("`{target}` is mounted twice"));
        }
    }
    for (i, mount) in service.volumes.iter().enumerate() {
        if !mounted.insert(mount.target.clone()) {
            return fail(
                &format!("volumes[{i}]"),
                format!("`{}` is already mounted (by `tmpfs`)", mount.target),
            );
        }
    }
    if let Some(models) = service.other.get("models").and_then(|m| m.as_object()) {
        for model in models.keys() {
            if !conv.models.contains(model) {
                return fail(
                    "models",
                    format!("undefined model `{model}` (declare it under the top-level `models`)"),
                );
            }
        }
    }
    Ok(())
}

/// Container names must be valid and unique across services.
fn check_container_names(conv: &Converter<'_>, project: &Project) -> Result<(), SpecError> {
    let mut owners: IndexMap<&str, &str> = IndexMap::new();
    for (name, service) in &project.services {
        let Some(container) = service.container_name.as_deref() else {
            continue;
        };
        let path = format!("services.{name}.container_name");
        let valid = container.len() >= 2
            && container.starts_with(|c: char| c.is_ascii_alphanumeric())
            && container
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            return Err(conv.error(
                conv.position(&path),
                &path,
                format!("invalid container name `{container}` (letters, digits, `_`, `.` and `-`, starting with a letter or digit)"),
            ));
        }
        if let Some(other) = owners.insert(container, name) {
            return Err(conv.error(
                conv.position(&path),
                &path,
                format!("container name `{container}` is already used by service `{other}`"),
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
        .filter(|m| m.kind == crate::compose::model::MountKind::Volume)
        .filter_map(|m| m.source.clone())
        .collect();
    project.volumes.retain(|k, _| used_volumes.contains(k));
    let used_secrets: std::collections::HashSet<&String> = project
        .services
        .values()
        .flat_map(|s| {
            s.secrets
                .iter()
                .chain(s.build.iter().flat_map(|b| b.secrets.iter()))
        })
        .map(|m| &m.source)
        .collect();
    let used_secrets: std::collections::HashSet<String> =
        used_secrets.into_iter().cloned().collect();
    project.secrets.retain(|k, _| used_secrets.contains(k));
    let used_configs: std::collections::HashSet<String> = project
        .services
        .values()
        .flat_map(|s| s.configs.iter().map(|m| m.source.clone()))
        .collect();
    project.configs.retain(|k, _| used_configs.contains(k));
}

pub(super) fn resource_name(
    conv: &mut Converter<'_>,
    map: &crate::compose::yaml::Map,
    key: &str,
    path: &str,
    project: &str,
) -> Result<(String, bool), SpecError> {
    let mut name = None;
    let mut external = false;
    if let Some(entry) = map.get("name") {
        // An empty name (an unset variable) means the default name.
        name = conv.opt_string(&entry.node, &format!("{path}.name"))?;
    }
    if let Some(entry) = map.get("external") {
        let p = format!("{path}.external");
        match &entry.node.value {
            Value::Map(ext) => {
                external = true;
                if let Some(e) = ext.get("name") {
                    conv.warnings.push(format!(
                        "{path}: `external.name` is deprecated; set `name` and `external: true`"
                    ));
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
        let empty = crate::compose::yaml::Map::new();
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
                "enable_ipv4" => network.enable_ipv4 = Some(conv.boolean(&e.node, &p)?),
                "ipam" => {
                    conv.map(&e.node, &p)?;
                    let mut ipam = e.node.to_json();
                    // docker compose's model has no ipam options: it drops them.
                    let dropped = ipam
                        .as_object_mut()
                        .and_then(|m| m.remove("options"))
                        .is_some();
                    if dropped {
                        conv.warnings.push(format!(
                            "networks.{key}.ipam.options is ignored, as docker compose ignores it"
                        ));
                    }
                    network.ipam = Some(ipam);
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
        let empty = crate::compose::yaml::Map::new();
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
        // A local volume with `o: bind` is a bind mount of `device`: a
        // relative device resolves against the project directory.
        if volume.driver.as_deref() == Some("local")
            && volume.driver_opts.get("o").map(String::as_str) == Some("bind")
        {
            if let Some(device) = volume.driver_opts.get_mut("device") {
                *device = conv.host_path(device);
            }
        }
        out.insert(key.clone(), volume);
    }
    Ok(out)
}
