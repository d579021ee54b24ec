//! `logs`: the services' logs, merged by engine timestamp (or followed
//! across restarts), written as formatted lines to a writer the caller
//! gives, or counted per service (`--stats`).
//!
//! [`label_width`] and [`color_order`] are how every command that shows log
//! lines (`logs`, `up --attach`) sizes and colors the service prefixes: the
//! replicas the spec asks for included, so columns don't shift.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::Context as _;

use super::follow::follow_until_interrupted;
use crate::compose::model::Project;
use crate::engine::error::is_lost_reason;
use crate::engine::logs::follow::{FollowOptions, ProjectFollow};
use crate::engine::logs::read::{project_sources, read_merged};
use crate::engine::logs::LogRequest;
use crate::engine::Engine;
use crate::logs::merge::SourceFailure;
use crate::logs::time::Nanos;
use crate::logs::Tail;
use crate::logs::{
    FormatOptions, LineFilter, LineFormatter, LinePrinter, LogSink, RoomProbe, ServiceStats,
    Source, StatsCollector,
};
use crate::naming::log_label;
use crate::progress::Reporter;

/// What `logs` is asked to show, in the log layer's terms.
#[derive(Debug, Clone)]
pub(crate) struct LogsQuery {
    /// Services to show (empty: all).
    pub services: Vec<String>,
    /// Follow until Ctrl-C.
    pub follow: bool,
    pub tail: Tail,
    pub filter: LineFilter,
    pub format: FormatOptions,
    pub since: Option<Nanos>,
    pub until: Option<Nanos>,
    /// Count per service instead of showing lines.
    pub stats: bool,
    /// With `follow`: how long to wait for a lost engine to come back.
    pub reconnect_timeout: Duration,
}

impl LogsQuery {
    /// The engine request for a read of `sources` containers: whole seconds
    /// around the exact window (the filter trims to the nanosecond). One
    /// container read without `-t`, a window or `--stats` needs no times, so
    /// the engine is spared formatting them.
    pub(crate) fn request(&self, follow: bool, sources: usize) -> LogRequest {
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

/// A container whose log could not be read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndedEarly {
    pub container: String,
    /// The engine's reason.
    pub reason: String,
}

/// What `logs` did.
#[derive(Debug)]
pub(crate) enum LogsOutcome {
    /// The project has no containers (of the selected services).
    NoContainers,
    /// The lines were written (until the reader went away, or Ctrl-C).
    Shown { ended_early: Vec<EndedEarly> },
    /// `--stats`: the counts per service.
    Stats {
        stats: Vec<ServiceStats>,
        ended_early: Vec<EndedEarly>,
    },
}

/// Where `logs` writes: a writer, and (for a follow into a writer of its
/// own thread) how to tell that writer is full.
pub(crate) struct LogsOutput<W: Write> {
    pub out: W,
    /// Whether `out` is full (see [`crate::logs::LogSink::room`]).
    pub room: Option<RoomProbe>,
}

/// Runs `torq logs`: shows `project`'s logs per `query` through `output`. A
/// closed output (`torq logs | head`) is a quiet end. A follow's notes (the
/// engine lost and back) go to `reporter`.
pub(crate) async fn run<W: Write>(
    project: &str,
    spec: Option<&Project>,
    query: &LogsQuery,
    output: LogsOutput<W>,
    reporter: &dyn Reporter,
) -> anyhow::Result<LogsOutcome> {
    let engine = super::connect().await?;
    let target = Target {
        engine: &engine,
        project,
        spec,
        reporter,
    };
    if query.follow {
        target.follow(query, output).await
    } else {
        target.read(query, output.out).await
    }
}

/// Whose logs: the project on the engine, and its spec when at hand.
struct Target<'a> {
    engine: &'a Engine,
    project: &'a str,
    spec: Option<&'a Project>,
    reporter: &'a dyn Reporter,
}

