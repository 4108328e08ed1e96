//! A mapping file's action rules applied to one call's arguments.

use serde_json::{Map, Value};

use super::file::{ActionRule, Part, Template};
use crate::MappedAction;

/// The most actions one call is read as taking (a resource pointer at a long list).
const MAX_ACTIONS: usize = 1000;

pub(super) fn actions(
    rules: &[ActionRule],
    args: &Map<String, Value>,
) -> Result<Vec<MappedAction>, String> {
    let root = Value::Object(args.clone());
    let mut out = Vec::new();
    for r in rules {
        let params = match &r.params {
            None => root.clone(),
            Some(ps) => {
                let mut m = Map::new();
                for (name, p) in ps {
                    if let Some(v) = root.pointer(p) {
                        m.insert(name.clone(), v.clone());
                    }
                }
                Value::Object(m)
            }
        };
        let resources = match &r.resource {
            None => vec![None],
            Some(t) => render(t, &root)?.into_iter().map(Some).collect(),
        };
        if out.len() + resources.len() > MAX_ACTIONS {
            return Err(format!("more than {MAX_ACTIONS} resources in one call"));
        }
        for resource in resources {
            out.push(MappedAction {
                action: r.action.clone(),
                resource,
                params: params.clone(),
                access: r.access,
            });
        }
    }
    Ok(out)
}

fn scalar(v: &Value, p: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("argument {p} is not a string")),
    }
}

/// The resources a template names: one, or one per element when a placeholder's
/// argument is a list (only one placeholder may be).
fn render(t: &Template, root: &Value) -> Result<Vec<String>, String> {
    let mut prefix = vec![String::new()];
    let mut listed = false;
    for part in &t.parts {
        let values: Vec<String> = match part {
            Part::Text(s) => vec![s.clone()],
            Part::Pointer { pointer, optional } => match root.pointer(pointer) {
                None | Some(Value::Null) if *optional => vec![String::new()],
                None | Some(Value::Null) => return Err(format!("argument {pointer} is missing")),
                Some(Value::Array(items)) => {
                    if listed {
                        return Err("two list arguments in one resource".into());
                    }
                    listed = true;
                    if items.is_empty() {
                        return Err(format!("argument {pointer} is an empty list"));
                    }
                    items
                        .iter()
                        .map(|i| scalar(i, pointer))
                        .collect::<Result<_, _>>()?
                }
                Some(v) => vec![scalar(v, pointer)?],
            },
        };
        prefix = prefix
            .iter()
            .flat_map(|p| values.iter().map(move |v| format!("{p}{v}")))
            .collect();
    }
    Ok(prefix)
}
