//! Relative host paths in a spec tree made absolute against a base
//! directory, as compose does for a file that lives elsewhere than the
//! project: a file named by `extends: {file: …}` (paths resolve against that
//! file's directory) and an `include`d project (against its own project
//! directory). The main files' paths are resolved later, while typing,
//! against the project directory.
//!
//! The fields are compose's: `build` (context, `additional_contexts`, `ssh`),
//! `env_file`, `label_file`, `extends.file`, `develop.watch[].path`, bind
//! mounts in `volumes` (short and long syntax), the `file` of top-level
//! `secrets`/`configs`, and the `device` of a local bind-type top-level
//! volume. Remote build contexts (URLs, git) and `service:` contexts stay.

use std::path::Path;

use super::syntax;
use super::yaml::{Entry, Node, Value};

/// Makes the relative paths of `root` (a whole compose file or project)
/// absolute against `base`; `~` expands to `home`.
pub(crate) fn resolve_relative_paths(root: &mut Node, base: &Path, home: Option<&str>) {
    let resolver = Resolver { base, home };
    let Value::Map(map) = &mut root.value else {
        return;
    };
    if let Some(entry) = map.get_mut("services") {
        if let Value::Map(services) = &mut entry.node.value {
            for service in services.values_mut() {
                resolver.service(&mut service.node);
            }
        }
    }
    for key in ["secrets", "configs"] {
        for_each_object(map.get_mut(key).map(|e| &mut e.node), |object| {
            if let Some(file) = map_value(object, "file") {
                resolver.path_in_place(file);
            }
        });
    }
    for_each_object(map.get_mut("volumes").map(|e| &mut e.node), |volume| {
        resolver.volume_device(volume)
    });
}

/// Gives every service's `build:` map without a `context` the context `.`,
/// as compose does when it loads an included project on its own: the
/// default then names the included project's directory, not the including
/// one's.
pub(crate) fn default_build_contexts(root: &mut Node) {
    let Value::Map(map) = &mut root.value else {
        return;
    };
    let Some(Value::Map(services)) = map.get_mut("services").map(|e| &mut e.node.value) else {
        return;
    };
    for service in services.values_mut() {
        let Value::Map(service) = &mut service.node.value else {
            continue;
        };
        let Some(build) = service.get_mut("build") else {
            continue;
        };
        let pos = build.node.pos;
        if let Value::Map(keys) = &mut build.node.value {
            keys.entry("context".into()).or_insert_with(|| Entry {
                key_pos: pos,
                node: Node::new(Value::Str(".".into()), pos),
            });
        }
    }
}

/// Whether a build context is remote (a URL, a git reference) or another
/// service's image (`service:x`) rather than a local directory.
pub(crate) fn is_remote_context(context: &str) -> bool {
    context.contains("://")
        || context.starts_with("service:")
        || ["github.com/", "git@"]
            .iter()
            .any(|prefix| context.starts_with(prefix))
}

/// Whether `path` is absolute for Unix or for Windows (`C:\…`, `C:/…`, `\\host\…`).
pub(crate) fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || path.starts_with("\\\\")
        || (bytes.len() >= 3
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && matches!(bytes[2], b'\\' | b'/'))
}

/// `path` with a leading `~` replaced by `home`, made absolute against
/// `base` (and cleaned) unless it already is absolute.
pub(crate) fn absolute(path: &str, base: &Path, home: Option<&str>) -> String {
    let expanded = match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    };
    if is_absolute(&expanded) {
        return expanded;
    }
    syntax::clean_path(&base.join(&expanded).to_string_lossy())
}

struct Resolver<'a> {
    base: &'a Path,
    home: Option<&'a str>,
}

