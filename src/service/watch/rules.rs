//! `develop.watch` rules as the watcher uses them, and which rule a changed
//! file falls under: below the rule's `path`, not matched by its `ignore`
//! patterns (relative to `path`) nor by the build context's
//! `.dockerignore` (relative to the context), matched by its `include`
//! patterns when it has some, and not an editor's scratch file. Pure: the
//! only I/O is reading `.dockerignore`.

use std::path::{Path, PathBuf};

use crate::compose::model::{Project, Service, WatchRule};
use crate::engine::build::dockerignore::IgnoreMatcher;
use crate::engine::container::hooks::{self, Hook};

/// What a rule does with the files it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Sync,
    SyncRestart,
    SyncExec,
    Restart,
    Rebuild,
}

impl Action {
    fn parse(word: &str) -> Option<Action> {
        Some(match word {
            "sync" => Action::Sync,
            "sync+restart" => Action::SyncRestart,
            "sync+exec" => Action::SyncExec,
            "restart" => Action::Restart,
            "rebuild" => Action::Rebuild,
            _ => return None,
        })
    }

    /// Whether files are copied into the container.
    pub(crate) fn syncs(self) -> bool {
        matches!(self, Action::Sync | Action::SyncRestart | Action::SyncExec)
    }
}

/// One watch rule of one service.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) service: String,
    pub(crate) action: Action,
    /// Absolute host path (a directory or a file).
    pub(crate) path: PathBuf,
    /// Where `path` goes in the container (sync actions).
    pub(crate) target: Option<String>,
    /// The command of `sync+exec`.
    pub(crate) exec: Option<Hook>,
    ignore: IgnoreMatcher,
    include: Option<IgnoreMatcher>,
    /// The build context and its `.dockerignore`.
    dockerignore: Option<(PathBuf, IgnoreMatcher)>,
}

/// Files an editor writes and removes on its own (swap, backup and lock files).
const SCRATCH: &[&str] = &[
    "**/*.swp",
    "**/*.swx",
    "**/*~",
    "**/.#*",
    "**/4913",
    "**/.DS_Store",
    "**/.git",
];

impl Rule {
    /// The path relative to the rule (empty for the rule's own file), when
    /// the rule takes the changed file `changed`.
    pub(crate) fn takes(&self, changed: &Path) -> Option<String> {
        let relative = changed.strip_prefix(&self.path).ok()?;
        let relative = relative.to_string_lossy().into_owned();
        let scratch = IgnoreMatcher::new(SCRATCH).ok()?;
        let name_only = changed
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if scratch.is_excluded(&relative) || scratch.is_excluded(&name_only) {
            return None;
        }
        if !relative.is_empty() && self.ignore.is_excluded(&relative) {
            return None;
        }
        if let Some((context, matcher)) = &self.dockerignore {
            if let Ok(inside) = changed.strip_prefix(context) {
                if matcher.is_excluded(&inside.to_string_lossy()) {
                    return None;
                }
            }
        }
        if let Some(include) = &self.include {
            if !relative.is_empty() && !include.is_excluded(&relative) {
                return None;
            }
        }
        Some(relative)
    }

    /// Where the changed file (`relative` to the rule) goes in the container.
    pub(crate) fn container_path(&self, relative: &str) -> Option<String> {
        let target = self.target.as_deref()?.trim_end_matches('/');
        Some(if relative.is_empty() {
            target.to_string()
        } else {
            format!("{target}/{relative}")
        })
    }
}

/// Why the watch rules could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RuleError {
    #[error("service {0} has no `develop.watch` rules: there is nothing to watch for it")]
    NoRules(String),
    #[error("none of the project's services has `develop.watch` rules: there is nothing to watch")]
    NothingToWatch,
    #[error("service {service}: watch rule {index}: {reason}")]
    Invalid {
        service: String,
        index: usize,
        reason: String,
    },
}

/// The watch rules of `services` (every service that has some when empty).
pub(crate) fn rules_of(project: &Project, services: &[String]) -> Result<Vec<Rule>, RuleError> {
    let mut rules = Vec::new();
    if services.is_empty() {
        for service in project.services.values() {
            rules.extend(service_rules(service)?);
        }
        if rules.is_empty() {
            return Err(RuleError::NothingToWatch);
        }
        return Ok(rules);
    }
    for name in services {
        let found = service_rules(&project.services[name])?;
        if found.is_empty() {
            return Err(RuleError::NoRules(name.clone()));
        }
        rules.extend(found);
    }
    Ok(rules)
}

