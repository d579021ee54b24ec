//! `status`: what runs, how healthy, what went wrong lately.
//!
//! The container list is the base (it carries labels, state, the status
//! text with health and exit code, ports, creation time); a local engine's
//! `/proc` adds running containers' PIDs, start times and zombies in one
//! scan, and only the containers the two leave something out of are
//! inspected (see [`needs_inspect`]; `--verbose` inspects all). A container
//! whose health is still `starting` is probed once, as `up` probes before
//! it calls a service healthy, so `status` never contradicts `up`. The
//! recent log tails (and with `verbose` the stats samples) are read in
//! parallel with all that, next to a ping and the engine's data directory.
//! What the answers mean — the three states, the warnings, whether all is
//! well — is decided by pure functions here and unit-tested; the result is a
//! [`StatusReport`] for the CLI to render.

pub(crate) mod report;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::future::join_all;

use crate::compose::model::{Condition, Project};
use crate::engine::container::restarts_on_its_own;
use crate::engine::health;
use crate::engine::inspect::inspect;
use crate::engine::logs::read::{read_merged, source_of};
use crate::engine::logs::LogRequest;
use crate::engine::procs;
use crate::engine::state::{
    list_containers, service_containers, HealthState, ObservedContainer, RunState,
};
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
/// Error lines shown under "Recent errors".
const RECENT_ERRORS: usize = 5;
/// Log lines searched for them: the last [`RECENT_LINES`] of the project,
/// split among its containers, at least [`RECENT_TAIL_MIN`] and at most
/// [`RECENT_TAIL_MAX`] each (reading 200 lines of each of 200 containers
/// cost more than all the rest of `status`).
const RECENT_LINES: u64 = 4_000;
const RECENT_TAIL_MIN: u64 = 10;
const RECENT_TAIL_MAX: u64 = 200;
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
    let facts = gather(engine, project, spec, request).await?;
    let one_offs = one_off_rows(&facts);
    let mut report = build_report(project, spec, &request.services, facts);
    report.services.extend(one_offs);
    Ok(report)
}

/// `status --watch`: a report now, then again whenever a container of the
/// project changes (an engine event; a burst makes one report) and at least
/// every [`WATCH_REFRESH`], each handed to `show`, until Ctrl-C or SIGTERM.
/// Through a lost engine (a broken event stream or report, or a ping
/// unanswered): said once, waited for up to `reconnect_timeout`, and the
/// view goes on when it answers again — or the one engine error.
pub(crate) async fn watch(
    project: &str,
    spec: Option<&Project>,
    request: &StatusRequest,
    reconnect_timeout: Duration,
    reporter: &dyn crate::progress::Reporter,
    mut show: impl FnMut(&StatusReport) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use crate::engine::logs::follow::LIVENESS_DEADLINE;
    let mut stop = super::StopSignals::install()?;
    let engine = super::connect().await?;
    let watching = async {
        loop {
            let unanswered =
                watch_while_connected(&engine, project, spec, request, &mut show).await?;
            if !unanswered && engine.answers_within(LIVENESS_DEADLINE).await {
                // The engine answers: only a stream or a request broke.
                tokio::time::sleep(EVENT_BURST).await;
                continue;
            }
            let resumes = "the view resumes";
            super::follow::await_return(&engine, reconnect_timeout, reporter, resumes).await?;
        }
    };
    tokio::select! {
        watched = watching => watched,
        () = stop.recv() => Ok(()),
    }
}

/// Reports as [`watch`] does until the engine may be lost: a report that
/// failed for a broken connection or an event stream that ended or broke
/// (`Ok(false)`: the caller asks the engine), or a ping left unanswered
/// (`Ok(true)`). Other errors (and `show`'s) end it.
async fn watch_while_connected(
    engine: &Engine,
    project: &str,
    spec: Option<&Project>,
    request: &StatusRequest,
    show: &mut impl FnMut(&StatusReport) -> std::io::Result<()>,
) -> anyhow::Result<bool> {
    use futures::StreamExt;
    let mut events = crate::engine::event_feed::project_events(engine, project, None);
    let mut liveness = Box::pin(crate::engine::logs::follow::until_unanswered(
        engine.clone(),
    ));
    loop {
        let reported = tokio::select! {
            reported = report(engine, project, spec, request) => reported,
            () = &mut liveness => return Ok(true),
        };
        match reported {
            Ok(report) => show(&report)?,
            Err(err) if super::is_lost_error(&err) => return Ok(false),
            Err(err) => return Err(err),
        }
        let changed = async {
            if !matches!(events.next().await, Some(Ok(_))) {
                return false;
            }
            while let Ok(Some(Ok(_))) = tokio::time::timeout(EVENT_BURST, events.next()).await {}
            true
        };
        tokio::select! {
            open = changed => if !open { return Ok(false) },
            _ = tokio::time::sleep(WATCH_REFRESH) => {}
            () = &mut liveness => return Ok(true),
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
    /// Containers whose health a probe of torq's settled (healthy).
    probed: HashSet<String>,
    usage: HashMap<String, (Option<f64>, UsageSample)>,
    log_sizes: HashMap<String, u64>,
    recent_errors: Vec<RecentError>,
    engine: EngineStatus,
    ping: Option<Duration>,
    disk: Option<DiskSpace>,
}

/// Asks the engine everything at once.
async fn gather(
    engine: &Engine,
    project: &str,
    spec: Option<&Project>,
    request: &StatusRequest,
) -> anyhow::Result<Facts> {
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
        let usage = async {
            if verbose {
                stats::usage(engine, &ids, CPU_SAMPLE_INTERVAL).await
            } else {
                HashMap::new()
            }
        };
        let (details, errors, usage) = futures::join!(
            complete(engine, listed, spec, verbose),
            recent_errors(engine, &sources),
            usage
        );
        anyhow::Ok((details?, errors, usage))
    };
    let (ping, data_root, containers) = futures::join!(ping, data_root, containers);
    let (details, recent_errors, usage) = containers?;
    let log_sizes = if verbose && local {
        log_sizes(&details.containers)
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
        containers: details.containers,
        zombies: details.zombies,
        probed: details.probed,
        usage,
        log_sizes,
        recent_errors,
        ping,
        disk,
    })
}

