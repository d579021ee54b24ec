//! `post_start` lifecycle hooks (compose 2.30+): commands run by exec in a
//! container right after it starts, in spec order, each with its own
//! `user`, `privileged`, `working_dir` and `environment`. A hook that
//! exits non-zero fails the start, as in compose; its last output lines
//! say why.
//!
//! `pre_stop` hooks are not run: `torq down` works from the containers'
//! labels, without the spec that holds them (the spec layer warns).

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;

use crate::compose::model::{self, Service};
use crate::engine::error::{with_deadline, ApiError};
use crate::engine::Engine;

/// How long one hook may run.
pub const HOOK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// Output lines of a failed hook quoted in the failure.
const FAILURE_LINES: usize = 5;

/// One hook, ready to exec.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Hook {
    pub command: Vec<String>,
    pub user: Option<String>,
    pub privileged: bool,
    pub working_dir: Option<String>,
    /// `KEY=value` (or `KEY` alone) entries.
    pub environment: Vec<String>,
}

/// The service's `post_start` hooks.
pub fn post_start(service: &Service) -> Vec<Hook> {
    service.post_start.iter().map(hook).collect()
}

pub(crate) fn hook(spec: &model::Hook) -> Hook {
    Hook {
        command: spec.command.clone().unwrap_or_default(),
        user: spec.user.clone(),
        privileged: spec.privileged,
        working_dir: spec.working_dir.clone(),
        environment: spec
            .environment
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect(),
    }
}

/// Why a hook failed: its command did not exit 0, or a request to the
/// engine failed (a broken connection among them, see [`HookFailure::is_lost`]).
#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// The command ran and failed: `OP exited with status N: last lines`.
    #[error("{0}")]
    Exited(String),
    /// The engine did not run it.
    #[error(transparent)]
    Engine(ApiError),
}

impl HookFailure {
    /// The connection to the engine broke while running it.
    pub fn is_lost(&self) -> bool {
        matches!(self, HookFailure::Engine(err) if err.is_lost())
    }
}

/// Runs `hook` in container `id`; the error says how it failed.
pub async fn run(engine: &Engine, id: &str, hook: &Hook) -> Result<(), HookFailure> {
    let op = format!("post_start hook `{}`", hook.command.join(" "));
    let exec = async {
        let created = engine
            .docker()
            .create_exec(
                id,
                CreateExecOptions::<String> {
                    cmd: Some(hook.command.clone()),
                    user: hook.user.clone(),
                    privileged: Some(hook.privileged),
                    working_dir: hook.working_dir.clone(),
                    env: (!hook.environment.is_empty()).then(|| hook.environment.clone()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        let started = engine
            .docker()
            .start_exec(&created.id, None::<StartExecOptions>)
            .await?;
        let mut output = String::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = started
        {
            while let Some(chunk) = stream.next().await {
                output.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
            }
        }
        let inspected = engine.docker().inspect_exec(&created.id).await?;
        Ok((inspected.exit_code, output))
    };
    match with_deadline(op.clone(), HOOK_DEADLINE, exec).await {
        Ok((Some(0), _)) => Ok(()),
        Ok((code, output)) => {
            let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = lines[lines.len().saturating_sub(FAILURE_LINES)..].join(" | ");
            let code = code.map_or_else(|| "an unknown status".into(), |c| format!("status {c}"));
            Err(HookFailure::Exited(if tail.is_empty() {
                format!("{op} exited with {code}")
            } else {
                format!("{op} exited with {code}: {tail}")
            }))
        }
        Err(err) => Err(HookFailure::Engine(err)),
    }
}

/// Runs the hooks in order; the first failure stops them.
pub async fn run_all(engine: &Engine, id: &str, hooks: &[Hook]) -> Result<(), HookFailure> {
    for hook in hooks {
        run(engine, id, hook).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_read_the_model() {
        let s = Service {
            post_start: vec![
                model::Hook {
                    command: Some(vec!["touch".into(), "/ready".into()]),
                    user: Some("root".into()),
                    privileged: true,
                    working_dir: Some("/w".into()),
                    environment: [
                        ("A".to_string(), Some("1".to_string())),
                        ("B".to_string(), None),
                    ]
                    .into(),
                },
                model::Hook {
                    command: Some(vec!["echo".into(), "hi".into()]),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let hooks = post_start(&s);
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].command, vec!["touch", "/ready"]);
        assert_eq!(hooks[0].user.as_deref(), Some("root"));
        assert!(hooks[0].privileged);
        assert_eq!(hooks[0].working_dir.as_deref(), Some("/w"));
        assert_eq!(hooks[0].environment, vec!["A=1", "B"]);
        assert_eq!(hooks[1].command, vec!["echo", "hi"]);
        assert!(post_start(&Service::default()).is_empty());
    }
}
