//! Inputs shared by the differential test and the trail benchmark (which includes this
//! file with `#[path]`): the same rule files and Stratus records for both engines.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The files in `dir` named `*.{ext}`, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// rsigma's engine with every rule file in `dir`.
pub fn rsigma(dir: &Path) -> rsigma_eval::Engine {
    let mut engine = rsigma_eval::Engine::new();
    for f in files(dir, "yml") {
        let c = rsigma_parser::parse_sigma_yaml(&std::fs::read_to_string(f).unwrap()).unwrap();
        engine.add_collection(&c).unwrap();
    }
    engine
}

/// Every record of the Stratus Red Team detonations in `dir` (JSON arrays), in order.
pub fn stratus_records(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for f in files(dir, "json") {
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        out.extend(v.as_array().unwrap().iter().cloned());
    }
    out
}
