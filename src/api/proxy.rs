//! The client's address behind reverse proxies the operator trusts (`[web] trusted_proxies`).
//! Back-off, rate limits and audit rows are keyed by the client's address; behind a proxy or
//! load balancer every peer address is the proxy's, so one client's failures would lock out
//! everyone behind it. When the peer is a trusted proxy, the client is the right-most address
//! in `X-Forwarded-For` that is not itself a trusted proxy (entries left of it can be forged by
//! the client; the ones right of it were appended by proxies we trust). From any other peer
//! the header is ignored, so a client cannot pick its own address.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::config::ConfigError;

/// Networks whose connections are trusted to say who the client is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses addresses and CIDR networks (`10.0.0.0/8`, `::1`, `fd00::/8`).
    pub fn parse(list: &[String]) -> Result<Self, ConfigError> {
        let mut nets = Vec::with_capacity(list.len());
        for item in list {
            let bad = || {
                ConfigError::new(format!(
                    "[web] trusted_proxies: {item:?} is not an IP address or CIDR network \
                     (e.g. 10.0.0.0/8 or fd00::/8)"
                ))
            };
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
                None => (item.as_str(), None),
            };
            let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = bits.unwrap_or(max);
            if bits > max {
                return Err(bad());
            }
            nets.push((addr, bits));
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Is `ip` one of the trusted proxies?
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|&(net, bits)| match (canonical(net), ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
                (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
                _ => false,
            })
    }

    /// The client's address for a request from `peer`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.is_empty() || !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        // every X-Forwarded-For header, in order, as one list; walked from the right
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                // written by a proxy we trust, yet not an address: stop at the last good one
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as IPv4, so one network matches both.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(net: &[u8], addr: &[u8], bits: u8) -> bool {
    let (whole, rest) = ((bits / 8) as usize, bits % 8);
    if net[..whole] != addr[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        net[whole] & mask == addr[whole] & mask
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    e.parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_match_by_prefix_in_both_families() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.7", "fd00::/8"]);
        assert!(p.contains(ip("10.200.3.4")));
        assert!(!p.contains(ip("11.0.0.1")));
        assert!(p.contains(ip("192.168.1.7")));
        assert!(!p.contains(ip("192.168.1.8")));
        assert!(p.contains(ip("fd12::1")));
        assert!(!p.contains(ip("fe80::1")));
        assert!(p.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        let odd = proxies(&["172.16.0.0/12"]);
        assert!(odd.contains(ip("172.31.255.255")));
        assert!(!odd.contains(ip("172.32.0.0")));
    }

    #[test]
    fn bad_entries_are_refused_with_the_value() {
        for bad in ["10.0.0.0/33", "x", "10.0.0/8", "::1/129", "1.2.3.4/"] {
            let err = TrustedProxies::parse(&[bad.to_string()]).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_address_from_a_trusted_peer() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        // the client forged the left-most entry; our proxies appended the rest
        let h = xff(&["6.6.6.6, 203.0.113.9", "10.1.1.1"]);
        assert_eq!(p.client(peer, &h), ip("203.0.113.9"));
        assert_eq!(
            p.client(peer, &xff(&["198.51.100.7:4431"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            p.client(peer, &xff(&["[2001:db8::5]:80"])),
            ip("2001:db8::5")
        );
        // no header: the proxy itself
        assert_eq!(p.client(peer, &HeaderMap::new()), peer);
        // only proxies listed: the left-most of them
        assert_eq!(
            p.client(peer, &xff(&["10.9.9.9, 10.1.1.1"])),
            ip("10.9.9.9")
        );
        // garbage written right of the client stops the walk at the last good address
        assert_eq!(p.client(peer, &xff(&["203.0.113.9, junk"])), peer);
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let p = proxies(&["127.0.0.1"]);
        let peer = ip("127.0.0.2");
        assert_eq!(p.client(peer, &xff(&["198.51.100.7"])), peer);
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &xff(&["198.51.100.7"])),
            ip("127.0.0.1"),
            "no proxies trusted: the header means nothing"
        );
    }
}
