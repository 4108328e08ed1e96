//! The files of one target as one view, whether they live in a directory or in the
//! merged layers of an image. Paths are relative, `/`-separated, without `.` or `..`.

use crate::error::ReadError;
use crate::{LayerRef, Location, Skipped};
use parapet_modelscan::blob::{FileBlob, ReadAt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const MAX_DEPTH: usize = 64;
pub const MAX_FILES: usize = 2_000_000;

/// A byte range of something readable (an image tarball, a decompressed layer).
#[derive(Clone)]
pub struct Slice {
    pub src: Arc<dyn ReadAt + Send + Sync>,
    pub offset: u64,
    pub len: u64,
}

impl ReadAt for Slice {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let n = buf.len().min((self.len - offset) as usize);
        self.src.read_at(self.offset + offset, &mut buf[..n])
    }
}

#[derive(Clone)]
pub enum Loc {
    Disk(PathBuf),
    Slice(Slice),
}

#[derive(Clone)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    pub layer: Option<usize>,
    pub loc: Loc,
}

pub struct Tree {
    /// How the target is shown: a directory path, or the image reference.
    pub root: String,
    pub image: bool,
    /// Sorted by path.
    pub entries: Vec<Entry>,
    /// Symbolic and hard links, resolved to a path in `entries` when they point to one
    /// inside the target (never outside, never through another link).
    pub aliases: BTreeMap<String, String>,
    /// The other way round: file → the links that name it (asked for every file).
    names: HashMap<String, Vec<String>>,
    pub layer_digests: Vec<String>,
    pub skipped: Vec<Skipped>,
}

impl Tree {
    /// Sort the files and resolve the links against them.
    pub fn new(
        root: String,
        image: bool,
        mut entries: Vec<Entry>,
        links: &BTreeMap<String, String>,
        layer_digests: Vec<String>,
        skipped: Vec<Skipped>,
    ) -> Tree {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let mut tree = Tree {
            root,
            image,
            entries,
            aliases: BTreeMap::new(),
            names: HashMap::new(),
            layer_digests,
            skipped,
        };
        tree.aliases = resolve_aliases(&tree, links);
        for (link, target) in &tree.aliases {
            tree.names
                .entry(target.clone())
                .or_default()
                .push(link.clone());
        }
        tree
    }

    pub fn find(&self, path: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Where to show a path: under the directory, or absolute inside an image.
    pub fn shown(&self, path: &str) -> String {
        if self.image {
            format!("/{path}")
        } else if self.root.ends_with('/') {
            format!("{}{path}", self.root)
        } else {
            format!("{}/{path}", self.root)
        }
    }

    pub fn location(&self, e: &Entry, line: Option<u32>) -> Location {
        self.location_of(&e.path, e.layer, line)
    }

    pub fn location_of(&self, path: &str, layer: Option<usize>, line: Option<u32>) -> Location {
        Location {
            path: self.shown(path),
            line,
            layer: layer.map(|i| LayerRef {
                index: i,
                digest: self.layer_digests.get(i).cloned().unwrap_or_default(),
            }),
        }
    }

    pub fn open(&self, e: &Entry) -> io::Result<Box<dyn ReadAt + Send + Sync>> {
        Ok(match &e.loc {
            Loc::Disk(p) => {
                let file = std::fs::File::open(p)?;
                let len = file.metadata()?.len();
                Box::new(FileBlob { file, len })
            }
            Loc::Slice(s) => Box::new(s.clone()),
        })
    }

    /// The whole file, refused past `max` bytes (metadata, lock files and sources are
    /// small; something huge under such a name is not what it claims).
    pub fn read(&self, e: &Entry, max: u64) -> Result<Vec<u8>, ReadError> {
        if e.size > max {
            return Err(ReadError::TooLarge { size: e.size, max });
        }
        let data = self.open(e)?.bytes_at(0, e.size as usize)?;
        if (data.len() as u64) < e.size {
            return Err(ReadError::Truncated {
                got: data.len(),
                want: e.size,
            });
        }
        Ok(data)
    }

    /// `path` and every alias that resolves to it.
    pub fn names_of<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        std::iter::once(path).chain(
            self.names
                .get(path)
                .into_iter()
                .flatten()
                .map(String::as_str),
        )
    }
}

