//! Moving a developer's edits into running containers (`watch`): copying
//! host files to paths in a container through the archive API (one tar per
//! batch, modes kept), removing deleted paths, and restarting a container.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::query_parameters::{RestartContainerOptions, UploadToContainerOptions};

use super::error::{ApiError, QUICK};
use super::Engine;

/// A host file or directory and where it goes in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Copy {
    pub(crate) host: PathBuf,
    /// An absolute path in the container.
    pub(crate) target: String,
}

/// Copies `copies` into container `id` in one archive (directories with
/// everything below them).
pub(crate) async fn copy_into(
    engine: &Engine,
    id: &str,
    name: &str,
    copies: &[Copy],
) -> Result<(), ApiError> {
    let op = format!("copy files into container {name}");
    let archive = archive_of(copies).map_err(|e| ApiError::Engine {
        op: op.clone(),
        message: e.to_string(),
        status: None,
    })?;
    let options = UploadToContainerOptions {
        path: "/".into(),
        ..Default::default()
    };
    engine
        .request(
            op,
            engine.docker().upload_to_container(
                id,
                Some(options),
                bollard::body_full(archive.into()),
            ),
        )
        .await
}

/// A tar archive holding each copy at its target (relative to `/`).
fn archive_of(copies: &[Copy]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    for copy in copies {
        let inside = copy.target.trim_start_matches('/');
        append(&mut builder, &copy.host, Path::new(inside))?;
    }
    builder.into_inner()
}

fn append(builder: &mut tar::Builder<Vec<u8>>, host: &Path, inside: &Path) -> std::io::Result<()> {
    if host.is_dir() {
        builder.append_dir_all(inside, host)
    } else {
        builder.append_path_with_name(host, inside)
    }
}

/// Removes `paths` (absolute, in the container) from running container `id`.
pub(crate) async fn remove_paths(
    engine: &Engine,
    id: &str,
    name: &str,
    paths: &[String],
) -> Result<(), ApiError> {
    let mut cmd = vec!["rm".to_string(), "-rf".to_string(), "--".to_string()];
    cmd.extend(paths.iter().cloned());
    let code = super::attach::exec_to_end(engine, id, cmd).await?;
    if code == 0 {
        Ok(())
    } else {
        Err(ApiError::Engine {
            op: format!("remove {} in container {name}", paths.join(" ")),
            message: format!("rm exited with code {code}"),
            status: None,
        })
    }
}

/// Restarts container `id` (stop signal, `grace`, then start).
pub(crate) async fn restart(
    engine: &Engine,
    id: &str,
    name: &str,
    grace: Option<Duration>,
) -> Result<(), ApiError> {
    let options = RestartContainerOptions {
        t: grace.map(|g| i32::try_from(g.as_secs()).unwrap_or(i32::MAX)),
        signal: None,
    };
    engine
        .request_within(
            format!("restart container {name}"),
            QUICK + grace.unwrap_or_default(),
            engine.docker().restart_container(id, Some(options)),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_directories_land_at_their_targets() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), "b").unwrap();
        let copies = [
            Copy {
                host: dir.path().join("a.txt"),
                target: "/app/a.txt".into(),
            },
            Copy {
                host: dir.path().join("sub"),
                target: "/app/sub".into(),
            },
        ];
        let archive = archive_of(&copies).unwrap();
        let mut names: Vec<String> = tar::Archive::new(archive.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["app/a.txt", "app/sub/", "app/sub/b.txt"]);
    }
}
