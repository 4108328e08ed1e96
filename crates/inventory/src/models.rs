//! Model files, found by content and scanned for code; grouped into models by the
//! Hugging Face cache layout (`models--org--name/snapshots/<rev>/`) and ollama manifests,
//! with config.json and README front matter for the model card.

use crate::tree::{Entry, Tree};
use crate::{Dataset, Model, ModelFile};
use parapet_modelscan::blob::ReadAt;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Extensions under which model files are published.
const MODEL_EXT: &[&str] = &[
    "pkl",
    "pickle",
    "pt",
    "pth",
    "bin",
    "ckpt",
    "joblib",
    "safetensors",
    "gguf",
    "ggml",
    "onnx",
    "h5",
    "hdf5",
    "keras",
    "pb",
    "npy",
    "npz",
    "model",
    "sav",
    "dat",
    "tflite",
    "llamafile",
    "nemo",
    "mar",
    // archives and compressed streams `parapet model scan` opens: listed when a model
    // is inside
    "zip",
    "7z",
    "tar",
    "tgz",
    "gz",
    "xz",
    "txz",
    "lzma",
    "bz2",
    "tbz2",
    "z",
    "lz4",
];

/// Extensions that are never model files: not worth opening.
const NEVER: &[&str] = &[
    "py", "pyc", "pyi", "pyx", "pxd", "js", "mjs", "cjs", "ts", "map", "json", "txt", "md", "rst",
    "html", "css", "h", "hpp", "c", "cc", "cpp", "so", "dylib", "dll", "a", "o", "toml", "yaml",
    "yml", "cfg", "ini", "typed", "png", "jpg", "svg", "gif", "ico", "mo", "po", "sh", "csv",
    "xml", "tmpl", "jinja", "rb", "go", "rs", "java",
];

fn ext_of(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Worth handing to the model scanner: a model extension (on the file or a link to it),
/// or a model format's magic bytes.
fn is_candidate(tree: &Tree, e: &Entry) -> bool {
    if e.size < 8 {
        return false;
    }
    let exts: Vec<String> = tree.names_of(&e.path).map(ext_of).collect();
    let in_site = e.path.contains("site-packages/") || e.path.contains("dist-packages/");
    // `.pth` files in site-packages are path configuration, not PyTorch weights
    if in_site && exts[0] == "pth" && e.size < 1 << 16 {
        return false;
    }
    if exts.iter().any(|x| MODEL_EXT.contains(&x.as_str())) {
        return true;
    }
    if NEVER.contains(&exts[0].as_str()) {
        return false;
    }
    let Ok(blob) = tree.open(e) else { return false };
    let head = blob.bytes_at(0, 16).unwrap_or_default();
    sniff(&head, e.size)
}

fn sniff(head: &[u8], size: u64) -> bool {
    if head.starts_with(b"GGUF")
        || head.starts_with(b"\x89HDF\r\n\x1a\n")
        || head.starts_with(b"\x93NUMPY")
    {
        return true;
    }
    if head.len() >= 10 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        return true;
    }
    // archives and compressed streams, as the model scanner recognises them
    if head.starts_with(b"PK\x03\x04")
        || head.starts_with(b"PK\x05\x06")
        || head.starts_with(parapet_modelscan::container::sevenz::MAGIC)
        || parapet_modelscan::codec::Codec::detect(head).is_some_and(|c| c.strong())
    {
        return true;
    }
    // safetensors: 8-byte little-endian header length, then a JSON object
    if head.len() >= 9 {
        let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        if head[8] == b'{' && n > 1 && n + 8 <= size {
            return true;
        }
    }
    false
}

/// `models--org--name/snapshots/rev/file` → ("org/name", rev, file).
fn hf_parts(path: &str) -> Option<(&'static str, String, String, String)> {
    let segs: Vec<&str> = path.split('/').collect();
    for (i, s) in segs.iter().enumerate() {
        let (kind, rest) = if let Some(r) = s.strip_prefix("models--") {
            ("model", r)
        } else if let Some(r) = s.strip_prefix("datasets--") {
            ("dataset", r)
        } else {
            continue;
        };
        if segs.get(i + 1) != Some(&"snapshots") {
            continue;
        }
        let rev = segs.get(i + 2)?;
        let file = segs.get(i + 3..)?.join("/");
        if file.is_empty() {
            return None;
        }
        return Some((kind, rest.replace("--", "/"), rev.to_string(), file));
    }
    None
}

