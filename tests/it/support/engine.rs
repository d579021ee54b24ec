//! Helpers of the tests that drive torq against the real Docker engine:
//!
//! - [`unique_project`]: a project name no other test (or run) uses;
//! - [`ProjectGuard`], [`ContainerGuard`], [`ImageGuard`], [`ChildGuard`]:
//!   remove what a test made when dropped — also when the test panics;
//! - [`busybox_image`]: builds `torq-test/bb` (a `FROM scratch` image holding
//!   Debian's static `/bin/busybox`) once, idempotently;
//! - [`TestProject`]: a temporary project directory with a `compose.yaml`, a
//!   guard, and a way to run the `torq` binary against it under a deadline;
//! - [`docker`] and helpers that read the engine through the docker CLI
//!   (containers of a project, engine events), independently of torq's code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{OnceLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The compose project label.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";

/// The busybox test image's reference.
pub const BUSYBOX_IMAGE: &str = "torq-test/bb";

/// A service command that runs until SIGTERM and then exits 0 at once
/// (`{loop}` in a test spec).
pub const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.1; done";

/// A service command that ignores SIGTERM (`{stubborn}` in a test spec).
pub const STUBBORN: &str = "trap '' TERM; while true; do sleep 0.1; done";

/// How long one torq invocation may take in a test before it counts as hung.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(240);

/// A project name unique to this test, process and moment:
/// `torqtest-<purpose>-<pid>-<nanos>` (lowercase, compose-valid).
pub fn unique_project(purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let purpose: String = purpose
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!(
        "torqtest-{purpose}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

/// Runs the docker CLI and returns its output (never panics on a failed command).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `docker {}`: {e}", args.join(" ")))
}

/// Runs the docker CLI, panics unless it succeeds, returns trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "`docker {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// How long [`remove_project_settled`] keeps sweeping a project that keeps having
/// objects (requests of a killed torq still landing) before it gives up.
const SWEEP_DEADLINE: Duration = Duration::from_secs(60);

/// Removes every container, network and volume labeled with `project`,
/// sweeping again until a listing finds nothing (a container still being
/// created when the first sweep ran, a network a late container still used),
/// up to [`SWEEP_DEADLINE`]; then keeps watching for `quiet` (zero: not at
/// all): an object that appears meanwhile (a create a killed torq left in
/// the engine, landing late) is swept too, and the quiet period starts
/// over. Tolerates objects that are already gone; never touches unlabeled
/// objects.
pub fn remove_project_settled(project: &str, quiet: Duration) {
    let started = Instant::now();
    let mut empty_since: Option<Instant> = None;
    loop {
        let found = sweep_project(project);
        if found {
            empty_since = None;
        } else {
            let since = *empty_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= quiet {
                return;
            }
        }
        if started.elapsed() > SWEEP_DEADLINE {
            eprintln!(
                "warning: objects of project {project} kept appearing for {}s; some may be left",
                SWEEP_DEADLINE.as_secs()
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One pass over the project's containers, networks and volumes, removing
/// them; whether it found anything.
fn sweep_project(project: &str) -> bool {
    let filter = format!("label={PROJECT_LABEL}={project}");
    let ids = |args: &[&str]| -> Vec<String> {
        let out = docker(args);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    let containers = ids(&["ps", "-aq", "--filter", &filter]);
    if !containers.is_empty() {
        // Anonymous volumes a recreated container took over are mounted by
        // name, so `rm -v` leaves them: remove them by name afterwards.
        let mut inspect = vec!["inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}"];
        inspect.extend(containers.iter().map(String::as_str));
        let anonymous: Vec<String> = String::from_utf8_lossy(&docker(&inspect).stdout)
            .split_whitespace()
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(String::from)
            .collect();
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(containers.iter().map(String::as_str));
        let _ = docker(&args);
        if !anonymous.is_empty() {
            let mut args = vec!["volume", "rm", "-f"];
            args.extend(anonymous.iter().map(String::as_str));
            let _ = docker(&args);
        }
    }
    let networks = ids(&["network", "ls", "-q", "--filter", &filter]);
    if !networks.is_empty() {
        let mut args = vec!["network", "rm"];
        args.extend(networks.iter().map(String::as_str));
        let _ = docker(&args);
    }
    let volumes = ids(&["volume", "ls", "-q", "--filter", &filter]);
    if !volumes.is_empty() {
        let mut args = vec!["volume", "rm", "-f"];
        args.extend(volumes.iter().map(String::as_str));
        let _ = docker(&args);
    }
    !(containers.is_empty() && networks.is_empty() && volumes.is_empty())
}

/// Everything of `project` the engine has, by label: container, network
/// and volume names (`network NAME`, `volume NAME` for the last two).
pub fn project_objects(project: &str) -> Vec<String> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    let names = |args: &[&str], kind: &str| -> Vec<String> {
        let out = docker(args);
        assert!(
            out.status.success(),
            "`docker {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|name| format!("{kind}{name}"))
            .collect()
    };
    let mut objects = names(
        &[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--format",
            "{{.Names}} ({{.State}})",
        ],
        "",
    );
    objects.extend(names(
        &[
            "network",
            "ls",
            "--filter",
            &filter,
            "--format",
            "{{.Name}}",
        ],
        "network ",
    ));
    objects.extend(names(
        &["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"],
        "volume ",
    ));
    objects
}

/// Removes everything of its project when dropped, even when the test
/// fails (see [`remove_project_settled`]); a [`TestProject`] can make it
/// keep sweeping until the project stayed empty for a quiet period.
#[derive(Debug)]
pub struct ProjectGuard {
    pub name: String,
    /// How long the project must stay empty before the guard is done.
    quiet: Duration,
}

impl ProjectGuard {
    pub fn new(name: impl Into<String>) -> ProjectGuard {
        ProjectGuard {
            name: name.into(),
            quiet: Duration::ZERO,
        }
    }
}

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        remove_project_settled(&self.name, self.quiet);
    }
}

/// Removes a container by id or name when dropped (for unlabeled bystanders).
#[derive(Debug)]
pub struct ContainerGuard(pub String);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.0]);
    }
}

