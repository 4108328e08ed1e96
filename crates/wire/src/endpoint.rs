//! The real AWS endpoint of a service in a region, from botocore's endpoints.json as
//! botocore's legacy resolver reads it: the region's partition, then the service's entry
//! for that region, else its global (partition) endpoint when it is not regionalised,
//! else the partition's `{service}.{region}.{dnsSuffix}`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::models::{Service, ServiceModels};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Partition {
    partition: String,
    dns_suffix: String,
    region_regex: String,
    regions: Vec<String>,
    hostname: String,
    services: HashMap<String, PService>,
    #[serde(skip)]
    regex: OnceLock<Option<regex::Regex>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PService {
    is_regionalized: Option<bool>,
    partition_endpoint: Option<String>,
    defaults: Option<PEndpoint>,
    #[serde(default)]
    endpoints: HashMap<String, PEndpoint>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PEndpoint {
    hostname: Option<String>,
    credential_scope: Option<Scope>,
}

#[derive(Debug, Default, Deserialize)]
struct Scope {
    region: Option<String>,
}

/// Where to send a service's requests and the region to sign them for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host` (no trailing slash).
    pub url: String,
    pub signing_region: String,
}

impl Partition {
    fn matches(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
            || self
                .regex
                .get_or_init(|| regex::Regex::new(&self.region_regex).ok())
                .as_ref()
                .is_some_and(|re| re.is_match(region))
    }
}

/// The real endpoint of `service` in `region` (global services, e.g. iam, route53,
/// cloudfront, organizations, give their global host and its signing region). A region
/// that is not a plain region name (letters, digits, hyphens) is resolved in the `aws`
/// partition as written, so it can never inject a host.
pub fn endpoint(service: &Service, region: &str) -> Endpoint {
    resolve(ServiceModels::embedded(), service, region)
}

pub(crate) fn resolve(models: &ServiceModels, service: &Service, region: &str) -> Endpoint {
    let region = if !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        region
    } else {
        "us-east-1"
    };
    let parts = &models.partitions;
    let Some(p) = parts
        .iter()
        .find(|p| p.regions.iter().any(|r| r == region))
        .or_else(|| parts.iter().find(|p| p.matches(region)))
        .or_else(|| parts.iter().find(|p| p.partition == "aws"))
    else {
        return Endpoint {
            url: format!("https://{}.{region}.amazonaws.com", service.endpoint_prefix),
            signing_region: region.to_string(),
        };
    };
    let prefix = &service.endpoint_prefix;
    let s = p.services.get(prefix.as_str());
    let chosen = s.and_then(|s| {
        if let Some(e) = s.endpoints.get(region) {
            return Some((e, region.to_string()));
        }
        if s.is_regionalized == Some(false) {
            let pe = s.partition_endpoint.as_deref()?;
            return s.endpoints.get(pe).map(|e| (e, region.to_string()));
        }
        None
    });
    let defaults = s.and_then(|s| s.defaults.as_ref());
    let hostname = chosen
        .as_ref()
        .and_then(|(e, _)| e.hostname.as_deref())
        .or_else(|| defaults.and_then(|d| d.hostname.as_deref()))
        .unwrap_or(&p.hostname);
    let host = hostname
        .replace("{service}", prefix)
        .replace("{region}", region)
        .replace("{dnsSuffix}", &p.dns_suffix);
    let signing_region = chosen
        .as_ref()
        .and_then(|(e, _)| e.credential_scope.as_ref()?.region.clone())
        .or_else(|| defaults.and_then(|d| d.credential_scope.as_ref()?.region.clone()))
        .unwrap_or_else(|| region.to_string());
    Endpoint {
        url: format!("https://{host}"),
        signing_region,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(id: &str, region: &str) -> (String, String) {
        let m = ServiceModels::embedded();
        let e = endpoint(m.service(id).unwrap(), region);
        (e.url, e.signing_region)
    }

    #[test]
    fn regional_and_global() {
        assert_eq!(
            ep("rds", "eu-west-1"),
            (
                "https://rds.eu-west-1.amazonaws.com".into(),
                "eu-west-1".into()
            )
        );
        assert_eq!(
            ep("ec2", "cn-north-1"),
            (
                "https://ec2.cn-north-1.amazonaws.com.cn".into(),
                "cn-north-1".into()
            )
        );
        for (id, host) in [
            ("iam", "iam.amazonaws.com"),
            ("route53", "route53.amazonaws.com"),
            ("cloudfront", "cloudfront.amazonaws.com"),
            ("organizations", "organizations.us-east-1.amazonaws.com"),
        ] {
            assert_eq!(
                ep(id, "eu-west-2"),
                (format!("https://{host}"), "us-east-1".into()),
                "{id}"
            );
        }
        assert_eq!(
            ep("cloudwatch", "us-west-2").0,
            "https://monitoring.us-west-2.amazonaws.com"
        );
        assert_eq!(
            ep("sts", "ap-south-1").0,
            "https://sts.ap-south-1.amazonaws.com"
        );
        assert_eq!(
            ep("s3", "us-west-2").0,
            "https://s3.us-west-2.amazonaws.com"
        );
        assert_eq!(
            ep("sagemaker-runtime", "us-east-1").0,
            "https://runtime.sagemaker.us-east-1.amazonaws.com"
        );
        assert_eq!(ep("iam", "us-gov-west-1").1, "us-gov-west-1");
        // A region that is not a region name cannot make a host.
        assert_eq!(
            ep("ec2", "evil.com/x").0,
            "https://ec2.us-east-1.amazonaws.com"
        );
    }
}
