//! GGUF (llama.cpp, ollama): key-value metadata and tensor infos. The weights cannot run
//! code, but the chat template is Jinja that some loaders render unsandboxed
//! (CVE-2024-34359 in llama-cpp-python), so templates reaching Python internals are
//! flagged.

use super::{clip, Analysis};
use crate::blob::{Cursor, ReadAt, ReadError};
use crate::{Finding, Severity};
use serde_json::{json, Value};

pub const MAGIC: &[u8; 4] = b"GGUF";
const MAX_STRING: u64 = 64 << 20;
const MAX_COUNT: u64 = 100_000_000;

/// Why a GGUF header cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("not GGUF")]
    Magic,
    #[error("unsupported GGUF version {0}")]
    Version(u32),
    #[error("{tensors} tensors and {keys} keys: not plausible")]
    Counts { tensors: u64, keys: u64 },
    #[error("string of {len} bytes at offset {at}")]
    String { len: u64, at: u64 },
    #[error("arrays nested too deep")]
    Nested,
    #[error("array of {0} items")]
    Array(u64),
    #[error("unknown value type {ty} at offset {at}")]
    ValueType { ty: u32, at: u64 },
    #[error("tensor with {dims} dimensions at offset {at}")]
    Dimensions { dims: u32, at: u64 },
}

pub fn read(src: &dyn ReadAt) -> Analysis {
    let mut out = Analysis::default();
    match parse(src, &mut out) {
        Ok(()) => out,
        Err(e) => Analysis {
            unknown: vec![crate::because(&e)],
            ..out
        },
    }
}

fn string(c: &mut Cursor, v1: bool) -> Result<String, GgufError> {
    let n = if v1 { u64::from(c.u32()?) } else { c.u64()? };
    if n > MAX_STRING {
        return Err(GgufError::String { len: n, at: c.pos });
    }
    Ok(String::from_utf8_lossy(c.take(n as usize)?).into_owned())
}

/// Read one value; keep scalars and strings, skip arrays (token tables are huge).
fn value(c: &mut Cursor, ty: u32, v1: bool, depth: u8) -> Result<Option<Value>, GgufError> {
    let fixed =
        |c: &mut Cursor, n: usize| -> Result<Vec<u8>, ReadError> { Ok(c.take(n)?.to_vec()) };
    Ok(Some(match ty {
        0 => json!(c.u8()?),
        1 => json!(c.u8()? as i8),
        2 => json!(u16::from_le_bytes(fixed(c, 2)?.try_into().expect("2"))),
        3 => json!(i16::from_le_bytes(fixed(c, 2)?.try_into().expect("2"))),
        4 => json!(c.u32()?),
        5 => json!(c.u32()? as i32),
        6 => json!(f32::from_le_bytes(fixed(c, 4)?.try_into().expect("4"))),
        7 => json!(c.u8()? != 0),
        8 => Value::String(string(c, v1)?),
        9 => {
            if depth > 2 {
                return Err(GgufError::Nested);
            }
            let inner = c.u32()?;
            let n = if v1 { u64::from(c.u32()?) } else { c.u64()? };
            if n > MAX_COUNT {
                return Err(GgufError::Array(n));
            }
            let width = match inner {
                0 | 1 | 7 => Some(1),
                2 | 3 => Some(2),
                4..=6 => Some(4),
                10..=12 => Some(8),
                _ => None,
            };
            match width {
                Some(w) => c.skip(n * w)?,
                None => {
                    for _ in 0..n {
                        value(c, inner, v1, depth + 1)?;
                    }
                }
            }
            return Ok(None);
        }
        10 => json!(c.u64()?),
        11 => json!(c.u64()? as i64),
        12 => json!(f64::from_le_bytes(fixed(c, 8)?.try_into().expect("8"))),
        t => return Err(GgufError::ValueType { ty: t, at: c.pos }),
    }))
}

fn parse(src: &dyn ReadAt, out: &mut Analysis) -> Result<(), GgufError> {
    let mut c = Cursor::new(src, 0);
    if c.take(4)? != MAGIC {
        return Err(GgufError::Magic);
    }
    let version = c.u32()?;
    if !(1..=3).contains(&version) {
        return Err(GgufError::Version(version));
    }
    let v1 = version == 1;
    let (tensors, kvs) = if v1 {
        (u64::from(c.u32()?), u64::from(c.u32()?))
    } else {
        (c.u64()?, c.u64()?)
    };
    if tensors > MAX_COUNT || kvs > MAX_COUNT {
        return Err(GgufError::Counts { tensors, keys: kvs });
    }
    out.info.insert("gguf_version".into(), json!(version));
    let mut arch = None;
    for _ in 0..kvs {
        let key = string(&mut c, v1)?;
        let ty = c.u32()?;
        let Some(v) = value(&mut c, ty, v1, 0)? else {
            continue;
        };
        match key.as_str() {
            "general.architecture" => {
                arch = v.as_str().map(str::to_string);
                out.info.insert("architecture".into(), v);
            }
            "general.file_type" => {
                let q = v.as_u64().and_then(file_type).unwrap_or("unknown");
                out.info.insert("quantization".into(), json!(q));
            }
            "tokenizer.chat_template" => {
                if let Some(t) = v.as_str() {
                    template_findings(t, out);
                }
                out.info.insert("chat_template".into(), json!(true));
            }
            "general.name"
            | "general.basename"
            | "general.size_label"
            | "general.license"
            | "general.organization"
            | "general.finetune"
            | "general.version"
            | "general.source.url"
            | "general.url"
            | "general.repo_url" => {
                let short = key.trim_start_matches("general.").replace('.', "_");
                let v = v.as_str().map(clip).map(Value::String).unwrap_or(v);
                out.info.insert(short, v);
            }
            k if arch
                .as_deref()
                .is_some_and(|a| k == format!("{a}.context_length")) =>
            {
                out.info.insert("context_length".into(), v);
            }
            _ => {}
        }
    }
    let mut params: u64 = 0;
    for _ in 0..tensors {
        string(&mut c, v1)?;
        let dims = c.u32()?;
        if dims > 8 {
            return Err(GgufError::Dimensions { dims, at: c.pos });
        }
        let mut n: u64 = 1;
        for _ in 0..dims {
            n = n.saturating_mul(c.u64()?);
        }
        c.u32()?;
        c.u64()?;
        params = params.saturating_add(n);
    }
    out.info.insert("tensors".into(), json!(tensors));
    out.info.insert("parameters".into(), json!(params));
    Ok(())
}

/// Template constructs that reach Python objects behind the template engine.
fn template_findings(t: &str, out: &mut Analysis) {
    const PROBES: [&str; 12] = [
        "__class__",
        "__mro__",
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__import__",
        "__init__",
        "__base__",
        "__getattribute__",
        "os.popen",
        "subprocess",
        "|attr(",
    ];
    let hits: Vec<&str> = PROBES.iter().copied().filter(|p| t.contains(p)).collect();
    if !hits.is_empty() {
        out.findings.push(Finding {
            severity: Severity::Malicious,
            kind: "template-injection".into(),
            subject: "tokenizer.chat_template".into(),
            offset: None,
            member: None,
            why: format!(
                "the chat template reaches Python internals ({}): rendered by an unsandboxed \
                 Jinja engine it runs code (CVE-2024-34359)",
                hits.join(", ")
            ),
            evidence: None,
        });
    }
}

fn file_type(t: u64) -> Option<&'static str> {
    Some(match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        _ => return None,
    })
}
