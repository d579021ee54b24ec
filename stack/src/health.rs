//! Health without a shell. Every service keeps named checks (e.g. "connected
//! to the market_data relay") and answers on an abstract Unix socket
//! (`@torq-health/NAME`, private to the container's network namespace) with a
//! one-line JSON report. `torq node probe` reads it — or connects to a relay
//! socket, or GETs an HTTP URL — and exits 0 when healthy, 1 otherwise.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{
    SocketAddr, UnixListener as StdUnixListener, UnixStream as StdUnixStream,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

use crate::transport::Endpoint;

/// A service's health checks, shared between its tasks.
#[derive(Debug, Clone, Default)]
pub struct Health {
    checks: Arc<Mutex<BTreeMap<String, bool>>>,
}

/// The report a status endpoint answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The endpoint's name.
    pub name: String,
    /// All checks pass.
    pub healthy: bool,
    /// Each check and whether it passes.
    pub checks: BTreeMap<String, bool>,
}

impl Health {
    /// No checks yet (healthy).
    pub fn new() -> Health {
        Health::default()
    }

    /// Sets a check.
    pub fn set(&self, check: &str, ok: bool) {
        if let Ok(mut checks) = self.checks.lock() {
            checks.insert(check.to_string(), ok);
        }
    }

    /// The current report.
    pub fn report(&self, name: &str) -> Report {
        let checks = self.checks.lock().map(|c| c.clone()).unwrap_or_default();
        Report {
            name: name.to_string(),
            healthy: checks.values().all(|ok| *ok),
            checks,
        }
    }
}

/// The abstract socket address of status endpoint `name`.
fn endpoint(name: &str) -> std::io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(format!("torq-health/{name}"))
}

/// Serves `health` as status endpoint `name` until `cancel`. A name already
/// taken (another process in the same network namespace) is logged, not fatal.
pub fn serve(name: String, health: Health, cancel: CancellationToken) {
    let listener = match bind(&name) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!("health endpoint @torq-health/{name} unavailable: {error:#}");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((mut stream, _)) = accepted else {
                continue;
            };
            let mut line = serde_json::to_string(&health.report(&name)).unwrap_or_default();
            line.push('\n');
            tokio::spawn(async move {
                let _ = stream.write_all(line.as_bytes()).await;
            });
        }
    });
}

fn bind(name: &str) -> anyhow::Result<UnixListener> {
    let listener = StdUnixListener::bind_addr(&endpoint(name)?)?;
    listener.set_nonblocking(true)?;
    Ok(UnixListener::from_std(listener)?)
}

/// What `torq node probe` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeTarget {
    /// A service's status endpoint.
    Endpoint(String),
    /// A relay address accepting connections.
    Socket(Endpoint),
    /// An HTTP URL answering 2xx.
    Http(String),
}

/// Runs one probe; `Ok` carries a line describing the healthy state.
pub fn probe(target: &ProbeTarget, timeout: Duration) -> anyhow::Result<String> {
    match target {
        ProbeTarget::Endpoint(name) => probe_endpoint(name, timeout),
        ProbeTarget::Socket(endpoint) => {
            endpoint
                .probe(timeout)
                .with_context(|| format!("cannot connect to {endpoint}"))?;
            Ok(format!("{endpoint} accepts connections"))
        }
        ProbeTarget::Http(url) => probe_http(url, timeout),
    }
}

fn probe_endpoint(name: &str, timeout: Duration) -> anyhow::Result<String> {
    let mut stream = StdUnixStream::connect_addr(&endpoint(name)?)
        .with_context(|| format!("no health endpoint @torq-health/{name}"))?;
    stream.set_read_timeout(Some(timeout))?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .context("reading the health report")?;
    let report: Report = serde_json::from_str(text.trim())
        .with_context(|| format!("malformed health report: {text:?}"))?;
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(check, _)| check.as_str())
        .collect();
    if report.healthy {
        Ok(format!("{name}: healthy"))
    } else {
        bail!("{name}: unhealthy: {}", failing.join(", "))
    }
}

/// A plain HTTP/1.1 GET (the probe has no TLS and needs none).
fn probe_http(url: &str, timeout: Duration) -> anyhow::Result<String> {
    let (authority, path) = split_http_url(url)?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("no address for {authority}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {authority}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .context("reading the response")?;
    let status_line = String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("not an HTTP response: {status_line:?}"))?;
    if (200..300).contains(&code) {
        Ok(format!("{url}: {status_line}"))
    } else {
        bail!("{url}: {status_line}")
    }
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_http_url(url: &str) -> anyhow::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    if authority.is_empty() || !authority.contains(':') {
        bail!("`{url}` needs a host and a port");
    }
    Ok((authority, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_the_conjunction_of_its_checks() {
        let health = Health::new();
        assert!(health.report("x").healthy);
        health.set("market_data relay", true);
        health.set("signal relay", false);
        let report = health.report("x");
        assert!(!report.healthy);
        health.set("signal relay", true);
        assert!(health.report("x").healthy);
    }

    #[test]
    fn http_urls_split_into_authority_and_path() {
        assert_eq!(
            split_http_url("http://127.0.0.1:8080/health").unwrap(),
            ("127.0.0.1:8080", "/health")
        );
        assert_eq!(
            split_http_url("http://localhost:1").unwrap(),
            ("localhost:1", "/")
        );
        let err = split_http_url("https://x:1/").unwrap_err();
        assert!(
            format!("{err:#}").contains("is not an http:// URL"),
            "{err:#}"
        );
        let err = split_http_url("http://nohost/").unwrap_err();
        assert!(
            format!("{err:#}").contains("needs a host and a port"),
            "{err:#}"
        );
    }

    #[tokio::test]
    async fn probe_reads_the_endpoint() {
        let name = format!("unit-test-{}", std::process::id());
        let health = Health::new();
        health.set("relay", false);
        let cancel = CancellationToken::new();
        serve(name.clone(), health.clone(), cancel.clone());
        let target = ProbeTarget::Endpoint(name.clone());
        let probe_now = |target: ProbeTarget| {
            tokio::task::spawn_blocking(move || probe(&target, Duration::from_secs(2)))
        };
        let unhealthy = probe_now(target.clone()).await.unwrap();
        assert!(format!("{:#}", unhealthy.unwrap_err()).contains("unhealthy: relay"));
        health.set("relay", true);
        assert!(probe_now(target.clone()).await.unwrap().is_ok());
        cancel.cancel();
        let missing = ProbeTarget::Endpoint(format!("{name}-missing"));
        let err = probe_now(missing).await.unwrap().unwrap_err();
        assert!(format!("{err:#}").contains("no health endpoint"), "{err:#}");
    }
}
