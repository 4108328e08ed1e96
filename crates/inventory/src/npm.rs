//! npm packages: `package-lock.json` (lockfile v1, v2, v3) and installed
//! `node_modules/<name>/package.json`.

use crate::error::PackageError;
use crate::{Ecosystem, Package, Source};
use serde_json::Value;

fn package(name: &str, version: Option<String>, source: Source) -> Package {
    Package::new(Ecosystem::Npm, name, version, source)
}

fn license(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("type").and_then(|t| t.as_str()).map(String::from),
        _ => None,
    }
}

/// `sha512-<base64>` integrity → hex.
fn integrity(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let b64 = s
        .split_whitespace()
        .find_map(|p| p.strip_prefix("sha512-"))?;
    let bytes = parapet_modelscan::formats::base64_decode(b64);
    (bytes.len() == 64).then(|| crate::hex(&bytes))
}

/// The name a `node_modules/...` key installs (the last `node_modules/` segment).
fn name_from_path(key: &str) -> Option<&str> {
    let i = key.rfind("node_modules/")?;
    let n = &key[i + "node_modules/".len()..];
    (!n.is_empty()).then_some(n)
}

pub fn parse_lock(text: &str) -> Result<Vec<Package>, PackageError> {
    let v: Value = serde_json::from_str(text)?;
    if !v.is_object() {
        return Err(PackageError::NotObject);
    }
    let mut out = Vec::new();
    if let Some(pkgs) = v["packages"].as_object() {
        for (key, p) in pkgs {
            if key.is_empty() || p["link"].as_bool() == Some(true) {
                continue; // the project itself; workspace links
            }
            let Some(name) = p["name"].as_str().or_else(|| name_from_path(key)) else {
                continue;
            };
            let mut pkg = package(
                name,
                p["version"].as_str().map(String::from),
                Source::Locked,
            );
            pkg.license = license(&p["license"]);
            pkg.sha512 = integrity(&p["integrity"]);
            out.push(pkg);
        }
        return Ok(out);
    }
    fn walk(deps: &Value, out: &mut Vec<Package>, depth: usize) {
        let Some(m) = deps.as_object() else { return };
        if depth > 64 {
            return;
        }
        for (name, d) in m {
            let mut pkg = package(
                name,
                d["version"].as_str().map(String::from),
                Source::Locked,
            );
            pkg.sha512 = integrity(&d["integrity"]);
            out.push(pkg);
            walk(&d["dependencies"], out, depth + 1);
        }
    }
    walk(&v["dependencies"], &mut out, 0);
    Ok(out)
}

/// Is `path` the manifest of an installed package (`.../node_modules/[@scope/]name/package.json`)?
pub fn is_installed_manifest(path: &str) -> bool {
    let Some(dir) = path.strip_suffix("/package.json") else {
        return false;
    };
    let Some(i) = dir.rfind("node_modules/") else {
        return false;
    };
    let rest = &dir[i + "node_modules/".len()..];
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        [n] => !n.is_empty() && !n.starts_with('.'),
        [scope, n] => scope.starts_with('@') && !n.is_empty(),
        _ => false,
    }
}

pub fn parse_installed(text: &str) -> Result<Package, PackageError> {
    let v: Value = serde_json::from_str(text)?;
    let name = v["name"].as_str().ok_or(PackageError::Missing("name"))?;
    let mut p = package(
        name,
        v["version"].as_str().map(String::from),
        Source::Installed,
    );
    p.license = license(&v["license"]);
    p.summary = v["description"]
        .as_str()
        .map(|d| parapet_modelscan::formats::clip_to(d, 200));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_v3_and_v1() {
        let p = parse_lock(
            r#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/lodash":{"version":"4.17.11","license":"MIT","integrity":"sha512-cQKh8igo5QUhZ7lg38DYWAxMvjSAKG0A8wGSVimP07SIUEK2UO+arSRKbRZWtelMtN5V0Hkwh5ryOto/SshYIg=="},"node_modules/a/node_modules/@scope/b":{"version":"1.0.0"}}}"#,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        let lodash = p.iter().find(|x| x.name == "lodash").unwrap();
        assert!(p.iter().any(|x| x.name == "@scope/b"));
        assert_eq!(lodash.sha512.as_ref().map(|h| h.len()), Some(128));
        let p = parse_lock(r#"{"lockfileVersion":1,"dependencies":{"x":{"version":"1.0.0","dependencies":{"y":{"version":"2.0.0"}}}}}"#).unwrap();
        assert_eq!(p.len(), 2);
        assert!(parse_lock("[1]").is_err());
    }

    #[test]
    fn installed_manifests() {
        assert!(is_installed_manifest(
            "app/node_modules/openai/package.json"
        ));
        assert!(is_installed_manifest(
            "node_modules/@anthropic-ai/sdk/package.json"
        ));
        assert!(!is_installed_manifest(
            "node_modules/openai/src/package.json"
        ));
        assert!(!is_installed_manifest("app/package.json"));
    }
}