/// The rules of one service, from its `develop.watch`.
fn service_rules(service: &Service) -> Result<Vec<Rule>, RuleError> {
    let Some(develop) = &service.develop else {
        return Ok(Vec::new());
    };
    let dockerignore = service
        .build
        .as_ref()
        .and_then(|b| read_dockerignore(&b.context));
    develop
        .watch
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let invalid = |reason: String| RuleError::Invalid {
                service: service.name.clone(),
                index,
                reason,
            };
            rule(service, item, dockerignore.clone()).map_err(invalid)
        })
        .collect()
}

fn rule(
    service: &Service,
    item: &WatchRule,
    dockerignore: Option<(PathBuf, IgnoreMatcher)>,
) -> Result<Rule, String> {
    let action_word = item.action.as_str();
    let action =
        Action::parse(action_word).ok_or_else(|| format!("unknown action `{action_word}`"))?;
    let target = item.target.clone();
    if action.syncs() && target.is_none() {
        return Err(format!("`{action_word}` needs a `target` in the container"));
    }
    let exec = item.exec.command.is_some().then(|| hooks::hook(&item.exec));
    if action == Action::SyncExec && exec.is_none() {
        return Err("`sync+exec` needs an `exec.command`".into());
    }
    if action == Action::Rebuild && service.build.is_none() {
        return Err("`rebuild` needs the service to have a `build` section".into());
    }
    let matcher =
        |patterns: &[String]| IgnoreMatcher::new(patterns.to_vec()).map_err(|e| e.to_string());
    Ok(Rule {
        service: service.name.clone(),
        action,
        path: PathBuf::from(&item.path),
        target,
        exec,
        ignore: matcher(&item.ignore)?,
        include: if item.include.is_empty() {
            None
        } else {
            Some(matcher(&item.include)?)
        },
        dockerignore,
    })
}

/// The build context's `.dockerignore`, when it has one.
fn read_dockerignore(context: &Path) -> Option<(PathBuf, IgnoreMatcher)> {
    let text = std::fs::read_to_string(context.join(".dockerignore")).ok()?;
    let matcher = IgnoreMatcher::parse(&text).ok()?;
    Some((context.to_path_buf(), matcher))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(action: &str) -> WatchRule {
        WatchRule {
            action: action.into(),
            path: "/src".into(),
            ..Default::default()
        }
    }

    fn sync_rule(ignore: &[&str], include: &[&str]) -> Rule {
        let item = WatchRule {
            target: Some("/app".into()),
            ignore: ignore.iter().map(|p| p.to_string()).collect(),
            include: include.iter().map(|p| p.to_string()).collect(),
            ..item("sync")
        };
        let service = Service {
            name: "web".into(),
            ..Default::default()
        };
        rule(&service, &item, None).unwrap()
    }

    #[test]
    fn a_rule_takes_files_below_its_path_and_maps_them_to_its_target() {
        let rule = sync_rule(&[], &[]);
        assert_eq!(
            rule.takes(Path::new("/src/a/b.rs")).as_deref(),
            Some("a/b.rs")
        );
        assert_eq!(
            rule.container_path("a/b.rs").as_deref(),
            Some("/app/a/b.rs")
        );
        assert_eq!(rule.takes(Path::new("/other/x")), None);
        assert_eq!(
            rule.takes(Path::new("/src/.b.rs.swp")),
            None,
            "editor scratch files are skipped"
        );
    }

    #[test]
    fn ignore_and_include_patterns_are_relative_to_the_path() {
        let rule = sync_rule(&["node_modules/", "*.log"], &["*.rs", "**/*.rs", "*.log"]);
        assert!(rule.takes(Path::new("/src/main.rs")).is_some());
        assert!(rule.takes(Path::new("/src/deep/lib.rs")).is_some());
        assert!(rule.takes(Path::new("/src/node_modules/x.rs")).is_none());
        assert!(rule.takes(Path::new("/src/debug.log")).is_none());
        assert!(
            rule.takes(Path::new("/src/readme.md")).is_none(),
            "not included"
        );
    }

    #[test]
    fn sync_without_target_and_rebuild_without_build_are_refused() {
        let service = Service {
            name: "web".into(),
            ..Default::default()
        };
        let err = rule(&service, &item("sync"), None).unwrap_err();
        assert!(err.contains("needs a `target`"), "{err}");
        let err = rule(&service, &item("rebuild"), None).unwrap_err();
        assert!(err.contains("`build` section"), "{err}");
    }
}
