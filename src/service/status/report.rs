//! The status report: what `torq status` found, as data. It serializes to
//! the `--format json` output; `ui::status` renders it as a table.

use serde::Serialize;

/// What status found, for one project.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct StatusReport {
    pub project: String,
    /// Every service running and none unhealthy (exit code 0).
    pub ok: bool,
    pub services: Vec<ServiceStatus>,
    pub warnings: Vec<Warning>,
    pub recent_errors: Vec<RecentError>,
    pub engine: EngineStatus,
}

/// The states of a service or container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// `● RUNNING`: the container runs.
    Running,
    /// `○ STOPPED`: there is no container.
    Stopped,
    /// `✗ DEAD`: the container exists but does not run, or keeps restarting.
    Dead,
    /// `✓ COMPLETED`: a one-shot service (another waits for it with
    /// `service_completed_successfully`) that ran and exited 0 — done, as
    /// intended, not failed.
    Completed,
    /// `‖ PAUSED`: the container exists, its processes are frozen (`torq pause`).
    Paused,
}

impl State {
    /// `● RUNNING`, `○ STOPPED`, `✗ DEAD`, `✓ COMPLETED`, `‖ PAUSED`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            State::Running => "● RUNNING",
            State::Stopped => "○ STOPPED",
            State::Dead => "✗ DEAD",
            State::Completed => "✓ COMPLETED",
            State::Paused => "‖ PAUSED",
        }
    }

    /// Running, or a one-shot service that completed: nothing to fix.
    pub(crate) fn is_fine(self) -> bool {
        matches!(self, State::Running | State::Completed)
    }
}

/// One service: its aggregate state and its containers.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ServiceStatus {
    pub service: String,
    pub state: Option<State>,
    /// The worst health of its containers: unhealthy, starting, healthy.
    pub health: Option<String>,
    /// Replicas the spec asks for (0 when the spec is not at hand).
    pub replicas: u32,
    /// The service has containers but is not in the spec.
    pub orphan: bool,
    pub containers: Vec<ContainerStatus>,
}

/// One container of a service.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ContainerStatus {
    pub id: String,
    pub name: String,
    pub number: u32,
    pub state: Option<State>,
    /// The engine's own word: running, exited, restarting, created, paused, dead.
    pub engine_state: String,
    pub health: Option<String>,
    /// The engine still said `starting`; torq ran the healthcheck's test
    /// once and it passed, so `health` is `healthy` (as `up` counts it).
    pub health_probed: bool,
    pub pid: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub uptime_seconds: Option<i64>,
    /// Seconds since it stopped (not running).
    pub stopped_seconds: Option<i64>,
    pub exit_code: Option<i64>,
    /// The kernel killed it for lack of memory.
    pub oom_killed: bool,
    pub restarts: i64,
    pub crash_loop: bool,
    pub ports: Vec<String>,
    pub image: String,
    pub zombies: Option<u32>,
    /// `--verbose` only.
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub memory_limit: Option<u64>,
    pub log_path: Option<String>,
    pub log_size: Option<u64>,
}

/// Something wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Warning {
    /// unhealthy, crash_loop, exited, oom_killed, not_started, stopped, zombies, low_disk, slow_engine.
    pub kind: &'static str,
    pub service: Option<String>,
    pub message: String,
    pub hint: String,
}

/// A recent ERROR (or FATAL) line of a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RecentError {
    pub service: String,
    /// RFC 3339 UTC.
    pub time: String,
    pub line: String,
}

/// The engine as status saw it.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct EngineStatus {
    pub host: String,
    pub local: bool,
    pub ping_ms: Option<f64>,
    pub data_root: Option<String>,
    pub disk_total: Option<u64>,
    pub disk_available: Option<u64>,
}

/// `512 B`, `1.5 KiB`, `12.0 MiB`, `3.2 GiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
