//! Python packages: installed (`*.dist-info/METADATA` with RECORD, `*.egg-info`), locked
//! (poetry.lock, uv.lock, Pipfile.lock) and required (requirements*.txt).

use crate::error::PackageError;
use crate::{Ecosystem, Package, Source};

/// The core metadata fields we keep (PKG-INFO / METADATA are RFC 822 headers).
#[derive(Debug, Default, PartialEq)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub license: Option<String>,
    pub summary: Option<String>,
}

pub fn parse_metadata(text: &str) -> Result<Metadata, PackageError> {
    let mut m = Metadata::default();
    let mut license_classifier = None;
    for line in text.lines() {
        if line.is_empty() {
            break; // the body (long description) follows
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue; // continuation lines: a licence's first line names it well enough
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        match k.as_str() {
            "name" => m.name = v.to_string(),
            "version" => m.version = v.to_string(),
            "license-expression" => m.license = Some(v.to_string()),
            "license" if m.license.is_none() && !v.is_empty() && v != "UNKNOWN" => {
                m.license = Some(parapet_modelscan::formats::clip_to(
                    v.lines().next().unwrap_or(v),
                    120,
                ))
            }
            "summary" if !v.is_empty() && v != "UNKNOWN" => {
                m.summary = Some(parapet_modelscan::formats::clip_to(v, 200))
            }
            "classifier" => {
                if let Some(l) = v
                    .strip_prefix("License :: OSI Approved :: ")
                    .or_else(|| v.strip_prefix("License :: "))
                {
                    license_classifier.get_or_insert_with(|| l.to_string());
                }
            }
            _ => {}
        }
    }
    if m.license.is_none() {
        m.license = license_classifier;
    }
    if m.name.is_empty() {
        return Err(PackageError::Missing("Name header"));
    }
    if m.version.is_empty() {
        return Err(PackageError::Missing("Version header"));
    }
    Ok(m)
}

/// RECORD: `path,hash,size` lines (CSV; paths with commas are quoted).
pub fn parse_record(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_end_matches('\r');
            if let Some(rest) = l.strip_prefix('"') {
                rest.split_once("\",").map(|(p, _)| p.replace("\"\"", "\""))
            } else {
                l.split(',').next().map(String::from)
            }
        })
        .filter(|p| !p.is_empty())
        .collect()
}

fn package(name: &str, version: Option<String>, source: Source) -> Package {
    Package::new(Ecosystem::PyPI, name, version, source)
}

pub fn from_metadata(m: Metadata) -> Package {
    let mut p = package(&m.name, Some(m.version), Source::Installed);
    p.license = m.license;
    p.summary = m.summary;
    p
}

/// requirements.txt: pinned (`==`/`===`) entries carry a version; ranges do not.
/// Options (-r, -e, --hash...), URLs and comments are skipped. Returns (line, package).
pub fn parse_requirements(text: &str) -> Vec<(u32, Package)> {
    let mut out = Vec::new();
    let mut joined = String::new();
    let mut start = 0u32;
    for (i, raw) in text.lines().enumerate() {
        if joined.is_empty() {
            start = i as u32 + 1;
        }
        let line = raw.split(" #").next().unwrap_or("");
        if let Some(cont) = line.trim_end().strip_suffix('\\') {
            joined.push_str(cont);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        let full = std::mem::take(&mut joined);
        let l = full.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('-') || l.contains("://") {
            continue;
        }
        let spec = l.split(';').next().unwrap_or("").trim();
        let spec = spec.split(" --").next().unwrap_or("").trim();
        let name_end = spec
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(spec.len());
        let name = &spec[..name_end];
        if name.is_empty() {
            continue;
        }
        let mut rest = spec[name_end..].trim();
        if rest.starts_with('[') {
            rest = rest.split_once(']').map_or("", |(_, r)| r).trim();
        }
        let version = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && !v.contains(',') && !v.contains('*'));
        out.push((start, package(name, version, Source::Required)));
    }
    out
}

/// poetry.lock and uv.lock: `[[package]]` tables with name and version.
pub fn parse_toml_lock(text: &str) -> Result<Vec<Package>, PackageError> {
    let v: toml::Value = toml::from_str(text)?;
    let mut out = Vec::new();
    for p in v
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let Some(name) = p.get("name").and_then(|n| n.as_str()) else {
            continue;
        };
        // uv's own project (editable/virtual source) is the workload, not a dependency
        if let Some(src) = p.get("source").and_then(|s| s.as_table()) {
            if src.contains_key("editable") || src.contains_key("virtual") {
                continue;
            }
        }
        let version = p.get("version").and_then(|v| v.as_str()).map(String::from);
        out.push(package(name, version, Source::Locked));
    }
    Ok(out)
}

/// Pipfile.lock: `default` and `develop` maps of name → {version: "==x"}.
pub fn parse_pipfile_lock(text: &str) -> Result<Vec<Package>, PackageError> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let mut out = Vec::new();
    for section in ["default", "develop"] {
        if let Some(m) = v[section].as_object() {
            for (name, spec) in m {
                let version = spec["version"]
                    .as_str()
                    .and_then(|s| s.strip_prefix("=="))
                    .map(String::from);
                out.push(package(name, version, Source::Locked));
            }
        }
    }
    if !v.is_object() || (v.get("default").is_none() && v.get("develop").is_none()) {
        return Err(PackageError::Missing("default or develop section"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_headers() {
        let m = parse_metadata(
            "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.2\nSummary: A very fast template engine.\nLicense: BSD-3-Clause\nClassifier: License :: OSI Approved :: BSD License\n\nbody: Name: nope\n",
        )
        .unwrap();
        assert_eq!(m.name, "Jinja2");
        assert_eq!(m.version, "2.11.2");
        assert_eq!(m.license.as_deref(), Some("BSD-3-Clause"));
        let m = parse_metadata("Name: x\nVersion: 1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n").unwrap();
        assert_eq!(m.license.as_deref(), Some("MIT License"));
        assert_eq!(
            parse_metadata("Version: 1\n").unwrap_err().to_string(),
            "no Name header"
        );
    }

    #[test]
    fn requirements_lines() {
        let r = parse_requirements(
            "# c\nrequests==2.31.0  # pinned\ntorch>=2.0\nlangchain[openai]==0.0.171 ; python_version>'3'\n-r other.txt\n-e .\nhttps://x/y.whl\nnumpy==1.26.* \nfoo \\\n  ==1.0\n",
        );
        let got: Vec<(u32, &str, Option<&str>)> = r
            .iter()
            .map(|(l, p)| (*l, p.key.as_str(), p.version.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "requests", Some("2.31.0")),
                (3, "torch", None),
                (4, "langchain", Some("0.0.171")),
                (8, "numpy", None),
                (9, "foo", Some("1.0")),
            ]
        );
    }

    #[test]
    fn locks() {
        let p = parse_toml_lock("[[package]]\nname = \"Torch\"\nversion = \"2.3.1\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\n").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "torch");
        let p = parse_pipfile_lock(
            r#"{"_meta":{},"default":{"openai":{"version":"==1.3.0"}},"develop":{}}"#,
        )
        .unwrap();
        assert_eq!(p[0].version.as_deref(), Some("1.3.0"));
        assert!(parse_pipfile_lock("[]").is_err());
        assert!(parse_toml_lock("[[package]\n").is_err());
    }

    #[test]
    fn record_paths() {
        assert_eq!(
            parse_record("a/b.py,sha256=x,12\n\"a,b.py\",,\nx.dist-info/RECORD,,\n"),
            vec!["a/b.py", "a,b.py", "x.dist-info/RECORD"]
        );
    }
}
