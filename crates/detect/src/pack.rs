//! The built-in behaviour pack: Sigma rule files under `rules/`, embedded in the binary.
//! A user's rule with the same id replaces a built-in one (see [`crate::sigma::overlay`]).

use crate::sigma::{rule::parse_file, Rule};

pub const FILES: [(&str, &str); 12] = [
    ("access.yml", include_str!("../rules/access.yml")),
    ("recon.yml", include_str!("../rules/recon.yml")),
    ("lambda.yml", include_str!("../rules/lambda.yml")),
    ("persistence.yml", include_str!("../rules/persistence.yml")),
    ("secrets.yml", include_str!("../rules/secrets.yml")),
    ("execution.yml", include_str!("../rules/execution.yml")),
    ("compute.yml", include_str!("../rules/compute.yml")),
    ("llmjacking.yml", include_str!("../rules/llmjacking.yml")),
    ("exfil.yml", include_str!("../rules/exfil.yml")),
    ("impact.yml", include_str!("../rules/impact.yml")),
    ("evasion.yml", include_str!("../rules/evasion.yml")),
    ("automation.yml", include_str!("../rules/automation.yml")),
];

/// Every built-in rule, parsed.
pub fn builtin() -> Vec<Rule> {
    FILES
        .iter()
        .flat_map(|(name, text)| {
            parse_file(&format!("builtin:{name}"), text)
                .unwrap_or_else(|e| panic!("built-in rules must parse: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pack_loads_and_every_id_is_unique() {
        let rules = super::builtin();
        let mut ids: Vec<&str> = rules.iter().map(|r| r.meta.id.as_str()).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(n >= 30, "{n}");
        crate::sigma::Engine::new(rules, Default::default()).unwrap();
    }

    /// ATT&CK v19 revoked Impair Defenses (T1562) and its sub-techniques in favour of
    /// T1685 (Disable or Modify Tools) and T1686 (Disable or Modify System Firewall),
    /// under the new Defense Impairment tactic; Defense Evasion is gone (Stealth holds
    /// the rest). SigmaHQ's rules already carry the new ids, and so must the pack.
    #[test]
    fn the_pack_uses_attack_v19_ids() {
        let revoked = |t: &str| t == "attack.t1562" || t.starts_with("attack.t1562.");
        for r in super::builtin() {
            for t in &r.meta.tags {
                assert!(
                    !revoked(t) && t != "attack.defense-evasion",
                    "{}: {t} is not an ATT&CK v19 id",
                    r.meta.id
                );
            }
        }
    }

    /// Rules the index cannot place run on every event. Every pack rule needs an
    /// event name, an effect, a flag, an error code, a prefix or a field to be there,
    /// so none runs on every event.
    #[test]
    fn no_pack_rule_runs_on_every_event() {
        let engine = crate::sigma::Engine::new(super::builtin(), Default::default()).unwrap();
        let everywhere: Vec<&str> = engine
            .evaluated_on_every_event()
            .iter()
            .map(|&i| engine.rules()[i].meta.id.as_str())
            .collect();
        assert!(everywhere.is_empty(), "{everywhere:?}");
    }
}
