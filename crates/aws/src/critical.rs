//! Critical resources, by type and by tag (data: `data/critical.toml`, overridable).

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriticalRules {
    #[serde(default)]
    pub types: Vec<String>,
    #[serde(default)]
    pub tag: Vec<TagRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRule {
    pub key: String,
    pub values: Vec<String>,
}

impl Default for CriticalRules {
    fn default() -> Self {
        toml::from_str(include_str!("../data/critical.toml"))
            .expect("embedded critical.toml is valid")
    }
}

impl CriticalRules {
    /// Why the resource is critical, or `None`.
    pub fn why(&self, resource_type: &str, tags: &BTreeMap<String, String>) -> Option<String> {
        if self.types.iter().any(|t| t == resource_type) {
            return Some(format!("type {resource_type}"));
        }
        for rule in &self.tag {
            for (k, v) in tags {
                if k.eq_ignore_ascii_case(&rule.key)
                    && rule.values.iter().any(|x| x.eq_ignore_ascii_case(v.trim()))
                {
                    return Some(format!("tag {k}={v}"));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_type_and_tag() {
        let r = CriticalRules::default();
        assert!(r.why("aws_db_instance", &BTreeMap::new()).is_some());
        let tags = BTreeMap::from([("Environment".to_string(), "Production".to_string())]);
        assert_eq!(
            r.why("aws_instance", &tags).unwrap(),
            "tag Environment=Production"
        );
        assert!(r.why("aws_instance", &BTreeMap::new()).is_none());
    }
}
