//! Kernel, namespace and legacy-networking options of a container:
//! `sysctls`, `security_opt`, `tmpfs`, `dns_search`, `dns_opt`,
//! `group_add`, `runtime`, `storage_opt`, `userns_mode`, `pid`, `ipc`,
//! `uts`, `cgroup`, `cgroup_parent`, `links`, `external_links` and
//! `volumes_from`, translated as docker compose does.
//!
//! References to another service of the project (`pid: service:db`,
//! `ipc: service:db`, `volumes_from: [db:ro]`, `links: [db:database]`)
//! name that service's containers (`container:demo-db-1`): names, not ids,
//! so a recreated target keeps the reference valid and the config hash
//! stable. Compose resolves them to the id of the target's first
//! container; the engine resolves a name the same way.
//!
//! `security_opt` follows compose: `systempaths=unconfined` clears the
//! masked and read-only paths, `seccomp=FILE` sends the profile's compacted
//! JSON (FILE relative to the project directory).

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{HostConfig, HostConfigCgroupnsModeEnum};
use indexmap::IndexMap;

use super::{container_name, network_mode_service};
use crate::compose::model::{Project, Service};

/// Sets every option of `host` the service asks for.
pub(crate) fn apply(project: &Project, service: &Service, host: &mut HostConfig) {
    host.sysctls = non_empty_map(&service.sysctls);
    host.storage_opt = non_empty_map(&service.storage_opt);
    host.tmpfs = Some(tmpfs(service)).filter(|t| !t.is_empty());
    host.dns_search = non_empty(&service.dns_search);
    host.dns_options = non_empty(&service.dns_opt);
    host.group_add = non_empty(&service.group_add);
    host.runtime = service.runtime.clone();
    host.userns_mode = service.userns_mode.clone();
    host.uts_mode = service.uts.clone();
    host.pid_mode = service.pid.as_deref().map(|m| namespace(project, m));
    host.ipc_mode = service.ipc.as_deref().map(|m| namespace(project, m));
    host.cgroupns_mode = service.cgroup.as_deref().and_then(|c| match c {
        "host" => Some(HostConfigCgroupnsModeEnum::HOST),
        "private" => Some(HostConfigCgroupnsModeEnum::PRIVATE),
        _ => None,
    });
    host.cgroup_parent = service.cgroup_parent.clone();
    host.volumes_from = Some(volumes_from(project, service)).filter(|v| !v.is_empty());
    host.links = Some(links(project, service)).filter(|l| !l.is_empty());
    apply_security_opt(project, service, host);
}

/// `security_opt`, with `systempaths=unconfined` clearing the masked and
/// read-only paths.
fn apply_security_opt(project: &Project, service: &Service, host: &mut HostConfig) {
    let options = &service.security_opt;
    if options.is_empty() {
        return;
    }
    // An unreadable profile is reported by `super::check_service`; the
    // request then carries the options as written.
    let (parsed, unconfined) =
        security_opts(&project.working_dir, options).unwrap_or_else(|_| (options.clone(), false));
    host.security_opt = Some(parsed).filter(|p| !p.is_empty());
    if unconfined {
        host.masked_paths = Some(Vec::new());
        host.readonly_paths = Some(Vec::new());
    }
}

fn non_empty(items: &[String]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| items.to_vec())
}

