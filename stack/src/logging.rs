//! Leveled log lines on stdout, one per event:
//! `2026-11-26T10:00:00.123Z INFO relay{domain=market_data}: message key=value`.
//! The filter comes from `TORQ_NODE_LOG` (a tracing env-filter), default `info`.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter.
pub const FILTER_ENV: &str = "TORQ_NODE_LOG";

/// Installs the stdout logger (once per process; later calls do nothing).
pub fn init() {
    let filter = EnvFilter::try_from_env(FILTER_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .event_format(LineFormat)
        .try_init();
}

/// One line per event: UTC timestamp (milliseconds), level, span path, fields.
struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        write!(writer, "{now} {} ", event.metadata().level())?;
        if let Some(scope) = ctx.event_scope() {
            let mut spans = 0;
            for span in scope.from_root() {
                if spans > 0 {
                    write!(writer, ":")?;
                }
                write!(writer, "{}", span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{{{fields}}}")?;
                    }
                }
                spans += 1;
            }
            if spans > 0 {
                write!(writer, ": ")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