/// The listed containers made complete, with their zombie counts and the
/// ids whose health a probe of torq's settled.
struct Details {
    containers: Vec<ObservedContainer>,
    zombies: HashMap<String, u32>,
    probed: HashSet<String>,
}

/// What the container list lacks, asked only where needed: a local engine's
/// `/proc` gives running containers' PIDs, start times and zombies in one
/// scan; an inspect per container gives the rest ([`needs_inspect`]); a
/// container whose health is still `starting` is probed once.
async fn complete(
    engine: &Engine,
    listed: Vec<ObservedContainer>,
    spec: Option<&Project>,
    verbose: bool,
) -> anyhow::Result<Details> {
    let mains = main_processes(engine, &listed).await;
    let (to_inspect, mut plain): (Vec<_>, Vec<_>) = listed
        .into_iter()
        .partition(|c| needs_inspect(c, spec, verbose, mains.contains_key(&c.id)));
    let inspects = join_all(to_inspect.into_iter().map(|c| inspect(engine, c))).await;
    let mut containers = Vec::with_capacity(inspects.len() + plain.len());
    for facts in inspects {
        if let Some(facts) = facts? {
            containers.push(facts);
        }
    }
    for c in &mut plain {
        if let Some(main) = mains.get(&c.id) {
            c.pid = Some(main.pid);
            c.started_at = Some(time::format_utc(main.started));
            // The spec gives it no restart policy: the engine never restarted it.
            c.restart_count = Some(0);
        }
    }
    containers.append(&mut plain);
    let mut zombies: HashMap<String, u32> = mains
        .iter()
        .map(|(id, main)| (id.clone(), main.zombies))
        .collect();
    zombies.extend(zombies_via_engine(engine, &containers, &mains).await);
    let probed = probe_starting(engine, &mut containers).await;
    Ok(Details {
        containers,
        zombies,
        probed,
    })
}

/// Whether the list entry and `/proc` leave out something status shows: the
/// details of a container that does not run (exit code, finish time, OOM
/// kill), a health that is not plainly healthy (the probe's command), a
/// restart count the engine may have raised (a restart policy, or no spec to
/// tell), a PID `/proc` did not give, or `--verbose` (log file, image).
fn needs_inspect(
    c: &ObservedContainer,
    spec: Option<&Project>,
    verbose: bool,
    found_in_proc: bool,
) -> bool {
    let may_restart = c.oneoff
        || spec
            .and_then(|s| s.services.get(&c.service))
            .is_none_or(restarts_on_its_own);
    verbose
        || c.state != RunState::Running
        || matches!(
            c.health,
            Some(HealthState::Starting | HealthState::Unhealthy)
        )
        || may_restart
        || !found_in_proc
}

/// The main processes of the running containers, from this machine's
/// `/proc` when the engine is local (empty otherwise).
async fn main_processes(
    engine: &Engine,
    containers: &[ObservedContainer],
) -> HashMap<String, procs::MainProcess> {
    if !engine.is_local() {
        return HashMap::new();
    }
    let running: Vec<String> = containers
        .iter()
        .filter(|c| c.state == RunState::Running)
        .map(|c| c.id.clone())
        .collect();
    if running.is_empty() {
        return HashMap::new();
    }
    tokio::task::spawn_blocking(move || procs::main_processes(&running))
        .await
        .unwrap_or_default()
}

