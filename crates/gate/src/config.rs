//! `parapet.toml`: settings that belong to a team rather than to one run.
//!
//! ```toml
//! [critical]
//! types = ["aws_db_instance", "aws_kms_key"]
//! [[critical.tag]]
//! key = "tier"
//! values = ["0"]
//! ```

use parapet_aws::CriticalRules;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Replaces the built-in rules for what is critical.
    pub critical: Option<CriticalRules>,
    /// `[server]`: settings of `parapet serve`, read by the CLI.
    pub server: Option<toml::Table>,
    /// `[proxy]`: settings of `parapet proxy aws`, read by the CLI.
    pub proxy: Option<toml::Table>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {message}")]
    Io { path: String, message: String },
    #[error("config {path}: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: p.clone(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: p,
            message: e.to_string(),
        })
    }
}
