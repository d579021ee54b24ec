//! `torq build` end to end: the real executable, a compose file, the real
//! engine. Exit codes (0 built, 1 spec/engine error, 2 a build failed), the
//! failing step on stderr without `-v`, build output with `-v`, and the self
//! image built from the torq executable alone.
//!
//! Each test has its own project (`support::TestProject`) and removes the images it
//! built (a Drop guard).

use std::path::{Path, PathBuf};

use crate::support::{busybox_image, docker, unique_project, ImageGuard, TestProject};
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/build")
        .join(name)
}

/// Removes image tags when dropped, also when the test fails.
fn image_exists(reference: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
        .status
        .success()
}

/// The tag torq builds for a service without `image:`.
fn default_tag(project: &TestProject, service: &str) -> String {
    format!("{}-{service}", project.name)
}

#[test]
fn a_failed_build_exits_2_names_its_step_and_the_others_are_built() {
    busybox_image();
    let yaml = format!(
        "services:\n  good:\n    build: {}\n  broken:\n    build: {}\n  db:\n    image: {}:1\n",
        fixture("good").display(),
        fixture("failing").display(),
        unique_project("never-pulled"),
    );
    let project = TestProject::new("cli-build", &yaml);
    let good = default_tag(&project, "good");
    let broken = default_tag(&project, "broken");
    let _images = ImageGuard(vec![good.clone(), broken.clone()]);

    let result = project.torq(&["build"]);
    result.assert_code(2);
    let all = result.output();
    // BuildKit (the default) names the step `#N [3/4] RUN …`.
    assert!(
        all.contains("[3/4] RUN echo \"about to fail\" && exit 3"),
        "{all}"
    );
    assert!(all.contains("exit code: 3"), "{all}");
    assert!(all.contains("about to fail"), "{all}");
    assert!(image_exists(&good), "{all}");
    assert!(!image_exists(&broken), "{all}");

    // One service, verbose: the build output is shown, and it succeeds.
    let result = project.torq(&["build", "-v", "good"]);
    result.assert_code(0);
    assert!(
        result.output().contains("FROM docker.io/torq-test/bb"),
        "{}",
        result.output()
    );

    // An image-only service has nothing to build.
    let result = project.torq(&["build", "db"]);
    result.assert_code(0);
    assert!(
        result.output().contains("nothing to build"),
        "{}",
        result.output()
    );
}

#[test]
fn an_unknown_service_exits_1() {
    let project = TestProject::new("cli-unknown", "services:\n  web:\n    image: \"{image}\"\n");
    let result = project.torq(&["build", "nope"]);
    result.assert_code(1);
    assert!(
        result.output().contains("no such service: nope"),
        "{}",
        result.output()
    );
}

#[test]
fn the_self_image_is_built_from_the_torq_executable_alone() {
    let repository = unique_project("cli-self");
    let yaml = format!(
        "services:\n  relay:\n    image: {repository}\n    x-torq-self-image: true\n  \
         adapter:\n    image: {repository}\n    x-torq-self-image: true\n"
    );
    let project = TestProject::new("cli-self", &yaml);
    let torq = std::fs::read(env!("CARGO_BIN_EXE_torq")).expect("the torq executable");
    let reference = format!("{repository}:{}", &hex::encode(Sha256::digest(&torq))[..12]);
    let _images = ImageGuard(vec![reference.clone()]);

    let result = project.torq(&["build"]);
    result.assert_code(0);
    assert!(result.output().contains("built"), "{}", result.output());
    assert!(image_exists(&reference), "{}", result.output());

    let result = project.torq(&["build"]);
    result.assert_code(0);
    let all = result.output();
    assert!(all.contains("unchanged"), "{all}");
    assert!(all.contains(&reference), "{all}");
}
