//! The self image: a service runs torq's own executable in an image built
//! from a Dockerfile the application hands in (`BuildOptions::
//! self_image_dockerfile`; the Torq stack's is `images/node/Dockerfile`,
//! which the CLI embeds).
//!
//! A service opts in with the extension `x-torq-self-image: true`. Its build
//! context is generated in memory — the embedded Dockerfile plus the running
//! executable (`/proc/self/exe`) copied in as `torq` — so it works with nothing
//! but the torq binary. The tag is `<repository of image:>:<first 12 hex
//! digits of the executable's SHA-256>`: a rebuilt torq gets a new image, and
//! an image whose tag exists is never rebuilt.
//!
//! Self images carry the label [`MARKER_LABEL`] (its value: the repository),
//! and after a new one is built the older unused ones are removed ([`prune`]).

pub mod prune;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::context::{Entry, PreparedContext};
use crate::compose::model::Service;

/// The service extension that selects the self image.
pub const EXTENSION: &str = "x-torq-self-image";

/// The executable's name inside the build context (the Dockerfile copies it).
const EXECUTABLE_NAME: &str = "torq";

/// Hex digits of the executable's SHA-256 in the image tag.
const TAG_DIGITS: usize = 12;

/// The label that marks a self image. Its value is the image's repository
/// (`torq/node`), so that even an untagged self image can be matched to the
/// repository whose old images are pruned.
pub const MARKER_LABEL: &str = "dev.torq.self-image";

/// Why the self image cannot be made from an executable.
#[derive(Debug, Error)]
pub enum SelfImageError {
    #[error("cannot read torq's executable {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "torq's executable {path} is not a 64-bit ELF executable, so it cannot run in the \
         FROM scratch self image"
    )]
    NotElf { path: PathBuf },

    #[error(
        "torq's executable {path} is dynamically linked (it names an ELF interpreter), so it \
         cannot run in the FROM scratch self image. Build torq statically: the repository's \
         .cargo/config.toml does (+crt-static with an explicit --target)"
    )]
    Dynamic { path: PathBuf },

    #[error(
        "service {service} asks for the self image (x-torq-self-image), but this program \
         provides no Dockerfile for it"
    )]
    NoDockerfile { service: String },
}

/// Whether `service` runs the self image (`x-torq-self-image: true`).
pub fn is_self_image(service: &Service) -> bool {
    service.extensions.get(EXTENSION) == Some(&serde_json::Value::Bool(true))
}

/// The executable that goes into the self image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executable {
    pub path: PathBuf,
    pub len: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

impl Executable {
    /// The executable of the running process.
    pub fn current() -> Result<Executable, SelfImageError> {
        Executable::at(Path::new("/proc/self/exe"))
    }

    /// Reads, checks and hashes the executable at `path` (streamed: a debug
    /// build is 100+ MB). Results are remembered per path, size and mtime, so a
    /// process hashes its executable once.
    pub fn at(path: &Path) -> Result<Executable, SelfImageError> {
        let read_err = |source| SelfImageError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        let key = (path.to_path_buf(), meta.len(), mtime_nanos(&meta));
        if let Some(hash) = hash_cache().lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(Executable {
                path: path.to_path_buf(),
                len: meta.len(),
                sha256: hash,
            });
        }
        check_static_elf(&mut file, path)?;
        let sha256 = hash_file(File::open(path).map_err(read_err)?).map_err(read_err)?;
        if let Ok(mut cache) = hash_cache().lock() {
            cache.insert(key, sha256.clone());
        }
        Ok(Executable {
            path: path.to_path_buf(),
            len: meta.len(),
            sha256,
        })
    }

    /// The image tag for `repository` (`torq/node` → `torq/node:0123456789ab`).
    pub fn tag(&self, repository: &str) -> String {
        format!("{repository}:{}", &self.sha256[..TAG_DIGITS])
    }

    /// The in-memory build context: `dockerfile` plus this executable as `torq`.
    pub fn context(&self, dockerfile: &str) -> PreparedContext {
        PreparedContext::new(
            vec![
                Entry::Data {
                    name: PathBuf::from("Dockerfile"),
                    data: dockerfile.as_bytes().to_vec(),
                    mode: 0o644,
                },
                Entry::File {
                    name: PathBuf::from(EXECUTABLE_NAME),
                    source: self.path.clone(),
                    len: self.len,
                    mode: 0o755,
                    mtime: 0,
                },
            ],
            "Dockerfile",
        )
    }
}

