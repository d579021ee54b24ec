//! Resource facts for `torq status`: CPU and memory of a container from
//! one-shot stats, zombie processes inside a container, free disk space where
//! the engine keeps its data, and how fast the engine answers.
//!
//! Zombies and disk space are read on the host (`/proc`, `statvfs`, see
//! also `procs`), so only when the engine is local; for a remote engine,
//! zombies come from the engine's `top` (which runs `ps` on the engine's
//! host).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::query_parameters::{StatsOptions, TopOptions};
use futures::StreamExt;

use super::error::{ApiError, QUICK};
use super::Engine;

/// One reading of a container's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct UsageSample {
    /// Nanoseconds of CPU the container used since it started.
    pub cpu_total: u64,
    /// Nanoseconds of CPU the host used (all CPUs).
    pub system_total: u64,
    pub online_cpus: u32,
    /// Memory in use, page cache left out (as `docker stats` shows it).
    pub memory_used: u64,
    pub memory_limit: u64,
}

/// A one-shot stats reading (`stream=false&one-shot=true`, API 1.41).
/// `Ok(None)` when the container is gone or not running.
pub(crate) async fn usage_sample(
    engine: &Engine,
    id: &str,
) -> Result<Option<UsageSample>, ApiError> {
    let options = StatsOptions {
        stream: false,
        one_shot: true,
    };
    let mut stream = engine.docker().stats(id, Some(options));
    let Ok(next) = tokio::time::timeout(QUICK, stream.next()).await else {
        return Err(ApiError::Timeout {
            op: format!("read the stats of container {id}"),
            deadline: QUICK,
        });
    };
    match next {
        Some(Ok(stats)) => Ok(Some(sample_from_stats(&stats))),
        Some(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        }))
        | None => Ok(None),
        Some(Err(err)) => Err(ApiError::from_bollard(
            format!("read the stats of container {id}"),
            err,
        )),
    }
}

fn sample_from_stats(stats: &bollard::models::ContainerStatsResponse) -> UsageSample {
    let cpu = stats.cpu_stats.clone().unwrap_or_default();
    let memory = stats.memory_stats.clone().unwrap_or_default();
    let usage = memory.usage.unwrap_or(0);
    let cache = memory
        .stats
        .as_ref()
        .and_then(|s| {
            s.get("total_inactive_file")
                .or_else(|| s.get("inactive_file"))
                .or_else(|| s.get("cache"))
                .copied()
        })
        .unwrap_or(0);
    UsageSample {
        cpu_total: cpu.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0),
        system_total: cpu.system_cpu_usage.unwrap_or(0),
        online_cpus: cpu.online_cpus.unwrap_or(0),
        memory_used: usage.saturating_sub(cache),
        memory_limit: memory.limit.unwrap_or(0),
    }
}

/// CPU use between two samples in percent of one CPU (like `docker stats`:
/// 200 % is two CPUs busy).
pub(crate) fn cpu_percent(before: &UsageSample, after: &UsageSample) -> Option<f64> {
    let cpu = after.cpu_total.checked_sub(before.cpu_total)?;
    let system = after.system_total.checked_sub(before.system_total)?;
    if system == 0 {
        return None;
    }
    let cpus = f64::from(after.online_cpus.max(1));
    Some(cpu as f64 / system as f64 * cpus * 100.0)
}

/// Two samples of each container `interval` apart, in parallel: CPU % and
/// memory per container id (containers that are not running are left out).
pub(crate) async fn usage(
    engine: &Engine,
    ids: &[String],
    interval: Duration,
) -> HashMap<String, (Option<f64>, UsageSample)> {
    let first = futures::future::join_all(ids.iter().map(|id| usage_sample(engine, id))).await;
    tokio::time::sleep(interval).await;
    let second = futures::future::join_all(ids.iter().map(|id| usage_sample(engine, id))).await;
    let mut out = HashMap::new();
    for ((id, a), b) in ids.iter().zip(first).zip(second) {
        if let Ok(Some(b)) = b {
            let cpu = match a {
                Ok(Some(a)) => cpu_percent(&a, &b),
                _ => None,
            };
            out.insert(id.clone(), (cpu, b));
        }
    }
    out
}

/// How long the engine takes to answer a ping.
pub(crate) async fn ping_latency(engine: &Engine) -> Result<Duration, ApiError> {
    let start = Instant::now();
    engine
        .request("ping the engine", engine.docker().ping())
        .await?;
    Ok(start.elapsed())
}

/// Where the engine keeps images, containers and logs (`DockerRootDir`).
pub(crate) async fn data_root(engine: &Engine) -> Result<Option<String>, ApiError> {
    let info = engine
        .request("read the engine's info", engine.docker().info())
        .await?;
    Ok(info.docker_root_dir.filter(|d| !d.is_empty()))
}

/// Size and free space of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskSpace {
    pub total: u64,
    /// Free to unprivileged users.
    pub available: u64,
}

impl DiskSpace {
    pub(crate) fn available_percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            self.available as f64 / self.total as f64 * 100.0
        }
    }
}

