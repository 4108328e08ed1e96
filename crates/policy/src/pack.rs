//! The built-in policy pack (embedded `.cedar` files) and user directories.

use crate::PolicyError;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub name: String,
    pub text: String,
}

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../policies/", $name)))),*]
    };
}

const BUILTIN: &[(&str, &str)] = builtin!(
    "00-baseline.cedar",
    "10-destruction.cedar",
    "20-network.cedar",
    "30-privilege.cedar",
    "40-defense-evasion.cedar",
    "45-techniques.cedar",
    "50-manual-changes.cedar",
    "60-incident.cedar",
    "70-unknown.cedar",
);

pub fn builtin_files() -> Vec<PolicyFile> {
    BUILTIN
        .iter()
        .map(|(n, t)| PolicyFile {
            name: n.to_string(),
            text: t.to_string(),
        })
        .collect()
}

/// Every `*.cedar` file directly in `dir`, sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<PolicyFile>, PolicyError> {
    let io = |e: std::io::Error| PolicyError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("cedar") || !path.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| PolicyError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        out.push(PolicyFile { name, text });
    }
    if out.is_empty() {
        return Err(PolicyError::Io {
            path: dir.display().to_string(),
            message: "no .cedar files in it".into(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
