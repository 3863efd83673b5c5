//! The license API over HTTP (`POST /api/v1/licenses/{activate,validate,deactivate}`).

use crate::check::{Answer, Platform, Unreachable};
use serde_json::{Value, json};
use std::time::Duration;

/// The platform at `base` (`https://…`).
pub struct HttpPlatform {
    base: String,
    agent: ureq::Agent,
}

impl HttpPlatform {
    pub fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(15)))
            .http_status_as_error(false)
            .user_agent(concat!("fox-license/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    /// Posts `body`; answers the status and the JSON body. Transport failures, 5xx and 429
    /// are [`Unreachable`] (transient: the grace period applies).
    fn post(&self, path: &str, body: Value) -> Result<(u16, Value), Unreachable> {
        let url = format!("{}{path}", self.base);
        let mut res = self
            .agent
            .post(&url)
            .send_json(body)
            .map_err(|e| Unreachable(e.to_string()))?;
        let status = res.status().as_u16();
        if status >= 500 || status == 429 {
            return Err(Unreachable(format!("HTTP {status} from {url}")));
        }
        let json = res
            .body_mut()
            .read_json::<Value>()
            .map_err(|e| Unreachable(format!("unreadable answer from {url}: {e}")))?;
        Ok((status, json))
    }

    /// An error body (`{"error": {"code", "message"}}`) as a refusal.
    fn refused(status: u16, body: &Value) -> Answer {
        let e = &body["error"];
        Answer::Refused {
            code: e["code"].as_str().unwrap_or("").to_string(),
            detail: e["message"]
                .as_str()
                .map_or_else(|| format!("HTTP {status}"), str::to_string),
        }
    }

    fn granted(body: &Value) -> Result<Answer, Unreachable> {
        body["activation"]
            .as_str()
            .map(|t| Answer::Granted(t.to_string()))
            .ok_or_else(|| Unreachable("the answer carries no activation".into()))
    }
}

impl Platform for HttpPlatform {
    fn activate(&self, key: &str, fingerprint: &str, name: &str) -> Result<Answer, Unreachable> {
        let (status, body) = self.post(
            "/api/v1/licenses/activate",
            json!({"key": key, "fingerprint": fingerprint, "name": name}),
        )?;
        if (200..300).contains(&status) {
            Self::granted(&body)
        } else {
            Ok(Self::refused(status, &body))
        }
    }

    fn validate(&self, key: &str, fingerprint: &str) -> Result<Answer, Unreachable> {
        let (status, body) = self.post(
            "/api/v1/licenses/validate",
            json!({"key": key, "fingerprint": fingerprint}),
        )?;
        if !(200..300).contains(&status) {
            return Ok(Self::refused(status, &body));
        }
        if body["valid"].as_bool() == Some(true) {
            Self::granted(&body)
        } else {
            Ok(Answer::Refused {
                code: body["code"].as_str().unwrap_or("").to_string(),
                detail: body["detail"].as_str().unwrap_or("").to_string(),
            })
        }
    }

    fn deactivate(&self, key: &str, fingerprint: &str) -> Result<Answer, Unreachable> {
        let (status, body) = self.post(
            "/api/v1/licenses/deactivate",
            json!({"key": key, "fingerprint": fingerprint}),
        )?;
        if (200..300).contains(&status) {
            Ok(Answer::Granted(String::new()))
        } else {
            Ok(Self::refused(status, &body))
        }
    }
}
