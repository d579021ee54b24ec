//! `torq logs`: the services' logs, merged by engine timestamp, with colored
//! service prefixes and levels; `-f` follows.
//!
//! Lines go through one `BufWriter` over the locked stdout (no per-line
//! locking or flushing when reading; a flush whenever the follow runs dry). A
//! closed pipe (`torq logs | head`) ends the command quietly with exit 0.

use std::io::{self, BufWriter, Write};

use anyhow::{bail, Context as _};
use clap::Args;

use super::{Context, ExitStatus, OutputArgs};
use crate::engine::logs::follow::{follow_project, FollowError, FollowOptions};
use crate::engine::logs::read::{project_sources, read_merged};
use crate::engine::logs::{LogRequest, Tail};
use crate::engine::Engine;
use crate::logs::time::{self, Nanos};
use crate::logs::{
    FormatOptions, Level, LineFilter, LineFormatter, LinePrinter, LogSink, ServiceStats, Source,
    StatsCollector,
};
use crate::ui::table::{Align, Cell, Table};

pub const AFTER_HELP: &str = "\
Examples:
  torq logs                        Last 50 lines of every service, merged by time
  torq logs -f kraken_adapter      Follow one service (survives restarts)
  torq logs -n all --level warn    Everything at WARN or above
  torq logs --grep 'spread=' -t    Matching lines with timestamps
  torq logs --stats                Lines, bytes and levels per service

Lines from a container's stderr are marked with `!` instead of `|`.
-n counts lines before --grep and --level filter them; -n all searches everything.

Exit codes: 0 success; 1 spec or engine error.";

/// The default `-n`: lines per service.
pub const DEFAULT_TAIL: u64 = 50;

/// Size of the stdout buffer lines are written through.
const STDOUT_BUFFER: usize = 64 * 1024;

/// Arguments of `torq logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
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

    #[command(flatten)]
    pub output: OutputArgs,
}

/// The arguments, checked and turned into the log layer's terms.
struct Plan {
    tail: Tail,
    filter: LineFilter,
    format: FormatOptions,
    since: Option<Nanos>,
    until: Option<Nanos>,
    stats: bool,
}

impl Plan {
    fn from_args(args: &LogsArgs, color: bool) -> anyhow::Result<Plan> {
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
        Ok(Plan {
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
        })
    }

    /// The engine request for a read of `sources` containers: whole seconds
    /// around the exact window (the filter trims to the nanosecond). One
    /// container read without `-t`, a window or `--stats` needs no times, so
    /// the engine is spared formatting them.
    fn request(&self, follow: bool, sources: usize) -> LogRequest {
        let second = 1_000_000_000;
        let times_needed = sources > 1
            || follow
            || self.format.timestamps
            || self.stats
            || self.since.is_some()
            || self.until.is_some();
        LogRequest {
            follow,
            tail: self.tail,
            since: self.since.map(|ns| ns.div_euclid(second)),
            until: self.until.map(|ns| ns.div_euclid(second) + 1),
            without_timestamps: !times_needed,
        }
    }
}

/// The project a command looks at: its name, and its spec when one loads.
/// With `-p NAME` a project whose spec is not at hand is still found by its
/// containers' labels (as with `docker compose -p NAME logs`).
pub(crate) fn target_project(
    ctx: &Context,
) -> anyhow::Result<(String, Option<crate::compose::Project>)> {
    match ctx.load_project() {
        Ok(project) => Ok((project.name.clone(), Some(project))),
        Err(err) => match &ctx.project.project_name {
            Some(name) if ctx.project.files.is_empty() => {
                ctx.shell.verbose(&format!(
                    "no spec ({err:#}); looking at project {name} by its labels only"
                ));
                Ok((name.clone(), None))
            }
            _ => Err(err),
        },
    }
}

/// Checks the named services exist in the spec (when there is one).
pub(crate) fn check_services(
    spec: Option<&crate::compose::Project>,
    services: &[String],
) -> anyhow::Result<()> {
    let Some(spec) = spec else {
        return Ok(());
    };
    for name in services {
        if !spec.services.contains_key(name) {
            let known: Vec<&str> = spec.services.keys().map(String::as_str).collect();
            bail!(
                "no such service: {name} (the spec has {})",
                known.join(", ")
            );
        }
    }
    Ok(())
}

