//! What several commands print the same way: the spec's warnings, the
//! summary of failed and skipped services, what a `down` did, and the
//! buffered stdout that log lines go through; the one argument the
//! commands that run until stopped parse alike, `--reconnect-timeout`; and
//! `--pull` of `up` and `run`. The one cli file that command files share.

use std::io::{self, BufWriter};
use std::time::Duration;

use super::{Context, ExitStatus};
use crate::compose::model::Project;
use crate::service::down::DownOutcome;
use crate::service::FailureSummary;
use crate::ui::styles;

/// Size of the stdout buffer log lines are written through.
const STDOUT_BUFFER: usize = 64 * 1024;

/// One buffered writer over the locked stdout: no per-line locking or
/// flushing while lines are written.
pub(crate) fn stdout_writer() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(STDOUT_BUFFER, io::stdout().lock())
}

/// Help of `--reconnect-timeout` (`logs -f`, `up --attach`, `events`,
/// `status --watch`).
pub(crate) const RECONNECT_TIMEOUT_HELP: &str = "How long to wait for a lost Docker engine \
to answer again before exiting with an error (a duration like 30s or 2m, or seconds; \
0 exits at once)";

/// Reads `--reconnect-timeout`: a duration (`30s`, `1m30s`, `0`) or whole seconds.
pub(crate) fn parse_reconnect_timeout(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => crate::compose::syntax::parse_duration(text),
    }
}

/// Prints the spec loader's warnings (unset variables, ignored keys).
pub(crate) fn warn_spec(ctx: &Context, project: &Project) {
    for warning in &project.warnings {
        ctx.shell.warn(warning);
    }
}

/// "1 service", "3 services".
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Prints every failure (with the failed container's last log lines) and
/// every skipped service, on stderr, even with `-q`. Exit 2 on any failure.
pub(crate) fn print_summary(
    ctx: &Context,
    project: &str,
    failures: &[FailureSummary],
    skipped: &[(String, String)],
) -> ExitStatus {
    if failures.is_empty() && skipped.is_empty() {
        return ExitStatus::Success;
    }
    let shell = &ctx.shell;
    let mut text = String::new();
    for failure in failures {
        text.push_str(&format!(
            "  {} {}: {}\n",
            shell.paint_err(styles::RED, "✗"),
            shell.paint_err(styles::BOLD, &failure.subject),
            failure.reason
        ));
        if !failure.last_logs.is_empty() {
            text.push_str(&format!(
                "    last {} log lines:\n",
                failure.last_logs.len()
            ));
            for line in &failure.last_logs {
                text.push_str(&format!(
                    "    {} {line}\n",
                    shell.paint_err(styles::DIM, "|")
                ));
            }
        }
    }
    for (subject, reason) in skipped {
        text.push_str(&format!(
            "  {} {subject} skipped: {reason}\n",
            shell.paint_err(styles::YELLOW, "-")
        ));
    }
    if failures.is_empty() {
        shell.warn(&format!("project {project}: some services were skipped:"));
        eprint!("{text}");
        return ExitStatus::ServiceFailed;
    }
    shell.error(&format!(
        "project {project}: {} failed:",
        failed_counts(failures.iter().map(|f| f.subject.as_str()))
    ));
    eprint!("{text}");
    ExitStatus::ServiceFailed
}

/// What failed, counted by kind from the subjects (`network NAME`, `volume
/// NAME`, `image NAME`, `container NAME`; anything else is a service):
/// `1 service`, `2 services and 1 network`.
fn failed_counts<'a>(subjects: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for subject in subjects {
        let kind = ["network", "volume", "image", "container"]
            .into_iter()
            .find(|kind| {
                subject
                    .strip_prefix(kind)
                    .is_some_and(|rest| rest.starts_with(' '))
            })
            .unwrap_or("service");
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(kind, n)| plural(*n, kind)).collect();
    match parts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => plural(0, "service"),
    }
}

/// Prints what `down` did; exit 2 when something failed.
pub(crate) fn print_down(ctx: &Context, project: &str, outcome: &DownOutcome) -> ExitStatus {
    if outcome.nothing {
        ctx.shell.info(&format!(
            "nothing to do: project {project} has no containers, networks or volumes"
        ));
        return ExitStatus::Success;
    }
    let status = print_summary(ctx, project, &outcome.failures, &[]);
    if !ctx.shell.is_quiet() {
        let mut parts = Vec::new();
        if !outcome.stopped.is_empty() {
            parts.push(format!("stopped {}", outcome.stopped.len()));
        }
        if !outcome.killed.is_empty() {
            parts.push(format!(
                "killed {} ({})",
                outcome.killed.len(),
                outcome.killed.join(", ")
            ));
        }
        parts.push(format!(
            "removed {}",
            plural(outcome.removed_containers.len(), "container")
        ));
        if !outcome.removed_networks.is_empty() {
            parts.push(plural(outcome.removed_networks.len(), "network"));
        }
        if !outcome.removed_volumes.is_empty() {
            parts.push(plural(outcome.removed_volumes.len(), "volume"));
        }
        ctx.shell
            .info(&format!("project {project}: {}", parts.join(", ")));
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_kind() {
        assert_eq!(failed_counts(["web"].into_iter()), "1 service");
        assert_eq!(
            failed_counts(["network p_default", "web", "db", "volume data"].into_iter()),
            "1 network, 2 services and 1 volume"
        );
        assert_eq!(failed_counts(["networker"].into_iter()), "1 service");
    }

    #[test]
    fn reconnect_timeout_takes_durations_and_seconds() {
        assert_eq!(parse_reconnect_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_reconnect_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_reconnect_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(
            parse_reconnect_timeout("1.5s"),
            Ok(Duration::from_millis(1500))
        );
        assert!(parse_reconnect_timeout("soon").is_err());
        assert!(parse_reconnect_timeout("-1s").is_err());
    }
}

/// `--pull` of `up` and `run`: one pull policy for every service, or each
/// service's own (`policy`, the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum PullOption {
    /// Pull a missing image (a present one is used as it is: torq never re-pulls).
    Always,
    /// Pull a missing image.
    Missing,
    /// Never pull: a missing image is an error (unless the service builds it).
    Never,
    /// Each service's `pull_policy`.
    #[default]
    Policy,
}

impl PullOption {
    /// Gives every service of `project` this policy (`policy`: leaves them).
    pub(crate) fn apply(self, project: &mut Project) {
        let policy = match self {
            PullOption::Always => "always",
            PullOption::Missing => "missing",
            PullOption::Never => "never",
            PullOption::Policy => return,
        };
        for service in project.services.values_mut() {
            service.pull_policy = Some(policy.to_string());
        }
    }
}
