//! `parapet model scan`: is a model file safe to load?

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use parapet_modelscan::{render, Globals, Options, Progress, Verdict};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Scan model files for code that runs when they are loaded.
    ///
    /// Files are identified by content, not extension: pickle (every protocol, every
    /// pickle in a stream), PyTorch (zip and legacy), joblib, NumPy (.npy/.npz), Keras
    /// (.keras, .h5), TensorFlow SavedModel, ONNX, safetensors, GGUF, and zip, tar and 7z
    /// archives or gzip, xz and lzma streams of them (zips read leniently, as torch does).
    ///
    /// Pickles are emulated, never loaded: every global they would import is judged by
    /// an allowlist (what PyTorch's weights-only loader accepts, NumPy, common ML
    /// classes), then a deny list with reasons. Denied globals, imports computed at load
    /// time, calls of computed values and module monkey-patching are malicious; anything
    /// else off the allowlist is suspicious. Files that cannot be analysed (encrypted,
    /// content no model format matches under a model name, a decompression bomb, over
    /// budget) are unknown, with the reason, and fail by default like suspicious ones.
    ///
    /// Exit codes: 0 nothing at or above --fail-on, 1 something at or above it,
    /// 2 bad usage or a file or directory that could not be read (the scan is incomplete).
    #[command(
        after_help = "Examples:\n  parapet model scan ~/.cache/huggingface/hub\n  \
parapet model scan model.pt --format json > scan.json\n  \
parapet model scan models/ --format sarif --fail-on suspicious > models.sarif\n  \
parapet model scan models/ --globals allow-ours.toml   # extend the allow/deny lists"
    )]
    Scan {
        /// Files and directories (directories are walked; symlinks inside are not followed).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 1 when any file is at least this bad. The default fails on `unknown`
        /// too: a model file parapet could not analyse (unidentified content, an
        /// encrypted member, a decompression bomb) is not vouched for.
        #[arg(long, value_enum, default_value_t = FailOn::Unknown)]
        fail_on: FailOn,
        /// Extra allow/deny lists (TOML, same format as the built-in globals.toml); its
        /// entries win over the built-in ones.
        #[arg(long, value_name = "FILE")]
        globals: Option<PathBuf>,
        /// Per-file time budget in seconds; a file that takes longer is unknown.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Worker threads (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Text output: list clean files, notes and model facts too.
        #[arg(long, short = 'v')]
        verbose: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FailOn {
    Malicious,
    Suspicious,
    Unknown,
    Never,
}

pub fn run(cmd: ModelCommand) -> Result<u8> {
    let ModelCommand::Scan {
        paths,
        format,
        fail_on,
        globals,
        timeout,
        threads,
        verbose,
    } = cmd;
    let mut opts = Options {
        time_budget: Duration::from_secs(timeout.max(1)),
        threads,
        ..Options::default()
    };
    if let Some(g) = &globals {
        let text =
            std::fs::read_to_string(g).with_context(|| format!("reading {}", g.display()))?;
        opts.globals = Globals::with_user_file(&text, &g.display().to_string())?;
    }
    for p in &paths {
        std::fs::symlink_metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
    }
    let progress = Progress::default();
    let done = std::sync::atomic::AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| s.spawn(|| draw_progress(&progress, &done)));
        let r = parapet_modelscan::scan_paths(&paths, &opts, Some(&progress));
        done.store(true, Ordering::Relaxed);
        if let Some(b) = bar {
            let _ = b.join();
        }
        r
    });
    let out = match format {
        Format::Text => render::text(&report, verbose),
        Format::Json => render::json(&report),
        Format::Sarif => render::sarif(&report),
    };
    print!("{out}");
    if !matches!(format, Format::Text) {
        println!();
    }
    let unreadable: Vec<_> = report.skipped.iter().filter(|s| s.error).collect();
    for s in &unreadable {
        eprintln!("parapet: {}: {}", s.path, s.why);
    }
    if !unreadable.is_empty() {
        // an incomplete scan must not pass a pipeline
        return Ok(crate::EXIT_USAGE);
    }
    let threshold = match fail_on {
        FailOn::Malicious => Some(Verdict::Malicious),
        FailOn::Suspicious => Some(Verdict::Suspicious),
        FailOn::Unknown => Some(Verdict::Unknown),
        FailOn::Never => None,
    };
    Ok(match threshold {
        Some(t) if report.worst() >= t => crate::EXIT_HELD,
        _ => crate::EXIT_ALLOW,
    })
}

/// A progress bar on standard error after the first half second of work.
pub(crate) fn draw_progress(p: &Progress, done: &std::sync::atomic::AtomicBool) {
    let start = std::time::Instant::now();
    let mut drawn = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if start.elapsed() < Duration::from_millis(500) {
            continue;
        }
        let (fd, ft) = (
            p.files_done.load(Ordering::Relaxed),
            p.files_total.load(Ordering::Relaxed),
        );
        let (bd, bt) = (
            p.bytes_done.load(Ordering::Relaxed),
            p.bytes_total.load(Ordering::Relaxed),
        );
        let frac = if bt > 0 { bd as f64 / bt as f64 } else { 0.0 };
        let width = 30;
        let filled = (frac * width as f64) as usize;
        eprint!(
            "\r\x1b[2K[{}{}] {fd}/{ft} files, {} MiB of {} MiB",
            "#".repeat(filled.min(width)),
            " ".repeat(width - filled.min(width)),
            bd >> 20,
            bt >> 20
        );
        let _ = std::io::stderr().flush();
        drawn = true;
    }
    if drawn {
        eprint!("\r\x1b[2K");
    }
}
