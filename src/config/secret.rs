//! `Secret`: a configuration value that must never be shown.
//!
//! Wraps `secrecy::SecretString` so `Debug`, `Serialize` (used by `fox config show`) and
//! logs print `[redacted]`; the value is only reachable through `expose()`.

use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What every secret renders as outside of the code that uses it.
pub const REDACTED: &str = "[redacted]";

/// A secret string from the configuration.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value (tests and generated keys).
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret itself; call only where the value is used, never to log it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "writeOnly": true,
            "description": "A secret: never printed, shown as [redacted]. Prefer setting it through an environment variable."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialize_redact() {
        let s = Secret::new("sk_live_very_secret");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(s.expose(), "sk_live_very_secret");
    }
}
