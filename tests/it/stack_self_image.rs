//! Self images do not pile up, against the real engine: each executable gets
//! its own labelled `<repository>:<hash12>` image, and building a new one
//! removes the older ones of the same repository — except an image a container
//! uses, one younger than the grace period, and any image without the
//! self-image label.
//!
//! The "executables" are copies of Debian's static busybox with a distinct
//! trailer each (any static ELF will do, and they are small). The repository
//! is unique to the test run, and everything it made is removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::support::{docker_build, unique_project};
use torq::compose::model::{Project, Service};
use torq::engine::build::{self, self_image, BuildOptions, BuildPolicy};
use torq::engine::Engine;
use torq::progress::{Event, Reporter};

/// Keeps the verbose build lines.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        if let Event::BuildOutput { line, .. } = event {
            self.0.lock().expect("recorder").push(line);
        }
    }
}

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.0.lock().expect("recorder").clone()
    }
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

fn docker_ok(args: &[&str]) -> String {
    let output = docker(args);
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The test's repository, container and files; all removed on drop.
struct Scratch {
    repository: String,
    container: String,
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            repository: unique_project("selfprune"),
            container: unique_project("selfprune-user"),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A static executable whose hash is its own: busybox plus a trailer.
    fn executable(&self, n: u32) -> PathBuf {
        let path = self.dir.path().join(format!("exe-{n}"));
        let mut bytes = std::fs::read("/bin/busybox")
            .expect("Debian's busybox-static at /bin/busybox (apt-get install busybox-static)");
        bytes.extend_from_slice(format!("\ntorq self-image test {n}\n").as_bytes());
        std::fs::write(&path, bytes).expect("write the executable");
        path
    }

    /// An image in the test's repository built without the self-image label.
    fn unlabelled_image(&self) -> String {
        let context = self.dir.path().join("unlabelled");
        std::fs::create_dir_all(&context).expect("context dir");
        std::fs::write(
            context.join("Dockerfile"),
            "FROM scratch\nCOPY marker /marker\n",
        )
        .expect("Dockerfile");
        std::fs::write(context.join("marker"), "not a self image\n").expect("marker");
        let reference = format!("{}:unlabelled", self.repository);
        docker_build(&context, &reference);
        reference
    }

    fn project(&self) -> Project {
        let mut node = Service {
            name: "node".into(),
            image: Some(self.repository.clone()),
            ..Default::default()
        };
        node.extensions
            .insert(self_image::EXTENSION.into(), serde_json::Value::Bool(true));
        let mut project = Project {
            name: unique_project("selfprune-project"),
            ..Default::default()
        };
        project.services.insert("node".into(), node);
        project
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // The test's own container and images, found by its unique names.
        let _ = docker(&["rm", "-f", &self.container]);
        let label = format!("label={}={}", self_image::MARKER_LABEL, self.repository);
        let mut ids = String::from_utf8_lossy(
            &docker(&["images", "-q", "--no-trunc", "--filter", &label]).stdout,
        )
        .to_string();
        ids.push_str(&String::from_utf8_lossy(
            &docker(&["images", "-q", "--no-trunc", &self.repository]).stdout,
        ));
        for id in ids.split_whitespace() {
            let _ = docker(&["rmi", "-f", id]);
        }
    }
}

/// Builds the project's self image from `executable`; returns its reference
/// and the verbose lines of the build.
async fn build_self_image(
    engine: &Engine,
    project: &Project,
    executable: &Path,
    grace: Option<Duration>,
) -> (String, Vec<String>) {
    let options = BuildOptions {
        policy: BuildPolicy::Missing,
        self_executable: Some(executable.to_path_buf()),
        self_image_dockerfile: Some(include_str!("../../images/node/Dockerfile")),
        self_image_prune_grace: grace,
        ..Default::default()
    };
    let recorder = Recorder::default();
    let images = build::ensure_images_with(engine, project, &[], &options, &recorder)
        .await
        .expect("the self image builds");
    let reference = images
        .reference("node")
        .expect("the node service's image")
        .to_string();
    (reference, recorder.lines())
}

async fn exists(engine: &Engine, reference: &str) -> bool {
    build::image_id(engine, reference)
        .await
        .expect("inspect an image")
        .is_some()
}

fn pruning_lines(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.contains("older self image"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_self_image_removes_the_older_unused_ones_of_its_repository() {
    let engine = Engine::connect().await.expect("a reachable Docker engine");
    let scratch = Scratch::new();
    let project = scratch.project();
    let unlabelled = scratch.unlabelled_image();
    let no_grace = Some(Duration::ZERO);

    // The first executable: its image, labelled, nothing to prune.
    let (first, lines) =
        build_self_image(&engine, &project, &scratch.executable(1), no_grace).await;
    assert!(first.starts_with(&format!("{}:", scratch.repository)));
    assert!(pruning_lines(&lines).is_empty(), "{lines:?}");
    let labels = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &first,
    ]);
    let labels: serde_json::Value = serde_json::from_str(&labels).expect("labels JSON");
    assert_eq!(
        labels[self_image::MARKER_LABEL],
        scratch.repository.as_str(),
        "{labels}"
    );

    // The second executable: a new tag, and the first image is removed.
    let (second, lines) =
        build_self_image(&engine, &project, &scratch.executable(2), no_grace).await;
    assert_ne!(second, first);
    assert!(exists(&engine, &second).await);
    assert!(!exists(&engine, &first).await, "{first} was pruned");
    assert_eq!(
        pruning_lines(&lines),
        vec![&format!("removed the older self image {first}")]
    );
    assert!(
        exists(&engine, &unlabelled).await,
        "no label, never removed"
    );

    // An image a container uses (a stopped one counts) is kept.
    docker_ok(&["create", "--name", &scratch.container, &second]);
    let (third, lines) =
        build_self_image(&engine, &project, &scratch.executable(3), no_grace).await;
    assert!(exists(&engine, &third).await);
    assert!(exists(&engine, &second).await, "{second} is in use");
    assert_eq!(
        pruning_lines(&lines),
        vec![&format!(
            "kept the older self image {second}: used by a container"
        )]
    );

    // With the default grace period, images built moments ago stay, even unused.
    docker_ok(&["rm", &scratch.container]);
    let (fourth, lines) = build_self_image(&engine, &project, &scratch.executable(4), None).await;
    assert!(exists(&engine, &fourth).await);
    assert!(
        exists(&engine, &third).await,
        "{third} is younger than the grace"
    );
    assert!(
        exists(&engine, &second).await,
        "{second} is younger than the grace"
    );
    assert!(pruning_lines(&lines).is_empty(), "{lines:?}");

    // Without a grace period, both unused older self images go; the unlabelled image stays.
    let (fifth, lines) =
        build_self_image(&engine, &project, &scratch.executable(5), no_grace).await;
    assert!(exists(&engine, &fifth).await);
    for older in [&second, &third, &fourth] {
        assert!(!exists(&engine, older).await, "{older} was pruned");
    }
    assert_eq!(pruning_lines(&lines).len(), 3, "{lines:?}");
    assert!(
        exists(&engine, &unlabelled).await,
        "no label, never removed"
    );
}
