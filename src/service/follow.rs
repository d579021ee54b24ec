//! Following a project's logs through a lost engine (`logs -f`, `up
//! --attach`): when the follow loses the engine, say so once (naming the
//! engine), wait for it to answer again for at most the reconnect timeout,
//! and resume — each container after the last line written — or give up
//! with one engine error (exit 1). A timeout of zero gives up at once.
//!
//! The saying and the waiting are [`await_return`], which the other
//! commands that run until stopped (`events`, `status --watch`) use too.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::error::{EngineGone, LOST_ENGINE};
use crate::engine::logs::follow::{FollowError, ResumableFollow};
use crate::engine::{Engine, CONNECT_DEADLINE};
use crate::logs::LogSink;
use crate::progress::{Event, Reporter};

/// How long a follow waits for a lost engine by default (`--reconnect-timeout`).
pub(crate) const DEFAULT_RECONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a lost engine is asked whether it is back.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Runs `follow` into `sink` until it ends (drained, or the sink or the
/// engine failed), reconnecting within `reconnect_timeout` whenever the
/// engine is lost. A closed sink comes back as the `io::Error`; a lost
/// engine that does not come back as [`EngineGone`].
pub(crate) async fn follow_reconnecting(
    engine: &Engine,
    follow: &mut impl ResumableFollow,
    sink: &mut dyn LogSink,
    drain: &mut watch::Receiver<bool>,
    reconnect_timeout: Duration,
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    loop {
        match follow.run(engine, sink, drain).await {
            Ok(()) => return Ok(()),
            Err(FollowError::Sink(err)) => return Err(err.into()),
            Err(FollowError::Engine(err)) => return Err(err.into()),
            Err(FollowError::Lost) if reconnect_timeout.is_zero() || *drain.borrow() => {
                return Err(engine.lost())
            }
            Err(FollowError::Lost) => {
                let resumes = "the logs resume after the last line shown";
                await_return(engine, reconnect_timeout, reporter, resumes).await?;
            }
        }
    }
}

/// Follows into `sink` until Ctrl-C or the follow's end, through losses of
/// the engine shorter than `reconnect_timeout`; a closed output is a quiet
/// end (`torq logs -f | head`).
pub(crate) async fn follow_until_interrupted(
    engine: &Engine,
    follow: &mut impl ResumableFollow,
    sink: &mut dyn LogSink,
    reconnect_timeout: Duration,
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    let (_never_drain, mut drain) = watch::channel(false);
    let outcome = tokio::select! {
        result = follow_reconnecting(
            engine,
            follow,
            &mut *sink,
            &mut drain,
            reconnect_timeout,
            reporter,
        ) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    match outcome.and_then(|()| Ok(sink.flush()?)) {
        Err(err) if is_closed_pipe(&err) => Ok(()),
        other => other,
    }
}

/// Whether `err` is the reader of the output going away.
fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The engine was lost: says so once (naming the engine), waits up to
/// `timeout` for it to answer a ping, and says it answers again and what
/// `resumes` (e.g. `the events resume after the last one shown`). Without
/// an answer in time the error is [`EngineGone::NotBack`]; a zero `timeout`
/// gives up at once with [`EngineGone::Lost`], having said nothing.
pub(crate) async fn await_return(
    engine: &Engine,
    timeout: Duration,
    reporter: &dyn Reporter,
    resumes: &str,
) -> anyhow::Result<()> {
    if timeout.is_zero() {
        return Err(engine.lost());
    }
    reporter.report(Event::Warning(format!(
        "{LOST_ENGINE} at {}; waiting up to {} for it to come back",
        engine.host(),
        seconds(timeout)
    )));
    if !comes_back(engine, timeout).await {
        return Err(EngineGone::NotBack {
            host: engine.host().to_string(),
            waited: timeout,
        }
        .into());
    }
    reporter.report(Event::Info(format!(
        "the Docker engine at {} answers again: {resumes}",
        engine.host()
    )));
    Ok(())
}

/// Whether the engine answers a ping within `timeout` (asked every
/// [`RETRY_EVERY`]).
async fn comes_back(engine: &Engine, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if engine.answers_within(left.min(CONNECT_DEADLINE)).await {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        tokio::time::sleep(left.min(RETRY_EVERY)).await;
    }
}

/// `30s`, `1.5s`.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