impl Resolver<'_> {
    fn absolute(&self, path: &str) -> String {
        absolute(path, self.base, self.home)
    }

    fn path_in_place(&self, node: &mut Node) {
        if let Value::Str(s) = &mut node.value {
            if !s.is_empty() {
                *s = self.absolute(s);
            }
        }
    }

    fn paths_in_place(&self, node: &mut Node) {
        match &mut node.value {
            Value::Str(_) => self.path_in_place(node),
            Value::Seq(items) => items.iter_mut().for_each(|i| self.path_in_place(i)),
            _ => {}
        }
    }

    fn context_in_place(&self, node: &mut Node) {
        if let Value::Str(s) = &node.value {
            if is_remote_context(s) {
                return;
            }
        }
        self.path_in_place(node);
    }

    fn service(&self, service: &mut Node) {
        let Value::Map(map) = &mut service.value else {
            return;
        };
        if let Some(entry) = map.get_mut("build") {
            self.build(&mut entry.node);
        }
        if let Some(entry) = map.get_mut("env_file") {
            match &mut entry.node.value {
                Value::Str(_) => self.path_in_place(&mut entry.node),
                Value::Seq(items) => {
                    for item in items {
                        match &mut item.value {
                            Value::Str(_) => self.path_in_place(item),
                            Value::Map(_) => {
                                if let Some(path) = map_value(item, "path") {
                                    self.path_in_place(path);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(entry) = map.get_mut("label_file") {
            self.paths_in_place(&mut entry.node);
        }
        if let Some(entry) = map.get_mut("extends") {
            if let Some(file) = map_value(&mut entry.node, "file") {
                if !file.as_str().is_some_and(is_remote_context) {
                    self.path_in_place(file);
                }
            }
        }
        if let Some(watch) = map
            .get_mut("develop")
            .and_then(|e| map_value(&mut e.node, "watch"))
        {
            if let Value::Seq(items) = &mut watch.value {
                for item in items {
                    if let Some(path) = map_value(item, "path") {
                        self.path_in_place(path);
                    }
                }
            }
        }
        if let Some(entry) = map.get_mut("volumes") {
            if let Value::Seq(items) = &mut entry.node.value {
                for item in items {
                    self.mount(item);
                }
            }
        }
    }

    fn build(&self, build: &mut Node) {
        match &mut build.value {
            Value::Str(_) => self.context_in_place(build),
            Value::Map(map) => {
                if let Some(entry) = map.get_mut("context") {
                    self.context_in_place(&mut entry.node);
                }
                if let Some(entry) = map.get_mut("additional_contexts") {
                    match &mut entry.node.value {
                        Value::Map(contexts) => {
                            for e in contexts.values_mut() {
                                self.context_in_place(&mut e.node);
                            }
                        }
                        Value::Seq(items) => {
                            for item in items {
                                self.key_value_in_place(item, true);
                            }
                        }
                        _ => {}
                    }
                }
                if let Some(entry) = map.get_mut("ssh") {
                    match &mut entry.node.value {
                        Value::Map(keys) => {
                            for e in keys.values_mut() {
                                self.path_in_place(&mut e.node);
                            }
                        }
                        Value::Seq(items) => {
                            for item in items {
                                self.key_value_in_place(item, false);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// `KEY=PATH` with the path made absolute.
    fn key_value_in_place(&self, node: &mut Node, context: bool) {
        let Value::Str(s) = &node.value else {
            return;
        };
        let Some((key, value)) = s.split_once('=') else {
            return;
        };
        if value.is_empty() || (context && is_remote_context(value)) {
            return;
        }
        node.value = Value::Str(format!("{key}={}", self.absolute(value)));
    }

    fn mount(&self, item: &mut Node) {
        match &mut item.value {
            Value::Str(spec) => {
                let Ok(short) = syntax::parse_volume(spec) else {
                    return;
                };
                let Some(source) = short.mount.source.filter(|_| short.is_bind) else {
                    return;
                };
                if is_absolute(&source) || !spec.starts_with(source.as_str()) {
                    return;
                }
                let resolved = self.absolute(&source);
                *spec = format!("{resolved}{}", &spec[source.len()..]);
            }
            Value::Map(map) => {
                let is_bind = map
                    .get("type")
                    .and_then(|e| e.node.as_str())
                    .is_some_and(|t| t == "bind");
                if is_bind {
                    if let Some(entry) = map.get_mut("source") {
                        self.path_in_place(&mut entry.node);
                    }
                }
            }
            _ => {}
        }
    }

    /// A `local` volume with `o: bind` is a bind mount of `device`.
    fn volume_device(&self, volume: &mut Node) {
        let Value::Map(map) = &mut volume.value else {
            return;
        };
        if map.get("driver").and_then(|e| e.node.as_str()) != Some("local") {
            return;
        }
        let Some(options) = map.get_mut("driver_opts") else {
            return;
        };
        let Value::Map(options) = &mut options.node.value else {
            return;
        };
        if options.get("o").and_then(|e| e.node.as_str()) != Some("bind") {
            return;
        }
        if let Some(device) = options.get_mut("device") {
            if let Value::Str(s) = &mut device.node.value {
                *s = self.absolute(s);
            }
        }
    }
}

/// Runs `f` on every mapping value of the mapping `node` (if it is one).
fn for_each_object(node: Option<&mut Node>, mut f: impl FnMut(&mut Node)) {
    if let Some(Node {
        value: Value::Map(map),
        ..
    }) = node
    {
        for entry in map.values_mut() {
            f(&mut entry.node);
        }
    }
}

/// The value of `key` when `node` is a mapping that has it.
fn map_value<'n>(node: &'n mut Node, key: &str) -> Option<&'n mut Node> {
    match &mut node.value {
        Value::Map(map) => map.get_mut(key).map(|e| &mut e.node),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::error::Sources;
    use crate::compose::yaml::{parse_documents, Budget};

    fn resolved(text: &str) -> serde_json::Value {
        let mut sources = Sources::default();
        let id = sources.add(Path::new("/x.yaml"), "x.yaml".into(), text.into());
        let mut node = parse_documents(&sources, id, &mut Budget::default())
            .unwrap()
            .remove(0);
        resolve_relative_paths(&mut node, Path::new("/base/dir"), Some("/home/u"));
        node.to_json()
    }

    #[test]
    fn service_paths_become_absolute() {
        let v = resolved(
            "services:\n  a:\n    build: ./ctx\n    env_file: [a.env, {path: ../b.env}]\n    label_file: l.txt\n    volumes: ['./data:/data:ro', 'named:/n', '~/h:/h', {type: bind, source: src, target: /s}]\n    extends: {file: base.yaml, service: x}\n    develop: {watch: [{path: src, action: sync}]}\n",
        );
        let a = &v["services"]["a"];
        assert_eq!(a["build"], "/base/dir/ctx");
        assert_eq!(a["env_file"][0], "/base/dir/a.env");
        assert_eq!(a["env_file"][1]["path"], "/base/b.env");
        assert_eq!(a["label_file"], "/base/dir/l.txt");
        assert_eq!(a["volumes"][0], "/base/dir/data:/data:ro");
        assert_eq!(a["volumes"][1], "named:/n");
        assert_eq!(a["volumes"][2], "/home/u/h:/h");
        assert_eq!(a["volumes"][3]["source"], "/base/dir/src");
        assert_eq!(a["extends"]["file"], "/base/dir/base.yaml");
        assert_eq!(a["develop"]["watch"][0]["path"], "/base/dir/src");
    }

    #[test]
    fn remote_contexts_and_absolute_paths_stay() {
        let v = resolved(
            "services:\n  a:\n    build:\n      context: https://github.com/x/y.git\n      additional_contexts: [lib=../lib, img=docker-image://alpine]\n      ssh: [default, key=id_rsa]\n  b:\n    build: {context: /abs}\nsecrets:\n  s: {file: s.txt}\nvolumes:\n  v: {driver: local, driver_opts: {o: bind, type: none, device: data}}\n",
        );
        let build = &v["services"]["a"]["build"];
        assert_eq!(build["context"], "https://github.com/x/y.git");
        assert_eq!(build["additional_contexts"][0], "lib=/base/lib");
        assert_eq!(build["additional_contexts"][1], "img=docker-image://alpine");
        assert_eq!(build["ssh"][0], "default");
        assert_eq!(build["ssh"][1], "key=/base/dir/id_rsa");
        assert_eq!(v["services"]["b"]["build"]["context"], "/abs");
        assert_eq!(v["secrets"]["s"]["file"], "/base/dir/s.txt");
        assert_eq!(v["volumes"]["v"]["driver_opts"]["device"], "/base/dir/data");
    }

    #[test]
    fn windows_paths_are_absolute() {
        assert!(is_absolute("C:\\docker\\project"));
        assert!(is_absolute("c:/x"));
        assert!(is_absolute("\\\\host\\share"));
        assert!(!is_absolute("C:"));
        assert!(!is_absolute("./x"));
    }
}
