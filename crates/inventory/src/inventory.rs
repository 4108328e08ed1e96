//! Targets in, one workload per target out: read the files (directory or image), then
//! packages, models, API use, exposure, vulnerabilities and the risk ranking.

use crate::catalog::Catalog;
use crate::error::{because, PackageError, TargetError};
use crate::osv::Database;
use crate::source::in_dependency;
use crate::tree::{clean, Tree};
use crate::{image, models, npm, python, risk, source, tree};
use crate::{
    Ecosystem, Error, Evidence, Exposure, Package, Report, ServiceUse, Skipped, Source, Stats,
    Workload,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub struct Options {
    pub catalog: Catalog,
    pub osv: Option<Database>,
    pub model: parapet_modelscan::Options,
    /// SHA-256 of every model file (reads them whole).
    pub hash: bool,
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            catalog: Catalog::default(),
            osv: None,
            model: parapet_modelscan::Options::default(),
            hash: true,
            threads: 0,
        }
    }
}

const MAX_META: u64 = 16 << 20;
const MAX_SOURCE: u64 = 2 << 20;

/// Inventory each target. A target that cannot be read at all is an error; files inside
/// that cannot be read are listed in the workload's `skipped`.
pub fn inventory(
    targets: &[PathBuf],
    opts: &Options,
    progress: Option<&parapet_modelscan::Progress>,
) -> Result<Report, Error> {
    let mut canon = Vec::with_capacity(targets.len());
    for t in targets {
        canon.push(std::fs::canonicalize(t).map_err(|e| Error::Target {
            path: t.display().to_string(),
            problem: e.into(),
        })?);
    }
    // one entry per real path: a target inside another (given before or after it) is
    // read once, as part of the outer one
    let outer_of = |i: usize| {
        (0..targets.len())
            .find(|&j| j != i && canon[i].starts_with(&canon[j]) && (canon[i] != canon[j] || j < i))
    };
    let mut workloads: Vec<Workload> = Vec::new();
    let mut read_as: Vec<Option<usize>> = vec![None; targets.len()];
    for (i, t) in targets.iter().enumerate() {
        if outer_of(i).is_none() {
            read_as[i] = Some(workloads.len());
            workloads.push(one(t, &t.display().to_string(), opts, progress)?);
        }
    }
    for (i, t) in targets.iter().enumerate() {
        if let Some(mut o) = outer_of(i) {
            // the outermost target read (an outer target is shorter or earlier: this ends)
            while read_as[o].is_none() {
                o = outer_of(o).expect("a target not read has an outer one");
            }
            workloads[read_as[o].expect("read")].skipped.push(Skipped {
                path: t.display().to_string(),
                why: format!("inside {} (already inventoried)", canon[o].display()),
            });
        }
    }
    Ok(Report {
        schema: "parapet.inventory/v1",
        tool_version: env!("CARGO_PKG_VERSION"),
        vulnerability_data: opts
            .osv
            .as_ref()
            .map(|d| d.sources.clone())
            .unwrap_or_default(),
        workloads,
    })
}

fn one(
    path: &Path,
    shown: &str,
    opts: &Options,
    progress: Option<&parapet_modelscan::Progress>,
) -> Result<Workload, Error> {
    let err = |problem: TargetError| Error::Target {
        path: shown.to_string(),
        problem,
    };
    let (tree, kind, reference, layers, config) = if image::looks_like_image(path) {
        let img = image::open(path, shown).map_err(|e| err(e.into()))?;
        (
            img.tree,
            img.kind,
            img.reference,
            img.layers,
            Some(img.config),
        )
    } else {
        (
            tree::from_dir(path).map_err(|e| err(e.into()))?,
            "directory",
            None,
            Vec::new(),
            None,
        )
    };
    Ok(analyse(
        &tree,
        kind,
        shown,
        reference,
        layers,
        config.as_ref(),
        opts,
        progress,
    ))
}

