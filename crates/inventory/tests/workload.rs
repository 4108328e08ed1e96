//! A real workload: a virtualenv with packages installed from PyPI, application code, a
//! Hugging Face cache with symlinked snapshots, lock files and model files; inventoried,
//! matched against a real OSV excerpt, written as CycloneDX and validated against the
//! official 1.6 schema.

mod common;

use common::*;
use parapet_inventory::{cyclonedx, inventory, Database, Options, Report, Severity, Source};
use parapet_modelscan::Verdict;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(p: &Path, data: impl AsRef<[u8]>) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn osv() -> Database {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv");
    let mut db = Database::default();
    db.load(&data.join("PyPI-all.zip")).unwrap();
    db.load(&data.join("npm-all.zip")).unwrap();
    db
}

/// Application code, lock files, model files and a Hugging Face cache.
fn app(root: &Path) {
    write(&root.join("app/main.py"), "import os\nfrom openai import OpenAI\nimport anthropic\nimport boto3\nbr = boto3.client(\"bedrock-runtime\")\n");
    write(&root.join("app/ui.py"), "import gradio as gr\ndemo = gr.Interface(fn=f, inputs='text', outputs='text')\ndemo.launch(share=True)\n");
    write(
        &root.join("app/Dockerfile"),
        "FROM python:3.11\nEXPOSE 7860\nCMD [\"python\", \"ui.py\"]\n",
    );
    write(
        &root.join("app/requirements.txt"),
        "langchain==0.0.171\ntorch>=2.0  # any\n",
    );
    write(
        &root.join("app/web/package-lock.json"),
        r#"{"name":"web","lockfileVersion":3,"packages":{"":{"name":"web"},"node_modules/lodash":{"version":"4.17.11","license":"MIT"},"node_modules/@anthropic-ai/sdk":{"version":"0.20.0","license":"MIT"}}}"#,
    );
    write(&root.join("app/models/evil.pkl"), evil_pickle());
    // a safetensors file under a name that says nothing: found by content
    write(&root.join("app/models/weights.dat"), safetensors());

    let hub = root.join("hf/hub/models--acme--tiny-bert");
    let st = safetensors();
    let cfg = br#"{"model_type":"bert","architectures":["BertForSequenceClassification"],"torch_dtype":"float32"}"#;
    let readme = b"---\nlicense: apache-2.0\npipeline_tag: text-classification\ndatasets:\n- acme/reviews\n---\n# tiny-bert\n";
    for (name, data) in [
        ("model.safetensors", &st[..]),
        ("config.json", &cfg[..]),
        ("README.md", &readme[..]),
    ] {
        let h = sha256(data);
        write(&hub.join("blobs").join(&h), data);
        std::fs::create_dir_all(hub.join("snapshots/abc123")).unwrap();
        symlink(
            format!("../../blobs/{h}"),
            hub.join("snapshots/abc123").join(name),
        )
        .unwrap();
    }
    write(
        &root.join("hf/hub/models--acme--tiny-bert/refs/main"),
        "abc123",
    );
    write(
        &root.join("hf/hub/datasets--acme--reviews/snapshots/r1/train.csv"),
        "text,label\n",
    );
    // a link that leaves the target is never followed
    symlink("/etc/passwd", root.join("app/models/escape.pkl")).unwrap();
}

