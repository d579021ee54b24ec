//! Compose keys beyond the basics reach real containers, as docker compose
//! applies them: resource limits, kernel options, devices, tmpfs, security
//! options, namespaces shared with another service (`pid: service:x`),
//! `volumes_from`, links, secrets and configs (file, environment, content),
//! `post_start` hooks; a changed limit recreates that service only; and
//! `up` refuses, before creating anything, a missing external network or
//! volume or a foreign network holding the project network's name.
//! Every test has its own project, removed by a guard even on failure.

use crate::support::*;

/// `data` shares its PID namespace and volumes; `app` uses every key.
const KEYS: &str = r#"
services:
  data:
    image: {image}
    command: ["sh", "-c", "mkdir -p /shared; echo hi > /shared/hello; {loop}"]
    volumes: ["/shared"]
    stop_grace_period: 1s
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    mem_limit: 64m
    memswap_limit: 128m
    cpus: 0.5
    cpu_shares: 512
    pids_limit: 64
    oom_score_adj: 100
    sysctls: {net.core.somaxconn: 1024}
    tmpfs: ["/scratch:size=1m"]
    security_opt: [no-new-privileges]
    cap_drop: [NET_RAW]
    devices: ["/dev/null:/dev/mynull"]
    group_add: ["1234"]
    dns_opt: ["ndots:1"]
    pid: service:data
    volumes_from: ["data:ro"]
    links: ["data:db"]
    secrets: [token, envsec]
    configs: [motd]
    post_start:
      - command: ["touch", "/scratch/started"]
secrets:
  token: {file: ./token.txt}
  envsec: {environment: TORQ_TEST_SECRET}
configs:
  motd: {content: "hello from config"}
"#;

/// `docker inspect` of one container as JSON.
fn inspect(container: &str) -> serde_json::Value {
    let text = docker_ok(&["inspect", container]);
    let mut list: Vec<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("inspect {container}: {e}"));
    list.remove(0)
}

/// Runs `sh -c script` in a container; returns (exit code, stdout + stderr).
fn exec(container: &str, script: &str) -> (Option<i32>, String) {
    let out = docker(&["exec", container, "sh", "-c", script]);
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn id_of(project: &TestProject, service: &str) -> String {
    project
        .containers()
        .into_iter()
        .find(|c| c.service == service)
        .unwrap_or_else(|| panic!("no container of {service}"))
        .id
}

#[test]
fn compose_keys_reach_the_container() {
    let project = TestProject::new("keys", KEYS);
    std::fs::write(project.dir.path().join("token.txt"), "sekrit\n").unwrap();
    std::fs::write(
        project.dir.path().join(".env"),
        "TORQ_TEST_SECRET=from-dotenv\n",
    )
    .unwrap();
    project.torq(&["up"]).assert_code(0);

    let app = format!("{}-app-1", project.name);
    let data = format!("{}-data-1", project.name);
    let host = &inspect(&app)["HostConfig"];
    assert_eq!(host["Memory"], 64 << 20);
    assert_eq!(host["MemorySwap"], 128 << 20);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["CpuShares"], 512);
    assert_eq!(host["PidsLimit"], 64);
    assert_eq!(host["OomScoreAdj"], 100);
    assert_eq!(host["Sysctls"]["net.core.somaxconn"], "1024");
    assert_eq!(host["Tmpfs"]["/scratch"], "size=1m");
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges"])
    );
    assert_eq!(host["CapDrop"], serde_json::json!(["NET_RAW"]));
    assert_eq!(host["GroupAdd"], serde_json::json!(["1234"]));
    assert_eq!(host["DnsOptions"], serde_json::json!(["ndots:1"]));
    assert_eq!(host["Devices"][0]["PathInContainer"], "/dev/mynull");
    assert_eq!(
        host["VolumesFrom"],
        serde_json::json!([format!("{data}:ro")])
    );
    let data_id = id_of(&project, "data");
    assert_eq!(host["PidMode"], format!("container:{data_id}"));

    // Inside: what those settings mean to a process.
    let checks = [
        ("cat /proc/sys/net/core/somaxconn", "1024"),
        ("test -c /dev/mynull && echo device", "device"),
        ("grep ' /scratch tmpfs' /proc/mounts", "size=1024k"),
        ("id -G", "1234"),
        ("cat /run/secrets/token", "sekrit"),
        ("cat /run/secrets/envsec", "from-dotenv"),
        ("cat /motd", "hello from config"),
        ("ls /scratch", "started"),
        ("cat /shared/hello", "hi"),
        // pid: service:data — data's own command is visible.
        ("ps", "echo hi > /shared/hello"),
        // links: data is reachable as `db` (the final dot skips search domains).
        ("nslookup db.", "Address"),
    ];
    for (script, expected) in checks {
        let (code, output) = exec(&app, script);
        assert_eq!(code, Some(0), "`{script}` failed: {output}");
        assert!(output.contains(expected), "`{script}`: {output}");
    }
    // volumes_from :ro and the secret's bind mount are read-only.
    for script in ["touch /shared/x", "echo x > /run/secrets/token"] {
        let (code, output) = exec(&app, script);
        assert_ne!(code, Some(0), "`{script}` should fail: {output}");
    }
    let modes = exec(&app, "stat -c '%a' /run/secrets/envsec /motd").1;
    assert_eq!(modes.split_whitespace().collect::<Vec<_>>(), ["444", "444"]);

    // The same spec changes nothing (injected files and hooks hash stably).
    let before = (id_of(&project, "app"), data_id.clone());
    project.torq(&["up"]).assert_code(0);
    assert_eq!((id_of(&project, "app"), id_of(&project, "data")), before);

    // A changed limit recreates that service only.
    project.write_spec(&KEYS.replace("mem_limit: 64m", "mem_limit: 96m"));
    project.torq(&["up"]).assert_code(0);
    assert_ne!(id_of(&project, "app"), before.0, "app keeps its old limit");
    assert_eq!(id_of(&project, "data"), before.1, "data was recreated");
    assert_eq!(inspect(&app)["HostConfig"]["Memory"], 96 << 20);
}

