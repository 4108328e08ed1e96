//! Address ranges: is a source the internet, or broad enough to count as it?
//!
//! Values come from plans and API calls written by whoever drives the change, so
//! they are parsed strictly and every doubt widens: a value that is not a CIDR is
//! [`Source::Unparseable`] (an unknown exposure), never "no exposure".

use parapet_model::ExposureScope;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges this wide (a sixteenth of the address space or more) are the
/// internet for exposure: nobody means "a /4" as a narrow allow-list.
const V4_INTERNET_LEN: u8 = 4;
/// Public IPv4 ranges up to this length are broad public ranges.
const V4_BROAD_LEN: u8 = 8;
/// IPv6 ranges this wide that reach global unicast (2000::/3) are the internet.
const V6_INTERNET_LEN: u8 = 4;
/// Non-private IPv6 ranges up to this length are broad public ranges.
const V6_BROAD_LEN: u8 = 16;

/// What a rule source means for exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Reaches the internet or a broad public part of it.
    Exposed(ExposureScope),
    /// A narrow or private range.
    Narrow,
    /// Not a CIDR parapet can read: which addresses it admits is unknown.
    Unparseable,
}

/// A parsed range: network start and prefix length, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    V4(Ipv4Addr, u8),
    V6(Ipv6Addr, u8),
}

/// Parse a CIDR the way EC2 and Terraform read it, plus the forms that mean one
/// thing beyond doubt: leading zeros in the prefix length (`/00`), a dotted
/// IPv4 netmask (`/0.0.0.0`), a bare address (`/32`, `/128`; but a bare
/// unspecified address `0.0.0.0` or `::` is refused, it is meant as "any"), and
/// IPv4-mapped IPv6 (`::ffff:0.0.0.0/96` is `0.0.0.0/0`). Whitespace inside, zone
/// ids (`%eth0`), hex or signed lengths are refused.
pub fn parse_cidr(s: &str) -> Option<Cidr> {
    let s = s.trim();
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '%') {
        return None;
    }
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32u8 } else { 128u8 };
    let len = match len {
        None if addr.is_unspecified() => return None,
        None => max,
        Some(l) if !l.is_empty() && l.len() <= 5 && l.bytes().all(|b| b.is_ascii_digit()) => {
            let n: u16 = l.parse().ok()?;
            if n > u16::from(max) {
                return None;
            }
            n as u8
        }
        Some(l) if addr.is_ipv4() => netmask_len(l.parse().ok()?)?,
        Some(_) => return None,
    };
    Some(match addr {
        IpAddr::V4(a) => Cidr::V4(mask4(a, len), len),
        IpAddr::V6(a) => match embedded_v4(a) {
            Some(v4) if len >= 96 => Cidr::V4(mask4(v4, len - 96), len - 96),
            _ => Cidr::V6(mask6(a, len), len),
        },
    })
}

