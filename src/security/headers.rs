//! Security headers set on every response.

use axum::http::{HeaderName, HeaderValue, header};

/// Where our forms may lead: Stripe's hosted checkout and billing portal (a form that posts
/// to us and is redirected there counts as going there).
pub const STRIPE_FORM_ORIGINS: &str = "https://checkout.stripe.com https://billing.stripe.com";

/// No inline scripts or styles, no framing, nothing from other origins; forms go to us or to
/// Stripe (`extra_form_origin`: a Stripe test double's origin, when configured).
pub fn content_security_policy(extra_form_origin: Option<&str>) -> String {
    let extra = extra_form_origin
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; object-src 'none'; \
base-uri 'none'; form-action 'self' {STRIPE_FORM_ORIGINS}{extra}; frame-ancestors 'none'"
    )
}

/// The headers for every response; HSTS only in production (it would pin plain-http dev hosts).
pub fn security_headers(
    production: bool,
    extra_form_origin: Option<&str>,
) -> Vec<(HeaderName, HeaderValue)> {
    let csp =
        HeaderValue::from_str(&content_security_policy(extra_form_origin)).expect("CSP is ASCII");
    let mut h = vec![
        (header::CONTENT_SECURITY_POLICY, csp),
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
        let has_hsts = |p| {
            security_headers(p, None)
                .iter()
                .any(|(n, _)| n == header::STRICT_TRANSPORT_SECURITY)
        };
        assert!(has_hsts(true));
        assert!(!has_hsts(false));
    }
}

#[cfg(test)]
mod csp_tests {
    use super::*;

    #[test]
    fn forms_may_lead_to_stripe_and_a_configured_double() {
        let csp = content_security_policy(Some("http://127.0.0.1:4242"));
        assert!(csp.contains("form-action 'self' https://checkout.stripe.com https://billing.stripe.com http://127.0.0.1:4242;"));
        assert!(!content_security_policy(None).contains("127.0.0.1"));
    }
}
