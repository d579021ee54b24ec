//! `status`: what runs, how healthy, what went wrong lately.
//!
//! Everything is asked of the engine at once: after the container list, the
//! inspects, the recent log tails (and with `verbose` the stats samples)
//! run in parallel, next to a ping and the engine's data directory. What the
//! answers mean — the three states, the warnings, whether all is well — is
//! decided by pure functions here and unit-tested; the result is a
//! [`StatusReport`] for the CLI to render.

pub(crate) mod report;

use std::collections::HashMap;
use std::time::Duration;

use crate::compose::model::{Condition, Project};
use crate::engine::inspect::inspect;
use crate::engine::logs::read::{read_merged, source_of};
use crate::engine::logs::LogRequest;
use crate::engine::state::{list_containers, service_containers, ObservedContainer, RunState};
use crate::engine::stats::{self, DiskSpace, UsageSample};
use crate::engine::Engine;
use crate::logs::sink::RecentErrors;
use crate::logs::time::{self, Nanos};
use crate::logs::Source;
use crate::logs::Tail;
use report::{
    bytes, ContainerStatus, EngineStatus, RecentError, ServiceStatus, State, StatusReport, Warning,
};

/// Restarts within [`CRASH_LOOP_WINDOW`] of the last start that make a
/// running container count as crash-looping.
const CRASH_LOOP_RESTARTS: i64 = 3;
const CRASH_LOOP_WINDOW: i64 = 60;
/// Error lines shown under "Recent errors", and log lines searched per container.
const RECENT_ERRORS: usize = 5;
const RECENT_TAIL: u64 = 200;
/// Warn below this much free space (or this share) where the engine keeps data.
const LOW_DISK_BYTES: u64 = 2 * 1024 * 1024 * 1024;
const LOW_DISK_PERCENT: f64 = 10.0;
/// Warn when a ping takes longer than this.
const SLOW_PING: Duration = Duration::from_millis(500);
/// Time between the two stats samples CPU % is computed from (`--verbose`).
const CPU_SAMPLE_INTERVAL: Duration = Duration::from_millis(500);

/// Runs `torq status` for `project` (its spec when at hand), limited to
/// `services` when given; `verbose` adds CPU/memory samples and log files.
pub(crate) async fn run(
    project: &str,
    spec: Option<&Project>,
    request: &StatusRequest,
) -> anyhow::Result<StatusReport> {
    let engine = super::connect().await?;
    report(&engine, project, spec, request).await
}

/// What `status` is asked.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatusRequest {
    /// Services to show (all when empty).
    pub services: Vec<String>,
    /// CPU/memory samples and log files.
    pub verbose: bool,
    /// One-off containers too, a row each after the services (`--all`).
    pub one_offs: bool,
}

/// Asks the engine and builds the report.
async fn report(
    engine: &Engine,
    project: &str,
    spec: Option<&Project>,
    request: &StatusRequest,
) -> anyhow::Result<StatusReport> {
    let facts = gather(engine, project, request).await?;
    let one_offs = one_off_rows(&facts);
    let mut report = build_report(project, spec, &request.services, facts);
    report.services.extend(one_offs);
    Ok(report)
}

/// `status --watch`: a report now, then again whenever a container of the
/// project changes (an engine event; a burst makes one report) and at least
/// every [`WATCH_REFRESH`], each handed to `show`, until Ctrl-C or SIGTERM.
pub(crate) async fn watch(
    project: &str,
    spec: Option<&Project>,
    request: &StatusRequest,
    mut show: impl FnMut(&StatusReport) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let mut stop = super::StopSignals::install()?;
    let engine = super::connect().await?;
    let mut events = crate::engine::event_feed::project_events(&engine, project);
    loop {
        show(&report(&engine, project, spec, request).await?)?;
        let changed = async {
            events.next().await;
            while let Ok(Some(_)) = tokio::time::timeout(EVENT_BURST, events.next()).await {}
        };
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(WATCH_REFRESH) => {}
            () = stop.recv() => return Ok(()),
        }
    }
}

