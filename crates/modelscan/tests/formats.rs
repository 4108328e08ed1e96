//! Formats read by header and the containers around them, on files built here.

use parapet_modelscan::{scan_file, FileReport, Options, Verdict};
use std::io::Write;

const EVIL: &[u8] = b"cposix\nsystem\n(S'id'\ntR.";

fn scan_bytes(name: &str, data: &[u8]) -> Option<FileReport> {
    let dir = std::env::temp_dir().join(format!("parapet-ms-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    let r = scan_file(&path, name, &Options::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    r
}

fn local(name: &str, data: &[u8], flags: u16, sizes_in_header: bool) -> Vec<u8> {
    let mut v = b"PK\x03\x04\x14\x00".to_vec();
    v.extend(flags.to_le_bytes());
    v.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // method stored, time, date, crc
    let n = if sizes_in_header {
        data.len() as u32
    } else {
        0
    };
    v.extend(n.to_le_bytes());
    v.extend(n.to_le_bytes());
    v.extend((name.len() as u16).to_le_bytes());
    v.extend(0u16.to_le_bytes());
    v.extend(name.as_bytes());
    v.extend(data);
    if !sizes_in_header {
        v.extend(b"PK\x07\x08\0\0\0\0");
        v.extend((data.len() as u32).to_le_bytes());
        v.extend((data.len() as u32).to_le_bytes());
    }
    v
}

fn central(entries: &[(&str, usize, u32)], cd_at: usize) -> Vec<u8> {
    let mut cd = Vec::new();
    for (name, len, off) in entries {
        cd.extend(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\0\0\0\0\0\0\0\0");
        cd.extend((*len as u32).to_le_bytes());
        cd.extend((*len as u32).to_le_bytes());
        cd.extend((name.len() as u16).to_le_bytes());
        cd.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        cd.extend(off.to_le_bytes());
        cd.extend(name.as_bytes());
    }
    let mut end = b"PK\x05\x06\0\0\0\0".to_vec();
    end.extend((entries.len() as u16).to_le_bytes());
    end.extend((entries.len() as u16).to_le_bytes());
    end.extend((cd.len() as u32).to_le_bytes());
    end.extend((cd_at as u32).to_le_bytes());
    end.extend([0, 0]);
    cd.extend(end);
    cd
}

#[test]
fn zip_members_hidden_from_the_central_directory_are_scanned() {
    let benign = b"\x80\x02]q\x00.";
    let mut z = local("archive/data.pkl", benign, 0, true);
    let hidden_at = z.len();
    z.extend(local("archive/extra.pkl", EVIL, 0x8, false));
    let cd_at = z.len();
    z.extend(central(&[("archive/data.pkl", benign.len(), 0)], cd_at));
    let _ = hidden_at;
    let r = scan_bytes("model.pt", &z).unwrap();
    assert_eq!(r.verdict, Verdict::Malicious, "{r:#?}");
    assert_eq!(r.findings[0].member.as_deref(), Some("archive/extra.pkl"));
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("only by their local headers")),
        "{r:#?}"
    );
}

#[test]
fn tar_and_gzip_members_are_scanned_with_their_paths() {
    let mut tar = vec![0u8; 512];
    tar[..13].copy_from_slice(b"models/a.pkl\0");
    tar[100..108].copy_from_slice(b"0000644\0");
    tar[124..136].copy_from_slice(format!("{:011o}\0", EVIL.len()).as_bytes());
    tar[156] = b'0';
    tar[257..263].copy_from_slice(b"ustar\0");
    tar[148..156].copy_from_slice(b"        ");
    let sum: u32 = tar.iter().map(|&b| u32::from(b)).sum();
    tar[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    tar.extend(EVIL);
    tar.resize(512 + 512, 0);
    tar.extend([0u8; 1024]);
    let r = scan_bytes("bundle.tar", &tar).unwrap();
    assert_eq!((r.format.as_str(), r.verdict), ("tar", Verdict::Malicious));
    assert_eq!(r.findings[0].member.as_deref(), Some("models/a.pkl"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let r = scan_bytes("bundle.tar.gz", &gz.finish().unwrap()).unwrap();
    assert_eq!(r.verdict, Verdict::Malicious);
    // truncated gzip: what decompresses is still scanned, and said so
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(EVIL).unwrap();
    let mut data = gz.finish().unwrap();
    data.truncate(data.len() - 6);
    let r = scan_bytes("x.pkl.gz", &data).unwrap();
    assert_eq!(r.verdict, Verdict::Malicious, "{r:#?}");
}

#[test]
fn safetensors_header_is_read_and_lies_are_reported() {
    let header = br#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend(header);
    f.extend([0u8; 16]);
    let r = scan_bytes("model.safetensors", &f).unwrap();
    assert_eq!(
        (r.format.as_str(), r.verdict),
        ("safetensors", Verdict::Clean)
    );
    assert_eq!(r.info["parameters"], 4);
    assert_eq!(r.info["metadata"]["format"], "pt");
    // offsets past the end: unknown with the reason
    let bad = br#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,1600]}}"#;
    let mut f = (bad.len() as u64).to_le_bytes().to_vec();
    f.extend(bad);
    f.extend([0u8; 16]);
    let r = scan_bytes("bad.safetensors", &f).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.unknown[0].contains("outside"), "{r:?}");
}

fn gguf_string(v: &mut Vec<u8>, s: &str) {
    v.extend((s.len() as u64).to_le_bytes());
    v.extend(s.as_bytes());
}

#[test]
fn gguf_metadata_and_template_injection() {
    let mut g = b"GGUF".to_vec();
    g.extend(3u32.to_le_bytes());
    g.extend(1u64.to_le_bytes()); // tensors
    g.extend(4u64.to_le_bytes()); // kvs
    gguf_string(&mut g, "general.architecture");
    g.extend(8u32.to_le_bytes());
    gguf_string(&mut g, "llama");
    gguf_string(&mut g, "general.file_type");
    g.extend(4u32.to_le_bytes());
    g.extend(15u32.to_le_bytes());
    gguf_string(&mut g, "tokenizer.ggml.tokens");
    g.extend(9u32.to_le_bytes());
    g.extend(8u32.to_le_bytes());
    g.extend(2u64.to_le_bytes());
    gguf_string(&mut g, "a");
    gguf_string(&mut g, "b");
    gguf_string(&mut g, "tokenizer.chat_template");
    g.extend(8u32.to_le_bytes());
    gguf_string(
        &mut g,
        "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id') }}",
    );
    gguf_string(&mut g, "tok_embd.weight");
    g.extend(2u32.to_le_bytes());
    g.extend(4096u64.to_le_bytes());
    g.extend(32000u64.to_le_bytes());
    g.extend(12u32.to_le_bytes());
    g.extend(0u64.to_le_bytes());
    let r = scan_bytes("model.gguf", &g).unwrap();
    assert_eq!(r.format, "gguf");
    assert_eq!(r.info["architecture"], "llama");
    assert_eq!(r.info["quantization"], "Q4_K_M");
    assert_eq!(r.info["parameters"], 4096 * 32000);
    assert_eq!(r.verdict, Verdict::Malicious);
    assert_eq!(r.findings[0].kind, "template-injection");
    // truncated inside the key-values: unknown, with the offset
    let r = scan_bytes("cut.gguf", &g[..40]).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.unknown[0].contains("offset"), "{r:?}");
}

#[test]
fn numpy_object_arrays_are_pickles() {
    let header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
    let mut f = b"\x93NUMPY\x01\x00".to_vec();
    f.extend((header.len() as u16).to_le_bytes());
    f.extend(header.as_bytes());
    f.extend(EVIL);
    let r = scan_bytes("arr.npy", &f).unwrap();
    assert_eq!(
        (r.format.as_str(), r.verdict),
        ("numpy", Verdict::Malicious)
    );
    let plain = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
    let mut f = b"\x93NUMPY\x01\x00".to_vec();
    f.extend((plain.len() as u16).to_le_bytes());
    f.extend(plain.as_bytes());
    f.extend(b"cos\nsystem\n");
    assert_eq!(scan_bytes("f.npy", &f).unwrap().verdict, Verdict::Clean);
}

#[test]
fn keras_archives_with_lambda_layers_are_flagged() {
    let cfg = br#"{"class_name": "Functional", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "pwn", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMOAAAAdABkAYMBoAF8AKEBUwApAk7aAm9zKQLaCl9faW1wb3J0X1/aBnN5c3RlbSkB2gF4qQByBAAAAPoBPNoIPGxhbWJkYT4BAAAA8wAAAAA="}}}}]}}"#;
    let mut z = local("config.json", cfg, 0, true);
    let second = z.len();
    z.extend(local("metadata.json", b"{}", 0, true));
    let cd_at = z.len();
    z.extend(central(
        &[
            ("config.json", cfg.len(), 0),
            ("metadata.json", 2, second as u32),
        ],
        cd_at,
    ));
    let r = scan_bytes("m.keras", &z).unwrap();
    assert_eq!(r.format, "keras");
    assert_eq!(r.verdict, Verdict::Malicious, "{r:#?}");
    assert_eq!(r.findings[0].kind, "keras-lambda");
}

fn pb_len(field: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![((field << 3) | 2) as u8];
    let mut n = body.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(b);
            break;
        }
        v.push(b | 0x80);
    }
    v.extend(body);
    v
}

