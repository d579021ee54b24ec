//! Build contexts: which files go to the engine, and the tar stream that
//! carries them.
//!
//! [`prepare_directory`] walks a context directory the way the Docker CLI does
//! (lexical order, symlinks kept as symlinks, `.dockerignore` applied with
//! [`super::dockerignore`], the Dockerfile and `.dockerignore` always sent, a
//! Dockerfile outside the context added under a generated name). It only
//! lists entries; [`into_body`] then streams them as a tar archive from a
//! blocking thread, so a large context never sits in memory. Files are owned
//! by root (uid/gid 0) in the archive, as with `docker build`.

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::mpsc;

use super::dockerignore::{IgnoreMatcher, ParentMatches, PatternError};

/// Why a build context could not be assembled.
#[derive(Debug, Error)]
pub enum ContextError {
    #[error("the build context {0} does not exist or is not a directory")]
    MissingContext(PathBuf),

    #[error("the Dockerfile {0} does not exist")]
    MissingDockerfile(PathBuf),

    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{file}: {source}")]
    Ignore {
        file: PathBuf,
        #[source]
        source: PatternError,
    },
}

fn read_error(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// One entry of a build context archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir {
        name: PathBuf,
        mode: u32,
        mtime: u64,
    },
    /// A file copied from disk when the archive is written.
    File {
        name: PathBuf,
        source: PathBuf,
        len: u64,
        mode: u32,
        mtime: u64,
    },
    Symlink {
        name: PathBuf,
        target: PathBuf,
        mtime: u64,
    },
    /// A file generated in memory.
    Data {
        name: PathBuf,
        data: Vec<u8>,
        mode: u32,
    },
}

impl Entry {
    /// The entry's path inside the archive.
    pub fn name(&self) -> &Path {
        match self {
            Entry::Dir { name, .. }
            | Entry::File { name, .. }
            | Entry::Symlink { name, .. }
            | Entry::Data { name, .. } => name,
        }
    }

    fn size(&self) -> u64 {
        match self {
            Entry::File { len, .. } => *len,
            Entry::Data { data, .. } => data.len() as u64,
            _ => 0,
        }
    }
}

/// A build context ready to be streamed: its entries and the name under which
/// the engine finds the Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct PreparedContext {
    pub entries: Vec<Entry>,
    /// The `dockerfile` parameter of the build request (a path inside the archive).
    pub dockerfile: String,
}

impl PreparedContext {
    /// A context made of in-memory files and files copied from disk.
    pub fn new(entries: Vec<Entry>, dockerfile: &str) -> Self {
        PreparedContext {
            entries,
            dockerfile: dockerfile.to_string(),
        }
    }

    /// Number of files (regular files and symlinks) in the context.
    pub fn file_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| !matches!(e, Entry::Dir { .. }))
            .count()
    }

    /// Total bytes of file content.
    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(Entry::size).sum()
    }

    /// Whether the archive holds `name` (a slash-separated path).
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.name() == Path::new(name))
    }

    /// "12 files, 3.4 MB": for progress lines.
    pub fn summary(&self) -> String {
        let count = self.file_count();
        format!(
            "{count} file{}, {}",
            if count == 1 { "" } else { "s" },
            human_bytes(self.total_bytes())
        )
    }
}

/// `1.5 MB`-style sizes (decimal units, as docker prints them).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Lists the files of the context directory `dir` that `docker build` would
/// send for `dockerfile` (relative to `dir`, or absolute; default
/// `Dockerfile`). The ignore file is `<Dockerfile>.dockerignore` when it
/// exists (as BuildKit does), else `.dockerignore` at the context root.
pub fn prepare_directory(
    dir: &Path,
    dockerfile: Option<&str>,
) -> Result<PreparedContext, ContextError> {
    if !dir.is_dir() {
        return Err(ContextError::MissingContext(dir.to_path_buf()));
    }
    let dockerfile_path = normalize(&dir.join(dockerfile.unwrap_or("Dockerfile")));
    if !dockerfile_path.is_file() {
        return Err(ContextError::MissingDockerfile(dockerfile_path));
    }
    let inside = dockerfile_path
        .strip_prefix(normalize(dir))
        .ok()
        .map(slash_path);

    let mut matcher = read_ignore_file(dir, Some(&dockerfile_path))?;
    matcher.keep_always(".dockerignore");
    if let Some(rel) = &inside {
        matcher.keep_always(rel);
    }

    let mut entries = Vec::new();
    walk(dir, "", &ParentMatches::default(), &matcher, &mut entries)?;

    match inside {
        Some(rel) => Ok(PreparedContext::new(entries, &rel)),
        None => add_outside_dockerfile(entries, &dockerfile_path),
    }
}

