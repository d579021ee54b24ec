//! Builds through the engine's BuildKit, over the Engine API: which builder
//! runs ([`choose`]), the session a build attaches to ([`session`]), the
//! context it reads through that session ([`filesync`]), and its progress
//! ([`progress`]). The build itself is run by `engine::build`.
//!
//! How a build runs: torq opens a BuildKit session on the engine
//! ([`session`], serving the context and Dockerfile, build secrets and SSH
//! agents), then posts `POST /build` with `version=2`, the session's id and
//! `remote=client-session` ([`SESSION_CONTEXT`]).
//! The engine's BuildKit (built into Docker 18.09+, no `buildx` needed)
//! resolves `FROM` against the engine's own images first, so a locally built
//! base image needs no registry. Progress comes back in the same response as
//! `moby.buildkit.trace` messages, decoded by bollard's `buildkit` feature and
//! read by [`progress::Trace`].
//!
//! bollard 0.21 starts its own session (registry credentials only) whenever
//! a request says `version=2`; torq's session must be the one the build uses,
//! so the request goes out as bollard's classic build and a request modifier
//! on a per-build client switches it to `version=2` ([`with_query`]). The
//! same modifier appends the query pairs bollard's options hold only one of.

pub(crate) mod filesync;
pub(crate) mod progress;
pub(crate) mod session;

use bollard::Docker;

use super::request::BuilderKind;
use super::Engine;

/// The build request's `remote` when the context comes through the session.
pub(crate) const SESSION_CONTEXT: &str = "client-session";

/// The oldest API version whose engines have BuildKit (Docker 18.09).
const BUILDKIT_API: (u32, u32) = (1, 39);

/// The environment variable that turns BuildKit off (`TORQ_BUILDKIT=0`),
/// as `DOCKER_BUILDKIT=0` does for docker.
pub const BUILDKIT_ENV: &str = "TORQ_BUILDKIT";

/// The builder for this run, why, and what BuildKit needs to know.
#[derive(Debug, Clone)]
pub(crate) struct Builder {
    pub kind: BuilderKind,
    /// Why this builder (for `-v`).
    pub reason: String,
    /// The engine's platform (`linux/amd64`): the only one it builds.
    pub platform: String,
    /// The negotiated API version (`1.41`).
    pub api: String,
}

/// `forced` when given; else BuildKit when the engine has it and
/// `TORQ_BUILDKIT` does not say `0`; the classic builder otherwise.
pub(crate) async fn choose(engine: &Engine, forced: Option<BuilderKind>) -> Builder {
    let api = engine.docker().client_version().to_string();
    let version = engine.docker().version().await;
    let (os, arch) = match &version {
        Ok(v) => (
            v.os.clone().unwrap_or_else(|| "linux".into()),
            v.arch.clone().unwrap_or_else(|| "amd64".into()),
        ),
        Err(_) => (
            "linux".into(),
            std::env::consts::ARCH.replace("x86_64", "amd64"),
        ),
    };
    let platform = format!("{os}/{arch}");
    let (kind, reason) = match (forced, std::env::var(BUILDKIT_ENV)) {
        (Some(kind), _) => (kind, "chosen by the caller".to_string()),
        (None, Ok(value)) if is_off(&value) => (
            BuilderKind::Classic,
            format!("{BUILDKIT_ENV}={value} asks for the classic builder"),
        ),
        _ if os != "linux" => (
            BuilderKind::Classic,
            format!("the engine runs {os} containers; BuildKit builds Linux images only"),
        ),
        _ if !api_at_least(&api, BUILDKIT_API) => (
            BuilderKind::Classic,
            format!("the engine's API {api} predates BuildKit (1.39)"),
        ),
        _ => (
            BuilderKind::BuildKit,
            format!("the engine (API {api}) has BuildKit built in"),
        ),
    };
    Builder {
        kind,
        reason,
        platform,
        api,
    }
}

/// `0`, `false`, `no` and `off` turn BuildKit off, as for `DOCKER_BUILDKIT`.
fn is_off(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "0" | "false" | "no" | "off"
    )
}

fn api_at_least(api: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = api.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

/// A client for one build request: `version=2` when `buildkit`, and `extra`
/// (an encoded query string) appended to the `/build` request's query.
pub(crate) fn with_query(docker: &Docker, buildkit: bool, extra: String) -> Docker {
    docker.clone().with_request_modifier(move |mut request| {
        if !request.uri().path().ends_with("/build") {
            return request;
        }
        let rewritten = rewrite_query(&request.uri().to_string(), buildkit, &extra);
        if let Ok(parsed) = rewritten.parse() {
            *request.uri_mut() = parsed;
        }
        request
    })
}

/// `uri` with `version=1` turned into `version=2` (when `buildkit`) and
/// `extra` appended to its query.
fn rewrite_query(uri: &str, buildkit: bool, extra: &str) -> String {
    let (base, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match (buildkit, p) {
            (true, "version=1") => "version=2",
            _ => p,
        })
        .collect();
    if !extra.is_empty() {
        pairs.push(extra);
    }
    format!("{base}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_compare_numerically() {
        assert!(api_at_least("1.41", BUILDKIT_API));
        assert!(api_at_least("1.39", BUILDKIT_API));
        assert!(!api_at_least("1.38", BUILDKIT_API));
        assert!(api_at_least("2.0", BUILDKIT_API));
    }

    #[test]
    fn build_queries_switch_to_version_2_and_gain_the_extra_pairs() {
        assert_eq!(
            rewrite_query(
                "http://h/v1.41/build?dockerfile=Dockerfile&version=1&session=x",
                true,
                "extrahosts=db%3A10.0.0.2"
            ),
            "http://h/v1.41/build?dockerfile=Dockerfile&version=2&session=x&extrahosts=db%3A10.0.0.2"
        );
        assert_eq!(
            rewrite_query("http://h/v1.41/build?version=1", false, ""),
            "http://h/v1.41/build?version=1"
        );
    }

    #[test]
    fn buildkit_is_turned_off_as_docker_does() {
        for off in ["0", "false", "NO", " off "] {
            assert!(is_off(off), "{off}");
        }
        for on in ["1", "true", ""] {
            assert!(!is_off(on), "{on}");
        }
    }
}
