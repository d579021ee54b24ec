//! Helpers of the Torq stack's tests: unique names, the `torq/node` image
//! built from the test's own torq executable (removed on drop), the stack run
//! as host processes of that executable (killed on drop), and small HTTP and
//! frame utilities.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::{docker_build, unique_project, wait_for, TORQ};

/// The Torq stack's services, in the spec's (start) order.
pub const STACK_SERVICES: [&str; 8] = [
    "market_data_relay",
    "signal_relay",
    "execution_relay",
    "polygon_adapter",
    "kraken_adapter",
    "coinbase_adapter",
    "flash_arbitrage",
    "dashboard_websocket",
];

/// The `torq/node` image, built from images/node/Dockerfile and this test's
/// torq executable under a unique tag; untagged (removed) on drop.
pub struct NodeImage {
    /// Image name (`torq/node`).
    pub name: String,
    /// The unique tag.
    pub tag: String,
}

impl NodeImage {
    /// Builds the image with the docker CLI.
    pub fn build(purpose: &str) -> NodeImage {
        let context = tempfile::tempdir().expect("temp dir");
        let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/node/Dockerfile");
        std::fs::copy(&dockerfile, context.path().join("Dockerfile")).expect("copy the Dockerfile");
        std::fs::copy(TORQ, context.path().join("torq")).expect("copy the torq executable");
        let image = NodeImage {
            name: "torq/node".into(),
            tag: unique_project(purpose),
        };
        docker_build(context.path(), &image.reference());
        image
    }

    /// `torq/node:<tag>`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }
}

impl Drop for NodeImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "--force", &self.reference()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// One service of the stack, as a host process.
pub struct Service {
    /// Its name (`market_data_relay`, …).
    pub name: String,
    /// The process.
    pub child: Child,
    /// Its stdout log.
    pub log: PathBuf,
}

/// The Torq stack as host processes of the torq executable, with its sockets
/// in a temporary directory (or its relays on TCP ports of 127.0.0.1); every
/// process is killed on drop.
pub struct HostStack {
    /// The socket and log directory.
    pub dir: tempfile::TempDir,
    /// Running services.
    pub services: Vec<Service>,
    health_prefix: String,
    tcp_ports: Option<[u16; 3]>,
}

/// Free TCP ports on 127.0.0.1 (bound, read, released).
fn free_ports() -> [u16; 3] {
    let listeners: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    let port = |i: usize| listeners[i].local_addr().expect("its address").port();
    [port(0), port(1), port(2)]
}

impl HostStack {
    /// Starts all eight services on Unix sockets; `adapter_args` are appended
    /// to each adapter's arguments.
    pub fn start(adapter_args: &[&str]) -> HostStack {
        HostStack::start_with(adapter_args, &[], false)
    }

    /// Starts all eight services, the relays on TCP when `tcp`;
    /// `strategy_args` are appended to the strategy's arguments.
    pub fn start_with(adapter_args: &[&str], strategy_args: &[&str], tcp: bool) -> HostStack {
        let mut stack = HostStack {
            dir: tempfile::tempdir().expect("temp dir"),
            services: Vec::new(),
            health_prefix: unique_project("health"),
            tcp_ports: tcp.then(free_ports),
        };
        for domain in ["market_data", "signal", "execution"] {
            stack.start_relay(domain);
        }
        for venue in ["polygon", "kraken", "coinbase"] {
            let relay = stack.socket("market_data");
            let mut args = vec!["adapter", "--venue", venue, "--relay", &relay];
            args.extend_from_slice(adapter_args);
            stack.spawn(&format!("{venue}_adapter"), &args);
        }
        let sockets = stack.socket_args();
        let mut args = vec!["flash-arbitrage"];
        args.extend(sockets.iter().map(String::as_str));
        args.extend_from_slice(strategy_args);
        stack.spawn("flash_arbitrage", &args);
        let mut args = vec!["dashboard", "--listen", "127.0.0.1:0"];
        args.extend(sockets.iter().map(String::as_str));
        stack.spawn("dashboard_websocket", &args);
        stack
    }

    /// Starts (or restarts) the relay of `domain`.
    pub fn start_relay(&mut self, domain: &str) {
        let socket = self.socket(domain);
        self.spawn(
            &format!("{domain}_relay"),
            &[
                "relay",
                "--domain",
                domain,
                "--socket",
                &socket,
                "--stats-interval",
                "1",
            ],
        );
    }

    /// The address of a relay: its socket path, or `tcp://127.0.0.1:PORT`.
    pub fn socket(&self, domain: &str) -> String {
        if let Some(ports) = self.tcp_ports {
            let index = ["market_data", "signal", "execution"]
                .iter()
                .position(|d| *d == domain)
                .expect("a relay domain");
            return format!("tcp://127.0.0.1:{}", ports[index]);
        }
        self.dir
            .path()
            .join(format!("{domain}.sock"))
            .display()
            .to_string()
    }

    fn socket_args(&self) -> Vec<String> {
        ["market_data", "signal", "execution"]
            .iter()
            .map(|d| format!("--{}={}", d.replace('_', "-"), self.socket(d)))
            .collect()
    }

    /// No service yet: start what a test needs with [`HostStack::start_relay`]
    /// and [`HostStack::spawn`].
    pub fn empty() -> HostStack {
        HostStack {
            dir: tempfile::tempdir().expect("temp dir"),
            services: Vec::new(),
            health_prefix: unique_project("health"),
            tcp_ports: None,
        }
    }

