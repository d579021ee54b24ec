//! The dashboard in a real browser: headless Chromium (Debian's `chromium`,
//! installed by `cargo xtask test`) in a 1280-pixel-wide window, driven over the
//! DevTools protocol, opens the page served by the stack (eight host
//! processes of the torq executable) and sees it go live, its quotes change,
//! a DEX signal row and an order appear, the relay counters and sequence
//! tracking, and its charts draw data: prices per instrument with both
//! exchanges and both pools, the signals' cumulative profit, relay
//! throughput and sequence gaps — all without horizontal scrolling.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{chromium, HostStack};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Headless Chromium with a temporary profile; killed on drop.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    devtools: String,
}

impl Browser {
    fn launch() -> Browser {
        let binary = chromium();
        let profile = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("chromium stderr");
        let (found, devtools) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = found.send(line[at..].trim().to_string());
                }
            }
        });
        let devtools = devtools
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium prints its DevTools address");
        Browser {
            child,
            _profile: profile,
            devtools,
        }
    }
}

impl Drop for Browser {
    /// SIGTERM first, so Chromium reaps its own helper processes; SIGKILL after 5 s.
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child we own and have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A DevTools protocol session on one page.
struct Page {
    ws: Socket,
    session: String,
    next_id: u64,
}

impl Page {
    async fn open(browser: &Browser, url: &str) -> Page {
        let (ws, _) = tokio_tungstenite::connect_async(browser.devtools.as_str())
            .await
            .expect("connect to DevTools");
        let mut page = Page {
            ws,
            session: String::new(),
            next_id: 0,
        };
        let target = page
            .call("Target.createTarget", json!({ "url": url }))
            .await;
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = page
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        page.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        page
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut request = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            request["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::Text(request.to_string().into()))
            .await
            .expect("send a DevTools command");
        loop {
            let message = self
                .ws
                .next()
                .await
                .expect("DevTools connection open")
                .expect("DevTools message");
            let Message::Text(text) = message else {
                continue;
            };
            let reply: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method} failed: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page; returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` every 100 ms until `accept` takes its value, or fails after `deadline`.
    async fn wait_for(
        &mut self,
        what: &str,
        expression: &str,
        deadline: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let until = Instant::now() + deadline;
        loop {
            let value = self.eval(expression).await;
            if accept(&value) {
                return value;
            }
            assert!(
                Instant::now() < until,
                "timed out after {deadline:?} waiting for {what}; last value {value}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_page_shows_live_quotes_signals_and_relays() {
    let mut stack = HostStack::start(&[]);
    let addr = tokio::task::block_in_place(|| stack.dashboard_addr());
    let browser = tokio::task::block_in_place(Browser::launch);
    let mut page = Page::open(&browser, &format!("http://{addr}/")).await;
    let minute = Duration::from_secs(60);

    page.wait_for("the page to load", "document.title", minute, |v| {
        v == "Torq dashboard"
    })
    .await;
    page.wait_for(
        "the live badge",
        "document.getElementById('conn').textContent",
        minute,
        |v| v == "live",
    )
    .await;
    page.wait_for(
        "a quote row per venue and instrument",
        "document.querySelectorAll('#quotes tbody tr[data-venue]').length",
        minute,
        |v| v.as_u64() == Some(6),
    )
    .await;

    let bid = "document.querySelector('#quotes tr[data-venue=\"kraken\"][data-instrument=\"BTC/USD\"] td.bid').textContent";
    let first = page.eval(bid).await;
    assert!(
        first.as_str().is_some_and(|b| b.contains('.')),
        "a price: {first}"
    );
    page.wait_for("the kraken BTC/USD bid to change", bid, minute, |v| {
        *v != first
    })
    .await;

    let signal = page
        .wait_for(
            "a signal row",
            "(document.querySelector('#signals tbody tr.signal') || {}).textContent || ''",
            minute,
            |v| v.as_str().is_some_and(|t| !t.is_empty()),
        )
        .await;
    let signal = signal.as_str().unwrap_or_default();
    assert!(
        signal.contains("quickswap") && signal.contains("sushiswap"),
        "a DEX signal row (the default mode): {signal}"
    );
    page.wait_for(
        "an order row",
        "document.querySelectorAll('#orders tbody tr.order').length",
        minute,
        |v| v.as_u64().is_some_and(|n| n > 0),
    )
    .await;
    page.wait_for(
        "three relays up with counters",
        "[...document.querySelectorAll('#relays tbody tr')].filter(r => r.cells[1].textContent == 'up' && r.cells[2].textContent != '–').length",
        minute,
        |v| v.as_u64() == Some(3),
    )
    .await;

    page.wait_for(
        "the sequence tracking of every publisher",
        "document.querySelectorAll('#sequences tbody tr[data-source]').length",
        minute,
        |v| v.as_u64().is_some_and(|n| n >= 4),
    )
    .await;

    // The charts draw data. ETH/USD has both exchanges and both pools.
    let series = "(id) => { const c = window.torqCharts[id]; return c ? [...c.series.keys()].sort().join(',') : ''; }";
    page.wait_for(
        "the ETH/USD chart with both venues and both pools",
        &format!("({series})('chart-price-ETHUSD')"),
        minute,
        |v| v == "coinbase,kraken,quickswap,sushiswap",
    )
    .await;
    page.wait_for(
        "a price chart per instrument, each drawn",
        "[...document.querySelectorAll('#price-charts canvas')].filter(c => +c.dataset.points > 1).length",
        minute,
        |v| v.as_u64().is_some_and(|n| n >= 4),
    )
    .await;
    page.wait_for(
        "the cumulative profit of the signals above zero",
        "(() => { const s = window.torqCharts['chart-profit'].series.get('profit'); return s[s.length - 1][1]; })()",
        minute,
        |v| v.as_f64().is_some_and(|p| p > 0.0),
    )
    .await;
    for (chart, what) in [
        ("chart-throughput", "relay throughput"),
        ("chart-gaps", "sequence gaps"),
        ("chart-profit", "cumulative profit"),
    ] {
        page.wait_for(
            &format!("the {what} chart drawn"),
            &format!("+document.getElementById('{chart}').dataset.points"),
            minute,
            |v| v.as_u64().is_some_and(|n| n > 1),
        )
        .await;
    }
    // Drawn means pixels: the ETH/USD canvas is not blank.
    let painted = page
        .eval("(() => { const c = document.getElementById('chart-price-ETHUSD'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()")
        .await;
    assert!(
        painted.as_u64().is_some_and(|n| n > 100),
        "painted pixels: {painted}"
    );

    // The page fits a 1280-pixel-wide window: no horizontal scrolling.
    let widths = page
        .eval("[window.innerWidth, document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        .await;
    let [inner, scroll, client] = [0, 1, 2].map(|i| widths[i].as_u64().unwrap_or(u64::MAX));
    assert_eq!(inner, 1280, "window width: {widths}");
    assert!(
        scroll <= client,
        "horizontal scroll in a 1280-px window: {widths}"
    );
}
