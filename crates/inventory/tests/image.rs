//! Images built here, layer by layer: a `docker save` tarball, an OCI image layout
//! directory and an OCI archive (gzipped layers), with whiteouts and an opaque directory.

mod common;

use common::*;
use parapet_inventory::{cyclonedx, inventory, Options, Workload};
use parapet_modelscan::Verdict;
use serde_json::json;
use std::path::Path;

const SITE: &str = "usr/local/lib/python3.11/site-packages";

fn metadata(name: &str, version: &str) -> Vec<u8> {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: BSD-3-Clause\n\n")
        .into_bytes()
}

/// Three layers: a base with packages and a model, an update that deletes the model
/// and a package (whiteouts) and adds code, and one that empties a directory (opaque)
/// and drops a malicious pickle.
fn layers() -> Vec<Vec<u8>> {
    let torch = metadata("torch", "2.3.1");
    let openai = metadata("openai", "1.3.0");
    let evil = evil_pickle();
    let st = safetensors();
    let base = tar(&[
        Member::Dir("usr/"),
        Member::File(&format!("{SITE}/torch-2.3.1.dist-info/METADATA"), &torch),
        Member::File(&format!("{SITE}/openai-1.3.0.dist-info/METADATA"), &openai),
        Member::File("app/old_model.pkl", &evil),
        Member::File("app/cache/stale.pkl", &evil),
        Member::File("app/model.safetensors", &st),
        Member::Symlink("app/current.safetensors", "/app/model.safetensors"),
    ]);
    let update = tar(&[
        Member::File("app/.wh.old_model.pkl", b""),
        Member::File(&format!("{SITE}/.wh.openai-1.3.0.dist-info"), b""),
        Member::File(
            "app/main.py",
            b"import anthropic\nclient = anthropic.Anthropic()\n",
        ),
    ]);
    let last = tar(&[
        Member::Dir("app/cache/"),
        Member::File("app/cache/.wh..wh..opq", b""),
        Member::File("app/cache/evil.pkl", &evil),
    ]);
    vec![base, update, last]
}

fn config(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "ExposedPorts": {"8000/tcp": {}},
            "Env": ["PATH=/usr/bin", "OPENAI_API_KEY=sk-test-not-a-real-key-0123456789"],
            "Cmd": ["vllm", "serve", "acme/model", "--host", "0.0.0.0", "--port", "8000"]
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created_by": "ADD base"},
            {"created_by": "ENV PATH=/usr/bin", "empty_layer": true},
            {"created_by": "RUN pip uninstall openai && COPY app"},
            {"created_by": "COPY cache"}
        ]
    }))
    .unwrap()
}

fn docker_save(dir: &Path) -> std::path::PathBuf {
    let layers = layers();
    let ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256(l)))
        .collect();
    let cfg = config(&ids);
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("layer{i}/layer.tar"))
        .collect();
    let manifest = serde_json::to_vec(&json!([{
        "Config": "config.json", "RepoTags": ["acme/inference:1.0"], "Layers": names
    }]))
    .unwrap();
    let mut members = vec![
        Member::File("manifest.json", &manifest),
        Member::File("config.json", &cfg),
    ];
    for (n, l) in names.iter().zip(&layers) {
        members.push(Member::File(n, l));
    }
    let p = dir.join("image.tar");
    std::fs::write(&p, tar(&members)).unwrap();
    p
}

/// An OCI layout: gzipped layers, manifest and config addressed by digest.
fn oci_layout(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("layout");
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let h = sha256(data);
        std::fs::write(blobs.join(&h), data).unwrap();
        (format!("sha256:{h}"), data.len())
    };
    let raw = layers();
    let ids: Vec<String> = raw
        .iter()
        .map(|l| format!("sha256:{}", sha256(l)))
        .collect();
    let (cfg_digest, cfg_size) = put(&config(&ids));
    let layer_descs: Vec<_> = raw
        .iter()
        .map(|l| {
            let (d, s) = put(&gzip(l));
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s})
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": cfg_size},
        "layers": layer_descs
    }))
    .unwrap();
    let (m_digest, m_size) = put(&manifest);
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("index.json"),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_digest, "size": m_size,
                "annotations": {"org.opencontainers.image.ref.name": "acme/inference:oci"}}]
        }))
        .unwrap(),
    )
    .unwrap();
    root
}