/// Normalise a path inside the target; `None` when it climbs out.
pub fn clean(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Resolve a link target relative to the link's directory (absolute targets are
/// relative to the target's root, as inside an image).
pub fn resolve_link(link: &str, target: &str) -> Option<String> {
    if let Some(abs) = target.strip_prefix('/') {
        return clean(abs);
    }
    let dir = link.rsplit_once('/').map_or("", |(d, _)| d);
    clean(&format!("{dir}/{target}"))
}

/// Walk a directory without following links; links that stay inside become aliases.
pub fn from_dir(root: &Path) -> Result<Tree, std::io::Error> {
    let meta = std::fs::metadata(root)?;
    let shown = root.display().to_string();
    if meta.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = root
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let file = Entry {
            path: name,
            size: meta.len(),
            layer: None,
            loc: Loc::Disk(root.to_path_buf()),
        };
        let parent = if parent.is_empty() {
            ".".into()
        } else {
            parent
        };
        return Ok(Tree::new(
            parent,
            false,
            vec![file],
            &BTreeMap::new(),
            Vec::new(),
            Vec::new(),
        ));
    }
    let mut w = Walk {
        entries: Vec::new(),
        links: Vec::new(),
        skipped: Vec::new(),
        seen_dirs: HashSet::new(),
    };
    w.dir(root, String::new(), 0);
    let links: BTreeMap<String, String> = w.links.into_iter().collect();
    Ok(Tree::new(
        shown,
        false,
        w.entries,
        &links,
        Vec::new(),
        w.skipped,
    ))
}

/// Links that end (after at most a few hops through other links) at a file of the tree.
fn resolve_aliases(tree: &Tree, links: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (link, target) in links {
        let mut at = resolve_link(link, target);
        for _ in 0..8 {
            let Some(p) = at.clone() else { break };
            if tree.find(&p).is_some() {
                out.insert(link.clone(), p);
                break;
            }
            at = links.get(&p).and_then(|t| resolve_link(&p, t));
        }
    }
    out
}

struct Walk {
    entries: Vec<Entry>,
    links: Vec<(String, String)>,
    skipped: Vec<Skipped>,
    seen_dirs: HashSet<(u64, u64)>,
}

impl Walk {
    fn dir(&mut self, dir: &Path, rel: String, depth: usize) {
        if depth >= MAX_DEPTH {
            self.skipped.push(Skipped {
                path: dir.display().to_string(),
                why: format!("deeper than {MAX_DEPTH} directories"),
            });
            return;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if let Ok(m) = std::fs::metadata(dir) {
                // bind mounts can loop without links
                if !self.seen_dirs.insert((m.dev(), m.ino())) {
                    return;
                }
            }
        }
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.skipped.push(Skipped {
                    path: dir.display().to_string(),
                    why: format!("cannot list: {e}"),
                });
                return;
            }
        };
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let path = ent.path();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let Ok(ft) = ent.file_type() else { continue };
            if ft.is_symlink() {
                if let Ok(t) = std::fs::read_link(&path) {
                    self.links.push((rel, t.to_string_lossy().into_owned()));
                }
            } else if ft.is_dir() {
                self.dir(&path, rel, depth + 1);
            } else if ft.is_file() {
                if self.entries.len() >= MAX_FILES {
                    if self.entries.len() == MAX_FILES {
                        self.skipped.push(Skipped {
                            path: path.display().to_string(),
                            why: format!("more than {MAX_FILES} files: the rest not read"),
                        });
                    }
                    return;
                }
                let size = ent.metadata().map(|m| m.len()).unwrap_or(0);
                self.entries.push(Entry {
                    path: rel,
                    size,
                    layer: None,
                    loc: Loc::Disk(path),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_climb_out() {
        assert_eq!(clean("a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(clean("../etc/passwd"), None);
        assert_eq!(
            resolve_link("m/snapshots/r/x", "../../blobs/h").as_deref(),
            Some("m/blobs/h")
        );
        assert_eq!(
            resolve_link("usr/lib/x", "/etc/y").as_deref(),
            Some("etc/y")
        );
        assert_eq!(resolve_link("a", "../../../etc"), None);
    }
}
