//! Fox ML licenses, shared by the platform and the engine CLI.
//!
//! License keys: `FOX1-<payload>.<signature>`, both parts base64url without padding. The
//! payload is the JSON of [`Claims`]; the Ed25519 signature covers the bytes `FOX1-<payload>`.
//! The platform's database keeps only a keyed hash of each key ([`Signer::lookup_hash`]).
//!
//! Machine activations ([`activation`]) are signed the same way under another prefix
//! (`FOXA1-`), so neither kind of token can stand in for the other. [`check`] is what the
//! engine CLI runs before it touches data: the key offline, then the machine's activation,
//! online when it must and within a grace period when the platform cannot be reached.
//! [`machine`] computes the machine fingerprint.

pub mod activation;
pub mod check;
#[cfg(feature = "http")]
pub mod http;
pub mod machine;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64STD, URL_SAFE_NO_PAD as B64};
use ed25519_dalek::{Signature, Signer as _};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The readable start of every key.
pub const PREFIX: &str = "FOX1-";

/// What a key says about its license. Field names are short: the key is typed and pasted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Format version (1).
    pub v: u8,
    /// License id.
    pub lid: uuid::Uuid,
    /// Tier id.
    pub tier: String,
    /// Seats (machines).
    pub seats: u32,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds (the license's expiry when the key was issued).
    pub exp: i64,
    /// Entitlements of the tier (limits), as a JSON object.
    pub ent: serde_json::Value,
}

impl Claims {
    /// A numeric entitlement (`max_dataset_gb`, …), if the tier sets one.
    pub fn limit(&self, name: &str) -> Option<f64> {
        self.ent.get(name).and_then(serde_json::Value::as_f64)
    }
}

/// Why a key did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a Fox ML license key (expected FOX1-…)")]
    Malformed,
    #[error("the signature does not match the key's contents")]
    BadSignature,
}

/// The Ed25519 signing key (secret).
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads the base64 form written by `fox license keygen`.
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        let bytes = B64STD.decode(s.trim()).map_err(|_| KeyError::Malformed)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The base64 form (a secret: goes into the configuration, never into logs).
    pub fn to_base64(&self) -> String {
        B64STD.encode(self.0.to_bytes())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

/// The Ed25519 public key that verifies license keys offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        let bytes = B64STD.decode(s.trim()).map_err(|_| KeyError::Malformed)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map(Self)
            .map_err(|_| KeyError::Malformed)
    }

    pub fn to_base64(&self) -> String {
        B64STD.encode(self.0.to_bytes())
    }

    /// Checks a key's signature and returns its claims (expiry is the caller's business).
    pub fn verify(&self, key: &str) -> Result<Claims, KeyError> {
        self.verify_token(PREFIX, key)
    }

    /// Checks a `<prefix><payload>.<signature>` token and decodes its payload.
    pub(crate) fn verify_token<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        token: &str,
    ) -> Result<T, KeyError> {
        let token = token.trim();
        let body = token.strip_prefix(prefix).ok_or(KeyError::Malformed)?;
        let (payload_b64, sig_b64) = body.split_once('.').ok_or(KeyError::Malformed)?;
        let sig_bytes = B64.decode(sig_b64).map_err(|_| KeyError::Malformed)?;
        let sig = Signature::from_slice(&sig_bytes).map_err(|_| KeyError::Malformed)?;
        let signed = &token[..prefix.len() + payload_b64.len()];
        self.0
            .verify_strict(signed.as_bytes(), &sig)
            .map_err(|_| KeyError::BadSignature)?;
        let payload = B64.decode(payload_b64).map_err(|_| KeyError::Malformed)?;
        serde_json::from_slice(&payload).map_err(|_| KeyError::Malformed)
    }
}

/// Issues keys and computes their lookup hashes.
pub struct Signer {
    key: SigningKey,
    lookup_key: [u8; 32],
}

