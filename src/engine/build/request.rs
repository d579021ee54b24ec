//! A service's `build:` section as the engine's build API takes it, for
//! either builder: the query parameters, the extra tags, what the BuildKit
//! session must provide (secrets, SSH agents), and what a builder cannot
//! honor — refused with a clear reason (a build that would silently differ)
//! or warned about (a key that only affects caching or metadata).
//!
//! Keys and where they go: `dockerfile` (`dockerfile_inline` is written into
//! the context), `args`, `target`, `labels`, `network`, `extra_hosts`,
//! `shm_size`, `no_cache`, `pull`, `cache_from`, `platforms` (the engine's
//! own platform only), `tags` (tagged after the build); BuildKit only:
//! `secrets` (file or environment) and `ssh` (agent sockets). Refused:
//! `additional_contexts` (the Engine API's build endpoint has no named
//! contexts); warned: `cache_to`, `isolation`, `privileged`, `entitlements`,
//! `provenance`, `sbom`, `ulimits`.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::query_parameters::{BuildImageOptions, BuildImageOptionsBuilder};
use indexmap::IndexMap;

use super::buildkit::session::{Provided, SecretValue};
use crate::compose::model::{Build, FileObject};

/// Which builder runs a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderKind {
    /// The engine's BuildKit (`version=2`, with a session).
    BuildKit,
    /// The classic builder (`version=1`).
    Classic,
}

impl BuilderKind {
    pub fn name(self) -> &'static str {
        match self {
            BuilderKind::BuildKit => "BuildKit",
            BuilderKind::Classic => "the classic builder",
        }
    }
}

/// One build, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct EngineRequest {
    pub options: BuildImageOptions,
    /// Query pairs bollard's options hold one of at most (`extrahosts`).
    pub extra_query: Vec<(String, String)>,
    /// Tags to add once the image is built (`build.tags`).
    pub tags: Vec<String>,
    /// What the BuildKit session serves.
    pub provided: Provided,
    /// Keys the builder ignores, for the user to see.
    pub warnings: Vec<String>,
}

/// Whether a build sets a key.
type IsSet = fn(&Build) -> bool;

/// Keys a builder ignores with a warning rather than refusing, each with
/// whether a build sets it.
const WARNED: [(&str, IsSet); 7] = [
    ("cache_to", |b| !b.cache_to.is_empty()),
    ("isolation", |b| b.isolation.is_some()),
    ("privileged", |b| b.privileged),
    ("entitlements", |b| !b.entitlements.is_empty()),
    ("provenance", |b| b.provenance.is_some()),
    ("sbom", |b| b.sbom.is_some()),
    ("ulimits", |b| !b.ulimits.is_empty()),
];

/// The `build.network` values the engine's BuildKit takes.
const BUILDKIT_NETWORKS: [&str; 3] = ["default", "host", "none"];

/// Everything a request is made from besides the `build:` section.
pub(crate) struct RequestInput<'a> {
    pub reference: &'a str,
    /// The Dockerfile's name inside the context archive.
    pub dockerfile: &'a str,
    pub build: &'a Build,
    /// The project's top-level secrets, for `build.secrets`.
    pub secrets: &'a IndexMap<String, FileObject>,
    pub builder: BuilderKind,
    /// The engine's platform (`linux/amd64`).
    pub platform: &'a str,
    /// `torq build --no-cache`.
    pub no_cache: bool,
}

/// The engine request for `input`, or why this builder cannot build it.
pub(crate) fn engine_request(input: &RequestInput) -> Result<EngineRequest, String> {
    let build = input.build;
    refuse_unsupported(input)?;
    let mut request = BuildImageOptionsBuilder::default()
        .dockerfile(input.dockerfile)
        .t(input.reference)
        .rm(true)
        .forcerm(true)
        .nocache(input.no_cache || build.no_cache);
    let args: HashMap<String, String> = build
        .args
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
        .collect();
    if !args.is_empty() {
        request = request.buildargs(&args);
    }
    if let Some(target) = &build.target {
        request = request.target(target);
    }
    if !build.labels.is_empty() {
        let labels: HashMap<String, String> = build.labels.clone().into_iter().collect();
        request = request.labels(&labels);
    }
    if let Some(network) = &build.network {
        request = request.networkmode(network);
    }
    if !build.cache_from.is_empty() {
        request = request.cachefrom(&build.cache_from);
    }
    if build.pull {
        request = request.pull("1");
    }
    if let Some(bytes) = shm_size(build)? {
        request = request.shmsize(bytes);
    }
    if !build.platforms.is_empty() {
        request = request.platform(input.platform);
    }
    let extra_query = build
        .extra_hosts
        .iter()
        .map(|host| ("extrahosts".to_string(), host.replacen('=', ":", 1)))
        .collect();
    let provided = match input.builder {
        BuilderKind::BuildKit => Provided {
            secrets: secrets(input)?,
            ssh_agents: ssh_agents(build)?,
            ..Provided::default()
        },
        BuilderKind::Classic => Provided::default(),
    };
    Ok(EngineRequest {
        options: request.build(),
        extra_query,
        tags: build.tags.clone(),
        provided,
        warnings: warnings(build),
    })
}

