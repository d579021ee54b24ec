//! Graceful shutdown: SIGTERM and SIGINT cancel a token every task watches;
//! the service then has a bounded time to finish before the process exits 0.

use std::future::Future;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long a service may take to wind down after the signal.
pub const GRACE: Duration = Duration::from_millis(700);

/// Blocks (`true`) or unblocks SIGTERM and SIGINT for the calling thread
/// (and the threads it starts later). While blocked, they wait as pending.
pub fn hold_stop_signals(hold: bool) {
    // SAFETY: plain libc calls on a local, initialized signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let how = if hold {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// A token cancelled on the first SIGTERM or SIGINT. Call it on the thread
/// that blocked them at start ([`hold_stop_signals`]): once the handlers are
/// in place they are unblocked there, and one that came early is delivered.
pub fn on_signal() -> anyhow::Result<CancellationToken> {
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    hold_stop_signals(false);
    let cancel = token.clone();
    tokio::spawn(
        async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!("{name} received, shutting down");
            cancel.cancel();
        }
        .in_current_span(),
    );
    Ok(token)
}

/// Runs `service` until it returns; once `cancel` fires it gets [`GRACE`] to
/// return on its own, after which it is abandoned (and counts as a clean stop).
pub async fn run_until_stopped<F>(service: F, cancel: CancellationToken) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    tokio::pin!(service);
    tokio::select! {
        result = &mut service => result,
        _ = async { cancel.cancelled().await; tokio::time::sleep(GRACE).await } => {
            tracing::warn!("still busy {GRACE:?} after the stop signal; exiting anyway");
            Ok(())
        }
    }
}
