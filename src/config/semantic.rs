//! Checks that the schema cannot express: URLs parse, prices are positive, tier ids are
//! unique, production runs with real secrets and sends email through SMTP.

use super::check::Problem;
use super::secret::Secret;
use super::settings::{EmailTransport, PriceInterval, Purchase, Settings};

/// Words that mark a value as a template placeholder rather than a real secret.
const PLACEHOLDER_MARKERS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "placeholder",
    "example",
    "dev-only",
    "xxxx",
    "todo",
];

/// Shortest acceptable session key.
pub const MIN_SESSION_KEY_LEN: usize = 32;

/// Every semantic problem of `s`; `production` enables the production-only rules.
pub fn check(s: &Settings, production: bool) -> Vec<Problem> {
    let mut p = Vec::new();
    let mut push = |path: &str, reason: String| p.push(Problem::new(path, reason));

    match url::Url::parse(&s.server.public_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            if production && u.scheme() != "https" {
                push(
                    "server.public_url",
                    format!(
                        "must use https in production, got \"{}\"",
                        s.server.public_url
                    ),
                );
            }
        }
        _ => push(
            "server.public_url",
            format!(
                "expected an absolute http(s) URL, got \"{}\"",
                s.server.public_url
            ),
        ),
    }
    if let Some(base) = &s.stripe.api_base {
        if url::Url::parse(base)
            .map(|u| u.host().is_none())
            .unwrap_or(true)
        {
            push(
                "stripe.api_base",
                format!("expected an absolute URL, got \"{base}\""),
            );
        }
    }
    for (i, proxy) in s.server.trusted_proxies.iter().enumerate() {
        if crate::security::parse_proxy(proxy).is_none() {
            push(
                &format!("server.trusted_proxies[{i}]"),
                format!(
                    "expected an IP address or CIDR range such as \"10.0.0.0/8\", got \"{proxy}\""
                ),
            );
        }
    }
    if tracing_subscriber::EnvFilter::try_new(&s.log.level).is_err() {
        push(
            "log.level",
            format!(
                "not a valid filter directive: \"{}\" (e.g. \"info,fox=debug\")",
                s.log.level
            ),
        );
    }

    for (path, mailbox) in [
        ("email.from", &s.email.from),
        ("email.sales_to", &s.email.sales_to),
    ] {
        if mailbox.parse::<lettre::message::Mailbox>().is_err() {
            push(
                path,
                format!(
                    "expected an email address such as \"Name <name@example.com>\", got \"{mailbox}\""
                ),
            );
        }
    }
    match s.email.transport {
        EmailTransport::File if production => push(
            "email.transport",
            "production email must go through SMTP: set email.transport to \"smtp\"".into(),
        ),
        EmailTransport::File if s.email.file_dir.trim().is_empty() => push(
            "email.file_dir",
            "must name a folder when email.transport is \"file\"".into(),
        ),
        EmailTransport::Smtp if s.email.smtp.host.trim().is_empty() => push(
            "email.smtp.host",
            "must be set when email.transport is \"smtp\"".into(),
        ),
        _ => {}
    }

    match &s.security.session_key {
        Some(k) if k.expose().len() < MIN_SESSION_KEY_LEN => push(
            "security.session_key",
            format!("must be at least {MIN_SESSION_KEY_LEN} characters long"),
        ),
        None if production => push(
            "security.session_key",
            "must be set in production (e.g. FOX__SECURITY__SESSION_KEY from your secret store)"
                .into(),
        ),
        _ => {}
    }
    if production && s.license.signing_key.is_none() {
        push(
            "license.signing_key",
            "must be set in production (create one with `fox license keygen`)".into(),
        );
    }
    if let Some(k) = &s.license.signing_key {
        if !is_placeholder(k.expose())
            && crate::license::SigningKey::from_base64(k.expose()).is_err()
        {
            push(
                "license.signing_key",
                "is not a key made by `fox license keygen` (32 bytes, base64)".into(),
            );
        }
    }
    if s.stripe.secret_key.is_some() && s.stripe.webhook_secret.is_none() {
        push(
            "stripe.webhook_secret",
            "must be set when stripe.secret_key is set, or webhooks cannot be verified".into(),
        );
    }
    if production {
        let secrets: [(&str, Option<&Secret>); 6] = [
            ("database.password", s.database.password.as_ref()),
            ("security.session_key", s.security.session_key.as_ref()),
            ("email.smtp.password", s.email.smtp.password.as_ref()),
            ("stripe.secret_key", s.stripe.secret_key.as_ref()),
            ("stripe.webhook_secret", s.stripe.webhook_secret.as_ref()),
            ("license.signing_key", s.license.signing_key.as_ref()),
        ];
        for (path, secret) in secrets {
            if secret.is_some_and(|v| is_placeholder(v.expose())) {
                push(
                    path,
                    "is a template placeholder; production needs the real secret".into(),
                );
            }
        }
    }

    pricing(s, &mut p);
    p
}

