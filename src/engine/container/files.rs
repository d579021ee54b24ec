//! Secrets and configs inside a container, as docker compose (without a
//! swarm) provides them:
//!
//! - from a `file`: a read-only bind mount of that file at the target —
//!   secrets at `/run/secrets/<source>` (a relative target lies under
//!   `/run/secrets/`), configs at `/<source>` (a relative target under `/`).
//!   A volume already mounted at the same target wins. `uid`, `gid` and
//!   `mode` cannot apply to a bind mount: a warning says they are ignored.
//! - from `environment` (or a config's inline `content`): a file copied
//!   into the created container before it starts (a tar upload), mode
//!   `0444` unless `mode` says otherwise, owned by `uid`/`gid`.
//! - `external` ones, or ones with a `driver`/`template_driver`, need a
//!   swarm (`docker stack deploy`): they are left out, with a warning.

use std::collections::HashSet;

use bollard::models::{Mount as ApiMount, MountType};
use bollard::query_parameters::UploadToContainerOptions;

use crate::compose::model::{FileMount, FileObject, Project, Service};
use crate::engine::error::ApiError;
use crate::engine::Engine;

/// A file copied into a container after it is created.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InjectedFile {
    /// Absolute path in the container.
    pub target: String,
    pub content: String,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    /// `uid` or `gid` given: the engine keeps the archive's owner.
    pub keep_owner: bool,
}

/// Which kind of file object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret,
    Config,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Config => "config",
        }
    }

    /// Where the object appears in the container.
    fn target(self, mount: &FileMount) -> String {
        let (dir, default) = match self {
            Kind::Secret => ("/run/secrets/", &mount.source),
            Kind::Config => ("/", &mount.source),
        };
        match mount.target.as_deref() {
            Some(t) if t.starts_with('/') || is_windows_absolute(t) => t.to_string(),
            Some(t) if !t.is_empty() => format!("{dir}{t}"),
            _ => format!("{dir}{default}"),
        }
    }
}

fn is_windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/')
}

/// How a service's secrets and configs reach its containers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilePlan {
    /// Read-only bind mounts of file-sourced objects.
    pub mounts: Vec<ApiMount>,
    /// Environment- and content-sourced objects, copied in after create.
    pub injected: Vec<InjectedFile>,
    /// Things the user should know (ignored options, swarm-only objects).
    pub warnings: Vec<String>,
    /// Things that make the service impossible to create as specified.
    pub errors: Vec<String>,
}

/// The secrets and configs of `service`, in its spec order (secrets first).
pub fn plan(project: &Project, service: &Service) -> FilePlan {
    let mut plan = FilePlan::default();
    let mut targets: HashSet<String> = service.volumes.iter().map(|m| m.target.clone()).collect();
    let objects = service
        .secrets
        .iter()
        .map(|m| (Kind::Secret, m, project.secrets.get(&m.source)))
        .chain(
            service
                .configs
                .iter()
                .map(|m| (Kind::Config, m, project.configs.get(&m.source))),
        );
    for (kind, mount, object) in objects {
        let word = kind.word();
        let Some(object) = object else {
            plan.errors.push(format!(
                "service {}: {word} `{}` is not defined at the top level",
                service.name, mount.source
            ));
            continue;
        };
        if let Some(reason) = swarm_only(object) {
            plan.warnings.push(format!(
                "service {}: {word} `{}` is {reason}, which needs a swarm (`docker stack deploy`); torq up does not provide it",
                service.name, mount.source
            ));
            continue;
        }
        let target = kind.target(mount);
        if !targets.insert(target.clone()) {
            continue;
        }
        match content(object) {
            Content::File(path) => {
                if mount.uid.is_some() || mount.gid.is_some() || mount.mode.is_some() {
                    plan.warnings.push(format!(
                        "service {}: {word} `{}` comes from a file, which is bind-mounted: its `uid`, `gid` and `mode` are ignored",
                        service.name, mount.source
                    ));
                }
                if !std::path::Path::new(&path).exists() {
                    plan.warnings.push(format!(
                        "service {}: {word} file {path} does not exist",
                        service.name
                    ));
                }
                plan.mounts.push(ApiMount {
                    target: Some(target),
                    source: Some(path),
                    typ: Some(MountType::BIND),
                    read_only: Some(true),
                    ..Default::default()
                });
            }
            Content::Text(text) => {
                if service.read_only {
                    plan.errors.push(format!(
                        "cannot create {word} `{}` in read-only service {}: `file` is the sole supported option",
                        mount.source, service.name
                    ));
                    continue;
                }
                match injected(mount, target, text) {
                    Ok(file) => plan.injected.push(file),
                    Err(e) => plan.errors.push(format!(
                        "service {}: {word} `{}`: {e}",
                        service.name, mount.source
                    )),
                }
            }
            Content::Unset(variable) => plan.errors.push(format!(
                "environment variable {variable} required by {word} `{}` (service {}) is not set",
                mount.source, service.name
            )),
            Content::Nothing => {}
        }
    }
    plan
}

