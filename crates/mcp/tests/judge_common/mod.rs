//! Shared by the judge tests: stores on SQLite (a temp file) and the machine's
//! PostgreSQL (a fresh schema in database `test`; `PARAPET_TEST_POSTGRES` for another
//! server), the decision service state over them, tokens, calls.
#![allow(dead_code)]

use parapet_mcp::{Caller, MappedAction, Mapping, ToolCall};
use parapet_policy::PolicyEngine;
use parapet_server::{App, ServerConfig, WebhookSecrets};
use parapet_store::{new_secret, open, Role, Store};
use serde_json::{Map, Value};
use std::sync::Arc;

fn pg_base() -> String {
    std::env::var("PARAPET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// A fresh schema, dropped with the guard.
pub struct Schema {
    pub url: String,
    name: String,
}

impl Schema {
    pub fn new() -> Schema {
        let name = format!("parapet_j_{}", &new_secret()[..12]);
        let mut c = postgres::Client::connect(&pg_base(), postgres::NoTls)
            .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running");
        c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
        let sep = if pg_base().contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}options=-c%20search_path%3D{name}", pg_base());
        Schema { url, name }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&pg_base(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
        }
    }
}

/// Each backend's location: a SQLite file (kept alive by the dir), a PostgreSQL schema.
pub fn locations() -> Vec<(String, Option<Schema>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db").to_str().unwrap().to_string();
    let pg = Schema::new();
    vec![(file, None, Some(dir)), (pg.url.clone(), Some(pg), None)]
}

pub fn app_with(location: &str, policies: Option<&std::path::Path>) -> Arc<App> {
    Arc::new(App::new(
        open(location).unwrap(),
        PolicyEngine::load(policies).unwrap(),
        ServerConfig {
            public_url: "http://approve.example".into(),
            ..Default::default()
        },
        WebhookSecrets::default(),
    ))
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A token's secret (store calls run outside the runtime: the PostgreSQL client is
/// synchronous).
pub fn token(store: &dyn Store, role: Role, actor: &str) -> String {
    store
        .create_token(actor, role, actor, None, "admin:test")
        .unwrap()
        .1
}

pub fn args(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

pub fn call<'a>(server: &'a str, tool: &'a str, arguments: &'a Map<String, Value>) -> ToolCall<'a> {
    ToolCall {
        server,
        tool,
        arguments,
    }
}

pub fn aws(action: &str, params: Value) -> MappedAction {
    MappedAction {
        action: action.into(),
        resource: None,
        params,
        access: None,
    }
}

pub fn actions(a: Vec<MappedAction>) -> Mapping {
    Mapping::Actions(a)
}

pub fn caller(actor: &str) -> Caller {
    Caller {
        actor: actor.into(),
    }
}

/// Approve `id` as each approver, bound to the content they saw.
pub fn approve(store: &dyn Store, id: &str, approvers: &[&str]) {
    let r = store.request(id).unwrap().unwrap();
    for a in approvers {
        store.vote(id, a, true, &r.content_hash, None).unwrap();
    }
}
