//! Parity with docker compose v2 on the engine: `torq up` and `docker
//! compose up -d` of one rich spec make the same containers, networks and
//! volumes, as `docker inspect` shows them.
//!
//! The spec uses most keys compose maps onto containers: networks (aliases,
//! a static address in an IPAM subnet, link-local addresses, priorities,
//! endpoint and network driver options, internal, attachable, labels),
//! volumes (a named one with driver options, `nocopy`, read-only, binds
//! with and without `create_host_path`, a non-recursive bind, tmpfs with
//! size and mode, anonymous), ports (a range, a host IP, UDP, long form),
//! healthchecks (full, disabled, timings without a test), environment and
//! `env_file`, labels, logging, ulimits, sysctls, devices, device cgroup
//! rules, extra hosts, DNS, hostname and domain name, init, IPC and PID
//! namespaces, shared memory, stop signal and grace period, TTY, user,
//! working directory, entrypoint, CPU and memory limits, block I/O,
//! security options, capabilities, groups, a read-only root, restart
//! policies (`deploy.restart_policy` too), links, `volumes_from`,
//! `network_mode` (a service's, `none`), scale, `container_name` and a
//! disabled profile.
//!
//! The two projects run one after the other (they share a subnet and host
//! ports), each under its own unique name and guard, so both are removed
//! even when the test fails. Before the comparison both sides are
//! normalized: ids become container names, the project name `PROJECT`,
//! engine-assigned values (subnets of networks without `ipam`, anonymous
//! volume names) are dropped, and the differences docs/compose-compatibility.md
//! lists under "Compared with compose's containers" are evened out (each
//! normalization below names its reason). Everything else must be equal.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Map, Value};

use crate::support::*;