/// Refuses what would build something other than what the spec says.
fn refuse_unsupported(input: &RequestInput) -> Result<(), String> {
    let build = input.build;
    if !build.additional_contexts.is_empty() {
        return Err(
            "`build.additional_contexts` cannot be honored: the engine's build API \
                    (POST /build) has no named contexts; copy the files into the context or \
                    build the other image first and use it with `FROM`"
                .into(),
        );
    }
    if let Some(other) = build
        .platforms
        .iter()
        .find(|p| p.as_str() != input.platform)
    {
        return Err(format!(
            "`build.platforms` lists {other}, but this engine builds only its own platform {}",
            input.platform
        ));
    }
    let network = build.network.as_deref().unwrap_or("default");
    if input.builder == BuilderKind::BuildKit && !BUILDKIT_NETWORKS.contains(&network) {
        return Err(format!(
            "`build.network: {network}`: the engine's BuildKit runs build steps on the default \
             network, `host` or `none` only (TORQ_BUILDKIT=0 builds with the classic builder, \
             which joins named networks)"
        ));
    }
    if input.builder == BuilderKind::Classic {
        let needs = [
            ("secrets", !build.secrets.is_empty()),
            ("ssh", !build.ssh.is_empty()),
        ];
        if let Some((key, _)) = needs.iter().find(|(_, used)| *used) {
            return Err(format!(
                "`build.{key}` needs BuildKit, and the classic builder runs this build \
                 (unset TORQ_BUILDKIT=0, or use an engine with BuildKit)"
            ));
        }
    }
    Ok(())
}

fn warnings(build: &Build) -> Vec<String> {
    WARNED
        .iter()
        .filter(|(_, set)| set(build))
        .map(|(key, _)| {
            format!("`build.{key}` is not supported by the engine's build API; ignored")
        })
        .collect()
}

/// `build.secrets`, each with where its value comes from.
fn secrets(input: &RequestInput) -> Result<HashMap<String, SecretValue>, String> {
    let mut resolved = HashMap::new();
    for mount in &input.build.secrets {
        let Some(object) = input.secrets.get(&mount.source) else {
            return Err(format!(
                "build secret {} is not defined under the top-level `secrets:`",
                mount.source
            ));
        };
        let value = match (&object.file, &object.environment) {
            (Some(file), _) => SecretValue::File(file.clone()),
            (None, Some(variable)) => match &object.environment_value {
                Some(value) => SecretValue::Value(value.clone()),
                None => {
                    return Err(format!(
                        "build secret {} comes from the environment variable {variable}, \
                         which is not set",
                        mount.source
                    ))
                }
            },
            (None, None) => {
                return Err(format!(
                    "build secret {} has neither `file:` nor `environment:`",
                    mount.source
                ))
            }
        };
        // BuildKit's id is the `target` when given, else the source.
        let id = mount.target.clone().unwrap_or_else(|| mount.source.clone());
        resolved.insert(id, value);
    }
    Ok(resolved)
}

/// `build.ssh`: `default` is `SSH_AUTH_SOCK`; `ID=PATH` names an agent socket.
fn ssh_agents(build: &Build) -> Result<HashMap<String, PathBuf>, String> {
    let mut agents = HashMap::new();
    for entry in &build.ssh {
        let (id, path) = match entry.split_once('=') {
            Some((id, path)) => (id.to_string(), PathBuf::from(path)),
            None => match std::env::var_os("SSH_AUTH_SOCK").filter(|v| !v.is_empty()) {
                Some(socket) => (entry.clone(), PathBuf::from(socket)),
                None => {
                    return Err(format!(
                        "`build.ssh: {entry}` forwards the SSH agent, but SSH_AUTH_SOCK is not set \
                         (start ssh-agent, or name a socket: `{entry}=/path/to/agent.sock`)"
                    ))
                }
            },
        };
        if !is_socket(&path) {
            return Err(format!(
                "`build.ssh` {id}: {} is not an SSH agent socket (key files are not supported: \
                 load the key into ssh-agent and use `default`)",
                path.display()
            ));
        }
        agents.insert(id, path);
    }
    Ok(agents)
}