/// How often `status --watch` refreshes without an event (CPU and memory move).
const WATCH_REFRESH: Duration = Duration::from_secs(2);
/// Events closer together than this make one refresh (a restart: die, start, health).
const EVENT_BURST: Duration = Duration::from_millis(100);

/// One row per one-off container: `SERVICE (run)`.
fn one_off_rows(facts: &Facts) -> Vec<ServiceStatus> {
    facts
        .containers
        .iter()
        .filter(|c| c.oneoff)
        .map(|c| {
            let containers = vec![container_status(c, facts, false)];
            ServiceStatus {
                state: Some(service_state(&containers, 1)),
                health: worst_health(&containers),
                service: format!("{} (run)", c.service),
                replicas: 0,
                orphan: false,
                containers,
            }
        })
        .collect()
}

/// What the engine told about the project.
#[derive(Debug, Default)]
struct Facts {
    now: Nanos,
    containers: Vec<ObservedContainer>,
    zombies: HashMap<String, u32>,
    usage: HashMap<String, (Option<f64>, UsageSample)>,
    log_sizes: HashMap<String, u64>,
    recent_errors: Vec<RecentError>,
    engine: EngineStatus,
    ping: Option<Duration>,
    disk: Option<DiskSpace>,
}

/// Asks the engine everything at once.
async fn gather(engine: &Engine, project: &str, request: &StatusRequest) -> anyhow::Result<Facts> {
    let (services, verbose) = (&request.services, request.verbose);
    let local = engine.is_local();
    let ping = stats::ping_latency(engine);
    let data_root = async {
        if local {
            stats::data_root(engine).await.ok().flatten()
        } else {
            None
        }
    };
    let containers = async {
        let mut listed = service_containers(engine, project, services).await?;
        if request.one_offs {
            let all = list_containers(engine, project).await?;
            listed.extend(all.into_iter().filter(|c| c.oneoff));
        }
        let sources: Vec<Source> = listed.iter().map(source_of).collect();
        let ids: Vec<String> = listed.iter().map(|c| c.id.clone()).collect();
        let inspects = futures::future::join_all(listed.into_iter().map(|c| inspect(engine, c)));
        let usage = async {
            if verbose {
                stats::usage(engine, &ids, CPU_SAMPLE_INTERVAL).await
            } else {
                HashMap::new()
            }
        };
        let (inspects, errors, usage) =
            futures::join!(inspects, recent_errors(engine, &sources), usage);
        let mut containers = Vec::with_capacity(inspects.len());
        for facts in inspects {
            if let Some(facts) = facts? {
                containers.push(facts);
            }
        }
        anyhow::Ok((containers, errors, usage))
    };
    let (ping, data_root, containers) = futures::join!(ping, data_root, containers);
    let (containers, recent_errors, usage) = containers?;
    let zombies = zombies(engine, &containers).await;
    let log_sizes = if verbose && local {
        log_sizes(&containers)
    } else {
        HashMap::new()
    };
    let disk = data_root.as_deref().and_then(stats::disk_space);
    let ping = ping.ok();
    Ok(Facts {
        now: time::now(),
        engine: EngineStatus {
            host: engine.host().to_string(),
            local,
            ping_ms: ping.map(|p| p.as_secs_f64() * 1000.0),
            disk_total: disk.map(|d| d.total),
            disk_available: disk.map(|d| d.available),
            data_root,
        },
        containers,
        zombies,
        usage,
        log_sizes,
        recent_errors,
        ping,
        disk,
    })
}

/// The last error lines across the containers' recent logs.
async fn recent_errors(engine: &Engine, sources: &[Source]) -> Vec<RecentError> {
    let mut sink = RecentErrors::new(RECENT_ERRORS);
    let request = LogRequest {
        tail: Tail::Lines(RECENT_TAIL),
        ..Default::default()
    };
    if read_merged(engine, sources, request, &mut sink)
        .await
        .is_err()
    {
        return Vec::new();
    }
    sink.into_lines()
        .into_iter()
        .map(|(source, line)| RecentError {
            service: source.label,
            time: line.timestamp.map(time::format_utc).unwrap_or_default(),
            line: line.message_lossy().trim_end().to_string(),
        })
        .collect()
}

