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

/// The pack's version: SHA-256 (hex) over each file's name and text in load order,
/// each length-prefixed so no two packs hash alike. Approvals bind to it, so a changed
/// pack needs new approvals.
pub(crate) fn version(files: &[PolicyFile]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in files {
        for part in [&f.name, &f.text] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyEngine;

    #[test]
    fn the_version_names_the_pack_and_changes_with_it() {
        let a = PolicyEngine::load(None).unwrap();
        let b = PolicyEngine::from_files(builtin_files()).unwrap();
        assert_eq!(a.version(), b.version(), "same pack, same version");
        assert_eq!(a.version().len(), 64);
        assert!(a.version().bytes().all(|c| c.is_ascii_hexdigit()));
        let mut files = builtin_files();
        files[1].text.push_str("\n// a comment changes the text\n");
        let edited = PolicyEngine::from_files(files).unwrap();
        assert_ne!(a.version(), edited.version());
        let mut files = builtin_files();
        files.push(PolicyFile {
            name: "99-extra.cedar".into(),
            text: String::new(),
        });
        assert_ne!(
            a.version(),
            PolicyEngine::from_files(files).unwrap().version()
        );
        let mut files = builtin_files();
        files.swap(0, 1);
        assert_ne!(
            a.version(),
            PolicyEngine::from_files(files).unwrap().version()
        );
        // Where one file ends and the next begins is part of what is hashed.
        let f = |n: &str, t: &str| PolicyFile {
            name: n.into(),
            text: t.into(),
        };
        assert_ne!(
            version(&[f("a", "bc"), f("d", "")]),
            version(&[f("a", "b"), f("cd", "")])
        );
    }
}
