//! The built-in behaviour pack: Sigma rule files under `rules/`, embedded in the binary.
//! A user's rule with the same id replaces a built-in one (see [`crate::sigma::overlay`]).

use crate::sigma::{rule::parse_file, Rule};

pub const FILES: [(&str, &str); 9] = [
    ("recon.yml", include_str!("../rules/recon.yml")),
    ("lambda.yml", include_str!("../rules/lambda.yml")),
    ("persistence.yml", include_str!("../rules/persistence.yml")),
    ("secrets.yml", include_str!("../rules/secrets.yml")),
    ("compute.yml", include_str!("../rules/compute.yml")),
    ("llmjacking.yml", include_str!("../rules/llmjacking.yml")),
    ("exfil.yml", include_str!("../rules/exfil.yml")),
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
}
