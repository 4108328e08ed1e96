//! The embedded service models (`data/service-models.json.gz`, made by
//! `scripts/gen-service-models` from botocore). The file is a head gzip member (an index
//! of every service's routing metadata) and one member per service: the index is read
//! on first use, and a service's member is decompressed and compiled only the first
//! time a request names the service (most processes touch a handful of the 455, and the
//! whole text is 14 MB).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::endpoint::Partition;
use crate::shape::{compile, Compiled};
use crate::{Protocol, WireError};

static MODELS_GZ: &[u8] = include_bytes!("../data/service-models.json.gz");
static IAM_OVERRIDES: &str = include_str!("../data/iam-prefix-overrides.tsv");

/// Every AWS service botocore knows, with what routes and reads its requests.
pub struct ServiceModels {
    botocore: String,
    services: Vec<Service>,
    by_id: HashMap<String, usize>,
    by_signing_name: HashMap<String, Vec<usize>>,
    pub(crate) partitions: Vec<Partition>,
}

/// One service (one botocore service directory, its newest API version).
pub struct Service {
    /// botocore's directory name, e.g. "rds", "s3control", "sso-admin".
    pub id: String,
    /// The SigV4 credential-scope service (`metadata.signingName`, else `endpointPrefix`).
    pub signing_name: String,
    pub endpoint_prefix: String,
    /// The prefix of IAM actions (`<iam_prefix>:<Operation>`): the signing name, or the
    /// override in `data/iam-prefix-overrides.tsv`.
    pub iam_prefix: String,
    /// The protocol botocore (and so the AWS CLI) speaks to it: the first of its
    /// `protocols` in botocore's priority order.
    pub protocol: Protocol,
    /// Every protocol the service accepts (CloudWatch: json, rpc-v2-cbor and query).
    pub protocols: Vec<Protocol>,
    pub api_version: String,
    /// `X-Amz-Target` prefix (json and rpc-v2-cbor).
    pub target_prefix: Option<String>,
    pub json_version: Option<String>,
    compiled: OnceLock<Result<Compiled, String>>,
    /// The service's gzip member: `"<id>":{"metadata":..,"operations":..,"shapes":..}`,
    /// with a trailing comma but for the last service.
    member: &'static [u8],
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("id", &self.id)
            .field("signing_name", &self.signing_name)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub(crate) fn compiled(&self) -> Result<&Compiled, WireError> {
        self.compiled
            .get_or_init(|| {
                let mut text = String::new();
                flate2::read::GzDecoder::new(self.member)
                    .read_to_string(&mut text)
                    .map_err(|e| format!("gunzip: {e}"))?;
                let body = text
                    .strip_prefix(&format!("\"{}\":", self.id))
                    .ok_or("the member does not name its service")?;
                let body = body.strip_suffix(',').unwrap_or(body);
                let raw: RawBody<'_> =
                    serde_json::from_str(body).map_err(|e| format!("json: {e}"))?;
                compile(raw.operations, raw.shapes)
            })
            .as_ref()
            .map_err(|e| WireError::Model {
                service: self.id.clone(),
                reason: e.clone(),
            })
    }

    /// The service's operation names, sorted.
    pub fn operations(&self) -> Result<Vec<&str>, WireError> {
        Ok(self
            .compiled()?
            .ops
            .iter()
            .map(|o| o.name.as_str())
            .collect())
    }

    pub fn speaks(&self, p: Protocol) -> bool {
        self.protocols.contains(&p)
    }
}

/// The head member, closed (`}}`) so that it parses: everything but the services.
#[derive(Deserialize)]
struct Head {
    botocore: String,
    index: BTreeMap<String, IndexEntry>,
    partitions: Vec<Partition>,
}

#[derive(Deserialize)]
struct IndexEntry {
    /// The member's offset from the end of the head member, and its length.
    at: usize,
    len: usize,
    metadata: Meta,
}

#[derive(Deserialize)]
struct RawBody<'a> {
    #[serde(borrow)]
    operations: &'a RawValue,
    #[serde(borrow)]
    shapes: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    api_version: String,
    protocol: String,
    #[serde(default)]
    protocols: Vec<String>,
    signing_name: Option<String>,
    endpoint_prefix: String,
    target_prefix: Option<String>,
    json_version: Option<String>,
}

/// botocore's `PRIORITY_ORDERED_SUPPORTED_PROTOCOLS` (ec2 is only ever alone).
const PRIORITY: [Protocol; 6] = [
    Protocol::Json,
    Protocol::RestJson,
    Protocol::RestXml,
    Protocol::RpcV2Cbor,
    Protocol::Query,
    Protocol::Ec2,
];