/// Zombie processes per running container: from this machine's `/proc` when
/// the engine's PIDs are ours (a local engine, and `/proc/PID/cgroup` names
/// the container — not so when torq itself runs in a container), else
/// through the engine's `top`.
async fn zombies(engine: &Engine, containers: &[ObservedContainer]) -> HashMap<String, u32> {
    let running: Vec<(String, i64)> = containers
        .iter()
        .filter(|c| c.state == RunState::Running)
        .filter_map(|c| Some((c.id.clone(), c.pid?)))
        .collect();
    let mut counts = HashMap::new();
    let mut ask_engine = running.clone();
    if engine.is_local() {
        let local = running.clone();
        let by_pid = tokio::task::spawn_blocking(move || {
            let ours: Vec<(String, i64)> = local
                .into_iter()
                .filter(|(id, pid)| stats::pid_belongs_to(*pid, id))
                .collect();
            let pids: Vec<i64> = ours.iter().map(|(_, pid)| *pid).collect();
            (ours, stats::host_zombies(&pids))
        })
        .await;
        if let Ok((ours, by_pid)) = by_pid {
            for (id, pid) in ours {
                counts.insert(id, by_pid.get(&pid).copied().unwrap_or(0));
            }
        }
        ask_engine.retain(|(id, _)| !counts.contains_key(id));
    }
    let answers = futures::future::join_all(
        ask_engine
            .iter()
            .map(|(id, _)| stats::zombies_via_top(engine, id)),
    )
    .await;
    for ((id, _), answer) in ask_engine.into_iter().zip(answers) {
        if let Ok(n) = answer {
            counts.insert(id, n);
        }
    }
    counts
}

/// Sizes of the containers' log files (a local engine's files).
fn log_sizes(containers: &[ObservedContainer]) -> HashMap<String, u64> {
    containers
        .iter()
        .filter_map(|c| {
            let size = std::fs::metadata(c.log_path.as_deref()?).ok()?.len();
            Some((c.id.clone(), size))
        })
        .collect()
}

/// Seconds from an RFC 3339 time to `now`.
fn seconds_since(rfc3339: Option<&str>, now: Nanos) -> Option<i64> {
    let t = time::parse_rfc3339(rfc3339?.as_bytes())?;
    Some((now - t).max(0) / 1_000_000_000)
}

/// The state of one container, and whether it is crash-looping.
fn classify(c: &ObservedContainer, now: Nanos) -> (State, bool) {
    match c.state {
        RunState::Running => {
            let up = seconds_since(c.started_at.as_deref(), now).unwrap_or(i64::MAX);
            if c.restart_count.unwrap_or(0) >= CRASH_LOOP_RESTARTS && up < CRASH_LOOP_WINDOW {
                (State::Dead, true)
            } else {
                (State::Running, false)
            }
        }
        RunState::Restarting => (State::Dead, true),
        RunState::Paused => (State::Paused, false),
        _ => (State::Dead, false),
    }
}

/// Services another service waits for with `service_completed_successfully`:
/// meant to run once and exit.
fn one_shot_services(spec: &Project) -> Vec<String> {
    spec.services
        .values()
        .flat_map(|s| s.depends_on.iter())
        .filter(|(_, d)| d.condition == Condition::CompletedSuccessfully)
        .map(|(name, _)| name.clone())
        .collect()
}

