//! Files and directories: walked without following symlinks, scanned in parallel.

use crate::{scan_file, Options, ScanReport, Skipped, Summary, Verdict};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counters a caller may watch from another thread (a progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    pub files_total: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_total: AtomicU64,
    pub bytes_done: AtomicU64,
}

impl Progress {
    /// More work found.
    pub fn add_total(&self, files: u64, bytes: u64) {
        self.files_total.fetch_add(files, Ordering::Relaxed);
        self.bytes_total.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One file of `bytes` finished.
    pub fn file_done(&self, bytes: u64) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }
}

const MAX_DEPTH: usize = 64;
const MAX_FILES: usize = 5_000_000;

fn collect(
    path: &Path,
    depth: usize,
    explicit: bool,
    files: &mut Vec<(PathBuf, u64)>,
    skipped: &mut Vec<Skipped>,
) {
    let skip = |skipped: &mut Vec<Skipped>, why: String, error: bool| {
        skipped.push(Skipped {
            path: path.display().to_string(),
            why,
            error,
        })
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return skip(skipped, format!("cannot read: {e}"), true),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        // a path given on the command line is the user's choice; links found inside
        // a tree may point anywhere (loops, /proc, another tenant's files)
        if explicit {
            if let Ok(m) = std::fs::metadata(path) {
                if m.is_file() {
                    files.push((path.to_path_buf(), m.len()));
                    return;
                }
            }
        }
        return skip(skipped, "symbolic link: not followed".into(), false);
    }
    if ft.is_file() {
        if files.len() < MAX_FILES {
            files.push((path.to_path_buf(), meta.len()));
        }
        return;
    }
    if !ft.is_dir() {
        return;
    }
    if depth >= MAX_DEPTH {
        return skip(
            skipped,
            format!("deeper than {MAX_DEPTH} directories"),
            false,
        );
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => return skip(skipped, format!("cannot list: {e}"), true),
    };
    entries.sort();
    for e in entries {
        collect(&e, depth + 1, false, files, skipped);
    }
}

/// Scan files and directories (recursively). Reports come back sorted by path.
pub fn scan_paths(paths: &[PathBuf], opts: &Options, progress: Option<&Progress>) -> ScanReport {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        collect(p, 0, true, &mut files, &mut skipped);
    }
    let local = Progress::default();
    let progress = progress.unwrap_or(&local);
    progress.add_total(files.len() as u64, files.iter().map(|f| f.1).sum());
    let threads = if opts.threads > 0 {
        opts.threads
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
    .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, size)) = files.get(i) else {
                    break;
                };
                let shown = path.display().to_string();
                match scan_file(path, &shown, opts) {
                    Ok(Some(r)) => results.lock().expect("no panics while locked").push(r),
                    Ok(None) => {}
                    Err(e) => errors
                        .lock()
                        .expect("no panics while locked")
                        .push(Skipped {
                            path: shown,
                            why: format!("cannot read: {e}"),
                            error: true,
                        }),
                }
                progress.file_done(*size);
            });
        }
    });
    let mut reports = results.into_inner().expect("threads joined");
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.extend(errors.into_inner().expect("threads joined"));
    let mut summary = Summary {
        files: files.len() as u64,
        models: reports.len() as u64,
        bytes: files.iter().map(|f| f.1).sum(),
        ..Summary::default()
    };
    for r in &reports {
        *match r.verdict {
            Verdict::Clean => &mut summary.clean,
            Verdict::Unknown => &mut summary.unknown,
            Verdict::Suspicious => &mut summary.suspicious,
            Verdict::Malicious => &mut summary.malicious,
        } += 1;
    }
    ScanReport {
        schema: "parapet.model-scan/v1",
        summary,
        files: reports,
        skipped,
    }
}
