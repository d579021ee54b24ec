//! The table of allowed keys of a compose object, and the decoding it
//! drives.
//!
//! [`compose_object!`] declares a model type once: each compose key is a
//! field, named as the key, with the decoder that types its value (by
//! default the field type's [`Decode`]; `field as "key"` names a key that
//! is not the field's name). From that one declaration come the
//! struct, its [`Object::KEYS`] (the allowed keys, which the unknown-key
//! error and its "did you mean" hint read) and the dispatch from a key to
//! its decoder. Fields in the `state` block are not compose keys (the
//! service's name, what the spec's form was).

use std::time::Duration;

use indexmap::IndexMap;

use super::Decoder;
use crate::compose::error::SpecError;
use crate::compose::yaml::{Map, Node};

/// `x-*` keys of an object, as JSON.
pub(crate) type Extensions = IndexMap<String, serde_json::Value>;

/// A compose object: a mapping with a fixed set of keys.
pub(crate) trait Object: Default {
    /// The compose keys of this object.
    const KEYS: &'static [&'static str];

    /// Types `node`, the value of `key`, into its field; `None` when the
    /// object has no key `key`.
    fn decode_key(
        &mut self,
        d: &mut Decoder<'_>,
        key: &str,
        node: &Node,
        path: &str,
    ) -> Option<Result<(), SpecError>>;
}

/// A value that can be typed from the YAML tree.
pub(crate) trait Decode: Sized {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError>;
}

/// Types every key of `map` into `target` (through its table), collects the
/// `x-*` keys, and refuses any other key.
pub(crate) fn decode_map<T: Object>(
    d: &mut Decoder<'_>,
    map: &Map,
    path: &str,
    target: &mut T,
) -> Result<Extensions, SpecError> {
    let mut extensions = Extensions::new();
    for (key, entry) in map {
        let at = format!("{path}.{key}");
        if let Some(result) = target.decode_key(d, key, &entry.node, &at) {
            result?;
        } else if key.starts_with("x-") {
            extensions.insert(key.clone(), entry.node.to_json());
        } else {
            return Err(d.unknown_key(key, entry, path, T::KEYS));
        }
    }
    Ok(extensions)
}

/// An object written as a mapping (`null` reads as an empty one).
pub(crate) fn decode_object<T: Object>(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
) -> Result<T, SpecError> {
    let mut object = T::default();
    if let Some(map) = d.map(node, path)? {
        decode_map(d, map, path, &mut object)?;
    }
    Ok(object)
}

/// Stores what `decode` makes of `node` in `slot`.
pub(crate) fn set<T>(
    slot: &mut T,
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    decode: impl FnOnce(&mut Decoder<'_>, &Node, &str) -> Result<T, SpecError>,
) -> Result<(), SpecError> {
    *slot = decode(d, node, path)?;
    Ok(())
}

/// Declares a compose object (see the module doc):
///
/// ```ignore
/// compose_object! {
///     #[derive(Debug, Clone, Default)]
///     pub struct Logging {
///         driver: Option<String>,
///         options: IndexMap<String, String> => Decoder::string_map_of,
///     }
///     state {}
/// }
/// ```
macro_rules! compose_object {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident $(as $key:literal)? : $ty:ty $(=> $decode:path)?
            ),* $(,)?
        }
        state {
            $(
                $(#[$smeta:meta])*
                $sfield:ident : $sty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            $( $(#[$smeta])* pub $sfield: $sty, )*
        }

        impl $crate::compose::decode::object::Object for $name {
            const KEYS: &'static [&'static str] =
                &[$($crate::compose::decode::object::compose_object!(@key $field $(, $key)?)),*];

            fn decode_key(
                &mut self,
                d: &mut $crate::compose::decode::Decoder<'_>,
                key: &str,
                node: &$crate::compose::yaml::Node,
                path: &str,
            ) -> Option<Result<(), $crate::compose::error::SpecError>> {
                match key {
                    $(
                        k if k == $crate::compose::decode::object::compose_object!(@key $field $(, $key)?) => Some($crate::compose::decode::object::set(
                            &mut self.$field,
                            d,
                            node,
                            path,
                            |d, n, p| ($crate::compose::decode::object::compose_object!(@decoder $ty $(, $decode)?))(d, n, p),
                        )),
                    )*
                    _ => None,
                }
            }
        }
    };
    (@key $field:ident) => { $crate::compose::decode::object::key_name(stringify!($field)) };
    (@key $field:ident, $key:literal) => { $key };
    (@decoder $ty:ty) => { <$ty as $crate::compose::decode::object::Decode>::decode };
    (@decoder $ty:ty, $decode:path) => { $decode };
}

pub(crate) use compose_object;

/// The compose key of a field: its name without a raw-identifier `r#`.
pub(crate) const fn key_name(ident: &'static str) -> &'static str {
    match ident.as_bytes() {
        [b'r', b'#', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(name) => name,
            Err(_) => ident,
        },
        _ => ident,
    }
}

impl<T: Object> Decode for T {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        decode_object(d, node, path)
    }
}

impl<T: Object> Decode for Option<T> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        decode_object(d, node, path).map(Some)
    }
}

impl Decode for String {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.string(node, path)
    }
}

/// Empty means unset (compose leaves empty strings out).
impl Decode for Option<String> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.opt_string(node, path)
    }
}

impl Decode for bool {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.boolean(node, path)
    }
}

impl Decode for Option<bool> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.boolean(node, path).map(Some)
    }
}

impl Decode for Option<i64> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.integer(node, path).map(Some)
    }
}

impl Decode for Option<u64> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.int_in(node, path).map(Some)
    }
}

impl Decode for Option<u32> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.int_in(node, path).map(Some)
    }
}

impl Decode for Option<f64> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.float(node, path).map(Some)
    }
}

impl Decode for Option<Duration> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.duration(node, path).map(Some)
    }
}

impl Decode for Vec<String> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.string_list(node, path)
    }
}

/// Labels and the like: `null` values read as "".
impl Decode for IndexMap<String, String> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.labels(node, path)
    }
}

impl Decode for IndexMap<String, Option<String>> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.key_values(node, path)
    }
}

/// A list of objects.
impl<T: Object> Decode for Vec<T> {
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Result<Self, SpecError> {
        d.list(node, path, |d, item, at| decode_object(d, item, at))
    }
}