/// Lists the files of `dir` for a build whose Dockerfile is `text`
/// (`build.dockerfile_inline`): the Dockerfile travels in the archive under
/// a generated name, and `.dockerignore` at the context root applies.
pub fn prepare_inline(dir: &Path, text: &str) -> Result<PreparedContext, ContextError> {
    if !dir.is_dir() {
        return Err(ContextError::MissingContext(dir.to_path_buf()));
    }
    let mut matcher = read_ignore_file(dir, None)?;
    matcher.keep_always(".dockerignore");
    let mut entries = Vec::new();
    walk(dir, "", &ParentMatches::default(), &matcher, &mut entries)?;
    add_generated_dockerfile(entries, text.as_bytes().to_vec())
}

/// The Dockerfile's name in the directory a BuildKit session serves it in.
pub const SESSION_DOCKERFILE: &str = "Dockerfile";

/// A context for a BuildKit session: the context's entries and the
/// Dockerfile's bytes, served as two directories (so the Dockerfile is never
/// a generated file of the context, wherever it lives).
#[derive(Debug, Clone, Default)]
pub struct SessionContext {
    pub context: PreparedContext,
    pub dockerfile: Vec<u8>,
}

impl SessionContext {
    /// "12 files, 3.4 MB" for the context.
    pub fn summary(&self) -> String {
        self.context.summary()
    }
}

/// Lists the files of `dir` for a BuildKit session build, and reads the
/// Dockerfile (`dockerfile` relative to `dir`, or absolute; or the inline
/// text). The ignore rules are those of [`prepare_directory`]; the
/// Dockerfile stays in the context only when the rules keep it, as with the
/// docker CLI.
pub fn prepare_session(
    dir: &Path,
    dockerfile: Option<&str>,
    inline: Option<&str>,
) -> Result<SessionContext, ContextError> {
    if !dir.is_dir() {
        return Err(ContextError::MissingContext(dir.to_path_buf()));
    }
    let (text, path) = match inline {
        Some(text) => (text.as_bytes().to_vec(), None),
        None => {
            let path = normalize(&dir.join(dockerfile.unwrap_or("Dockerfile")));
            if !path.is_file() {
                return Err(ContextError::MissingDockerfile(path));
            }
            (fs::read(&path).map_err(read_error(&path))?, Some(path))
        }
    };
    let matcher = read_ignore_file(dir, path.as_deref())?;
    let mut entries = Vec::new();
    walk(dir, "", &ParentMatches::default(), &matcher, &mut entries)?;
    Ok(SessionContext {
        context: PreparedContext::new(entries, SESSION_DOCKERFILE),
        dockerfile: text,
    })
}

/// The ignore file: `<Dockerfile>.dockerignore` when it exists (as BuildKit
/// does), else `.dockerignore` at the context root.
fn read_ignore_file(dir: &Path, dockerfile: Option<&Path>) -> Result<IgnoreMatcher, ContextError> {
    let specific = dockerfile.map(|d| {
        let mut specific = d.as_os_str().to_os_string();
        specific.push(".dockerignore");
        PathBuf::from(specific)
    });
    let candidates = specific.into_iter().chain([dir.join(".dockerignore")]);
    let Some(file) = candidates.into_iter().find(|p| p.is_file()) else {
        return Ok(IgnoreMatcher::default());
    };
    let text = fs::read_to_string(&file).map_err(read_error(&file))?;
    IgnoreMatcher::parse(&text).map_err(|source| ContextError::Ignore { file, source })
}

/// Adds the entries below `dir` (whose path in the archive is `prefix`).
fn walk(
    dir: &Path,
    prefix: &str,
    parent: &ParentMatches,
    matcher: &IgnoreMatcher,
    entries: &mut Vec<Entry>,
) -> Result<(), ContextError> {
    let mut children: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(read_error(dir))?
        .collect::<Result<_, _>>()
        .map_err(read_error(dir))?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let path = child.path();
        let file_name = child.file_name();
        let rel = if prefix.is_empty() {
            file_name.to_string_lossy().into_owned()
        } else {
            format!("{prefix}/{}", file_name.to_string_lossy())
        };
        let meta = fs::symlink_metadata(&path).map_err(read_error(&path))?;
        let (excluded, results) = matcher.matches(&rel, parent);
        if excluded {
            // An excluded directory is still walked when an exception may
            // keep something below it; the directory entry itself is left out.
            if meta.is_dir() && matcher.has_exceptions() && matcher.may_keep_below(&rel) {
                walk(&path, &rel, &results, matcher, entries)?;
            }
            continue;
        }
        let name = PathBuf::from(&rel);
        let mode = meta.permissions().mode() & 0o7777;
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        let file_type = meta.file_type();
        if file_type.is_dir() {
            entries.push(Entry::Dir { name, mode, mtime });
            walk(&path, &rel, &results, matcher, entries)?;
        } else if file_type.is_file() {
            entries.push(Entry::File {
                name,
                source: path,
                len: meta.len(),
                mode,
                mtime,
            });
        } else if file_type.is_symlink() {
            let target = fs::read_link(&path).map_err(read_error(&path))?;
            entries.push(Entry::Symlink {
                name,
                target,
                mtime,
            });
        } else {
            // Sockets, FIFOs and devices have no place in an image build.
            tracing::debug!(path = %path.display(), "skipping a special file in the build context");
        }
    }
    Ok(())
}