/// `statvfs` of `path` on this machine.
pub(crate) fn disk_space(path: &str) -> Option<DiskSpace> {
    let c_path = std::ffi::CString::new(path).ok()?;
    let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is NUL-terminated and `buf` is a valid statvfs to fill.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut buf) } != 0 {
        return None;
    }
    let block = buf.f_frsize as u64;
    Some(DiskSpace {
        total: buf.f_blocks as u64 * block,
        available: buf.f_bavail as u64 * block,
    })
}

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub pid: i64,
    pub ppid: i64,
    /// `R`, `S`, `D`, `Z`, …
    pub state: u8,
    /// When it started, in clock ticks since the host booted.
    pub start_ticks: u64,
    /// Its command is a containerd shim (`containerd-shim…`): its children
    /// are containers' main processes.
    pub shim: bool,
}

/// Parses `/proc/<pid>/stat` (the command may hold spaces and parentheses:
/// the state follows the last `)`).
pub(crate) fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text.get(open + 1..close)?;
    let mut rest = text.get(close + 1..)?.split_ascii_whitespace();
    let state = *rest.next()?.as_bytes().first()?;
    let ppid = rest.next()?.parse().ok()?;
    // Fields 5 to 21 lie between the parent and the start time (field 22).
    let start_ticks = rest.nth(17).and_then(|t| t.parse().ok()).unwrap_or(0);
    Some(ProcStat {
        pid,
        ppid,
        state,
        start_ticks,
        shim: comm.starts_with("containerd-shim"),
    })
}

/// Zombies among the descendants of each of `roots`, from a process table.
pub(crate) fn zombies_below(table: &[ProcStat], roots: &[i64]) -> HashMap<i64, u32> {
    let mut children: HashMap<i64, Vec<&ProcStat>> = HashMap::new();
    for p in table {
        children.entry(p.ppid).or_default().push(p);
    }
    roots
        .iter()
        .map(|&root| {
            let mut zombies = 0;
            let mut stack = vec![root];
            let mut seen = 0usize;
            while let Some(pid) = stack.pop() {
                seen += 1;
                if seen > table.len() + 1 {
                    break; // a cycle cannot happen in /proc; never loop on bad input
                }
                for child in children.get(&pid).into_iter().flatten() {
                    zombies += u32::from(child.state == b'Z');
                    stack.push(child.pid);
                }
            }
            (root, zombies)
        })
        .collect()
}

/// Every process of this machine's `/proc`.
pub(crate) fn host_processes() -> Vec<ProcStat> {
    let mut table = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) {
                if let Some(stat) = parse_proc_stat(&text) {
                    table.push(stat);
                }
            }
        }
    }
    table
}

/// Zombies in a container, through the engine's `top` (for remote engines).
pub(crate) async fn zombies_via_top(engine: &Engine, id: &str) -> Result<u32, ApiError> {
    let options = TopOptions {
        ps_args: "-o pid,stat".to_string(),
    };
    let top = engine
        .request(
            format!("list the processes of container {id}"),
            engine.docker().top_processes(id, Some(options)),
        )
        .await?;
    let titles = top.titles.unwrap_or_default();
    let Some(stat_col) = titles.iter().position(|t| t == "STAT" || t == "S") else {
        return Ok(0);
    };
    Ok(top
        .processes
        .unwrap_or_default()
        .iter()
        .filter(|row| row.get(stat_col).is_some_and(|s| s.starts_with('Z')))
        .count() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines_parse() {
        let p = parse_proc_stat("123 (sh) S 100 123 123 0 -1").unwrap();
        assert_eq!(
            p,
            ProcStat {
                pid: 123,
                ppid: 100,
                state: b'S',
                start_ticks: 0,
                shim: false,
            }
        );
        let p = parse_proc_stat("7 (we (i) rd) Z 5 0").unwrap();
        assert_eq!((p.pid, p.ppid, p.state), (7, 5, b'Z'));
        let line = "4242 (containerd-shim) S 1 4242 77 0 -1 4194560 1033 0 0 0 \
                    12 7 0 0 20 0 11 0 98765 734003200 2170 18446744073709551615";
        let p = parse_proc_stat(line).unwrap();
        assert_eq!((p.start_ticks, p.shim), (98765, true));
        assert_eq!(parse_proc_stat("garbage"), None);
    }

    #[test]
    fn zombies_are_counted_below_each_root() {
        let p = |pid, ppid, state| ProcStat {
            pid,
            ppid,
            state,
            start_ticks: 0,
            shim: false,
        };
        let table = [
            p(1, 0, b'S'),
            p(10, 1, b'S'),  // container A's main process
            p(11, 10, b'Z'), // A's zombie child
            p(12, 10, b'S'),
            p(13, 12, b'Z'), // A's zombie grandchild
            p(20, 1, b'S'),  // container B
            p(21, 20, b'S'),
            p(30, 1, b'Z'), // a zombie outside both
        ];
        let z = zombies_below(&table, &[10, 20, 99]);
        assert_eq!(z[&10], 2);
        assert_eq!(z[&20], 0);
        assert_eq!(z[&99], 0);
    }

    #[test]
    fn cpu_percent_between_samples() {
        let a = UsageSample {
            cpu_total: 1_000,
            system_total: 10_000,
            online_cpus: 2,
            ..Default::default()
        };
        let b = UsageSample {
            cpu_total: 2_000,
            system_total: 20_000,
            online_cpus: 2,
            ..Default::default()
        };
        assert_eq!(cpu_percent(&a, &b), Some(20.0));
        assert_eq!(cpu_percent(&b, &a), None);
        assert_eq!(cpu_percent(&a, &a), None);
    }

    #[test]
    fn disk_space_of_root() {
        let d = disk_space("/").unwrap();
        assert!(d.total >= d.available);
        assert!(disk_space("/nonexistent/path").is_none());
    }
}
