//! The build context through the BuildKit session, as the docker CLI sends
//! it: BuildKit asks the session for the directories `context` and
//! `dockerfile` (`FileSync.DiffCopy`), and torq answers with the files'
//! metadata first, then the contents of the files BuildKit requests (only
//! those that changed since its last copy of the same directory).
//!
//! The protocol (fsutil's): one `STAT` packet per entry in walk order (each
//! directory's entries sorted by name, a directory before its contents; a
//! packet's id is its position), an empty `STAT` to end the listing; then
//! for each `REQ id`, `DATA id` packets with the file's bytes and an empty
//! `DATA id`; `FIN` is answered with `FIN`. Modes are Go `os.FileMode` bits.
//! The context's entries come from [`super::super::context`], with
//! `.dockerignore` (or `<Dockerfile>.dockerignore`) already applied.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use bollard::fsutil::types::{packet::PacketType, Packet, Stat};
use bollard::moby::filesync::v1::file_sync_server::FileSync;
use futures::{Stream, StreamExt};
use tokio::io::AsyncReadExt;
use tonic::{Request, Response, Status, Streaming};

use crate::engine::build::context::{Entry, SessionContext, SESSION_DOCKERFILE};

/// The directory name BuildKit asks for (gRPC metadata).
const DIR_NAME_KEY: &str = "dir-name";
/// Paths BuildKit wants, when it wants only some (`.dockerignore`, the Dockerfile).
const FOLLOW_KEYS: [&str; 2] = ["followpaths", "include-patterns"];
/// Bytes per `DATA` packet.
const CHUNK: usize = 32 * 1024;

/// Go's `os.FileMode` bits for the entry types and special permission bits.
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_STICKY: u32 = 1 << 20;

/// The directories a build's session serves, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dirs(pub HashMap<String, Arc<Vec<Entry>>>);

impl Dirs {
    /// `context` (the context's files) and `dockerfile` (the Dockerfile
    /// alone): the two directories BuildKit's Dockerfile frontend reads.
    pub fn of_build(prepared: SessionContext) -> Dirs {
        let dockerfile = Entry::Data {
            name: SESSION_DOCKERFILE.into(),
            data: prepared.dockerfile,
            mode: 0o644,
        };
        Dirs(HashMap::from([
            ("context".to_string(), Arc::new(prepared.context.entries)),
            ("dockerfile".to_string(), Arc::new(vec![dockerfile])),
        ]))
    }
}

/// Serves [`Dirs`] to BuildKit.
pub(crate) struct FileSyncService {
    pub dirs: Dirs,
}

type PacketStream = Pin<Box<dyn Stream<Item = Result<Packet, Status>> + Send>>;

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = PacketStream;
    type TarStreamStream = PacketStream;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<PacketStream>, Status> {
        let metadata = request.metadata();
        let name = metadata
            .get(DIR_NAME_KEY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let wanted: Vec<String> = FOLLOW_KEYS
            .iter()
            .flat_map(|key| metadata.get_all(*key).iter())
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let entries = self
            .dirs
            .0
            .get(&name)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("no directory {name:?} in this build")))?;
        let selected = select(&entries, &wanted);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Packet, Status>>(64);
        tokio::spawn(send(selected, request.into_inner(), tx));
        Ok(Response::new(Box::pin(tokio_stream_from(rx))))
    }

    async fn tar_stream(
        &self,
        _request: Request<Streaming<Packet>>,
    ) -> Result<Response<PacketStream>, Status> {
        Err(Status::unimplemented("tar streams are not offered"))
    }
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Packet, Status>>,
) -> impl Stream<Item = Result<Packet, Status>> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// One listed entry: its stat, and where its bytes come from.
struct Listed {
    stat: Stat,
    content: Option<Content>,
}

enum Content {
    File(std::path::PathBuf),
    Data(Arc<Vec<u8>>),
}

/// The entries to list: all, or those `wanted` names (and their parents)
/// when BuildKit asks for some only. A pattern with glob characters keeps
/// everything (more files, never fewer).
fn select(entries: &[Entry], wanted: &[String]) -> Vec<Listed> {
    let globbed = wanted.iter().any(|w| w.contains(['*', '?', '[']));
    let keep = |name: &str| {
        wanted.is_empty()
            || globbed
            || wanted
                .iter()
                .any(|w| w == name || w.starts_with(&format!("{name}/")))
    };
    let mut listed = Vec::new();
    let mut dirs: HashSet<String> = HashSet::new();
    for entry in entries {
        let name = slash_name(entry.name());
        if !keep(&name) {
            continue;
        }
        add_parents(&name, &mut dirs, &mut listed);
        if let Entry::Dir { .. } = entry {
            dirs.insert(name.clone());
        }
        listed.push(listed_entry(entry, name));
    }
    listed
}

/// Lists the parent directories of `name` not listed yet (an excluded
/// directory whose exception keeps a file below it).
fn add_parents(name: &str, dirs: &mut HashSet<String>, listed: &mut Vec<Listed>) {
    let mut parent = String::new();
    let parts: Vec<&str> = name.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        if !parent.is_empty() {
            parent.push('/');
        }
        parent.push_str(part);
        if dirs.insert(parent.clone()) {
            listed.push(Listed {
                stat: Stat {
                    path: parent.clone(),
                    mode: GO_DIR | 0o755,
                    ..Stat::default()
                },
                content: None,
            });
        }
    }
}

