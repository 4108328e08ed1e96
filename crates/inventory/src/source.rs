//! The workload's own code and configuration: which external AI APIs it calls (imports,
//! endpoint hosts, client constructors) and what it exposes (EXPOSE, servers bound to
//! all interfaces, notebooks without a token, public Gradio links, credentials baked
//! into an image). Matched text is never echoed: only what matched and where.

use crate::catalog::{Catalog, ServiceEntry};

pub const SOURCE_EXT: &[&str] = &["py", "ipynb", "js", "mjs", "cjs", "ts", "tsx", "jsx", "mts"];

/// Inside an installed dependency (site-packages, node_modules): not the workload's own
/// files.
pub fn in_dependency(path: &str) -> bool {
    ["site-packages/", "dist-packages/", "node_modules/"]
        .iter()
        .any(|d| path.contains(d))
}

/// Application code: not a dependency's, not the interpreter's standard library.
pub fn is_app_source(path: &str) -> bool {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    SOURCE_EXT.contains(&ext)
        && !in_dependency(path)
        && ![
            ".git/",
            "usr/lib/python",
            "usr/local/lib/python",
            "lib/python3",
            "__pycache__/",
        ]
        .iter()
        .any(|d| path.contains(d) || path.starts_with(d.trim_end_matches('/')))
}

