//! The benchmark floors of `bench/run`: the same work as `torq`/`docker compose`
//! as raw Engine API calls, with no CLI, no spec and no tool logic. What a
//! tool adds on top of these numbers is its own overhead.
//!
//! ```text
//! bench_floor up   PROJECT IMAGE N [--strategy S] -- CMD...
//!     create a network and N containers running CMD, start them all
//! bench_floor down PROJECT [--strategy S | --levels CONFIG.json]
//!     stop (10 s grace) and remove every container of PROJECT, then its network;
//!     with --levels, in reverse dependency order (a level stops after the
//!     levels that depend on it; each container is removed once stopped)
//! bench_floor logs PROJECT [--timestamps]
//!     read every container's whole log (stdout+stderr) and discard it
//! bench_floor stack8 PROJECT CONFIG.json [--gate health|exec]
//!     create all services of a compose project (`docker compose config
//!     --format json`), then start them level by level; a level is ready when
//!     every member is healthy: by Docker's own `health_status: healthy`
//!     event (`health`, the default), or as soon as the service's healthcheck
//!     test, run by exec back to back from the moment the start returns,
//!     passes (`exec`: the floor of torq's fast health)
//!
//! bench_floor measure FILE -- CMD...
//!     run CMD, write its wall time and peak RSS (`SECONDS MAXRSS_KB`) to FILE
//! ```
//!
//! Strategies (`--strategy`), for `up` and `down`:
//! - `pipeline:K`: per container, create then start (stop then remove),
//!   at most K containers in flight (0: all at once);
//! - `phased:K`: create every container, then start every container (stop
//!   all, then remove all), at most K requests in flight (0: all at once).
//!
//! Containers carry the compose labels, so a floor project can be inspected
//! (and cleaned up) like any other. Each subcommand prints its wall time in
//! seconds on stdout; `stack8` prints `event-floor SECONDS` on stderr: the sum
//! over levels of (last member ready − first member's `start` event), from
//! the engine's own event timestamps.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures::{Future, StreamExt, TryStreamExt};
use serde_json::Value;
use torq::engine::{labels, Engine};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("measure") {
        // Before any runtime exists: this process's own footprint is the
        // baseline the measured child is forked from.
        return measure(&args[1..]);
    }
    // One thread, as torq runs: on two cores a multi-threaded runtime's
    // wake-ups take CPU from the engine (logs4 read 30 % slower with one).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Vec<String>) -> Result<()> {
    let engine = Engine::connect().await?;
    let started = Instant::now();
    match args.first().map(String::as_str) {
        Some("up") => up(&engine, &args[1..]).await?,
        Some("down") => down(&engine, &args[1..]).await?,
        Some("logs") => logs(&engine, &args[1..]).await?,
        Some("stack8") => stack8(&engine, &args[1..]).await?,
        _ => bail!("usage: bench_floor up|down|logs|stack8 PROJECT ... | measure FILE -- CMD..."),
    }
    println!("{:.3}", started.elapsed().as_secs_f64());
    Ok(())
}

/// `measure FILE -- CMD...`: runs CMD as a child forked from this small
/// process and writes `SECONDS MAXRSS_KB` to FILE; exits with CMD's exit code
/// (128+N when killed by signal N). A child forked from a big process (a
/// Python harness) inherits that process's resident size into its peak RSS
/// (`ru_maxrss` counts the memory it had before `exec`), which would hide
/// any figure below it.
fn measure(args: &[String]) -> Result<()> {
    use std::ffi::CString;
    let file = arg(args, 0)?;
    let command: Vec<CString> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    if command.is_empty() {
        bail!("usage: bench_floor measure FILE -- CMD...");
    }
    let mut argv: Vec<*const libc::c_char> = command.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let started = Instant::now();
    // SAFETY: plain fork/exec; the child only calls async-signal-safe
    // functions (execvp, _exit) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            libc::execvp(argv[0], argv.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data, written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            bail!("wait4: {err}");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    std::fs::write(file, format!("{seconds:.6} {}\n", usage.ru_maxrss))?;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    std::process::exit(code);
}

fn arg(args: &[String], i: usize) -> Result<&str> {
    args.get(i)
        .map(String::as_str)
        .with_context(|| format!("missing argument {i}"))
}

/// The value after `--name`, if given (before a `--` separator).
fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    args[..end]
        .iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// How `up` and `down` schedule their requests.
#[derive(Debug, Clone, Copy)]
enum Strategy {
    /// Per container, both requests back to back; at most K containers in flight.
    Pipeline(usize),
    /// All first requests, then all second ones; at most K in flight.
    Phased(usize),
}

