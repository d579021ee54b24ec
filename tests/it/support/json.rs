//! Field-by-field differences between two JSON documents, for the tests
//! that compare what torq makes with what a reference tool makes (docker
//! compose's config and containers, `docker stack deploy`'s services).

use serde_json::Value;

/// Every difference between `compose`'s and `torq`'s values, one line each.
pub fn json_differences(compose: &Value, torq: &Value) -> Vec<String> {
    differences_between(("compose", compose), ("torq", torq))
}

/// Every difference between two named values, one line each: `.path.to[2]:
/// LEFT X ≠ RIGHT Y`. A key one side lacks counts as `null` there; arrays
/// of one length are compared item by item.
pub fn differences_between(left: (&str, &Value), right: (&str, &Value)) -> Vec<String> {
    let mut out = Vec::new();
    collect(left, right, "", &mut out);
    out
}

fn collect(left: (&str, &Value), right: (&str, &Value), path: &str, out: &mut Vec<String>) {
    let ((left_name, l), (right_name, r)) = (left, right);
    match (l, r) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let x = a.get(key).unwrap_or(&Value::Null);
                let y = b.get(key).unwrap_or(&Value::Null);
                collect(
                    (left_name, x),
                    (right_name, y),
                    &format!("{path}.{key}"),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                collect(
                    (left_name, x),
                    (right_name, y),
                    &format!("{path}[{i}]"),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {left_name} {a} ≠ {right_name} {b}")),
        _ => {}
    }
}
