//! Machine activations: the platform's signed statement that a license may run on one machine.
//!
//! Format: `FOXA1-<payload>.<signature>`, like a license key under its own prefix. The payload
//! is the JSON of [`ActivationClaims`]. The platform answers every successful activation and
//! every valid revalidation with a fresh one; the engine CLI keeps the latest and trusts it
//! offline for a while (see [`crate::check`]). An *offline* activation, issued by staff for
//! an air-gapped machine, needs no revalidation and is good until the license expires.

use crate::{KeyError, PublicKey, Signer};
use serde::{Deserialize, Serialize};

/// The readable start of every activation.
pub const PREFIX: &str = "FOXA1-";

/// How an activation was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// From the license API; revalidated periodically, with a grace period offline.
    Online,
    /// An activation file for an air-gapped machine; good until the license expires.
    Offline,
}

/// What an activation says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationClaims {
    /// Format version (1).
    pub v: u8,
    /// License id.
    pub lid: uuid::Uuid,
    /// The machine fingerprint it was issued for.
    pub fp: String,
    /// When the platform vouched for the license on this machine, Unix seconds.
    pub iat: i64,
    /// The license's expiry, Unix seconds.
    pub exp: i64,
    pub mode: Mode,
}

impl Signer {
    /// A signed activation for `claims`.
    pub fn issue_activation(&self, claims: &ActivationClaims) -> String {
        self.sign_token(PREFIX, claims)
    }
}

impl PublicKey {
    /// Checks an activation's signature and returns its claims.
    pub fn verify_activation(&self, token: &str) -> Result<ActivationClaims, KeyError> {
        self.verify_token(PREFIX, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    fn claims() -> ActivationClaims {
        ActivationClaims {
            v: 1,
            lid: uuid::Uuid::nil(),
            fp: "a".repeat(64),
            iat: 100,
            exp: 2_000_000_000,
            mode: Mode::Online,
        }
    }

    #[test]
    fn activations_verify_and_are_not_license_keys() {
        let signer = Signer::new(SigningKey::generate());
        let token = signer.issue_activation(&claims());
        assert!(token.starts_with(PREFIX));
        assert_eq!(signer.public_key().verify_activation(&token), Ok(claims()));
        // Neither kind of token passes for the other.
        assert_eq!(signer.public_key().verify(&token), Err(KeyError::Malformed));
        let key = signer.issue(&crate::Claims {
            v: 1,
            lid: uuid::Uuid::nil(),
            tier: "desk".into(),
            seats: 1,
            iat: 1,
            exp: 2,
            ent: serde_json::json!({}),
        });
        assert_eq!(
            signer.public_key().verify_activation(&key),
            Err(KeyError::Malformed)
        );
        // Swapping the prefix keeps the bytes but breaks the signature.
        let swapped = format!("FOX1-{}", &key["FOX1-".len()..]).replace("FOX1-", PREFIX);
        assert!(signer.public_key().verify_activation(&swapped).is_err());
        let other = Signer::new(SigningKey::generate());
        assert_eq!(
            other.public_key().verify_activation(&token),
            Err(KeyError::BadSignature)
        );
    }
}
