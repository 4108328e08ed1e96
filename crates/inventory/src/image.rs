//! Container images: an OCI image layout directory, an OCI archive, or a `docker save`
//! tarball (plain or gzipped). Layers are applied in order with whiteouts (`.wh.name`
//! deletes, `.wh..wh..opq` makes a directory opaque) into one view where each file
//! remembers the layer that put it there.

use crate::error::ImageError;
use crate::tree::{clean, Entry, Loc, Slice, Tree};
use crate::{LayerInfo, Skipped};
use parapet_modelscan::blob::{FileBlob, ReadAt};
use parapet_modelscan::container::tar;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

const MAX_JSON: u64 = 16 << 20;
const MAX_TAR_ENTRIES: usize = 2_000_000;
/// A decompressed layer larger than this is refused (a gzip bomb, not an image).
const MAX_LAYER: u64 = 64 << 30;

pub struct Image {
    pub tree: Tree,
    pub kind: &'static str,
    pub reference: Option<String>,
    pub layers: Vec<LayerInfo>,
    /// The image config (`config.ExposedPorts`, `Cmd`, `Env`...).
    pub config: Value,
}

/// Blobs by name: files under a layout directory, or members of a tarball.
enum Store {
    Dir(std::path::PathBuf),
    Tar(BTreeMap<String, Slice>),
}

impl Store {
    fn get(&self, name: &str) -> Result<Slice, ImageError> {
        let io = |source| ImageError::Member {
            name: name.to_string(),
            source,
        };
        match self {
            Store::Dir(d) => {
                let clean = clean(name).ok_or_else(|| ImageError::Leaves(name.to_string()))?;
                let p = d.join(clean);
                let file = std::fs::File::open(&p).map_err(io)?;
                let len = file.metadata().map_err(io)?.len();
                Ok(Slice {
                    src: Arc::new(FileBlob { file, len }),
                    offset: 0,
                    len,
                })
            }
            Store::Tar(m) => m
                .get(clean(name).as_deref().unwrap_or(name))
                .cloned()
                .ok_or_else(|| ImageError::Missing(name.to_string())),
        }
    }
    fn has(&self, name: &str) -> bool {
        self.get(name).is_ok()
    }
    /// A metadata file's bytes, refused past `MAX_JSON`.
    fn small(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let s = self.get(name)?;
        if s.len > MAX_JSON {
            return Err(ImageError::TooLarge {
                name: name.to_string(),
                len: s.len,
            });
        }
        s.bytes_at(0, s.len as usize)
            .map_err(|source| ImageError::Member {
                name: name.to_string(),
                source,
            })
    }
    fn json(&self, name: &str) -> Result<Value, ImageError> {
        parse_json(name, &self.small(name)?)
    }
    /// A content-addressed blob, checked against its digest.
    fn blob_json(&self, digest: &str) -> Result<Value, ImageError> {
        let name = blob_path(digest)?;
        let data = self.small(&name)?;
        let got = format!("sha256:{}", crate::hex(&Sha256::digest(&data)));
        if got != digest {
            return Err(ImageError::Digest { name, got });
        }
        parse_json(&name, &data)
    }
}

fn parse_json(name: &str, data: &[u8]) -> Result<Value, ImageError> {
    serde_json::from_slice(data).map_err(|source| ImageError::Json {
        name: name.to_string(),
        source,
    })
}

fn blob_path(digest: &str) -> Result<String, ImageError> {
    let (alg, hexd) = digest
        .split_once(':')
        .ok_or_else(|| ImageError::NoAlgorithm(digest.to_string()))?;
    if alg != "sha256" || hexd.len() != 64 || !hexd.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ImageError::NotSha256(digest.to_string()));
    }
    Ok(format!("blobs/{alg}/{hexd}"))
}

