//! `parapet inventory`: what AI does a workload carry, and what should be fixed first?

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use parapet_inventory::{cyclonedx, render, Catalog, Database, Options, Severity};
use parapet_modelscan::{Globals, Progress, Verdict};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Inventory AI workloads: packages, AI frameworks and SDKs, models, datasets, AI API
/// use and exposure, as a report or a CycloneDX 1.6 AIBOM, with a ranked risk list.
///
/// Targets: directories and virtualenvs (walked, symlinks inside never followed; links
/// that stay inside, like the Hugging Face cache's, count as aliases), OCI image layout
/// directories, and `docker save` or OCI archive tarballs (gzipped or not). Image layers
/// are applied in order with whiteouts; each finding names the layer that added it.
///
/// Found: Python packages (dist-info METADATA and RECORD, egg-info), requirements*.txt,
/// poetry.lock, uv.lock, Pipfile.lock, npm package-lock.json and node_modules; AI
/// components from a catalog (data/catalog.toml; extend with --catalog); model files by
/// content (safetensors, GGUF, ONNX, pickle, PyTorch, joblib, Keras, SavedModel, NumPy),
/// each scanned as `parapet model scan` would; Hugging Face cache snapshots and ollama
/// manifests (name, origin, revision, card from config.json and README front matter);
/// AI API use in the workload's own code (OpenAI, Anthropic, Bedrock, Vertex, Gemini,
/// Azure OpenAI...); exposure hints (EXPOSE, servers on 0.0.0.0, Jupyter without a
/// token, Gradio share links, compose ports, credentials in the image config — named,
/// never printed).
///
/// Vulnerabilities come from an offline OSV database (--osv, the `all.zip` osv.dev
/// publishes per ecosystem, or a directory of OSV JSON); without one none are claimed.
///
/// Exit codes: 0 nothing at or above --fail-on; 1 something is (by default a model file
/// that is malicious, suspicious or could not be analysed, as `parapet model scan`
/// judges it); 2 bad usage or a target that could not be read.
#[derive(Args)]
#[command(after_help = "Examples:\n  parapet inventory .venv\n  \
parapet inventory app/ --osv PyPI-all.zip --osv npm-all.zip\n  \
parapet inventory image.tar --format cyclonedx --output aibom.cdx.json\n  \
parapet inventory ~/.cache/huggingface/hub --fail-on suspicious")]
pub struct InventoryArgs {
    /// Directories, virtualenvs, OCI layouts or image tarballs.
    #[arg(required = true)]
    targets: Vec<PathBuf>,
    /// Output format: a text summary, the full JSON report, or a CycloneDX 1.6 AIBOM.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// OSV database: an `all.zip` per ecosystem, a directory of OSV JSON records, or one
    /// record. Repeat for several.
    #[arg(long, value_name = "PATH")]
    osv: Vec<PathBuf>,
    /// Extra AI catalog entries (TOML, same format as the built-in catalog; they win).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Extra allow/deny lists for the model scan (as `parapet model scan --globals`).
    #[arg(long, value_name = "FILE")]
    globals: Option<PathBuf>,
    /// Exit 1 when this is found: a malicious, suspicious or unknown model file (one
    /// that could not be analysed: `parapet model scan`'s default, so the two agree on
    /// the same directory), or a risk of at least high or critical level.
    #[arg(long, value_enum, default_value_t = FailOn::Unknown)]
    fail_on: FailOn,
    /// Do not compute SHA-256 of model files (faster on large models; the AIBOM then
    /// carries no model hashes).
    #[arg(long)]
    no_hash: bool,
    /// Worker threads for model files (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Cyclonedx,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FailOn {
    Malicious,
    Suspicious,
    Unknown,
    Critical,
    High,
    Never,
}

pub fn run(a: InventoryArgs) -> Result<u8> {
    let mut opts = Options {
        hash: !a.no_hash,
        threads: a.threads,
        ..Options::default()
    };
    if let Some(c) = &a.catalog {
        let text =
            std::fs::read_to_string(c).with_context(|| format!("reading {}", c.display()))?;
        opts.catalog = Catalog::default();
        opts.catalog.extend(&text, &c.display().to_string())?;
    }
    if let Some(g) = &a.globals {
        let text =
            std::fs::read_to_string(g).with_context(|| format!("reading {}", g.display()))?;
        opts.model.globals = Globals::with_user_file(&text, &g.display().to_string())?;
    }
    if !a.osv.is_empty() {
        let mut db = Database::default();
        for p in &a.osv {
            db.load(p)?;
        }
        if !db.rejected.is_empty() {
            eprintln!(
                "parapet: {} OSV records could not be read (first: {})",
                db.rejected.len(),
                db.rejected[0]
            );
        }
        opts.osv = Some(db);
    }
    let progress = Progress::default();
    let done = std::sync::atomic::AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| s.spawn(|| crate::model_cmd::draw_progress(&progress, &done)));
        let r = parapet_inventory::inventory(&a.targets, &opts, Some(&progress));
        done.store(true, Ordering::Relaxed);
        if let Some(b) = bar {
            let _ = b.join();
        }
        r
    })?;
    let out = match a.format {
        Format::Text => render::text(&report),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Cyclonedx => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs() as i64;
            serde_json::to_string_pretty(&cyclonedx::bom(&report, &parapet_store::rfc3339(now)))?
                + "\n"
        }
    };
    match &a.output {
        Some(p) => std::fs::write(p, &out).with_context(|| format!("writing {}", p.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(out.as_bytes())
                .and_then(|_| stdout.flush())
            {
                Ok(()) => {}
                // a closed pipe (`| head`) is the reader's choice, not an error
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e).context("writing to standard output"),
            }
        }
    }
    let hit = match a.fail_on {
        FailOn::Malicious => report.worst_model() >= Verdict::Malicious,
        FailOn::Suspicious => report.worst_model() >= Verdict::Suspicious,
        FailOn::Unknown => report.worst_model() >= Verdict::Unknown,
        FailOn::Critical => {
            report.worst_model() >= Verdict::Malicious
                || report.worst_risk() >= Some(Severity::Critical)
        }
        FailOn::High => {
            report.worst_model() >= Verdict::Suspicious
                || report.worst_risk() >= Some(Severity::High)
        }
        FailOn::Never => false,
    };
    Ok(if hit {
        crate::EXIT_HELD
    } else {
        crate::EXIT_ALLOW
    })
}
