//! Image builds against the real engine: `.dockerignore`, build args, target
//! and labels, a Dockerfile outside its context, a failing step, the self
//! image (torq's own executable in a `FROM scratch` image), and `--no-build`
//! with a missing image.
//!
//! Every test tags its images uniquely and removes them afterwards (a Drop
//! guard), even when it fails. The fixtures build on `torq-test/bb`, the
//! busybox image of `support` (`busybox_image`) (Debian's static `/bin/busybox`): no registry.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use futures::StreamExt;
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use torq::compose::model::{Build, Project, Service};
use torq::engine::build::{
    self, BuildError, BuildOptions, BuildPolicy, BuilderKind, FailureReason, ImageSet,
};
use torq::engine::Engine;
use torq::progress::{Event, Phase, Reporter};

use crate::support::{busybox_image, unique_project as unique};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/build")
        .join(name)
}

async fn engine() -> Engine {
    Engine::connect().await.expect("a reachable Docker engine")
}

/// Keeps every event, for assertions.
#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn output(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::BuildOutput { line, .. } => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    fn phases(&self, service: &str) -> Vec<Phase> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Progress { subject, phase, .. } if subject == service => Some(*phase),
                _ => None,
            })
            .collect()
    }
}

/// Removes image tags when dropped, so a failed test leaves nothing behind.
struct ImageGuard(Vec<String>);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let references = std::mem::take(&mut self.0);
        // Drop may run inside a runtime: clean up from a thread of our own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(engine) = Engine::connect().await else {
                    return;
                };
                for reference in references {
                    let options = RemoveImageOptionsBuilder::default().force(true).build();
                    let _ = engine
                        .docker()
                        .remove_image(&reference, Some(options), None)
                        .await;
                }
            });
        })
        .join();
    }
}

fn project(purpose: &str, services: Vec<Service>) -> Project {
    let mut project = Project {
        name: unique(purpose),
        ..Default::default()
    };
    for s in services {
        project.services.insert(s.name.clone(), s);
    }
    project
}

