//! Merging several spec files (`-f a.yaml -f b.yaml`) the way docker compose
//! merges them, on the positioned YAML tree:
//!
//! - mappings merge key by key, recursively; a scalar in a later file
//!   replaces the earlier one; `null` in a later file keeps the earlier value;
//! - sequences append (`ports`, `volumes`, `expose`, `cap_add`, ...; the typed
//!   layer then drops entries that redefine an earlier one, as compose does);
//! - `command`, `entrypoint` and `healthcheck.test` are replaced;
//! - `environment`, `labels`, `build.args`, `build.labels`, `deploy.labels`,
//!   `sysctls` and the top-level `labels` merge by key, whichever of the list
//!   (`KEY=VALUE`) or map syntax each file uses;
//! - `depends_on` and a service's `networks` merge as mappings whichever
//!   syntax each file uses; `build: DIR` merges as `build: {context: DIR}`;
//! - `logging` merges when both files name the same driver (or one names
//!   none), else the later replaces it; each `ulimits` entry is replaced;
//!   `extra_hosts` appends what is new;
//! - compose's tags: `!reset` removes an inherited value, `!override`
//!   replaces it instead of merging.
//!
//! Every file, the first included, passes through the same rules (merged into
//! an empty mapping), so list/map syntaxes come out normalized either way.

use super::error::{Pos, Sources, SpecError};
use super::yaml::{Entry, Map, Node, NodeTag, Value};

/// Merges `overlay` (a later file's top-level mapping) over `base`.
pub(crate) fn merge_files(base: Node, overlay: Node, sources: &Sources) -> Result<Node, SpecError> {
    let mut path = Vec::new();
    merge(base, overlay, &mut path, sources)
}

/// Applies the merge rules to a single file (merged into nothing), which
/// normalizes list/map syntaxes and drops `!reset` values.
pub(crate) fn normalize_file(file: Node, sources: &Sources) -> Result<Node, SpecError> {
    let empty = Node::new(Value::Map(Map::new()), file.pos);
    merge_files(empty, file, sources)
}

/// Merges the service `overlay` over `base` (compose's `extends`): the
/// same rules as merging files, at `services.<name>`.
pub(crate) fn extend_service(
    base: Node,
    overlay: Node,
    name: &str,
    sources: &Sources,
) -> Result<Node, SpecError> {
    let mut path = vec!["services".to_string(), name.to_string()];
    let base = strip(base, &mut path, sources)?;
    merge(base, overlay, &mut path, sources)
}

/// A top-level resource (`services.x`, `volumes.y`, …) in merged form, for
/// comparing definitions (`include` accepts a redefinition only when equal).
pub(crate) fn normalize_resource(
    node: Node,
    kind: &str,
    name: &str,
    sources: &Sources,
) -> Result<Node, SpecError> {
    let mut path = vec![kind.to_string(), name.to_string()];
    strip(node, &mut path, sources)
}

type Path = Vec<String>;

fn matches(path: &Path, pattern: &[&str]) -> bool {
    path.len() == pattern.len()
        && path
            .iter()
            .zip(pattern)
            .all(|(segment, want)| *want == "*" || segment == want)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Replace,
    KeyValue,
    DependsOn,
    Networks,
    Build,
    Logging,
    ExtraHosts,
    /// A string or a list, merged as lists (`dns`, `tmpfs`, `env_file`, …).
    Sequence,
    /// `gpus`: `all` or a list of requests, merged as lists.
    Gpus,
    Default,
}

fn rule_for(path: &Path) -> Rule {
    const REPLACE: &[&[&str]] = &[
        &["services", "*", "command"],
        &["services", "*", "entrypoint"],
        &["services", "*", "healthcheck", "test"],
        &["services", "*", "ulimits", "*"],
    ];
    const KEY_VALUE: &[&[&str]] = &[
        &["services", "*", "environment"],
        &["services", "*", "labels"],
        &["services", "*", "annotations"],
        &["services", "*", "sysctls"],
        &["services", "*", "build", "args"],
        &["services", "*", "build", "labels"],
        &["services", "*", "build", "additional_contexts"],
        &["services", "*", "deploy", "labels"],
        &["networks", "*", "labels"],
        &["volumes", "*", "labels"],
    ];
    if REPLACE.iter().any(|p| matches(path, p)) {
        Rule::Replace
    } else if KEY_VALUE.iter().any(|p| matches(path, p)) {
        Rule::KeyValue
    } else if matches(path, &["services", "*", "depends_on"]) {
        Rule::DependsOn
    } else if matches(path, &["services", "*", "networks"]) {
        Rule::Networks
    } else if matches(path, &["services", "*", "build"]) {
        Rule::Build
    } else if matches(path, &["services", "*", "logging"]) {
        Rule::Logging
    } else if [
        "dns",
        "dns_opt",
        "dns_search",
        "env_file",
        "label_file",
        "tmpfs",
    ]
    .iter()
    .any(|key| matches(path, &["services", "*", key]))
    {
        Rule::Sequence
    } else if matches(path, &["services", "*", "gpus"]) {
        Rule::Gpus
    } else if matches(path, &["services", "*", "extra_hosts"])
        || matches(path, &["services", "*", "build", "extra_hosts"])
    {
        Rule::ExtraHosts
    } else {
        Rule::Default
    }
}

