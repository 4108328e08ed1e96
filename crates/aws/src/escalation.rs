//! Known privilege-escalation primitives (data: `data/escalations.toml`).

use crate::catalog::{catalog, ActionSet};
use parapet_model::EscalationHit;
use serde::Deserialize;
use std::sync::OnceLock;

#[derive(Debug, Deserialize)]
pub struct Primitive {
    pub id: String,
    pub all: Vec<String>,
    pub lets_holder: String,
}

#[derive(Deserialize)]
struct File {
    primitive: Vec<Primitive>,
}

struct Resolved {
    p: Primitive,
    indices: Vec<usize>,
}

static PRIMITIVES: OnceLock<Vec<Resolved>> = OnceLock::new();

fn primitives() -> &'static [Resolved] {
    PRIMITIVES.get_or_init(|| {
        let f: File = toml::from_str(include_str!("../data/escalations.toml"))
            .expect("embedded escalations.toml is valid");
        let cat = catalog();
        f.primitive
            .into_iter()
            .map(|p| {
                // A name missing from the catalog would make the primitive unmatchable;
                // the unit test below keeps that from shipping.
                let indices = p.all.iter().filter_map(|a| cat.lookup(a)).collect();
                Resolved { p, indices }
            })
            .collect()
    })
}

/// Every primitive whose actions are all in `set`.
pub fn find_escalations(set: &ActionSet) -> Vec<EscalationHit> {
    primitives()
        .iter()
        .filter(|r| r.indices.len() == r.p.all.len() && r.indices.iter().all(|&i| set.contains(i)))
        .map(|r| EscalationHit {
            id: r.p.id.clone(),
            actions: r.p.all.clone(),
            lets_holder: r.p.lets_holder.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_primitive_names_real_actions() {
        for r in primitives() {
            assert_eq!(
                r.indices.len(),
                r.p.all.len(),
                "primitive {} names an action missing from the catalog: {:?}",
                r.p.id,
                r.p.all
            );
        }
        assert!(primitives().len() >= 25);
    }
}
