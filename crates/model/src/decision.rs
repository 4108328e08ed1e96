use serde::Serialize;

/// The three outcomes. Ordered so that `max` gives the stricter one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Review,
    Deny,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Review => "review",
            Outcome::Deny => "deny",
        }
    }
}

/// What a review needs before the change may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// Distinct human approvers, never the requester.
    pub approvers: u32,
    /// Cooling-off delay after the last approval, in seconds.
    pub delay_seconds: u64,
}

impl Approval {
    /// The stricter of two requirements.
    pub fn merge(self, other: Approval) -> Approval {
        Approval {
            approvers: self.approvers.max(other.approvers),
            delay_seconds: self.delay_seconds.max(other.delay_seconds),
        }
    }
}

/// A policy that decided, with its own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecidingPolicy {
    pub id: String,
    pub outcome: Outcome,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    pub policies: Vec<DecidingPolicy>,
    /// Evaluation errors. Any error makes the outcome deny.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Decision {
    /// Combine per-change decisions into one: the strictest outcome wins, review
    /// requirements add up to the strictest, and every deciding policy is kept once.
    pub fn combine<'a>(decisions: impl IntoIterator<Item = &'a Decision>) -> Decision {
        let mut out = Decision {
            outcome: Outcome::Allow,
            approval: None,
            policies: Vec::new(),
            errors: Vec::new(),
        };
        for d in decisions {
            out.outcome = out.outcome.max(d.outcome);
            if let Some(a) = d.approval {
                out.approval = Some(out.approval.map_or(a, |b| b.merge(a)));
            }
            for p in &d.policies {
                if p.outcome != Outcome::Allow && !out.policies.iter().any(|q| q.id == p.id) {
                    out.policies.push(p.clone());
                }
            }
            for e in &d.errors {
                if !out.errors.contains(e) {
                    out.errors.push(e.clone());
                }
            }
        }
        if out.outcome != Outcome::Review {
            out.approval = None;
        }
        out
    }
}
