use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, VerifyingKey};

/// Verifies a Fox ML license key offline and returns its claims.
/// `public_key_b64` is the `public_key` field of /.well-known/fox-license-key.
pub fn verify_license(key: &str, public_key_b64: &str, now_unix: i64) -> Result<serde_json::Value, String> {
    let pk: [u8; 32] = STANDARD
        .decode(public_key_b64.trim())
        .map_err(|e| format!("public key: {e}"))?
        .try_into()
        .map_err(|_| "public key must be 32 bytes".to_string())?;
    let pk = VerifyingKey::from_bytes(&pk).map_err(|e| format!("public key: {e}"))?;
    let key = key.trim();
    let body = key.strip_prefix("FOX1-").ok_or("not a FOX1 license key")?;
    let (payload, sig) = body.split_once('.').ok_or("the key has no signature part")?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|e| format!("signature: {e}"))?;
    let sig = Signature::from_slice(&sig).map_err(|e| format!("signature: {e}"))?;
    // The signature covers the key up to the dot: "FOX1-" + payload.
    pk.verify_strict(format!("FOX1-{payload}").as_bytes(), &sig)
        .map_err(|_| "the signature does not match: the key was altered or is not ours".to_string())?;
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|e| format!("payload: {e}"))?)
        .map_err(|e| format!("payload: {e}"))?;
    match claims["exp"].as_i64() {
        Some(exp) if exp > now_unix => Ok(claims),
        Some(_) => Err("the license has expired".into()),
        None => Err("the key has no expiry".into()),
    }
}
