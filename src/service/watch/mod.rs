//! `watch` (and `up --watch`): compose's `develop.watch`. The rules' paths
//! are watched through inotify (the `notify` crate); changes are gathered
//! until the files are quiet for [`DEBOUNCE`], then each service's rules act
//! on the files they take:
//!
//! - `sync`: the files are copied into the service's running containers
//!   through the archive API (deleted ones removed), nothing restarts;
//! - `sync+restart`: then the containers restart;
//! - `sync+exec`: then the rule's command runs in them;
//! - `restart`: the containers restart;
//! - `rebuild`: the image is rebuilt and that service alone recreated by
//!   `up`'s own convergence (a rebuild supersedes the service's syncs).
//!
//! Every action is reported with the files it took. The watch runs until
//! Ctrl-C (or SIGTERM).

pub(crate) mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use self::rules::{rules_of, Action, Rule};
use crate::compose::model::Project;
use crate::engine::build::BuildPolicy;
use crate::engine::container::hooks;
use crate::engine::state::{observe, ObservedContainer};
use crate::engine::sync::{self, Copy};
use crate::engine::Engine;
use crate::progress::{Event, Reporter};

/// The files a rule took: each host path with its path relative to the rule.
type Taken = Vec<(PathBuf, String)>;

/// How long files must be quiet before a batch of changes is acted on.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(500);

/// The rules `watch` would follow, checked before anything starts (a named
/// service without `develop.watch` is an error).
pub(crate) fn plan(project: &Project, services: &[String]) -> anyhow::Result<Vec<Rule>> {
    super::select_services(project, services, true)?;
    Ok(rules_of(project, services)?)
}

/// Converges the watched services (and their dependencies) as `up` does,
/// before watching; returns the failures' descriptions.
pub(crate) async fn up_watched(
    engine: &Engine,
    project: &Arc<Project>,
    rules: &[Rule],
    reporter: Arc<dyn Reporter>,
    self_image_dockerfile: Option<&'static str>,
) -> anyhow::Result<Vec<String>> {
    let services: BTreeSet<String> = rules.iter().map(|r| r.service.clone()).collect();
    let request = super::up_request(
        services.into_iter().collect(),
        false,
        BuildPolicy::Missing,
        self_image_dockerfile,
    );
    let _lock = super::acquire_lock(engine, &project.name, reporter.as_ref()).await?;
    let outcome = super::up::converge(engine, project.clone(), &request, reporter.clone()).await;
    reporter.finish();
    Ok(outcome?
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.subject, f.reason))
        .collect())
}

/// Watches `rules` until Ctrl-C or SIGTERM, acting on every batch of changes.
pub(crate) async fn watch(
    engine: &Engine,
    project: Arc<Project>,
    rules: Vec<Rule>,
    reporter: Arc<dyn Reporter>,
    self_image_dockerfile: Option<&'static str>,
) -> anyhow::Result<()> {
    let mut stop = super::StopSignals::install().context("cannot watch signals")?;
    let (tx, mut changes) = mpsc::unbounded_channel::<PathBuf>();
    let _watcher = start_watcher(&rules, tx)?;
    let watched: BTreeSet<&str> = rules.iter().map(|r| r.service.as_str()).collect();
    reporter.report(Event::Info(format!(
        "watching {} for {} (Ctrl-C to stop)",
        rules
            .iter()
            .map(|r| r.path.display().to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", "),
        watched.into_iter().collect::<Vec<_>>().join(", ")
    )));
    loop {
        let first = tokio::select! {
            changed = changes.recv() => changed,
            () = stop.recv() => None,
        };
        let Some(first) = first else {
            return Ok(());
        };
        let batch = settle(first, &mut changes).await;
        act(
            engine,
            &project,
            &rules,
            batch,
            reporter.as_ref(),
            self_image_dockerfile,
        )
        .await;
    }
}

/// Watches every rule's path, sending each changed path.
fn start_watcher(
    rules: &[Rule],
    tx: mpsc::UnboundedSender<PathBuf>,
) -> anyhow::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        for path in event.paths {
            let _ = tx.send(path);
        }
    })
    .context("cannot start watching files")?;
    let paths: BTreeSet<&PathBuf> = rules.iter().map(|r| &r.path).collect();
    for path in paths {
        watcher
            .watch(path, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", path.display()))?;
    }
    Ok(watcher)
}

/// Gathers changes until none came for [`DEBOUNCE`].
async fn settle(
    first: PathBuf,
    changes: &mut mpsc::UnboundedReceiver<PathBuf>,
) -> BTreeSet<PathBuf> {
    let mut batch = BTreeSet::from([first]);
    while let Ok(Some(path)) = tokio::time::timeout(DEBOUNCE, changes.recv()).await {
        batch.insert(path);
    }
    batch
}

/// The files each rule takes from a batch: rule index → relative paths.
fn triggered(rules: &[Rule], batch: &BTreeSet<PathBuf>) -> BTreeMap<usize, Taken> {
    let mut taken: BTreeMap<usize, Taken> = BTreeMap::new();
    for path in batch {
        for (index, rule) in rules.iter().enumerate() {
            if let Some(relative) = rule.takes(path) {
                taken
                    .entry(index)
                    .or_default()
                    .push((path.clone(), relative));
            }
        }
    }
    taken
}

