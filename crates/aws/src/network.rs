//! Address ranges: is a source the internet, or broad enough to count as it?

use parapet_model::ExposureScope;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Classify a CIDR as a rule source. `None`: a narrow or private range.
/// Any `/0` is the whole internet whatever address precedes the slash.
pub fn classify_source(cidr: &str) -> Option<ExposureScope> {
    let cidr = cidr.trim();
    let (addr, len) = cidr.split_once('/').unwrap_or((cidr, ""));
    if len == "0" {
        return Some(ExposureScope::Internet);
    }
    let len: u8 = len.parse().ok()?;
    if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        let private = v4.is_private() || v4.is_loopback() || v4.is_link_local() || is_cgnat(v4);
        return (len <= 8 && !private).then_some(ExposureScope::BroadPublicRange);
    }
    if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        let ula = (v6.segments()[0] & 0xfe00) == 0xfc00;
        return (len <= 16 && !ula && !v6.is_loopback()).then_some(ExposureScope::BroadPublicRange);
    }
    None
}

fn is_cgnat(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 100 && (64..128).contains(&o[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify_source("0.0.0.0/0"), Some(ExposureScope::Internet));
        assert_eq!(classify_source("::/0"), Some(ExposureScope::Internet));
        assert_eq!(
            classify_source("208.236.235.254/0"),
            Some(ExposureScope::Internet)
        );
        assert_eq!(
            classify_source("3.0.0.0/8"),
            Some(ExposureScope::BroadPublicRange)
        );
        assert_eq!(classify_source("10.0.0.0/8"), None);
        assert_eq!(classify_source("203.0.113.7/32"), None);
        assert_eq!(
            classify_source("2000::/3"),
            Some(ExposureScope::BroadPublicRange)
        );
        assert_eq!(classify_source("fd00::/8"), None);
        assert_eq!(classify_source("garbage"), None);
    }
}
