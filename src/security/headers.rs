//! Security headers set on every response.

use axum::http::{HeaderName, HeaderValue, header};

/// No inline scripts or styles, no framing, nothing from other origins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The headers for every response; HSTS only in production (it would pin plain-http dev hosts).
pub fn security_headers(production: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut h = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    if production {
        h.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_only_in_production() {
        let has_hsts = |p| security_headers(p).iter().any(|(n, _)| n == header::STRICT_TRANSPORT_SECURITY);
        assert!(has_hsts(true));
        assert!(!has_hsts(false));
    }
}
