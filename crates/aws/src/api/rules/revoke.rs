//! Calls that only take access away (`data/revocations.toml`): deactivating a key,
//! removing a console password, making a snapshot private again.

use super::Ctx;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    call: Vec<Revocation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Revocation {
    action: String,
    #[serde(default)]
    when: BTreeMap<String, String>,
}

fn table() -> &'static [Revocation] {
    static T: OnceLock<Vec<Revocation>> = OnceLock::new();
    T.get_or_init(|| {
        let f: File = toml::from_str(include_str!("../../../data/revocations.toml"))
            .expect("data/revocations.toml is valid");
        f.call
    })
}

/// Whether the call, with these parameters, only takes access away.
pub(super) fn only_takes_away(c: &Ctx) -> bool {
    table().iter().any(|r| {
        r.action
            .split_once(':')
            .is_some_and(|(s, o)| s == c.service && o == c.op)
            && r.when.iter().all(|(k, v)| {
                c.p.get(k)
                    .str()
                    .is_some_and(|got| got.eq_ignore_ascii_case(v))
            })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_loads_and_names_real_operations() {
        let cat = crate::catalog::catalog();
        for r in super::table() {
            let (s, o) = r.action.split_once(':').unwrap();
            assert!(
                cat.canonical(s, o).is_some(),
                "{} is not an IAM action",
                r.action
            );
        }
    }
}