fn listed_entry(entry: &Entry, path: String) -> Listed {
    let stat = |mode: u32, size: u64, mtime: u64| Stat {
        path: path.clone(),
        mode,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        mod_time: i64::try_from(mtime)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000),
        ..Stat::default()
    };
    match entry {
        Entry::Dir { mode, mtime, .. } => Listed {
            stat: stat(GO_DIR | go_permissions(*mode), 0, *mtime),
            content: None,
        },
        Entry::File {
            source,
            len,
            mode,
            mtime,
            ..
        } => Listed {
            stat: stat(go_permissions(*mode), *len, *mtime),
            content: Some(Content::File(source.clone())),
        },
        Entry::Data { data, mode, .. } => Listed {
            stat: stat(go_permissions(*mode), data.len() as u64, 0),
            content: Some(Content::Data(Arc::new(data.clone()))),
        },
        Entry::Symlink { target, mtime, .. } => Listed {
            stat: Stat {
                linkname: target.to_string_lossy().into_owned(),
                ..stat(GO_SYMLINK | 0o777, 0, *mtime)
            },
            content: None,
        },
    }
}

/// Unix permission bits (with setuid, setgid, sticky) as Go's `FileMode`.
fn go_permissions(mode: u32) -> u32 {
    let mut go = mode & 0o777;
    for (unix, bit) in [
        (0o4000, GO_SETUID),
        (0o2000, GO_SETGID),
        (0o1000, GO_STICKY),
    ] {
        if mode & unix != 0 {
            go |= bit;
        }
    }
    go
}

fn slash_name(name: &Path) -> String {
    name.to_string_lossy().replace('\\', "/")
}

fn packet(kind: PacketType, id: u32, data: Vec<u8>, stat: Option<Stat>) -> Packet {
    Packet {
        r#type: kind as i32,
        stat,
        id,
        data,
    }
}

/// Lists `listed`, then answers BuildKit's requests until it says `FIN`.
async fn send(
    listed: Vec<Listed>,
    mut incoming: Streaming<Packet>,
    tx: tokio::sync::mpsc::Sender<Result<Packet, Status>>,
) {
    let mut contents: HashMap<u32, Content> = HashMap::new();
    for (id, entry) in (0u32..).zip(listed) {
        if let Some(content) = entry.content {
            contents.insert(id, content);
        }
        let stat = packet(PacketType::PacketStat, 0, Vec::new(), Some(entry.stat));
        if tx.send(Ok(stat)).await.is_err() {
            return;
        }
    }
    if tx
        .send(Ok(packet(PacketType::PacketStat, 0, Vec::new(), None)))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(request)) = incoming.next().await {
        match PacketType::try_from(request.r#type) {
            Ok(PacketType::PacketReq) => {
                let Some(content) = contents.remove(&request.id) else {
                    let _ = tx
                        .send(Err(Status::invalid_argument(format!(
                            "no file with id {}",
                            request.id
                        ))))
                        .await;
                    return;
                };
                if let Err(status) = send_content(request.id, content, &tx).await {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            }
            Ok(PacketType::PacketFin) => {
                let _ = tx
                    .send(Ok(packet(PacketType::PacketFin, 0, Vec::new(), None)))
                    .await;
                return;
            }
            Ok(PacketType::PacketErr) => return,
            _ => {}
        }
    }
}

/// `DATA id` packets with the content, then an empty one.
async fn send_content(
    id: u32,
    content: Content,
    tx: &tokio::sync::mpsc::Sender<Result<Packet, Status>>,
) -> Result<(), Status> {
    let closed = |_| Status::cancelled("the engine closed the file transfer");
    match content {
        Content::Data(data) => {
            for chunk in data.chunks(CHUNK) {
                tx.send(Ok(packet(PacketType::PacketData, id, chunk.to_vec(), None)))
                    .await
                    .map_err(closed)?;
            }
        }
        Content::File(path) => {
            let mut file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| Status::not_found(format!("{}: {e}", path.display())))?;
            let mut buffer = vec![0u8; CHUNK];
            loop {
                let n = file
                    .read(&mut buffer)
                    .await
                    .map_err(|e| Status::data_loss(format!("{}: {e}", path.display())))?;
                if n == 0 {
                    break;
                }
                tx.send(Ok(packet(
                    PacketType::PacketData,
                    id,
                    buffer[..n].to_vec(),
                    None,
                )))
                .await
                .map_err(closed)?;
            }
        }
    }
    tx.send(Ok(packet(PacketType::PacketData, id, Vec::new(), None)))
        .await
        .map_err(closed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file(name: &str) -> Entry {
        Entry::Data {
            name: PathBuf::from(name),
            data: b"x".to_vec(),
            mode: 0o4755,
        }
    }

    #[test]
    fn modes_are_go_file_modes() {
        assert_eq!(go_permissions(0o644), 0o644);
        assert_eq!(go_permissions(0o4755), GO_SETUID | 0o755);
        let dir = Entry::Dir {
            name: PathBuf::from("src"),
            mode: 0o755,
            mtime: 2,
        };
        let listed = listed_entry(&dir, "src".into());
        assert_eq!(listed.stat.mode, GO_DIR | 0o755);
        assert_eq!(listed.stat.mod_time, 2_000_000_000);
    }

    #[test]
    fn missing_parents_are_listed_and_wanted_paths_filter() {
        let entries = vec![file("a/b/c.txt"), file("d.txt")];
        let paths: Vec<String> = select(&entries, &[])
            .into_iter()
            .map(|l| l.stat.path)
            .collect();
        assert_eq!(paths, vec!["a", "a/b", "a/b/c.txt", "d.txt"]);
        let paths: Vec<String> = select(&entries, &["d.txt".to_string()])
            .into_iter()
            .map(|l| l.stat.path)
            .collect();
        assert_eq!(paths, vec!["d.txt"]);
    }
}
