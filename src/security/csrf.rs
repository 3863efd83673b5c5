//! CSRF protection by signed double submit: a random token lives in an HttpOnly,
//! SameSite=Strict cookie, and each form carries HMAC(session_key, token). A cross-site
//! attacker can neither read the cookie nor compute the MAC without the server's key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Name of the cookie holding the raw token.
pub const COOKIE: &str = "fox_csrf";

/// Issues and checks form tokens with the server's session key.
#[derive(Clone)]
pub struct Csrf {
    key: Vec<u8>,
    secure_cookie: bool,
}

impl Csrf {
    pub fn new(key: &[u8], secure_cookie: bool) -> Self {
        Self {
            key: key.to_vec(),
            secure_cookie,
        }
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
        let cookie =
            format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{secure}");
        (token, Some(cookie))
    }

    /// The value to embed in a form for this cookie token.
    pub fn form_token(&self, cookie_token: &str) -> String {
        let mut mac = self.mac();
        mac.update(cookie_token.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    /// Whether the form's token matches the cookie (constant-time comparison).
    pub fn verify(&self, cookie_token: Option<&str>, form_token: &str) -> bool {
        let (Some(cookie), Ok(sent)) = (cookie_token, B64.decode(form_token)) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(cookie.as_bytes());
        mac.verify_slice(&sent).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let c = Csrf::new(b"k".repeat(32).as_slice(), false);
        let (tok, set) = c.cookie_token(None);
        assert!(set.unwrap().contains("HttpOnly; SameSite=Strict"));
        let form = c.form_token(&tok);
        assert!(c.verify(Some(&tok), &form));
        assert!(!c.verify(None, &form));
        assert!(!c.verify(Some(&tok), "garbage"));
        let (other, _) = c.cookie_token(None);
        assert!(!c.verify(Some(&other), &form));
        let forged = Csrf::new(b"x".repeat(32).as_slice(), false).form_token(&tok);
        assert!(!c.verify(Some(&tok), &forged));
    }

    #[test]
    fn existing_cookie_is_reused() {
        let c = Csrf::new(b"k", true);
        let (tok, set) = c.cookie_token(None);
        assert!(set.unwrap().ends_with("; Secure"));
        assert_eq!(c.cookie_token(Some(&tok)), (tok, None));
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
    /// The token for forms on a page answering `headers`' request.
    pub fn for_request(&self, headers: &axum::http::HeaderMap) -> FormToken {
        let (cookie, set_cookie) = self.cookie_token(super::cookie(headers, COOKIE));
        FormToken {
            token: self.form_token(&cookie),
            set_cookie,
        }
    }

    /// Whether a submitted form's token matches the request's CSRF cookie.
    pub fn verify_request(&self, headers: &axum::http::HeaderMap, form_token: &str) -> bool {
        self.verify(super::cookie(headers, COOKIE), form_token)
    }
}
