//! The benchmark floors of `bench/run`: the same work as `torq`/`docker compose`
//! as raw Engine API calls, all in parallel, with no CLI and no tool logic. What
//! a tool adds on top of these numbers is its own overhead.
//!
//! ```text
//! bench_floor up   PROJECT IMAGE N  -- CMD...   create a network and N containers, start all
//! bench_floor down PROJECT                      stop (10 s grace) and remove all, then the network
//! bench_floor logs PROJECT                      read every container's whole log, discard it
//! bench_floor stack8 PROJECT CONFIG.json        create all services of a compose project
//!                                               (`docker compose config --format json`), then
//!                                               start level by level, each level gated on
//!                                               Docker's own `healthy` event
//! ```
//!
//! Containers carry the compose labels, so a floor project can be inspected
//! (and cleaned up) like any other. Each subcommand prints its wall time in
//! seconds on stdout.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::{StreamExt, TryStreamExt};
use torq::engine::{labels, Engine};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let engine = Engine::connect().await?;
    let started = Instant::now();
    match args.first().map(String::as_str) {
        Some("up") => up(&engine, &args[1..]).await?,
        Some("down") => down(&engine, arg(&args, 1)?).await?,
        Some("logs") => logs(&engine, arg(&args, 1)?).await?,
        Some("stack8") => stack8(&engine, arg(&args, 1)?, arg(&args, 2)?).await?,
        _ => bail!("usage: bench_floor up|down|logs PROJECT ..."),
    }
    println!("{:.3}", started.elapsed().as_secs_f64());
    // (stack8 prints its event-derived floor on stderr)
    Ok(())
}

fn arg(args: &[String], i: usize) -> Result<&str> {
    args.get(i)
        .map(String::as_str)
        .with_context(|| format!("missing argument {i}"))
}

async fn up(engine: &Engine, args: &[String]) -> Result<()> {
    let project = arg(args, 0)?;
    let image = arg(args, 1)?;
    let count: usize = arg(args, 2)?.parse().context("N must be a number")?;
    let command: Vec<String> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .cloned()
        .collect();
    let docker = engine.docker();
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
    let tasks = (0..count).map(|i| {
        let service = format!("s{i:02}");
        let name = format!("{project}-{service}-1");
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: (!command.is_empty()).then(|| command.clone()),
            labels: Some(HashMap::from([
                (labels::PROJECT.to_string(), project.to_string()),
                (labels::SERVICE.to_string(), service),
                (labels::CONTAINER_NUMBER.to_string(), "1".to_string()),
                (labels::ONEOFF.to_string(), "False".to_string()),
            ])),
            host_config: Some(HostConfig {
                network_mode: Some(network.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        async move {
            let options = CreateContainerOptionsBuilder::new().name(&name).build();
            let created = docker.create_container(Some(options), body).await?;
            docker.start_container(&created.id, None).await?;
            anyhow::Ok(())
        }
    });
    futures::future::try_join_all(tasks).await?;
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

async fn down(engine: &Engine, project: &str) -> Result<()> {
    let docker = engine.docker();
    let ids = project_containers(engine, project).await?;
    let tasks = ids.iter().map(|id| async move {
        let stop = StopContainerOptionsBuilder::new().t(10).build();
        docker.stop_container(id, Some(stop)).await?;
        let remove = RemoveContainerOptionsBuilder::new().force(true).build();
        docker.remove_container(id, Some(remove)).await?;
        anyhow::Ok(())
    });
    futures::future::try_join_all(tasks).await?;
    docker
        .remove_network(&format!("{project}_default"))
        .await
        .context("remove network")?;
    Ok(())
}

async fn logs(engine: &Engine, project: &str) -> Result<()> {
    let docker = engine.docker();
    let ids = project_containers(engine, project).await?;
    let tasks = ids.iter().map(|id| async move {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .tail("all")
            .build();
        let bytes = docker
            .logs(id, Some(options))
            .map_ok(|chunk| chunk.into_bytes().len())
            .try_fold(0usize, |sum, n| async move { Ok(sum + n) })
            .await?;
        anyhow::Ok(bytes)
    });
    let total: usize = futures::stream::iter(tasks)
        .buffer_unordered(16)
        .try_fold(0, |sum, n| async move { Ok(sum + n) })
        .await?;
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

async fn stack8(engine: &Engine, project: &str, config_path: &str) -> Result<()> {
    use bollard::models::HealthConfig;
    use bollard::query_parameters::EventsOptionsBuilder;
    use serde_json::Value;

    let config: Value = serde_json::from_str(&std::fs::read_to_string(config_path)?)?;
    let services = config["services"]
        .as_object()
        .context("no services in the config")?;
    let docker = engine.docker();
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
        .await?;

    // Levels: a service goes one level after its deepest dependency.
    let mut level: HashMap<String, usize> = HashMap::new();
    while level.len() < services.len() {
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
    }
    let depth = level.values().max().copied().unwrap_or(0) + 1;

    let creates = services.iter().map(|(name, svc)| {
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
        };
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
            labels: Some(HashMap::from([
                (labels::PROJECT.to_string(), project.to_string()),
                (labels::SERVICE.to_string(), name.clone()),
                (labels::CONTAINER_NUMBER.to_string(), "1".to_string()),
                (labels::ONEOFF.to_string(), "False".to_string()),
            ])),
            host_config: Some(HostConfig {
                network_mode: Some(network.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let container = format!("{project}-{name}-1");
        async move {
            let options = CreateContainerOptionsBuilder::new()
                .name(&container)
                .build();
            docker.create_container(Some(options), body).await?;
            anyhow::Ok(())
        }
    });
    futures::future::try_join_all(creates).await?;

    let filters = HashMap::from([
        ("label", vec![labels::project_filter(project)]),
        ("type", vec!["container".to_string()]),
    ]);
    let mut events = docker.events(Some(EventsOptionsBuilder::new().filters(&filters).build()));
    let mut event_floor_ns = 0i64;
    for l in 0..depth {
        let members: Vec<&String> = level
            .iter()
            .filter(|(_, v)| **v == l)
            .map(|(k, _)| k)
            .collect();
        let starts = members.iter().map(|name| {
            let container = format!("{project}-{name}-1");
            async move { docker.start_container(&container, None).await }
        });
        futures::future::try_join_all(starts).await?;
        let mut first_start = i64::MAX;
        let mut last_healthy = 0i64;
        let mut healthy = 0usize;
        while healthy < members.len() {
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
                first_start = first_start.min(time);
            } else if action.starts_with("health_status")
                && action.ends_with("healthy")
                && !action.ends_with("unhealthy")
            {
                healthy += 1;
                last_healthy = last_healthy.max(time);
            }
        }
        event_floor_ns += last_healthy - first_start.min(last_healthy);
    }
    eprintln!("event-floor {:.3}", event_floor_ns as f64 / 1e9);
    Ok(())
}
