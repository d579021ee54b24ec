//! `engine::state` against the real engine: the observed state of a project
//! holds exactly its labeled objects, with service, number, state, health and
//! exit code read correctly.

use crate::support::*;
use torq::engine::state::{observe, observe_detailed, HealthState, RunState};
use torq::engine::Engine;

fn labels(project: &str, service: &str, number: u32) -> Vec<String> {
    vec![
        "--label".into(),
        format!("{PROJECT_LABEL}={project}"),
        "--label".into(),
        format!("com.docker.compose.service={service}"),
        "--label".into(),
        format!("com.docker.compose.container-number={number}"),
        "--label".into(),
        "com.docker.compose.oneoff=False".into(),
        "--label".into(),
        "com.docker.compose.config-hash=abc".into(),
    ]
}

fn docker_owned(args: Vec<String>) -> String {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    docker_ok(&refs)
}

#[tokio::test]
async fn observe_sees_exactly_the_projects_objects() {
    let image = busybox_image();
    let project = unique_project("state");
    let _guard = ProjectGuard::new(project.clone());
    let other = unique_project("state-other");
    let _other_guard = ProjectGuard::new(other.clone());
    let label = format!("{PROJECT_LABEL}={project}");

    docker_ok(&[
        "network",
        "create",
        "--label",
        &label,
        "--label",
        "com.docker.compose.network=default",
        &format!("{project}_default"),
    ]);
    docker_ok(&[
        "volume",
        "create",
        "--label",
        &label,
        "--label",
        "com.docker.compose.volume=data",
        &format!("{project}_data"),
    ]);
    // web-1 running and healthy once its check passes; job-1 exits with 3.
    let mut run_web = vec![
        "run".to_string(),
        "-d".into(),
        "--name".into(),
        format!("{project}-web-1"),
    ];
    run_web.extend(labels(&project, "web", 1));
    run_web.extend(
        [
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            image,
            "sleep",
            "60",
        ]
        .map(String::from),
    );
    docker_owned(run_web);
    let mut run_job = vec![
        "run".to_string(),
        "-d".into(),
        "--name".into(),
        format!("{project}-job-1"),
    ];
    run_job.extend(labels(&project, "job", 1));
    run_job.extend([image, "sh", "-c", "exit 3"].map(String::from));
    docker_owned(run_job);
    let mut other_run = vec![
        "create".to_string(),
        "--name".into(),
        format!("{other}-web-1"),
    ];
    other_run.extend(labels(&other, "web", 1));
    other_run.extend([image, "true"].map(String::from));
    docker_owned(other_run);

    wait_for(
        "job to exit and web to be healthy",
        std::time::Duration::from_secs(30),
        || {
            let rows = project_containers(&project);
            let done = rows
                .iter()
                .any(|r| r.service == "job" && r.state == "exited")
                && rows.iter().any(|r| r.service == "web" && r.is_healthy());
            done.then_some(())
        },
    );

    let engine = Engine::connect().await.expect("engine");
    for state in [
        observe(&engine, &project).await.expect("observe"),
        observe_detailed(&engine, &project)
            .await
            .expect("observe_detailed"),
    ] {
        assert_eq!(state.containers.len(), 2, "{state:#?}");
        let job = &state.containers[0];
        assert_eq!((job.service.as_str(), job.number), ("job", 1));
        assert_eq!(job.state, RunState::Exited);
        assert_eq!(job.exit_code, Some(3));
        assert_eq!(job.config_hash.as_deref(), Some("abc"));
        let web = &state.containers[1];
        assert_eq!(web.name, format!("{project}-web-1"));
        assert_eq!(web.state, RunState::Running);
        assert_eq!(web.health, Some(HealthState::Healthy));
        assert!(web.image_id.starts_with("sha256:"));
        assert_eq!(state.networks.len(), 1);
        assert_eq!(state.networks[0].key.as_deref(), Some("default"));
        assert_eq!(state.volumes.len(), 1);
        assert_eq!(state.volumes[0].key.as_deref(), Some("data"));
    }
    let detailed = observe_detailed(&engine, &project).await.expect("detailed");
    assert!(detailed.containers[1].pid.is_some());
    assert!(detailed.containers[1].started_at.is_some());
}