/// A Dockerfile outside the context travels inside the archive under a
/// generated name, listed in `.dockerignore` so the engine drops it (and the
/// ignore file) from the files a `COPY .` sees — what the Docker CLI does.
fn add_outside_dockerfile(
    entries: Vec<Entry>,
    dockerfile: &Path,
) -> Result<PreparedContext, ContextError> {
    let data = fs::read(dockerfile).map_err(read_error(dockerfile))?;
    add_generated_dockerfile(entries, data)
}

/// Adds a Dockerfile that is not a file of the context (one outside it, or
/// an inline one) under a generated name, and lists that name in the
/// archive's `.dockerignore` so `COPY .` does not copy it.
fn add_generated_dockerfile(
    mut entries: Vec<Entry>,
    data: Vec<u8>,
) -> Result<PreparedContext, ContextError> {
    let digest = hex::encode(Sha256::digest(&data));
    let name = format!(".dockerfile.{}", &digest[..20]);

    let ignore = Path::new(".dockerignore");
    let mut ignore_text = match entries.iter().position(|e| e.name() == ignore) {
        Some(index) => match entries.remove(index) {
            Entry::File { source, .. } => fs::read(&source).map_err(read_error(&source))?,
            Entry::Data { data, .. } => data,
            _ => Vec::new(),
        },
        None => b".dockerignore".to_vec(),
    };
    ignore_text.extend_from_slice(format!("\n{name}\n").as_bytes());

    entries.insert(
        0,
        Entry::Data {
            name: PathBuf::from(&name),
            data,
            mode: 0o600,
        },
    );
    entries.insert(
        1,
        Entry::Data {
            name: ignore.to_path_buf(),
            data: ignore_text,
            mode: 0o644,
        },
    );
    Ok(PreparedContext::new(entries, &name))
}

/// Lexical normalization: `.` dropped, `..` applied (no symlink resolution).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The archive as a byte stream (for `bollard::body_try_stream`).
pub type ArchiveStream = futures::stream::BoxStream<'static, io::Result<Bytes>>;

/// Streams `context` as a tar archive: returns the bytes and the writer task,
/// whose error (an unreadable file) explains a failed upload.
pub fn into_stream(
    context: PreparedContext,
) -> (ArchiveStream, tokio::task::JoinHandle<io::Result<()>>) {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    let writer = tokio::task::spawn_blocking(move || {
        let result = write_tar(&context.entries, ChannelWriter { tx: tx.clone() });
        if let Err(err) = &result {
            // Make the upload fail rather than end as a truncated archive.
            let _ = tx.blocking_send(Err(io::Error::new(err.kind(), err.to_string())));
        }
        result
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (Box::pin(stream), writer)
}

/// Writes `entries` as a tar archive to `out`.
pub fn write_tar<W: Write>(entries: &[Entry], out: W) -> io::Result<()> {
    let mut builder = tar::Builder::new(BufWriter::with_capacity(256 * 1024, out));
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            Entry::Dir { name, mode, mtime } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_mtime(*mtime);
                header.set_size(0);
                builder.append_data(&mut header, name, io::empty())?;
            }
            Entry::File {
                name,
                source,
                len,
                mode,
                mtime,
            } => {
                let file = fs::File::open(source).map_err(|e| annotate(e, source))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_mtime(*mtime);
                header.set_size(*len);
                let reader = ExactReader {
                    inner: file,
                    remaining: *len,
                    path: source,
                };
                builder.append_data(&mut header, name, reader)?;
            }
            Entry::Symlink {
                name,
                target,
                mtime,
            } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_mtime(*mtime);
                header.set_size(0);
                builder.append_link(&mut header, name, target)?;
            }
            Entry::Data { name, data, mode } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_mtime(0);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, name, data.as_slice())?;
            }
        }
    }
    builder.into_inner()?.flush()
}

fn annotate(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// Reads exactly `remaining` bytes: a file that shrank while being archived
/// is an error, not a corrupt archive; one that grew is cut at its listed size.
struct ExactReader<'a> {
    inner: fs::File,
    remaining: u64,
    path: &'a Path,
}

