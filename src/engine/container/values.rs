//! Reading the compose keys a service carries in `Service::other` (compose's
//! canonical JSON: byte sizes as decimal strings, counts as numbers, lists
//! of strings, string maps), tolerant of the shapes the spec layer prints.

use std::collections::HashMap;

use serde_json::Value;

use crate::compose::model::Service;

/// A string value (`pid: host`), `None` when absent or empty.
pub fn text<'a>(service: &'a Service, key: &str) -> Option<&'a str> {
    service
        .other
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An integer, written as a number or a decimal string (`"1073741824"`);
/// `None` when absent or zero (compose leaves zero values out).
pub fn integer(service: &Service, key: &str) -> Option<i64> {
    service
        .other
        .get(key)
        .and_then(as_integer)
        .filter(|v| *v != 0)
}

/// A number that may be fractional (`cpus: 1.5`); `None` when absent or zero.
pub fn float(service: &Service, key: &str) -> Option<f64> {
    let value = service.other.get(key)?;
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (number != 0.0).then_some(number)
}

/// `true` only when the key is the boolean `true`.
pub fn flag(service: &Service, key: &str) -> bool {
    service.other.get(key).and_then(Value::as_bool) == Some(true)
}

/// A list of strings (a single string counts as a one-element list).
pub fn strings(service: &Service, key: &str) -> Vec<String> {
    match service.other.get(key) {
        Some(Value::Array(items)) => items.iter().filter_map(scalar_text).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// A mapping of strings (numbers and booleans as their text).
pub fn string_map(service: &Service, key: &str) -> HashMap<String, String> {
    match service.other.get(key) {
        Some(value) => object_strings(value),
        None => HashMap::new(),
    }
}

/// The entries of a JSON list (e.g. `devices`, `gpus`).
pub fn objects<'a>(service: &'a Service, key: &str) -> &'a [Value] {
    match service.other.get(key) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// An integer written as a number or a decimal string.
pub fn as_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The text of a string, number or boolean.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON object's values as strings (non-scalars left out).
pub fn object_strings(value: &Value) -> HashMap<String, String> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| scalar_text(v).map(|v| (k.clone(), v)))
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON list of strings.
pub fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(scalar_text).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(key: &str, value: Value) -> Service {
        let mut s = Service::default();
        s.other.insert(key.into(), value);
        s
    }

    #[test]
    fn shapes_are_read_leniently() {
        assert_eq!(integer(&with("m", json!("1024")), "m"), Some(1024));
        assert_eq!(integer(&with("m", json!(-1)), "m"), Some(-1));
        assert_eq!(integer(&with("m", json!(0)), "m"), None);
        assert_eq!(float(&with("c", json!(1.5)), "c"), Some(1.5));
        assert_eq!(text(&with("p", json!("")), "p"), None);
        assert_eq!(strings(&with("t", json!("/run")), "t"), vec!["/run"]);
        assert_eq!(
            string_map(&with("s", json!({"a": 1, "b": "x"})), "s")["a"],
            "1"
        );
    }
}
