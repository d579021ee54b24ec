//! The labels torq puts on (and finds) its containers, networks and volumes.
//! They are docker compose's own, so `docker compose -p NAME ps` sees a torq
//! project and torq sees a compose project.

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";
pub const VERSION: &str = "com.docker.compose.version";
pub const IMAGE: &str = "com.docker.compose.image";
/// The random id of a one-off (`run`) container; its name holds the first 12 digits.
pub const SLUG: &str = "com.docker.compose.slug";

/// A label filter (`key=value`) selecting the objects of one project.
pub fn project_filter(project: &str) -> String {
    format!("{PROJECT}={project}")
}
