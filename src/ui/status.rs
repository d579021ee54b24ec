//! `torq status` as people see it: the service layer's [`StatusReport`]
//! rendered as a table, with log files, warnings and recent errors.

use super::styles;
use super::table::{Align, Cell, Table};
use crate::service::status::report::{bytes, ContainerStatus, State, StatusReport};

/// The color of a state's label.
fn state_style(state: State) -> anstyle::Style {
    match state {
        State::Running | State::Completed => styles::OK,
        State::Stopped | State::Paused => styles::YELLOW,
        State::Dead => styles::RED,
    }
}

/// How much to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RenderOptions {
    pub color: bool,
    /// CPU, memory, image and log files.
    pub verbose: bool,
}

/// The report as text: the table, then log files (verbose), warnings and
/// recent errors.
pub(crate) fn render(report: &StatusReport, options: RenderOptions) -> String {
    let mut out = table(report, options).render(options.color);
    if options.verbose {
        out.push_str(&log_files(report, options));
    }
    out.push_str(&warnings(report, options));
    out.push_str(&recent_errors(report, options));
    out
}

fn table(report: &StatusReport, options: RenderOptions) -> Table {
    let mut headers = vec![
        "SERVICE",
        "STATE",
        "HEALTH",
        "CONTAINER",
        "PID",
        "UPTIME",
        "RESTARTS",
        "PORTS",
    ];
    if options.verbose {
        headers.extend(["CPU", "MEMORY", "IMAGE", "LOG SIZE"]);
    }
    let mut table = Table::new(headers)
        .align(4, Align::Right)
        .align(6, Align::Right);
    if options.verbose {
        table = table
            .align(8, Align::Right)
            .align(9, Align::Right)
            .align(11, Align::Right);
    }
    for service in &report.services {
        let name = if service.orphan {
            format!("{} (orphan)", service.service)
        } else {
            service.service.clone()
        };
        match service.containers.as_slice() {
            [] => table.push(stopped_row(&name, options)),
            [only] if service.replicas <= 1 => table.push(container_row(name, only, options)),
            containers => {
                let running = containers
                    .iter()
                    .filter(|c| c.state == Some(State::Running))
                    .count();
                let wanted = (service.replicas as usize).max(containers.len());
                let mut row = vec![
                    Cell::plain(name),
                    state_cell(service.state),
                    health_cell(service.health.as_deref()),
                    Cell::plain(format!("{running}/{wanted} running")),
                ];
                row.resize(4, Cell::default());
                table.push(row);
                for (i, c) in containers.iter().enumerate() {
                    let branch = if i + 1 == containers.len() {
                        "└"
                    } else {
                        "├"
                    };
                    table.push(container_row(
                        format!("  {branch} {}", c.number),
                        c,
                        options,
                    ));
                }
            }
        }
    }
    table
}

fn stopped_row(name: &str, _options: RenderOptions) -> Vec<Cell> {
    vec![
        Cell::plain(name),
        state_cell(Some(State::Stopped)),
        Cell::plain("-"),
        Cell::plain("-"),
        Cell::plain("-"),
        Cell::plain("-"),
        Cell::plain("-"),
    ]
}

fn state_cell(state: Option<State>) -> Cell {
    let state = state.unwrap_or(State::Stopped);
    Cell::styled(state.label(), state_style(state))
}

fn health_cell(health: Option<&str>) -> Cell {
    match health {
        Some("healthy") => Cell::styled("healthy", styles::OK),
        Some("unhealthy") => Cell::styled("unhealthy", styles::RED),
        Some(other) => Cell::styled(other, styles::YELLOW),
        None => Cell::plain("-"),
    }
}

