//! `parapet respond`'s files: containment plans in (checked against the playbooks), step
//! records in and out, and the lines it prints.

use anyhow::{bail, Context, Result};
use parapet_respond::{from_playbook, Applied, Plan, Playbooks, State};
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Plan and record files are read whole; more than this is refused, not read.
const MAX_INPUT: u64 = 256 << 20;

/// Line types `trail scan --format jsonl` writes besides plans.
const OTHER_TRAIL_LINES: [&str; 2] = ["alert", "incident"];

fn read_text(input: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    let shown = input.display();
    let limited = |r: &mut dyn Read, out: &mut Vec<u8>| -> Result<()> {
        r.take(MAX_INPUT + 1)
            .read_to_end(out)
            .with_context(|| format!("reading {shown}"))?;
        if out.len() as u64 > MAX_INPUT {
            bail!("{shown} is larger than {} MiB", MAX_INPUT >> 20);
        }
        Ok(())
    };
    if input == Path::new("-") {
        limited(&mut std::io::stdin().lock(), &mut bytes)?;
    } else {
        let mut f = std::fs::File::open(input).with_context(|| format!("opening {shown}"))?;
        limited(&mut f, &mut bytes)?;
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    String::from_utf8(body.to_vec()).map_err(|e| {
        anyhow::anyhow!(
            "{shown}: not UTF-8 (byte {} is not valid; plans are JSON in UTF-8)",
            e.utf8_error().valid_up_to()
        )
    })
}

/// JSON values with their line numbers: one document, or JSON lines.
fn values(input: &Path, text: &str) -> Result<Vec<(usize, Value)>> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(vec![(1, v)]);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map(|v| (i + 1, v))
                .with_context(|| format!("{} line {}: not JSON", input.display(), i + 1))
        })
        .collect()
}

/// Containment plans in `input` (`-`: standard input): the `containment` lines of a
/// trail JSON-lines output, or one plan. Every step is remade from `playbooks`
/// ([`from_playbook`]): a step that is not one of them, or a call that step does not
/// make, is an error naming the line, before anything is sent. Steps repeated (the same
/// call of the same incident) are kept once.
pub fn read_plans(input: &Path, playbooks: &Playbooks) -> Result<Vec<Plan>> {
    let text = read_text(input)?;
    let mut plans = Vec::new();
    for (line, v) in values(input, &text)? {
        let at = || format!("{} line {line}", input.display());
        let kind = v.get("type").and_then(Value::as_str);
        match kind {
            Some("containment") => {}
            None if v.get("proposals").is_some() => {}
            Some(k) if OTHER_TRAIL_LINES.contains(&k) => continue,
            Some(k) => bail!(
                "{}: a line of type {k:?} is not one trail scan writes",
                at()
            ),
            None => bail!("{}: neither a containment plan nor a trail line", at()),
        }
        if let Some(s) = v.get("schema").and_then(Value::as_str) {
            if s != "parapet.trail/v1" {
                bail!(
                    "{}: schema {s:?} is not one this parapet reads (parapet.trail/v1)",
                    at()
                );
            }
        }
        let mut plan: Plan = serde_json::from_value(v)
            .with_context(|| format!("{}: not a containment plan", at()))?;
        let mut seen = std::collections::HashSet::new();
        let mut remade = Vec::with_capacity(plan.proposals.len());
        for p in &plan.proposals {
            let p = from_playbook(p, playbooks).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
            if seen.insert((p.step.clone(), p.call.params.to_string())) {
                remade.push(p);
            }
        }
        plan.proposals = remade;
        plans.push(plan);
    }
    Ok(plans)
}

