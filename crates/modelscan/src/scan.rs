//! One file: identify the format by content, descend into archives, analyse each model.

use crate::blob::{FileBlob, ReadAt, SubBlob};
use crate::codec::{self, Codec};
use crate::container::{sevenz, tar, zip};
use crate::formats::{gguf, keras, numpy, protobuf, safetensors, tokenizer, Analysis};
use crate::pickle::{self, BlobSource};
use crate::{FileReport, Finding, Options, Severity, Verdict};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

/// Extensions under which a file is expected to be a pickle.
const PICKLE_EXT: [&str; 12] = [
    "pkl", "pickle", "pt", "pth", "bin", "ckpt", "joblib", "dat", "data", "p", "sav", "model",
];

fn with_format(format: &'static str, a: Analysis) -> Analysis {
    Analysis { format, ..a }
}

struct Ctx<'a> {
    opts: &'a Options,
    deadline: Instant,
}

/// Scan one file. `None` when it is not a model file (nothing to report).
pub fn scan_file(path: &Path, shown: &str, opts: &Options) -> std::io::Result<Option<FileReport>> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let blob = FileBlob { file, len };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(scan_blob(&blob, &name, shown, opts))
}

/// Scan bytes from anywhere (a file, a member of an image layer). `name` is the file
/// name (its extension is a hint for weak formats), `shown` the path to report.
pub fn scan_blob(blob: &dyn ReadAt, name: &str, shown: &str, opts: &Options) -> Option<FileReport> {
    let ctx = Ctx {
        opts,
        deadline: Instant::now() + opts.time_budget,
    };
    let found = analyze(&ctx, name, blob, 0)?;
    let verdict = verdict(&found.findings, &found.unknown);
    Some(FileReport {
        path: shown.to_string(),
        format: found.format.to_string(),
        verdict,
        size: blob.len(),
        findings: found.findings,
        unknown: found.unknown,
        notes: found.notes,
        info: found.info.into_iter().collect(),
    })
}

pub fn verdict(findings: &[Finding], unknown: &[String]) -> Verdict {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Malicious) => Verdict::Malicious,
        Some(Severity::Suspicious) => Verdict::Suspicious,
        None if !unknown.is_empty() => Verdict::Unknown,
        None => Verdict::Clean,
    }
}

