//! Facts about one change, turned into a Cedar request and its entities.

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
};
use parapet_model::Actor;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct ResourceFacts {
    pub resource_type: String,
    pub address: String,
    pub tags: BTreeMap<String, String>,
    pub critical: bool,
    pub data_bearing: bool,
}

#[derive(Debug, Clone)]
pub struct Facts {
    pub actor: Actor,
    /// `create`, `update`, `delete`, `replace`, `forget`, `read`, `no-op` or `call`.
    pub action: String,
    pub resource: ResourceFacts,
    pub effects: Vec<String>,
    pub max_severity: i64,
    pub writes: bool,
    pub incident: Option<String>,
    pub source: String,
}

pub struct Built {
    pub request: Request,
    pub entities: Entities,
}

fn uid(ty: &str, id: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str(ty).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

fn s(v: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(v.to_string())
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> RestrictedExpression {
    RestrictedExpression::new_set(items.into_iter().map(s))
}

pub fn build(f: &Facts) -> Result<Built, String> {
    let principal = uid("Parapet::Actor", &f.actor.to_string())?;
    let action = uid("Parapet::Action", &f.action)?;
    let resource = uid("Parapet::Resource", &f.resource.address)?;
    let actor = Entity::new(
        principal.clone(),
        HashMap::from([
            ("kind".to_string(), s(f.actor.kind.as_str())),
            ("name".to_string(), s(&f.actor.name)),
        ]),
        HashSet::new(),
    )
    .map_err(|e| e.to_string())?;
    let tag_pairs: Vec<String> = f
        .resource
        .tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let res = Entity::new(
        resource.clone(),
        HashMap::from([
            ("type".to_string(), s(&f.resource.resource_type)),
            ("address".to_string(), s(&f.resource.address)),
            (
                "tags".to_string(),
                set(tag_pairs.iter().map(String::as_str)),
            ),
            (
                "tagKeys".to_string(),
                set(f.resource.tags.keys().map(String::as_str)),
            ),
            (
                "critical".to_string(),
                RestrictedExpression::new_bool(f.resource.critical),
            ),
            (
                "dataBearing".to_string(),
                RestrictedExpression::new_bool(f.resource.data_bearing),
            ),
        ]),
        HashSet::new(),
    )
    .map_err(|e| e.to_string())?;
    let context = Context::from_pairs([
        (
            "effects".to_string(),
            set(f.effects.iter().map(String::as_str)),
        ),
        (
            "maxSeverity".to_string(),
            RestrictedExpression::new_long(f.max_severity),
        ),
        (
            "writes".to_string(),
            RestrictedExpression::new_bool(f.writes),
        ),
        (
            "incident".to_string(),
            RestrictedExpression::new_bool(f.incident.is_some()),
        ),
        (
            "incidentId".to_string(),
            s(f.incident.as_deref().unwrap_or("")),
        ),
        ("source".to_string(), s(&f.source)),
    ])
    .map_err(|e| e.to_string())?;
    // The request is built to the schema by construction (a test checks it against the
    // schema); skipping validation here keeps the hot path short.
    let request =
        Request::new(principal, action, resource, context, None).map_err(|e| e.to_string())?;
    let entities = Entities::from_entities([actor, res], None).map_err(|e| e.to_string())?;
    Ok(Built { request, entities })
}

#[cfg(test)]
pub(crate) fn build_validated(f: &Facts) -> Result<(), String> {
    let b = build(f)?;
    let schema = crate::schema();
    Request::new(
        b.request.principal().unwrap().clone(),
        b.request.action().unwrap().clone(),
        b.request.resource().unwrap().clone(),
        b.request.context().unwrap().clone(),
        Some(&schema),
    )
    .map_err(|e| e.to_string())?;
    Entities::from_entities(b.entities.iter().cloned(), Some(&schema))
        .map_err(|e| e.to_string())?;
    Ok(())
}