/// The engine's swarm mode is shared by every test of the process: a test
/// that inits a swarm holds `swarm_lock().write()` from `docker swarm init`
/// until it has left the swarm again; a test whose outcome depends on the
/// engine *not* being a swarm manager holds a read guard ([`steady_swarm_mode`]).
pub fn swarm_lock() -> &'static RwLock<()> {
    static LOCK: RwLock<()> = RwLock::new(());
    &LOCK
}

/// The engine's swarm mode, held steady: a read guard on [`swarm_lock`]
/// (no test of this process inits or leaves a swarm meanwhile) and whether
/// the engine is in a swarm (`docker info`'s `LocalNodeState` is `active`).
/// A swarm this process did not make (the machine's own) stays for the whole
/// run, so a test whose outcome depends on the mode asserts each mode's.
pub fn steady_swarm_mode() -> (RwLockReadGuard<'static, ()>, bool) {
    let guard = swarm_lock().read().unwrap_or_else(PoisonError::into_inner);
    let state = docker_ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    (guard, state == "active")
}

/// Makes sure `torq-test/bb` exists (built from `/bin/busybox` once per
/// process; a no-op when the engine already has it) and returns its reference.
pub fn busybox_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if docker(&["image", "inspect", "--format", "{{.Id}}", BUSYBOX_IMAGE])
            .status
            .success()
        {
            return;
        }
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "/bin/busybox is missing: run the suite with `cargo xtask test` (it installs Debian's busybox-static)"
        );
        let dir = tempfile::tempdir().expect("temporary build context");
        std::fs::copy(busybox, dir.path().join("busybox")).expect("copy /bin/busybox");
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
        )
        .expect("write Dockerfile");
        docker_build(dir.path(), BUSYBOX_IMAGE);
    });
    BUSYBOX_IMAGE
}

