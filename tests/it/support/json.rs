//! Field-by-field differences between two JSON documents, for the tests
//! that compare torq's output with docker compose's.

use serde_json::Value;

/// Every difference between `compose`'s and `torq`'s values, one line each
/// (`.path.to.field: compose X ≠ torq Y`, or the side that alone has it).
pub fn json_differences(compose: &Value, torq: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect(compose, torq, "", &mut out);
    out
}

fn collect(compose: &Value, torq: &Value, path: &str, out: &mut Vec<String>) {
    match (compose, torq) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let p = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => collect(x, y, &p, out),
                    (Some(x), None) => out.push(format!("{p}: only compose has {x}")),
                    (None, Some(y)) => out.push(format!("{p}: only torq has {y}")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(format!("{path}: compose {a} ≠ torq {b}")),
        _ => {}
    }
}
