//! One file: identify the format by content, descend into archives, analyse each model.

use crate::blob::{Cursor, FileBlob, ReadAt, SubBlob};
use crate::container::{sevenz, tar, zip};
use crate::formats::{gguf, keras, numpy, protobuf, safetensors, Analysis};
use crate::pickle::{self, BlobSource};
use crate::{FileReport, Finding, Options, Severity, Verdict};
use serde_json::{json, Value};
use std::io::Read;
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
    let len = blob.len();
    let e = ext(name);
    if zip::looks_like_zip(&head) {
        return Some(archive_zip(ctx, blob, depth));
    }
    if head.starts_with(sevenz::MAGIC) {
        return Some(archive_7z(ctx, blob, depth));
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return decompress(ctx, name, blob, depth, Codec::Gzip);
    }
    if head.starts_with(b"\xfd7zXZ\0") {
        return decompress(ctx, name, blob, depth, Codec::Xz);
    }
    // legacy .lzma: properties byte 0x5d (lc=3, lp=0, pb=2), as Python's lzma writes it
    if head.first() == Some(&0x5d) && head.get(1..5) == Some(&[0, 0, 0x80, 0][..]) {
        return decompress(ctx, name, blob, depth, Codec::Lzma);
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
    for (magic, what) in [
        (&b"BZh"[..], "bzip2"),
        (&b"\x28\xb5\x2f\xfd"[..], "zstd"),
        (&b"\x04\x22\x4d\x18"[..], "lz4"),
    ] {
        if head.starts_with(magic) {
            let mut u = Analysis::of("compressed");
            u.unknown.push(format!(
                "{what}-compressed: not inspected (joblib and others load these)"
            ));
            return Some(u);
        }
    }
    let strong = head.first() == Some(&0x80) && head.get(1).is_some_and(|p| (2..=5).contains(p));
    let expected = PICKLE_EXT.contains(&e.as_str());
    let s = scan_pickle(ctx, blob, 0, depth);
    let is_pickle = strong
        || !s.pickles.is_empty()
        || !s.imports.is_empty()
        || !s.events.is_empty()
        || (expected && !s.not_pickle && s.ops >= 8);
    if !is_pickle {
        if expected
            || matches!(
                e.as_str(),
                "h5" | "keras" | "onnx" | "safetensors" | "gguf" | "npy"
            )
        {
            let mut u = Analysis::of("unrecognised");
            u.notes.push(format!(
                "content is not a model format parapet reads (starts with {})",
                hex_prefix(&head)
            ));
            return Some(u);
        }
        return None;
    }
    Some(pickle_analysis(s))
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
            u.notes.push(format!(
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
        Err(e) => u.unknown.push(e),
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
            u.unknown.push(format!("model config not searched: {e}"));
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

/// The whole blob in memory, for formats that need all of it; refused past `limit`.
fn read_whole(blob: &dyn ReadAt, limit: u64) -> Result<Vec<u8>, String> {
    if blob.len() > limit {
        return Err(format!("{} bytes, over the {limit}-byte limit", blob.len()));
    }
    blob.bytes_at(0, blob.len() as usize)
        .map_err(|e| format!("read error: {e}"))
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

#[derive(Clone, Copy)]
enum Codec {
    Gzip,
    Xz,
    Lzma,
}

/// A compressed stream (joblib's `compress=`, `.tar.gz`): decompress up to the member
/// limit and analyse what is inside.
fn decompress(
    ctx: &Ctx,
    name: &str,
    blob: &dyn ReadAt,
    depth: u8,
    codec: Codec,
) -> Option<Analysis> {
    let what = match codec {
        Codec::Gzip => "gzip",
        Codec::Xz => "xz",
        Codec::Lzma => "lzma",
    };
    let mut u = Analysis::of(what);
    let inner_name = name
        .rsplit_once('.')
        .filter(|(_, e)| matches!(*e, "gz" | "gzip" | "xz" | "lzma" | "z"))
        .map_or(name, |(n, _)| n)
        .to_string();
    let reader = Cursor::new(blob, 0);
    let mut data = Vec::new();
    let max = ctx.opts.max_member;
    let res = match codec {
        Codec::Gzip => flate2::read::MultiGzDecoder::new(reader)
            .take(max + 1)
            .read_to_end(&mut data),
        Codec::Xz => lzma_rust2::XzReader::new(reader, true)
            .take(max + 1)
            .read_to_end(&mut data),
        Codec::Lzma => match lzma_rust2::LzmaReader::new_mem_limit(reader, 1 << 20, None) {
            Ok(r) => r.take(max + 1).read_to_end(&mut data),
            Err(e) => Err(e),
        },
    };
    if let Err(e) = res {
        if data.is_empty() {
            u.unknown.push(format!("{what} stream unreadable: {e}"));
            return Some(u);
        }
        u.notes.push(format!(
            "{what} stream ends early ({e}); the readable part was scanned"
        ));
    }
    if data.len() as u64 > max {
        u.unknown
            .push(format!("decompresses past {max} bytes: not scanned"));
        return Some(u);
    }
    let inner = analyze(ctx, &inner_name, &data, depth + 1)?;
    u.format = inner.format;
    merge(&mut u, inner, None);
    u.notes.push(format!("{what}-compressed"));
    Some(u)
}

/// Fold a member's results into its archive's.
fn merge(into: &mut Analysis, inner: Analysis, member: Option<&str>) {
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
        if torch && is_storage(&e.name) {
            storages += 1;
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
                Err(err) => u.unknown.push(format!("config.json: {err}")),
            }
            continue;
        }
        let inner = if e.method == 0 && e.flags & 1 == 0 {
            let sub = SubBlob {
                src: blob,
                start: e.data_offset,
                len: e.compressed.min(blob.len().saturating_sub(e.data_offset)),
            };
            analyze(ctx, &e.name, &sub, depth + 1)
        } else {
            match zip::extract(blob, e, ctx.opts.max_member) {
                Ok(d) => analyze(ctx, &e.name, &d, depth + 1),
                Err(err) => {
                    u.unknown.push(format!("{}: {err}", e.name));
                    continue;
                }
            }
        };
        if let Some(inner) = inner {
            if inner.format == "unrecognised" {
                continue;
            }
            merge(&mut u, inner, Some(&e.name));
        }
    }
    u.info.insert("members".into(), json!(a.entries.len()));
    if storages > 0 {
        u.info.insert("tensor_storages".into(), json!(storages));
    }
    u
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
            if inner.format != "unrecognised" {
                merge(&mut u, inner, Some(&e.name));
            }
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
            u.unknown.push(format!("7z archive not opened: {e}"));
            return u;
        }
    };
    match sevenz::read(&data, ctx.opts.max_member, ctx.opts.max_members) {
        Err(e) => u.unknown.push(e),
        Ok(members) => {
            u.info.insert("members".into(), json!(members.len()));
            for m in members {
                match m.data {
                    Err(e) => u.unknown.push(format!("{}: {e}", m.name)),
                    Ok(d) => {
                        if let Some(inner) = analyze(ctx, &m.name, &d, depth + 1) {
                            if inner.format != "unrecognised" {
                                merge(&mut u, inner, Some(&m.name));
                            }
                        }
                    }
                }
            }
        }
    }
    u
}