/// Minimal YAML front matter: `key: value` and `key:` followed by `- item` lines.
fn front_matter(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("---") {
        return out;
    }
    let mut current: Option<String> = None;
    for l in lines {
        if l.trim() == "---" {
            break;
        }
        let unq = |s: &str| s.trim().trim_matches(['"', '\'']).to_string();
        if let Some(item) = l.trim_start().strip_prefix("- ") {
            if let Some(k) = &current {
                out.entry(k.clone()).or_default().push(unq(item));
            }
            continue;
        }
        if l.starts_with(' ') {
            continue;
        }
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim().to_string();
            let v = v.trim();
            if v.is_empty() {
                current = Some(k);
            } else {
                current = None;
                let v = v.trim_start_matches('[').trim_end_matches(']');
                out.insert(k, v.split(',').map(unq).filter(|s| !s.is_empty()).collect());
            }
        }
    }
    out
}

pub struct Found {
    pub models: Vec<Model>,
    pub datasets: Vec<Dataset>,
    pub candidates: u64,
}

pub struct Scan<'a> {
    pub tree: &'a Tree,
    pub opts: &'a parapet_modelscan::Options,
    pub hash: bool,
    pub threads: usize,
    /// Tree path → package name, from RECORD files.
    pub owners: &'a crate::inventory::Owners,
    pub progress: Option<&'a parapet_modelscan::Progress>,
}