/// Builds `context` as `tag` with the docker CLI and the classic builder
/// (the docker CLI here has no buildx plugin); panics with the engine's
/// output when the build fails.
pub fn docker_build(context: &Path, tag: &str) {
    let out = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(context)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("run docker build");
    assert!(
        out.status.success(),
        "building {tag} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A project in a temporary directory: its `compose.yaml`, its unique name,
/// and a guard that removes it from the engine at the end of the test.
pub struct TestProject {
    pub name: String,
    pub dir: tempfile::TempDir,
    /// Removes the project from the engine when the test ends.
    _guard: ProjectGuard,
}

impl TestProject {
    /// A new project whose spec is `yaml`, with `{image}` replaced by the
    /// busybox test image (built if needed), `{loop}` by [`LOOP`] and
    /// `{stubborn}` by [`STUBBORN`].
    pub fn new(purpose: &str, yaml: &str) -> TestProject {
        busybox_image();
        let name = unique_project(purpose);
        let dir = tempfile::tempdir().expect("temporary project directory");
        let project = TestProject {
            _guard: ProjectGuard::new(name.clone()),
            name,
            dir,
        };
        project.write_spec(yaml);
        project
    }

    /// Makes the guard keep sweeping the project at the end of the test until
    /// it stayed empty for `quiet` (a test that kills torq leaves requests in
    /// the engine that may land after it).
    pub fn settling(mut self, quiet: Duration) -> TestProject {
        self._guard.quiet = quiet;
        self
    }

    /// Replaces the spec (with `{image}`, `{loop}` and `{stubborn}` substituted).
    pub fn write_spec(&self, yaml: &str) {
        let text = yaml
            .replace("{image}", BUSYBOX_IMAGE)
            .replace("{loop}", LOOP)
            .replace("{stubborn}", STUBBORN);
        std::fs::write(self.spec_path(), text).expect("write compose.yaml");
    }

    pub fn spec_path(&self) -> PathBuf {
        self.dir.path().join("compose.yaml")
    }

    /// A `torq -p NAME -f DIR/compose.yaml ARGS…` command, not yet run.
    pub fn torq_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(super::TORQ);
        cmd.arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(self.spec_path())
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("TORQ_FILE")
            .env_remove("TORQ_PROJECT_NAME")
            .env_remove("TORQ_PROJECT_DIRECTORY")
            .env_remove("TORQ_ENV_FILE")
            .env_remove("TORQ_PROFILE")
            .env_remove("TORQ_QUIET")
            .env_remove("TORQ_COLOR")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs torq against this project under [`COMMAND_DEADLINE`].
    pub fn torq(&self, args: &[&str]) -> CommandResult {
        run_with_deadline(self.torq_command(args), COMMAND_DEADLINE)
    }

    /// The project's containers as the engine lists them.
    pub fn containers(&self) -> Vec<ContainerRow> {
        project_containers(&self.name)
    }
}

/// What a finished command produced.
#[derive(Debug)]
pub struct CommandResult {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandResult {
    /// stdout and stderr together, for assertions on the whole output.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panics with the whole output unless the exit code is `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `cmd`, killing it if it outlives `deadline` (then panics: a hang is a failure).
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> CommandResult {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn command");
    let stdout = child.stdout.take().expect("stdout pipe");
    let stderr = child.stderr.take().expect("stderr pipe");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out_reader = read(Box::new(stdout));
    let err_reader = read(Box::new(stderr));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for command") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_reader.join().unwrap_or_default();
            panic!(
                "command {:?} did not finish within {}s; stderr:\n{stderr}",
                cmd,
                deadline.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CommandResult {
        code: status.code(),
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// One container as `docker ps -a` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    /// `running`, `exited`, `created`, …
    pub state: String,
    /// `Up 3 seconds (healthy)`, …
    pub status: String,
    /// `com.docker.compose.service`.
    pub service: String,
}

impl ContainerRow {
    pub fn is_healthy(&self) -> bool {
        self.status.contains("(healthy)")
    }
}

/// The containers labeled with `project`, sorted by name.
pub fn project_containers(project: &str) -> Vec<ContainerRow> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    let format =
        "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Status}}\t{{.Label \"com.docker.compose.service\"}}";
    let text = docker_ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        &filter,
        "--format",
        format,
    ]);
    let mut rows: Vec<ContainerRow> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut f = line.split('\t');
            let mut next = || f.next().unwrap_or("").to_string();
            ContainerRow {
                id: next(),
                name: next(),
                state: next(),
                status: next(),
                service: next(),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// One engine event about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineEvent {
    /// Nanoseconds since the epoch.
    pub time_nano: i64,
    /// `create`, `start`, `die`, `kill`, `health_status: healthy`, …
    pub action: String,
    /// The container's name.
    pub name: String,
    /// `com.docker.compose.service` of the container.
    pub service: String,
    /// `exitCode` of `die` and `exec_die` events.
    pub exit_code: Option<i64>,
    /// `signal` of `kill` events (`15`, `9`).
    pub signal: Option<String>,
}

/// Seconds since the epoch, for `docker events --since/--until`.
pub fn now_epoch_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The container events of `project` between two epoch times (as recorded by
/// the engine, which runs on this machine's clock), oldest first. Call it after the fact: the engine replays its
/// event log for a past window and the command returns.
pub fn project_events(project: &str, since: f64, until: f64) -> Vec<EngineEvent> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    let (since_ns, until_ns) = ((since * 1e9) as i64, (until * 1e9) as i64);
    let since = format!("{:.3}", since.floor());
    let until = format!("{:.3}", until.ceil() + 1.0);
    let text = docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &filter,
        "--filter",
        "type=container",
        "--format",
        "{{json .}}",
    ]);
    let mut events: Vec<EngineEvent> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|v| {
            let attrs = &v["Actor"]["Attributes"];
            EngineEvent {
                time_nano: v["timeNano"].as_i64().unwrap_or(0),
                action: v["Action"].as_str().unwrap_or("").to_string(),
                name: attrs["name"].as_str().unwrap_or("").to_string(),
                service: attrs["com.docker.compose.service"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                exit_code: attrs["exitCode"].as_str().and_then(|c| c.parse().ok()),
                signal: attrs["signal"].as_str().map(String::from),
            }
        })
        .filter(|e: &EngineEvent| e.time_nano >= since_ns && e.time_nano <= until_ns)
        .collect();
    events.sort_by_key(|e| e.time_nano);
    events
}

/// Events of `service` whose action starts with `prefix`.
pub fn events_of<'a>(
    events: &'a [EngineEvent],
    service: &str,
    prefix: &str,
) -> Vec<&'a EngineEvent> {
    events
        .iter()
        .filter(|e| e.service == service && e.action.starts_with(prefix))
        .collect()
}

/// The first event of `service` whose action is `action` (exactly).
pub fn first_event<'a>(
    events: &'a [EngineEvent],
    service: &str,
    action: &str,
) -> Option<&'a EngineEvent> {
    events
        .iter()
        .find(|e| e.service == service && e.action == action)
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `deadline`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < deadline,
            "timed out after {}s waiting for {what}",
            deadline.as_secs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A spawned child process, killed (and reaped) on drop if still running —
/// so a failing test never leaves a `torq up --attach` behind.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Removes images by reference when dropped, even when the test fails.
pub struct ImageGuard(pub Vec<String>);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        for reference in &self.0 {
            let _ = docker(&["image", "rm", "--force", reference]);
        }
    }
}