fn netmask_len(m: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(m);
    let len = bits.leading_ones();
    (bits.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

fn mask4(a: Ipv4Addr, len: u8) -> Ipv4Addr {
    let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    Ipv4Addr::from(u32::from(a) & m)
}

fn mask6(a: Ipv6Addr, len: u8) -> Ipv6Addr {
    let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    Ipv6Addr::from(u128::from(a) & m)
}

/// IPv4-mapped (`::ffff:0:0/96`) and NAT64 (`64:ff9b::/96`) addresses carry an
/// IPv4 address: a range in them exposes those IPv4 addresses.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || nat64).then(|| Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])))
}

impl Cidr {
    /// What this range means as a rule source.
    pub fn source(self) -> Source {
        match self {
            Cidr::V4(a, len) => {
                if len <= V4_INTERNET_LEN {
                    return Source::Exposed(ExposureScope::Internet);
                }
                let private = a.is_private() || a.is_loopback() || a.is_link_local() || is_cgnat(a);
                if len <= V4_BROAD_LEN && !private {
                    Source::Exposed(ExposureScope::BroadPublicRange)
                } else {
                    Source::Narrow
                }
            }
            Cidr::V6(a, len) => {
                if len == 0 || (len <= V6_INTERNET_LEN && overlaps_global_unicast(a, len)) {
                    return Source::Exposed(ExposureScope::Internet);
                }
                let ula = (a.segments()[0] & 0xfe00) == 0xfc00;
                if len <= V6_BROAD_LEN && !ula && !a.is_loopback() {
                    Source::Exposed(ExposureScope::BroadPublicRange)
                } else {
                    Source::Narrow
                }
            }
        }
    }
}

fn overlaps_global_unicast(a: Ipv6Addr, len: u8) -> bool {
    // 2000::/3: the range overlaps it when the first min(len, 3) bits agree.
    let n = u32::from(len.min(3));
    let top = u128::from(a) >> (128 - n).min(127);
    let want = 0x2000_u128 << 112 >> (128 - n).min(127);
    n == 0 || top == want
}

/// Whether a CIDR is the whole address space of its family (`0.0.0.0/0`, `::/0`,
/// in any spelling [`parse_cidr`] reads).
pub fn is_everything(cidr: &str) -> bool {
    matches!(parse_cidr(cidr), Some(Cidr::V4(_, 0) | Cidr::V6(_, 0)))
}

/// Classify one rule source.
pub fn classify(cidr: &str) -> Source {
    parse_cidr(cidr).map_or(Source::Unparseable, Cidr::source)
}

/// Classify a CIDR as a rule source. `None`: a narrow or private range.
/// Any `/0` is the whole internet whatever address precedes the slash. A value
/// that is not a CIDR is taken as the internet: nothing shows which addresses it
/// admits (callers that can report an unknown exposure use [`classify`]). An empty value is no source (AWS refuses it; nothing opens).
pub fn classify_source(cidr: &str) -> Option<ExposureScope> {
    if cidr.trim().is_empty() {
        return None;
    }
    match classify(cidr) {
        Source::Exposed(s) => Some(s),
        Source::Narrow => None,
        Source::Unparseable => Some(ExposureScope::Internet),
    }
}

/// Classify the sources of one rule together: ranges that are each narrow but
/// together cover the internet (`0.0.0.0/1` + `128.0.0.0/1`, many /9s) count as
/// the internet. Returns one [`Source`] per input, in order.
pub fn classify_rule(cidrs: &[&str]) -> Vec<Source> {
    let parsed: Vec<Option<Cidr>> = cidrs.iter().map(|c| parse_cidr(c)).collect();
    let mut v4: Vec<(u128, u128)> = Vec::new();
    let mut v6: Vec<(u128, u128)> = Vec::new();
    for c in parsed.iter().flatten() {
        match *c {
            Cidr::V4(a, len) => v4.push(span(u128::from(u32::from(a)), 32, len)),
            Cidr::V6(a, len) => v6.push(span(u128::from(a), 128, len)),
        }
    }
    // A sixteenth of IPv4, or half of IPv6 global unicast, covered by the union.
    let v4_internet = covered(v4) >= 1u128 << (32 - V4_INTERNET_LEN);
    let gu = span(0x2000_u128 << 112, 128, 3);
    let v6_gu: Vec<(u128, u128)> = v6
        .iter()
        .filter_map(|&(s, e)| {
            let (s, e) = (s.max(gu.0), e.min(gu.1));
            (s <= e).then_some((s, e))
        })
        .collect();
    let v6_internet = covered(v6_gu) >= 1u128 << (125 - 1);
    parsed
        .iter()
        .map(|p| match p {
            None => Source::Unparseable,
            Some(c) => {
                let own = c.source();
                let union = match c {
                    Cidr::V4(..) => v4_internet,
                    Cidr::V6(..) => v6_internet,
                };
                if union && own != Source::Exposed(ExposureScope::Internet) && is_public(*c) {
                    Source::Exposed(ExposureScope::Internet)
                } else {
                    own
                }
            }
        })
        .collect()
}

fn is_public(c: Cidr) -> bool {
    match c {
        Cidr::V4(a, len) => {
            len <= 8 || !(a.is_private() || a.is_loopback() || a.is_link_local() || is_cgnat(a))
        }
        Cidr::V6(a, _) => (a.segments()[0] & 0xfe00) != 0xfc00 && !a.is_loopback(),
    }
}

fn span(start: u128, bits: u32, len: u8) -> (u128, u128) {
    let size_log = bits - u32::from(len);
    let last = if size_log >= 128 {
        u128::MAX
    } else {
        start + ((1u128 << size_log) - 1)
    };
    (start, last)
}

/// Addresses covered by the union of inclusive ranges (saturating).
fn covered(mut r: Vec<(u128, u128)>) -> u128 {
    r.sort_unstable();
    let mut total = 0u128;
    let mut cur: Option<(u128, u128)> = None;
    for (s, e) in r {
        match cur {
            Some((cs, ce)) if s <= ce.saturating_add(1) => cur = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total = total.saturating_add(ce - cs).saturating_add(1);
                cur = Some((s, e));
            }
            None => cur = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = cur {
        total = total.saturating_add(ce - cs).saturating_add(1);
    }
    total
}

fn is_cgnat(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 100 && (64..128).contains(&o[1])
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