fn venv(root: &Path) -> PathBuf {
    let v = root.join("venv");
    let ok = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&v)
        .status()
        .unwrap()
        .success();
    assert!(ok, "python3 -m venv");
    let out = Command::new(python().with_file_name("pip"))
        .args(["--python"])
        .arg(v.join("bin/python"))
        .args(["install", "-q", "--no-deps", "--disable-pip-version-check"])
        .args([
            "langchain==0.0.171",
            "jinja2==2.11.2",
            "openai==1.3.0",
            "joblib==1.3.2",
            "mcp==1.0.0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install from PyPI failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

fn run(targets: &[PathBuf]) -> Report {
    let opts = Options {
        osv: Some(osv()),
        ..Options::default()
    };
    inventory(targets, &opts, None).unwrap()
}

#[test]
fn a_real_virtualenv_and_application() {
    let root = tmpdir("workload");
    app(&root);
    let v = venv(&root);
    // the venv is inside the first target: read once
    let r = run(&[root.clone(), v]);
    assert_eq!(r.workloads.len(), 1);
    let w = &r.workloads[0];
    assert!(
        w.skipped
            .iter()
            .any(|s| s.why.contains("already inventoried")),
        "{:?}",
        w.skipped
    );

    let pkg = |key: &str, version: Option<&str>| {
        w.packages
            .iter()
            .find(|p| p.key == key && p.version.as_deref() == version)
            .unwrap_or_else(|| {
                panic!(
                    "{key} {version:?} in {:#?}",
                    w.packages
                        .iter()
                        .map(|p| (&p.key, &p.version))
                        .collect::<Vec<_>>()
                )
            })
    };
    // installed and required: one entry, both pieces of evidence
    let lc = pkg("langchain", Some("0.0.171"));
    assert_eq!(lc.source, Source::Installed);
    assert!(lc
        .evidence
        .iter()
        .any(|e| e.what == "requirements.txt" && e.at.line == Some(1)));
    assert!(lc.evidence.iter().any(|e| e.what == "dist-info"));
    assert_eq!(lc.ai.as_ref().unwrap().kind, "agent");
    assert_eq!(pkg("jinja2", Some("2.11.2")).name, "Jinja2");
    assert_eq!(
        pkg("openai", Some("1.3.0")).ai.as_ref().unwrap().kind,
        "sdk"
    );
    assert_eq!(pkg("mcp", Some("1.0.0")).ai.as_ref().unwrap().kind, "mcp");
    assert_eq!(pkg("torch", None).source, Source::Required);
    assert_eq!(pkg("lodash", Some("4.17.11")).source, Source::Locked);
    assert_eq!(
        pkg("@anthropic-ai/sdk", Some("0.20.0"))
            .ai
            .as_ref()
            .unwrap()
            .kind,
        "sdk"
    );
    // one entry per package: no duplicates
    let mut keys: Vec<_> = w
        .packages
        .iter()
        .map(|p| (p.ecosystem, &p.key, &p.version))
        .collect();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n);

    // vulnerabilities from the OSV excerpt, by range, by version list, by semver
    let vuln = |id: &str| {
        w.vulnerabilities
            .iter()
            .find(|v| v.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    assert_eq!(vuln("PYSEC-2021-66").fixed.as_deref(), Some("2.11.3"));
    assert_eq!(vuln("PYSEC-2021-66").package, "pkg:pypi/jinja2@2.11.2");
    assert_eq!(vuln("PYSEC-2023-91").package, "pkg:pypi/langchain@0.0.171");
    let lodash = vuln("GHSA-jf85-cpcp-j695");
    assert_eq!(lodash.severity, Severity::Critical);
    assert_eq!(lodash.score, Some(9.1));
    assert_eq!(w.vulnerabilities.len(), 3, "{:#?}", w.vulnerabilities);

    // models by content, grouped by the Hugging Face cache layout
    let model = |name: &str| {
        w.models
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(model("evil.pkl").verdict(), Verdict::Malicious);
    let st = model("weights.dat");
    assert_eq!(st.files[0].scan.format, "safetensors");
    assert_eq!(
        st.files[0].sha256.as_deref(),
        Some(sha256(&safetensors()).as_str())
    );
    let hf = model("acme/tiny-bert");
    assert_eq!(hf.origin, "huggingface");
    assert_eq!(hf.revision.as_deref(), Some("abc123"));
    assert_eq!(hf.card["task"], "text-classification");
    assert_eq!(hf.card["architecture"], "BertForSequenceClassification");
    assert_eq!(hf.license.as_deref(), Some("apache-2.0"));
    assert_eq!(hf.datasets, vec!["acme/reviews"]);
    assert!(
        hf.files[0]
            .at
            .path
            .ends_with("snapshots/abc123/model.safetensors"),
        "{}",
        hf.files[0].at.path
    );
    assert_eq!(
        hf.files.len(),
        1,
        "the blob is the snapshot file, counted once"
    );
    assert!(w
        .datasets
        .iter()
        .any(|d| d.name == "acme/reviews" && d.revision.as_deref() == Some("r1")));
    // joblib's own test pickles: clean, attributed to joblib by its RECORD
    assert!(w
        .models
        .iter()
        .any(|m| m.package.as_deref() == Some("joblib") && m.verdict() == Verdict::Clean));
    assert!(
        !w.models
            .iter()
            .any(|m| m.package.is_some() && m.verdict() > Verdict::Unknown),
        "a package's own data flagged"
    );
    assert!(
        !w.models.iter().any(|m| m.name.contains("escape")),
        "followed a link out of the target"
    );

    // AI API use and exposure in the application's own code only
    let ids: Vec<&str> = w.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["anthropic", "bedrock", "openai"]);
    let main = &w.services[0].evidence[0];
    assert!(main.at.path.ends_with("app/main.py") && main.at.line == Some(3));
    assert!(w.exposures.iter().any(|e| e.kind == "gradio-share"));
    assert!(w
        .exposures
        .iter()
        .any(|e| e.kind == "dockerfile-expose" && e.port == Some(7860)));

    // the ranking: the malicious model first, with its reason
    let top = &w.risks[0];
    assert_eq!(
        (top.rank, top.subject.as_str(), top.level),
        (1, "evil.pkl", Severity::Critical)
    );
    assert!(
        top.reasons.iter().any(|r| r.contains("builtins.apply")),
        "{:?}",
        top.reasons
    );
    assert!(w
        .risks
        .iter()
        .any(|r| r.subject == "pkg:npm/lodash@4.17.11" && r.level >= Severity::Medium));

    let bom = cyclonedx::bom(&r, "2026-11-22T00:00:00Z");
    validate_cyclonedx(&bom);
    let comps = bom["components"].as_array().unwrap();
    let ml: Vec<_> = comps
        .iter()
        .filter(|c| c["type"] == "machine-learning-model")
        .collect();
    assert!(ml
        .iter()
        .any(|c| c["purl"] == "pkg:huggingface/acme/tiny-bert@abc123"
            && c["modelCard"]["modelParameters"]["task"] == "text-classification"
            && c["modelCard"]["modelParameters"]["datasets"][0]["ref"] == "data:acme/reviews"));
    assert!(comps
        .iter()
        .any(|c| c["type"] == "data" && c["name"] == "acme/reviews"));
    assert!(comps
        .iter()
        .any(|c| c["purl"] == "pkg:pypi/langchain@0.0.171" && c["type"] == "framework"));
    assert_eq!(bom["services"].as_array().unwrap().len(), 3);
    assert!(bom["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["id"] == "GHSA-jf85-cpcp-j695" && v["ratings"][0]["severity"] == "critical"));
}

/// The CycloneDX document's shape, pinned (paths and the serial number redacted).
#[test]
fn cyclonedx_golden() {
    let root = tmpdir("golden");
    app(&root);
    let r = run(std::slice::from_ref(&root));
    let bom = cyclonedx::bom(&r, "2026-11-22T00:00:00Z");
    validate_cyclonedx(&bom);
    let text = serde_json::to_string_pretty(&bom)
        .unwrap()
        .replace(&root.display().to_string(), "[ROOT]");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["serialNumber"] = "[serial]".into();
    v["metadata"]["tools"]["components"][0]["version"] = "[version]".into();
    insta::assert_json_snapshot!("aibom", sorted(v));
}

/// Keys in one order whatever serde_json's map order (the workspace build preserves
/// insertion order, a single-crate build sorts).
fn sorted(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let b: std::collections::BTreeMap<String, serde_json::Value> =
                m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            serde_json::Value::Object(b.into_iter().collect())
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

#[test]
fn a_target_that_does_not_exist_is_an_error() {
    let e = inventory(
        &[PathBuf::from("/nonexistent/parapet")],
        &Options::default(),
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/parapet"), "{e}");
}

fn gguf() -> Vec<u8> {
    let mut g = b"GGUF".to_vec();
    g.extend_from_slice(&3u32.to_le_bytes()); // version
    g.extend_from_slice(&0u64.to_le_bytes()); // tensors
    g.extend_from_slice(&1u64.to_le_bytes()); // metadata entries
    let key = b"general.architecture";
    g.extend_from_slice(&(key.len() as u64).to_le_bytes());
    g.extend_from_slice(key);
    g.extend_from_slice(&8u32.to_le_bytes()); // string
    g.extend_from_slice(&5u64.to_le_bytes());
    g.extend_from_slice(b"llama");
    g
}

#[test]
fn ollama_manifests_name_their_blobs() {
    let root = tmpdir("ollama");
    let models = root.join(".ollama/models");
    let blob = gguf();
    let digest = sha256(&blob);
    write(&models.join(format!("blobs/sha256-{digest}")), &blob);
    write(&models.join("blobs/sha256-0000license"), "MIT\n");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:cfg"},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": format!("sha256:{digest}"), "size": blob.len()},
            {"mediaType": "application/vnd.ollama.image.license", "digest": "sha256:0000license", "size": 4}
        ]
    });
    write(
        &models.join("manifests/registry.ollama.ai/library/tiny/latest"),
        serde_json::to_vec(&manifest).unwrap(),
    );
    let r = inventory(std::slice::from_ref(&root), &Options::default(), None).unwrap();
    let w = &r.workloads[0];
    assert_eq!(w.models.len(), 1, "{:#?}", w.models);
    let m = &w.models[0];
    assert_eq!(
        (m.name.as_str(), m.origin.as_str()),
        ("library/tiny:latest", "ollama")
    );
    assert_eq!(
        m.card.get("registry").map(String::as_str),
        Some("registry.ollama.ai")
    );
    assert_eq!(m.files[0].scan.format, "gguf");
    assert_eq!(
        m.card.get("architecture").map(String::as_str),
        Some("llama")
    );
    assert_eq!(
        m.files[0].sha256.as_deref(),
        Some(digest.as_str()),
        "the blob's name is its digest"
    );
    validate_cyclonedx(&cyclonedx::bom(&r, "2026-11-22T00:00:00Z"));
}