/// The spec; `{subnet}` (three octets) and `{port}` are this run's.
const SPEC: &str = r#"
services:
  web:
    image: {image}
    entrypoint: ["sh", "-c"]
    command: ["{loop}"]
    hostname: webhost
    domainname: example.test
    user: "0:0"
    working_dir: /tmp
    environment:
      MODE: parity
      EMPTY: ""
      TORQ_PARITY_UNSET_VARIABLE:
    env_file: [web.env]
    labels:
      com.example.role: web
    networks:
      front:
        aliases: [www, web-alias]
        ipv4_address: {subnet}.10
        link_local_ips: [169.254.10.10]
        priority: 100
        driver_opts:
          com.example.endpoint: "1"
      back:
        priority: 10
    ports:
      - "{port}-{port1}:80-81"
      - "127.0.0.1::90/udp"
      - target: 100
        host_ip: 127.0.0.1
        protocol: tcp
        mode: host
    expose: ["5000/tcp", "6000/udp"]
    volumes:
      - data:/data
      - type: volume
        source: cache
        target: /cache
        read_only: true
        volume:
          nocopy: true
      - ./created:/created
      - type: bind
        source: ./long-created
        target: /long-created
      - type: bind
        source: ./existing
        target: /existing
        read_only: true
        bind:
          create_host_path: false
          propagation: rprivate
      - type: bind
        source: ./flat
        target: /flat
        bind:
          recursive: disabled
      - type: tmpfs
        target: /scratch
        tmpfs:
          size: 1m
          mode: 01777
      - /anonymous
    tmpfs: ["/run/t:size=65536"]
    healthcheck:
      test: ["CMD-SHELL", "true"]
      interval: 2s
      timeout: 1s
      retries: 3
      start_period: 1s
    logging:
      driver: json-file
      options:
        max-size: 1m
        max-file: "2"
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    sysctls:
      net.core.somaxconn: 1024
    devices: ["/dev/null:/dev/mynull:rw"]
    device_cgroup_rules: ["c 1:3 mr"]
    extra_hosts: ["somehost=10.0.0.1", "other:10.0.0.2"]
    dns: [10.0.0.53]
    dns_search: [example.test]
    dns_opt: ["ndots:1"]
    init: true
    ipc: shareable
    shm_size: 8m
    stop_signal: SIGTERM
    stop_grace_period: 2s
    tty: true
    stdin_open: true
    cpu_shares: 512
    cpu_period: 100000
    cpu_quota: 50000
    cpuset: "0"
    mem_limit: 64m
    mem_reservation: 32m
    memswap_limit: 128m
    oom_kill_disable: true
    oom_score_adj: 100
    pids_limit: 100
    blkio_config:
      weight: 300
    security_opt: [no-new-privileges]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    group_add: ["4321"]
    read_only: true
    restart: on-failure:2
    depends_on:
      db:
        condition: service_healthy
  db:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    volumes: ["/shared"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
    deploy:
      restart_policy:
        condition: unless-stopped
      resources:
        limits: {cpus: "0.5", memory: 48m, pids: 40}
        reservations: {memory: 16m}
  app:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    scale: 2
    links: ["db:database"]
    volumes_from: [db]
    pid: service:db
    restart: "no"
    healthcheck:
      disable: true
    stop_grace_period: 1s
  side:
    image: {image}
    command: ["sh", "-c", "{loop}"]
    network_mode: service:db
    stop_grace_period: 1s
  solo:
    image: {image}
    container_name: ${COMPOSE_PROJECT_NAME}-solo
    command: ["sh", "-c", "{loop}"]
    network_mode: none
    healthcheck:
      interval: 30s
    stop_grace_period: 1s
  later:
    image: {image}
    profiles: [later]
networks:
  front:
    ipam:
      config:
        - subnet: {subnet}.0/24
          gateway: {subnet}.1
          ip_range: {subnet}.128/25
    labels:
      com.example.net: front
    driver_opts:
      com.docker.network.bridge.enable_icc: "true"
  back:
    internal: true
    attachable: true
    enable_ipv6: false
    labels: [com.example.net=back]
volumes:
  data:
    driver_opts:
      type: tmpfs
      device: tmpfs
      o: size=1m
    labels:
      com.example.vol: data
  cache: {}
"#;

/// The services that set `logging` (the others get torq's default).
const LOGGING_SET_BY: &[&str] = &["web"];

/// The networks whose subnet the spec sets (the engine picks the others').
const NETWORKS_WITH_IPAM: &[&str] = &["front"];

#[test]
fn torq_up_makes_what_docker_compose_up_makes() {
    let compose_name = unique_project("parity-compose");
    let _compose_guard = ProjectGuard::new(compose_name.clone());
    let project = TestProject::new("parity-torq", "services: {}\n");
    let (subnet, port) = run_specific(&project.name);
    project.write_spec(
        &SPEC
            .replace("{subnet}", &subnet)
            .replace("{port1}", &(port + 1).to_string())
            .replace("{port}", &port.to_string()),
    );
    let dir = project.dir.path();
    std::fs::write(dir.join("web.env"), "FROM_FILE=yes\nMODE=overridden\n").unwrap();
    for existing in ["existing", "flat"] {
        std::fs::create_dir(dir.join(existing)).unwrap();
    }

    run_compose(dir, &compose_name, &["up", "-d"]);
    let expected = snapshot(&compose_name);
    run_compose(dir, &compose_name, &["down", "-v", "-t", "1"]);
    for created in ["created", "long-created"] {
        std::fs::remove_dir(dir.join(created))
            .unwrap_or_else(|e| panic!("compose did not create ./{created}: {e}"));
    }

    project.torq(&["up"]).assert_code(0);
    let actual = snapshot(&project.name);
    project.torq(&["down", "-v"]).assert_code(0);

    assert_eq!(
        keys(&expected["containers"]),
        [
            "PROJECT-app-1",
            "PROJECT-app-2",
            "PROJECT-db-1",
            "PROJECT-side-1",
            "PROJECT-solo",
            "PROJECT-web-1"
        ],
        "compose made other containers than the spec says"
    );
    let differences = json_differences(&expected, &actual);
    assert!(
        differences.is_empty(),
        "torq's containers, networks or volumes differ from docker compose's:\n{}",
        differences.join("\n")
    );
}

/// A /24 in 10.213.0.0/16 and a host port pair this run alone likely uses
/// (concurrent runs of the suite must not share them).
fn run_specific(name: &str) -> (String, u16) {
    let hash = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let subnet = format!("10.213.{}", hash % 250 + 1);
    let port = 20000 + u16::try_from(hash % 10000).unwrap_or(0) * 2;
    (subnet, port)
}

/// Runs docker compose v2 on the spec in `dir` as project `name`; panics
/// with its output when it fails.
fn run_compose(dir: &Path, name: &str, args: &[&str]) {
    let mut command = Command::new(compose_v2());
    command
        .current_dir(dir)
        .args(["-p", name, "-f", "compose.yaml"])
        .args(args)
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROFILES")
        .env_remove("COMPOSE_PROJECT_NAME")
        .stdin(Stdio::null());
    let result = run_with_deadline(command, COMMAND_DEADLINE);
    assert_eq!(
        result.code,
        Some(0),
        "docker compose {} failed:\n{}",
        args.join(" "),
        result.output()
    );
}

/// An object's keys, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// `docker inspect` of the listed objects (none: an empty list).
fn inspect(kind: &[&str], ids: &[String]) -> Vec<Value> {
    if ids.is_empty() {
        return Vec::new();
    }
    let mut args = kind.to_vec();
    args.extend(ids.iter().map(String::as_str));
    serde_json::from_str(&docker_ok(&args)).expect("inspect JSON")
}

/// The ids `docker LIST…` prints for the project's objects.
fn listed(list: &[&str], project: &str) -> Vec<String> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    let mut args = list.to_vec();
    args.extend(["-q", "--filter", &filter]);
    docker_ok(&args).lines().map(str::to_string).collect()
}