fn container_status(c: &ObservedContainer, facts: &Facts, one_shot: bool) -> ContainerStatus {
    let (mut state, crash_loop) = classify(c, facts.now);
    if one_shot && c.state == RunState::Exited && c.exit_code == Some(0) {
        state = State::Completed;
    }
    let running = c.state == RunState::Running;
    let usage = facts.usage.get(&c.id).filter(|_| running);
    ContainerStatus {
        id: c.id.clone(),
        name: c.name.clone(),
        number: c.number,
        state: Some(state),
        engine_state: c.state.as_str().to_string(),
        health: c.health.filter(|_| running).map(|h| h.as_str().to_string()),
        pid: c.pid.filter(|_| running),
        started_at: c.started_at.clone(),
        finished_at: c.finished_at.clone(),
        uptime_seconds: if running {
            seconds_since(c.started_at.as_deref(), facts.now)
        } else {
            None
        },
        stopped_seconds: if running {
            None
        } else {
            seconds_since(c.finished_at.as_deref(), facts.now)
        },
        exit_code: c.exit_code.filter(|_| !running && c.finished_at.is_some()),
        oom_killed: c.oom_killed && !running,
        restarts: c.restart_count.unwrap_or(0),
        crash_loop,
        ports: c.ports.clone(),
        image: c.image.clone(),
        zombies: facts.zombies.get(&c.id).copied(),
        cpu_percent: usage.and_then(|u| u.0),
        memory_bytes: usage.map(|u| u.1.memory_used),
        memory_limit: usage.map(|u| u.1.memory_limit).filter(|l| *l > 0),
        log_path: c.log_path.clone(),
        log_size: facts.log_sizes.get(&c.id).copied(),
    }
}

/// The aggregate of a service's containers: DEAD if any is, STOPPED if fewer
/// exist than the spec asks for (or none), COMPLETED if all completed,
/// RUNNING otherwise.
fn service_state(containers: &[ContainerStatus], replicas: u32) -> State {
    if containers.iter().any(|c| c.state == Some(State::Dead)) {
        State::Dead
    } else if containers.iter().any(|c| c.state == Some(State::Paused)) {
        State::Paused
    } else if containers.is_empty() || (containers.len() as u32) < replicas {
        State::Stopped
    } else if containers.iter().all(|c| c.state == Some(State::Completed)) {
        State::Completed
    } else {
        State::Running
    }
}

/// The worst health among containers: unhealthy > starting > healthy.
fn worst_health(containers: &[ContainerStatus]) -> Option<String> {
    let rank = |h: &str| match h {
        "unhealthy" => 3,
        "starting" => 2,
        "healthy" => 1,
        _ => 0,
    };
    containers
        .iter()
        .filter_map(|c| c.health.as_deref())
        .max_by_key(|h| rank(h))
        .map(String::from)
}

/// Turns the facts into the report: services in spec order (then orphans),
/// the warnings, and whether all is well.
fn build_report(
    project: &str,
    spec: Option<&Project>,
    selected: &[String],
    facts: Facts,
) -> StatusReport {
    let mut order: Vec<(String, u32, bool)> = Vec::new();
    if let Some(spec) = spec {
        for (name, service) in &spec.services {
            if selected.is_empty() || selected.contains(name) {
                order.push((name.clone(), service.replicas(), false));
            }
        }
    }
    for c in &facts.containers {
        if c.oneoff || order.iter().any(|(name, _, _)| *name == c.service) {
            continue;
        }
        order.push((c.service.clone(), 0, spec.is_some()));
    }
    let one_shot_services = spec.map(one_shot_services).unwrap_or_default();
    let services: Vec<ServiceStatus> = order
        .into_iter()
        .map(|(service, replicas, orphan)| {
            let one_shot = one_shot_services.contains(&service);
            let mut containers: Vec<ContainerStatus> = facts
                .containers
                .iter()
                .filter(|c| c.service == service && !c.oneoff)
                .map(|c| container_status(c, &facts, one_shot))
                .collect();
            containers.sort_by_key(|c| c.number);
            ServiceStatus {
                state: Some(service_state(&containers, replicas)),
                health: worst_health(&containers),
                service,
                replicas,
                orphan,
                containers,
            }
        })
        .collect();
    let ok = services
        .iter()
        .all(|s| s.state.is_some_and(State::is_fine) && s.health.as_deref() != Some("unhealthy"));
    let warnings = warnings(&services, &facts);
    StatusReport {
        project: project.to_string(),
        ok,
        services,
        warnings,
        recent_errors: facts.recent_errors,
        engine: facts.engine,
    }
}