/// Step records from `respond run --execute --record`, each remade from the playbooks
/// (its undo is the playbook's undo of its call, never the file's).
pub fn read_records(path: &Path, playbooks: &Playbooks) -> Result<Vec<Applied>> {
    if path == Path::new("-") {
        bail!("respond undo reads a record file, not standard input: it appends what it undoes");
    }
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let at = || format!("{} line {}", path.display(), i + 1);
        let mut r: Applied =
            serde_json::from_str(l).with_context(|| format!("{}: not a step record", at()))?;
        if r.kind != "containment-step" {
            bail!(
                "{}: type {:?} is not a step record (containment-step)",
                at(),
                r.kind
            );
        }
        for (name, t) in [("at", Some(&r.at)), ("expires", r.expires.as_ref())] {
            if let Some(t) = t {
                if parapet_model::time::parse_rfc3339(t).is_none() {
                    bail!("{}: {name} {t:?} is not an RFC 3339 time", at());
                }
            }
        }
        let proposal = parapet_respond::Proposal {
            step: r.step.clone(),
            title: String::new(),
            call: r.call.clone(),
            undo: None,
            undo_by_hand: None,
            verify: String::new(),
            check: None,
            outcome: String::new(),
            reason: String::new(),
            missing: Vec::new(),
        };
        let p =
            from_playbook(&proposal, playbooks).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        r.title = p.title;
        if r.state != State::AlreadySo {
            r.undo = p.undo;
            r.undo_by_hand = p.undo_by_hand;
        }
        out.push(r);
    }
    Ok(out)
}

/// Where steps go: the record file (if any) and standard output.
pub struct Out {
    record: Option<std::fs::File>,
    json: bool,
}

impl Out {
    /// Open `path` for appending; a file whose last line lacks its newline gets one first.
    pub fn open(path: Option<&Path>, json: bool) -> Result<Out> {
        let record = match path {
            Some(p) => {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .read(true)
                    .open(p)
                    .with_context(|| format!("opening record file {}", p.display()))?;
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                if len > 0 {
                    let mut last = [0u8];
                    f.seek(SeekFrom::Start(len - 1))
                        .and_then(|_| f.read_exact(&mut last))
                        .with_context(|| format!("reading record file {}", p.display()))?;
                    if last[0] != b'\n' {
                        f.write_all(b"\n")
                            .with_context(|| format!("writing record file {}", p.display()))?;
                    }
                }
                Some(f)
            }
            None => None,
        };
        Ok(Out { record, json })
    }

    /// Print the step, then record it. A record that cannot be written after a change
    /// is an error that carries the whole record, so nothing is lost.
    pub fn emit(&mut self, a: &Applied, would: bool) -> Result<()> {
        let line = serde_json::to_string(a).context("writing a step record")?;
        let mut stdout = std::io::stdout().lock();
        let r = if self.json {
            writeln!(stdout, "{line}")
        } else {
            writeln!(stdout, "{}", text_line(a, would))
        };
        match r {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(e).context("writing output")
            }
            _ => {}
        }
        if let Some(f) = &mut self.record {
            let written = writeln!(f, "{line}").and_then(|()| f.sync_data());
            if let Err(e) = written {
                bail!("the step ran but its record could not be written ({e}); keep it: {line}");
            }
        }
        Ok(())
    }
}

/// A value from a log or a file, safe for a terminal: control characters and the
/// bidirectional overrides that reorder what is shown become `?`.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn text_line(a: &Applied, would: bool) -> String {
    let state = match a.state {
        State::NotRun if would => "would run",
        State::NotRun => "not run",
        State::AlreadySo => "already so",
        State::Done => "done",
        State::Unverified => "UNVERIFIED",
        State::Failed => "FAILED",
        State::Undone => "undone",
        State::UndoFailed => "UNDO FAILED",
    };
    let mut s = format!(
        "{} {:<11} {}: {}\n    {}",
        clean(&a.incident),
        state,
        clean(&a.step),
        clean(&a.title),
        clean(&a.detail)
    );
    if let Some(id) = &a.request_id {
        s.push_str(&format!(" (request {})", clean(id)));
    }
    s
}