/// Is this path an image (layout directory or image tarball)? Cheap: looks at names only.
pub fn looks_like_image(path: &Path) -> bool {
    if path.is_dir() {
        return path.join("oci-layout").is_file()
            || path.join("index.json").is_file() && path.join("blobs").is_dir();
    }
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let blob = FileBlob { file: f, len };
    let head = blob.bytes_at(0, 512).unwrap_or_default();
    if head.starts_with(&[0x1f, 0x8b]) {
        let name = path.to_string_lossy();
        return name.ends_with(".tar.gz") || name.ends_with(".tgz");
    }
    if !tar::looks_like_tar(&head) {
        return false;
    }
    let a = tar::read(&blob, 64);
    a.entries.iter().any(|e| {
        matches!(
            e.name.trim_start_matches("./"),
            "manifest.json" | "index.json" | "oci-layout"
        )
    })
}

pub fn open(path: &Path, shown: &str) -> Result<Image, ImageError> {
    let (store, kind) = if path.is_dir() {
        (Store::Dir(path.to_path_buf()), "oci-layout")
    } else {
        let file = std::fs::File::open(path).map_err(ImageError::Io)?;
        let len = file.metadata().map_err(ImageError::Io)?.len();
        let mut src: Arc<dyn ReadAt + Send + Sync> = Arc::new(FileBlob { file, len });
        if src.bytes_at(0, 2).unwrap_or_default() == [0x1f, 0x8b] {
            let whole = Slice {
                src: src.clone(),
                offset: 0,
                len,
            };
            src = Arc::new(gunzip_to_temp(&whole).map_err(ImageError::Gzip)?);
        }
        let a = tar::read(&*src, MAX_TAR_ENTRIES);
        let mut m = BTreeMap::new();
        for e in a.entries {
            if e.kind == tar::Kind::File {
                if let Some(n) = clean(&e.name) {
                    m.insert(
                        n,
                        Slice {
                            src: src.clone(),
                            offset: e.data_offset,
                            len: e.size,
                        },
                    );
                }
            }
        }
        if m.is_empty() {
            return Err(ImageError::NotTarball(a.notes.join("; ")));
        }
        let store = Store::Tar(m);
        let kind = if store.has("manifest.json") {
            "docker-archive"
        } else {
            "oci-archive"
        };
        (store, kind)
    };
    let (manifest_layers, config, reference) = if store.has("manifest.json") {
        docker_manifest(&store)?
    } else if store.has("index.json") {
        oci_manifest(&store)?
    } else {
        return Err(ImageError::NoManifest);
    };
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let history: Vec<String> = config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| !e["empty_layer"].as_bool().unwrap_or(false))
                .map(|e| e["created_by"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();

    let mut merged: BTreeMap<String, Node> = BTreeMap::new();
    let mut layers = Vec::new();
    let mut skipped = Vec::new();
    let mut digests = Vec::new();
    for (i, (name, media_type, digest)) in manifest_layers.iter().enumerate() {
        let digest = digest
            .clone()
            .or_else(|| diff_ids.get(i).cloned())
            .unwrap_or_else(|| name.clone());
        digests.push(digest.clone());
        let mut info = LayerInfo {
            index: i,
            digest: digest.clone(),
            media_type: media_type.clone(),
            size: 0,
            whiteouts: 0,
            created_by: history
                .get(i)
                .filter(|s| !s.is_empty())
                .map(|s| parapet_modelscan::formats::clip_to(s, 200)),
        };
        let layer = match layer_tar(&store, name) {
            Ok((layer, size)) => {
                info.size = size;
                layer
            }
            Err(why) => {
                skipped.push(Skipped {
                    path: name.clone(),
                    why: format!("layer {i}: {}", crate::error::because(&why)),
                });
                layers.push(info);
                continue;
            }
        };
        let a = tar::read(&layer, MAX_TAR_ENTRIES);
        for n in a.notes {
            skipped.push(Skipped {
                path: name.clone(),
                why: format!("layer {i}: {n}"),
            });
        }
        info.whiteouts = apply_layer(&mut merged, &a.entries, &layer, i);
        layers.push(info);
    }

    let mut entries = Vec::new();
    let mut links = BTreeMap::new();
    for (path, node) in merged {
        match node {
            Node::File(e) => entries.push(e),
            Node::Link(t) => {
                links.insert(path, t);
            }
            Node::Dir => {}
        }
    }
    let root = reference.clone().unwrap_or_else(|| shown.to_string());
    let tree = Tree::new(root, true, entries, &links, digests, skipped);
    Ok(Image {
        tree,
        kind,
        reference,
        layers,
        config,
    })
}

/// A layer's tar (decompressed when gzipped) and the size of its blob.
fn layer_tar(store: &Store, name: &str) -> Result<(Slice, u64), ImageError> {
    let blob = store.get(name)?;
    let size = blob.len;
    let head = blob.bytes_at(0, 4).unwrap_or_default();
    if head.starts_with(&[0x1f, 0x8b]) {
        let f = gunzip_to_temp(&blob).map_err(ImageError::Gzip)?;
        let len = f.len;
        return Ok((
            Slice {
                src: Arc::new(f),
                offset: 0,
                len,
            },
            size,
        ));
    }
    if head.starts_with(b"\x28\xb5\x2f\xfd") {
        return Err(ImageError::Zstd);
    }
    Ok((blob, size))
}

enum Node {
    File(Entry),
    Link(String),
    Dir,
}

/// Apply one layer's tar entries; returns how many whiteouts it carried.
fn apply_layer(
    merged: &mut BTreeMap<String, Node>,
    entries: &[tar::Entry],
    layer: &Slice,
    index: usize,
) -> u64 {
    let mut whiteouts = 0;
    // deletions first: a layer's whiteouts apply to the layers below it, whatever the
    // order of members inside the layer's tar
    for e in entries {
        let Some(path) = clean(&e.name) else { continue };
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if base == ".wh..wh..opq" {
            whiteouts += 1;
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            remove_under(merged, &prefix);
        } else if let Some(victim) = base.strip_prefix(".wh.") {
            whiteouts += 1;
            let target = if dir.is_empty() {
                victim.to_string()
            } else {
                format!("{dir}/{victim}")
            };
            remove_subtree(merged, &target);
        }
    }
    for e in entries {
        let Some(path) = clean(&e.name) else { continue };
        if path.is_empty()
            || path
                .rsplit('/')
                .next()
                .is_some_and(|b| b.starts_with(".wh."))
        {
            continue;
        }
        let node = match &e.kind {
            tar::Kind::File => Node::File(Entry {
                path: path.clone(),
                size: e.size,
                layer: Some(index),
                loc: Loc::Slice(Slice {
                    src: layer.src.clone(),
                    offset: layer.offset + e.data_offset,
                    len: e.size,
                }),
            }),
            tar::Kind::Dir => Node::Dir,
            tar::Kind::Symlink(t) => Node::Link(t.clone()),
            // hard links name the other member by its archive path
            tar::Kind::Hardlink(t) => Node::Link(format!("/{}", t.trim_start_matches("./"))),
            tar::Kind::Other(_) => continue,
        };
        if !matches!(node, Node::Dir) {
            remove_subtree(merged, &path);
        }
        merged.insert(path, node);
    }
    whiteouts
}

fn remove_subtree(merged: &mut BTreeMap<String, Node>, path: &str) {
    merged.remove(path);
    remove_under(merged, &format!("{path}/"));
}

/// Every entry whose path starts with `prefix` (a directory's contents).
fn remove_under(merged: &mut BTreeMap<String, Node>, prefix: &str) {
    let doomed: Vec<String> = merged
        .range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        merged.remove(&k);
    }
}

