//! Keras model configs (`config.json` in `.keras` archives, the `model_config` attribute
//! of `.h5` files): Lambda layers carry marshalled Python bytecode, and config objects can
//! name any module to import.

use super::Analysis;
use crate::globals::{Class, Globals};
use crate::{Finding, Severity};
use serde_json::{json, Value};

pub const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Names in marshalled Lambda code that mean it reaches the host.
const DANGEROUS_NAMES: [&str; 14] = [
    "system",
    "popen",
    "exec",
    "eval",
    "subprocess",
    "__import__",
    "os",
    "socket",
    "open",
    "compile",
    "getattr",
    "builtins",
    "urlopen",
    "requests",
];

/// Modules a Keras config legitimately names.
fn keras_module(m: &str) -> bool {
    let top = m.split('.').next().unwrap_or("");
    matches!(
        top,
        "keras"
            | "tf_keras"
            | "tensorflow"
            | "keras_nlp"
            | "keras_hub"
            | "keras_cv"
            | "tensorflow_addons"
    )
}

pub fn config(cfg: &Value, globals: &Globals, out: &mut Analysis) {
    let mut layers = 0u64;
    walk(cfg, globals, out, &mut layers, 0);
    if let Some(name) = cfg.get("class_name").and_then(Value::as_str) {
        out.info.insert("model_class".into(), json!(name));
    }
    out.info.insert("layers".into(), json!(layers));
}

fn walk(v: &Value, globals: &Globals, out: &mut Analysis, layers: &mut u64, depth: u32) {
    if depth > 200 {
        return;
    }
    match v {
        Value::Object(m) => {
            let class = m.get("class_name").and_then(Value::as_str);
            if class.is_some() && m.contains_key("config") {
                *layers += 1;
            }
            if matches!(class, Some("Lambda")) {
                lambda(m.get("config").unwrap_or(&Value::Null), out);
            }
            if let (Some(module), Some(name)) = (m.get("module").and_then(Value::as_str), class) {
                if !keras_module(module) && module != "builtins" {
                    let (severity, why) = match globals.classify(module, name) {
                        Class::Allowed => (None, String::new()),
                        Class::Denied(why) => (Some(Severity::Malicious), why),
                        Class::Unlisted => (
                            Some(Severity::Suspicious),
                            "a module outside Keras: loading imports it".into(),
                        ),
                    };
                    if let Some(severity) = severity {
                        out.findings.push(Finding {
                            severity,
                            kind: "keras-import".into(),
                            subject: format!("{module}.{name}"),
                            offset: None,
                            member: None,
                            why: format!("the config names {module}.{name}: {why}"),
                            evidence: None,
                        });
                    }
                }
            }
            for x in m.values() {
                walk(x, globals, out, layers, depth + 1);
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, globals, out, layers, depth + 1);
            }
        }
        _ => {}
    }
}

fn lambda(cfg: &Value, out: &mut Analysis) {
    let name = cfg
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    // Keras 3: {"function": {"class_name": "__lambda__", "config": {"code": base64}}};
    // Keras 2: {"function": [base64 code, defaults, closure], "function_type": "lambda"}
    let f = cfg.get("function");
    let code = f
        .and_then(|f| f.pointer("/config/code").or_else(|| f.get(0)))
        .and_then(Value::as_str);
    let decoded = code.map(|c| super::base64_decode(c.trim()));
    let hits: Vec<&str> = decoded
        .as_ref()
        .map(|b| {
            DANGEROUS_NAMES
                .iter()
                .copied()
                .filter(|n| contains_name(b, n.as_bytes()))
                .collect()
        })
        .unwrap_or_default();
    let (severity, why) = if !hits.is_empty() {
        (
            Severity::Malicious,
            format!(
                "Lambda layer {name:?} carries Python bytecode that names {}: it runs when the \
                 model is loaded with safe_mode=False or called",
                hits.join(", ")
            ),
        )
    } else if code.is_some() {
        (
            Severity::Suspicious,
            format!(
                "Lambda layer {name:?} carries marshalled Python bytecode: arbitrary code that \
                 runs with safe_mode=False"
            ),
        )
    } else {
        (
            Severity::Suspicious,
            format!("Lambda layer {name:?} calls a Python function by name"),
        )
    };
    out.findings.push(Finding {
        severity,
        kind: "keras-lambda".into(),
        subject: format!("Lambda layer {name}"),
        offset: None,
        member: None,
        why,
        evidence: None,
    });
}

/// Whole-word match in marshal data (names are stored as short strings).
fn contains_name(hay: &[u8], name: &[u8]) -> bool {
    hay.windows(name.len()).enumerate().any(|(i, w)| {
        w == name
            && !hay
                .get(i + name.len())
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            && (i == 0 || !(hay[i - 1].is_ascii_alphanumeric() || hay[i - 1] == b'_'))
    })
}

/// The Keras JSON configs inside an HDF5 file (attributes are stored as plain bytes).
pub fn configs_in_bytes(data: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    let needle = b"{\"class_name\"";
    let mut i = 0;
    while let Some(p) = find(&data[i..], needle) {
        let start = i + p;
        match balanced_end(&data[start..]) {
            Some(len) => {
                if let Ok(v) = serde_json::from_slice::<Value>(&data[start..start + len]) {
                    out.push(v);
                    i = start + len;
                    continue;
                }
                i = start + 1;
            }
            None => i = start + 1,
        }
        if out.len() >= 16 {
            break;
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Length of a JSON object starting at `b[0] == '{'`, strings respected.
fn balanced_end(b: &[u8]) -> Option<usize> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for (i, &c) in b.iter().enumerate().take(256 << 20) {
        if in_str {
            match c {
                _ if esc => esc = false,
                b'\\' => esc = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            0 => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_bytecode_naming_os_system_is_malicious() {
        // base64 of bytes containing the names "os" and "system"
        let code = "AG9zAHN5c3RlbQA="; // "\0os\0system\0"
        let cfg = json!({"class_name": "Sequential", "config": {"layers": [
            {"class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": code}}}}
        ]}});
        let mut a = Analysis::default();
        config(&cfg, &Globals::default(), &mut a);
        assert_eq!(a.findings.len(), 1);
        assert_eq!(a.findings[0].severity, Severity::Malicious);
        assert!(a.findings[0].why.contains("os, system") || a.findings[0].why.contains("system"));
    }

    #[test]
    fn configs_are_found_inside_binary_bytes() {
        let mut blob = b"\x89HDF\r\n\x1a\n\0\0junk".to_vec();
        blob.extend_from_slice(br#"{"class_name": "Sequential", "config": {"name": "a}b"}}"#);
        blob.extend_from_slice(b"\0\0more");
        let found = configs_in_bytes(&blob);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["config"]["name"], "a}b");
    }
}