/// Everything worth a warning, each with what to do about it.
fn warnings(services: &[ServiceStatus], facts: &Facts) -> Vec<Warning> {
    let mut out = Vec::new();
    for s in services {
        for c in &s.containers {
            container_warnings(&s.service, c, &mut out);
        }
    }
    let stopped: Vec<&str> = services
        .iter()
        .filter(|s| s.state == Some(State::Stopped))
        .map(|s| s.service.as_str())
        .collect();
    if !stopped.is_empty() {
        let (what, them) = if stopped.len() == 1 {
            ("is", "it")
        } else {
            ("are", "them")
        };
        out.push(Warning {
            kind: "stopped",
            service: (stopped.len() == 1).then(|| stopped[0].to_string()),
            message: format!("{} {what} not running (no container)", stopped.join(", ")),
            hint: format!("start {them} with `torq up {}`", stopped.join(" ")),
        });
    }
    if let Some(disk) = facts.disk {
        let low = disk.available < LOW_DISK_BYTES || disk.available_percent() < LOW_DISK_PERCENT;
        if low {
            out.push(Warning {
                kind: "low_disk",
                service: None,
                message: format!(
                    "only {} ({:.0}%) free on {}, where the engine keeps images, containers and logs",
                    bytes(disk.available),
                    disk.available_percent(),
                    facts.engine.data_root.as_deref().unwrap_or("the engine's data directory"),
                ),
                hint: "free space: `docker system prune` removes stopped containers, unused \
                       images and build cache; cap service logs with `logging` options"
                    .into(),
            });
        }
    }
    if let Some(ping) = facts.ping.filter(|p| *p >= SLOW_PING) {
        out.push(Warning {
            kind: "slow_engine",
            service: None,
            message: format!("the engine took {} ms to answer a ping", ping.as_millis()),
            hint: "it may be overloaded: check the host's load and `docker info`; \
                   health checks and timeouts will be late too"
                .into(),
        });
    }
    out
}

