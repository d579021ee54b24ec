//! The dashboard service: subscribes to all three relays and serves HTTP —
//! `/` a self-contained page with charts (no external assets), `/ws` JSON
//! events, `/health`, `/status` (JSON counters, sequence gaps).

pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::client::{self, LinkConfig, RelayLink};
use crate::health::Health;
use crate::protocol::{Domain, Frame};
use crate::transport::Endpoint;
use state::DashboardState;

/// The page served at `/`.
const PAGE: &str = include_str!("index.html");

/// How the dashboard runs.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// The HTTP address.
    pub listen: SocketAddr,
    /// The relays' addresses, by domain.
    pub relays: Vec<(Domain, Endpoint)>,
}

#[derive(Clone)]
struct App {
    state: Arc<DashboardState>,
    cancel: CancellationToken,
}

/// Runs the dashboard until `cancel`.
pub async fn run(
    options: DashboardOptions,
    health: Health,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let state = Arc::new(DashboardState::new());
    for (domain, endpoint) in &options.relays {
        subscribe(
            *domain,
            endpoint.clone(),
            state.clone(),
            health.clone(),
            cancel.clone(),
        );
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    health.set("http", true);
    let bound = listener.local_addr().unwrap_or(options.listen);
    tracing::info!("serving http://{bound}/ (/ws, /health, /status)");
    let app = App {
        state,
        cancel: cancel.clone(),
    };
    let router = Router::new()
        .route("/", get(page))
        .route("/index.html", get(page))
        .route("/ws", get(websocket))
        .route("/health", get(health_check))
        .route("/status", get(status))
        .with_state(app);
    axum::serve(listener, router)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
        .context("the HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Links to one relay and feeds its frames (and link state) into `state`.
fn subscribe(
    domain: Domain,
    endpoint: Endpoint,
    state: Arc<DashboardState>,
    health: Health,
    cancel: CancellationToken,
) {
    let (inbound, mut frames) = mpsc::channel::<Frame>(4096);
    let link: RelayLink = client::spawn(
        LinkConfig { domain, endpoint },
        Some(inbound),
        health,
        cancel.clone(),
    );
    state.add_link(link.clone());
    let mut link_state = link.connection_changes();
    let task = async move {
        state.set_connected(domain, *link_state.borrow_and_update());
        let mut link_open = true;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                frame = frames.recv() => match frame {
                    Some(frame) => state.on_frame(domain, &frame),
                    None => return,
                },
                changed = link_state.changed(), if link_open => match changed {
                    Ok(()) => state.set_connected(domain, *link_state.borrow_and_update()),
                    Err(_) => link_open = false,
                },
            }
        }
    };
    tokio::spawn(task.in_current_span());
}

async fn page() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE)).into_response()
}

async fn health_check() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn status(State(app): State<App>) -> Response {
    Json(app.state.status()).into_response()
}

async fn websocket(State(app): State<App>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| stream_events(socket, app).in_current_span())
}

/// Sends a `/ws` client the snapshot, then every event until it leaves or
/// the dashboard stops. A client too slow for the backlog skips events.
async fn stream_events(mut socket: WebSocket, app: App) {
    let (snapshot, mut live) = app.state.subscribe();
    for json in snapshot {
        if socket.send(WsMessage::Text(json)).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => {
                let _ = socket.send(WsMessage::Close(None)).await;
                return;
            }
            event = live.recv() => match event {
                Ok(json) => {
                    if socket.send(WsMessage::Text(json)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::debug!("a /ws client skipped {skipped} events");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