/// The project's containers, networks and volumes, normalized (see the
/// module doc), keyed by name.
fn snapshot(project: &str) -> Value {
    let containers = inspect(
        &["container", "inspect"],
        &listed(&["ps", "-a", "--no-trunc"], project),
    );
    let networks = inspect(
        &["network", "inspect"],
        &listed(&["network", "ls", "--no-trunc"], project),
    );
    let volumes = inspect(&["volume", "inspect"], &listed(&["volume", "ls"], project));
    let names: HashMap<String, String> = containers
        .iter()
        .flat_map(|c| {
            let id = c["Id"].as_str().unwrap_or_default().to_string();
            let name = c["Name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/');
            [
                (id.clone(), name.to_string()),
                (id[..12].to_string(), name.to_string()),
            ]
        })
        .collect();
    let mut snapshot = json!({
        "containers": by_name(containers.iter().map(container_view)),
        "networks": by_name(networks.into_iter().map(network_view)),
        "volumes": by_name(volumes.into_iter().map(volume_view)),
    });
    rename(&mut snapshot, &names, project);
    snapshot
}

fn by_name(items: impl Iterator<Item = Value>) -> Value {
    Value::Object(
        items
            .map(|item| (item["Name"].as_str().unwrap_or_default().to_string(), item))
            .collect(),
    )
}

/// What compose and torq decide about a container: its config, host config,
/// endpoints and mounts.
fn container_view(c: &Value) -> Value {
    let short_id = &c["Id"].as_str().unwrap_or_default()[..12];
    let service = c["Config"]["Labels"]["com.docker.compose.service"]
        .as_str()
        .unwrap_or_default();
    let mut config = c["Config"].clone();
    let mut host = c["HostConfig"].clone();
    let endpoints: Map<String, Value> = c["NetworkSettings"]["Networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(network, endpoint)| {
            let mut aliases = endpoint["Aliases"].clone();
            // The engine adds the container's short id itself.
            if let Some(list) = aliases.as_array_mut() {
                list.retain(|a| a != short_id);
            }
            let view = json!({
                "Aliases": aliases,
                "IPAMConfig": endpoint["IPAMConfig"],
                "Links": endpoint["Links"],
                "DriverOpts": endpoint["DriverOpts"],
            });
            (network.clone(), view)
        })
        .collect();
    without_torq_labels(&mut config["Labels"]);
    sort_depends_on(&mut config["Labels"]);
    // Compose builds these lists from Go maps: their order is random.
    sort_list(&mut config["Env"]);
    for list in ["Ulimits", "ExtraHosts"] {
        sort_list(&mut host[list]);
    }
    // Compose's client writes capabilities as `CAP_X`; the engine reads both.
    for caps in ["CapAdd", "CapDrop"] {
        strip_cap_prefix(&mut host[caps]);
    }
    // Without `logging`, torq caps json-file at 3 × 10 MB; compose leaves
    // the daemon's default.
    if !LOGGING_SET_BY.contains(&service) {
        host["LogConfig"] = Value::Null;
    }
    // Compose sends an unset restart policy as "", torq as "no".
    if host["RestartPolicy"]["Name"] == "" {
        host["RestartPolicy"]["Name"] = json!("no");
    }
    // The same mounts, declared through `Binds` or `Mounts` (see mount_declarations).
    let declared = mount_declarations(&host);
    let host = host.as_object_mut().expect("HostConfig");
    host.remove("Binds");
    host.insert("Mounts".into(), declared);
    let mut view = json!({
        "Name": c["Name"].as_str().unwrap_or_default().trim_start_matches('/'),
        "Path": c["Path"],
        "Args": c["Args"],
        "Config": config,
        "HostConfig": host,
        "Endpoints": endpoints,
        "Mounts": mounts_in_place(&c["Mounts"]),
    });
    empties_to_null(&mut view);
    view
}

/// Compose sends named volumes and read-write binds through `Binds`
/// (`NAME:/path:rw`), torq named volumes through `Mounts`; both become one
/// list of mount objects (as the Mount API writes them), by target.
fn mount_declarations(host: &Value) -> Value {
    let mut mounts: Vec<Value> = host["Mounts"].as_array().cloned().unwrap_or_default();
    for bind in host["Binds"].as_array().into_iter().flatten() {
        mounts.push(bind_as_mount(bind.as_str().unwrap_or_default()));
    }
    mounts.sort_by_key(|m| m["Target"].as_str().unwrap_or_default().to_string());
    Value::Array(mounts)
}