impl Strategy {
    fn parse(text: Option<&str>) -> Result<Strategy> {
        let text = text.unwrap_or("pipeline:0");
        let (kind, k) = text.split_once(':').unwrap_or((text, "0"));
        let k: usize = k.parse().context("strategy K must be a number")?;
        match kind {
            "pipeline" => Ok(Strategy::Pipeline(k)),
            "phased" => Ok(Strategy::Phased(k)),
            _ => bail!("unknown strategy {text} (pipeline:K or phased:K)"),
        }
    }
}

/// Runs `tasks` with at most `k` in flight (0: all at once); the first error wins.
async fn bounded<F, T>(k: usize, tasks: impl IntoIterator<Item = F>) -> Result<Vec<T>>
where
    F: Future<Output = Result<T>>,
{
    let tasks: Vec<F> = tasks.into_iter().collect();
    let k = if k == 0 { tasks.len().max(1) } else { k };
    futures::stream::iter(tasks)
        .buffer_unordered(k)
        .try_collect()
        .await
}

fn compose_labels(project: &str, service: &str) -> HashMap<String, String> {
    HashMap::from([
        (labels::PROJECT.to_string(), project.to_string()),
        (labels::SERVICE.to_string(), service.to_string()),
        (labels::CONTAINER_NUMBER.to_string(), "1".to_string()),
        (labels::ONEOFF.to_string(), "False".to_string()),
    ])
}

async fn create_network(docker: &Docker, project: &str) -> Result<String> {
    let network = format!("{project}_default");
    docker
        .create_network(NetworkCreateRequest {
            name: network.clone(),
            labels: Some(HashMap::from([
                (labels::PROJECT.to_string(), project.to_string()),
                (labels::NETWORK.to_string(), "default".to_string()),
            ])),
            ..Default::default()
        })
        .await
        .context("create network")?;
    Ok(network)
}

async fn create(docker: &Docker, name: &str, body: ContainerCreateBody) -> Result<String> {
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    let created = docker
        .create_container(Some(options), body)
        .await
        .with_context(|| format!("create {name}"))?;
    Ok(created.id)
}

async fn start(docker: &Docker, id: &str) -> Result<()> {
    docker
        .start_container(id, None)
        .await
        .with_context(|| format!("start {id}"))
}