#[test]
fn a_failing_post_start_hook_fails_the_service() {
    let project = TestProject::new(
        "hookfail",
        r#"
services:
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    stop_grace_period: 1s
    post_start:
      - command: ["sh", "-c", "echo hook-said-no; exit 3"]
"#,
    );
    let result = project.torq(&["up"]);
    result.assert_code(2);
    let output = result.output();
    assert!(output.contains("exited with status 3"), "{output}");
    assert!(output.contains("hook-said-no"), "{output}");
}

/// A missing external network or volume fails `up` as it fails compose's.
/// On a plain engine both stop `up` before anything is created. In a swarm a
/// missing network may be another node's overlay network (a node learns of
/// one only once a task of its own uses it), so compose lets it pass and the
/// container's start fails with the engine's reason; torq does the same
/// (exit 2: the service failed). Which one is asserted follows the engine.
#[test]
fn a_missing_external_network_or_volume_fails_up() {
    let (_steady, in_swarm) = steady_swarm_mode();
    let missing = unique_project("nonet");
    let project = TestProject::new(
        "external",
        &format!(
            r#"
services:
  app:
    image: {{image}}
    command: ["sh", "-c", "{{loop}}"]
    networks: [outside]
networks:
  outside:
    external: true
    name: {missing}
"#
        ),
    );
    let result = project.torq(&["up"]);
    let filter = format!("label={PROJECT_LABEL}={}", project.name);
    if in_swarm {
        result.assert_code(2);
        assert!(
            result
                .output()
                .contains(&format!("network {missing} not found")),
            "{}",
            result.output()
        );
        let states: Vec<String> = project.containers().into_iter().map(|c| c.state).collect();
        assert_eq!(states, ["created"], "the app's container stays unstarted");
        project.torq(&["down"]).assert_code(0);
    } else {
        result.assert_code(1);
        assert!(
            result.output().contains(&format!(
                "network {missing} declared as external, but could not be found"
            )),
            "{}",
            result.output()
        );
        assert!(project.containers().is_empty());
    }
    assert_eq!(docker_ok(&["network", "ls", "-q", "--filter", &filter]), "");

    project.write_spec(&format!(
        r#"
services:
  app:
    image: {{image}}
    command: ["sh", "-c", "{{loop}}"]
    volumes: ["outside:/data"]
volumes:
  outside:
    external: true
    name: {missing}
"#
    ));
    let result = project.torq(&["up"]);
    result.assert_code(1);
    assert!(
        result
            .output()
            .contains(&format!("external volume \"{missing}\" not found")),
        "{}",
        result.output()
    );
    assert!(project.containers().is_empty());
    assert_eq!(docker_ok(&["network", "ls", "-q", "--filter", &filter]), "");
}

/// Removes an unlabeled network when dropped.
struct NetworkGuard(String);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.0]);
    }
}

#[test]
fn a_foreign_network_with_the_project_networks_name_is_refused() {
    let project = TestProject::new(
        "foreignnet",
        r#"
services:
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
"#,
    );
    let name = format!("{}_default", project.name);
    docker_ok(&["network", "create", &name]);
    let _guard = NetworkGuard(name.clone());
    let result = project.torq(&["up"]);
    result.assert_code(1);
    let output = result.output();
    assert!(
        output.contains("was not created by torq or compose"),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "network {name} was found but has incorrect label com.docker.compose.network set to \"\" (expected: \"default\")"
        )),
        "{output}"
    );
    assert!(project.containers().is_empty());
}

#[test]
fn attach_false_keeps_a_service_out_of_attached_logs() {
    let project = TestProject::new(
        "attachfalse",
        r#"
services:
  shown:
    image: {image}
    command: ["sh", "-c", "echo SHOWN-LINE; sleep 1; exit 4"]
  hidden:
    image: {image}
    command: ["sh", "-c", "echo HIDDEN-LINE; {loop}"]
    attach: false
    stop_grace_period: 1s
"#,
    );
    let result = project.torq(&["up", "--attach", "--abort-on-exit"]);
    // The code of the container that exited first.
    result.assert_code(4);
    assert!(result.stdout.contains("SHOWN-LINE"), "{}", result.output());
    assert!(
        !result.stdout.contains("HIDDEN-LINE"),
        "{}",
        result.output()
    );
}
