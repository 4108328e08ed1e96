//! The public malicious and benign corpus: every malicious file caught, no benign file
//! flagged, and every global picklescan reports is reported here too.

use parapet_modelscan::{render, scan_file, scan_paths, Options, Verdict};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pickles")
}

fn rows(file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(corpus().join(file)).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            // the CSVs quote only the last columns; split the first four plainly
            let mut cols = Vec::new();
            let mut rest = l;
            for _ in 0..4 {
                match rest.split_once(',') {
                    Some((a, b)) if !a.starts_with('"') => {
                        cols.push(a.to_string());
                        rest = b;
                    }
                    _ => break,
                }
            }
            cols.push(rest.to_string());
            cols
        })
        .collect()
}

#[test]
fn every_malicious_file_is_caught_and_no_benign_file_is_flagged() {
    let opts = Options::default();
    let mut checked = 0;
    for row in rows("labels.csv") {
        let (file, label) = (&row[0], &row[1]);
        let report = scan_file(&corpus().join(file), file, &opts).unwrap();
        let verdict = report.as_ref().map(|r| r.verdict).unwrap_or(Verdict::Clean);
        match label.as_str() {
            "malicious" => assert_eq!(verdict, Verdict::Malicious, "{file}: {report:#?}"),
            "benign" => assert!(verdict <= Verdict::Unknown, "{file} flagged: {report:#?}"),
            other => panic!("label {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 46);
}

#[test]
fn globals_picklescan_reports_are_reported_with_offsets() {
    let opts = Options::default();
    for row in rows("expected-globals.csv") {
        let (file, dangerous) = (&row[0], &row[2]);
        if dangerous.is_empty() {
            continue;
        }
        let report = scan_file(&corpus().join(file), file, &opts)
            .unwrap()
            .unwrap();
        let subjects: Vec<&str> = report.findings.iter().map(|f| f.subject.as_str()).collect();
        for g in dangerous.split(';') {
            if g == "_rebuild_tensor.unknown" {
                // picklescan's name for the module override; we report the mechanism
                assert!(
                    report.findings.iter().any(|f| f.kind == "attribute-write"),
                    "{file}"
                );
                assert!(
                    report
                        .findings
                        .iter()
                        .any(|f| f.kind == "unresolvable-global"),
                    "{file}"
                );
                continue;
            }
            let g = g
                .replace("__builtin__.", "builtins.")
                .replace("httplib.", "http.client.");
            assert!(
                subjects.contains(&g.as_str()),
                "{file}: {g} not in {subjects:?}"
            );
        }
        for f in &report.findings {
            if f.kind == "global" {
                assert!(f.offset.is_some(), "{file}: {f:?}");
                assert!(!f.why.is_empty());
            }
        }
    }
}

#[test]
fn container_quirks_are_read_as_torch_reads_them() {
    let opts = Options::default();
    let scan = |f: &str| scan_file(&corpus().join(f), f, &opts).unwrap().unwrap();
    // the central-directory quirk picklescan tests
    let r = scan("malicious1_central_directory.zip");
    assert_eq!(r.findings[0].member.as_deref(), Some("data.pkl"));
    // the encryption flag bit alone does not stop the scan; real encryption is unknown
    assert_eq!(scan("malicious1_0x1.zip").verdict, Verdict::Malicious);
    let enc = scan("benign_password_protected.zip");
    assert_eq!(enc.verdict, Verdict::Unknown);
    assert!(enc.unknown[0].contains("encrypted"), "{enc:?}");
    // legacy PyTorch: five pickles, then tensor bytes that are never read
    let legacy = scan("pytorch_model.bin");
    assert_eq!(legacy.format, "pytorch-legacy");
    assert_eq!(legacy.verdict, Verdict::Clean);
    assert!(legacy
        .notes
        .iter()
        .any(|n| n.contains("tensor data, not read")));
    // zip-format PyTorch: data.pkl emulated, storages skipped
    let zip = scan("new_pytorch_model.bin");
    assert_eq!(
        (zip.format.as_str(), zip.verdict),
        ("pytorch-zip", Verdict::Clean)
    );
    assert_eq!(zip.info["tensor_storages"], 1);
    // 7z
    assert_eq!(scan("malicious1.7z").findings[0].subject, "builtins.eval");
    // content no model format matches, under model names: unknown, never clean
    for f in ["bad_pytorch.pt", "not_a_pickle.bin"] {
        let r = scan(f);
        assert_eq!(
            (r.format.as_str(), r.verdict),
            ("unrecognised", Verdict::Unknown),
            "{f}"
        );
    }
}

#[test]
fn directory_report_is_stable() {
    let opts = Options::default();
    let dir = Path::new("tests/data/pickles");
    let report = scan_paths(&[dir.to_path_buf()], &opts, None);
    assert_eq!(report.summary.malicious, 38);
    assert_eq!(report.summary.suspicious, 0);
    insta::assert_snapshot!("corpus_text", render::text(&report, false));
    let picked: Vec<_> = report
        .files
        .iter()
        .filter(|f| {
            [
                "malicious12.pkl",
                "sys_module_override_sploit.pkl",
                "pytorch_model.bin",
            ]
            .iter()
            .any(|n| f.path.ends_with(n))
        })
        .cloned()
        .collect();
    let sub = parapet_modelscan::ScanReport {
        files: picked,
        ..report.clone()
    };
    insta::assert_snapshot!("corpus_json", render::json(&sub));
    let sarif: serde_json::Value = serde_json::from_str(&render::sarif(&report)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["runs"][0]["results"].as_array().unwrap().len() >= 38);
}