fn dotted(path: &Path) -> String {
    path.join(".")
}

fn merge(base: Node, overlay: Node, path: &mut Path, sources: &Sources) -> Result<Node, SpecError> {
    if overlay.tag == NodeTag::Override {
        return strip(overlay, path, sources);
    }
    match rule_for(path) {
        Rule::Replace => strip(overlay, path, sources),
        Rule::KeyValue => {
            let mut merged = to_key_value_map(base, path, sources)?;
            let over = to_key_value_map(overlay, path, sources)?;
            if let Value::Map(over_map) = over.value {
                if let Value::Map(map) = &mut merged.value {
                    for (k, e) in over_map {
                        map.insert(k, e);
                    }
                }
            }
            Ok(merged)
        }
        Rule::DependsOn => {
            let base = list_to_map(base, path, sources, true)?;
            let overlay = list_to_map(overlay, path, sources, true)?;
            merge_generic(base, overlay, path, sources)
        }
        Rule::Networks => {
            let base = list_to_map(base, path, sources, false)?;
            let overlay = list_to_map(overlay, path, sources, false)?;
            merge_generic(base, overlay, path, sources)
        }
        Rule::Build => {
            let base = build_to_map(base);
            let overlay = build_to_map(overlay);
            merge_generic(base, overlay, path, sources)
        }
        Rule::Logging => {
            let driver = |n: &Node| {
                n.as_map()
                    .and_then(|m| m.get("driver"))
                    .and_then(|e| e.node.scalar_text())
            };
            match (driver(&base), driver(&overlay)) {
                (Some(a), Some(b)) if a != b && overlay.as_map().is_some() => {
                    strip(overlay, path, sources)
                }
                _ => merge_generic(base, overlay, path, sources),
            }
        }
        Rule::ExtraHosts => {
            let mut items = to_sequence(base);
            for item in to_sequence(overlay) {
                if !items.iter().any(|existing| existing.value == item.value) {
                    items.push(item);
                }
            }
            Ok(Node::new(Value::Seq(items), path_pos(path)))
        }
        Rule::Sequence => {
            let pos = base.pos;
            let mut items = string_to_sequence(strip(base, path, sources)?);
            items.extend(string_to_sequence(strip(overlay, path, sources)?));
            Ok(Node::new(Value::Seq(items), pos))
        }
        Rule::Gpus => {
            let pos = base.pos;
            let mut items = gpus_to_sequence(strip(base, path, sources)?);
            items.extend(gpus_to_sequence(strip(overlay, path, sources)?));
            Ok(Node::new(Value::Seq(items), pos))
        }
        Rule::Default => merge_generic(base, overlay, path, sources),
    }
}

/// `gpus: all` as the request list it stands for; lists as they are.
fn gpus_to_sequence(node: Node) -> Vec<Node> {
    match node.value {
        Value::Str(all) => {
            let mut map = Map::new();
            map.insert(
                "count".into(),
                Entry {
                    key_pos: node.pos,
                    node: Node::new(Value::Str(all), node.pos),
                },
            );
            vec![Node::new(Value::Map(map), node.pos)]
        }
        other => string_to_sequence(Node::new(other, node.pos)),
    }
}

/// A string as a one-element list; lists as they are; null as empty.
fn string_to_sequence(node: Node) -> Vec<Node> {
    match node.value {
        Value::Seq(items) => items,
        Value::Null => Vec::new(),
        value => vec![Node::new(value, node.pos)],
    }
}

/// Position for nodes synthesized by merging (not user-visible in errors).
fn path_pos(_path: &Path) -> Pos {
    Pos::default()
}

