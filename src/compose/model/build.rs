//! `build:` of a service: every compose build key, typed, with its decoder
//! and its canonical printing.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

use super::{FileMount, Ulimit};
use crate::compose::canonical as print;
use crate::compose::decode::object::compose_object;
use crate::compose::decode::Decoder;

compose_object! {
    /// `build:` of a service.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct Build {
        /// Named contexts: absolute paths, or URLs, images
        /// (`docker-image://…`) and `service:NAME` kept as written.
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        additional_contexts: IndexMap<String, String> => Decoder::additional_contexts,
        /// Build arguments; a bare `KEY` takes the interpolation
        /// environment's value, and is dropped when that has none.
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        args: IndexMap<String, Option<String>> => Decoder::build_args,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        cache_from: Vec<String> => Decoder::distinct_string_or_list,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        cache_to: Vec<String> => Decoder::string_or_list,
        /// Absolute path of the build context (or a URL, kept as is).
        context: PathBuf => Decoder::build_context,
        /// The Dockerfile, relative to the context (default `Dockerfile`
        /// unless `dockerfile_inline` is set).
        #[serde(skip_serializing_if = "Option::is_none")]
        dockerfile: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        dockerfile_inline: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        entitlements: Vec<String> => Decoder::string_or_list,
        /// `host:ip` entries (printed as compose's `host=ip`).
        #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "print::hosts")]
        extra_hosts: Vec<String> => Decoder::extra_hosts,
        #[serde(skip_serializing_if = "Option::is_none")]
        isolation: Option<String>,
        #[serde(skip_serializing_if = "IndexMap::is_empty")]
        labels: IndexMap<String, String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        network: Option<String>,
        #[serde(skip_serializing_if = "print::is_false")]
        no_cache: bool,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        platforms: Vec<String> => Decoder::distinct_string_or_list,
        #[serde(skip_serializing_if = "print::is_false")]
        privileged: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        provenance: Option<String> => Decoder::scalar_string,
        #[serde(skip_serializing_if = "print::is_false")]
        pull: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        sbom: Option<String> => Decoder::scalar_string,
        /// Build secrets (`target` as written; BuildKit's default is the source).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        secrets: Vec<FileMount> => Decoder::build_secret_mounts,
        /// Bytes.
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "print::bytes")]
        shm_size: Option<i64> => Decoder::non_zero_bytes,
        /// `ID` or `ID=PATH` entries, paths absolute.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        ssh: Vec<String> => Decoder::ssh,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String> => Decoder::string_or_list,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(skip_serializing_if = "IndexMap::is_empty", serialize_with = "print::ulimits")]
        ulimits: IndexMap<String, Ulimit> => Decoder::ulimits,
    }
    state {
        /// `x-*` extensions of the build section.
        #[serde(flatten)]
        extensions: IndexMap<String, serde_json::Value>,
    }
}