/// `SOURCE:TARGET[:OPTIONS]` as a Mount API object.
fn bind_as_mount(bind: &str) -> Value {
    let mut parts = bind.splitn(3, ':');
    let source = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let options: Vec<&str> = parts.next().unwrap_or_default().split(',').collect();
    let kind = if source.starts_with('/') {
        "bind"
    } else {
        "volume"
    };
    let mut mount = json!({"Type": kind, "Source": source, "Target": target});
    if options.contains(&"ro") {
        mount["ReadOnly"] = json!(true);
    }
    if options.contains(&"nocopy") {
        mount["VolumeOptions"] = json!({"NoCopy": true});
    }
    let propagations = [
        "private", "rprivate", "shared", "rshared", "slave", "rslave",
    ];
    if let Some(p) = options.iter().find(|o| propagations.contains(o)) {
        mount["BindOptions"] = json!({"Propagation": p});
    }
    mount
}

/// The mounts in place, by destination; an anonymous volume's generated
/// name is left out, and the mode, which only says through which API the
/// mount came (`rw` from `Binds`, `z` from `Mounts`).
fn mounts_in_place(mounts: &Value) -> Value {
    let mut list: Vec<Value> = mounts.as_array().cloned().unwrap_or_default();
    for mount in &mut list {
        let Some(mount) = mount.as_object_mut() else {
            continue;
        };
        mount.remove("Mode");
        let anonymous = mount
            .get("Name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()));
        if anonymous {
            mount.insert("Name".into(), json!("<anonymous>"));
            mount.insert("Source".into(), json!("<anonymous>"));
        }
    }
    list.sort_by_key(|m| m["Destination"].as_str().unwrap_or_default().to_string());
    Value::Array(list)
}

fn network_view(mut n: Value) -> Value {
    let key = n["Labels"]["com.docker.compose.network"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(fields) = n.as_object_mut() {
        for engine_made in ["Id", "Created", "Containers"] {
            fields.remove(engine_made);
        }
    }
    if !NETWORKS_WITH_IPAM.contains(&key.as_str()) {
        n["IPAM"]["Config"] = Value::Null;
    }
    without_torq_labels(&mut n["Labels"]);
    n
}

fn volume_view(mut v: Value) -> Value {
    if let Some(fields) = v.as_object_mut() {
        fields.remove("CreatedAt");
    }
    without_torq_labels(&mut v["Labels"]);
    v
}

/// The labels whose values are each tool's own: the config hash (torq's is
/// a hash of its request; it puts none on networks and volumes) and the
/// version.
fn without_torq_labels(labels: &mut Value) {
    if let Some(labels) = labels.as_object_mut() {
        labels.remove("com.docker.compose.config-hash");
        labels.remove("com.docker.compose.version");
    }
}

/// `com.docker.compose.depends_on` entries in name order (compose's come
/// from a Go map).
fn sort_depends_on(labels: &mut Value) {
    let key = "com.docker.compose.depends_on";
    if let Some(text) = labels[key].as_str() {
        let entries: BTreeSet<&str> = text.split(',').filter(|e| !e.is_empty()).collect();
        labels[key] = json!(entries.into_iter().collect::<Vec<_>>().join(","));
    }
}

fn sort_list(list: &mut Value) {
    if let Some(items) = list.as_array_mut() {
        items.sort_by_key(Value::to_string);
    }
}

fn strip_cap_prefix(caps: &mut Value) {
    for cap in caps.as_array_mut().into_iter().flatten() {
        if let Some(name) = cap.as_str().and_then(|c| c.strip_prefix("CAP_")) {
            *cap = json!(name);
        }
    }
}

/// Compose sends empty lists and maps where torq sends nothing (both mean
/// unset to the engine): all three become `null`, and a field that is
/// `null` is left out.
fn empties_to_null(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(empties_to_null),
        Value::Object(map) => {
            map.values_mut().for_each(empties_to_null);
            map.retain(|_, v| !v.is_null());
        }
        _ => {}
    }
    let empty = match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    };
    if empty {
        *value = Value::Null;
    }
}

/// Container ids (full and short) become container names, then the project
/// name becomes `PROJECT`, in every string and key.
fn rename(value: &mut Value, names: &HashMap<String, String>, project: &str) {
    let fix = |text: &str| {
        let mut text = text.to_string();
        for (id, name) in names.iter().filter(|(id, _)| id.len() == 64) {
            text = text.replace(id, name);
        }
        for (id, name) in names.iter().filter(|(id, _)| id.len() == 12) {
            if text == *id || text.ends_with(&format!(":{id}")) {
                text = text.replace(id, name);
            }
        }
        text.replace(project, "PROJECT")
    };
    match value {
        Value::String(text) => *text = fix(text),
        Value::Array(items) => items.iter_mut().for_each(|v| rename(v, names, project)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                rename(&mut item, names, project);
                map.insert(fix(&key), item);
            }
        }
        _ => {}
    }
}