impl Signer {
    pub fn new(key: SigningKey) -> Self {
        // The lookup hash is keyed with a value derived from the signing key, so a database
        // dump alone does not let anyone test guessed keys.
        let lookup_key: [u8; 32] = Sha256::new()
            .chain_update(b"fox-license-lookup-v1")
            .chain_update(key.0.to_bytes())
            .finalize()
            .into();
        Self { key, lookup_key }
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// A signed key for `claims`.
    pub fn issue(&self, claims: &Claims) -> String {
        self.sign_token(PREFIX, claims)
    }

    /// `<prefix><payload>.<signature>` for `payload`'s JSON.
    pub(crate) fn sign_token<T: Serialize>(&self, prefix: &str, payload: &T) -> String {
        let payload = B64.encode(serde_json::to_vec(payload).expect("token payloads serialize"));
        let signed = format!("{prefix}{payload}");
        let sig = self.key.0.sign(signed.as_bytes());
        format!("{signed}.{}", B64.encode(sig.to_bytes()))
    }

    /// The keyed hash stored in `license_keys.key_hash`.
    pub fn lookup_hash(&self, key: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.lookup_key).expect("any key length");
        mac.update(key.trim().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// A reminder of which key this is, safe to show its owner: the prefix and the last eight
/// characters of the signature (the payload's start is the same for every key of a license).
pub fn hint(key: &str) -> String {
    let key = key.trim();
    let tail: String = key
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{PREFIX}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            v: 1,
            lid: uuid::Uuid::nil(),
            tier: "desk".into(),
            seats: 5,
            iat: 1,
            exp: 2_000_000_000,
            ent: serde_json::json!({"concurrent_jobs": 8}),
        }
    }

    #[test]
    fn issued_keys_verify_with_the_public_key_only() {
        let signer = Signer::new(SigningKey::generate());
        let key = signer.issue(&claims());
        assert!(key.starts_with(PREFIX));
        let public = PublicKey::from_base64(&signer.public_key().to_base64()).unwrap();
        assert_eq!(public.verify(&key).unwrap(), claims());
    }

    #[test]
    fn tampering_or_another_signer_fails() {
        let signer = Signer::new(SigningKey::generate());
        let key = signer.issue(&claims());
        // Change the payload (e.g. a longer expiry) and keep the signature.
        let mut c = claims();
        c.exp += 1;
        let forged_payload = B64.encode(serde_json::to_vec(&c).unwrap());
        let sig = key.rsplit_once('.').unwrap().1;
        let forged = format!("{PREFIX}{forged_payload}.{sig}");
        assert_eq!(
            signer.public_key().verify(&forged),
            Err(KeyError::BadSignature)
        );
        let other = Signer::new(SigningKey::generate());
        assert_eq!(other.public_key().verify(&key), Err(KeyError::BadSignature));
        assert_eq!(
            signer.public_key().verify("FOX1-garbage"),
            Err(KeyError::Malformed)
        );
        assert_eq!(
            signer.public_key().verify("hello"),
            Err(KeyError::Malformed)
        );
    }

    #[test]
    fn signing_keys_round_trip_and_lookup_hashes_are_stable() {
        let k = SigningKey::generate();
        let k2 = SigningKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(k.public_key(), k2.public_key());
        let (a, b) = (Signer::new(k), Signer::new(k2));
        assert_eq!(a.lookup_hash("FOX1-x.y"), b.lookup_hash(" FOX1-x.y "));
        assert_ne!(a.lookup_hash("FOX1-x.y"), a.lookup_hash("FOX1-x.z"));
        assert!(SigningKey::from_base64("short").is_err());
    }

    #[test]
    fn hints_tell_keys_of_one_license_apart() {
        let signer = Signer::new(SigningKey::generate());
        let mut c = claims();
        let a = signer.issue(&c);
        c.iat += 1;
        let b = signer.issue(&c);
        assert_ne!(hint(&a), hint(&b));
        assert!(hint(&a).starts_with("FOX1-…") && hint(&a).chars().count() == 14);
    }
}