/// Why an object can only be provided by a swarm, if it is such an object.
fn swarm_only(object: &FileObject) -> Option<String> {
    if object.external {
        Some("external".into())
    } else if let Some(driver) = &object.driver {
        Some(format!("provided by driver `{driver}`"))
    } else {
        object
            .template_driver
            .as_ref()
            .map(|d| format!("rendered by template driver `{d}`"))
    }
}

enum Content {
    File(String),
    Text(String),
    Unset(String),
    Nothing,
}

fn content(object: &FileObject) -> Content {
    if let Some(file) = &object.file {
        Content::File(file.to_string_lossy().into_owned())
    } else if let Some(text) = &object.content {
        Content::Text(text.clone())
    } else if let Some(variable) = &object.environment {
        match &object.environment_value {
            Some(value) => Content::Text(value.clone()),
            None => Content::Unset(variable.clone()),
        }
    } else {
        Content::Nothing
    }
}

fn injected(mount: &FileMount, target: String, content: String) -> Result<InjectedFile, String> {
    let id = |value: &Option<String>, what: &str| -> Result<u64, String> {
        match value {
            None => Ok(0),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("{what} `{v}` is not a number")),
        }
    };
    Ok(InjectedFile {
        target,
        content,
        uid: id(&mount.uid, "uid")?,
        gid: id(&mount.gid, "gid")?,
        mode: mount.mode.unwrap_or(0o444),
        keep_owner: mount.uid.is_some() || mount.gid.is_some(),
    })
}

/// Copies `files` into container `id` (created, not yet started).
pub async fn inject(engine: &Engine, id: &str, files: &[InjectedFile]) -> Result<(), ApiError> {
    for keep_owner in [false, true] {
        let batch: Vec<&InjectedFile> = files
            .iter()
            .filter(|f| f.keep_owner == keep_owner)
            .collect();
        if batch.is_empty() {
            continue;
        }
        let archive = tar_of(&batch).map_err(|e| ApiError::Engine {
            op: format!("copy secrets and configs into container {id}"),
            message: e.to_string(),
            status: None,
        })?;
        let options = UploadToContainerOptions {
            path: "/".into(),
            copy_uidgid: keep_owner.then(|| "true".to_string()),
            ..Default::default()
        };
        engine
            .request(
                format!("copy secrets and configs into container {id}"),
                engine.docker().upload_to_container(
                    id,
                    Some(options),
                    bollard::body_full(archive.into()),
                ),
            )
            .await?;
    }
    Ok(())
}