impl ServiceModels {
    /// The models embedded in this build, decoded on first use.
    pub fn embedded() -> &'static ServiceModels {
        static MODELS: OnceLock<ServiceModels> = OnceLock::new();
        MODELS.get_or_init(|| {
            // The data file is generated and checked by this crate's tests: failing to
            // read it is a build defect, not an input error.
            ServiceModels::from_gzip(MODELS_GZ).expect("embedded service models decode")
        })
    }

    /// Reads the index of a data file in the layout `scripts/gen-service-models` writes;
    /// services are decompressed from it when first used.
    pub fn from_gzip(gz: &'static [u8]) -> Result<ServiceModels, WireError> {
        let model_err = |reason: String| WireError::Model {
            service: "*".into(),
            reason,
        };
        let mut rest = gz;
        let mut head = String::new();
        flate2::bufread::GzDecoder::new(&mut rest)
            .read_to_string(&mut head)
            .map_err(|e| model_err(format!("gunzip the head: {e}")))?;
        head.push_str("}}");
        let doc: Head =
            serde_json::from_str(&head).map_err(|e| model_err(format!("head json: {e}")))?;
        let overrides = iam_overrides();
        let mut services = Vec::with_capacity(doc.index.len());
        for (id, s) in doc.index {
            let member =
                s.at.checked_add(s.len)
                    .and_then(|end| rest.get(s.at..end))
                    .ok_or_else(|| model_err(format!("{id}: member outside the file")))?;
            let m = s.metadata;
            let mut protocols: Vec<Protocol> = if m.protocols.is_empty() {
                vec![&m.protocol]
            } else {
                m.protocols.iter().collect()
            }
            .into_iter()
            .filter_map(|p| Protocol::from_model(p))
            .collect();
            protocols.sort_by_key(|p| PRIORITY.iter().position(|q| q == p));
            let Some(&protocol) = protocols.first() else {
                return Err(model_err(format!("{id}: no supported protocol")));
            };
            let signing_name = m.signing_name.unwrap_or_else(|| m.endpoint_prefix.clone());
            let iam_prefix = overrides
                .get(id.as_str())
                .map_or_else(|| signing_name.clone(), |p| p.to_string());
            services.push(Service {
                id,
                signing_name,
                endpoint_prefix: m.endpoint_prefix,
                iam_prefix,
                protocol,
                protocols,
                api_version: m.api_version,
                target_prefix: m.target_prefix,
                json_version: m.json_version,
                compiled: OnceLock::new(),
                member,
            });
        }
        let by_id = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let mut by_signing_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in services.iter().enumerate() {
            by_signing_name
                .entry(s.signing_name.clone())
                .or_default()
                .push(i);
        }
        Ok(ServiceModels {
            botocore: doc.botocore,
            services,
            by_id,
            by_signing_name,
            partitions: doc.partitions,
        })
    }

    /// The botocore version the models come from.
    pub fn botocore_version(&self) -> &str {
        &self.botocore
    }

    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }

    /// By botocore id ("s3control").
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.by_id.get(id).map(|&i| &self.services[i])
    }

    /// The services a SigV4 credential scope names (s3 signs for s3 and s3control).
    pub fn by_signing_name(&self, signing_name: &str) -> Vec<&Service> {
        self.by_signing_name
            .get(signing_name)
            .map(|v| v.iter().map(|&i| &self.services[i]).collect())
            .unwrap_or_default()
    }
}

fn iam_overrides() -> HashMap<&'static str, &'static str> {
    IAM_OVERRIDES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?, cols.next()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_compiles() {
        let m = ServiceModels::embedded();
        assert!(m.services().count() > 400);
        let mut ops = 0;
        for s in m.services() {
            let c = s.compiled().unwrap_or_else(|e| panic!("{e}"));
            ops += c.ops.len();
        }
        assert!(ops > 15_000, "{ops}");
    }

    #[test]
    fn metadata_and_prefixes() {
        let m = ServiceModels::embedded();
        let cw = m.service("cloudwatch").unwrap();
        assert_eq!(cw.signing_name, "monitoring");
        assert_eq!(cw.iam_prefix, "cloudwatch");
        assert_eq!(cw.protocol, Protocol::Json);
        assert!(cw.speaks(Protocol::Query));
        assert_eq!(m.service("ec2").unwrap().protocol, Protocol::Ec2);
        assert_eq!(m.service("s3control").unwrap().signing_name, "s3");
        assert_eq!(m.service("sqs").unwrap().protocol, Protocol::Json);
        let ids: Vec<_> = m
            .by_signing_name("rds")
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, ["docdb", "neptune", "rds"]);
        // Every override names a real service.
        for id in iam_overrides().keys() {
            assert!(m.service(id).is_some(), "override for unknown service {id}");
        }
    }
}
