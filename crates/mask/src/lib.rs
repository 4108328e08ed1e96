//! What may be shown of a value: one masking module for every output of parapet
//! (plan and call reports in every format, the decision service's stored reports, audit
//! log, web UI and chat messages).
//!
//! A value is masked when
//! - its name says it holds a secret (`master_password`, `SecretString`, `API_TOKEN`,
//!   `DB_PASS`), at any depth: attributes, parameters, map keys, Terraform tag maps,
//!   environment variables, and the value of a name/value pair whose name is secret
//!   (`{"Key": "db_password", "Value": ..}` tags, ECS `{"name": .., "value": ..}`);
//!   names that refer to a secret (`SecretId`, `SecretArn`, `KmsKeyId`,
//!   `PasswordLength`, `secret_name`) stay visible, so a reviewer sees which secret is
//!   touched;
//! - it has the shape of a secret wherever it appears (PEM private keys, JWTs, bearer
//!   tokens, GitHub/Slack/GitLab/... tokens, the password of a `scheme://user:pass@host`
//!   URL, `password=..` in free text, an AWS secret access key next to an access key id);
//! - Terraform marked it sensitive (`before_sensitive` / `after_sensitive`).
//!
//! JSON held in strings (ECS `container_definitions`, policies, Step Functions
//! definitions) is parsed and masked the same way. The rules are data
//! (`data/secrets.toml`, embedded); [`Masker::from_toml`] builds another set.

mod names;
mod shapes;
mod walk;

pub use walk::apply_marks;

use serde::Deserialize;
use std::sync::OnceLock;

/// What replaces a masked value (or the masked part of a text).
pub const MASK: &str = "(sensitive)";

/// The embedded rules.
pub const DEFAULT_RULES: &str = include_str!("../data/secrets.toml");

#[derive(Debug, thiserror::Error)]
pub enum MaskError {
    #[error("secret rules are not valid TOML of the expected shape: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("secret rules can only be installed before the first value is masked")]
    AlreadyInUse,
    #[error("secret rules: shape {name:?} has an invalid pattern: {source}")]
    Pattern {
        name: String,
        #[source]
        source: regex::Error,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rules {
    names: NameRules,
    #[serde(default)]
    shapes: Vec<ShapeRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameRules {
    contains: Vec<String>,
    words: Vec<String>,
    references: Vec<String>,
    pair_names: Vec<String>,
    pair_values: Vec<String>,
    #[serde(default)]
    secret_types: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapeRule {
    name: String,
    pattern: String,
}

/// Compiled masking rules.
pub struct Masker {
    names: names::Names,
    shapes: shapes::Shapes,
}

impl Masker {
    /// Rules in the shape of `data/secrets.toml`.
    pub fn from_toml(text: &str) -> Result<Masker, MaskError> {
        let rules: Rules = toml::from_str(text)?;
        Ok(Masker {
            names: names::Names::new(&rules.names),
            shapes: shapes::Shapes::new(&rules.shapes)?,
        })
    }

    /// Does this name (attribute, parameter, key, tag key, variable) hold a secret?
    pub fn is_secret_name(&self, name: &str) -> bool {
        self.names.is_secret(name)
    }

    /// Does this name refer to a secret rather than hold one (`SecretArn`)?
    pub fn is_reference_name(&self, name: &str) -> bool {
        self.names.is_reference(name)
    }

    /// Masks a value in place at every depth; true when anything was masked.
    pub fn mask_in_place(&self, v: &mut serde_json::Value) -> bool {
        walk::mask_value(self, v)
    }

    /// A masked copy of a value.
    pub fn masked(&self, v: &serde_json::Value) -> serde_json::Value {
        let mut c = v.clone();
        self.mask_in_place(&mut c);
        c
    }

    /// A text with the secrets in it masked: JSON documents are parsed and masked by
    /// name and shape, any other text by shape (and `name=value` with a secret name).
    pub fn mask_text<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        walk::mask_text(self, s)
    }
}

static GLOBAL: OnceLock<Masker> = OnceLock::new();

/// The rules every output uses: those [`install`]ed, else the embedded ones, compiled
/// once per process.
pub fn masker() -> &'static Masker {
    GLOBAL
        .get_or_init(|| Masker::from_toml(DEFAULT_RULES).expect("embedded secret rules are valid"))
}

/// Replaces the embedded rules for this process (a site's own `secrets.toml`). Must run
/// before anything is masked; afterwards it is refused, so no output is ever masked by
/// two different rule sets.
pub fn install(m: Masker) -> Result<(), MaskError> {
    GLOBAL.set(m).map_err(|_| MaskError::AlreadyInUse)
}

/// [`Masker::is_secret_name`] with the embedded rules.
pub fn is_secret_name(name: &str) -> bool {
    masker().is_secret_name(name)
}

/// [`Masker::masked`] with the embedded rules.
pub fn masked(v: &serde_json::Value) -> serde_json::Value {
    masker().masked(v)
}

/// [`Masker::mask_in_place`] with the embedded rules.
pub fn mask_in_place(v: &mut serde_json::Value) -> bool {
    masker().mask_in_place(v)
}

/// [`Masker::mask_text`] with the embedded rules.
pub fn mask_text(s: &str) -> std::borrow::Cow<'_, str> {
    masker().mask_text(s)
}
