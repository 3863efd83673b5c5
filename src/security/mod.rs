//! Request-level protections: CSRF tokens, rate limits, client addresses, security headers.

pub mod csrf;
pub mod headers;
pub mod rate_limit;

use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The client address used for rate limiting: the socket peer, or the last
/// `X-Forwarded-For` hop when the server sits behind a trusted proxy. Never logged.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for {
        let hop = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .last();
        if hop.is_some() {
            return hop;
        }
    }
    peer.map(|p| p.ip())
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

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 198.51.100.7"),
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(client_ip(&h, Some(peer), false), Some(peer.ip()));
        assert_eq!(
            client_ip(&h, Some(peer), true),
            Some("198.51.100.7".parse().unwrap())
        );
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_static("a=1; fox_csrf=abc; b=2"));
        assert_eq!(cookie(&h, "fox_csrf"), Some("abc"));
        assert_eq!(cookie(&h, "zzz"), None);
    }
}
