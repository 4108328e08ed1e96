//! The gate for a single AWS API call: the same knowledge, effects and Cedar pack as
//! for plans, with the Cedar action `"call"`.

use parapet_aws::api::{analyze_call, ApiCall};
use parapet_aws::CriticalRules;
use parapet_model::{
    Actor, CallReport, Effect, Finding, ToolInfo, Unrecognised, CALL_REPORT_SCHEMA,
};
use parapet_policy::{Facts, PolicyEngine, ResourceFacts};

pub struct CallOptions {
    pub actor: Actor,
    pub incident: Option<String>,
    pub critical: CriticalRules,
    /// The account the call acts in, to tell its own principals from other accounts'.
    pub account: Option<String>,
}

pub fn check_call(call: &ApiCall, opts: &CallOptions, engine: &PolicyEngine) -> CallReport {
    let account = opts.account.clone().or_else(|| {
        call.resource
            .as_deref()
            .and_then(parapet_aws::iam::account_of)
            .map(String::from)
    });
    let a = analyze_call(call, account.as_deref());
    let mut notes = Vec::new();
    let mut effects = a.effects;
    // What parapet cannot judge is never allowed silently: the pack decides what an
    // unknown action or an unplaced write needs (70-unknown.cedar).
    if a.level.is_none() {
        notes.push(format!(
            "{} is not in the IAM action catalog (misspelt, or newer than this build); it is treated as a write",
            a.action
        ));
        effects.push(Effect::Unknown {
            resource: a.resource.clone(),
            unrecognised: Unrecognised::Action,
            name: a.action.clone(),
            why: "misspelt, or newer than this build; unknown actions need a person".into(),
        });
    } else if a.writes && !a.placed {
        effects.push(Effect::Unknown {
            resource: a.resource.clone(),
            unrecognised: Unrecognised::ResourceType,
            name: a.resource_type.clone(),
            why: format!(
                "the IAM catalog ties {} to no single resource type, so rules for critical and data-bearing resources cannot apply",
                a.action
            ),
        });
    }
    let critical_why = opts.critical.why(&a.resource_type, &Default::default());
    if let Some(why) = &critical_why {
        if a.writes {
            effects.push(Effect::CriticalResource {
                resource: a.resource.clone(),
                why: why.clone(),
            });
        }
    }
    let (labels, max_severity) = parapet_model::policy_facts(&effects);
    let facts = Facts {
        actor: opts.actor.clone(),
        action: "call".into(),
        resource: ResourceFacts {
            resource_type: a.resource_type.clone(),
            address: a.resource.clone(),
            tags: Default::default(),
            critical: critical_why.is_some(),
            data_bearing: a.data_bearing,
        },
        effects: labels,
        max_severity,
        writes: a.writes,
        incident: opts.incident.clone(),
        source: "api".into(),
    };
    let decision = engine.decide(&facts);
    let mut findings: Vec<Finding> = effects.iter().map(Finding::from_effect).collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    CallReport {
        schema: CALL_REPORT_SCHEMA,
        tool: ToolInfo {
            name: "parapet",
            version: env!("CARGO_PKG_VERSION"),
        },
        actor: opts.actor.clone(),
        incident: opts.incident.clone(),
        action: a.action,
        access_level: a.level.map(|l| l.as_str()),
        resource: a.resource,
        resource_type: a.resource_type,
        critical: critical_why.is_some(),
        data_bearing: a.data_bearing,
        writes: a.writes,
        decision,
        effects,
        findings,
        notes,
    }
}

/// The call's parameters as they may be shown and stored: secrets masked at every depth
/// by the shared rules (`parapet-mask`): values under secret names (SecretString,
/// Password, UserData, API_TOKEN in an environment map, the Value of a tag whose Key is
/// secret), secret-shaped values (private keys, tokens, URL passwords) and secrets
/// inside JSON held in strings. References to secrets (SecretId, SecretArn) stay.
pub fn masked_params(v: &serde_json::Value) -> serde_json::Value {
    parapet_mask::masked(v)
}

#[cfg(test)]
mod mask_tests {
    #[test]
    fn secrets_in_params_are_masked() {
        let v = serde_json::json!({"SecretId": "db", "SecretString": "hunter2",
            "Tags": [{"Key": "a", "Value": "b"}], "UserData": "IyEvYmlu", "LoginProfile": {"Password": "x"}});
        let m = super::masked_params(&v);
        let text = m.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("IyEvYmlu") && !text.contains("\"x\""),
            "{text}"
        );
        assert_eq!(m["SecretId"], "db");
        assert_eq!(m["Tags"][0]["Value"], "b");
    }

    #[test]
    fn secrets_at_depth_in_params_are_masked() {
        let defs = serde_json::json!([{"name": "app", "environment": [{"name": "API_TOKEN", "value": "tok-1"}]}]).to_string();
        let v = serde_json::json!({"Environment": {"Variables": {"DB_PASSWORD": "pw-1", "STAGE": "prod"}},
            "ContainerDefinitions": defs, "Tags": [{"Key": "db_password", "Value": "pw-2"}],
            "SecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:db"});
        let text = super::masked_params(&v).to_string();
        for leaked in ["tok-1", "pw-1", "pw-2"] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
        assert!(
            text.contains("prod") && text.contains("secret:db"),
            "{text}"
        );
    }
}
