//! A Sigma engine for CloudTrail: rules (detection and correlation) as SigmaHQ writes
//! them, compiled once.
//!
//! Parser -> rules -> engine are separate stages. Supported: selections as maps, lists
//! of maps and keywords; modifiers contains, startswith, endswith, all, cased, exists,
//! re (with i/m/s), cidr, lt/lte/gt/gte, fieldref, base64, base64offset; conditions with
//! and/or/not, parentheses, `1 of`/`all of` patterns and `them`; correlations
//! event_count, value_count, temporal and temporal_ordered with group-by, timespan and
//! gt/gte/eq conditions. Anything else is refused with the file, rule and key named.

pub mod cond;
pub mod engine;
pub mod error;
mod index;
pub mod matcher;
pub mod rule;
mod window;

pub use engine::{Doc, Engine, StateLimits};
pub use error::{CondError, EngineError, LoadError, Problem, RuleError, Seg, TimespanError};
pub use matcher::Record;
pub use rule::{Body, Level, Meta, Rule};
pub use window::CorrelationHit;

use std::path::Path;

/// Rules from YAML files in a directory (recursive, sorted).
pub fn load_dir(dir: &Path) -> Result<Vec<Rule>, LoadError> {
    let mut files = Vec::new();
    collect(dir, &mut files).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if files.is_empty() {
        return Err(LoadError::Empty {
            path: dir.to_path_buf(),
        });
    }
    let mut rules = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| LoadError::Io {
            path: f.clone(),
            source,
        })?;
        rules.extend(rule::parse_file(&f.display().to_string(), &text)?);
    }
    Ok(rules)
}

fn collect(p: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    if p.is_file() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(p)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(e);
        }
    }
    Ok(())
}

/// Put `extra` rules over `base`: a rule with the same id replaces the base one.
pub fn overlay(base: Vec<Rule>, extra: Vec<Rule>) -> Vec<Rule> {
    let ids: std::collections::HashSet<String> = extra.iter().map(|r| r.meta.id.clone()).collect();
    base.into_iter()
        .filter(|r| !ids.contains(&r.meta.id))
        .chain(extra)
        .collect()
}
