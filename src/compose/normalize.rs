//! Normalization, on the decoded project, as docker compose normalizes: the
//! dependencies `links`, namespaces and `volumes_from` imply; the implicit
//! `default` network; `scale` copied into `deploy.replicas`; the split by
//! active profiles; env and label files read into `environment` and
//! `labels` (for enabled services only); networks, volumes, secrets and
//! configs no enabled service uses dropped.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::decode::Decoder;
use super::dotenv;
use super::error::{Pos, SpecError};
use super::model::{Dependency, EnvFile, MountKind, Network, Project, Service, ServiceNetwork};

/// Normalizes `project` with `profiles` active.
pub(crate) fn normalize(
    d: &mut Decoder<'_>,
    project: &mut Project,
    profiles: &[String],
) -> Result<(), SpecError> {
    for service in project.services.values_mut() {
        add_implicit_dependencies(service);
        attach_default_network(service);
        copy_scale(service);
    }
    add_default_network(project);
    let services = std::mem::take(&mut project.services);
    let (mut enabled, disabled) = split_by_profiles(services, profiles);
    for service in enabled.values_mut() {
        d.resolve_files(service)?;
    }
    project.services = enabled;
    project.disabled_services = disabled;
    prune_unused(project);
    Ok(())
}

/// Compose copies `scale` into `deploy.replicas` when there is a `deploy`.
fn copy_scale(service: &mut Service) {
    let scale = service.scale.and_then(|s| u32::try_from(s).ok());
    if let (Some(scale), Some(deploy)) = (scale, service.deploy.as_mut()) {
        deploy.replicas.get_or_insert(scale);
    }
}

/// The project's `default` network, when a service joins it and the spec
/// does not define it.
fn add_default_network(project: &mut Project) {
    let uses_default = project
        .services
        .values()
        .any(|s| s.networks.contains_key("default"));
    if uses_default && !project.networks.contains_key("default") {
        project.networks.insert(
            "default".into(),
            Network {
                name: format!("{}_default", project.name),
                ..Network::default()
            },
        );
    }
}

/// Implicit dependencies, as compose adds them: `links` and a
/// `service:X` namespace (`network_mode`, `ipc`, `pid`, `uts`, `cgroup`)
/// make the service depend on X (restarting with it); `volumes_from: [X]`
/// makes it depend on X. Explicit `depends_on` entries win.
fn add_implicit_dependencies(service: &mut Service) {
    let mut implied: Vec<(String, bool)> = Vec::new();
    for link in &service.links {
        let target = match link.split(':').collect::<Vec<_>>().as_slice() {
            [name, _alias] => name.to_string(),
            _ => link.clone(),
        };
        implied.push((target, true));
    }
    let namespaces = [
        &service.network_mode,
        &service.ipc,
        &service.pid,
        &service.uts,
        &service.cgroup,
    ];
    for namespace in namespaces.into_iter().flatten() {
        if let Some(other) = namespace.strip_prefix("service:") {
            implied.push((other.to_string(), true));
        }
    }
    for from in &service.volumes_from {
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
pub(crate) fn is_provider(service: &Service) -> bool {
    service.provider.is_some()
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
        .filter(|m| m.kind == MountKind::Volume)
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

/// Reading a service's env and label files into its `environment` and
/// `labels` (errors point at the `env_file`/`label_file` entry, or at the
/// file's line).
impl Decoder<'_> {
    /// Reads the `env_file`s and `label_file`s of an enabled service (compose
    /// reads none of a disabled one's): file values come first, `environment`
    /// and `labels` override them.
    fn resolve_files(&mut self, service: &mut Service) -> Result<(), SpecError> {
        let env_files = std::mem::take(&mut service.env_file);
        self.resolve_env_files(service, env_files)?;
        let label_files = std::mem::take(&mut service.label_file);
        self.resolve_label_files(service, label_files)
    }

    fn resolve_env_files(
        &mut self,
        service: &mut Service,
        env_files: Vec<EnvFile>,
    ) -> Result<(), SpecError> {
        if env_files.is_empty() {
            return Ok(());
        }
        let mut lookup: IndexMap<String, String> = service
            .environment
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        for (k, v) in self.env {
            lookup.insert(k.clone(), v.clone());
        }
        let mut from_files: IndexMap<String, Option<String>> = IndexMap::new();
        for file in env_files {
            let text = match std::fs::read_to_string(&file.path) {
                Ok(text) => text,
                Err(_) if !file.required => continue,
                Err(e) => {
                    return Err(self.error(
                        file.pos,
                        &format!("services.{}.env_file", service.name),
                        format!("cannot read env file {}: {e}", file.path.display()),
                    ))
                }
            };
            let vars = if file.is_raw() {
                dotenv::parse_raw(&text, &lookup)
            } else {
                let defined = file_vars(&from_files);
                dotenv::parse_into(&text, &lookup, defined).map_err(|(line, msg)| SpecError {
                    message: msg,
                    file: Some(file.path.display().to_string()),
                    line: Some(line),
                    column: None,
                    snippet: None,
                })?
            };
            for (k, v) in vars {
                from_files.insert(k, Some(v));
            }
        }
        for (k, v) in std::mem::take(&mut service.environment) {
            from_files.insert(k, v);
        }
        service.environment = from_files;
        Ok(())
    }

    fn resolve_label_files(
        &mut self,
        service: &mut Service,
        label_files: Vec<(PathBuf, Pos)>,
    ) -> Result<(), SpecError> {
        if label_files.is_empty() {
            return Ok(());
        }
        let mut labels: IndexMap<String, String> = IndexMap::new();
        for (file, pos) in label_files {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                self.error(
                    pos,
                    &format!("services.{}.label_file", service.name),
                    format!("cannot read label file {}: {e}", file.display()),
                )
            })?;
            let lookup = labels.clone();
            let vars = dotenv::parse(&text, &lookup).map_err(|(line, msg)| SpecError {
                message: msg,
                file: Some(file.display().to_string()),
                line: Some(line),
                column: None,
                snippet: None,
            })?;
            labels.extend(vars);
        }
        for (k, v) in std::mem::take(&mut service.labels) {
            labels.insert(k, v);
        }
        service.labels = labels;
        Ok(())
    }
}

/// Variables the service's earlier env files defined (visible to later ones).
fn file_vars(from_files: &IndexMap<String, Option<String>>) -> IndexMap<String, String> {
    from_files
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect()
}