impl Scan<'_> {
    pub fn run(&self) -> Found {
        let tree = self.tree;
        let candidates: Vec<&Entry> = tree
            .entries
            .iter()
            .filter(|e| is_candidate(tree, e))
            .collect();
        if let Some(p) = self.progress {
            p.add_total(
                candidates.len() as u64,
                candidates.iter().map(|e| e.size).sum(),
            );
        }
        let scanned = self.scan_all(&candidates);

        // group: HF snapshots, ollama manifests, loose files
        let mut hf: BTreeMap<(String, String), Model> = BTreeMap::new();
        let mut used: Vec<bool> = vec![false; scanned.len()];
        let by_path: HashMap<&str, usize> = scanned
            .iter()
            .enumerate()
            .map(|(i, (e, _))| (e.path.as_str(), i))
            .collect();
        for (i, (e, mf)) in scanned.iter().enumerate() {
            let hf_name = tree.names_of(&e.path).find_map(hf_parts);
            if let Some(("model", repo, rev, _)) = hf_name {
                let m = hf
                    .entry((repo.clone(), rev.clone()))
                    .or_insert_with(|| new_model(&repo, "huggingface", Some(rev)));
                let mut mf = mf.clone();
                // show the snapshot name, not the content-addressed blob
                if let Some(alias) = tree.names_of(&e.path).find(|n| hf_parts(n).is_some()) {
                    mf.at = tree.location_of(alias, e.layer, None);
                    mf.scan.path = mf.at.path.clone();
                }
                m.files.push(mf);
                used[i] = true;
            }
        }
        let mut datasets = Vec::new();
        let mut seen_ds = std::collections::BTreeSet::new();
        // model cards and datasets from every file of a snapshot (config.json, README.md)
        for name in tree
            .entries
            .iter()
            .map(|e| e.path.as_str())
            .chain(tree.aliases.keys().map(String::as_str))
        {
            let Some((kind, repo, rev, file)) = hf_parts(name) else {
                continue;
            };
            if kind == "dataset" {
                if seen_ds.insert((repo.clone(), rev.clone())) {
                    datasets.push(Dataset {
                        name: repo,
                        origin: "huggingface".into(),
                        revision: Some(rev),
                        at: Some(tree.location_of(name, None, None)),
                    });
                }
                continue;
            }
            let Some(m) = hf.get_mut(&(repo.clone(), rev.clone())) else {
                continue;
            };
            let real = tree.aliases.get(name).map(String::as_str).unwrap_or(name);
            let Some(entry) = tree.find(real) else {
                continue;
            };
            match file.as_str() {
                "config.json" => {
                    if let Ok(data) = tree.read(entry, 4 << 20) {
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data) {
                            if let Some(t) = v["model_type"].as_str() {
                                m.card.insert("architecture_family".into(), t.into());
                            }
                            if let Some(a) = v["architectures"][0].as_str() {
                                m.card.insert("architecture".into(), a.into());
                            }
                            if let Some(d) = v["torch_dtype"].as_str() {
                                m.card.insert("dtype".into(), d.into());
                            }
                        }
                    }
                }
                "README.md" => {
                    if let Ok(data) = tree.read(entry, 4 << 20) {
                        let fm = front_matter(&String::from_utf8_lossy(&data));
                        for (k, card) in [
                            ("pipeline_tag", "task"),
                            ("library_name", "library"),
                            ("base_model", "base_model"),
                        ] {
                            if let Some(v) = fm.get(k).and_then(|v| v.first()) {
                                m.card.insert(card.into(), v.clone());
                            }
                        }
                        if let Some(l) = fm.get("license").and_then(|v| v.first()) {
                            m.license = Some(l.clone());
                        }
                        if let Some(ds) = fm.get("datasets") {
                            m.datasets = ds.clone();
                        }
                    }
                }
                _ => {}
            }
        }
        for m in hf.values() {
            for d in &m.datasets {
                if seen_ds.insert((d.clone(), String::new())) {
                    datasets.push(Dataset {
                        name: d.clone(),
                        origin: "huggingface".into(),
                        revision: None,
                        at: None,
                    });
                }
            }
        }
        let mut models: Vec<Model> = hf.into_values().collect();

        // ollama: manifests name the blobs
        for e in &tree.entries {
            let Some((root, rest)) = e
                .path
                .split_once("manifests/")
                .map(|(a, b)| (a.to_string(), b.to_string()))
            else {
                continue;
            };
            if e.size > 1 << 20 {
                continue;
            }
            let Ok(data) = tree.read(e, 1 << 20) else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data) else {
                continue;
            };
            let Some(layers) = v["layers"].as_array() else {
                continue;
            };
            if !layers.iter().any(|l| {
                l["mediaType"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("application/vnd.ollama"))
            }) {
                continue;
            }
            let parts: Vec<&str> = rest.split('/').collect();
            let (registry, name) = match parts.as_slice() {
                [reg, ns, model, tag] => (reg.to_string(), format!("{ns}/{model}:{tag}")),
                _ => ("ollama".into(), rest.clone()),
            };
            let mut m = new_model(&name, "ollama", None);
            m.card.insert("registry".into(), registry);
            for l in layers {
                let Some(d) = l["digest"].as_str() else {
                    continue;
                };
                let blob = format!("{root}blobs/{}", d.replace(':', "-"));
                if let Some(&i) = by_path.get(blob.as_str()) {
                    if !used[i] {
                        used[i] = true;
                        m.files.push(scanned[i].1.clone());
                    }
                }
                if l["mediaType"] == "application/vnd.ollama.image.license" {
                    m.license = Some("see the model's license layer".into());
                }
            }
            m.revision = v["config"]["digest"].as_str().map(String::from);
            models.push(m);
        }

        for (i, (e, mf)) in scanned.iter().enumerate() {
            if used[i] {
                continue;
            }
            let name = e.path.rsplit('/').next().unwrap_or(&e.path);
            let mut m = new_model(name, "file", None);
            m.package = self.owners.files.get(&e.path).cloned();
            m.files.push(mf.clone());
            models.push(m);
        }
        for m in &mut models {
            for f in &m.files {
                for key in [
                    "architecture",
                    "quantization",
                    "parameters",
                    "context_length",
                ] {
                    if let Some(v) = f.scan.info.get(key) {
                        let s = v
                            .as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string());
                        m.card.entry(key.into()).or_insert(s);
                    }
                }
            }
            m.files.sort_by(|a, b| a.at.cmp(&b.at));
        }
        models.sort_by(|a, b| b.verdict().cmp(&a.verdict()).then(a.name.cmp(&b.name)));
        Found {
            models,
            datasets,
            candidates: candidates.len() as u64,
        }
    }

    fn scan_all<'e>(&self, candidates: &[&'e Entry]) -> Vec<(&'e Entry, ModelFile)> {
        let next = AtomicUsize::new(0);
        let out = Mutex::new(Vec::new());
        let threads = self.threads.clamp(1, candidates.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(e) = candidates.get(i) else { break };
                    if let Some(mf) = self.scan_one(e) {
                        out.lock().expect("no panics while locked").push((*e, mf));
                    }
                    if let Some(p) = self.progress {
                        p.file_done(e.size);
                    }
                });
            }
        });
        let mut v = out.into_inner().expect("threads joined");
        v.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        v
    }

    fn scan_one(&self, e: &Entry) -> Option<ModelFile> {
        let blob = self.tree.open(e).ok()?;
        let name = self.tree.names_of(&e.path).last().unwrap_or(&e.path);
        let name = name.rsplit('/').next().unwrap_or(name);
        let at = self.tree.location(e, None);
        let mut report = parapet_modelscan::scan_blob(&*blob, name, &at.path, self.opts)
            .filter(parapet_modelscan::FileReport::holds_model)?;
        if let Some(pkg) = self.owners.files.get(&e.path) {
            if let Some(modules) = self.owners.modules.get(pkg) {
                own_globals(&mut report, modules, pkg);
            }
        }
        let sha256 = if self.hash { sha256(&*blob) } else { None };
        Some(ModelFile {
            at,
            size: e.size,
            sha256,
            scan: report,
        })
    }
}