/// Runs `torq logs`.
pub fn run(ctx: &Context, args: LogsArgs) -> anyhow::Result<ExitStatus> {
    let plan = Plan::from_args(&args, ctx.shell.out_color())?;
    let (project, spec) = target_project(ctx)?;
    check_services(spec.as_ref(), &args.services)?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let engine = Engine::connect().await?;
        if args.follow {
            follow(ctx, &engine, &project, spec.as_ref(), &args, &plan).await
        } else {
            read(ctx, &engine, &project, spec.as_ref(), &args, &plan).await
        }
    })
}

/// The labels of the spec's services (`service-N` for replicas beyond the
/// first), in spec order: they fix each service's color.
pub fn color_order(spec: Option<&crate::compose::Project>) -> Vec<String> {
    spec.map(|spec| {
        spec.services
            .iter()
            .flat_map(|(name, service)| {
                (1..=service.replicas().max(1)).map(move |n| crate::naming::log_label(name, n))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The widest prefix the spec's services can need (`service-N` for the
/// replicas it asks for), so a follow's columns don't shift when containers
/// join later.
fn label_width(spec: Option<&crate::compose::Project>, services: &[String]) -> usize {
    let Some(spec) = spec else {
        return services
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
    };
    spec.services
        .iter()
        .filter(|(name, _)| services.is_empty() || services.contains(name))
        .map(|(name, service)| {
            let replicas = service.replicas();
            let label = crate::naming::log_label(name, replicas);
            label.chars().count()
        })
        .max()
        .unwrap_or(0)
}

fn stdout_writer() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(STDOUT_BUFFER, io::stdout().lock())
}

/// Log lines on stdout as `torq logs` prints them — `service | message`,
/// prefixes padded to `label_width`, colored when `color` — through one
/// buffered writer over the locked stdout. For `torq up --attach`:
///
/// ```ignore
/// let mut printer = cli::logs::stdout_printer(ctx.shell.out_color(), width);
/// tokio::select! {
///     r = logs::follow::follow_project(&engine, &project.name, &options, &mut printer) => r?,
///     _ = done => {}
/// }
/// printer.flush()?; // a BrokenPipe error here means stdout was closed: end quietly
/// ```
pub fn stdout_printer(
    color: bool,
    label_width: usize,
) -> LinePrinter<BufWriter<io::StdoutLock<'static>>> {
    let options = FormatOptions {
        color,
        prefix: true,
        timestamps: false,
    };
    LinePrinter::new(
        LineFormatter::new(options, label_width),
        LineFilter::default(),
        stdout_writer(),
    )
}

/// `torq logs` without `-f`: every container's log, merged by time.
async fn read(
    ctx: &Context,
    engine: &Engine,
    project: &str,
    spec: Option<&crate::compose::Project>,
    args: &LogsArgs,
    plan: &Plan,
) -> anyhow::Result<ExitStatus> {
    let mut sources = project_sources(engine, project, &args.services).await?;
    sort_by_spec(&mut sources, spec);
    if sources.is_empty() {
        ctx.shell
            .info(&format!("project {project} has no containers (is it up?)"));
        return Ok(ExitStatus::Success);
    }
    let request = plan.request(false, sources.len());
    if args.stats {
        let services = service_order(&sources);
        let mut collector = StatsCollector::new(plan.filter.clone(), &services);
        let failures = read_merged(engine, &sources, request, &mut collector).await?;
        report_failures(ctx, &sources, &failures);
        print_stats(ctx, &collector.into_stats());
        return Ok(ExitStatus::Success);
    }
    let width = sources
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(0);
    let formatter = LineFormatter::new(plan.format, width).with_color_order(color_order(spec));
    let mut printer = LinePrinter::new(formatter, plan.filter.clone(), stdout_writer());
    match read_merged(engine, &sources, request, &mut printer).await {
        Ok(failures) => {
            drop(printer);
            report_failures(ctx, &sources, &failures);
            Ok(ExitStatus::Success)
        }
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitStatus::Success),
        Err(err) => Err(err).context("cannot write to stdout"),
    }
}

/// `torq logs -f`: follow until Ctrl-C.
async fn follow(
    ctx: &Context,
    engine: &Engine,
    project: &str,
    spec: Option<&crate::compose::Project>,
    args: &LogsArgs,
    plan: &Plan,
) -> anyhow::Result<ExitStatus> {
    let options = FollowOptions {
        services: args.services.clone(),
        tail: plan.tail,
        since: plan.since,
    };
    if args.stats {
        let services: Vec<String> = spec
            .map(|s| s.services.keys().cloned().collect())
            .unwrap_or_default();
        let mut collector = StatsCollector::new(plan.filter.clone(), &services);
        let outcome = follow_until_interrupted(engine, project, &options, &mut collector).await;
        print_stats(ctx, &collector.into_stats());
        return outcome;
    }
    let formatter = LineFormatter::new(plan.format, label_width(spec, &args.services))
        .with_color_order(color_order(spec));
    let mut printer = LinePrinter::new(formatter, plan.filter.clone(), stdout_writer());
    follow_until_interrupted(engine, project, &options, &mut printer).await
}

/// Follows into `sink` until Ctrl-C; a closed stdout is a quiet end.
async fn follow_until_interrupted(
    engine: &Engine,
    project: &str,
    options: &FollowOptions,
    sink: &mut dyn LogSink,
) -> anyhow::Result<ExitStatus> {
    let outcome = tokio::select! {
        result = follow_project(engine, project, options, sink) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    let outcome = outcome.and_then(|()| sink.flush().map_err(FollowError::Sink));
    match outcome {
        Ok(()) => Ok(ExitStatus::Success),
        Err(FollowError::Sink(err)) if err.kind() == io::ErrorKind::BrokenPipe => {
            Ok(ExitStatus::Success)
        }
        Err(err) => Err(err.into()),
    }
}

/// Puts sources in spec order (services the spec lacks last), replicas by
/// number: ties in time and `--stats` rows follow it.
fn sort_by_spec(sources: &mut [Source], spec: Option<&crate::compose::Project>) {
    let Some(spec) = spec else {
        return;
    };
    sources.sort_by_key(|s| {
        let index = spec.services.get_index_of(&s.service).unwrap_or(usize::MAX);
        (index, s.service.clone(), s.number)
    });
}

/// Services in the order their containers come (sources are sorted by service).
fn service_order(sources: &[Source]) -> Vec<String> {
    let mut services: Vec<String> = Vec::new();
    for s in sources {
        if !services.contains(&s.service) {
            services.push(s.service.clone());
        }
    }
    services
}

fn report_failures(
    ctx: &Context,
    sources: &[Source],
    failures: &[crate::logs::merge::SourceFailure],
) {
    for failure in failures {
        let name = sources
            .get(failure.source)
            .map(|s| s.container_name.as_str())
            .unwrap_or("?");
        ctx.shell.warn(&format!(
            "the log of {name} ended early: {}",
            failure.message
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

    fn plan(argv: &[&str]) -> anyhow::Result<Plan> {
        let mut full = vec!["logs"];
        full.extend_from_slice(argv);
        let args = Wrapper::try_parse_from(full).unwrap().args;
        Plan::from_args(&args, true)
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
    fn label_width_makes_room_for_replicas() {
        let mut spec = crate::compose::Project::default();
        for (name, replicas) in [("web", 12), ("database", 1)] {
            let service = crate::compose::model::Service {
                deploy: Some(crate::compose::model::Deploy {
                    replicas: Some(replicas),
                    ..Default::default()
                }),
                ..Default::default()
            };
            spec.services.insert(name.to_string(), service);
        }
        assert_eq!(label_width(Some(&spec), &[]), "database".len());
        assert_eq!(label_width(Some(&spec), &["web".into()]), "web-12".len());
        assert_eq!(label_width(None, &["abc".into()]), 3);
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