fn merge_generic(
    base: Node,
    overlay: Node,
    path: &mut Path,
    sources: &Sources,
) -> Result<Node, SpecError> {
    if overlay.is_null() && overlay.tag == NodeTag::None && !base.is_null() {
        return Ok(base);
    }
    let base_kind = base.kind();
    match (base.value, overlay.value) {
        (Value::Map(mut base_map), Value::Map(over_map)) => {
            for (key, entry) in over_map {
                path.push(key.clone());
                let result = merge_entry(&mut base_map, key, entry, path, sources);
                path.pop();
                result?;
            }
            Ok(Node {
                value: Value::Map(base_map),
                pos: base.pos,
                tag: NodeTag::None,
            })
        }
        (Value::Seq(mut items), Value::Seq(more)) => {
            let mut normalized = Vec::with_capacity(more.len());
            path.push("[]".into());
            for item in more {
                normalized.push(strip(item, path, sources)?);
            }
            path.pop();
            items.extend(normalized);
            Ok(Node {
                value: Value::Seq(items),
                pos: base.pos,
                tag: NodeTag::None,
            })
        }
        (Value::Map(_), other) | (Value::Seq(_), other) if !matches!(other, Value::Null) => {
            let overlay = Node {
                value: other,
                pos: overlay.pos,
                tag: overlay.tag,
            };
            Err(sources.error_at(
                overlay.pos,
                format!(
                    "{}: cannot merge {} into {} defined earlier",
                    dotted(path),
                    overlay.kind(),
                    base_kind
                ),
            ))
        }
        (_, value) => strip(
            Node {
                value,
                pos: overlay.pos,
                tag: overlay.tag,
            },
            path,
            sources,
        ),
    }
}

fn merge_entry(
    map: &mut Map,
    key: String,
    entry: Entry,
    path: &mut Path,
    sources: &Sources,
) -> Result<(), SpecError> {
    if entry.node.tag == NodeTag::Reset {
        map.shift_remove(&key);
        return Ok(());
    }
    match map.get_mut(&key) {
        Some(existing) => {
            let base = std::mem::replace(&mut existing.node, Node::new(Value::Null, entry.key_pos));
            existing.node = merge(base, entry.node, path, sources)?;
        }
        None => {
            let node = strip(entry.node, path, sources)?;
            map.insert(
                key,
                Entry {
                    key_pos: entry.key_pos,
                    node,
                },
            );
        }
    }
    Ok(())
}

/// A value that has nothing to merge with: apply the same normalizations
/// (list/map forms, `!reset` removal) by merging it into nothing.
fn strip(node: Node, path: &mut Path, sources: &Sources) -> Result<Node, SpecError> {
    let rule = rule_for(path);
    match (&node.value, rule) {
        (_, Rule::KeyValue) => to_key_value_map(node, path, sources),
        (_, Rule::DependsOn) => {
            let node = list_to_map(node, path, sources, true)?;
            strip_children(node, path, sources)
        }
        (_, Rule::Networks) => {
            let node = list_to_map(node, path, sources, false)?;
            strip_children(node, path, sources)
        }
        (_, Rule::Build) => strip_children(build_to_map(node), path, sources),
        _ => strip_children(node, path, sources),
    }
}

fn strip_children(node: Node, path: &mut Path, sources: &Sources) -> Result<Node, SpecError> {
    let Node { value, pos, tag } = node;
    let value = match value {
        Value::Map(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, entry) in map {
                if entry.node.tag == NodeTag::Reset {
                    continue;
                }
                path.push(key.clone());
                let node = strip(entry.node, path, sources);
                path.pop();
                out.insert(
                    key,
                    Entry {
                        key_pos: entry.key_pos,
                        node: node?,
                    },
                );
            }
            Value::Map(out)
        }
        Value::Seq(items) => {
            path.push("[]".into());
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if item.tag == NodeTag::Reset {
                    continue;
                }
                match strip(item, path, sources) {
                    Ok(node) => out.push(node),
                    Err(e) => {
                        path.pop();
                        return Err(e);
                    }
                }
            }
            path.pop();
            Value::Seq(out)
        }
        other => other,
    };
    let tag = if tag == NodeTag::Override {
        NodeTag::None
    } else {
        tag
    };
    Ok(Node { value, pos, tag })
}