async fn up(engine: &Engine, args: &[String]) -> Result<()> {
    let project = arg(args, 0)?;
    let image = arg(args, 1)?;
    let count: usize = arg(args, 2)?.parse().context("N must be a number")?;
    let strategy = Strategy::parse(option(args, "--strategy"))?;
    let command: Vec<String> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .cloned()
        .collect();
    let docker = engine.docker();
    let network = create_network(docker, project).await?;
    let containers: Vec<(String, ContainerCreateBody)> = (0..count)
        .map(|i| {
            let service = format!("s{i:02}");
            let body = ContainerCreateBody {
                image: Some(image.to_string()),
                cmd: (!command.is_empty()).then(|| command.clone()),
                labels: Some(compose_labels(project, &service)),
                host_config: Some(HostConfig {
                    network_mode: Some(network.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            };
            (format!("{project}-{service}-1"), body)
        })
        .collect();
    match strategy {
        Strategy::Pipeline(k) => {
            bounded(
                k,
                containers.into_iter().map(|(name, body)| async move {
                    let id = create(docker, &name, body).await?;
                    start(docker, &id).await
                }),
            )
            .await?;
        }
        Strategy::Phased(k) => {
            let ids = bounded(
                k,
                containers
                    .into_iter()
                    .map(|(name, body)| async move { create(docker, &name, body).await }),
            )
            .await?;
            bounded(k, ids.iter().map(|id| start(docker, id))).await?;
        }
    }
    Ok(())
}

async fn project_containers(engine: &Engine, project: &str) -> Result<Vec<String>> {
    let filters = HashMap::from([("label", vec![labels::project_filter(project)])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let containers = engine.docker().list_containers(Some(options)).await?;
    Ok(containers.into_iter().filter_map(|c| c.id).collect())
}

async fn stop(docker: &Docker, id: &str) -> Result<()> {
    let options = StopContainerOptionsBuilder::new().t(10).build();
    docker
        .stop_container(id, Some(options))
        .await
        .with_context(|| format!("stop {id}"))
}

async fn remove(docker: &Docker, id: &str) -> Result<()> {
    let options = RemoveContainerOptionsBuilder::new().v(true).build();
    docker
        .remove_container(id, Some(options))
        .await
        .with_context(|| format!("remove {id}"))
}

async fn down(engine: &Engine, args: &[String]) -> Result<()> {
    let project = arg(args, 0)?;
    let strategy = Strategy::parse(option(args, "--strategy"))?;
    let docker = engine.docker();
    if let Some(config) = option(args, "--levels") {
        down_by_levels(docker, project, config).await?;
        return remove_network(docker, project).await;
    }
    let ids = project_containers(engine, project).await?;
    match strategy {
        Strategy::Pipeline(k) => {
            bounded(
                k,
                ids.iter().map(|id| async move {
                    stop(docker, id).await?;
                    remove(docker, id).await
                }),
            )
            .await?;
        }
        Strategy::Phased(k) => {
            bounded(k, ids.iter().map(|id| stop(docker, id))).await?;
            bounded(k, ids.iter().map(|id| remove(docker, id))).await?;
        }
    }
    remove_network(docker, project).await
}

async fn remove_network(docker: &Docker, project: &str) -> Result<()> {
    docker
        .remove_network(&format!("{project}_default"))
        .await
        .context("remove network")
}

/// Stops the services of a compose project deepest level first (a service
/// stops once everything that depends on it has stopped), each level's
/// members at once; each container is removed as soon as it has stopped,
/// while the next level stops.
async fn down_by_levels(docker: &Docker, project: &str, config_path: &str) -> Result<()> {
    let config: Value = serde_json::from_str(&std::fs::read_to_string(config_path)?)?;
    let services = config["services"]
        .as_object()
        .context("no services in the config")?;
    let level = levels(services)?;
    let depth = level.values().max().copied().unwrap_or(0) + 1;
    let mut removals = Vec::new();
    for l in (0..depth).rev() {
        let members: Vec<String> = level
            .iter()
            .filter(|(_, v)| **v == l)
            .map(|(k, _)| format!("{project}-{k}-1"))
            .collect();
        bounded(0, members.iter().map(|c| stop(docker, c))).await?;
        for c in members {
            let docker = docker.clone();
            removals.push(tokio::spawn(async move { remove(&docker, &c).await }));
        }
    }
    for removal in removals {
        removal.await??;
    }
    Ok(())
}

async fn logs(engine: &Engine, args: &[String]) -> Result<()> {
    let project = arg(args, 0)?;
    let timestamps = args.iter().any(|a| a == "--timestamps");
    let docker = engine.docker();
    let ids = project_containers(engine, project).await?;
    let reads = ids.iter().map(|id| async move {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(timestamps)
            .tail("all")
            .build();
        let bytes = docker
            .logs(id, Some(options))
            .map_ok(|chunk| chunk.into_bytes().len())
            .try_fold(0usize, |sum, n| async move { Ok(sum + n) })
            .await?;
        anyhow::Ok(bytes)
    });
    let total: usize = bounded(0, reads).await?.into_iter().sum();
    eprintln!("read {total} bytes");
    Ok(())
}

/// A compose duration (`1s`, `500ms`, `1m30s`) in nanoseconds.
fn duration_ns(text: &str) -> Result<i64> {
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let value: f64 = number
            .parse()
            .with_context(|| format!("bad duration {text}"))?;
        number.clear();
        total += value
            * match unit.as_str() {
                "h" => 3.6e12,
                "m" => 6e10,
                "s" => 1e9,
                "ms" => 1e6,
                "us" => 1e3,
                "ns" => 1.0,
                _ => bail!("bad duration unit in {text}"),
            };
    }
    Ok(total as i64)
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    })
}

/// Dependency level of every service: one after its deepest dependency.
fn levels(services: &serde_json::Map<String, Value>) -> Result<HashMap<String, usize>> {
    let mut level: HashMap<String, usize> = HashMap::new();
    while level.len() < services.len() {
        let before = level.len();
        for (name, svc) in services {
            if level.contains_key(name) {
                continue;
            }
            let deps: Vec<&String> = svc["depends_on"]
                .as_object()
                .map(|d| d.keys().collect())
                .unwrap_or_default();
            if deps.iter().all(|d| level.contains_key(*d)) {
                let l = deps.iter().map(|d| level[*d] + 1).max().unwrap_or(0);
                level.insert(name.clone(), l);
            }
        }
        if level.len() == before {
            bail!("dependency cycle");
        }
    }
    Ok(level)
}

/// The command to exec for a healthcheck test (`CMD …` or `CMD-SHELL …`).
fn probe_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first()? {
        (kind, rest) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        (kind, rest) if kind == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

/// Runs `cmd` in container `id` until it exits 0, back to back.
async fn probe_until_passes(docker: &Docker, id: &str, cmd: &[String]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let exec = docker
            .create_exec(
                id,
                CreateExecOptions::<String> {
                    cmd: Some(cmd.to_vec()),
                    attach_stdout: Some(false),
                    attach_stderr: Some(false),
                    ..Default::default()
                },
            )
            .await?;
        let run = docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await?;
        if let StartExecResults::Attached { mut output, .. } = run {
            while let Some(item) = output.next().await {
                item?;
            }
        }
        if docker.inspect_exec(&exec.id).await?.exit_code == Some(0) {
            return Ok(());
        }
    }
    bail!("{id}: the healthcheck test did not pass within 60 s")
}

async fn stack8(engine: &Engine, args: &[String]) -> Result<()> {
    let project = arg(args, 0)?;
    let config_path = arg(args, 1)?;
    let exec_gate = match option(args, "--gate").unwrap_or("health") {
        "health" => false,
        "exec" => true,
        other => bail!("unknown gate {other} (health or exec)"),
    };
    let config: Value = serde_json::from_str(&std::fs::read_to_string(config_path)?)?;
    let services = config["services"]
        .as_object()
        .context("no services in the config")?;
    let docker = engine.docker();
    // Events are replayed from a second before anything happens: bollard
    // sends the request only when the stream is first polled.
    let since = (now_ns() / 1_000_000_000 - 1).to_string();
    let network = create_network(docker, project).await?;
    let level = levels(services)?;
    let depth = level.values().max().copied().unwrap_or(0) + 1;

    let creates = services.iter().map(|(name, svc)| {
        let hc = &svc["healthcheck"];
        let health = HealthConfig {
            test: strings(&hc["test"]),
            interval: hc["interval"].as_str().and_then(|d| duration_ns(d).ok()),
            timeout: hc["timeout"].as_str().and_then(|d| duration_ns(d).ok()),
            retries: hc["retries"].as_i64(),
            start_period: None,
            start_interval: None,
        };
        let body = ContainerCreateBody {
            image: svc["image"].as_str().map(str::to_string),
            cmd: strings(&svc["command"]),
            healthcheck: Some(health),
            labels: Some(compose_labels(project, name)),
            host_config: Some(HostConfig {
                network_mode: Some(network.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let container = format!("{project}-{name}-1");
        async move { create(docker, &container, body).await }
    });
    bounded(0, creates).await?;

    let filters = HashMap::from([
        ("label", vec![labels::project_filter(project)]),
        ("type", vec!["container".to_string()]),
    ]);
    let mut events = docker.events(Some(
        EventsOptionsBuilder::new()
            .since(&since)
            .filters(&filters)
            .build(),
    ));
    let mut event_floor_ns = 0i64;
    for l in 0..depth {
        let members: Vec<&String> = level
            .iter()
            .filter(|(_, v)| **v == l)
            .map(|(k, _)| k)
            .collect();
        let mut first_start = i64::MAX;
        let mut last_ready = 0i64;
        if exec_gate {
            let gates = members.iter().map(|name| {
                let container = format!("{project}-{name}-1");
                let cmd = strings(&services[name.as_str()]["healthcheck"]["test"])
                    .and_then(|t| probe_command(&t));
                async move {
                    let cmd = cmd.with_context(|| format!("{container}: no healthcheck test"))?;
                    start(docker, &container).await?;
                    probe_until_passes(docker, &container, &cmd).await?;
                    anyhow::Ok(now_ns())
                }
            });
            last_ready = bounded(0, gates).await?.into_iter().max().unwrap_or(0);
        } else {
            let starts = members.iter().map(|name| {
                let container = format!("{project}-{name}-1");
                async move { start(docker, &container).await }
            });
            bounded(0, starts).await?;
        }
        // The members' start events (and, gated on health, their healthy ones).
        let mut started = 0usize;
        let mut healthy = 0usize;
        while started < members.len() || (!exec_gate && healthy < members.len()) {
            let event = events.next().await.context("event stream ended")??;
            let action = event.action.unwrap_or_default();
            let time = event.time_nano.unwrap_or_default();
            let service = event
                .actor
                .and_then(|a| a.attributes)
                .and_then(|a| a.get(labels::SERVICE).cloned())
                .unwrap_or_default();
            if !members.iter().any(|m| **m == service) {
                continue;
            }
            if action == "start" {
                started += 1;
                first_start = first_start.min(time);
            } else if action == "health_status: healthy" && !exec_gate {
                healthy += 1;
                last_ready = last_ready.max(time);
            }
        }
        event_floor_ns += last_ready - first_start.min(last_ready);
    }
    eprintln!("event-floor {:.3}", event_floor_ns as f64 / 1e9);
    Ok(())
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