impl Read for ExactReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} changed size while being sent", self.path.display()),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// A `Write` that hands each buffer to the async request body.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                io::Error::new(io::ErrorKind::BrokenPipe, "the engine closed the upload")
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn names(context: &PreparedContext) -> Vec<String> {
        context
            .entries
            .iter()
            .map(|e| e.name().to_string_lossy().into_owned())
            .collect()
    }

    /// The names a tar reader sees in the archive, with a trailing `/` for directories.
    fn archive_names(context: &PreparedContext) -> Vec<(String, Vec<u8>)> {
        let mut bytes = Vec::new();
        write_tar(&context.entries, &mut bytes).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                assert_eq!(e.header().uid().unwrap(), 0);
                let name = e.path().unwrap().to_string_lossy().into_owned();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, data)
            })
            .collect()
    }

    #[test]
    fn dockerignore_with_exceptions_selects_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(
            root,
            ".dockerignore",
            "*.log\n!keep.log\nsecret\ncache\n!cache/keep.txt\n**/*.tmp\n",
        );
        for f in [
            "app.log",
            "keep.log",
            "main.rs",
            "secret/key",
            "cache/keep.txt",
            "cache/drop.txt",
            "src/lib.rs",
            "src/deep/x.tmp",
        ] {
            write(root, f, f);
        }
        let context = prepare_directory(root, None).unwrap();
        assert_eq!(
            names(&context),
            vec![
                ".dockerignore",
                "Dockerfile",
                "cache/keep.txt",
                "keep.log",
                "main.rs",
                "src",
                "src/deep",
                "src/lib.rs",
            ]
        );
        assert_eq!(context.dockerfile, "Dockerfile");
        let archived = archive_names(&context);
        assert!(archived.contains(&("main.rs".to_string(), b"main.rs".to_vec())));
        assert!(archived.iter().any(|(n, _)| n == "src/deep"));
    }

    #[test]
    fn the_dockerfile_and_ignore_file_are_sent_even_when_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "docker/app.Dockerfile", "FROM scratch\n");
        write(root, ".dockerignore", "*\n");
        write(root, "x", "x");
        let context = prepare_directory(root, Some("docker/app.Dockerfile")).unwrap();
        assert_eq!(
            names(&context),
            vec![".dockerignore", "docker/app.Dockerfile"]
        );
        assert_eq!(context.dockerfile, "docker/app.Dockerfile");
    }

    #[test]
    fn a_dockerfile_specific_ignore_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "app.Dockerfile", "FROM scratch\n");
        write(root, "app.Dockerfile.dockerignore", "a\n");
        write(root, ".dockerignore", "b\n");
        write(root, "a", "a");
        write(root, "b", "b");
        let context = prepare_directory(root, Some("app.Dockerfile")).unwrap();
        assert!(!context.contains("a"));
        assert!(context.contains("b"));
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_added_and_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "build/Dockerfile", "FROM scratch\nCOPY . /\n");
        write(root, "ctx/app.txt", "app");
        let context = prepare_directory(&root.join("ctx"), Some("../build/Dockerfile")).unwrap();
        assert!(context.dockerfile.starts_with(".dockerfile."));
        let archived = archive_names(&context);
        let dockerfile = archived
            .iter()
            .find(|(n, _)| *n == context.dockerfile)
            .expect("dockerfile in the archive");
        assert_eq!(dockerfile.1, b"FROM scratch\nCOPY . /\n");
        let ignore = archived
            .iter()
            .find(|(n, _)| n == ".dockerignore")
            .expect(".dockerignore in the archive");
        let text = String::from_utf8(ignore.1.clone()).unwrap();
        assert!(text.contains(".dockerignore"), "{text}");
        assert!(text.contains(&context.dockerfile), "{text}");
        assert!(archived.iter().any(|(n, _)| n == "app.txt"));
    }

    #[test]
    fn symlinks_stay_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, "real", "r");
        std::os::unix::fs::symlink("real", root.join("link")).unwrap();
        let context = prepare_directory(root, None).unwrap();
        assert!(context.entries.contains(&Entry::Symlink {
            name: PathBuf::from("link"),
            target: PathBuf::from("real"),
            mtime: match &context.entries[1] {
                Entry::Symlink { mtime, .. } => *mtime,
                other => panic!("{other:?}"),
            },
        }));
    }

    #[test]
    fn missing_pieces_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = prepare_directory(&dir.path().join("nope"), None).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = prepare_directory(dir.path(), Some("Other.Dockerfile")).unwrap_err();
        assert!(err.to_string().contains("Other.Dockerfile"), "{err}");
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), ".dockerignore", "[\n");
        let err = prepare_directory(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains(".dockerignore"), "{err}");
    }

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(3_400_000), "3.4 MB");
        assert_eq!(human_bytes(1_500), "1.5 kB");
    }
}