/// `KEY=VALUE` lists and mappings both become a mapping (`KEY` alone: null).
fn to_key_value_map(node: Node, path: &Path, sources: &Sources) -> Result<Node, SpecError> {
    let pos = node.pos;
    match node.value {
        Value::Null => Ok(Node::new(Value::Map(Map::new()), pos)),
        Value::Map(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, e) in map {
                if e.node.tag == NodeTag::Reset {
                    continue;
                }
                out.insert(k, e);
            }
            Ok(Node::new(Value::Map(out), pos))
        }
        Value::Seq(items) => {
            let mut out = Map::with_capacity(items.len());
            for item in items {
                let Some(text) = item.scalar_text() else {
                    return Err(sources.error_at(
                        item.pos,
                        format!(
                            "{}: list entries must be strings `KEY=VALUE`, found {}",
                            dotted(path),
                            item.kind()
                        ),
                    ));
                };
                let (key, value) = match text.split_once('=') {
                    Some((k, v)) => (k.to_string(), Value::Str(v.to_string())),
                    None => (text.clone(), Value::Null),
                };
                out.insert(
                    key,
                    Entry {
                        key_pos: item.pos,
                        node: Node::new(value, item.pos),
                    },
                );
            }
            Ok(Node::new(Value::Map(out), pos))
        }
        _ => Err(sources.error_at(
            pos,
            format!(
                "{}: expected a mapping or a list of `KEY=VALUE`, found {}",
                dotted(path),
                node_kind(&node.value)
            ),
        )),
    }
}

fn node_kind(value: &Value) -> &'static str {
    Node::new(value.clone(), Pos::default()).kind()
}

/// A list of names becomes a mapping; `with_defaults` gives each entry compose's
/// `depends_on` defaults.
fn list_to_map(
    node: Node,
    path: &Path,
    sources: &Sources,
    with_defaults: bool,
) -> Result<Node, SpecError> {
    let pos = node.pos;
    match node.value {
        Value::Seq(items) => {
            let mut out = Map::with_capacity(items.len());
            for item in items {
                let Some(name) = item.as_str().map(str::to_string) else {
                    return Err(sources.error_at(
                        item.pos,
                        format!(
                            "{}: expected a service or network name, found {}",
                            dotted(path),
                            item.kind()
                        ),
                    ));
                };
                if out.contains_key(&name) {
                    return Err(sources.error_at(
                        item.pos,
                        format!("{}: `{name}` is listed twice", dotted(path)),
                    ));
                }
                let value = if with_defaults {
                    let mut defaults = Map::new();
                    defaults.insert(
                        "condition".into(),
                        Entry {
                            key_pos: item.pos,
                            node: Node::new(Value::Str("service_started".into()), item.pos),
                        },
                    );
                    defaults.insert(
                        "required".into(),
                        Entry {
                            key_pos: item.pos,
                            node: Node::new(Value::Bool(true), item.pos),
                        },
                    );
                    Node::new(Value::Map(defaults), item.pos)
                } else {
                    Node::new(Value::Null, item.pos)
                };
                out.insert(
                    name,
                    Entry {
                        key_pos: item.pos,
                        node: value,
                    },
                );
            }
            Ok(Node::new(Value::Map(out), pos))
        }
        value => Ok(Node {
            value,
            pos,
            tag: node.tag,
        }),
    }
}

fn build_to_map(node: Node) -> Node {
    match node.value {
        Value::Str(context) => {
            let mut map = Map::new();
            map.insert(
                "context".into(),
                Entry {
                    key_pos: node.pos,
                    node: Node::new(Value::Str(context), node.pos),
                },
            );
            Node::new(Value::Map(map), node.pos)
        }
        value => Node {
            value,
            pos: node.pos,
            tag: node.tag,
        },
    }
}