fn non_empty_map(map: &IndexMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then(|| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// `service:X` → `container:<X's first container>`; other modes as written.
pub(crate) fn namespace(project: &Project, mode: &str) -> String {
    match mode.strip_prefix("service:") {
        Some(other) => format!("container:{}", first_container(project, other)),
        None => mode.to_string(),
    }
}

/// The name of the first container of service `name`.
pub(crate) fn first_container(project: &Project, name: &str) -> String {
    project
        .services
        .get(name)
        .or_else(|| project.disabled_services.get(name))
        .map(|s| container_name(project, s, 1))
        .unwrap_or_else(|| format!("{}-{name}-1", project.name))
}

/// Service-level `tmpfs`: `PATH[:OPTIONS]` entries.
fn tmpfs(service: &Service) -> HashMap<String, String> {
    service
        .tmpfs
        .iter()
        .map(|entry| match entry.split_once(':') {
            Some((path, options)) => (path.to_string(), options.to_string()),
            None => (entry.clone(), String::new()),
        })
        .collect()
}

/// `volumes_from`: `SERVICE[:MODE]`, `service:SERVICE[:MODE]` or
/// `container:NAME[:MODE]` → `CONTAINER[:MODE]`.
fn volumes_from(project: &Project, service: &Service) -> Vec<String> {
    service
        .volumes_from
        .iter()
        .map(|entry| {
            let parts: Vec<&str> = entry.split(':').collect();
            let (container, mode) = match parts.as_slice() {
                ["container", name, rest @ ..] => (name.to_string(), rest.first().copied()),
                ["service", name, rest @ ..] => {
                    (first_container(project, name), rest.first().copied())
                }
                [name, rest @ ..] if project.services.contains_key(*name) => {
                    (first_container(project, name), rest.first().copied())
                }
                [name, rest @ ..] => (name.to_string(), rest.first().copied()),
                [] => (entry.to_string(), None),
            };
            match mode {
                Some(mode) if !mode.is_empty() => format!("{container}:{mode}"),
                _ => container,
            }
        })
        .collect()
}

/// Legacy links, `CONTAINER:ALIAS`: one per container of each linked
/// service (`links: [db]` or `[db:alias]`), then `external_links` as
/// written (`NAME` meaning `NAME:NAME`). On a user-defined network the
/// engine turns them into aliases only the linking container resolves.
/// These are the links the config hash covers; a replica's request carries
/// [`replica_links`].
pub(crate) fn links(project: &Project, service: &Service) -> Vec<String> {
    links_of(project, service, None)
}

/// The links of replica `number`, as docker compose sends them: after each
/// `CONTAINER:ALIAS` of a linked service come `CONTAINER:SERVICE-N` and
/// `CONTAINER:PROJECT-SERVICE-N`, N being the linking replica's number
/// (compose keeps compose v1's naming), so replica 2 of `app` resolves
/// `db-2` to each of `db`'s containers.
pub(crate) fn replica_links(project: &Project, service: &Service, number: u32) -> Vec<String> {
    links_of(project, service, Some(number))
}

fn links_of(project: &Project, service: &Service, replica: Option<u32>) -> Vec<String> {
    let mut links = Vec::new();
    for link in &service.links {
        let (target, alias) = link.split_once(':').unwrap_or((link, link));
        let Some(linked) = project.services.get(target) else {
            continue;
        };
        for number in 1..=linked.replicas().max(1) {
            let container = container_name(project, linked, number);
            links.push(format!("{container}:{alias}"));
            if let Some(n) = replica {
                links.push(format!("{container}:{target}-{n}"));
                links.push(format!("{container}:{}-{target}-{n}", project.name));
            }
        }
    }
    for link in &service.external_links {
        let (container, alias) = link.split_once(':').unwrap_or((link, link));
        links.push(format!("{container}:{alias}"));
    }
    links
}

/// The services whose containers must exist before this service's are
/// created: the targets of `network_mode`/`pid`/`ipc: service:X`,
/// `volumes_from` and `links`.
pub fn referenced_services(project: &Project, service: &Service) -> Vec<String> {
    let links = service
        .links
        .iter()
        .map(|link| link.split(':').next().unwrap_or_default());
    services_named(project, service, bound_names(service).chain(links))
}

/// The services this service's container is bound to by id — the engine
/// resolves `network_mode`/`pid`/`ipc: service:X` and `volumes_from` to the
/// container's id at create, so a new container there means a new one here.
pub fn bound_services(project: &Project, service: &Service) -> Vec<String> {
    services_named(project, service, bound_names(service))
}

/// The service names `network_mode`/`pid`/`ipc: service:X` and
/// `volumes_from` give (`container:NAME` entries name no service).
fn bound_names(service: &Service) -> impl Iterator<Item = &str> {
    let namespaces = [&service.pid, &service.ipc]
        .into_iter()
        .flatten()
        .filter_map(|mode| mode.strip_prefix("service:"));
    let modes = network_mode_service(service).into_iter().chain(namespaces);
    let volumes = service.volumes_from.iter().filter_map(|entry| {
        let mut parts = entry.split(':');
        match parts.next() {
            Some("container") | None => None,
            Some("service") => parts.next(),
            Some(name) => Some(name),
        }
    });
    modes.chain(volumes)
}

/// `names` that are other services of `project`, each once, in order.
fn services_named<'a>(
    project: &Project,
    service: &Service,
    names: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for name in names {
        if name != service.name
            && project.services.contains_key(name)
            && !found.iter().any(|n| n == name)
        {
            found.push(name.to_string());
        }
    }
    found
}

/// Compose's parsing of `security_opt`: returns the options to send and
/// whether `systempaths=unconfined` was asked; an error names an invalid
/// option or an unreadable seccomp profile.
pub(crate) fn security_opts(
    project_dir: &Path,
    options: &[String],
) -> Result<(Vec<String>, bool), String> {
    let mut unconfined = false;
    let mut parsed = Vec::new();
    for option in options {
        if option == "systempaths=unconfined" {
            unconfined = true;
            continue;
        }
        let (key, value) = match option.split_once('=') {
            Some(kv) => kv,
            None if option == "no-new-privileges" => (option.as_str(), ""),
            None => option
                .split_once(':')
                .ok_or_else(|| format!("invalid security_opt `{option}`"))?,
        };
        if key == "seccomp" && value != "unconfined" && value != "builtin" {
            parsed.push(format!("seccomp={}", seccomp_profile(project_dir, value)?));
        } else {
            parsed.push(option.clone());
        }
    }
    Ok((parsed, unconfined))
}

/// A seccomp profile file's JSON, compacted.
fn seccomp_profile(project_dir: &Path, file: &str) -> Result<String, String> {
    let path = project_dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "security_opt: cannot read the seccomp profile {}: {e}",
            path.display()
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "security_opt: the seccomp profile {} is not JSON: {e}",
            path.display()
        )
    })?;
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn project(services: Vec<Service>) -> Project {
        Project {
            name: "demo".into(),
            working_dir: "/srv/demo".into(),
            services: services
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect::<IndexMap<_, _>>(),
            ..Default::default()
        }
    }

    fn svc(name: &str) -> Service {
        Service {
            name: name.into(),
            ..Default::default()
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn host_of(p: &Project, name: &str) -> HostConfig {
        let mut host = HostConfig::default();
        apply(p, &p.services[name], &mut host);
        host
    }

    #[test]
    fn kernel_and_dns_options() {
        let mut web = svc("web");
        web.sysctls = IndexMap::from([("net.core.somaxconn".into(), "1024".into())]);
        web.storage_opt = IndexMap::from([("size".into(), "1G".into())]);
        web.tmpfs = strings(&["/run", "/tmp:size=65536,mode=1777"]);
        web.dns_search = strings(&["example.com"]);
        web.dns_opt = strings(&["ndots:2"]);
        web.group_add = strings(&["audio", "1000"]);
        web.runtime = Some("runc".into());
        web.userns_mode = Some("host".into());
        web.uts = Some("host".into());
        web.cgroup = Some("private".into());
        web.cgroup_parent = Some("/torq".into());
        web.security_opt = strings(&[
            "no-new-privileges",
            "label:disable",
            "systempaths=unconfined",
        ]);
        let p = project(vec![web]);
        let host = host_of(&p, "web");
        assert_eq!(host.sysctls.unwrap()["net.core.somaxconn"], "1024");
        assert_eq!(host.storage_opt.unwrap()["size"], "1G");
        let tmpfs = host.tmpfs.unwrap();
        assert_eq!(tmpfs["/run"], "");
        assert_eq!(tmpfs["/tmp"], "size=65536,mode=1777");
        assert_eq!(host.dns_search, Some(vec!["example.com".to_string()]));
        assert_eq!(host.dns_options, Some(vec!["ndots:2".to_string()]));
        assert_eq!(
            host.group_add,
            Some(vec!["audio".to_string(), "1000".to_string()])
        );
        assert_eq!(host.runtime.as_deref(), Some("runc"));
        assert_eq!(host.userns_mode.as_deref(), Some("host"));
        assert_eq!(host.uts_mode.as_deref(), Some("host"));
        assert_eq!(
            host.cgroupns_mode,
            Some(HostConfigCgroupnsModeEnum::PRIVATE)
        );
        assert_eq!(host.cgroup_parent.as_deref(), Some("/torq"));
        assert_eq!(
            host.security_opt,
            Some(vec![
                "no-new-privileges".to_string(),
                "label:disable".to_string()
            ])
        );
        assert_eq!(host.masked_paths, Some(vec![]));
        assert_eq!(host.readonly_paths, Some(vec![]));
    }

    #[test]
    fn service_references_name_containers() {
        let mut db = svc("db");
        db.deploy = Some(crate::compose::model::Deploy {
            replicas: Some(2),
            ..Default::default()
        });
        let mut web = svc("web");
        web.pid = Some("service:db".into());
        web.ipc = Some("container:other".into());
        web.volumes_from = strings(&["db:ro", "container:data:rw", "service:db", "loose"]);
        web.links = strings(&["db:database"]);
        web.external_links = strings(&["redis", "cache:c"]);
        let p = project(vec![db, web]);
        let host = host_of(&p, "web");
        assert_eq!(host.pid_mode.as_deref(), Some("container:demo-db-1"));
        assert_eq!(host.ipc_mode.as_deref(), Some("container:other"));
        assert_eq!(
            host.volumes_from.unwrap(),
            vec!["demo-db-1:ro", "data:rw", "demo-db-1", "loose"]
        );
        assert_eq!(
            host.links.unwrap(),
            vec![
                "demo-db-1:database",
                "demo-db-2:database",
                "redis:redis",
                "cache:c"
            ]
        );
        assert_eq!(referenced_services(&p, &p.services["web"]), vec!["db"]);
    }

    /// Compose names each linked container also `SERVICE-N` and
    /// `PROJECT-SERVICE-N`, N the linking replica's number.
    #[test]
    fn replica_links_add_composes_numbered_names() {
        let mut db = svc("db");
        db.deploy = Some(crate::compose::model::Deploy {
            replicas: Some(2),
            ..Default::default()
        });
        let mut web = svc("web");
        web.links = strings(&["db:database"]);
        web.external_links = strings(&["redis"]);
        let p = project(vec![db, web]);
        assert_eq!(
            replica_links(&p, &p.services["web"], 3),
            vec![
                "demo-db-1:database",
                "demo-db-1:db-3",
                "demo-db-1:demo-db-3",
                "demo-db-2:database",
                "demo-db-2:db-3",
                "demo-db-2:demo-db-3",
                "redis:redis"
            ]
        );
    }

    #[test]
    fn seccomp_profiles_are_read_and_compacted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("profile.json"),
            "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n",
        )
        .unwrap();
        let (parsed, unconfined) = security_opts(
            dir.path(),
            &["seccomp:profile.json".into(), "seccomp=unconfined".into()],
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#.to_string(),
                "seccomp=unconfined".to_string()
            ]
        );
        assert!(!unconfined);
        let err = security_opts(dir.path(), &["seccomp=missing.json".into()]).unwrap_err();
        assert!(err.contains("missing.json"), "{err}");
        let err = security_opts(dir.path(), &["bogus".into()]).unwrap_err();
        assert_eq!(err, "invalid security_opt `bogus`");
    }
}
