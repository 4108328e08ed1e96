//! Effects per Terraform resource type. Each module knows one domain; `derive`
//! dispatches by type. Effects describe what is newly possible (after minus before),
//! so a plan is judged on its change, not on what already existed.

pub mod access;
pub mod compute;
pub mod data;
pub mod drift;
pub mod evasion;
pub mod iam;
pub mod network;
pub mod network_shape;
pub mod resource_policy;

use crate::index::PlanIndex;
use crate::side::Side;
use parapet_model::{ChangeKind, Effect};

pub struct Ctx<'a, 'p> {
    pub address: &'a str,
    pub rtype: &'a str,
    pub kind: ChangeKind,
    pub before: Side<'a>,
    pub after: Side<'a>,
    pub index: &'a PlanIndex<'p>,
    pub replace_paths: &'a [String],
    pub action_reason: Option<&'a str>,
    pub deposed: bool,
}

impl Ctx<'_, '_> {
    /// The side whose values are in force after the change; null for deletions.
    pub fn new_side(&self) -> Side<'_> {
        if self.kind == ChangeKind::Delete {
            Side::null()
        } else {
            self.after
        }
    }

    /// The side in force before; null for creations.
    pub fn old_side(&self) -> Side<'_> {
        if self.kind == ChangeKind::Create {
            Side::null()
        } else {
            self.before
        }
    }

    /// A readable name: `address (id)` when the id is known.
    pub fn label(&self) -> String {
        match self
            .before
            .get("id")
            .str()
            .or_else(|| self.after.get("id").str())
        {
            Some(id) if !id.is_empty() && !self.address.contains(id) => {
                format!("{} ({id})", self.address)
            }
            _ => self.address.to_string(),
        }
    }
}

pub fn derive(ctx: &Ctx, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    if ctx.kind.destroys() {
        data::destroy_or_replace(ctx, out);
    }
    if ctx.kind == ChangeKind::Forget {
        return;
    }
    let t = ctx.rtype;
    match t {
        _ if network::handles(t) => network::effects(ctx, out),
        _ if iam::handles(t) => iam::effects(ctx, out, notes),
        _ if access::handles(t) => access::effects(ctx, out, notes),
        _ => {}
    }
    resource_policy::effects(ctx, out, notes);
    compute::effects(ctx, out);
    evasion::effects(ctx, out);
}