/// The labels of the spec's services (`service-N` for replicas beyond the
/// first), in spec order: they fix each service's color.
pub(crate) fn color_order(spec: Option<&Project>) -> Vec<String> {
    spec.map(|spec| {
        spec.services
            .iter()
            .flat_map(|(name, service)| {
                (1..=service.replicas().max(1)).map(move |n| log_label(name, n))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The widest prefix the spec's services (of `services`, or all) can need
/// (`service-N` for the replicas it asks for), so a follow's columns don't
/// shift when containers join later.
pub(crate) fn label_width(spec: Option<&Project>, services: &[String]) -> usize {
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
        .map(|(name, service)| log_label(name, service.replicas()).chars().count())
        .max()
        .unwrap_or(0)
}

/// A printer of formatted lines into `out`, colored in spec order.
pub(crate) fn printer<W: Write>(
    spec: Option<&Project>,
    format: FormatOptions,
    width: usize,
    filter: LineFilter,
    out: W,
) -> LinePrinter<W> {
    let formatter = LineFormatter::new(format, width).with_color_order(color_order(spec));
    LinePrinter::new(formatter, filter, out)
}

impl Target<'_> {
    /// `torq logs` without `-f`: every container's log, merged by time.
    async fn read<W: Write>(&self, query: &LogsQuery, out: W) -> anyhow::Result<LogsOutcome> {
        let (engine, project, spec) = (self.engine, self.project, self.spec);
        let mut sources = project_sources(engine, project, &query.services).await?;
        sort_by_spec(&mut sources, spec);
        if sources.is_empty() {
            return Ok(LogsOutcome::NoContainers);
        }
        let request = query.request(false, sources.len());
        if query.stats {
            let services = service_order(&sources);
            let mut collector = StatsCollector::new(query.filter.clone(), &services);
            let failures = read_merged(engine, &sources, request, &mut collector).await?;
            self.check_engine(&failures).await?;
            return Ok(LogsOutcome::Stats {
                stats: collector.into_stats(),
                ended_early: ended_early(&sources, &failures),
            });
        }
        let width = sources
            .iter()
            .map(|s| s.label.chars().count())
            .max()
            .unwrap_or(0);
        let mut printer = printer(spec, query.format, width, query.filter.clone(), out);
        match read_merged(engine, &sources, request, &mut printer).await {
            Ok(failures) => {
                printer.flush().or_else(quiet_if_closed)?;
                self.check_engine(&failures).await?;
                Ok(LogsOutcome::Shown {
                    ended_early: ended_early(&sources, &failures),
                })
            }
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(LogsOutcome::Shown {
                ended_early: Vec::new(),
            }),
            Err(err) => Err(err).context("cannot write the log lines"),
        }
    }

    /// `torq logs -f`: follow until Ctrl-C.
    async fn follow<W: Write>(
        &self,
        query: &LogsQuery,
        output: LogsOutput<W>,
    ) -> anyhow::Result<LogsOutcome> {
        let spec = self.spec;
        let options = FollowOptions {
            services: query.services.clone(),
            tail: query.tail,
            since: query.since,
        };
        if query.stats {
            let services: Vec<String> = spec
                .map(|s| s.services.keys().cloned().collect())
                .unwrap_or_default();
            let mut collector = StatsCollector::new(query.filter.clone(), &services);
            let mut follow = ProjectFollow::new(self.project, options);
            let outcome = follow_until_interrupted(
                self.engine,
                &mut follow,
                &mut collector,
                query.reconnect_timeout,
                self.reporter,
            )
            .await;
            outcome.map(|()| LogsOutcome::Stats {
                stats: collector.into_stats(),
                ended_early: Vec::new(),
            })
        } else {
            let width = label_width(spec, &query.services);
            let mut printer = printer(spec, query.format, width, query.filter.clone(), output.out)
                .paced_by(output.room);
            let mut follow = ProjectFollow::new(self.project, options);
            follow_until_interrupted(
                self.engine,
                &mut follow,
                &mut printer,
                query.reconnect_timeout,
                self.reporter,
            )
            .await?;
            Ok(LogsOutcome::Shown {
                ended_early: Vec::new(),
            })
        }
    }
}

impl Target<'_> {
    /// Logs that ended early because the engine went away are one engine
    /// error, not a warning per container.
    async fn check_engine(&self, failures: &[SourceFailure]) -> anyhow::Result<()> {
        let lost = failures.iter().any(|f| is_lost_reason(&f.message));
        if super::engine_gone(self.engine, lost).await {
            return Err(self.engine.lost());
        }
        Ok(())
    }
}

/// A closed output is not an error (`torq logs | head`).
fn quiet_if_closed(err: io::Error) -> anyhow::Result<()> {
    if err.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(err).context("cannot write the log lines")
    }
}

/// Puts sources in spec order (services the spec lacks last), replicas by
/// number: ties in time and `--stats` rows follow it.
fn sort_by_spec(sources: &mut [Source], spec: Option<&Project>) {
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

fn ended_early(
    sources: &[Source],
    failures: &[crate::logs::merge::SourceFailure],
) -> Vec<EndedEarly> {
    failures
        .iter()
        .map(|failure| EndedEarly {
            container: sources
                .get(failure.source)
                .map(|s| s.container_name.clone())
                .unwrap_or_else(|| "?".into()),
            reason: failure.message.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_width_makes_room_for_replicas() {
        let mut spec = Project::default();
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
}
