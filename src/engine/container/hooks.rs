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
use serde_json::Value;

use super::values::{scalar_text, string_list};
use crate::compose::model::Service;
use crate::engine::error::with_deadline;
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
    service
        .other
        .get("post_start")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(hook).collect())
        .unwrap_or_default()
}

fn hook(value: &Value) -> Hook {
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(String::from);
    let environment = match value.get("environment") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match scalar_text(v) {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect(),
        Some(list @ Value::Array(_)) => string_list(Some(list)),
        _ => Vec::new(),
    };
    Hook {
        command: match value.get("command") {
            Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
            other => string_list(other),
        },
        user: text("user"),
        privileged: value.get("privileged").and_then(Value::as_bool) == Some(true),
        working_dir: text("working_dir"),
        environment,
    }
}

/// Runs `hook` in container `id`; the error says how it failed.
pub async fn run(engine: &Engine, id: &str, hook: &Hook) -> Result<(), String> {
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
            if tail.is_empty() {
                Err(format!("{op} exited with {code}"))
            } else {
                Err(format!("{op} exited with {code}: {tail}"))
            }
        }
        Err(err) => Err(err.to_string()),
    }
}

/// Runs the hooks in order; the first failure stops them.
pub async fn run_all(engine: &Engine, id: &str, hooks: &[Hook]) -> Result<(), String> {
    for hook in hooks {
        run(engine, id, hook).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hooks_read_compose_shapes() {
        let mut s = Service::default();
        s.other.insert(
            "post_start".into(),
            json!([
                {"command": ["touch", "/ready"], "user": "root", "privileged": true,
                 "working_dir": "/w", "environment": {"A": "1", "B": null}},
                {"command": "echo hi"},
            ]),
        );
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
