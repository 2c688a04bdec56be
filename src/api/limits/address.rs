//! Who the client is: the connection's peer, or, behind a proxy named in
//! `--trusted-proxies`, the address that proxy says it forwarded for.
//!
//! - Without trusted proxies (the default) the peer address is the client, whatever
//!   `Forwarded` or `X-Forwarded-For` say: a client cannot forge its way out of a limit.
//! - When the peer is a trusted proxy, the chain it reports (`Forwarded: for=...`, else
//!   `X-Forwarded-For`, each hop appended by the proxy it went through) is read from the right:
//!   the first address that is not itself a trusted proxy is the client. Whatever a client
//!   wrote into the header before the first trusted proxy is to the left of what that proxy
//!   appended, so it is never reached. A chain of trusted proxies only (or no header) gives the
//!   leftmost address (or the peer).
//! - The limits key a client by its address, IPv6 by its /64 (one subscriber's network is a
//!   /64 or more: keying by /128 would give each of its 2^64 addresses a bucket of its own);
//!   IPv4-mapped IPv6 addresses are read as IPv4.

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use poem::Request;

/// An address or a block of addresses: `10.0.0.0/8`, `127.0.0.1`, `fd00::/8`, `::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `address` is in the block.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                mask(u128::from(u32::from(network)), self.prefix, 32)
                    == mask(u128::from(u32::from(address)), self.prefix, 32)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                mask(u128::from(network), self.prefix, 128)
                    == mask(u128::from(address), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of the `width`-bit number `bits`.
fn mask(bits: u128, prefix: u8, width: u8) -> u128 {
    let prefix = u32::from(prefix.min(width));
    let width = u32::from(width);
    if prefix == 0 {
        return 0;
    }
    bits >> (width - prefix)
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("expected an address or a CIDR block (10.0.0.0/8), got '{text}'");
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network = canonical(address.parse::<IpAddr>().map_err(|_| bad())?);
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().map_err(|_| bad())?,
            None => width,
        };
        if prefix > width {
            return Err(bad());
        }
        Ok(Cidr { network, prefix })
    }
}

/// Whether `address` is in any of `blocks`.
pub fn listed(blocks: &[Cidr], address: IpAddr) -> bool {
    blocks.iter().any(|block| block.contains(address))
}

/// IPv4-mapped IPv6 addresses as IPv4; others as they are.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// What the limits key a client by: its IPv4 address, or its IPv6 /64.
pub fn key(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

/// The client of `request` (see the module docs); `None` when the connection has no IP peer
/// (a Unix socket, an in-process test).
pub fn client(request: &Request, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = canonical(request.remote_addr().as_socket_addr()?.ip());
    if !listed(trusted, peer) {
        return Some(peer);
    }
    let headers = request.headers();
    let chain = match headers.get("forwarded").and_then(|v| v.to_str().ok()) {
        Some(forwarded) => forwarded_for(forwarded),
        None => headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| parse_hop(hop.trim()))
            .collect(),
    };
    Some(from_chain(&chain, peer, trusted))
}

/// The client of a proxy chain (oldest hop first; `None`: a hop that is no address), read from
/// the right past the trusted proxies.
fn from_chain(chain: &[Option<IpAddr>], peer: IpAddr, trusted: &[Cidr]) -> IpAddr {
    let mut client = peer;
    for hop in chain.iter().rev() {
        match hop {
            // `unknown`, an obfuscated name, garbage: the proxy before it is unknown too.
            None => return client,
            Some(address) => {
                client = *address;
                if !listed(trusted, client) {
                    return client;
                }
            }
        }
    }
    client
}

/// The `for=` values of a `Forwarded` header (RFC 7239), oldest first.
fn forwarded_for(header: &str) -> Vec<Option<IpAddr>> {
    header
        .split(',')
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_hop(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`,
/// `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (address, _) = rest.split_once(']')?;
        return address.parse().ok().map(canonical);
    }
    let (address, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn blocks(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|b| b.parse().unwrap()).collect()
    }

    #[test]
    fn blocks_contain_their_addresses_and_no_others() {
        let lan: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(lan.contains(ip("10.1.2.3")));
        assert!(lan.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        assert!(!lan.contains(ip("11.0.0.1")));
        assert!(!lan.contains(ip("fd00::1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["", "10.0.0.0/33", "::/129", "host", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_chain_is_read_from_the_right_past_trusted_proxies_only() {
        let trusted = blocks(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        let chain =
            |hops: &[&str]| -> Vec<Option<IpAddr>> { hops.iter().map(|h| parse_hop(h)).collect() };
        // A client forged the first entry; the trusted proxy appended the real one.
        assert_eq!(
            from_chain(&chain(&["6.6.6.6", "203.0.113.7"]), peer, &trusted),
            ip("203.0.113.7")
        );
        // Two trusted hops.
        assert_eq!(
            from_chain(&chain(&["203.0.113.7", "10.0.0.9"]), peer, &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(from_chain(&[], peer, &trusted), peer);
        assert_eq!(
            from_chain(&chain(&["unknown", "10.0.0.9"]), peer, &trusted),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn forwarded_and_its_address_forms_are_read() {
        let hops = forwarded_for(
            r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", for=unknown"#,
        );
        assert_eq!(
            hops,
            vec![Some(ip("192.0.2.60")), Some(ip("2001:db8:cafe::17")), None]
        );
        assert_eq!(parse_hop("192.0.2.1:8080"), Some(ip("192.0.2.1")));
        assert_eq!(parse_hop("2001:db8::1"), Some(ip("2001:db8::1")));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(key(ip("2001:db8:1:2:bbbb::9")), ip("2001:db8:1:2::"));
        assert_eq!(key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(key(ip("192.0.2.1")), ip("192.0.2.1"));
    }
}
