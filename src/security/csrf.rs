//! CSRF protection by signed double submit, bound to the login session: a random token lives
//! in an HttpOnly, SameSite=Strict cookie, and each form carries
//! HMAC(session_key, token ‖ session cookie). A cross-site attacker can neither read the
//! cookies nor compute the MAC without the server's key; an attacker who plants a CSRF
//! cookie (and knows its form token from their own visit) still cannot produce the token for
//! the victim's session. In production both cookies carry the `__Host-` prefix, which
//! browsers accept only from this host over HTTPS, with `Path=/` and no `Domain`: a sibling
//! subdomain cannot plant them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Name of the cookie holding the raw token (`__Host-` prefixed in production).
pub fn cookie_name(production: bool) -> &'static str {
    if production {
        "__Host-fox_csrf"
    } else {
        "fox_csrf"
    }
}

/// Name of the login session cookie (`__Host-` prefixed in production).
pub fn session_cookie_name(production: bool) -> &'static str {
    if production {
        "__Host-fox_session"
    } else {
        "fox_session"
    }
}

/// Issues and checks form tokens with the server's session key.
#[derive(Clone)]
pub struct Csrf {
    key: Vec<u8>,
    secure_cookie: bool,
}

impl Csrf {
    /// `production` selects `Secure`, `__Host-` cookies.
    pub fn new(key: &[u8], production: bool) -> Self {
        Self {
            key: key.to_vec(),
            secure_cookie: production,
        }
    }

    fn cookie(&self) -> &'static str {
        cookie_name(self.secure_cookie)
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// The cookie token to use: the visitor's existing one if well-formed, else a new one.
    /// Returns the token and, when new, the `Set-Cookie` value to send.
    pub fn cookie_token(&self, existing: Option<&str>) -> (String, Option<String>) {
        if let Some(t) = existing.filter(|t| B64.decode(t).is_ok_and(|b| b.len() == 32)) {
            return (t.to_string(), None);
        }
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = B64.encode(raw);
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        let cookie = format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{secure}",
            self.cookie()
        );
        (token, Some(cookie))
    }

    /// The MAC over a cookie token and the session it is bound to (length-prefixed, so
    /// no two pairs feed the same bytes).
    fn bound_mac(&self, cookie_token: &str, session: &str) -> Hmac<Sha256> {
        let mut mac = self.mac();
        mac.update(b"fox-csrf-v2");
        for part in [cookie_token, session] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The value to embed in a form for this cookie token and session cookie ("" when the
    /// visitor has no session).
    pub fn form_token(&self, cookie_token: &str, session: &str) -> String {
        B64.encode(
            self.bound_mac(cookie_token, session)
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether the form's token matches the cookie and the session (constant-time).
    pub fn verify(&self, cookie_token: Option<&str>, session: &str, form_token: &str) -> bool {
        let (Some(cookie), Ok(sent)) = (cookie_token, B64.decode(form_token)) else {
            return false;
        };
        self.bound_mac(cookie, session).verify_slice(&sent).is_ok()
    }
}

/// The form token for one response, and the cookie to set when the visitor had none.
pub struct FormToken {
    pub token: String,
    set_cookie: Option<String>,
}

impl FormToken {
    /// Adds the CSRF cookie (when new) to a page holding forms, and marks it uncacheable:
    /// forms carry per-visitor tokens.
    pub fn apply(self, res: &mut axum::response::Response) {
        use axum::http::{HeaderValue, header};
        if let Some(c) = self.set_cookie {
            res.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_str(&c).expect("cookie is ASCII"),
            );
        }
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

impl Csrf {
    /// The session cookie of the request, "" without one.
    fn session<'a>(&self, headers: &'a axum::http::HeaderMap) -> &'a str {
        super::cookie(headers, session_cookie_name(self.secure_cookie)).unwrap_or("")
    }

    /// The token for forms on a page answering `headers`' request.
    pub fn for_request(&self, headers: &axum::http::HeaderMap) -> FormToken {
        let (cookie, set_cookie) = self.cookie_token(super::cookie(headers, self.cookie()));
        FormToken {
            token: self.form_token(&cookie, self.session(headers)),
            set_cookie,
        }
    }

    /// Whether a submitted form's token matches the request's CSRF cookie and session.
    pub fn verify_request(&self, headers: &axum::http::HeaderMap, form_token: &str) -> bool {
        self.verify(
            super::cookie(headers, self.cookie()),
            self.session(headers),
            form_token,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let c = Csrf::new(b"k".repeat(32).as_slice(), false);
        let (tok, set) = c.cookie_token(None);
        assert!(set.unwrap().starts_with("fox_csrf="));
        let form = c.form_token(&tok, "");
        assert!(c.verify(Some(&tok), "", &form));
        assert!(!c.verify(None, "", &form));
        assert!(!c.verify(Some(&tok), "", "garbage"));
        let (other, _) = c.cookie_token(None);
        assert!(!c.verify(Some(&other), "", &form));
        let forged = Csrf::new(b"x".repeat(32).as_slice(), false).form_token(&tok, "");
        assert!(!c.verify(Some(&tok), "", &forged));
    }

    #[test]
    fn tokens_are_bound_to_the_session() {
        let c = Csrf::new(b"k".repeat(32).as_slice(), false);
        let (tok, _) = c.cookie_token(None);
        // A token the attacker obtained for the planted cookie (without a session, or with
        // their own) is refused for the victim's session.
        let attackers = c.form_token(&tok, "");
        let attackers_own = c.form_token(&tok, "attacker-session");
        assert!(!c.verify(Some(&tok), "victim-session", &attackers));
        assert!(!c.verify(Some(&tok), "victim-session", &attackers_own));
        assert!(c.verify(
            Some(&tok),
            "victim-session",
            &c.form_token(&tok, "victim-session")
        ));
        // Concatenations that read alike are different inputs.
        assert_ne!(c.form_token("ab", "c"), c.form_token("a", "bc"));
    }

    #[test]
    fn production_cookies_use_the_host_prefix() {
        let c = Csrf::new(b"k", true);
        let (tok, set) = c.cookie_token(None);
        let set = set.unwrap();
        assert!(set.starts_with("__Host-fox_csrf="), "{set}");
        assert!(set.contains("; Path=/;") && set.ends_with("; Secure") && !set.contains("Domain"));
        assert_eq!(c.cookie_token(Some(&tok)), (tok, None));
        assert_eq!(session_cookie_name(true), "__Host-fox_session");
        assert_eq!(session_cookie_name(false), "fox_session");
    }
}
