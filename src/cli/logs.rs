//! `torq logs`: the services' logs, merged by engine timestamp, with colored
//! service prefixes and levels; `-f` follows.
//!
//! A read writes through one `BufWriter` over the locked stdout (no
//! per-line locking or flushing). A follow (`-f`) writes through a
//! [`BoundedStdout`] in its pacing mode: a reader that is behind (`| less`
//! not scrolling) slows the follow down — no line is dropped — while the
//! runtime stays free to handle Ctrl-C. A closed pipe (`torq logs | head`)
//! ends the command quietly with exit 0.

use std::io::{self, Write};

use anyhow::{bail, Context as _};
use clap::Args;

use super::shared::{parse_reconnect_timeout, stdout_writer, RECONNECT_TIMEOUT_HELP};
use super::{Context, ExitStatus, OutputArgs};
use crate::compose::select::check_services;
use crate::logs::time;
use crate::logs::Tail;
use crate::logs::{FormatOptions, Level, LineFilter, ServiceStats};
use crate::service::logs::{self, EndedEarly, LogsOutcome, LogsOutput, LogsQuery};
use crate::ui::progress::PlainReporter;
use crate::ui::stdout::{BoundedStdout, Overflow};
use crate::ui::table::{Align, Cell, Table};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  torq logs                        Last 50 lines of every service, merged by time
  torq logs -f kraken_adapter      Follow one service (survives restarts)
  torq logs -n all --level warn    Everything at WARN or above
  torq logs --grep 'spread=' -t    Matching lines with timestamps
  torq logs --stats                Lines, bytes and levels per service
  torq logs -f --reconnect-timeout 2m
                                   Wait up to 2 minutes for a restarting engine

Lines from a container's stderr are marked with `!` instead of `|`.
-n counts lines before --grep and --level filter them; -n all searches everything.

With -f, a lost Docker engine is said once; the logs resume (no line twice) when it
answers again within --reconnect-timeout, else torq exits 1.

Exit codes: 0 success; 1 spec or engine error (or the engine lost for good).";

/// The default `-n`: lines per service.
pub(crate) const DEFAULT_TAIL: u64 = 50;

/// Arguments of `torq logs`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LogsArgs {
    /// Services to show (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Follow the logs until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// Lines from the end of each service's log: a number or `all` (default
    /// 50; `all` with --stats).
    #[arg(short = 'n', long, value_name = "N|all")]
    pub tail: Option<String>,

    /// Show the engine's timestamp of each line.
    #[arg(short = 't', long)]
    pub timestamps: bool,

    /// Only lines since this time (RFC 3339, Unix seconds, or a duration like 10m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only lines before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only lines matching this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,

    /// Only lines at this level or above (trace, debug, info, warn, error).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,

    /// Don't prefix lines with the service name.
    #[arg(long)]
    pub no_log_prefix: bool,

    /// Don't color the output (same as --color never).
    #[arg(long)]
    pub no_color: bool,

    /// Print per-service statistics instead of the lines: lines, bytes, counts per
    /// level, lines per second, first and last timestamps.
    #[arg(long)]
    pub stats: bool,

    /// With -f: how long to wait for a lost Docker engine (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_reconnect_timeout,
          long_help = RECONNECT_TIMEOUT_HELP)]
    pub reconnect_timeout: Option<std::time::Duration>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// The arguments, checked and turned into the log layer's terms.
fn query(args: &LogsArgs, color: bool) -> anyhow::Result<LogsQuery> {
    let tail = match &args.tail {
        Some(text) => Tail::parse(text)
            .with_context(|| format!("-n/--tail takes a number or `all`, not {text:?}"))?,
        None if args.stats => Tail::All,
        None => Tail::Lines(DEFAULT_TAIL),
    };
    let now = time::now();
    let since = args
        .since
        .as_deref()
        .map(|s| time::parse_time_arg(s, now))
        .transpose()
        .context("--since")?;
    let until = args
        .until
        .as_deref()
        .map(|s| time::parse_time_arg(s, now))
        .transpose()
        .context("--until")?;
    if args.follow && until.is_some() {
        bail!("--until cannot be used with --follow: a follow has no end");
    }
    let grep = args
        .grep
        .as_deref()
        .map(regex::bytes::Regex::new)
        .transpose()
        .context("--grep is not a valid regular expression")?;
    let min_level = args
        .level
        .as_deref()
        .map(str::parse::<Level>)
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("--level")?;
    Ok(LogsQuery {
        services: args.services.clone(),
        follow: args.follow,
        tail,
        filter: LineFilter {
            grep,
            min_level,
            since,
            until,
        },
        format: FormatOptions {
            color: color && !args.no_color,
            prefix: !args.no_log_prefix,
            timestamps: args.timestamps,
        },
        since,
        until,
        stats: args.stats,
        reconnect_timeout: args
            .reconnect_timeout
            .unwrap_or(crate::service::follow::DEFAULT_RECONNECT_TIMEOUT),
    })
}

