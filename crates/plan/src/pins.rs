//! Pins: recorded manual emergency changes that automation must not revert.
//!
//! ```toml
//! [[pin]]
//! id = "INC-4711-api-ingress"        # optional; defaults to resource/attribute
//! resource = "aws_security_group.payments_api"   # Terraform address, ARN or id
//! attribute = "ingress"              # dotted path, [n] for list items
//! value = { cidr_blocks = ["0.0.0.0/0"], from_port = 8443 }   # optional
//! mode = "excludes"                  # equals | contains | excludes (optional)
//! reason = "admin console exploited; closed to the internet"
//! incident = "INC-4711"
//! expires = "2026-12-31T00:00:00Z"
//! ```
//! Without `value`, the attribute's current value is what is protected.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    Equals,
    Contains,
    Excludes,
}

#[derive(Debug, Clone)]
pub struct Pin {
    pub id: String,
    pub resource: String,
    pub attribute: String,
    pub value: Option<Value>,
    pub mode: Option<PinMode>,
    pub reason: String,
    pub incident: Option<String>,
    /// Seconds since the epoch.
    pub expires: Option<i64>,
    pub created_by: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("cannot read pins file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or not the pins layout; the TOML error shows the place.
    #[error("pins file {path}")]
    Toml {
        path: String,
        /// 1-based; column in characters.
        line: usize,
        column: usize,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("pins file {path}, pin {index} (line {line}): {problem}")]
    Invalid {
        path: String,
        /// 1-based, in file order.
        index: usize,
        /// Where the pin's `[[pin]]` table starts.
        line: usize,
        problem: PinProblem,
    },
}

/// What is wrong with one pin.
#[derive(Debug, thiserror::Error)]
pub enum PinProblem {
    #[error("resource and attribute must not be empty")]
    Empty,
    #[error("expires must be an RFC 3339 time, found {0}")]
    ExpiresType(String),
    #[error("expires `{0}` is not an RFC 3339 time such as 2026-12-31T00:00:00Z")]
    Expires(String),
    #[error("value cannot be compared as JSON")]
    Value(#[source] serde_json::Error),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPin {
    id: Option<String>,
    resource: String,
    attribute: String,
    value: Option<toml::Value>,
    mode: Option<PinMode>,
    reason: String,
    incident: Option<String>,
    expires: Option<toml::Value>,
    created_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    pin: Vec<toml::Spanned<RawPin>>,
}

pub fn load_pins(path: &std::path::Path) -> Result<Vec<Pin>, PinError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PinError::Io {
        path: p.clone(),
        source,
    })?;
    parse_pins(&text, &p)
}

pub fn parse_pins(text: &str, path: &str) -> Result<Vec<Pin>, PinError> {
    let raw: RawFile = toml::from_str(text).map_err(|source| {
        let (line, column) = source
            .span()
            .map_or((1, 1), |s| parapet_model::text::line_column(text, s.start));
        PinError::Toml {
            path: path.into(),
            line,
            column,
            source: Box::new(source),
        }
    })?;
    let mut out = Vec::with_capacity(raw.pin.len());
    for (index, spanned) in raw.pin.into_iter().enumerate() {
        let line = parapet_model::text::line_column(text, spanned.span().start).0;
        let r = spanned.into_inner();
        let invalid = |problem: PinProblem| PinError::Invalid {
            path: path.into(),
            index: index + 1,
            line,
            problem,
        };
        if r.resource.trim().is_empty() || r.attribute.trim().is_empty() {
            return Err(invalid(PinProblem::Empty));
        }
        let expires = match r.expires {
            None => None,
            Some(v) => {
                let s = match &v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Datetime(d) => d.to_string(),
                    other => return Err(invalid(PinProblem::ExpiresType(other.to_string()))),
                };
                Some(parse_rfc3339(&s).ok_or_else(|| invalid(PinProblem::Expires(s)))?)
            }
        };
        let value = r
            .value
            .map(|v| serde_json::to_value(v).map_err(|e| invalid(PinProblem::Value(e))))
            .transpose()?;
        out.push(Pin {
            id: r
                .id
                .unwrap_or_else(|| format!("{}/{}", r.resource, r.attribute)),
            resource: r.resource,
            attribute: r.attribute,
            value,
            mode: r.mode,
            reason: r.reason,
            incident: r.incident,
            expires,
            created_by: r.created_by,
        });
    }
    Ok(out)
}

pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Pins still in force; expired ones are named in the notes so nobody is surprised.
pub fn live<'p>(pins: &'p [Pin], now: i64, notes: &mut Vec<String>) -> Vec<&'p Pin> {
    pins.iter()
        .filter(|p| match p.expires {
            Some(e) if e <= now => {
                notes.push(format!(
                    "pin {} expired and no longer protects {}.{}",
                    p.id, p.resource, p.attribute
                ));
                false
            }
            _ => true,
        })
        .collect()
}

pub use parapet_model::time::parse_rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pins_and_rejects_bad_ones() {
        let pins = parse_pins(
            r#"
[[pin]]
resource = "aws_security_group.api"
attribute = "ingress"
value = { cidr_blocks = ["0.0.0.0/0"] }
mode = "excludes"
reason = "closed during INC-1"
incident = "INC-1"
expires = 2030-01-01T00:00:00Z
"#,
            "pins.toml",
        )
        .unwrap();
        assert_eq!(pins[0].id, "aws_security_group.api/ingress");
        assert_eq!(pins[0].mode, Some(PinMode::Excludes));
        assert!(pins[0].expires.unwrap() > 1_800_000_000);
        let err = parse_pins(
            "[[pin]]\nresource = \"x\"\nattribute = \"y\"\nreason = \"r\"\nexpires = \"soon\"\n",
            "p.toml",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "pins file p.toml, pin 1 (line 1): expires `soon` is not an RFC 3339 time such as 2026-12-31T00:00:00Z"
        );
        let second = "[[pin]]\nresource = \"x\"\nattribute = \"y\"\nreason = \"r\"\n\n[[pin]]\nresource = \"\"\nattribute = \"y\"\nreason = \"r\"\n";
        assert!(matches!(
            parse_pins(second, "p.toml"),
            Err(PinError::Invalid {
                index: 2,
                line: 6,
                ..
            })
        ));
        match parse_pins("[[pin]]\nresource = \"x\"\nattribute = 3\n", "p.toml") {
            Err(e @ PinError::Toml { line: 3, .. }) => {
                let cause = std::error::Error::source(&e).expect("the TOML error is kept");
                assert!(cause.to_string().contains("line 3"), "{cause}");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_pins("[[pin]]\nresource = \"x\"\n", "p.toml").is_err());
        assert!(parse_pins(
            "[[pin]]\nresource=\"x\"\nattribute=\"y\"\nreason=\"r\"\ntypo=1\n",
            "p.toml"
        )
        .is_err());
    }
}
