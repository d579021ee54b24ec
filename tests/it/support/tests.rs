//! Tests of the test support itself: the busybox image builds and runs, the
//! project guard removes exactly its project's objects, and names are unique.

use crate::support::*;

#[test]
fn busybox_image_runs_a_shell() {
    let image = busybox_image();
    let out = docker_ok(&["run", "--rm", image, "sh", "-c", "echo ok-from-busybox"]);
    assert_eq!(out, "ok-from-busybox");
}

#[test]
fn guard_removes_its_project_and_nothing_else() {
    let image = busybox_image();
    let project = unique_project("guard");
    let bystander_project = unique_project("guard-bystander");
    let label = format!("{PROJECT_LABEL}={project}");
    let other_label = format!("{PROJECT_LABEL}={bystander_project}");
    let _bystander_guard = ProjectGuard::new(bystander_project.clone());
    let unlabeled_name = format!("{project}-unlabeled");
    let _unlabeled_guard = ContainerGuard(unlabeled_name.clone());

    {
        let _guard = ProjectGuard::new(project.clone());
        docker_ok(&[
            "network",
            "create",
            "--label",
            &label,
            &format!("{project}_default"),
        ]);
        docker_ok(&[
            "volume",
            "create",
            "--label",
            &label,
            &format!("{project}_data"),
        ]);
        docker_ok(&[
            "create",
            "--label",
            &label,
            "--name",
            &format!("{project}-a-1"),
            image,
            "sleep",
            "60",
        ]);
        docker_ok(&[
            "run",
            "-d",
            "--label",
            &label,
            "--name",
            &format!("{project}-b-1"),
            image,
            "sleep",
            "60",
        ]);
        docker_ok(&[
            "create",
            "--label",
            &other_label,
            "--name",
            &format!("{bystander_project}-a-1"),
            image,
            "sleep",
            "60",
        ]);
        docker_ok(&["create", "--name", &unlabeled_name, image, "sleep", "60"]);
        assert_eq!(project_containers(&project).len(), 2);
    }

    assert!(project_containers(&project).is_empty());
    let filter = format!("label={label}");
    assert_eq!(docker_ok(&["network", "ls", "-q", "--filter", &filter]), "");
    assert_eq!(docker_ok(&["volume", "ls", "-q", "--filter", &filter]), "");
    assert_eq!(project_containers(&bystander_project).len(), 1);
    assert!(docker(&["container", "inspect", &unlabeled_name])
        .status
        .success());
}

#[test]
fn unique_names_differ_and_are_valid_project_names() {
    let a = unique_project("Same Purpose");
    let b = unique_project("Same Purpose");
    assert_ne!(a, b);
    for name in [&a, &b] {
        assert!(name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }
}
