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

pub use change::is_secret_name;
pub use pins::{load_pins, parse_pins, parse_rfc3339, Pin, PinError, PinMode};

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
    #[error("invalid text encoding at byte {offset}; expected UTF-8 or UTF-16 with a BOM")]
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
    let raw = raw::parse(text)?;
    let format_version = raw::check_version(raw.format_version.as_deref())?;
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
                out.push(change::normalise(
                    start + i,
                    rc,
                    &index,
                    opts,
                    &live_pins,
                    &mut notes,
                )?);
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