    /// Starts `torq node ARGS…` as service `name`, logging to a file in the stack's directory.
    pub fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = self
            .dir
            .path()
            .join(format!("{name}.{}.log", self.services.len()));
        let stdout = std::fs::File::create(&log).expect("log file");
        let health_name = format!("{}-{name}-{}", self.health_prefix, self.services.len());
        let child = Command::new(TORQ)
            .arg("node")
            .args(args)
            .args(["--health-name", &health_name])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn a torq node");
        self.services.push(Service {
            name: name.to_string(),
            child,
            log,
        });
    }

    /// The running service `name` (the latest started).
    pub fn service(&mut self, name: &str) -> &mut Service {
        self.services
            .iter_mut()
            .rev()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no service {name}"))
    }

    /// The dashboard's address, from its log.
    pub fn dashboard_addr(&mut self) -> SocketAddr {
        let log = self.service("dashboard_websocket").log.clone();
        wait_for("the dashboard to listen", Duration::from_secs(20), || {
            let text = std::fs::read_to_string(&log).ok()?;
            let at = text.find("serving http://")? + "serving http://".len();
            text[at..].split('/').next()?.parse().ok()
        })
    }

    /// Sends SIGTERM to a service and waits (up to 10 s) for it to exit.
    pub fn terminate(&mut self, name: &str) -> ExitStatus {
        let service = self.service(name);
        terminate(&mut service.child)
    }

    /// Sends SIGTERM to every running service, dashboard first; returns each one's exit status.
    pub fn terminate_all(&mut self) -> Vec<(String, ExitStatus)> {
        let mut statuses = Vec::new();
        for service in self.services.iter_mut().rev() {
            if let Ok(None) = service.child.try_wait() {
                statuses.push((service.name.clone(), terminate(&mut service.child)));
            }
        }
        statuses
    }

    /// Everything a service logged so far.
    pub fn log(&mut self, name: &str) -> String {
        let log = self.service(name).log.clone();
        std::fs::read_to_string(log).unwrap_or_default()
    }
}

fn terminate(child: &mut Child) -> ExitStatus {
    // SAFETY: kill(2) on the pid of a child we own and have not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    wait_for(
        "a service to exit after SIGTERM",
        Duration::from_secs(10),
        || child.try_wait().ok().flatten(),
    )
}

impl Drop for HostStack {
    fn drop(&mut self) {
        for service in &mut self.services {
            let _ = service.child.kill();
            let _ = service.child.wait();
        }
        // A failing test shows what every service logged.
        if std::thread::panicking() {
            for service in &self.services {
                let log = std::fs::read_to_string(&service.log).unwrap_or_default();
                eprintln!(
                    "---- {} ({}) ----\n{log}",
                    service.name,
                    service.log.display()
                );
            }
        }
    }
}

/// A plain HTTP/1.1 GET: (status code, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut rest = String::new();
    reader.read_to_string(&mut rest)?;
    let body = rest
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, dechunk(&body)))
}

/// Undoes chunked transfer encoding (or returns the body as it is).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_string();
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if size == 0 {
            return out;
        }
        if after.len() < size {
            return body.to_string();
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
}

/// Builds a frame as the original's `MessageHeader` lays it out: 32-byte
/// little-endian header whose checksum is the CRC32 of header bytes 0–28
/// followed by the payload (or `crc` when given), then the payload.
pub fn frame(domain: u8, source: u8, sequence: u64, payload: &[u8], crc: Option<u32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + payload.len());
    out.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    out.extend_from_slice(&[domain, 1, source, 0]);
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let checksum = crc.unwrap_or_else(|| {
        let mut scope = out[..28].to_vec();
        scope.extend_from_slice(payload);
        crc32(&scope)
    });
    out.extend_from_slice(&checksum.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// CRC32 (IEEE), bitwise: the tests check the relay against an independent implementation.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= *byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A relay client over a Unix socket: reads whole frames, skipping relay heartbeats.
pub struct FrameClient {
    stream: std::os::unix::net::UnixStream,
}

/// The header's domain byte of relay heartbeats (System).
pub const SYSTEM_DOMAIN: u8 = 4;

/// Whether a header is a relay's own frame: System domain, a relay source (80–82).
pub fn is_relay_frame(header: &[u8; 32]) -> bool {
    header[4] == SYSTEM_DOMAIN && (80..=82).contains(&header[6])
}

impl FrameClient {
    /// Connects, retrying until the socket exists (up to 20 s).
    pub fn connect(path: &Path) -> FrameClient {
        let stream = wait_for("the relay socket", Duration::from_secs(20), || {
            std::os::unix::net::UnixStream::connect(path).ok()
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        FrameClient { stream }
    }

    /// Reads the next frame: (header, payload).
    pub fn read_frame(&mut self) -> ([u8; 32], Vec<u8>) {
        let mut header = [0u8; 32];
        self.stream.read_exact(&mut header).expect("a frame header");
        assert_eq!(&header[..4], &0xDEAD_BEEFu32.to_le_bytes(), "frame sync");
        let len = u32::from_le_bytes([header[24], header[25], header[26], header[27]]) as usize;
        let mut payload = vec![0u8; len];
        self.stream
            .read_exact(&mut payload)
            .expect("a frame payload");
        (header, payload)
    }

    /// Waits for the relay's first heartbeat: then this client is registered.
    pub fn wait_registered(&mut self) {
        // On a busy relay, other clients' frames may come first.
        while !is_relay_frame(&self.read_frame().0) {}
    }

    /// The next frame that is not a relay heartbeat.
    pub fn next_data_frame(&mut self) -> ([u8; 32], Vec<u8>) {
        loop {
            let (header, payload) = self.read_frame();
            if !is_relay_frame(&header) {
                return (header, payload);
            }
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to the relay");
    }
}