/// A tar archive holding `files` at their targets (relative to `/`).
pub fn tar_of(files: &[&InjectedFile]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.content.len() as u64);
        header.set_mode(file.mode);
        header.set_uid(file.uid);
        header.set_gid(file.gid);
        header.set_mtime(now);
        header.set_entry_type(tar::EntryType::Regular);
        let path = file.target.trim_start_matches('/');
        builder.append_data(&mut header, path, file.content.as_bytes())?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use std::io::Read;

    fn project(
        service: Service,
        secrets: Vec<(&str, FileObject)>,
        configs: Vec<(&str, FileObject)>,
    ) -> Project {
        let own = |items: Vec<(&str, FileObject)>| {
            items
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<IndexMap<_, _>>()
        };
        Project {
            name: "demo".into(),
            services: IndexMap::from([(service.name.clone(), service)]),
            secrets: own(secrets),
            configs: own(configs),
            ..Default::default()
        }
    }

    fn use_of(source: &str, target: Option<&str>) -> FileMount {
        FileMount {
            source: source.into(),
            target: target.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn file_objects_are_read_only_binds_at_compose_targets() {
        let web = Service {
            name: "web".into(),
            secrets: vec![
                use_of("token", Some("/run/secrets/token")),
                use_of("other", Some("named")),
            ],
            configs: vec![use_of("conf", None), use_of("conf2", Some("etc/app.conf"))],
            ..Default::default()
        };
        let file = |p: &str| FileObject {
            file: Some(p.into()),
            ..Default::default()
        };
        let p = project(
            web,
            vec![("token", file("/s/token")), ("other", file("/s/other"))],
            vec![("conf", file("/c/conf")), ("conf2", file("/c/conf2"))],
        );
        let plan = plan(&p, &p.services["web"]);
        let targets: Vec<(&str, &str)> = plan
            .mounts
            .iter()
            .map(|m| {
                assert_eq!(m.typ, Some(MountType::BIND));
                assert_eq!(m.read_only, Some(true));
                (m.source.as_deref().unwrap(), m.target.as_deref().unwrap())
            })
            .collect();
        assert_eq!(
            targets,
            vec![
                ("/s/token", "/run/secrets/token"),
                ("/s/other", "/run/secrets/named"),
                ("/c/conf", "/conf"),
                ("/c/conf2", "/etc/app.conf"),
            ]
        );
        assert!(plan.injected.is_empty());
        assert!(plan.errors.is_empty());
        // The files do not exist here: compose warns, so does torq.
        assert_eq!(plan.warnings.len(), 4);
    }

    #[test]
    fn environment_and_content_objects_are_injected() {
        let web = Service {
            name: "web".into(),
            secrets: vec![FileMount {
                source: "key".into(),
                target: Some("/run/secrets/key".into()),
                uid: Some("100".into()),
                mode: Some(0o400),
                ..Default::default()
            }],
            configs: vec![use_of("inline", None)],
            ..Default::default()
        };
        let p = project(
            web,
            vec![(
                "key",
                FileObject {
                    environment: Some("KEY".into()),
                    environment_value: Some("s3cret".into()),
                    ..Default::default()
                },
            )],
            vec![(
                "inline",
                FileObject {
                    content: Some("hello".into()),
                    ..Default::default()
                },
            )],
        );
        let plan = plan(&p, &p.services["web"]);
        assert!(plan.mounts.is_empty());
        assert_eq!(plan.injected.len(), 2);
        let key = &plan.injected[0];
        assert_eq!(
            (
                key.target.as_str(),
                key.content.as_str(),
                key.uid,
                key.mode,
                key.keep_owner
            ),
            ("/run/secrets/key", "s3cret", 100, 0o400, true)
        );
        let inline = &plan.injected[1];
        assert_eq!((inline.target.as_str(), inline.mode), ("/inline", 0o444));

        let bytes = tar_of(&[key, inline]).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mode = entry.header().mode().unwrap();
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            seen.push((path, mode, text));
        }
        assert_eq!(
            seen,
            vec![
                ("run/secrets/key".to_string(), 0o400, "s3cret".to_string()),
                ("inline".to_string(), 0o444, "hello".to_string())
            ]
        );
    }

    #[test]
    fn unset_variables_read_only_services_and_swarm_objects() {
        let mut web = Service {
            name: "web".into(),
            secrets: vec![use_of("unset", None), use_of("ext", None)],
            configs: vec![use_of("inline", None)],
            read_only: true,
            ..Default::default()
        };
        web.secrets[0].target = Some("/run/secrets/unset".into());
        let p = project(
            web,
            vec![
                (
                    "unset",
                    FileObject {
                        environment: Some("NOPE".into()),
                        ..Default::default()
                    },
                ),
                (
                    "ext",
                    FileObject {
                        external: true,
                        name: "ext".into(),
                        ..Default::default()
                    },
                ),
            ],
            vec![(
                "inline",
                FileObject {
                    content: Some("x".into()),
                    ..Default::default()
                },
            )],
        );
        let plan = plan(&p, &p.services["web"]);
        assert!(plan.errors[0].contains("NOPE"), "{:?}", plan.errors);
        assert!(
            plan.errors[1].contains("read-only service web"),
            "{:?}",
            plan.errors
        );
        assert!(plan.warnings[0].contains("external"), "{:?}", plan.warnings);
        assert!(plan.mounts.is_empty() && plan.injected.is_empty());
    }

    #[test]
    fn a_volume_at_the_same_target_wins() {
        let web = Service {
            name: "web".into(),
            volumes: vec![crate::compose::model::Mount {
                kind: crate::compose::model::MountKind::Bind,
                source: Some("/host".into()),
                target: "/run/secrets/token".into(),
                ..Default::default()
            }],
            secrets: vec![use_of("token", Some("/run/secrets/token"))],
            ..Default::default()
        };
        let p = project(
            web,
            vec![(
                "token",
                FileObject {
                    file: Some("/s/token".into()),
                    ..Default::default()
                },
            )],
            vec![],
        );
        assert!(plan(&p, &p.services["web"]).mounts.is_empty());
    }
}
