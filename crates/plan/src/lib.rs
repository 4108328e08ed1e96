//! Terraform plans (`terraform show -json`) to changes and their effects.
//!
//! `analyze` decodes the bytes (UTF-8, BOMs, UTF-16), parses once into typed structs,
//! normalises every resource change, and asks the knowledge layer what each change
//! makes possible or destroys. It never decides: the policy crate does.

mod change;
mod decode;
mod effects;
mod index;
mod pins;
mod raw;
mod side;

pub use change::{is_secret_name, ActionsError};
pub use pins::{load_pins, parse_pins, parse_rfc3339, Pin, PinError, PinMode, PinProblem};

use parapet_aws::CriticalRules;
use parapet_model::Change;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the plan is empty")]
    Empty,
    #[error("this is a binary plan file (a zip); run `terraform show -json PLANFILE > plan.json` and check that")]
    BinaryPlan,
    #[error("the file is not text (binary data); expected `terraform show -json` output")]
    NotText,
    #[error("invalid text encoding at byte {offset}; expected UTF-8, UTF-16 or UTF-32")]
    Encoding { offset: usize },
    #[error("invalid plan JSON at {path} (line {line}, column {column}): {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
        /// The input ended early: a truncated file.
        truncated: bool,
    },
    #[error("not a Terraform plan: {why}")]
    NotAPlan { why: String },
    #[error("plan format_version {version} is not supported (this parapet reads 0.x and 1.x)")]
    UnsupportedFormat { version: String },
    #[error("the plan is incomplete: Terraform stopped planning with an error (\"errored\": true), so it does not list every change; fix the error and plan again")]
    Errored,
    #[error("{path}{}: {why}", if address.is_empty() { String::new() } else { format!(" ({address})") })]
    BadValue {
        /// The JSON path of the value, e.g. `resource_changes[3].change.after`.
        path: String,
        address: String,
        why: String,
    },
    #[error("resource_changes[{index}] ({address}): {why}")]
    BadChange {
        index: usize,
        address: String,
        why: String,
    },
}

/// A chunk of analysed changes with the notes made on the way.
type Analysed = (Vec<Change>, Vec<String>);

/// Below this many changes, one thread is faster than starting more.
const PARALLEL_MIN: usize = 512;

/// What shapes the analysis besides the plan itself.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub pins: Vec<Pin>,
    pub critical: CriticalRules,
    /// Seconds since the epoch, for pin expiry. `None`: now.
    pub now: Option<i64>,
    /// Also list the attributes of created resources in each change's diff (what a
    /// reviewer approves). Off for command-line checks: it costs a third more time
    /// and memory on large plans.
    pub create_diffs: bool,
}

#[derive(Debug, Clone)]
pub struct PlanAnalysis {
    pub format_version: String,
    pub terraform_version: Option<String>,
    pub changes: Vec<Change>,
    /// Things the reader should know that are not effects: expired pins, unreadable
    /// policy documents, resources Terraform says drifted.
    pub notes: Vec<String>,
}

/// A change parapet cannot place (a mode other than `managed` and `data`, or no resource
/// type) has no rules to find its effects: it is never passed as harmless.
fn unplaced(rc: &raw::RawChange, c: &mut Change) {
    let why = if rc.resource_type.trim().is_empty() {
        "the change names no resource type".to_string()
    } else if rc.mode != "managed" && rc.mode != "data" {
        format!(
            "its mode is `{}`, not `managed` or `data`, so no rule for {} applies",
            rc.mode, rc.resource_type
        )
    } else {
        return;
    };
    if c.kind.writes() || c.kind == parapet_model::ChangeKind::Forget {
        c.effects.push(parapet_model::Effect::Unknown {
            resource: rc.address.clone(),
            unrecognised: parapet_model::Unrecognised::ResourceType,
            name: rc.resource_type.clone(),
            why,
        });
    }
}

/// Decode plan bytes (UTF-8, UTF-8 with BOM, UTF-16) to text, with the same errors
/// `analyze` gives.
pub fn decode_text(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, PlanError> {
    decode::decode(bytes)
}

/// Analyse a plan given as raw bytes (any supported encoding).
pub fn analyze(bytes: &[u8], opts: &Options) -> Result<PlanAnalysis, PlanError> {
    let text = decode::decode(bytes)?;
    analyze_str(&text, opts)
}

pub fn analyze_str(text: &str, opts: &Options) -> Result<PlanAnalysis, PlanError> {
    let mut raw = raw::parse(text)?;
    let format_version = raw::check_version(raw.format_version.as_deref())?;
    // An errored plan lists only what Terraform planned before it failed: judging it
    // would allow what was never shown. Refused, like any other incomplete input.
    if raw.errored {
        return Err(PlanError::Errored);
    }
    raw::fill_addresses(&mut raw)?;
    raw::check_value_types(&raw)?;
    let changes_raw = match &raw.resource_changes {
        Some(c) => c.as_slice(),
        None if raw.values.is_some() && raw.planned_values.is_none() => {
            return Err(PlanError::NotAPlan {
                why: "it has `values` but no `resource_changes` or `planned_values`: this looks like a state file (`terraform show -json` without a plan file)".into(),
            })
        }
        None if raw.planned_values.is_none() && raw.configuration.is_none() => {
            return Err(PlanError::NotAPlan {
                why: "it has none of resource_changes, planned_values or configuration".into(),
            })
        }
        None => &[],
    };
    let now = opts.now.unwrap_or_else(pins::now_epoch);
    let mut notes = Vec::new();
    if raw.complete == Some(false) {
        notes.push("Terraform marks this plan incomplete (\"complete\": false: deferred changes or -target): a later plan will have more changes, and only the changes listed here were judged".into());
    }
    let live_pins = pins::live(&opts.pins, now, &mut notes);
    let index = index::PlanIndex::new(changes_raw, &raw.resource_drift, raw.configuration);
    // Changes are independent once the index exists: analyse them in parallel chunks,
    // keeping plan order for changes, notes and the first error.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = if changes_raw.len() < PARALLEL_MIN {
        changes_raw.len().max(1)
    } else {
        changes_raw.len().div_ceil(threads)
    };
    let analyse =
        |start: usize, part: &[raw::RawChange]| -> Result<(Vec<Change>, Vec<String>), PlanError> {
            let mut notes = Vec::new();
            let mut out = Vec::with_capacity(part.len());
            for (i, rc) in part.iter().enumerate() {
                let mut c = change::normalise(start + i, rc, &index, opts, &live_pins, &mut notes)?;
                unplaced(rc, &mut c);
                out.push(c);
            }
            Ok((out, notes))
        };
    let parts: Vec<Result<Analysed, PlanError>> = if chunk >= changes_raw.len() {
        vec![analyse(0, changes_raw)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = changes_raw
                .chunks(chunk)
                .enumerate()
                .map(|(ci, part)| {
                    let analyse = &analyse;
                    s.spawn(move || analyse(ci * chunk, part))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    let mut changes = Vec::with_capacity(changes_raw.len());
    for part in parts {
        let (c, n) = part?;
        changes.extend(c);
        notes.extend(n);
    }
    Ok(PlanAnalysis {
        format_version,
        terraform_version: raw.terraform_version.clone(),
        changes,
        notes,
    })
}