/// `extra_hosts` in either form as a list of `host=ip` / `host:ip` strings.
fn to_sequence(node: Node) -> Vec<Node> {
    match node.value {
        Value::Seq(items) => items,
        Value::Map(map) => {
            let mut items: Vec<Node> = Vec::new();
            for (k, e) in map {
                match e.node.value {
                    Value::Seq(values) => {
                        for v in values {
                            let text = v.scalar_text().unwrap_or_default();
                            items.push(Node::new(Value::Str(format!("{k}={text}")), v.pos));
                        }
                    }
                    Value::Null => items.push(Node::new(Value::Str(k), e.key_pos)),
                    ref other => {
                        let text = Node::new(other.clone(), e.node.pos)
                            .scalar_text()
                            .unwrap_or_default();
                        items.push(Node::new(Value::Str(format!("{k}={text}")), e.node.pos));
                    }
                }
            }
            items
        }
        Value::Null => Vec::new(),
        other => vec![Node::new(other, node.pos)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::yaml::{parse_documents, Budget};
    use std::path::Path as FsPath;

    fn merged(files: &[&str]) -> Result<serde_json::Value, SpecError> {
        let mut sources = Sources::default();
        let mut result: Option<Node> = None;
        for (i, text) in files.iter().enumerate() {
            let id = sources.add(
                FsPath::new(&format!("/f{i}.yaml")),
                format!("f{i}.yaml"),
                text.to_string(),
            );
            let node = parse_documents(&sources, id, &mut Budget::default())
                .unwrap()
                .remove(0);
            result = Some(match result {
                None => normalize_file(node, &sources)?,
                Some(base) => merge_files(base, node, &sources)?,
            });
        }
        Ok(result.unwrap().to_json())
    }

    #[test]
    fn mappings_merge_and_scalars_replace() {
        let v = merged(&[
            "services:\n  web:\n    image: a\n    user: root\n",
            "services:\n  web:\n    image: b\n",
        ])
        .unwrap();
        assert_eq!(v["services"]["web"]["image"], "b");
        assert_eq!(v["services"]["web"]["user"], "root");
    }

    #[test]
    fn command_and_entrypoint_replace_ports_append() {
        let v = merged(&[
            "services:\n  web:\n    command: [a, b]\n    entrypoint: [x]\n    ports: ['80:80']\n",
            "services:\n  web:\n    command: [c]\n    ports: ['81:81']\n",
        ])
        .unwrap();
        assert_eq!(v["services"]["web"]["command"], serde_json::json!(["c"]));
        assert_eq!(v["services"]["web"]["entrypoint"], serde_json::json!(["x"]));
        assert_eq!(
            v["services"]["web"]["ports"],
            serde_json::json!(["80:80", "81:81"])
        );
    }

    #[test]
    fn environment_and_labels_merge_by_key_across_syntaxes() {
        let v = merged(&[
            "services:\n  web:\n    environment: [A=1, B=2]\n    labels: {x: '1'}\n",
            "services:\n  web:\n    environment: {B: 3, C: 4}\n    labels: [y=2]\n",
        ])
        .unwrap();
        assert_eq!(
            v["services"]["web"]["environment"],
            serde_json::json!({"A": "1", "B": 3, "C": 4})
        );
        assert_eq!(
            v["services"]["web"]["labels"],
            serde_json::json!({"x": "1", "y": "2"})
        );
    }

    #[test]
    fn depends_on_list_and_map_merge() {
        let v = merged(&[
            "services:\n  web:\n    depends_on: [db]\n",
            "services:\n  web:\n    depends_on:\n      db: {condition: service_healthy}\n      cache: {condition: service_started}\n",
        ])
        .unwrap();
        assert_eq!(
            v["services"]["web"]["depends_on"]["db"],
            serde_json::json!({"condition": "service_healthy", "required": true})
        );
        assert!(v["services"]["web"]["depends_on"]["cache"].is_object());
    }

    #[test]
    fn build_string_merges_with_mapping() {
        let v = merged(&[
            "services:\n  web:\n    build: ./app\n",
            "services:\n  web:\n    build: {target: prod}\n",
        ])
        .unwrap();
        assert_eq!(
            v["services"]["web"]["build"],
            serde_json::json!({"context": "./app", "target": "prod"})
        );
    }

    #[test]
    fn reset_and_override_tags() {
        let v = merged(&[
            "services:\n  web:\n    ports: ['80:80']\n    environment: {A: 1, B: 2}\n",
            "services:\n  web:\n    ports: !reset []\n    environment: !override {C: 3}\n",
        ])
        .unwrap();
        assert!(v["services"]["web"].get("ports").is_none());
        assert_eq!(
            v["services"]["web"]["environment"],
            serde_json::json!({"C": 3})
        );
    }

    #[test]
    fn logging_with_another_driver_replaces() {
        let v = merged(&[
            "services:\n  web:\n    logging: {driver: json-file, options: {max-size: 1m}}\n",
            "services:\n  web:\n    logging: {driver: syslog}\n",
        ])
        .unwrap();
        assert_eq!(
            v["services"]["web"]["logging"],
            serde_json::json!({"driver": "syslog"})
        );
    }

    #[test]
    fn null_overlay_keeps_base() {
        let v = merged(&["services:\n  web:\n    image: a\n", "services:\n  web:\n"]).unwrap();
        assert_eq!(v["services"]["web"]["image"], "a");
    }

    #[test]
    fn shape_conflicts_are_errors_at_the_overlay() {
        let err = merged(&[
            "services:\n  web:\n    ports: ['80:80']\n",
            "services:\n  web:\n    ports: {a: b}\n",
        ])
        .unwrap_err();
        assert_eq!(err.file.as_deref(), Some("f1.yaml"));
        assert_eq!(err.line, Some(3));
    }
}
