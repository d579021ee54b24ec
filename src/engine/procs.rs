//! Containers' main processes as this machine's `/proc` shows them, for a
//! local engine: one scan of the process table gives every running
//! container's host PID, start time and zombie count, where an inspect per
//! container would cost a request each (`torq status` at hundreds of
//! containers).
//!
//! A container's main process is a child of its containerd shim, and its
//! cgroup path names the container's id. Only the shims' children have their
//! cgroup read. A container found nowhere here (torq runs in another PID
//! namespace, another runtime, a remote engine) is simply missing from the
//! result; the caller inspects it instead.

use std::collections::{HashMap, HashSet};

use super::stats::{host_processes, zombies_below, ProcStat};
use crate::logs::time::Nanos;

/// What `/proc` says about one running container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MainProcess {
    /// Host PID of the main process.
    pub pid: i64,
    /// When it started (unix nanoseconds, to the second: the boot time has
    /// second precision).
    pub started: Nanos,
    /// Zombie processes below it.
    pub zombies: u32,
}

/// The main processes of the containers `ids` (full ids), read from this
/// machine's `/proc`. Blocking: run it off the async runtime.
pub(crate) fn main_processes(ids: &[String]) -> HashMap<String, MainProcess> {
    let Some(clock) = HostClock::read() else {
        return HashMap::new();
    };
    let table = host_processes();
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let owners = shim_children(&table)
        .filter_map(|p| {
            let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", p.pid)).ok()?;
            let id = container_id_in(&cgroup, &wanted)?;
            Some((id.to_string(), *p))
        })
        .collect();
    assemble(&table, owners, clock)
}

/// Processes whose parent is a containerd shim.
fn shim_children(table: &[ProcStat]) -> impl Iterator<Item = &ProcStat> {
    let shims: HashSet<i64> = table.iter().filter(|p| p.shim).map(|p| p.pid).collect();
    table.iter().filter(move |p| shims.contains(&p.ppid))
}

/// The id among `wanted` that a `/proc/PID/cgroup` text names
/// (`0::/system.slice/docker-<id>.scope`, `12:pids:/docker/<id>`).
fn container_id_in<'a>(cgroup: &str, wanted: &HashSet<&'a str>) -> Option<&'a str> {
    cgroup
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|token| token.len() == 64)
        .find_map(|token| wanted.get(token).copied())
}

/// Each container's main process (the earliest-started child of a shim in
/// its cgroup, should there be two), with its zombies and start time.
fn assemble(
    table: &[ProcStat],
    owners: Vec<(String, ProcStat)>,
    clock: HostClock,
) -> HashMap<String, MainProcess> {
    let mut mains: HashMap<String, ProcStat> = HashMap::new();
    for (id, p) in owners {
        let keep = mains
            .get(&id)
            .is_none_or(|seen| (p.start_ticks, p.pid) < (seen.start_ticks, seen.pid));
        if keep {
            mains.insert(id, p);
        }
    }
    let roots: Vec<i64> = mains.values().map(|p| p.pid).collect();
    let zombies = zombies_below(table, &roots);
    mains
        .into_iter()
        .map(|(id, p)| {
            let main = MainProcess {
                pid: p.pid,
                started: clock.at(p.start_ticks),
                zombies: zombies.get(&p.pid).copied().unwrap_or(0),
            };
            (id, main)
        })
        .collect()
}

/// The host's boot time and clock tick, to turn `/proc` start ticks into
/// wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HostClock {
    boot_seconds: i64,
    ticks_per_second: i64,
}

impl HostClock {
    fn read() -> Option<HostClock> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // SAFETY: sysconf reads a constant of the C library.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Some(HostClock {
            boot_seconds: boot_time(&stat)?,
            ticks_per_second: (ticks > 0).then_some(ticks)?,
        })
    }

    fn at(self, ticks: u64) -> Nanos {
        let ticks = i64::try_from(ticks).unwrap_or(i64::MAX / 2);
        self.boot_seconds * 1_000_000_000 + ticks * (1_000_000_000 / self.ticks_per_second)
    }
}

/// `btime` of `/proc/stat`: the boot time, unix seconds.
fn boot_time(proc_stat: &str) -> Option<i64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|t| t.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i64, ppid: i64, state: u8, start_ticks: u64, shim: bool) -> ProcStat {
        ProcStat {
            pid,
            ppid,
            state,
            start_ticks,
            shim,
        }
    }

    #[test]
    fn cgroup_paths_name_the_container() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let wanted: HashSet<&str> = [a.as_str(), b.as_str()].into();
        let v2 = format!("0::/system.slice/docker-{a}.scope\n");
        assert_eq!(container_id_in(&v2, &wanted), Some(a.as_str()));
        let v1 = format!("12:pids:/docker/{b}\n11:memory:/docker/{b}\n");
        assert_eq!(container_id_in(&v1, &wanted), Some(b.as_str()));
        let other = format!("0::/docker/{}\n", "c".repeat(64));
        assert_eq!(container_id_in(&other, &wanted), None);
        assert_eq!(container_id_in("0::/user.slice\n", &wanted), None);
    }

    #[test]
    fn the_shims_children_are_the_main_processes() {
        let clock = HostClock {
            boot_seconds: 1_000,
            ticks_per_second: 100,
        };
        let table = [
            p(1, 0, b'S', 0, false),
            p(50, 1, b'S', 10, true), // a shim
            p(51, 50, b'S', 250, false),
            p(52, 51, b'Z', 300, false),
            p(60, 1, b'S', 20, true),
            p(61, 60, b'S', 400, false),
        ];
        let children: Vec<i64> = shim_children(&table).map(|p| p.pid).collect();
        assert_eq!(children, [51, 61]);
        let owners = vec![("a".to_string(), table[2]), ("b".to_string(), table[5])];
        let mains = assemble(&table, owners, clock);
        assert_eq!(
            mains["a"],
            MainProcess {
                pid: 51,
                started: 1_002_500_000_000,
                zombies: 1
            }
        );
        assert_eq!((mains["b"].pid, mains["b"].zombies), (61, 0));
    }

    #[test]
    fn the_boot_time_is_read() {
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1714564800\nprocesses 9\n"),
            Some(1714564800)
        );
        assert_eq!(boot_time("cpu 1 2 3\n"), None);
    }

    #[test]
    fn this_machine_answers_without_panicking() {
        // No container id is ours: nothing found, whatever runs here.
        assert!(main_processes(&["f".repeat(64)]).is_empty());
    }
}