/// Longest a probe of `status` may take, whatever the healthcheck's timeout.
const STATUS_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the healthcheck's test once in every running container whose health
/// is `starting` (in parallel), as `up` does before it calls a service
/// healthy: a pass shows as healthy, marked as probed. Returns their ids.
async fn probe_starting(engine: &Engine, containers: &mut [ObservedContainer]) -> HashSet<String> {
    let probes = containers.iter().enumerate().filter_map(|(i, c)| {
        let starting = c.state == RunState::Running && c.health == Some(HealthState::Starting);
        let command = health::test_command(&c.health_test).filter(|_| starting)?;
        let timeout = c
            .health_timeout
            .unwrap_or(STATUS_PROBE_TIMEOUT)
            .min(STATUS_PROBE_TIMEOUT);
        let id = c.id.clone();
        Some(async move { (i, health::probe_once(engine, &id, command, timeout).await) })
    });
    let mut probed = HashSet::new();
    for (i, passed) in join_all(probes).await {
        if passed {
            containers[i].health = Some(HealthState::Healthy);
            probed.insert(containers[i].id.clone());
        }
    }
    probed
}

/// The last error lines across the containers' recent logs.
async fn recent_errors(engine: &Engine, sources: &[Source]) -> Vec<RecentError> {
    let mut sink = RecentErrors::new(RECENT_ERRORS);
    let request = LogRequest {
        tail: Tail::Lines(recent_tail(sources.len())),
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

/// Log lines searched per container for recent errors, among `containers`.
fn recent_tail(containers: usize) -> u64 {
    (RECENT_LINES / containers.max(1) as u64).clamp(RECENT_TAIL_MIN, RECENT_TAIL_MAX)
}

/// Zombie processes of the running containers `/proc` did not show (a
/// remote engine, or torq in another PID namespace), through the engine's
/// `top`.
async fn zombies_via_engine(
    engine: &Engine,
    containers: &[ObservedContainer],
    seen_in_proc: &HashMap<String, procs::MainProcess>,
) -> HashMap<String, u32> {
    let ask: Vec<&str> = containers
        .iter()
        .filter(|c| c.state == RunState::Running && !seen_in_proc.contains_key(&c.id))
        .map(|c| c.id.as_str())
        .collect();
    let answers = join_all(ask.iter().map(|id| stats::zombies_via_top(engine, id))).await;
    ask.into_iter()
        .zip(answers)
        .filter_map(|(id, answer)| Some((id.to_string(), answer.ok()?)))
        .collect()
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
        health_probed: running && facts.probed.contains(&c.id),
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
    fn only_what_the_list_and_proc_leave_out_is_inspected() {
        let mut spec = spec(&[("web", 1), ("worker", 1)]);
        spec.services.get_mut("worker").unwrap().restart = Some("on-failure".into());
        let web = facts("web", "running");
        // Running, no restart policy, found in /proc: nothing missing.
        assert!(!needs_inspect(&web, Some(&spec), false, true));
        // Everything else is inspected.
        assert!(needs_inspect(&web, Some(&spec), true, true), "verbose");
        assert!(
            needs_inspect(&web, Some(&spec), false, false),
            "not in /proc"
        );
        assert!(needs_inspect(&web, None, false, true), "no spec to tell");
        let worker = facts("worker", "running");
        assert!(
            needs_inspect(&worker, Some(&spec), false, true),
            "restart policy"
        );
        assert!(needs_inspect(
            &facts("web", "exited"),
            Some(&spec),
            false,
            true
        ));
        let mut starting = facts("web", "running");
        starting.health = Some(HealthState::Starting);
        assert!(needs_inspect(&starting, Some(&spec), false, true));
        let mut healthy = facts("web", "running");
        healthy.health = Some(HealthState::Healthy);
        assert!(!needs_inspect(&healthy, Some(&spec), false, true));
        let mut orphan = facts("gone", "running");
        orphan.service = "gone".into();
        assert!(
            needs_inspect(&orphan, Some(&spec), false, true),
            "not in the spec"
        );
    }

    #[test]
    fn a_probed_health_is_reported_as_such() {
        let mut web = facts("web", "running");
        web.health = Some(HealthState::Healthy);
        let mut f = Facts {
            now: NOW,
            containers: vec![web],
            ..Default::default()
        };
        f.probed.insert("web-id".into());
        let r = build_report("demo", Some(&spec(&[("web", 1)])), &[], f);
        let c = &r.services[0].containers[0];
        assert_eq!(c.health.as_deref(), Some("healthy"));
        assert!(c.health_probed);
        assert!(r.ok);
    }

    #[test]
    fn the_recent_error_search_shares_a_budget_of_lines() {
        assert_eq!(recent_tail(1), 200);
        assert_eq!(recent_tail(8), 200);
        assert_eq!(recent_tail(50), 80);
        assert_eq!(recent_tail(200), 20);
        assert_eq!(recent_tail(500), 10);
        assert_eq!(recent_tail(0), 200);
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