fn service(name: &str, image: Option<&str>, context: &Path) -> Service {
    Service {
        name: name.into(),
        image: image.map(String::from),
        build: Some(Build {
            context: context.to_path_buf(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Runs `image` with `cmd` to completion; returns its exit code and output.
async fn run(engine: &Engine, image: &str, cmd: &[&str]) -> (i64, String) {
    let docker = engine.docker();
    let name = unique("run");
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    docker
        .create_container(Some(options), body)
        .await
        .expect("create container");
    let result = async {
        docker.start_container(&name, None).await?;
        let code = match docker.wait_container(&name, None).next().await {
            Some(Ok(wait)) => wait.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(e),
            None => -1,
        };
        let logs = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .build();
        let mut output = String::new();
        let mut stream = docker.logs(&name, Some(logs));
        while let Some(chunk) = stream.next().await {
            output.push_str(&chunk?.to_string());
        }
        Ok((code, output))
    };
    let result = tokio::time::timeout(Duration::from_secs(60), result).await;
    let remove = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(&name, Some(remove)).await;
    result
        .expect("the container finishes within 60 s")
        .expect("the container runs")
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn only_failures(result: Result<ImageSet, BuildError>) -> (Vec<build::ImageFailure>, ImageSet) {
    match result {
        Err(BuildError::Images { failures, built }) => (failures, built),
        other => panic!("expected image failures, got {other:?}"),
    }
}

#[tokio::test]
async fn dockerignore_excludes_files_and_keeps_exceptions() {
    let engine = engine().await;
    busybox_image();
    let project = project("ignore", vec![service("app", None, &fixture("ignore"))]);
    let reference = build::default_reference(&project, &project.services["app"]);
    let _guard = ImageGuard(vec![reference.clone()]);

    let expected: BTreeSet<String> = [
        "/ctx/.dockerignore",
        "/ctx/Dockerfile",
        "/ctx/app.txt",
        "/ctx/keep.log",
        "/ctx/cache/keep.txt",
        "/ctx/src/main.txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // The classic builder gets an archive, BuildKit the session's file sync:
    // the same files either way.
    for builder in [BuilderKind::Classic, BuilderKind::BuildKit] {
        let options = BuildOptions {
            builder: Some(builder),
            ..BuildPolicy::Always.into()
        };
        let images =
            build::ensure_images_with(&engine, &project, &[], &options, &Recorder::default())
                .await
                .expect("the build succeeds");
        assert_eq!(images.reference("app"), Some(reference.as_str()));
        let (code, output) = run(&engine, &reference, &["find", "/ctx", "-type", "f"]).await;
        assert_eq!(code, 0, "{output}");
        assert_eq!(lines(&output), expected, "{builder:?}");
    }
}

#[tokio::test]
async fn args_target_and_labels_are_honored() {
    let engine = engine().await;
    busybox_image();
    let mut svc = service("stages", None, &fixture("stages"));
    if let Some(b) = svc.build.as_mut() {
        b.args = IndexMap::from([
            ("GREETING".to_string(), Some("hello".to_string())),
            ("UNSET_ARG".to_string(), None),
        ]);
        b.target = Some("chosen".into());
        b.labels = IndexMap::from([("org.example.fixture".to_string(), "stages".to_string())]);
    }
    let project = project("stages", vec![svc]);
    let reference = build::default_reference(&project, &project.services["stages"]);
    let _guard = ImageGuard(vec![reference.clone()]);

    let options = BuildOptions {
        policy: BuildPolicy::Always,
        no_cache: true,
        ..Default::default()
    };
    let recorder = Recorder::default();
    let images = build::ensure_images_with(&engine, &project, &[], &options, &recorder)
        .await
        .expect("the chosen stage builds");
    // The classic builder prints the line as is, BuildKit after its step number.
    assert!(
        recorder
            .output()
            .iter()
            .any(|l| l == "greeting is hello" || l.ends_with(" greeting is hello")),
        "{:?}",
        recorder.output()
    );
    let mut phases = recorder.phases("stages");
    phases.dedup();
    assert_eq!(phases, vec![Phase::Building, Phase::Built]);

    let inspect = engine.docker().inspect_image(&reference).await.unwrap();
    assert_eq!(images.id("stages"), inspect.id.as_deref());
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels.get("greeting").map(String::as_str), Some("hello"));
    assert_eq!(labels.get("stage").map(String::as_str), Some("chosen"));
    assert_eq!(
        labels.get("org.example.fixture").map(String::as_str),
        Some("stages")
    );
}

#[tokio::test]
async fn a_dockerfile_outside_the_context_is_used_and_not_copied() {
    let engine = engine().await;
    busybox_image();
    let mut svc = service("outside", None, &fixture("outside/ctx"));
    if let Some(b) = svc.build.as_mut() {
        b.dockerfile = Some("../Dockerfile".into());
    }
    let project = project("outside", vec![svc]);
    let reference = build::default_reference(&project, &project.services["outside"]);
    let _guard = ImageGuard(vec![reference.clone()]);

    // Both builders: the classic one drops the generated Dockerfile from the
    // archive's context, BuildKit gets the Dockerfile apart from the context.
    for builder in [BuilderKind::Classic, BuilderKind::BuildKit] {
        let options = BuildOptions {
            builder: Some(builder),
            ..BuildPolicy::Always.into()
        };
        build::ensure_images_with(&engine, &project, &[], &options, &Recorder::default())
            .await
            .expect("the build succeeds");
        let (code, output) = run(&engine, &reference, &["find", "/ctx", "-type", "f"]).await;
        assert_eq!(code, 0, "{output}");
        assert_eq!(
            lines(&output),
            BTreeSet::from(["/ctx/data.txt".to_string()]),
            "{builder:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_step_is_reported_and_the_other_images_still_build() {
    let engine = engine().await;
    busybox_image();
    let project = project(
        "failing",
        vec![
            service("broken", None, &fixture("failing")),
            service("fine", None, &fixture("good")),
        ],
    );
    let broken = build::default_reference(&project, &project.services["broken"]);
    let fine = build::default_reference(&project, &project.services["fine"]);
    let _guard = ImageGuard(vec![broken.clone(), fine.clone()]);

    // The classic builder's step format; BuildKit's is tested in build_buildkit.
    let options = BuildOptions {
        builder: Some(BuilderKind::Classic),
        ..BuildPolicy::Always.into()
    };
    let recorder = Recorder::default();
    let result = build::ensure_images_with(&engine, &project, &[], &options, &recorder).await;
    let (failures, built) = only_failures(result);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = &failures[0];
    assert_eq!(failure.services, vec!["broken".to_string()]);
    match &failure.reason {
        FailureReason::Step {
            step,
            message,
            output,
        } => {
            assert_eq!(
                step.as_deref(),
                Some("Step 3/4 : RUN echo \"about to fail\" && exit 3")
            );
            assert!(message.contains("returned a non-zero code: 3"), "{message}");
            assert!(output.iter().any(|l| l == "about to fail"), "{output:?}");
        }
        other => panic!("expected a failed step, got {other:?}"),
    }
    let text = failure.to_string();
    assert!(text.contains("Step 3/4"), "{text}");
    assert!(text.contains("non-zero code: 3"), "{text}");
    assert_eq!(recorder.phases("broken").last(), Some(&Phase::Failed));

    assert_eq!(built.reference("fine"), Some(fine.as_str()));
    assert!(build::image_id(&engine, &fine).await.unwrap().is_some());
    assert!(build::image_id(&engine, &broken).await.unwrap().is_none());
}

#[tokio::test]
async fn the_self_image_runs_torq_from_scratch_and_is_built_once() {
    let engine = engine().await;
    let torq = PathBuf::from(env!("CARGO_BIN_EXE_torq"));
    let repository = unique("self");
    let mut services = Vec::new();
    for name in ["relay_a", "relay_b"] {
        let mut svc = Service {
            name: name.into(),
            image: Some(repository.clone()),
            ..Default::default()
        };
        svc.extensions.insert(
            build::self_image::EXTENSION.into(),
            serde_json::Value::Bool(true),
        );
        services.push(svc);
    }
    let project = project("selfimage", services);
    let hash = hex::encode(Sha256::digest(std::fs::read(&torq).unwrap()));
    let reference = format!("{repository}:{}", &hash[..12]);
    let _guard = ImageGuard(vec![reference.clone()]);

    let options = BuildOptions {
        policy: BuildPolicy::Missing,
        self_executable: Some(torq.clone()),
        self_image_dockerfile: Some(include_str!("../../images/node/Dockerfile")),
        ..Default::default()
    };
    let recorder = Recorder::default();
    let images = build::ensure_images_with(&engine, &project, &[], &options, &recorder)
        .await
        .expect("the self image builds");
    assert_eq!(images.reference("relay_a"), Some(reference.as_str()));
    assert_eq!(images.get("relay_a"), images.get("relay_b"));
    let from_steps = recorder
        .output()
        .iter()
        .filter(|l| l.starts_with("Step 1/"))
        .count();
    assert_eq!(
        from_steps,
        1,
        "one build for two services: {:?}",
        recorder.output()
    );

    // The image's entrypoint is `torq node`: it runs the same code as here.
    let (code, output) = run(&engine, &reference, &["--help"]).await;
    let local = std::process::Command::new(&torq)
        .args(["node", "--help"])
        .output()
        .unwrap();
    let local_output = format!(
        "{}{}",
        String::from_utf8_lossy(&local.stdout),
        String::from_utf8_lossy(&local.stderr)
    );
    assert!(!local_output.trim().is_empty());
    assert_eq!(output.trim(), local_output.trim());
    assert_eq!(code, i64::from(local.status.code().unwrap_or(-1)));

    // An existing tag is not rebuilt, even when asked to build.
    let recorder = Recorder::default();
    let options = BuildOptions {
        policy: BuildPolicy::Always,
        ..options
    };
    let again = build::ensure_images_with(&engine, &project, &[], &options, &recorder)
        .await
        .expect("the self image is there");
    assert_eq!(again, images);
    assert!(recorder.output().is_empty(), "{:?}", recorder.output());
    assert_eq!(recorder.phases("relay_a"), vec![Phase::Unchanged]);
}

#[tokio::test]
async fn no_build_with_missing_images_fails_clearly() {
    let engine = engine().await;
    let absent = format!("{}:1", unique("absent"));
    let mut external = Service {
        name: "db".into(),
        image: Some(absent.clone()),
        ..Default::default()
    };
    external.build = None;
    let project = project(
        "nobuild",
        vec![service("app", None, &fixture("good")), external],
    );
    let app = build::default_reference(&project, &project.services["app"]);
    let _guard = ImageGuard(vec![app.clone()]);

    let recorder = Recorder::default();
    let result = build::ensure_images(&engine, &project, &[], BuildPolicy::Never, &recorder).await;
    let (failures, built) = only_failures(result);
    assert!(built.is_empty());
    assert_eq!(failures.len(), 2, "{failures:?}");
    let app_failure = failures[0].to_string();
    assert!(app_failure.contains(&app), "{app_failure}");
    assert!(app_failure.contains("--no-build"), "{app_failure}");
    assert!(app_failure.contains("torq build app"), "{app_failure}");
    let db_failure = failures[1].to_string();
    assert!(db_failure.contains(&absent), "{db_failure}");
    // Not on the engine: it is pulled (--no-build stops builds, not pulls),
    // and with no registry to answer, the failure says so and what to do.
    assert!(db_failure.contains("could not pull"), "{db_failure}");
    assert!(db_failure.contains("docker load"), "{db_failure}");
    assert_eq!(recorder.phases("db"), vec![Phase::Pulling, Phase::Failed]);
    assert_eq!(recorder.phases("app"), vec![Phase::Failed]);
    assert!(recorder.output().is_empty());
    assert!(build::image_id(&engine, &app).await.unwrap().is_none());
}