fn container_row(name: String, c: &ContainerStatus, options: RenderOptions) -> Vec<Cell> {
    let uptime = match (c.state, c.uptime_seconds, c.stopped_seconds) {
        (Some(State::Running), Some(up), _) => duration(up),
        (_, _, Some(ago)) => match c.exit_code {
            Some(code) => format!("exited ({code}) {} ago", duration(ago)),
            None => format!("stopped {} ago", duration(ago)),
        },
        _ => c.engine_state.clone(),
    };
    let health = match c.health.as_deref() {
        Some("healthy") if c.health_probed && options.verbose => {
            Cell::styled("healthy (probed)", styles::OK)
        }
        other => health_cell(other),
    };
    let mut row = vec![
        Cell::plain(name),
        state_cell(c.state),
        health,
        Cell::plain(short_id(&c.id)),
        Cell::plain(c.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into())),
        Cell::plain(uptime),
        Cell::plain(c.restarts.to_string()),
        Cell::plain(if c.ports.is_empty() {
            "-".to_string()
        } else {
            c.ports.join(", ")
        }),
    ];
    if options.verbose {
        row.push(Cell::plain(
            c.cpu_percent
                .map(|p| format!("{p:.1}%"))
                .unwrap_or_else(|| "-".into()),
        ));
        row.push(Cell::plain(
            c.memory_bytes.map(bytes).unwrap_or_else(|| "-".into()),
        ));
        row.push(Cell::plain(c.image.clone()));
        row.push(Cell::plain(
            c.log_size.map(bytes).unwrap_or_else(|| "-".into()),
        ));
    }
    row
}

fn log_files(report: &StatusReport, options: RenderOptions) -> String {
    let containers: Vec<&ContainerStatus> = report
        .services
        .iter()
        .flat_map(|s| &s.containers)
        .filter(|c| c.log_path.is_some())
        .collect();
    let width = containers
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for c in containers {
        let path = c.log_path.as_deref().unwrap_or_default();
        let size = c
            .log_size
            .map(|s| format!(" ({})", bytes(s)))
            .unwrap_or_default();
        let pad = width - c.name.chars().count();
        out.push_str(&format!("  {}{:pad$}  {path}{size}\n", c.name, ""));
    }
    if out.is_empty() {
        return out;
    }
    format!("\n{}\n{out}", heading("Log files:", options))
}

fn warnings(report: &StatusReport, options: RenderOptions) -> String {
    if report.warnings.is_empty() {
        return String::new();
    }
    let mut out = format!("\n{}\n", heading("Warnings:", options));
    for w in &report.warnings {
        let mark = super::paint(options.color, styles::WARN, "!");
        out.push_str(&format!("  {mark} {}\n    → {}\n", w.message, w.hint));
    }
    out
}