fn container_warnings(service: &str, c: &ContainerStatus, out: &mut Vec<Warning>) {
    let warn = |kind, message: String, hint: String| Warning {
        kind,
        service: Some(service.to_string()),
        message,
        hint,
    };
    let logs_hint = format!("see `torq logs {service}`");
    if c.crash_loop {
        let code = c
            .exit_code
            .map(|code| format!(", last exit code {code}"))
            .unwrap_or_default();
        out.push(warn(
            "crash_loop",
            format!(
                "{} keeps restarting ({} restarts{code})",
                c.name, c.restarts
            ),
            format!("{logs_hint} for why it exits"),
        ));
    } else if c.oom_killed {
        out.push(warn(
            "oom_killed",
            format!("{} was killed for lack of memory (out of memory)", c.name),
            format!(
                "raise its memory limit (deploy.resources.limits.memory) or find what \
                 grows; {logs_hint}"
            ),
        ));
    } else if c.engine_state == "created" {
        out.push(warn(
            "not_started",
            format!("{} was created but never started", c.name),
            format!("start it with `torq up {service}`"),
        ));
    } else if c.state == Some(State::Paused) {
        out.push(warn(
            "paused",
            format!("{} is paused", c.name),
            format!("resume it with `torq unpause {service}`"),
        ));
    } else if c.state == Some(State::Dead) {
        let how = match c.exit_code {
            Some(code) => format!("exited with code {code}"),
            None => format!("is {}", c.engine_state),
        };
        out.push(warn(
            "exited",
            format!("{} {how}", c.name),
            format!("{logs_hint}; start it again with `torq up {service}`"),
        ));
    }
    if c.health.as_deref() == Some("unhealthy") {
        out.push(warn(
            "unhealthy",
            format!("{} is unhealthy", c.name),
            format!(
                "{logs_hint}, and check the service's healthcheck (`docker inspect {}`)",
                c.name
            ),
        ));
    }
    if let Some(n) = c.zombies.filter(|n| *n > 0) {
        out.push(warn(
            "zombies",
            format!(
                "{} has {n} zombie process{}",
                c.name,
                if n == 1 { "" } else { "es" }
            ),
            format!(
                "its main process does not reap its children: set `init: true` on service {service}"
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Nanos = 1_714_564_800_000_000_000; // 2024-05-01T12:00:00Z

    fn facts(service: &str, state: &str) -> ObservedContainer {
        ObservedContainer {
            id: format!("{service}-id"),
            name: format!("demo-{service}-1"),
            service: service.into(),
            number: 1,
            state: RunState::parse(state),
            pid: Some(10),
            started_at: Some("2024-05-01T11:00:00Z".into()),
            finished_at: Some("2024-05-01T11:58:00Z".into()),
            exit_code: (state != "running").then_some(3),
            ..Default::default()
        }
    }

    fn spec(services: &[(&str, u32)]) -> crate::compose::Project {
        let mut p = crate::compose::Project {
            name: "demo".into(),
            ..Default::default()
        };
        for (name, replicas) in services {
            let mut s = crate::compose::model::Service {
                name: name.to_string(),
                ..Default::default()
            };
            if *replicas != 1 {
                s.deploy = Some(crate::compose::model::Deploy {
                    replicas: Some(*replicas),
                    ..Default::default()
                });
            }
            p.services.insert(name.to_string(), s);
        }
        p
    }

    fn report(spec_services: &[(&str, u32)], containers: Vec<ObservedContainer>) -> StatusReport {
        let f = Facts {
            now: NOW,
            containers,
            ..Default::default()
        };
        build_report("demo", Some(&spec(spec_services)), &[], f)
    }

    #[test]
    fn all_running_is_ok() {
        let r = report(&[("web", 1)], vec![facts("web", "running")]);
        assert!(r.ok);
        assert_eq!(r.services[0].state, Some(State::Running));
        let c = &r.services[0].containers[0];
        assert_eq!(c.uptime_seconds, Some(3600));
        assert_eq!(c.exit_code, None);
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn the_three_states_in_spec_order() {
        let r = report(
            &[("web", 1), ("worker", 1), ("db", 1)],
            vec![facts("db", "exited"), facts("web", "running")],
        );
        let states: Vec<(&str, Option<State>)> = r
            .services
            .iter()
            .map(|s| (s.service.as_str(), s.state))
            .collect();
        assert_eq!(
            states,
            [
                ("web", Some(State::Running)),
                ("worker", Some(State::Stopped)),
                ("db", Some(State::Dead))
            ]
        );
        assert!(!r.ok);
        let db = &r.services[2].containers[0];
        assert_eq!(db.exit_code, Some(3));
        assert_eq!(db.stopped_seconds, Some(120));
        assert_eq!(db.pid, None);
        let kinds: Vec<&str> = r.warnings.iter().map(|w| w.kind).collect();
        assert_eq!(kinds, ["exited", "stopped"]);
        assert!(r.warnings[0].hint.contains("torq logs db"));
        assert_eq!(
            r.warnings[1].message,
            "worker is not running (no container)"
        );
        assert_eq!(r.warnings[1].hint, "start it with `torq up worker`");
    }

    #[test]
    fn a_one_shot_service_that_exited_0_is_completed_not_dead() {
        let mut spec = spec(&[("migrate", 1), ("api", 1)]);
        spec.services.get_mut("api").unwrap().depends_on.insert(
            "migrate".into(),
            crate::compose::model::Dependency {
                condition: Condition::CompletedSuccessfully,
                ..Default::default()
            },
        );
        let build = |migrate_exit: i64| {
            let mut migrate = facts("migrate", "exited");
            migrate.exit_code = Some(migrate_exit);
            let f = Facts {
                now: NOW,
                containers: vec![migrate, facts("api", "running")],
                ..Default::default()
            };
            build_report("demo", Some(&spec), &[], f)
        };
        let done = build(0);
        assert!(done.ok, "a completed one-shot is fine");
        assert_eq!(done.services[0].state, Some(State::Completed));
        assert!(done.warnings.is_empty(), "{:?}", done.warnings);
        let failed = build(1);
        assert!(!failed.ok);
        assert_eq!(failed.services[0].state, Some(State::Dead));
        // Without the dependency, an exit 0 is a stopped service like any other.
        let r = report(
            &[("migrate", 1)],
            vec![{
                let mut m = facts("migrate", "exited");
                m.exit_code = Some(0);
                m
            }],
        );
        assert_eq!(r.services[0].state, Some(State::Dead));
        assert!(!r.ok);
    }

    #[test]
    fn out_of_memory_is_named() {
        let mut db = facts("db", "exited");
        db.oom_killed = true;
        db.exit_code = Some(137);
        let r = report(&[("db", 1)], vec![db]);
        assert_eq!(r.warnings[0].kind, "oom_killed");
        assert!(r.warnings[0].hint.contains("memory"));
    }

    #[test]
    fn unhealthy_fails_and_warns() {
        let mut web = facts("web", "running");
        web.health = Some(crate::engine::state::HealthState::Unhealthy);
        let r = report(&[("web", 1)], vec![web]);
        assert!(!r.ok);
        assert_eq!(r.services[0].state, Some(State::Running));
        assert_eq!(r.services[0].health.as_deref(), Some("unhealthy"));
        assert_eq!(r.warnings[0].kind, "unhealthy");
        // Starting is not unhealthy.
        let mut web = facts("web", "running");
        web.health = Some(crate::engine::state::HealthState::Starting);
        assert!(report(&[("web", 1)], vec![web]).ok);
    }

    #[test]
    fn crash_loops_are_dead() {
        let mut web = facts("web", "restarting");
        web.restart_count = Some(7);
        let r = report(&[("web", 1)], vec![web]);
        assert_eq!(r.services[0].state, Some(State::Dead));
        assert!(r.services[0].containers[0].crash_loop);
        assert_eq!(r.warnings[0].kind, "crash_loop");
        // Running again for a moment after many restarts: still a loop.
        let mut web = facts("web", "running");
        web.restart_count = Some(5);
        web.started_at = Some("2024-05-01T11:59:58Z".into());
        assert_eq!(classify(&web, NOW), (State::Dead, true));
        // Many restarts long ago, running for an hour: fine.
        web.started_at = Some("2024-05-01T11:00:00Z".into());
        assert_eq!(classify(&web, NOW), (State::Running, false));
    }

    #[test]
    fn zombies_warn_with_the_init_hint() {
        let web = facts("web", "running");
        let mut f = Facts {
            now: NOW,
            containers: vec![web],
            ..Default::default()
        };
        f.zombies.insert("web-id".into(), 2);
        let r = build_report("demo", Some(&spec(&[("web", 1)])), &[], f);
        assert!(r.ok, "zombies are a warning, not a failure");
        assert_eq!(r.warnings[0].kind, "zombies");
        assert!(r.warnings[0].hint.contains("init: true"));
        assert!(r.warnings[0].message.contains("2 zombie processes"));
    }

    #[test]
    fn missing_replicas_and_orphans() {
        let mut api2 = facts("api", "running");
        api2.number = 2;
        api2.id = "api2".into();
        let r = report(
            &[("api", 3)],
            vec![facts("api", "running"), api2, facts("old", "running")],
        );
        assert_eq!(r.services[0].state, Some(State::Stopped));
        assert_eq!(r.services[0].containers.len(), 2);
        assert_eq!(r.services[1].service, "old");
        assert!(r.services[1].orphan);
        assert!(!r.ok);
    }

    #[test]
    fn without_a_spec_services_come_from_containers() {
        let f = Facts {
            now: NOW,
            containers: vec![facts("web", "running")],
            ..Default::default()
        };
        let r = build_report("demo", None, &[], f);
        assert_eq!(r.services.len(), 1);
        assert!(!r.services[0].orphan);
        assert!(r.ok);
    }

    #[test]
    fn engine_warnings() {
        let f = Facts {
            now: NOW,
            disk: Some(DiskSpace {
                total: 100 * 1024 * 1024 * 1024,
                available: 1024 * 1024 * 1024,
            }),
            ping: Some(Duration::from_millis(800)),
            ..Default::default()
        };
        let w = warnings(&[], &f);
        let kinds: Vec<&str> = w.iter().map(|w| w.kind).collect();
        assert_eq!(kinds, ["low_disk", "slow_engine"]);
        let f = Facts {
            disk: Some(DiskSpace {
                total: 100 * 1024 * 1024 * 1024,
                available: 50 * 1024 * 1024 * 1024,
            }),
            ping: Some(Duration::from_millis(2)),
            ..Default::default()
        };
        assert!(warnings(&[], &f).is_empty());
    }
}
