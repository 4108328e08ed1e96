//! Tool calls -> the actions they take. Mapping files (TOML, docs/mcp-mappings.md) say,
//! per server and tool name, which actions a call takes and where in its arguments the
//! resource and parameters are; the AWS API MCP server's `call_aws` is read by the AWS
//! CLI parser of `parapet-wire` into `service:Operation` calls in the API's own input
//! shape. Shipped mappings (data/mcp-mappings/) are embedded; `--mappings` files are
//! checked first, so they override.
//!
//! Fail closed: a tool no mapping covers is [`Mapping::Unmapped`]; a mapped tool whose
//! arguments cannot be read (a missing argument, a CLI command that does not parse) is
//! [`Mapping::Unreadable`]; both are judged as review, never allowed.

mod apply;
mod aws;
mod file;

use std::path::{Path, PathBuf};

use crate::{MappedAction, Mapping, ToolCall};
use file::{How, MapFile};

/// The mapping files shipped with parapet, in the order they are checked.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "aws-api.toml",
        include_str!("../../../../data/mcp-mappings/aws-api.toml"),
    ),
    (
        "filesystem.toml",
        include_str!("../../../../data/mcp-mappings/filesystem.toml"),
    ),
    (
        "kubernetes.toml",
        include_str!("../../../../data/mcp-mappings/kubernetes.toml"),
    ),
    (
        "terraform.toml",
        include_str!("../../../../data/mcp-mappings/terraform.toml"),
    ),
    // Last: it covers every server.
    (
        "shell.toml",
        include_str!("../../../../data/mcp-mappings/shell.toml"),
    ),
];

/// The largest mapping file read (bytes).
pub const MAX_FILE: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("mapping file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mapping file {path} is larger than {MAX_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("mapping file {0}")]
    Invalid(String),
    #[error("{0} holds no .toml mapping file")]
    Empty(PathBuf),
}

/// Every mapping in force: overrides first, then the shipped ones.
#[derive(Debug)]
pub struct Mappings {
    files: Vec<MapFile>,
}

impl Mappings {
    /// The shipped mappings.
    pub fn embedded() -> Mappings {
        let files = EMBEDDED
            .iter()
            .map(|(name, text)| {
                // Checked by this crate's tests: a shipped file that does not parse is a
                // build defect.
                MapFile::parse(text, &format!("embedded:{name}"))
                    .expect("shipped mapping file parses")
            })
            .collect();
        Mappings { files }
    }

    /// The shipped mappings plus the files given (a directory: its `*.toml` files, by
    /// name), which are checked before the shipped ones.
    pub fn load(dirs_or_files: &[PathBuf]) -> Result<Mappings, MapError> {
        let mut extra = Vec::new();
        for p in dirs_or_files {
            if p.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|source| MapError::Read {
                        path: p.clone(),
                        source,
                    })?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                    .collect();
                if found.is_empty() {
                    return Err(MapError::Empty(p.clone()));
                }
                found.sort();
                for f in found {
                    extra.push(read_file(&f)?);
                }
            } else {
                extra.push(read_file(p)?);
            }
        }
        let mut m = Mappings::embedded();
        extra.append(&mut m.files);
        Ok(Mappings { files: extra })
    }

    /// The first file that covers the server and maps the tool decides.
    fn rule(&self, server: &str, tool: &str) -> Option<(&MapFile, &file::ToolRule)> {
        self.files
            .iter()
            .filter(|f| f.covers(server))
            .find_map(|f| f.tool(tool).map(|t| (f, t)))
    }

    pub fn map(&self, call: &ToolCall) -> Mapping {
        let Some((f, rule)) = self.rule(call.server, call.tool) else {
            return Mapping::Unmapped {
                why: format!(
                    "no mapping covers tool {:?} of server {:?}: a call to it needs a person",
                    call.tool, call.server
                ),
            };
        };
        let result = match &rule.how {
            How::Cli(p) => aws::map(call.arguments, p),
            How::Actions(rules) => apply::actions(rules, call.arguments),
        };
        match result {
            Ok(actions) if !actions.is_empty() => Mapping::Actions(actions),
            Ok(_) => Mapping::Unreadable {
                why: format!("{}: tool {:?} maps to no action", f.origin, call.tool),
            },
            Err(why) => Mapping::Unreadable {
                why: format!("tool {:?} ({}): {why}", call.tool, f.origin),
            },
        }
    }

    /// The actions a tool may take whatever its arguments (for tools/list hiding);
    /// `None` when it depends on arguments or the tool is unmapped. Resources and
    /// parameters are left empty: they come from arguments.
    pub fn static_actions(&self, server: &str, tool: &str) -> Option<Vec<MappedAction>> {
        let (_, rule) = self.rule(server, tool)?;
        match &rule.how {
            How::Cli(_) => None,
            How::Actions(rules) => Some(
                rules
                    .iter()
                    .map(|r| MappedAction {
                        action: r.action.clone(),
                        // A resource of literal text is the same for every call: policies
                        // on it can hide the tool (`resource.address == "admin://all"`).
                        resource: r.resource.as_ref().and_then(file::Template::literal),
                        params: serde_json::Value::Object(Default::default()),
                        access: r.access,
                    })
                    .collect(),
            ),
        }
    }
}

fn read_file(path: &Path) -> Result<MapFile, MapError> {
    let meta = std::fs::metadata(path).map_err(|source| MapError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.len() > MAX_FILE {
        return Err(MapError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| MapError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    MapFile::parse(&text, &path.display().to_string()).map_err(MapError::Invalid)
}
