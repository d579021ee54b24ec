//! Following a project's logs through a lost engine (`logs -f`, `up
//! --attach`): when the follow loses the engine, say so once (naming the
//! engine), wait for it to answer again for at most the reconnect timeout,
//! and resume — each container after the last line written — or give up
//! with one engine error (exit 1). A timeout of zero gives up at once.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::error::{EngineGone, LOST_ENGINE};
use crate::engine::logs::follow::{FollowError, ProjectFollow};
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
    project: &str,
    follow: &mut ProjectFollow,
    sink: &mut dyn LogSink,
    drain: &mut watch::Receiver<bool>,
    reconnect_timeout: Duration,
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    loop {
        match follow.run(engine, project, sink, drain).await {
            Ok(()) => return Ok(()),
            Err(FollowError::Sink(err)) => return Err(err.into()),
            Err(FollowError::Engine(err)) => return Err(err.into()),
            Err(FollowError::Lost) if reconnect_timeout.is_zero() || *drain.borrow() => {
                return Err(engine.lost())
            }
            Err(FollowError::Lost) => {
                reporter.report(Event::Warning(format!(
                    "{LOST_ENGINE} at {}; waiting up to {} for it to come back",
                    engine.host(),
                    seconds(reconnect_timeout)
                )));
                if !comes_back(engine, reconnect_timeout).await {
                    return Err(EngineGone::NotBack {
                        host: engine.host().to_string(),
                        waited: reconnect_timeout,
                    }
                    .into());
                }
                reporter.report(Event::Info(format!(
                    "the Docker engine at {} answers again: the logs resume after the last line shown",
                    engine.host()
                )));
            }
        }
    }
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