fn ext(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

fn analyze(ctx: &Ctx, name: &str, blob: &dyn ReadAt, depth: u8) -> Option<Analysis> {
    let head = blob.bytes_at(0, 4096).ok()?;
    if zip::looks_like_zip(&head) {
        return Some(archive_zip(ctx, blob, depth));
    }
    // Python's zipfile reads a zip with bytes in front (it finds the end record and
    // shifts every offset); what those bytes are is judged as well.
    if let Some(prefix) = zip::prefixed(blob) {
        let mut z = archive_zip(ctx, blob, depth);
        z.notes.push(format!(
            "{prefix} bytes before the zip's first member (Python's zipfile reads it)"
        ));
        if let Some(front) = identify(ctx, name, blob, depth, &head) {
            z.notes.push(format!(
                "the file also reads as {} from its start",
                front.format
            ));
            let info = std::mem::take(&mut z.info);
            merge(&mut z, front, None);
            z.info = info;
        }
        return Some(z);
    }
    identify(ctx, name, blob, depth, &head)
}

/// Model-named files whose content must be identified: what cannot be is unknown.
fn model_named(e: &str) -> bool {
    PICKLE_EXT.contains(&e)
        || matches!(
            e,
            "h5" | "hdf5"
                | "keras"
                | "onnx"
                | "safetensors"
                | "gguf"
                | "npy"
                | "npz"
                | "pb"
                | "tflite"
                | "mlmodel"
                | "joblib"
                | "z"
                | "pkz"
        )
}

/// Was this a pickle? Only if one parsed to its STOP, or loading it would have imported
/// or called something before failing (everything before the failure runs).
fn is_pickle(s: &pickle::StreamScan) -> bool {
    !s.pickles.is_empty()
        || !s.imports.is_empty()
        || !s.events.is_empty()
        || s.halt.as_ref().is_some_and(|h| h.budget)
}

fn identify(ctx: &Ctx, name: &str, blob: &dyn ReadAt, depth: u8, head: &[u8]) -> Option<Analysis> {
    let head = head.to_vec();
    let len = blob.len();
    let e = ext(name);
    if head.starts_with(sevenz::MAGIC) {
        return Some(archive_7z(ctx, blob, depth));
    }
    if let Some(codec) = Codec::detect(&head) {
        if let Some(a) = decompress(ctx, name, blob, depth, codec) {
            return Some(a);
        }
    }
    if tar::looks_like_tar(&head) {
        return Some(archive_tar(ctx, blob, depth));
    }
    if head.starts_with(numpy::MAGIC) {
        return Some(npy(ctx, blob, &head));
    }
    if head.starts_with(gguf::MAGIC) {
        return Some(with_format("gguf", gguf::read(blob)));
    }
    if safetensors::looks_like(&head, len) {
        return Some(with_format("safetensors", safetensors::read(blob)));
    }
    if head.starts_with(keras::HDF5_MAGIC) {
        return Some(hdf5(ctx, blob));
    }
    if head.first() == Some(&0x08) && (matches!(e.as_str(), "onnx" | "pb") || len <= 64 << 20) {
        if let Some(u) = protobuf_model(ctx, name, blob) {
            return Some(u);
        }
    }
    if head.starts_with(b"\x28\xb5\x2f\xfd") {
        let mut u = Analysis::of("compressed");
        u.unknown
            .push("zstd-compressed: not inspected (no model loader writes it)".into());
        return Some(u);
    }
    let s = scan_pickle(ctx, blob, 0, depth);
    if is_pickle(&s) {
        return Some(pickle_analysis(s));
    }
    if !model_named(&e) {
        return None;
    }
    if let Some(format) = tokenizer::identify(blob, &head) {
        return Some(Analysis::of(format));
    }
    let mut u = Analysis::of("unrecognised");
    u.unknown.push(format!(
        "content is no model format parapet reads (starts with {}{}): a loader may still \
         read it, so it is not vouched for",
        hex_prefix(&head),
        s.halt
            .as_ref()
            .map(|h| format!(
                "; as a pickle it fails at offset {}: {}",
                h.offset, h.message
            ))
            .unwrap_or_default()
    ));
    Some(u)
}

fn hex_prefix(head: &[u8]) -> String {
    head.iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn scan_pickle(ctx: &Ctx, blob: &dyn ReadAt, at: u64, depth: u8) -> pickle::StreamScan {
    let mut src = BlobSource::new(blob, at);
    pickle::scan_stream(
        &mut src,
        &ctx.opts.globals,
        &ctx.opts.limits,
        Some(ctx.deadline),
        depth,
    )
}

fn pickle_analysis(s: pickle::StreamScan) -> Analysis {
    let joblib = s.imports.iter().any(|i| i.full.contains("numpy_pickle."));
    let format = if s.torch_legacy {
        "pytorch-legacy"
    } else if joblib {
        "joblib"
    } else {
        "pickle"
    };
    let mut u = Analysis::of(format);
    u.findings = s.findings();
    if let Some(h) = &s.halt {
        if h.budget {
            u.unknown.push(format!(
                "analysis stopped at offset {}: {}",
                h.offset, h.message
            ));
        } else {
            // What came before was analysed; a loader that reads the rest differently
            // from the emulator is not ruled out, so this is not vouched for.
            u.unknown.push(format!(
                "malformed at offset {}: {} (loading fails there; what came before was analysed)",
                h.offset, h.message
            ));
        }
    }
    if let Some((at, n)) = s.trailing {
        let what = if s.torch_legacy {
            "tensor data, not read"
        } else {
            "not a pickle"
        };
        u.notes.push(format!(
            "{n} bytes after the last pickle at offset {at} ({what})"
        ));
    }
    u.info.insert("pickles".into(), json!(s.pickles.len()));
    if let Some(p) = s.pickles.iter().map(|p| p.2).max() {
        u.info.insert("protocol".into(), json!(p));
    }
    let mut imported: Vec<&str> = s.imports.iter().map(|i| i.full.as_str()).collect();
    imported.sort_unstable();
    imported.dedup();
    imported.truncate(200);
    u.info.insert("globals".into(), json!(imported));
    u
}

fn npy(ctx: &Ctx, blob: &dyn ReadAt, head: &[u8]) -> Analysis {
    let mut u = Analysis::of("numpy");
    match numpy::header(head) {
        Err(e) => u.unknown.push(e.to_string()),
        Ok((descr, object, at)) => {
            u.info.insert("dtype".into(), json!(descr));
            if object {
                let s = scan_pickle(ctx, blob, at, 0);
                let inner = pickle_analysis(s);
                u.findings = inner.findings;
                u.unknown = inner.unknown;
                u.notes = inner.notes;
                u.notes.push(
                    "object array: the data is a pickle (numpy.load(allow_pickle=True) runs it)"
                        .into(),
                );
            }
        }
    }
    u
}

fn hdf5(ctx: &Ctx, blob: &dyn ReadAt) -> Analysis {
    let mut u = Analysis::of("hdf5");
    let data = match read_whole(blob, ctx.opts.max_member) {
        Ok(d) => d,
        Err(e) => {
            u.unknown
                .push(format!("model config not searched: {}", crate::because(&e)));
            return u;
        }
    };
    let configs = keras::configs_in_bytes(&data);
    if !configs.is_empty() {
        u.format = "keras-h5";
        for c in &configs {
            keras::config(c, &ctx.opts.globals, &mut u);
        }
    }
    u
}

/// Why a blob was not read whole.
#[derive(Debug, thiserror::Error)]
enum WholeError {
    #[error("{len} bytes, over the {limit}-byte limit")]
    TooLarge { len: u64, limit: u64 },
    #[error("read error")]
    Io(#[source] std::io::Error),
}

/// The whole blob in memory, for formats that need all of it; refused past `limit`.
fn read_whole(blob: &dyn ReadAt, limit: u64) -> Result<Vec<u8>, WholeError> {
    if blob.len() > limit {
        return Err(WholeError::TooLarge {
            len: blob.len(),
            limit,
        });
    }
    blob.bytes_at(0, blob.len() as usize)
        .map_err(WholeError::Io)
}

fn protobuf_model(ctx: &Ctx, name: &str, blob: &dyn ReadAt) -> Option<Analysis> {
    // protobuf caps a message at 2 GiB
    let data = read_whole(blob, ctx.opts.max_member.max(2 << 30)).ok()?;
    if let Some(a) = protobuf::onnx(&data) {
        return Some(with_format("onnx", a));
    }
    if name.ends_with("saved_model.pb") {
        return Some(with_format("tf-savedmodel", protobuf::saved_model(&data)));
    }
    None
}

/// A compressed stream (joblib's `compress=`, `.tar.gz`): decompress up to the member
/// limit and analyse what is inside. `None` when a weak signature was wrong.
fn decompress(
    ctx: &Ctx,
    name: &str,
    blob: &dyn ReadAt,
    depth: u8,
    codec: Codec,
) -> Option<Analysis> {
    let what = codec.name();
    let mut u = Analysis::of(what);
    if too_deep(depth, ctx, &mut u) {
        return Some(u);
    }
    let inner_name = name
        .rsplit_once('.')
        .filter(|(_, e)| {
            matches!(
                e.to_ascii_lowercase().as_str(),
                "gz" | "gzip" | "xz" | "lzma" | "z" | "zlib" | "bz2" | "lz4"
            )
        })
        .map_or(name, |(n, _)| n)
        .to_string();
    let max = ctx.opts.max_member;
    let d = codec::decode(codec, blob, max);
    if let Some(e) = d.error {
        if d.data.is_empty() {
            if !codec.strong() {
                return None;
            }
            u.unknown.push(format!("{what} stream unreadable: {e}"));
            return Some(u);
        }
        u.unknown.push(format!(
            "{what} stream broken after {} bytes ({e}); the readable part was scanned",
            d.data.len()
        ));
    }
    if d.data.len() as u64 > max {
        u.unknown.push(format!(
            "decompresses past the {max}-byte limit (a decompression bomb?): not scanned"
        ));
        return Some(u);
    }
    let Some(inner) = analyze(ctx, &inner_name, &d.data, depth + 1) else {
        if !codec.strong() {
            return None;
        }
        u.notes.push(format!("{what}-compressed; no model inside"));
        return model_named(&ext(&inner_name)).then_some(u);
    };
    u.format = inner.format;
    merge(&mut u, inner, None);
    u.notes.push(format!("{what}-compressed"));
    Some(u)
}

/// Whether an analysis is (or holds) a model: a model format, a finding or something
/// not analysed. An archive counts the members that are in `info.models`.
fn holds_model(a: &Analysis) -> bool {
    !crate::CONTAINER_FORMATS.contains(&a.format)
        || !a.findings.is_empty()
        || !a.unknown.is_empty()
        || a.info.get("models").and_then(Value::as_u64).unwrap_or(0) > 0
}

/// Fold a member's results into its archive's.
fn merge(into: &mut Analysis, inner: Analysis, member: Option<&str>) {
    if member.is_some() && holds_model(&inner) {
        let n = into.info.get("models").and_then(Value::as_u64).unwrap_or(0);
        into.info.insert("models".into(), json!(n + 1));
    }
    let prefix = |m: Option<String>| match (member, m) {
        (Some(a), Some(b)) => Some(format!("{a}!{b}")),
        (Some(a), None) => Some(a.to_string()),
        (None, m) => m,
    };
    for mut f in inner.findings {
        f.member = prefix(f.member.take());
        into.findings.push(f);
    }
    let at = member.map(|m| format!("{m}: ")).unwrap_or_default();
    into.unknown
        .extend(inner.unknown.into_iter().map(|u| format!("{at}{u}")));
    into.notes
        .extend(inner.notes.into_iter().map(|n| format!("{at}{n}")));
    if member.is_none() {
        into.info.extend(inner.info);
    }
}

fn too_deep(depth: u8, ctx: &Ctx, u: &mut Analysis) -> bool {
    if depth >= ctx.opts.max_nesting {
        u.unknown.push(format!(
            "archive nested more than {} deep: not opened",
            ctx.opts.max_nesting
        ));
        return true;
    }
    if Instant::now() > ctx.deadline {
        u.unknown
            .push("time budget exhausted before this archive was opened".into());
        return true;
    }
    false
}

fn archive_zip(ctx: &Ctx, blob: &dyn ReadAt, depth: u8) -> Analysis {
    let mut u = Analysis::of("zip");
    if too_deep(depth, ctx, &mut u) {
        return u;
    }
    let a = zip::read(blob, ctx.opts.max_members);
    u.notes.extend(a.notes);
    let names: Vec<&str> = a.entries.iter().map(|e| e.name.as_str()).collect();
    let torch = names.iter().any(|n| n.ends_with("data.pkl"));
    let keras =
        names.contains(&"config.json") && names.iter().any(|n| n.ends_with("metadata.json"));
    if torch {
        u.format = if names
            .iter()
            .any(|n| n.contains("/code/") || n.ends_with("constants.pkl"))
        {
            "torchscript"
        } else {
            "pytorch-zip"
        };
    } else if keras {
        u.format = "keras";
    } else if !names.is_empty() && names.iter().all(|n| n.ends_with(".npy")) {
        u.format = "npz";
    }
    let mut storages = 0u64;
    for e in &a.entries {
        if e.name.ends_with('/') {
            continue;
        }
        if e.really_encrypted() {
            u.unknown
                .push(format!("{}: encrypted, cannot be inspected", e.name));
            continue;
        }
        if keras && e.name == "config.json" {
            match zip::extract(blob, e, ctx.opts.max_member)
                .map(|d| serde_json::from_slice::<Value>(&d))
            {
                Ok(Ok(cfg)) => {
                    let mut an = Analysis::of("keras");
                    keras::config(&cfg, &ctx.opts.globals, &mut an);
                    merge(&mut u, an, Some(&e.name));
                }
                Ok(Err(err)) => u.unknown.push(format!("config.json is not JSON: {err}")),
                Err(err) => u
                    .unknown
                    .push(format!("config.json: {}", crate::because(&err))),
            }
            continue;
        }
        let storage = torch && is_storage(&e.name);
        let inner = if e.method == 0 && e.flags & 1 == 0 {
            let sub = SubBlob {
                src: blob,
                start: e.data_offset,
                len: e.compressed.min(blob.len().saturating_sub(e.data_offset)),
            };
            member(ctx, &e.name, &sub, depth, storage)
        } else {
            match zip::extract(blob, e, ctx.opts.max_member) {
                Ok(d) => member(ctx, &e.name, &d, depth, storage),
                Err(err) => {
                    u.unknown
                        .push(format!("{}: {}", e.name, crate::because(&err)));
                    continue;
                }
            }
        };
        match inner {
            Some(inner) => merge(&mut u, inner, Some(&e.name)),
            None if storage => storages += 1,
            None => {}
        }
    }
    u.info.insert("members".into(), json!(a.entries.len()));
    if storages > 0 {
        u.info.insert("tensor_storages".into(), json!(storages));
    }
    u
}

/// One archive member. Tensor storages are raw bytes torch never unpickles: they are
/// judged only when they hold a whole pickle (a payload hidden where scanners do not
/// look), never by other signatures that tensor bytes may match by chance.
fn member(ctx: &Ctx, name: &str, blob: &dyn ReadAt, depth: u8, storage: bool) -> Option<Analysis> {
    if !storage {
        return analyze(ctx, name, blob, depth + 1);
    }
    let s = scan_pickle(ctx, blob, 0, depth + 1);
    (!s.pickles.is_empty()).then(|| pickle_analysis(s))
}

/// `archive/data/0`, `archive/.data/serialization_id`: tensor bytes, never unpickled.
fn is_storage(name: &str) -> bool {
    let mut parts = name.rsplit('/');
    let last = parts.next().unwrap_or("");
    let dir = parts.next().unwrap_or("");
    (dir == "data" && !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
        || dir == ".data"
}

fn archive_tar(ctx: &Ctx, blob: &dyn ReadAt, depth: u8) -> Analysis {
    let mut u = Analysis::of("tar");
    if too_deep(depth, ctx, &mut u) {
        return u;
    }
    let a = tar::read(blob, ctx.opts.max_members);
    u.notes.extend(a.notes);
    for e in a.entries.iter().filter(|e| e.kind == tar::Kind::File) {
        let sub = SubBlob {
            src: blob,
            start: e.data_offset,
            len: e.size,
        };
        if let Some(inner) = analyze(ctx, &e.name, &sub, depth + 1) {
            merge(&mut u, inner, Some(&e.name));
        }
    }
    u.info.insert("members".into(), json!(a.entries.len()));
    u
}

fn archive_7z(ctx: &Ctx, blob: &dyn ReadAt, depth: u8) -> Analysis {
    let mut u = Analysis::of("7z");
    if too_deep(depth, ctx, &mut u) {
        return u;
    }
    let data = match read_whole(blob, ctx.opts.max_member) {
        Ok(d) => d,
        Err(e) => {
            u.unknown
                .push(format!("7z archive not opened: {}", crate::because(&e)));
            return u;
        }
    };
    match sevenz::read(&data, ctx.opts.max_member, ctx.opts.max_members) {
        Err(e) => u.unknown.push(crate::because(&e)),
        Ok(members) => {
            u.info.insert("members".into(), json!(members.len()));
            for m in members {
                match m.data {
                    Err(e) => u
                        .unknown
                        .push(format!("{}: {}", m.name, crate::because(&e))),
                    Ok(d) => {
                        if let Some(inner) = analyze(ctx, &m.name, &d, depth + 1) {
                            merge(&mut u, inner, Some(&m.name));
                        }
                    }
                }
            }
        }
    }
    u
}