/// (service id, line, what matched).
pub fn api_use(text: &str, is_python: bool, catalog: &Catalog) -> Vec<(String, u32, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let ln = i as u32 + 1;
        let t = line.trim_start();
        // a notebook keeps code in JSON strings: "import openai\n",
        let t = t.trim_start_matches('"');
        for s in &catalog.services {
            if let Some(what) = line_uses(t, line, is_python, s) {
                out.push((s.id.clone(), ln, what));
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0 && a.2 == b.2);
    out
}

fn line_uses(t: &str, line: &str, is_python: bool, s: &ServiceEntry) -> Option<String> {
    if is_python {
        let module = t
            .strip_prefix("import ")
            .map(|r| r.split([',', ' ', '\\', '"']).next().unwrap_or(""))
            .or_else(|| {
                t.strip_prefix("from ")
                    .map(|r| r.split_whitespace().next().unwrap_or(""))
            });
        if let Some(m) = module {
            for p in &s.python {
                if m == p || m.starts_with(&format!("{p}.")) {
                    return Some(format!("import {p}"));
                }
                // `from google import genai`
                if let Some((pkg, sub)) = p.rsplit_once('.') {
                    if m == pkg && t.contains(&format!("import {sub}")) {
                        return Some(format!("import {p}"));
                    }
                }
            }
        }
    } else {
        for js in &s.js {
            for q in ['\'', '"', '`'] {
                let lit = format!("{q}{js}{q}");
                if (t.contains("require(")
                    || t.contains("from ")
                    || t.contains("import(")
                    || t.starts_with("import "))
                    && (line.contains(&lit) || line.contains(&format!("{q}{js}/")))
                {
                    return Some(format!("import {js}"));
                }
            }
        }
    }
    for h in &s.hosts {
        if line.contains(h.as_str()) {
            return Some(format!("endpoint {h}"));
        }
    }
    for suf in &s.host_suffixes {
        if let Some(i) = line.find(suf.as_str()) {
            if line[..i].contains("://") {
                return Some(format!("endpoint *{suf}"));
            }
        }
    }
    for tok in &s.tokens {
        if let Some(i) = line.find(tok.as_str()) {
            let before = line[..i].chars().next_back();
            let after = line[i + tok.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if !word(before) && !word(after) {
                return Some(tok.clone());
            }
        }
    }
    None
}

/// An exposure hint found in a file: (kind, detail, port, weight, line).
pub type Hint = (String, String, Option<u16>, u8, u32);

fn hint(kind: &str, detail: String, port: Option<u16>, weight: u8, line: u32) -> Hint {
    (kind.to_string(), detail, port, weight, line)
}

/// Servers run from a command line, and whether they bind to every interface.
fn command_hints(cmd: &str, line: u32, out: &mut Vec<Hint>) {
    let all = cmd.contains("0.0.0.0")
        || cmd.contains("--ip=*")
        || cmd.contains("--host ::")
        || cmd.contains("--ip *");
    let bind = if all { " bound to all interfaces" } else { "" };
    let servers: &[(&str, &str, u8)] = &[
        ("vllm serve", "vLLM OpenAI-compatible server", 30),
        ("vllm.entrypoints", "vLLM OpenAI-compatible server", 30),
        ("text-generation-launcher", "Hugging Face TGI server", 30),
        ("ollama serve", "ollama server", 30),
        ("jupyter notebook", "Jupyter notebook server", 35),
        ("jupyter lab", "JupyterLab server", 35),
        ("jupyter-lab", "JupyterLab server", 35),
        ("jupyter server", "Jupyter server", 35),
        ("streamlit run", "Streamlit app", 20),
        ("gradio ", "Gradio app", 20),
        ("mlflow server", "MLflow tracking server", 30),
        ("mlflow ui", "MLflow UI", 25),
        (
            "ray start --head",
            "Ray head node (dashboard and job API)",
            35,
        ),
        ("uvicorn ", "ASGI server", 10),
        ("llama-server", "llama.cpp server", 30),
        ("sglang.launch_server", "SGLang server", 30),
        ("litellm", "LiteLLM proxy", 25),
    ];
    for (needle, what, weight) in servers {
        if cmd.contains(needle) {
            let w = if all { weight + 10 } else { *weight };
            out.push(hint(
                "server-command",
                format!("{what}{bind}"),
                port_after(cmd, "--port"),
                w,
                line,
            ));
            return;
        }
    }
    if all {
        out.push(hint(
            "bind-all",
            "a server bound to all interfaces (0.0.0.0)".into(),
            port_after(cmd, "--port"),
            10,
            line,
        ));
    }
}

fn port_after(s: &str, flag: &str) -> Option<u16> {
    let i = s.find(flag)?;
    let rest = s[i + flag.len()..].trim_start_matches(['=', ' ', '"', '\'']);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Exposure hints of one file, chosen by its name.
pub fn exposure(path: &str, text: &str) -> Vec<Hint> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    let mut out = Vec::new();
    let is_dockerfile = lower == "dockerfile"
        || lower == "containerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile");
    if is_dockerfile {
        for (i, l) in text.lines().enumerate() {
            let ln = i as u32 + 1;
            let t = l.trim();
            let upper = t.to_ascii_uppercase();
            if let Some(ports) = upper.strip_prefix("EXPOSE ") {
                for p in ports.split_whitespace() {
                    let num = p.split('/').next().unwrap_or("");
                    out.push(hint(
                        "dockerfile-expose",
                        format!("EXPOSE {p}"),
                        num.parse().ok(),
                        10,
                        ln,
                    ));
                }
            } else if upper.starts_with("CMD ")
                || upper.starts_with("ENTRYPOINT ")
                || upper.starts_with("RUN ") && t.contains("serve")
            {
                command_hints(t, ln, &mut out);
            }
        }
        return out;
    }
    if lower.starts_with("jupyter_")
        && (lower.ends_with("_config.py") || lower.ends_with("_config.json"))
    {
        for (i, l) in text.lines().enumerate() {
            let ln = i as u32 + 1;
            let t = l.trim().replace(' ', "");
            if t.starts_with('#') {
                continue;
            }
            if (t.contains(".ip=") || t.contains("\"ip\":"))
                && (t.contains("'0.0.0.0'")
                    || t.contains("\"0.0.0.0\"")
                    || t.contains("'*'")
                    || t.contains("\"*\""))
            {
                out.push(hint(
                    "jupyter",
                    "Jupyter configured to listen on all interfaces".into(),
                    None,
                    30,
                    ln,
                ));
            }
            if (t.contains(".token=") || t.contains("\"token\":"))
                && (t.ends_with("=''") || t.ends_with("=\"\"") || t.contains("\"token\":\"\""))
            {
                out.push(hint(
                    "jupyter-no-auth",
                    "Jupyter token disabled: anyone who reaches it runs code".into(),
                    None,
                    70,
                    ln,
                ));
            }
            if t.contains("disable_check_xsrf=True") {
                out.push(hint(
                    "jupyter-no-xsrf",
                    "Jupyter XSRF protection disabled".into(),
                    None,
                    30,
                    ln,
                ));
            }
        }
        return out;
    }
    if lower == "config.toml" && path.contains(".streamlit/") {
        for (i, l) in text.lines().enumerate() {
            let t = l.replace(' ', "");
            if t.starts_with("address=") && t.contains("0.0.0.0") {
                out.push(hint(
                    "streamlit",
                    "Streamlit bound to all interfaces".into(),
                    None,
                    20,
                    i as u32 + 1,
                ));
            }
        }
        return out;
    }
    let compose = (lower.starts_with("docker-compose") || lower.starts_with("compose"))
        && (lower.ends_with(".yml") || lower.ends_with(".yaml"));
    if compose {
        let mut in_ports = false;
        for (i, l) in text.lines().enumerate() {
            let t = l.trim();
            if t.starts_with("ports:") {
                in_ports = true;
                continue;
            }
            if in_ports {
                if let Some(item) = t.strip_prefix("- ") {
                    let item = item.trim_matches(['"', '\'']);
                    // "8000:8000", "127.0.0.1:8000:8000" (loopback only), "8000"
                    if item.starts_with("127.0.0.1:") || item.starts_with("localhost:") {
                        continue;
                    }
                    let host_port = item.split(':').rev().nth(1).unwrap_or(item);
                    out.push(hint(
                        "compose-port",
                        format!("published port {item}"),
                        host_port.parse().ok(),
                        15,
                        i as u32 + 1,
                    ));
                    continue;
                }
                in_ports = false;
            }
            if t.starts_with("command:") || t.starts_with("entrypoint:") {
                command_hints(t, i as u32 + 1, &mut out);
            }
        }
        return out;
    }
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if ext == "py" || ext == "ipynb" {
        for (i, l) in text.lines().enumerate() {
            let ln = i as u32 + 1;
            let t = l.replace(' ', "");
            if t.contains(".launch(") && t.contains("share=True") {
                out.push(hint(
                    "gradio-share",
                    "Gradio app published through a public share link".into(),
                    None,
                    40,
                    ln,
                ));
            } else if t.contains(".launch(") && t.contains("server_name=\"0.0.0.0\"") {
                out.push(hint(
                    "gradio",
                    "Gradio app bound to all interfaces".into(),
                    port_after(&t, "server_port"),
                    20,
                    ln,
                ));
            } else if (t.contains("uvicorn.run(") || t.contains(".run("))
                && t.contains("host=\"0.0.0.0\"")
            {
                out.push(hint(
                    "bind-all",
                    "a server bound to all interfaces (0.0.0.0)".into(),
                    port_after(&t, "port"),
                    10,
                    ln,
                ));
            }
        }
    }
    if ext == "sh" || lower == "procfile" || lower == "entrypoint" {
        for (i, l) in text.lines().enumerate() {
            command_hints(l, i as u32 + 1, &mut out);
        }
    }
    out
}

/// Exposure from an image config: exposed ports, the command, and environment
/// variables that hold AI API credentials (named, never shown).
pub fn image_config(config: &serde_json::Value, catalog: &Catalog) -> Vec<Hint> {
    let mut out = Vec::new();
    let c = &config["config"];
    if let Some(ports) = c["ExposedPorts"].as_object() {
        for p in ports.keys() {
            let num = p.split('/').next().unwrap_or("");
            out.push(hint(
                "image-exposed-port",
                format!("image exposes {p}"),
                num.parse().ok(),
                10,
                0,
            ));
        }
    }
    let join = |v: &serde_json::Value| -> String {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let cmd = format!("{} {}", join(&c["Entrypoint"]), join(&c["Cmd"]));
    command_hints(&cmd, 0, &mut out);
    for e in c["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
    {
        let (name, value) = e.split_once('=').unwrap_or((e, ""));
        if value.is_empty() {
            continue;
        }
        for s in &catalog.services {
            if s.env.iter().any(|n| n == name) && !name.ends_with("_ENDPOINT") {
                out.push(hint(
                    "credential-in-image",
                    format!(
                        "{name} ({}) is set in the image config: anyone who pulls the image has it",
                        s.name
                    ),
                    None,
                    60,
                    0,
                ));
            }
        }
        if name == "OLLAMA_HOST" && value.starts_with("0.0.0.0") {
            out.push(hint(
                "bind-all",
                "ollama bound to all interfaces (OLLAMA_HOST)".into(),
                None,
                30,
                0,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_and_js_api_use() {
        let c = Catalog::default();
        let py = "import os\nfrom openai import OpenAI\nimport anthropic\nfrom google import genai\nclient = boto3.client(\"bedrock-runtime\")\nURL = \"https://myres.openai.azure.com/\"\nx = 'api.mistral.ai'\n";
        let ids: Vec<(String, u32)> = api_use(py, true, &c)
            .into_iter()
            .map(|(s, l, _)| (s, l))
            .collect();
        for want in [
            ("openai", 2),
            ("anthropic", 3),
            ("gemini", 4),
            ("bedrock", 5),
            ("azure-openai", 6),
            ("mistral", 7),
        ] {
            assert!(
                ids.contains(&(want.0.to_string(), want.1)),
                "{want:?} in {ids:?}"
            );
        }
        let js = "import Anthropic from '@anthropic-ai/sdk';\nconst { BedrockRuntimeClient } = require(\"@aws-sdk/client-bedrock-runtime\");\n";
        let ids: Vec<String> = api_use(js, false, &c)
            .into_iter()
            .map(|(s, _, _)| s)
            .collect();
        assert_eq!(ids, vec!["anthropic", "bedrock"]);
        assert!(api_use("import openaix\nopenai_like = 1\n", true, &c).is_empty());
    }

    #[test]
    fn exposure_hints() {
        let h = exposure("app/Dockerfile", "FROM python\nEXPOSE 8000 7860/tcp\nCMD [\"vllm\", \"serve\", \"m\", \"--host\", \"0.0.0.0\"]\n");
        assert_eq!(h.iter().filter(|x| x.0 == "dockerfile-expose").count(), 2);
        let h = exposure(
            "app/Dockerfile",
            "CMD vllm serve m --host 0.0.0.0 --port 8001\n",
        );
        assert_eq!(h[0].2, Some(8001));
        assert!(h[0].1.contains("all interfaces"));
        let h = exposure(
            "root/.jupyter/jupyter_server_config.py",
            "c.ServerApp.ip = '0.0.0.0'\nc.ServerApp.token = ''\n",
        );
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].0, "jupyter-no-auth");
        let h = exposure("app/ui.py", "demo.launch(share=True)\n");
        assert_eq!(h[0].0, "gradio-share");
        let h = exposure(
            "docker-compose.yml",
            "services:\n  a:\n    ports:\n      - \"8000:8000\"\n      - \"127.0.0.1:9000:9000\"\n",
        );
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].2, Some(8000));
    }

    #[test]
    fn credentials_are_named_never_shown() {
        let c = Catalog::default();
        let cfg = serde_json::json!({"config": {"Env": ["OPENAI_API_KEY=sk-secret-value", "PATH=/bin"], "ExposedPorts": {"8000/tcp": {}}}});
        let h = image_config(&cfg, &c);
        assert!(h.iter().any(|x| x.0 == "credential-in-image"));
        assert!(!format!("{h:?}").contains("sk-secret"));
    }
}