#[allow(clippy::too_many_arguments)]
fn analyse(
    tree: &Tree,
    kind: &str,
    shown: &str,
    image: Option<String>,
    layers: Vec<crate::LayerInfo>,
    config: Option<&serde_json::Value>,
    opts: &Options,
    progress: Option<&parapet_modelscan::Progress>,
) -> Workload {
    let mut skipped = tree.skipped.clone();
    let (packages, owners) = packages(tree, &opts.catalog, &mut skipped);
    let threads = if opts.threads > 0 {
        opts.threads
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    };
    let found = models::Scan {
        tree,
        opts: &opts.model,
        hash: opts.hash,
        threads,
        owners: &owners,
        progress,
    }
    .run();
    let (services, mut exposures, source_files) = code(tree, &opts.catalog, &mut skipped);
    if let Some(cfg) = config {
        let at = crate::Location {
            path: "image config".into(),
            line: None,
            layer: None,
        };
        for (kind, detail, port, weight, _) in source::image_config(cfg, &opts.catalog) {
            exposures.push(Exposure {
                kind,
                detail,
                port,
                weight,
                at: at.clone(),
            });
        }
    }
    let mut vulnerabilities = Vec::new();
    if let Some(db) = &opts.osv {
        for p in &packages {
            vulnerabilities.extend(db.matches(p));
        }
    }
    let stats = Stats {
        files: tree.entries.len() as u64,
        bytes: tree.entries.iter().map(|e| e.size).sum(),
        model_candidates: found.candidates,
        source_files,
    };
    let mut w = Workload {
        target: shown.to_string(),
        kind: kind.to_string(),
        image,
        layers,
        packages,
        models: found.models,
        datasets: found.datasets,
        services,
        exposures,
        vulnerabilities,
        risks: Vec::new(),
        skipped,
        stats,
    };
    w.risks = risk::rank(&w);
    w
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Which package installed each file (from RECORD), and each package's top-level modules.
#[derive(Default)]
pub struct Owners {
    pub files: HashMap<String, String>,
    pub modules: HashMap<String, std::collections::HashSet<String>>,
}

type Found = (Vec<Package>, Owners);

fn packages(tree: &Tree, catalog: &Catalog, skipped: &mut Vec<Skipped>) -> Found {
    let mut found: Vec<Package> = Vec::new();
    let mut owners = Owners::default();
    let mut bad = |e: &tree::Entry, why: String| {
        skipped.push(Skipped {
            path: tree.shown(&e.path),
            why,
        })
    };
    for e in &tree.entries {
        let name = base(&e.path);
        let read = |e: &tree::Entry| {
            tree.read(e, MAX_META)
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .map_err(PackageError::from)
        };
        let dir = e.path.rsplit_once('/').map_or("", |(d, _)| d);
        let with_evidence = |mut p: Package, what: &str, at_path: &str, line: Option<u32>| {
            p.evidence.push(Evidence {
                what: what.to_string(),
                at: tree.location_of(at_path, e.layer, line),
            });
            p
        };
        let result: Result<Vec<Package>, PackageError> = if (name == "METADATA"
            && dir.ends_with(".dist-info"))
            || (name == "PKG-INFO" && dir.ends_with(".egg-info"))
        {
            read(e).and_then(|t| python::parse_metadata(&t)).map(|m| {
                let what = if name == "METADATA" {
                    "dist-info"
                } else {
                    "egg-info"
                };
                let p = with_evidence(python::from_metadata(m), what, dir, None);
                if name == "METADATA" {
                    record_owners(tree, dir, &p.name, &mut owners);
                }
                vec![p]
            })
        } else if name.ends_with(".egg-info") && !dir.ends_with(".egg-info") {
            read(e).and_then(|t| python::parse_metadata(&t)).map(|m| {
                vec![with_evidence(
                    python::from_metadata(m),
                    "egg-info",
                    &e.path,
                    None,
                )]
            })
        } else if name.starts_with("requirements")
            && name.ends_with(".txt")
            && !in_dependency(&e.path)
        {
            read(e).map(|t| {
                python::parse_requirements(&t)
                    .into_iter()
                    .map(|(line, p)| with_evidence(p, name, &e.path, Some(line)))
                    .collect()
            })
        } else if (name == "poetry.lock" || name == "uv.lock") && !in_dependency(&e.path) {
            read(e).and_then(|t| python::parse_toml_lock(&t)).map(|v| {
                v.into_iter()
                    .map(|p| with_evidence(p, name, &e.path, None))
                    .collect()
            })
        } else if name == "Pipfile.lock" && !in_dependency(&e.path) {
            read(e)
                .and_then(|t| python::parse_pipfile_lock(&t))
                .map(|v| {
                    v.into_iter()
                        .map(|p| with_evidence(p, name, &e.path, None))
                        .collect()
                })
        } else if name == "package-lock.json" && !in_dependency(&e.path) {
            read(e).and_then(|t| npm::parse_lock(&t)).map(|v| {
                v.into_iter()
                    .map(|p| with_evidence(p, name, &e.path, None))
                    .collect()
            })
        } else if npm::is_installed_manifest(&e.path) {
            read(e)
                .and_then(|t| npm::parse_installed(&t))
                .map(|p| vec![with_evidence(p, "node_modules", dir, None)])
        } else {
            continue;
        };
        match result {
            Ok(v) => found.extend(v),
            Err(why) => bad(
                e,
                format!("not read as package metadata: {}", because(&why)),
            ),
        }
    }
    let mut merged = merge(found);
    for p in &mut merged {
        p.ai = catalog.lookup(p.ecosystem, &p.name).cloned();
    }
    (merged, owners)
}

/// RECORD lists the files a distribution installed, relative to its site directory.
fn record_owners(tree: &Tree, dist_info: &str, name: &str, owners: &mut Owners) {
    let Some(rec) = tree.find(&format!("{dist_info}/RECORD")) else {
        return;
    };
    let Ok(data) = tree.read(rec, MAX_META) else {
        return;
    };
    let site = dist_info.rsplit_once('/').map_or("", |(d, _)| d);
    for p in python::parse_record(&String::from_utf8_lossy(&data)) {
        let top = p.split('/').next().unwrap_or("");
        if !(top.is_empty() || top == ".." || top.ends_with(".dist-info") || top.ends_with(".data"))
        {
            let module = top.trim_end_matches(".py").to_string();
            owners
                .modules
                .entry(name.to_string())
                .or_default()
                .insert(module);
        }
        if let Some(full) = clean(&format!("{site}/{p}")) {
            owners.files.insert(full, name.to_string());
        }
    }
}

/// One package per (ecosystem, name, version); a requirement without a version folds
/// into the versioned entries of the same name.
fn merge(found: Vec<Package>) -> Vec<Package> {
    let mut by: BTreeMap<(Ecosystem, String, Option<String>), Package> = BTreeMap::new();
    for p in found {
        let k = (p.ecosystem, p.key.clone(), p.version.clone());
        match by.get_mut(&k) {
            Some(have) => absorb(have, p),
            None => {
                by.insert(k, p);
            }
        }
    }
    let unversioned: Vec<(Ecosystem, String)> = by
        .keys()
        .filter(|k| k.2.is_none())
        .map(|k| (k.0, k.1.clone()))
        .collect();
    for (eco, key) in unversioned {
        let has_versioned = by.keys().any(|k| k.0 == eco && k.1 == key && k.2.is_some());
        if has_versioned {
            let p = by.remove(&(eco, key.clone(), None)).expect("listed");
            if let Some((_, target)) = by.iter_mut().find(|(k, _)| k.0 == eco && k.1 == key) {
                absorb(target, p);
            }
        }
    }
    let mut v: Vec<Package> = by.into_values().collect();
    for p in &mut v {
        p.evidence.sort();
        p.evidence.dedup();
    }
    v
}

fn absorb(have: &mut Package, p: Package) {
    have.source = have.source.min(p.source);
    if p.source == Source::Installed {
        have.name = p.name;
    }
    have.license = have.license.take().or(p.license);
    have.summary = have.summary.take().or(p.summary);
    have.sha512 = have.sha512.take().or(p.sha512);
    have.evidence.extend(p.evidence);
}

type Code = (Vec<ServiceUse>, Vec<Exposure>, u64);

fn code(tree: &Tree, catalog: &Catalog, skipped: &mut Vec<Skipped>) -> Code {
    let mut services: BTreeMap<String, ServiceUse> = BTreeMap::new();
    let mut exposures = Vec::new();
    let mut n = 0;
    for e in &tree.entries {
        if in_dependency(&e.path) {
            continue;
        }
        let app = source::is_app_source(&e.path);
        let lower = base(&e.path).to_ascii_lowercase();
        let config_like = lower.contains("dockerfile")
            || lower == "containerfile"
            || lower.starts_with("jupyter_")
            || lower.starts_with("docker-compose")
            || lower.starts_with("compose.")
            || lower == "procfile"
            || lower.ends_with(".sh")
            || (lower == "config.toml" && e.path.contains(".streamlit/"));
        if !app && !config_like {
            continue;
        }
        let text = match tree.read(e, MAX_SOURCE) {
            Ok(d) => String::from_utf8_lossy(&d).into_owned(),
            Err(why) => {
                skipped.push(Skipped {
                    path: tree.shown(&e.path),
                    why: because(&why),
                });
                continue;
            }
        };
        n += 1;
        if app {
            let is_py = e.path.ends_with(".py") || e.path.ends_with(".ipynb");
            for (id, line, what) in source::api_use(&text, is_py, catalog) {
                let Some(s) = catalog.service(&id) else {
                    continue;
                };
                let entry = services.entry(id.clone()).or_insert_with(|| ServiceUse {
                    id: id.clone(),
                    name: s.name.clone(),
                    provider: s.provider.clone(),
                    endpoints: s.endpoints.clone(),
                    evidence: Vec::new(),
                });
                entry.evidence.push(Evidence {
                    what,
                    at: tree.location(e, Some(line)),
                });
            }
        }
        for (kind, detail, port, weight, line) in source::exposure(&e.path, &text) {
            exposures.push(Exposure {
                kind,
                detail,
                port,
                weight,
                at: tree.location(e, (line > 0).then_some(line)),
            });
        }
    }
    (services.into_values().collect(), exposures, n)
}
