//! Per-image tests of the Torq stack (testcontainers, real Docker engine): the
//! `torq/node` image built from images/node/Dockerfile and this build's torq
//! executable runs a relay that accepts clients and fans frames out (CRC
//! checked on the signal domain), and a dashboard that answers `/health`; both
//! pass their no-shell health probe and exit 0 on SIGTERM.

use std::path::PathBuf;

use crate::support::{frame, http_get, unique_project, FrameClient, NodeImage};
use testcontainers::core::{CmdWaitFor, ExecCommand, IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// Runs the probe inside the container; returns its exit code and output.
async fn probe(container: &ContainerAsync<GenericImage>, target: &[&str]) -> (Option<i64>, String) {
    let mut cmd = vec!["/torq", "node", "probe"];
    cmd.extend_from_slice(target);
    let mut result = container
        .exec(ExecCommand::new(cmd).with_cmd_ready_condition(CmdWaitFor::exit()))
        .await
        .expect("exec the probe");
    let output =
        String::from_utf8_lossy(&result.stdout_to_vec().await.unwrap_or_default()).to_string();
    (result.exit_code().await.expect("probe exit code"), output)
}

/// Stops the container (SIGTERM, then SIGKILL after 10 s) and returns its exit code.
async fn stop(container: &ContainerAsync<GenericImage>) -> Option<i64> {
    container.stop().await.expect("stop the container");
    container.exit_code().await.expect("exit code")
}

#[tokio::test]
async fn relay_image_accepts_clients_and_fans_frames_out() {
    let image = NodeImage::build("relay-image");
    let sockets = tempfile::tempdir().expect("temp dir");
    let container = GenericImage::new(image.name.as_str(), image.tag.as_str())
        .with_wait_for(WaitFor::message_on_stdout("listening on"))
        .with_cmd([
            "relay",
            "--domain",
            "signal",
            "--socket",
            "/run/torq/signal.sock",
        ])
        .with_mount(Mount::bind_mount(
            sockets.path().display().to_string(),
            "/run/torq",
        ))
        .with_container_name(unique_project("relay"))
        .start()
        .await
        .expect("start the relay container");

    let (code, output) = probe(&container, &["--health", "relay-signal"]).await;
    assert_eq!(code, Some(0), "probe: {output}");

    let socket: PathBuf = sockets.path().join("signal.sock");
    let clients = tokio::task::spawn_blocking(move || {
        let mut a = FrameClient::connect(&socket);
        let mut b = FrameClient::connect(&socket);
        let mut c = FrameClient::connect(&socket);
        for client in [&mut a, &mut b, &mut c] {
            client.wait_registered();
        }
        // A sends a frame with a bad CRC, then a good one: B and C get only the good one.
        a.send(&frame(2, 20, 1, b"corrupted", Some(0x1234_5678)));
        a.send(&frame(2, 20, 2, b"from a", None));
        for client in [&mut b, &mut c] {
            let (header, payload) = client.next_data_frame();
            assert_eq!(payload, b"from a");
            assert_eq!(u64::from_le_bytes(header[8..16].try_into().unwrap()), 2);
        }
        // B answers: A's first data frame is B's, so A never got its own back.
        b.send(&frame(2, 21, 1, b"from b", None));
        assert_eq!(a.next_data_frame().1, b"from b");
        assert_eq!(c.next_data_frame().1, b"from b");
    });
    clients.await.expect("the relay clients");

    // The relay logged the bad frame before it forwarded the good one behind it.
    assert_eq!(
        stop(&container).await,
        Some(0),
        "the relay exits 0 on SIGTERM"
    );
    let stdout =
        String::from_utf8_lossy(&container.stdout_to_vec().await.unwrap_or_default()).to_string();
    assert!(
        stdout.contains("bad frame dropped: CRC mismatch"),
        "relay log:\n{stdout}"
    );
    assert!(
        stdout.contains("INFO relay{domain=signal}: client"),
        "relay log:\n{stdout}"
    );
}

#[tokio::test]
async fn dashboard_image_answers_health() {
    let image = NodeImage::build("dashboard-image");
    let container = GenericImage::new(image.name.as_str(), image.tag.as_str())
        .with_exposed_port(8080.tcp())
        .with_wait_for(WaitFor::message_on_stdout("serving http://"))
        .with_cmd(["dashboard", "--listen", "0.0.0.0:8080"])
        .with_container_name(unique_project("dashboard"))
        .start()
        .await
        .expect("start the dashboard container");
    let port = container
        .get_host_port_ipv4(8080)
        .await
        .expect("published port");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    let (code, body) = tokio::task::spawn_blocking(move || http_get(addr, "/health"))
        .await
        .expect("join")
        .expect("GET /health");
    assert_eq!(code, 200, "body: {body}");
    assert!(body.contains("\"ok\""), "body: {body}");

    let (code, page) = tokio::task::spawn_blocking(move || http_get(addr, "/"))
        .await
        .expect("join")
        .expect("GET /");
    assert_eq!(code, 200);
    assert!(page.contains("<title>Torq dashboard</title>"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page loads nothing from elsewhere"
    );

    let (code, status) = tokio::task::spawn_blocking(move || http_get(addr, "/status"))
        .await
        .expect("join")
        .expect("GET /status");
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&status).expect("/status is JSON");
    assert_eq!(status["service"], "dashboard_websocket");
    assert_eq!(
        status["relays"]["market_data"]["connected"], false,
        "no relay runs here"
    );

    let (code, output) = probe(&container, &["--http", "http://127.0.0.1:8080/health"]).await;
    assert_eq!(code, Some(0), "probe: {output}");
    let (code, _) = probe(&container, &["--http", "http://127.0.0.1:8081/health"]).await;
    assert_eq!(code, Some(1), "a probe of a closed port fails");
    assert_eq!(
        stop(&container).await,
        Some(0),
        "the dashboard exits 0 on SIGTERM"
    );
}