type HashKey = (PathBuf, u64, i128);

fn hash_cache() -> &'static Mutex<HashMap<HashKey, String>> {
    static CACHE: OnceLock<Mutex<HashMap<HashKey, String>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn mtime_nanos(meta: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

/// The repository part of an image reference: its tag and digest removed
/// (`host:5000/torq/node:1.0` → `host:5000/torq/node`).
pub fn repository_of(image: &str) -> &str {
    crate::engine::image_ref::split_reference(image).0
}

/// Hex SHA-256 of everything `reader` yields, read in 1 MiB chunks.
fn hash_file(mut reader: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Checks that the file is a 64-bit little-endian ELF without an interpreter
/// (`PT_INTERP`): a static executable that runs in an empty image.
fn check_static_elf(file: &mut File, path: &Path) -> Result<(), SelfImageError> {
    let not_elf = || SelfImageError::NotElf {
        path: path.to_path_buf(),
    };
    let mut header = [0u8; 64];
    file.read_exact(&mut header).map_err(|_| not_elf())?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err(not_elf());
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let phoff = u64::from_le_bytes(header[0x20..0x28].try_into().map_err(|_| not_elf())?);
    let phentsize = usize::from(u16_at(&header, 0x36));
    let phnum = usize::from(u16_at(&header, 0x38));
    if phentsize < 4 {
        return Err(not_elf());
    }
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(phoff)).map_err(|_| not_elf())?;
    let mut table = vec![0u8; phentsize * phnum];
    file.read_exact(&mut table).map_err(|_| not_elf())?;
    const PT_INTERP: u32 = 3;
    let has_interpreter = table
        .chunks_exact(phentsize)
        .any(|entry| u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) == PT_INTERP);
    if has_interpreter {
        return Err(SelfImageError::Dynamic {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = "FROM scratch\nCOPY torq /torq\n";

    #[test]
    fn repositories_lose_tags_and_digests_only() {
        assert_eq!(repository_of("torq/node"), "torq/node");
        assert_eq!(repository_of("torq/node:latest"), "torq/node");
        assert_eq!(repository_of("host:5000/torq/node"), "host:5000/torq/node");
        assert_eq!(
            repository_of("host:5000/torq/node:1"),
            "host:5000/torq/node"
        );
        assert_eq!(repository_of("torq/node@sha256:abc"), "torq/node");
    }

    #[test]
    fn hashing_streams_the_whole_file() {
        // 2.5 chunks, so chunk boundaries are crossed.
        let data = vec![7u8; (1 << 20) * 5 / 2];
        assert_eq!(
            hash_file(data.as_slice()).unwrap(),
            hex::encode(Sha256::digest(&data))
        );
    }

    #[test]
    fn the_test_binary_is_a_static_executable_with_a_stable_tag() {
        // Test binaries are built with the same static flags as torq.
        let exe = Executable::current().expect("static test executable");
        assert_eq!(exe.sha256.len(), 64);
        let tag = exe.tag("torq/node");
        assert_eq!(tag.len(), "torq/node:".len() + TAG_DIGITS);
        assert_eq!(Executable::current().unwrap().tag("torq/node"), tag);
        let context = exe.context(DOCKERFILE);
        assert!(context.contains("Dockerfile") && context.contains("torq"));
        assert_eq!(context.total_bytes(), DOCKERFILE.len() as u64 + exe.len);
    }

    #[test]
    fn non_executables_and_dynamic_executables_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("script");
        std::fs::write(&text, "#!/bin/sh\n").unwrap();
        assert!(matches!(
            Executable::at(&text),
            Err(SelfImageError::NotElf { .. })
        ));
        // Debian's python3 (or any system binary) is dynamically linked.
        if let Some(dynamic) = ["/usr/bin/python3", "/usr/bin/env", "/bin/ls"]
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
        {
            assert!(matches!(
                Executable::at(dynamic),
                Err(SelfImageError::Dynamic { .. })
            ));
        }
    }
}