fn recent_errors(report: &StatusReport, options: RenderOptions) -> String {
    if report.recent_errors.is_empty() {
        return String::new();
    }
    let width = report
        .recent_errors
        .iter()
        .map(|e| e.service.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("\n{}\n", heading("Recent errors:", options));
    for e in &report.recent_errors {
        let time = super::paint(options.color, styles::GRAY, &e.time);
        let pad = width - e.service.chars().count();
        out.push_str(&format!("  {time}  {}{:pad$}  {}\n", e.service, "", e.line));
    }
    out
}

fn heading(text: &str, options: RenderOptions) -> String {
    super::paint(options.color, styles::BOLD, text)
}

/// The first 12 hex digits of a container id (`-` when there is none).
pub(crate) fn short_id(id: &str) -> String {
    if id.is_empty() {
        "-".into()
    } else {
        id.chars().take(12).collect()
    }
}

/// `42s`, `5m12s`, `2h13m`, `3d4h`.
pub(crate) fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::status::report::{EngineStatus, RecentError, ServiceStatus, Warning};

    fn running(name: &str, number: u32) -> ContainerStatus {
        ContainerStatus {
            id: "0123456789abcdef".into(),
            name: name.into(),
            number,
            state: Some(State::Running),
            engine_state: "running".into(),
            pid: Some(4242),
            uptime_seconds: Some(75),
            ports: vec!["0.0.0.0:8080->80/tcp".into()],
            ..Default::default()
        }
    }

    fn report() -> StatusReport {
        StatusReport {
            project: "demo".into(),
            ok: false,
            services: vec![
                ServiceStatus {
                    service: "web".into(),
                    state: Some(State::Running),
                    health: Some("healthy".into()),
                    replicas: 1,
                    containers: vec![ContainerStatus {
                        health: Some("healthy".into()),
                        ..running("demo-web-1", 1)
                    }],
                    ..Default::default()
                },
                ServiceStatus {
                    service: "worker".into(),
                    state: Some(State::Stopped),
                    replicas: 1,
                    ..Default::default()
                },
                ServiceStatus {
                    service: "db".into(),
                    state: Some(State::Dead),
                    replicas: 1,
                    containers: vec![ContainerStatus {
                        id: "fedcba9876543210".into(),
                        state: Some(State::Dead),
                        engine_state: "exited".into(),
                        exit_code: Some(1),
                        stopped_seconds: Some(130),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ServiceStatus {
                    service: "api".into(),
                    state: Some(State::Running),
                    replicas: 2,
                    containers: vec![running("demo-api-1", 1), running("demo-api-2", 2)],
                    ..Default::default()
                },
            ],
            warnings: vec![Warning {
                kind: "exited",
                service: Some("db".into()),
                message: "db exited with code 1".into(),
                hint: "see `torq logs db`".into(),
            }],
            recent_errors: vec![RecentError {
                service: "db".into(),
                time: "2024-05-01T12:00:00.000Z".into(),
                line: "ERROR boom".into(),
            }],
            engine: EngineStatus::default(),
        }
    }

    #[test]
    fn renders_the_three_states_replicas_warnings_and_errors() {
        let text = render(
            &report(),
            RenderOptions {
                color: false,
                verbose: false,
            },
        );
        let expected = "\
SERVICE  STATE      HEALTH   CONTAINER      PID  UPTIME                RESTARTS  PORTS
web      ● RUNNING  healthy  0123456789ab  4242  1m15s                        0  0.0.0.0:8080->80/tcp
worker   ○ STOPPED  -        -                -  -                            -
db       ✗ DEAD     -        fedcba987654     -  exited (1) 2m10s ago         0  -
api      ● RUNNING  -        2/2 running
  ├ 1    ● RUNNING  -        0123456789ab  4242  1m15s                        0  0.0.0.0:8080->80/tcp
  └ 2    ● RUNNING  -        0123456789ab  4242  1m15s                        0  0.0.0.0:8080->80/tcp

Warnings:
  ! db exited with code 1
    → see `torq logs db`

Recent errors:
  2024-05-01T12:00:00.000Z  db  ERROR boom
";
        assert_eq!(text, expected);
    }

    #[test]
    fn json_carries_the_states() {
        let json = serde_json::to_value(report()).unwrap();
        assert_eq!(json["services"][0]["state"], "running");
        assert_eq!(json["services"][1]["state"], "stopped");
        assert_eq!(json["services"][2]["state"], "dead");
        assert_eq!(json["services"][2]["containers"][0]["exit_code"], 1);
        assert_eq!(json["ok"], false);
    }

    #[test]
    fn verbose_adds_columns_and_log_files() {
        let mut r = report();
        r.services[0].containers[0].log_path = Some("/var/lib/docker/x-json.log".into());
        r.services[0].containers[0].log_size = Some(2048);
        r.services[0].containers[0].cpu_percent = Some(1.25);
        let text = render(
            &r,
            RenderOptions {
                color: false,
                verbose: true,
            },
        );
        assert!(
            text.lines()
                .next()
                .unwrap()
                .ends_with("CPU  MEMORY  IMAGE  LOG SIZE"),
            "{text}"
        );
        assert!(text.contains("1.2%"), "{text}");
        assert!(
            text.contains("demo-web-1  /var/lib/docker/x-json.log (2.0 KiB)"),
            "{text}"
        );
    }

    #[test]
    fn a_probed_health_is_marked_in_verbose() {
        let mut r = report();
        r.services[0].containers[0].health_probed = true;
        let render_with = |verbose| {
            render(
                &r,
                RenderOptions {
                    color: false,
                    verbose,
                },
            )
        };
        assert!(render_with(true).contains("healthy (probed)"));
        let plain = render_with(false);
        assert!(
            plain.contains("healthy") && !plain.contains("(probed)"),
            "{plain}"
        );
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(3_700), "1h1m");
        assert_eq!(duration(90_000), "1d1h");
        assert_eq!(bytes(100), "100 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