#[test]
fn onnx_external_data_outside_the_model_dir_is_malicious() {
    let entry = [pb_len(1, b"location"), pb_len(2, b"../../../etc/passwd")].concat();
    let tensor = [vec![0x08, 0x04], pb_len(8, b"w"), pb_len(13, &entry)].concat();
    let node = [pb_len(4, b"MyOp"), pb_len(7, b"evil.domain")].concat();
    let graph = [pb_len(1, &node), pb_len(5, &tensor)].concat();
    let model = [vec![0x08, 0x08], pb_len(2, b"test"), pb_len(7, &graph)].concat();
    let r = scan_bytes("m.onnx", &model).unwrap();
    assert_eq!(r.format, "onnx");
    assert_eq!(r.verdict, Verdict::Malicious, "{r:#?}");
    let kinds: Vec<&str> = r.findings.iter().map(|f| f.kind.as_str()).collect();
    assert!(
        kinds.contains(&"path-traversal") && kinds.contains(&"custom-operator"),
        "{kinds:?}"
    );
}

#[test]
fn non_models_are_not_reported_and_compressed_unknowns_say_why() {
    assert!(scan_bytes("notes.txt", b"hello world\n").is_none());
    let r = scan_bytes("model.joblib", b"BZh91AY&SY....").unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.unknown[0].contains("bzip2"));
}

#[test]
fn xz_and_lzma_streams_are_opened() {
    // written by Python's lzma module, as joblib's compress=("xz"|"lzma") does
    for f in ["evil.pkl.xz", "evil.pkl.lzma"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(f);
        let r = scan_file(&path, f, &Options::default()).unwrap().unwrap();
        assert_eq!(r.verdict, Verdict::Malicious, "{f}: {r:#?}");
        assert_eq!(r.findings[0].subject, "posix.system");
    }
}