fn pricing(s: &Settings, p: &mut Vec<Problem>) {
    let mut push = |path: String, reason: String| p.push(Problem::new(&path, reason));
    let cur = &s.pricing.currency;
    if cur.len() != 3 || !cur.bytes().all(|b| b.is_ascii_lowercase()) {
        push(
            "pricing.currency".into(),
            format!("expected a lower-case ISO 4217 code such as \"usd\", got \"{cur}\""),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut highlighted = 0;
    for (i, t) in s.pricing.tiers.iter().enumerate() {
        let at = |f: &str| format!("pricing.tiers[{i}].{f}");
        let slug_ok = !t.id.is_empty()
            && t.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            push(
                at("id"),
                format!(
                    "use lower-case letters, digits and \"-\" only, got \"{}\"",
                    t.id
                ),
            );
        } else if !seen.insert(t.id.as_str()) {
            push(at("id"), format!("duplicate tier id \"{}\"", t.id));
        }
        if t.name.trim().is_empty() {
            push(at("name"), "must not be empty".into());
        }
        highlighted += usize::from(t.highlighted);
        if t.interval == PriceInterval::Custom && t.price_cents.is_some() {
            push(
                at("price_cents"),
                "a tier with interval \"custom\" has no fixed price; remove price_cents".into(),
            );
        }
        if t.purchase == Purchase::Checkout {
            match t.price_cents {
                Some(c) if c > 0 => {}
                other => push(
                    at("price_cents"),
                    format!(
                        "a checkout tier's price must be positive, got {}",
                        other.map_or("none".into(), |c| c.to_string())
                    ),
                ),
            }
            if t.interval == PriceInterval::Custom {
                push(
                    at("interval"),
                    "a checkout tier needs a month, year or once interval, not \"custom\"".into(),
                );
            }
            match &t.stripe_price_id {
                Some(id) if id.starts_with("price_") => {}
                Some(id) => push(
                    at("stripe_price_id"),
                    format!("expected a Stripe Price id starting with \"price_\", got \"{id}\""),
                ),
                None => push(
                    at("stripe_price_id"),
                    "a checkout tier needs the Stripe Price id it sells".into(),
                ),
            }
        }
    }
    if highlighted > 1 {
        push(
            "pricing.tiers".into(),
            format!("at most one tier may be highlighted, {highlighted} are"),
        );
    }
}

/// Whether a secret looks like a template value rather than a real one.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    v.trim().is_empty() || PLACEHOLDER_MARKERS.iter().any(|m| v.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised() {
        assert!(is_placeholder("CHANGE-ME-please"));
        assert!(is_placeholder("sk_test_example"));
        assert!(!is_placeholder("3f9a0c8e1b7d4a2f9e6c5b4a3d2e1f0a"));
    }

    #[test]
    fn defaults_pass_locally_but_not_in_production() {
        let s = Settings::default();
        assert!(check(&s, false).is_empty(), "{:?}", check(&s, false));
        let prod: Vec<String> = check(&s, true).into_iter().map(|p| p.path).collect();
        assert!(prod.contains(&"email.transport".to_string()));
        assert!(prod.contains(&"security.session_key".to_string()));
        assert!(prod.contains(&"server.public_url".to_string()));
    }
}
