//! A Swarm stack's objects as the engine holds them, normalized so that two
//! stacks made from one spec under different names compare equal: the
//! services' specs (`docker service inspect … .Spec`), and the networks,
//! secrets and configs carrying the stack's namespace label. The stack's
//! name becomes `STACK`, network ids their names; what torq adds on
//! purpose is left out (its spec-hash label, the content hash that ends
//! its secret and config names, the engine ids of those objects).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{docker, docker_ok};

const NAMESPACE: &str = "com.docker.stack.namespace";
const SPEC_HASH: &str = "io.torq.deploy.spec-hash";

/// Every object of `stack`, by kind and normalized name
/// (`service STACK_web`, `network STACK_front`, …).
pub fn stack_objects(stack: &str) -> BTreeMap<String, Value> {
    let names = network_names();
    let normalize = |value: Value| normalized(value, stack, &names);
    let mut out = BTreeMap::new();
    for id in listed("network", stack) {
        let network = json(&docker_ok(&[
            "network",
            "inspect",
            &id,
            "--format",
            "{{json .}}",
        ]));
        let mut kept = serde_json::Map::new();
        for key in [
            "Name",
            "Driver",
            "Internal",
            "Attachable",
            "Labels",
            "Options",
        ] {
            kept.insert(key.into(), network[key].clone());
        }
        // The engine picks each overlay's VXLAN id (and, unless the spec
        // names a pool, its subnet).
        if let Some(options) = kept.get_mut("Options").and_then(Value::as_object_mut) {
            options.remove("com.docker.network.driver.overlay.vxlanid_list");
        }
        kept.insert("IPAMDriver".into(), network["IPAM"]["Driver"].clone());
        let network = normalize(Value::Object(kept));
        out.insert(
            format!("network {}", network["Name"].as_str().unwrap_or("")),
            network,
        );
    }
    for kind in ["service", "secret", "config"] {
        for id in listed(kind, stack) {
            let spec = json(&docker_ok(&[
                kind,
                "inspect",
                &id,
                "--format",
                "{{json .Spec}}",
            ]));
            let spec = normalize(spec);
            out.insert(
                format!("{kind} {}", spec["Name"].as_str().unwrap_or("")),
                spec,
            );
        }
    }
    out
}

/// Where the `docker stack deploy` objects and torq's differ, one line each.
pub fn differences(
    reference: &BTreeMap<String, Value>,
    torq: &BTreeMap<String, Value>,
) -> Vec<String> {
    let as_object = |objects: &BTreeMap<String, Value>| {
        Value::Object(
            objects
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    };
    let (reference, torq) = (as_object(reference), as_object(torq));
    super::json::differences_between(("docker", &reference), ("torq", &torq))
}

fn listed(kind: &str, stack: &str) -> Vec<String> {
    let filter = format!("label={NAMESPACE}={stack}");
    let out = docker(&[kind, "ls", "-q", "--filter", &filter]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Network id → name, for the engine's ids in service specs.
fn network_names() -> BTreeMap<String, String> {
    docker_ok(&[
        "network",
        "ls",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Name}}",
    ])
    .lines()
    .filter_map(|line| line.split_once(' '))
    .map(|(id, name)| (id.to_string(), name.to_string()))
    .collect()
}

fn normalized(value: Value, stack: &str, networks: &BTreeMap<String, String>) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), SPEC_HASH | "SecretID" | "ConfigID"))
                .map(|(k, v)| (k, normalized(v, stack, networks)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| normalized(v, stack, networks))
                .collect(),
        ),
        Value::String(text) => {
            let text = networks.get(&text).cloned().unwrap_or(text);
            Value::String(without_content_hash(&text.replace(stack, "STACK")))
        }
        other => other,
    }
}

/// `STACK_token-0123456789` → `STACK_token` (torq's content-addressed names).
fn without_content_hash(name: &str) -> String {
    match name.rsplit_once('-') {
        Some((base, hash))
            if base.starts_with("STACK_")
                && hash.len() == 10
                && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            base.to_string()
        }
        _ => name.to_string(),
    }
}
