//! The AI catalog: which packages are AI frameworks, runtimes, SDKs and agent tooling,
//! and which external AI APIs exist (their import names, hosts and credential
//! variables). Data in `data/catalog.toml`; a user file extends or overrides it.

use crate::error::{line_column, CatalogError};
use crate::{Ecosystem, Error};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const BUILTIN: &str = include_str!("../data/catalog.toml");

#[derive(Debug, Clone, Deserialize)]
struct File {
    #[serde(default)]
    package: Vec<PackageEntry>,
    #[serde(default)]
    service: Vec<ServiceEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageEntry {
    ecosystem: String,
    #[serde(default)]
    names: Vec<String>,
    /// Any package whose (normalised) name starts with one of these.
    #[serde(default)]
    prefixes: Vec<String>,
    kind: String,
    what: String,
    #[serde(default)]
    vendor: Option<String>,
    /// Loads model files that can carry code (pickle, Keras Lambda...).
    #[serde(default)]
    loads_untrusted_models: bool,
    /// Serves models or notebooks over the network.
    #[serde(default)]
    serves: bool,
    /// The service it talks to, when it is a client SDK.
    #[serde(default)]
    service: Option<String>,
}

/// What the catalog says about a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AiInfo {
    /// framework, runtime, serving, sdk, agent, mcp, vector-db, tooling
    pub kind: String,
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub loads_untrusted_models: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub serves: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub endpoints: Vec<String>,
    /// Hosts matched exactly in source.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Host suffixes (`.openai.azure.com`), matched after `://`.
    #[serde(default)]
    pub host_suffixes: Vec<String>,
    /// Python modules (dotted prefixes) whose import means use.
    #[serde(default)]
    pub python: Vec<String>,
    /// npm modules whose import or require means use.
    #[serde(default)]
    pub js: Vec<String>,
    /// Identifiers or string literals that mean use (`bedrock-runtime`, `AzureOpenAI`).
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Environment variables holding its credentials.
    #[serde(default)]
    pub env: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    exact: HashMap<(Ecosystem, String), AiInfo>,
    prefixes: Vec<(Ecosystem, String, AiInfo)>,
    pub services: Vec<ServiceEntry>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::parse(BUILTIN, "built-in catalog").expect("the built-in catalog parses")
    }
}

fn ecosystem(s: &str) -> Option<Ecosystem> {
    match s.to_ascii_lowercase().as_str() {
        "pypi" => Some(Ecosystem::PyPI),
        "npm" => Some(Ecosystem::Npm),
        _ => None,
    }
}

impl Catalog {
    pub fn parse(text: &str, path: &str) -> Result<Catalog, Error> {
        let mut c = Catalog {
            exact: HashMap::new(),
            prefixes: Vec::new(),
            services: Vec::new(),
        };
        c.extend(text, path)?;
        Ok(c)
    }

    /// Add a user catalog: its entries win over earlier ones.
    pub fn extend(&mut self, text: &str, path: &str) -> Result<(), Error> {
        let err = |problem: CatalogError| Error::Catalog {
            path: path.to_string(),
            problem,
        };
        let f: File = toml::from_str(text).map_err(|source| {
            let (line, column) = source.span().map_or((1, 1), |s| line_column(text, s.start));
            err(CatalogError::Toml {
                line,
                column,
                source: Box::new(source),
            })
        })?;
        for p in f.package {
            let eco = ecosystem(&p.ecosystem)
                .ok_or_else(|| err(CatalogError::Ecosystem(p.ecosystem.clone())))?;
            if p.names.is_empty() && p.prefixes.is_empty() {
                return Err(err(CatalogError::Empty(p.what)));
            }
            let info = AiInfo {
                kind: p.kind,
                what: p.what,
                vendor: p.vendor,
                loads_untrusted_models: p.loads_untrusted_models,
                serves: p.serves,
                service: p.service,
            };
            for n in p.names {
                self.exact.insert((eco, eco.key(&n)), info.clone());
            }
            for pre in p.prefixes {
                self.prefixes.insert(0, (eco, eco.key(&pre), info.clone()));
            }
        }
        for s in f.service {
            self.services.retain(|x| x.id != s.id);
            self.services.push(s);
        }
        Ok(())
    }

    pub fn lookup(&self, eco: Ecosystem, name: &str) -> Option<&AiInfo> {
        let k = eco.key(name);
        self.exact.get(&(eco, k.clone())).or_else(|| {
            self.prefixes
                .iter()
                .find(|(e, p, _)| *e == eco && k.starts_with(p.as_str()))
                .map(|(_, _, i)| i)
        })
    }

    pub fn service(&self, id: &str) -> Option<&ServiceEntry> {
        self.services.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_knows_the_big_names() {
        let c = Catalog::default();
        for (eco, n) in [
            (Ecosystem::PyPI, "torch"),
            (Ecosystem::PyPI, "Llama_Index.Core"),
            (Ecosystem::PyPI, "langchain-openai"),
            (Ecosystem::PyPI, "vllm"),
            (Ecosystem::PyPI, "mcp"),
            (Ecosystem::Npm, "@anthropic-ai/sdk"),
            (Ecosystem::Npm, "@langchain/core"),
            (Ecosystem::Npm, "@modelcontextprotocol/sdk"),
        ] {
            assert!(c.lookup(eco, n).is_some(), "{n}");
        }
        assert!(c.lookup(Ecosystem::PyPI, "requests").is_none());
        assert!(c.service("bedrock").is_some());
    }

    #[test]
    fn user_entries_win_and_bad_files_are_named() {
        let mut c = Catalog::default();
        c.extend(
            "[[package]]\necosystem = \"PyPI\"\nnames = [\"torch\"]\nkind = \"runtime\"\nwhat = \"ours\"\n",
            "mine.toml",
        )
        .unwrap();
        assert_eq!(c.lookup(Ecosystem::PyPI, "torch").unwrap().what, "ours");
        let e = c.extend(
            "[[package]]\necosystem = \"cargo\"\nnames=[\"x\"]\nkind=\"a\"\nwhat=\"b\"\n",
            "bad.toml",
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "catalog bad.toml: ecosystem \"cargo\": expected PyPI or npm"
        );
        // A TOML mistake keeps the TOML error (which shows the line) as the cause.
        let e = c
            .extend("[[package]]\necosystem = 3\n", "t.toml")
            .unwrap_err();
        match &e {
            Error::Catalog {
                problem: CatalogError::Toml { line: 2, .. },
                ..
            } => {}
            other => panic!("{other:?}"),
        }
        let cause = std::error::Error::source(&e).expect("TOML error kept");
        assert!(cause.to_string().contains("line 2"), "{cause}");
        assert!(
            crate::error::because(&e).starts_with("catalog t.toml: unreadable: TOML parse error"),
            "{}",
            crate::error::because(&e)
        );
    }
}
