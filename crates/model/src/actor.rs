use serde::Serialize;
use std::fmt;

/// Who acts. Automation (agents, pipelines, services) is judged more strictly than humans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    Human,
    Agent,
    Pipeline,
    Service,
    Unknown,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Human => "human",
            ActorKind::Agent => "agent",
            ActorKind::Pipeline => "pipeline",
            ActorKind::Service => "service",
            ActorKind::Unknown => "unknown",
        }
    }

    pub fn is_automation(self) -> bool {
        !matches!(self, ActorKind::Human)
    }
}

/// An actor spec that is not `kind:name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorError {
    #[error("actor `{spec}` must look like kind:name, e.g. agent:kiro")]
    Shape { spec: String },
    #[error("actor kind `{kind}` is not one of human, agent, pipeline, service, unknown")]
    Kind { kind: String },
    #[error("actor name in `{spec}` must be 1-200 printable characters")]
    Name { spec: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub name: String,
}

impl Actor {
    /// Parse `kind:name` (e.g. `agent:kiro`, `pipeline:drift-bot`, `human:alice`).
    /// An unknown kind is an error, not a silent downgrade, because the kind decides
    /// which policies apply.
    pub fn parse(spec: &str) -> Result<Actor, ActorError> {
        let (kind, name) = spec.split_once(':').ok_or_else(|| ActorError::Shape {
            spec: spec.to_string(),
        })?;
        let kind = match kind {
            "human" => ActorKind::Human,
            "agent" => ActorKind::Agent,
            "pipeline" => ActorKind::Pipeline,
            "service" => ActorKind::Service,
            "unknown" => ActorKind::Unknown,
            other => {
                return Err(ActorError::Kind {
                    kind: other.to_string(),
                })
            }
        };
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(ActorError::Name {
                spec: spec.to_string(),
            });
        }
        Ok(Actor {
            kind,
            name: name.to_string(),
        })
    }

    pub fn unknown() -> Actor {
        Actor {
            kind: ActorKind::Unknown,
            name: "unknown".into(),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_rejects_garbage() {
        assert_eq!(Actor::parse("agent:kiro").unwrap().kind, ActorKind::Agent);
        assert_eq!(
            Actor::parse("pipeline:drift-bot").unwrap().to_string(),
            "pipeline:drift-bot"
        );
        assert!(Actor::parse("kiro").is_err());
        assert!(Actor::parse("robot:x").is_err());
        assert!(Actor::parse("human:").is_err());
    }
}
