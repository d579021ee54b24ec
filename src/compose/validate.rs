//! Validation, on the normalized project: references to undefined
//! services, networks, volumes, secrets, configs and models; compose's
//! consistency checks within a service; container names; dependency
//! cycles; and the warning about keys the engine does not apply. Errors
//! point at the key they are about.

use indexmap::IndexMap;

use super::decode::Decoder;
use super::error::SpecError;
use super::model::{MountKind, Project, Service, NOT_APPLIED};
use super::normalize::is_provider;

/// Checks `project`; warnings go to the decoder's.
pub(crate) fn validate(d: &mut Decoder<'_>, project: &Project) -> Result<(), SpecError> {
    warn_not_applied(d, project);
    check_references(d, project)?;
    check_cycles(d, project)
}

/// One warning per compose key the engine does not apply yet, naming the
/// services that use it.
fn warn_not_applied(d: &mut Decoder<'_>, project: &Project) {
    let mut users: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for (name, service) in &project.services {
        let printed = serde_json::to_value(service).unwrap_or_default();
        for key in NOT_APPLIED {
            let pointer = format!("/{}", key.replace('.', "/"));
            if printed.pointer(&pointer).is_some() {
                users.entry(key).or_default().push(name);
            }
        }
    }
    for (key, services) in users {
        d.warnings.push(format!(
            "`{key}` ({}) is kept in the model but not applied to containers yet",
            services.join(", ")
        ));
    }
}

fn check_references(d: &Decoder<'_>, project: &Project) -> Result<(), SpecError> {
    for (name, service) in &project.services {
        let at = |path: String| d.position(&path);
        if service.image.is_none() && service.build.is_none() && !is_provider(service) {
            return Err(d.error(
                at(format!("services.{name}")),
                &format!("services.{name}"),
                "a service needs an `image` or a `build`",
            ));
        }
        if service.network_mode.is_some()
            && !(service.networks.len() == 1 && service.networks.contains_key("default"))
            && !service.networks.is_empty()
        {
            return Err(d.error(
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
                return Err(d.error(
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
                return Err(d.error(
                    at(path.clone()),
                    &path,
                    format!(
                        "service `{name}` depends on `{dep}`, which is disabled; enable it with --profile {}",
                        disabled.profiles.join(" or --profile ")
                    ),
                ));
            }
            return Err(d.error(
                at(path.clone()),
                &path,
                format!("service `{name}` depends on undefined service `{dep}`"),
            ));
        }
        for network in service.networks.keys() {
            if !project.networks.contains_key(network) {
                let path = format!("services.{name}.networks.{network}");
                return Err(d.error(
                    at(path.clone()),
                    &path,
                    format!(
                        "undefined network `{network}` (declare it under the top-level `networks`)"
                    ),
                ));
            }
        }
        for (i, mount) in service.volumes.iter().enumerate() {
            if mount.kind != MountKind::Volume {
                continue;
            }
            let Some(source) = &mount.source else {
                continue;
            };
            if !project.volumes.contains_key(source) {
                let path = format!("services.{name}.volumes[{i}]");
                return Err(d.error(
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
                    return Err(d.error(
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
        check_service_consistency(d, project, name, service)?;
    }
    check_container_names(d, project)
}

/// Compose's consistency checks on one service beyond references.
fn check_service_consistency(
    d: &Decoder<'_>,
    project: &Project,
    name: &str,
    service: &Service,
) -> Result<(), SpecError> {
    let fail = |key: &str, message: String| -> Result<(), SpecError> {
        let path = format!("services.{name}.{key}");
        let pos = d
            .positions
            .get(&path)
            .copied()
            .unwrap_or_else(|| d.position(&format!("services.{name}")));
        Err(d.error(pos, &path, message))
    };
    if let Some(scale) = service.scale {
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
        if build.dockerfile_inline.is_some() && build.dockerfile.is_some() {
            return fail(
                "build",
                "`dockerfile` and `dockerfile_inline` cannot both be set".into(),
            );
        }
        {
            for (context, value) in &build.additional_contexts {
                let Some(target) = value.strip_prefix("service:") else {
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
        if let Some(platform) = &service.platform {
            if !build.platforms.is_empty() && !build.platforms.contains(platform) {
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
    // As compose: once `limits` (or `reservations`) is there, a key left
    // out of it counts as zero and differs from a service-level value.
    if let (Some(cpus), Some(limits)) = (service.cpus, limits) {
        if (cpus - limits.cpus.unwrap_or(0.0)).abs() > 1e-6 {
            return fail(
                "cpus",
                "`cpus` and `deploy.resources.limits.cpus` cannot have different values".into(),
            );
        }
    }
    let bytes = |value: Option<i64>| value.and_then(|v| u64::try_from(v).ok());
    if let (Some(memory), Some(limits)) = (bytes(service.mem_limit), limits) {
        if memory != limits.memory.unwrap_or(0) {
            return fail(
                "mem_limit",
                "`mem_limit` and `deploy.resources.limits.memory` cannot have different values"
                    .into(),
            );
        }
    }
    if let (Some(memory), Some(reservations)) = (bytes(service.mem_reservation), reservations) {
        if memory != reservations.memory.unwrap_or(0) {
            return fail(
                "mem_reservation",
                "`mem_reservation` and `deploy.resources.reservations.memory` cannot have different values".into(),
            );
        }
    }
    if let (Some(pids), Some(limits)) = (service.pids_limit, limits) {
        if pids != limits.pids.unwrap_or(0) {
            return fail(
                "pids_limit",
                "`pids_limit` and `deploy.resources.limits.pids` cannot have different values"
                    .into(),
            );
        }
    }
    let watch = service.develop.iter().flat_map(|d| &d.watch);
    for rule in watch {
        if rule.target.is_none() && !matches!(rule.action.as_str(), "rebuild" | "restart") {
            return fail(
                "develop",
                format!("watch: a `{}` rule needs a `target`", rule.action),
            );
        }
    }
    let mut mounted: std::collections::HashSet<String> = std::collections::HashSet::new();
    for entry in &service.tmpfs {
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
    {
        for model in service.models.keys() {
            if !d.models.contains(model) {
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
fn check_container_names(d: &Decoder<'_>, project: &Project) -> Result<(), SpecError> {
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
            return Err(d.error(
                d.position(&path),
                &path,
                format!("invalid container name `{container}` (letters, digits, `_`, `.` and `-`, starting with a letter or digit)"),
            ));
        }
        if let Some(other) = owners.insert(container, name) {
            return Err(d.error(
                d.position(&path),
                &path,
                format!("container name `{container}` is already used by service `{other}`"),
            ));
        }
    }
    Ok(())
}

/// Rejects `depends_on` cycles among enabled services, naming the cycle.
fn check_cycles(d: &Decoder<'_>, project: &Project) -> Result<(), SpecError> {
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
            let Some(&(target, dep)) = edges[current].get(*next) else {
                marks[current] = Mark::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match marks[target] {
                Mark::Done => {}
                Mark::New => {
                    marks[target] = Mark::Active;
                    stack.push((target, 0));
                }
                Mark::Active => {
                    let from = stack.iter().position(|(s, _)| *s == target).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[from..]
                        .iter()
                        .map(|(s, _)| names[*s].as_str())
                        .collect();
                    cycle.push(names[target].as_str());
                    let last = names[current];
                    let path = format!("services.{last}.depends_on.{dep}");
                    return Err(d.error(
                        d.position(&path),
                        "",
                        format!("dependency cycle: {}", cycle.join(" -> ")),
                    ));
                }
            }
        }
    }
    Ok(())
}