/// A pickle a package ships that names only that package's own modules (babel's locale
/// data, a library's bundled estimator) is as trusted as the package's code: its
/// suspicious findings become a note. Malicious findings are never downgraded.
fn own_globals(
    report: &mut parapet_modelscan::FileReport,
    modules: &std::collections::HashSet<String>,
    pkg: &str,
) {
    use parapet_modelscan::{Severity, Verdict};
    if report.verdict != Verdict::Suspicious {
        return;
    }
    let own = |f: &parapet_modelscan::Finding| {
        f.severity == Severity::Suspicious
            && modules.contains(f.subject.split('.').next().unwrap_or(""))
    };
    if report.findings.iter().all(own) {
        report.notes.push(format!(
            "{} global(s) from {pkg}'s own modules, in a file {pkg} installed: as trusted as its code",
            report.findings.len()
        ));
        report.findings.clear();
        report.verdict = if report.unknown.is_empty() {
            Verdict::Clean
        } else {
            Verdict::Unknown
        };
    }
}

fn new_model(name: &str, origin: &str, revision: Option<String>) -> Model {
    Model {
        name: name.to_string(),
        origin: origin.to_string(),
        revision,
        license: None,
        card: BTreeMap::new(),
        datasets: Vec::new(),
        files: Vec::new(),
        package: None,
    }
}

fn sha256(blob: &dyn ReadAt) -> Option<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < blob.len() {
        let n = blob.read_at(at, &mut buf).ok()?;
        if n == 0 {
            return None;
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    Some(crate::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_cache_layout() {
        let (k, repo, rev, file) = hf_parts("home/u/.cache/huggingface/hub/models--openai-community--gpt2/snapshots/607a30d/onnx/model.onnx").unwrap();
        assert_eq!(
            (k, repo.as_str(), rev.as_str(), file.as_str()),
            (
                "model",
                "openai-community/gpt2",
                "607a30d",
                "onnx/model.onnx"
            )
        );
        assert_eq!(
            hf_parts("hub/datasets--squad/snapshots/r/x.parquet")
                .unwrap()
                .1,
            "squad"
        );
        assert!(hf_parts("models--a--b/blobs/abc").is_none());
    }

    #[test]
    fn readme_front_matter() {
        let fm = front_matter("---\nlicense: apache-2.0\ndatasets:\n- imdb\n- 'glue'\npipeline_tag: text-classification\ntags: [a, b]\n---\n# Model\nlicense: no\n");
        assert_eq!(fm["license"], vec!["apache-2.0"]);
        assert_eq!(fm["datasets"], vec!["imdb", "glue"]);
        assert_eq!(fm["tags"], vec!["a", "b"]);
        assert!(front_matter("# no front matter\n").is_empty());
    }

    #[test]
    fn sniffing() {
        let mut st = 20u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{\"a\":1}");
        assert!(sniff(&st, 100));
        assert!(!sniff(&st, 10));
        assert!(sniff(b"GGUF\x03\0\0\0", 100));
        assert!(!sniff(b"#!/bin/sh\n", 100));
    }
}