fn check(w: &Workload) {
    let names: Vec<&str> = w.packages.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(names, vec!["torch"], "openai was whited out in layer 1");
    assert_eq!(
        w.packages[0].evidence[0].at.layer.as_ref().unwrap().index,
        0
    );
    assert!(w.packages[0].evidence[0]
        .at
        .path
        .starts_with("/usr/local/lib/python3.11/site-packages/"));

    let model = |n: &str| w.models.iter().find(|m| m.name == n);
    assert!(model("old_model.pkl").is_none(), "deleted by a whiteout");
    assert!(
        model("stale.pkl").is_none(),
        "removed by the opaque directory"
    );
    let evil = model("evil.pkl").expect("evil.pkl");
    assert_eq!(evil.verdict(), Verdict::Malicious);
    assert_eq!(evil.files[0].at.path, "/app/cache/evil.pkl");
    assert_eq!(
        evil.files[0].at.layer.as_ref().unwrap().index,
        2,
        "attributed to the layer that added it"
    );
    let st = model("model.safetensors").expect("safetensors");
    assert_eq!(st.files[0].at.layer.as_ref().unwrap().index, 0);
    assert_eq!(
        w.models.len(),
        2,
        "{:?}",
        w.models.iter().map(|m| &m.name).collect::<Vec<_>>()
    );

    assert_eq!(w.layers.len(), 3);
    assert_eq!(w.layers[1].whiteouts, 2);
    assert_eq!(w.layers[2].whiteouts, 1);
    assert_eq!(
        w.layers[1].created_by.as_deref(),
        Some("RUN pip uninstall openai && COPY app")
    );

    assert_eq!(w.services.len(), 1);
    assert_eq!(w.services[0].id, "anthropic");
    assert_eq!(
        w.services[0].evidence[0].at.layer.as_ref().unwrap().index,
        1
    );
    let kinds: Vec<&str> = w.exposures.iter().map(|e| e.kind.as_str()).collect();
    for k in [
        "image-exposed-port",
        "server-command",
        "credential-in-image",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let vllm = w
        .exposures
        .iter()
        .find(|e| e.kind == "server-command")
        .unwrap();
    assert!(
        vllm.detail.contains("vLLM") && vllm.detail.contains("all interfaces"),
        "{}",
        vllm.detail
    );
    assert_eq!(w.risks[0].subject, "evil.pkl");
}

fn no_secret(r: &parapet_inventory::Report) {
    let everything = format!(
        "{}{}{}",
        serde_json::to_string(r).unwrap(),
        parapet_inventory::render::text(r),
        cyclonedx::bom(r, "2026-11-22T00:00:00Z")
    );
    assert!(
        !everything.contains("sk-test-not-a-real-key"),
        "a secret reached the output"
    );
}

#[test]
fn docker_save_tarball() {
    let dir = tmpdir("image-docker");
    let p = docker_save(&dir);
    let r = inventory(&[p], &Options::default(), None).unwrap();
    let w = &r.workloads[0];
    assert_eq!(w.kind, "docker-archive");
    assert_eq!(w.image.as_deref(), Some("acme/inference:1.0"));
    check(w);
    no_secret(&r);
    validate_cyclonedx(&cyclonedx::bom(&r, "2026-11-22T00:00:00Z"));
}

#[test]
fn oci_layout_directory_and_archive() {
    let dir = tmpdir("image-oci");
    let layout = oci_layout(&dir);
    let r = inventory(std::slice::from_ref(&layout), &Options::default(), None).unwrap();
    let w = &r.workloads[0];
    assert_eq!(w.kind, "oci-layout");
    assert_eq!(w.image.as_deref(), Some("acme/inference:oci"));
    check(w);
    assert!(w.layers[0].digest.starts_with("sha256:"));
    no_secret(&r);

    // the same layout as a gzipped OCI archive
    let mut members_data: Vec<(String, Vec<u8>)> = Vec::new();
    for e in ["oci-layout", "index.json"] {
        members_data.push((e.to_string(), std::fs::read(layout.join(e)).unwrap()));
    }
    for b in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let b = b.unwrap();
        members_data.push((
            format!("blobs/sha256/{}", b.file_name().to_string_lossy()),
            std::fs::read(b.path()).unwrap(),
        ));
    }
    let members: Vec<Member> = members_data
        .iter()
        .map(|(n, d)| Member::File(n, d))
        .collect();
    let archive = dir.join("image.tar.gz");
    std::fs::write(&archive, gzip(&tar(&members))).unwrap();
    let r = inventory(&[archive], &Options::default(), None).unwrap();
    assert_eq!(r.workloads[0].kind, "oci-archive");
    check(&r.workloads[0]);
}

#[test]
fn a_tampered_manifest_is_refused() {
    let dir = tmpdir("image-tamper");
    let layout = oci_layout(&dir);
    // flip the config blob: its digest no longer matches
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let m = idx["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let mpath = layout.join("blobs/sha256").join(m);
    let mut data = std::fs::read(&mpath).unwrap();
    data.push(b' ');
    std::fs::write(&mpath, data).unwrap();
    let e = inventory(&[layout], &Options::default(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not match its digest"), "{e}");
}