fn is_socket(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// `build.shm_size` in bytes (the API takes a 32-bit count).
fn shm_size(build: &Build) -> Result<Option<i32>, String> {
    let Some(bytes) = build.shm_size else {
        return Ok(None);
    };
    i32::try_from(bytes).map(Some).map_err(|_| {
        format!("`build.shm_size` {bytes} is not a byte count the build API takes (up to 2 GiB)")
    })
}

/// Whether `build.pull: true` asks for fresh base images.
pub(crate) fn pulls(build: &Build) -> bool {
    build.pull
}

/// `build.dockerfile_inline`, when set.
pub(crate) fn dockerfile_inline(build: &Build) -> Option<String> {
    build.dockerfile_inline.clone()
}

/// The query string of `extra`, to append to the request's own.
pub(crate) fn encode_query(extra: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in extra {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::FileMount;

    fn input<'a>(
        build: &'a Build,
        secrets: &'a IndexMap<String, FileObject>,
        builder: BuilderKind,
    ) -> RequestInput<'a> {
        RequestInput {
            reference: "p-web",
            dockerfile: "Dockerfile",
            build,
            secrets,
            builder,
            platform: "linux/amd64",
            no_cache: false,
        }
    }

    #[test]
    fn compose_keys_become_query_parameters() {
        let build = Build {
            target: Some("runtime".into()),
            shm_size: Some(1_048_576),
            no_cache: true,
            pull: true,
            extra_hosts: vec!["db:10.0.0.2".into(), "cache:10.0.0.3".into()],
            platforms: vec!["linux/amd64".into()],
            tags: vec!["p/web:1".into()],
            cache_to: vec!["type=inline".into()],
            ..Build::default()
        };
        let none = IndexMap::new();
        let request = engine_request(&input(&build, &none, BuilderKind::BuildKit)).unwrap();
        assert_eq!(request.options.target, "runtime");
        assert_eq!(request.options.shmsize, Some(1_048_576));
        assert!(request.options.nocache);
        assert_eq!(request.options.pull.as_deref(), Some("1"));
        assert_eq!(request.options.platform, "linux/amd64");
        assert_eq!(request.tags, vec!["p/web:1"]);
        assert_eq!(
            encode_query(&request.extra_query),
            "extrahosts=db%3A10.0.0.2&extrahosts=cache%3A10.0.0.3"
        );
        assert_eq!(request.warnings.len(), 1);
        assert!(
            request.warnings[0].contains("cache_to"),
            "{:?}",
            request.warnings
        );
    }

    #[test]
    fn secrets_come_from_files_and_the_environment() {
        let mut build = Build::default();
        for (source, target) in [("token", None), ("key", Some("api_key"))] {
            build.secrets.push(FileMount {
                source: source.into(),
                target: target.map(str::to_string),
                ..Default::default()
            });
        }
        let mut secrets = IndexMap::new();
        secrets.insert(
            "token".to_string(),
            FileObject {
                file: Some("/run/token.txt".into()),
                ..Default::default()
            },
        );
        secrets.insert(
            "key".to_string(),
            FileObject {
                environment: Some("API_KEY".into()),
                environment_value: Some("s3cret".into()),
                ..Default::default()
            },
        );
        let request = engine_request(&input(&build, &secrets, BuilderKind::BuildKit)).unwrap();
        assert_eq!(
            request.provided.secrets["token"],
            SecretValue::File("/run/token.txt".into())
        );
        assert_eq!(
            request.provided.secrets["api_key"],
            SecretValue::Value("s3cret".into())
        );
        let err = engine_request(&input(&build, &secrets, BuilderKind::Classic)).unwrap_err();
        assert!(err.contains("needs BuildKit"), "{err}");
        assert!(err.contains("TORQ_BUILDKIT=0"), "{err}");
    }

    #[test]
    fn what_cannot_be_honored_is_refused() {
        let none = IndexMap::new();
        let build = Build {
            platforms: vec!["linux/arm64".into()],
            ..Build::default()
        };
        let err = engine_request(&input(&build, &none, BuilderKind::BuildKit)).unwrap_err();
        assert!(
            err.contains("linux/arm64") && err.contains("linux/amd64"),
            "{err}"
        );
        let build = Build {
            additional_contexts: [("lib".to_string(), "/src/lib".to_string())].into(),
            ..Build::default()
        };
        let err = engine_request(&input(&build, &none, BuilderKind::BuildKit)).unwrap_err();
        assert!(err.contains("additional_contexts"), "{err}");
        let build = Build {
            ssh: vec!["deploy=/nonexistent/agent.sock".into()],
            ..Build::default()
        };
        let err = engine_request(&input(&build, &none, BuilderKind::BuildKit)).unwrap_err();
        assert!(err.contains("not an SSH agent socket"), "{err}");
        let build = Build {
            network: Some("backend".into()),
            ..Build::default()
        };
        let err = engine_request(&input(&build, &none, BuilderKind::BuildKit)).unwrap_err();
        assert!(
            err.contains("network: backend") && err.contains("TORQ_BUILDKIT=0"),
            "{err}"
        );
        assert!(engine_request(&input(&build, &none, BuilderKind::Classic)).is_ok());
    }
}