/// Apply arbitrary bytes as a layer tar (for fuzzing the whiteout logic).
pub fn apply_bytes(data: &[u8]) {
    let len = data.len() as u64;
    let layer = Slice {
        src: Arc::new(data.to_vec()),
        offset: 0,
        len,
    };
    let a = tar::read(&layer, 10_000);
    let mut merged = BTreeMap::new();
    apply_layer(&mut merged, &a.entries, &layer, 0);
    apply_layer(&mut merged, &a.entries, &layer, 1);
}

type Layers = Vec<(String, String, Option<String>)>;

/// `docker save`: manifest.json lists the config and the layer files.
fn docker_manifest(store: &Store) -> Result<(Layers, Value, Option<String>), ImageError> {
    use ImageError::Manifest;
    let m = store.json("manifest.json")?;
    let first = m
        .as_array()
        .and_then(|a| a.first())
        .ok_or(Manifest("manifest.json: expected a non-empty array"))?;
    let config_name = first["Config"]
        .as_str()
        .ok_or(Manifest("manifest.json: no Config"))?;
    let config = store.json(config_name)?;
    let reference = first["RepoTags"]
        .as_array()
        .and_then(|t| t.first())
        .and_then(|t| t.as_str())
        .map(String::from);
    let layers = first["Layers"]
        .as_array()
        .ok_or(Manifest("manifest.json: no Layers"))?
        .iter()
        .filter_map(|l| l.as_str())
        .map(|l| {
            let digest = l
                .strip_prefix("blobs/sha256/")
                .map(|h| format!("sha256:{h}"));
            (
                l.to_string(),
                "application/vnd.docker.image.rootfs.diff.tar".to_string(),
                digest,
            )
        })
        .collect();
    Ok((layers, config, reference))
}