/// Runs `torq logs`.
pub(crate) fn run(ctx: &Context, args: LogsArgs) -> anyhow::Result<ExitStatus> {
    let query = query(&args, ctx.shell.out_color())?;
    let (project, spec) = ctx.target_project()?;
    if let Some(spec) = &spec {
        check_services(spec, &args.services)?;
    }
    let reporter = PlainReporter::new(ctx.shell.clone());
    let runtime = super::runtime()?;
    let outcome = if query.follow {
        // A writer thread: a reader that is behind slows the follow down
        // but never blocks the runtime (Ctrl-C is still handled).
        let out = BoundedStdout::start(ctx.shell.clone(), Overflow::Pace)
            .context("cannot start the thread that writes the logs")?;
        let room = out.room_probe();
        runtime.block_on(logs::run(
            &project,
            spec.as_ref(),
            &query,
            LogsOutput { out, room },
            &reporter,
        ))?
    } else {
        let output = LogsOutput {
            out: stdout_writer(),
            room: None,
        };
        runtime.block_on(logs::run(
            &project,
            spec.as_ref(),
            &query,
            output,
            &reporter,
        ))?
    };
    match outcome {
        LogsOutcome::NoContainers => ctx
            .shell
            .info(&format!("project {project} has no containers (is it up?)")),
        LogsOutcome::Shown { ended_early } => warn_ended_early(ctx, &ended_early),
        LogsOutcome::Stats { stats, ended_early } => {
            warn_ended_early(ctx, &ended_early);
            print_stats(ctx, &stats);
        }
    }
    Ok(ExitStatus::Success)
}

fn warn_ended_early(ctx: &Context, ended_early: &[EndedEarly]) {
    for ended in ended_early {
        ctx.shell.warn(&format!(
            "the log of {} ended early: {}",
            ended.container, ended.reason
        ));
    }
}

/// The `--stats` table.
fn print_stats(ctx: &Context, stats: &[ServiceStats]) {
    let mut headers = vec!["SERVICE", "LINES", "BYTES"];
    headers.extend(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]);
    headers.extend(["OTHER", "STDERR", "LINES/S", "FIRST", "LAST"]);
    let mut table = Table::new(headers);
    for column in 1..=11 {
        table = table.align(column, Align::Right);
    }
    for s in stats {
        let mut row: Vec<Cell> = vec![s.service.clone().into(), s.lines.to_string().into()];
        row.push(s.bytes.to_string().into());
        for level in Level::ALL {
            row.push(s.count(level).to_string().into());
        }
        row.push(s.unleveled.to_string().into());
        row.push(s.stderr.to_string().into());
        row.push(format!("{:.1}", s.lines_per_second()).into());
        row.push(
            s.first
                .map(time::format_utc)
                .unwrap_or_else(|| "-".into())
                .into(),
        );
        row.push(
            s.last
                .map(time::format_utc)
                .unwrap_or_else(|| "-".into())
                .into(),
        );
        table.push(row);
    }
    ctx.shell.out(&table.render(ctx.shell.out_color()));
    let _ = io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: LogsArgs,
    }

    fn plan(argv: &[&str]) -> anyhow::Result<LogsQuery> {
        let mut full = vec!["logs"];
        full.extend_from_slice(argv);
        let args = Wrapper::try_parse_from(full).unwrap().args;
        query(&args, true)
    }

    #[test]
    fn default_tail_is_50_and_all_for_stats() {
        assert_eq!(plan(&[]).unwrap().tail, Tail::Lines(50));
        assert_eq!(plan(&["--stats"]).unwrap().tail, Tail::All);
        assert_eq!(plan(&["-n", "all"]).unwrap().tail, Tail::All);
        assert_eq!(plan(&["--stats", "-n", "5"]).unwrap().tail, Tail::Lines(5));
        let err = plan(&["-n", "many"]).err().unwrap();
        assert!(format!("{err:#}").contains(r#"not "many""#), "{err:#}");
    }

    #[test]
    fn bad_filters_are_usage_errors() {
        let err = plan(&["--grep", "("]).err().unwrap();
        assert!(
            format!("{err:#}").contains("--grep is not a valid regular expression"),
            "{err:#}"
        );
        let err = plan(&["--level", "loud"]).err().unwrap();
        assert!(format!("{err:#}").contains("loud"));
        let err = plan(&["--since", "yesterday"]).err().unwrap();
        assert!(
            format!("{err:#}").contains(r#"--since: cannot read "yesterday""#),
            "{err:#}"
        );
        let err = plan(&["-f", "--until", "1m"]).err().unwrap();
        assert!(
            format!("{err:#}").contains("--until cannot be used with --follow"),
            "{err:#}"
        );
    }

    #[test]
    fn color_and_prefix_options() {
        let p = plan(&["--no-color", "--no-log-prefix", "-t"]).unwrap();
        assert_eq!(
            p.format,
            FormatOptions {
                color: false,
                prefix: false,
                timestamps: true
            }
        );
        assert!(plan(&[]).unwrap().format.color);
    }

    #[test]
    fn the_engine_window_covers_the_exact_one() {
        let p = plan(&["--since", "1714564800.5", "--until", "1714564900.25"]).unwrap();
        let r = p.request(false, 3);
        assert_eq!(r.since, Some(1_714_564_800));
        assert_eq!(r.until, Some(1_714_564_901));
        assert!(!r.without_timestamps);
        assert_eq!(p.filter.since, Some(1_714_564_800_500_000_000));
    }

    #[test]
    fn one_container_without_times_asks_for_none() {
        assert!(plan(&[]).unwrap().request(false, 1).without_timestamps);
        assert!(!plan(&[]).unwrap().request(false, 2).without_timestamps);
        assert!(!plan(&["-t"]).unwrap().request(false, 1).without_timestamps);
        assert!(
            !plan(&["--stats"])
                .unwrap()
                .request(false, 1)
                .without_timestamps
        );
        assert!(
            !plan(&["--since", "1m"])
                .unwrap()
                .request(false, 1)
                .without_timestamps
        );
    }
}
