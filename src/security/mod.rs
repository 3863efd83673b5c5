//! Request-level protections: CSRF tokens, rate limits, client addresses, security headers.

pub mod csrf;
pub mod headers;
pub mod local_keys;
pub mod rate_limit;

use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// A trusted proxy entry: a CIDR range, or a single address (a /32 or /128 range).
pub fn parse_proxy(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The reverse proxies whose `X-Forwarded-For` header is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From `server.trusted_proxies` (validated at load; unparsable entries are skipped).
    pub fn new(entries: &[String]) -> Self {
        Self(entries.iter().filter_map(|e| parse_proxy(e)).collect())
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer may arrive as an IPv4-mapped IPv6 address on a dual-stack socket.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client address used for rate limiting: the socket peer, unless the peer is a
    /// trusted proxy; then the right-most `X-Forwarded-For` address that is not a trusted
    /// proxy (each proxy appends the address it received from, so entries to the left of
    /// that one were written by the client and prove nothing). Never logged.
    pub fn client_ip(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<Option<IpAddr>> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().parse::<IpAddr>().ok())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                // An entry the proxies did not write cleanly: stop at the last good one.
                None => break,
                Some(ip) if self.contains(*ip) => client = *ip,
                Some(ip) => return *ip,
            }
        }
        client
    }
}

/// The client's address as [`TrustedProxies::client_ip`] determines it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(Self(state.trusted_proxies.client_ip(&parts.headers, peer)))
    }
}

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Reads one cookie from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(v));
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(&["10.0.0.0/8".into(), "192.0.2.1".into()]);
        let direct: IpAddr = "203.0.113.50".parse().unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        // A client reaching the server directly cannot choose its address.
        assert_eq!(proxies.client_ip(&xff("198.51.100.7"), direct), direct);
        assert_eq!(
            TrustedProxies::default().client_ip(&xff("198.51.100.7"), proxy),
            proxy
        );
        // Through the proxy: the right-most address the proxies did not write.
        assert_eq!(
            proxies.client_ip(&xff("1.1.1.1, 198.51.100.7"), proxy),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Chained proxies are skipped from the right.
        assert_eq!(
            proxies.client_ip(&xff("1.1.1.1, 198.51.100.7, 10.9.9.9, 192.0.2.1"), proxy),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // No header, or garbage at the right: the proxy's own address.
        assert_eq!(proxies.client_ip(&HeaderMap::new(), proxy), proxy);
        assert_eq!(proxies.client_ip(&xff("nonsense"), proxy), proxy);
        assert_eq!(
            proxies.client_ip(&xff("198.51.100.7, nonsense"), proxy),
            proxy
        );
        // Garbage written by the client to the left does not matter.
        assert_eq!(
            proxies.client_ip(&xff("nonsense, 198.51.100.7"), proxy),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // An IPv4 proxy seen as an IPv4-mapped IPv6 peer.
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(
            proxies.client_ip(&xff("198.51.100.7"), mapped),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn proxy_entries_parse_as_ranges_or_addresses() {
        assert!(parse_proxy("10.0.0.0/8").is_some());
        assert!(parse_proxy("::1").is_some());
        assert!(parse_proxy(" 192.0.2.1 ").is_some());
        assert!(parse_proxy("10.0.0.0/33").is_none());
        assert!(parse_proxy("proxy.internal").is_none());
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_static("a=1; fox_csrf=abc; b=2"));
        assert_eq!(cookie(&h, "fox_csrf"), Some("abc"));
        assert_eq!(cookie(&h, "zzz"), None);
    }
}