/// OCI layout: index.json → (index →) manifest → config and layers, digests checked.
fn oci_manifest(store: &Store) -> Result<(Layers, Value, Option<String>), ImageError> {
    use ImageError::Manifest;
    let index = store.json("index.json")?;
    let mut desc = pick(&index).ok_or(Manifest("index.json: no manifests"))?;
    let mut reference = desc["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .map(String::from);
    let mut manifest = store.blob_json(
        desc["digest"]
            .as_str()
            .ok_or(Manifest("index.json: manifest without digest"))?,
    )?;
    for _ in 0..4 {
        if manifest["manifests"].is_array() {
            desc = pick(&manifest).ok_or(Manifest("nested index without manifests"))?;
            manifest = store.blob_json(
                desc["digest"]
                    .as_str()
                    .ok_or(Manifest("manifest without digest"))?,
            )?;
        } else {
            break;
        }
    }
    if reference.is_none() {
        reference = manifest["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .map(String::from);
    }
    let config = store.blob_json(
        manifest["config"]["digest"]
            .as_str()
            .ok_or(Manifest("manifest: no config digest"))?,
    )?;
    let layers = manifest["layers"]
        .as_array()
        .ok_or(Manifest("manifest: no layers"))?
        .iter()
        .map(|l| {
            let digest = l["digest"].as_str().unwrap_or("").to_string();
            let name = blob_path(&digest).unwrap_or_default();
            (
                name,
                l["mediaType"].as_str().unwrap_or("").to_string(),
                Some(digest),
            )
        })
        .collect();
    Ok((layers, config, reference))
}

/// The linux/amd64 manifest when there is a choice, else the first.
fn pick(index: &Value) -> Option<Value> {
    let ms = index["manifests"].as_array()?;
    ms.iter()
        .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
        .or_else(|| ms.first())
        .cloned()
}

/// Decompress into an unlinked temporary file: random access for the tar reader and
/// the model scanner without holding a layer in memory.
fn gunzip_to_temp(src: &Slice) -> std::io::Result<FileBlob> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("parapet-layer-{}-{n}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let _ = std::fs::remove_file(&path);
    let cursor = parapet_modelscan::blob::Cursor::new(src, 0);
    let mut gz = flate2::read::MultiGzDecoder::new(cursor);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = gz.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > MAX_LAYER {
            return Err(std::io::Error::other(format!(
                "more than {MAX_LAYER} bytes decompressed"
            )));
        }
        file.write_all(&buf[..n])?;
    }
    file.flush()?;
    Ok(FileBlob { file, len: total })
}