/// Runs the actions a batch triggers, service by service: a rebuild when
/// one of its rebuild rules took a file, else its other rules in order.
async fn act(
    engine: &Engine,
    project: &Arc<Project>,
    rules: &[Rule],
    batch: BTreeSet<PathBuf>,
    reporter: &dyn Reporter,
    self_image_dockerfile: Option<&'static str>,
) {
    let taken = triggered(rules, &batch);
    let mut by_service: BTreeMap<&str, Vec<(&Rule, Taken)>> = BTreeMap::new();
    for (index, files) in taken {
        let rule = &rules[index];
        by_service
            .entry(&rule.service)
            .or_default()
            .push((rule, files));
    }
    for (service, triggered) in by_service {
        let result = match triggered
            .iter()
            .find(|(rule, _)| rule.action == Action::Rebuild)
        {
            Some((_, files)) => {
                rebuild(
                    engine,
                    project,
                    service,
                    files,
                    reporter,
                    self_image_dockerfile,
                )
                .await
            }
            None => apply_rules(engine, &project.name, service, &triggered, reporter).await,
        };
        if let Err(err) = result {
            reporter.report(Event::Warning(format!("watch: {service}: {err:#}")));
        }
    }
}

/// Rebuilds the service's image and recreates that service alone.
async fn rebuild(
    engine: &Engine,
    project: &Arc<Project>,
    service: &str,
    files: &[(PathBuf, String)],
    reporter: &dyn Reporter,
    self_image_dockerfile: Option<&'static str>,
) -> anyhow::Result<()> {
    reporter.report(Event::Info(format!(
        "watch: {service}: rebuilding for {}",
        file_list(files)
    )));
    let request = super::up_request(
        vec![service.to_string()],
        true,
        BuildPolicy::Always,
        self_image_dockerfile,
    );
    let quiet: Arc<dyn Reporter> = Arc::new(crate::progress::NullReporter);
    let _lock = super::acquire_lock(engine, &project.name, reporter).await?;
    let outcome = super::up::converge(engine, project.clone(), &request, quiet).await?;
    match outcome.failures.first() {
        None => {
            reporter.report(Event::Info(format!(
                "watch: {service}: rebuilt and recreated"
            )));
            Ok(())
        }
        Some(failure) => anyhow::bail!("rebuild failed: {}: {}", failure.subject, failure.reason),
    }
}

/// Syncs, restarts and execs as the service's triggered rules say.
async fn apply_rules(
    engine: &Engine,
    project: &str,
    service: &str,
    triggered: &[(&Rule, Taken)],
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    let state = observe(engine, project).await?;
    let containers: Vec<&ObservedContainer> = state
        .service_containers(service)
        .filter(|c| c.is_running())
        .collect();
    if containers.is_empty() {
        anyhow::bail!("no running container to update (start it with `torq up {service}`)");
    }
    for (rule, files) in triggered {
        if rule.action.syncs() {
            sync_files(engine, &containers, rule, files).await?;
            reporter.report(Event::Info(format!(
                "watch: {service}: synced {} → {}",
                file_list(files),
                rule.target.as_deref().unwrap_or_default()
            )));
        }
        match rule.action {
            Action::SyncRestart | Action::Restart => {
                for c in &containers {
                    sync::restart(engine, &c.id, &c.name, None).await?;
                }
                reporter.report(Event::Info(format!(
                    "watch: {service}: restarted for {}",
                    file_list(files)
                )));
            }
            Action::SyncExec => {
                let hook = rule.exec.as_ref().context("sync+exec without a command")?;
                for c in &containers {
                    hooks::run(engine, &c.id, hook).await?;
                }
                reporter.report(Event::Info(format!(
                    "watch: {service}: ran `{}`",
                    hook.command.join(" ")
                )));
            }
            Action::Sync | Action::Rebuild => {}
        }
    }
    Ok(())
}

/// Copies the files that exist and removes those that are gone, in every container.
async fn sync_files(
    engine: &Engine,
    containers: &[&ObservedContainer],
    rule: &Rule,
    files: &[(PathBuf, String)],
) -> anyhow::Result<()> {
    let mut copies = Vec::new();
    let mut removed = Vec::new();
    for (host, relative) in files {
        let Some(target) = rule.container_path(relative) else {
            continue;
        };
        if host.exists() {
            copies.push(Copy {
                host: host.clone(),
                target,
            });
        } else {
            removed.push(target);
        }
    }
    for c in containers {
        if !copies.is_empty() {
            sync::copy_into(engine, &c.id, &c.name, &copies).await?;
        }
        if !removed.is_empty() {
            sync::remove_paths(engine, &c.id, &c.name, &removed).await?;
        }
    }
    Ok(())
}

/// `a.rs, b/c.rs` (at most 5 named, then `and N more`).
fn file_list(files: &[(PathBuf, String)]) -> String {
    const SHOWN: usize = 5;
    let names: Vec<String> = files
        .iter()
        .map(|(host, relative)| {
            if relative.is_empty() {
                host.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                relative.clone()
            }
        })
        .collect();
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
