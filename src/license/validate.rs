//! Online license checks: what a sent key is worth (signature, registered license, status,
//! machine), and activating or deactivating a machine within the seat count. The license API
//! routes only parse requests and answer with what these functions decide.

use super::cache::{Cached, LicenseCache};
use super::{KeyError, Signer, activation};
use crate::db::{self, licenses::License};
use crate::domain::LicenseStatus;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

/// The stable codes of the license API, in the order a client should check them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    Valid,
    InvalidSignature,
    NotFound,
    Revoked,
    Suspended,
    Expired,
    FingerprintRequired,
    TooManyMachines,
    FingerprintMismatch,
    NotActivated,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::NotFound => "NOT_FOUND",
            Self::Revoked => "REVOKED",
            Self::Suspended => "SUSPENDED",
            Self::Expired => "EXPIRED",
            Self::FingerprintRequired => "FINGERPRINT_REQUIRED",
            Self::TooManyMachines => "TOO_MANY_MACHINES",
            Self::FingerprintMismatch => "FINGERPRINT_MISMATCH",
            Self::NotActivated => "NOT_ACTIVATED",
        }
    }
}

/// A refusal: its code and a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: Code,
    pub detail: String,
}

impl Problem {
    fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

/// Why a machine operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    #[error("{}", .0.detail)]
    Refused(Problem),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A key as sent, with its lookup hash computed once per request.
pub struct SentKey<'a> {
    pub text: &'a str,
    pub hash: Vec<u8>,
}

impl<'a> SentKey<'a> {
    pub fn new(signer: &Signer, text: &'a str) -> Self {
        Self {
            text,
            hash: signer.lookup_hash(text),
        }
    }
}

/// Why a key's signature does not verify, if it does not. Needs no database: a flood of
/// made-up keys is answered without a connection or a cache entry.
fn signature_problem(signer: &Signer, key: &SentKey<'_>) -> Option<Problem> {
    match signer.public_key().verify(key.text) {
        Ok(_) => None,
        Err(KeyError::Malformed) => Some(Problem::new(
            Code::InvalidSignature,
            "This is not a Fox ML license key.",
        )),
        Err(KeyError::BadSignature) => Some(Problem::new(
            Code::InvalidSignature,
            "The key's signature does not match its contents.",
        )),
    }
}

/// The license of a key with a valid signature, or why there is none.
async fn lookup(
    conn: &mut PgConnection,
    signer: &Signer,
    key: &SentKey<'_>,
) -> sqlx::Result<Result<License, Problem>> {
    if let Some(p) = signature_problem(signer, key) {
        return Ok(Err(p));
    }
    Ok(db::licenses::by_key_hash(conn, &key.hash)
        .await?
        .ok_or_else(not_registered))
}

fn not_registered() -> Problem {
    Problem::new(Code::NotFound, "No license is registered for this key.")
}

/// What a key resolves to, from the cache when it can be; `true` when read afresh. Keys whose
/// signature does not verify are refused before the cache and the database.
pub async fn resolve(
    cache: &LicenseCache,
    db: &PgPool,
    signer: &Signer,
    key: &SentKey<'_>,
) -> sqlx::Result<(Cached, bool)> {
    let generation = match cache.get(&key.hash) {
        Ok(hit) => return Ok((hit, false)),
        Err(generation) => generation,
    };
    if let Some(p) = signature_problem(signer, key) {
        return Ok((Cached::Invalid(p), true));
    }
    let mut conn = db.acquire().await?;
    let value = match db::licenses::by_key_hash(&mut conn, &key.hash).await? {
        None => Cached::Invalid(not_registered()),
        Some(l) => {
            let machines = db::licenses::active_machines(&mut conn, l.id).await?;
            Cached::Found(l, machines)
        }
    };
    cache.put(key.hash.clone(), generation, value.clone());
    Ok((value, true))
}

/// What stops a license from working now, if anything: revoked, suspended, expired.
pub fn status_problem(l: &License) -> Option<Problem> {
    match l.status {
        LicenseStatus::Revoked => Some(Problem::new(Code::Revoked, "This license was revoked.")),
        LicenseStatus::Suspended => Some(Problem::new(
            Code::Suspended,
            format!(
                "This license is suspended: {}.",
                l.status_reason.as_deref().unwrap_or("contact support")
            ),
        )),
        LicenseStatus::Expired => Some(Problem::new(Code::Expired, "This license has expired.")),
        LicenseStatus::Active if l.works_until() <= OffsetDateTime::now_utc() => {
            Some(Problem::new(
                Code::Expired,
                format!("This license expired on {}.", l.expires_at.date()),
            ))
        }
        LicenseStatus::Active => None,
    }
}

/// The status to show for a license: EXPIRED once its time ran out, even before the
/// scheduler marked it so.
pub fn effective_status(l: &License) -> LicenseStatus {
    match status_problem(l) {
        Some(p) if p.code == Code::Expired => LicenseStatus::Expired,
        _ => l.status,
    }
}

/// The verdict on a key for one machine.
pub struct Verdict {
    pub code: Code,
    pub detail: String,
    /// The license and its active machine count, when the key names one.
    pub license: Option<(License, usize)>,
}

impl Verdict {
    pub fn valid(&self) -> bool {
        self.code == Code::Valid
    }
}

/// Validates a key for the machine `fingerprint` (answers from the cache when it can).
pub async fn validate(
    cache: &LicenseCache,
    db: &PgPool,
    signer: &Signer,
    key: &SentKey<'_>,
    fingerprint: Option<&str>,
) -> sqlx::Result<Verdict> {
    let (l, machines, fresh) = match resolve(cache, db, signer, key).await? {
        (Cached::Invalid(p), _) => {
            return Ok(Verdict {
                code: p.code,
                detail: p.detail,
                license: None,
            });
        }
        (Cached::Found(l, machines), fresh) => (l, machines, fresh),
    };
    let used = machines.len();
    let verdict = |code, detail: String, l: License| Verdict {
        code,
        detail,
        license: Some((l, used)),
    };
    if let Some(p) = status_problem(&l) {
        return Ok(verdict(p.code, p.detail, l));
    }
    let Some(fp) = fingerprint else {
        return Ok(verdict(
            Code::FingerprintRequired,
            "Send the machine fingerprint; licenses are bound to activated machines.".into(),
            l,
        ));
    };
    Ok(match machines.iter().find(|m| m.fingerprint == fp) {
        Some(m) => {
            // Last-seen times follow fresh reads (at most once per cache lifetime).
            if fresh {
                db::licenses::touch_machine(&mut *db.acquire().await?, m.id).await?;
            }
            verdict(
                Code::Valid,
                "The license is valid on this machine.".into(),
                l,
            )
        }
        None if used >= l.seats as usize => {
            let detail = seats_full(l.seats);
            verdict(Code::TooManyMachines, detail, l)
        }
        None => verdict(
            Code::FingerprintMismatch,
            "This machine is not activated for the license; activate it first.".into(),
            l,
        ),
    })
}

fn seats_full(seats: i32) -> String {
    format!("All {seats} seats are in use; deactivate a machine first.")
}

/// The platform's signed statement that `l` may run on machine `fingerprint` (see
/// `fox_license::activation`): sent with every activation and valid revalidation, or as an
/// offline activation file. It carries the license's current end, so a renewal reaches
/// clients whose key was issued before it.
pub fn activation_token(
    signer: &Signer,
    l: &License,
    fingerprint: &str,
    mode: activation::Mode,
) -> String {
    signer.issue_activation(&activation::ActivationClaims {
        v: 1,
        lid: l.id,
        fp: fingerprint.to_string(),
        iat: OffsetDateTime::now_utc().unix_timestamp(),
        exp: l.works_until().unix_timestamp(),
        mode,
    })
}

/// Whether a fingerprint is acceptable: 8 to 256 printable ASCII characters.
pub fn fingerprint_ok(f: &str) -> bool {
    (8..=256).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_graphic())
}

/// A machine activation that happened (or was already there).
pub struct Activation {
    pub license: License,
    pub machine_id: Uuid,
    pub created: bool,
    pub seats_used: usize,
}

/// Activates `fingerprint` for the key's license within its seats, under a row lock so that
/// concurrent activations cannot exceed them. Runs in the caller's transaction.
pub async fn activate(
    conn: &mut PgConnection,
    signer: &Signer,
    key: &SentKey<'_>,
    fingerprint: &str,
    name: &str,
) -> Result<Activation, MachineError> {
    let l = lookup(conn, signer, key)
        .await?
        .map_err(MachineError::Refused)?;
    if let Some(p) = status_problem(&l) {
        return Err(MachineError::Refused(p));
    }
    activate_locked(conn, l.id, fingerprint, name).await
}

/// Activates `fingerprint` for license `id` within its seats, under a row lock.
async fn activate_locked(
    conn: &mut PgConnection,
    id: Uuid,
    fingerprint: &str,
    name: &str,
) -> Result<Activation, MachineError> {
    let l = db::licenses::lock(conn, id)
        .await?
        .ok_or_else(|| MachineError::Refused(not_registered()))?;
    if let Some(p) = status_problem(&l) {
        return Err(MachineError::Refused(p));
    }
    let machines = db::licenses::active_machines(conn, l.id).await?;
    let (machine_id, created) = match machines.iter().find(|m| m.fingerprint == fingerprint) {
        Some(m) => (m.id, false),
        None if machines.len() >= l.seats as usize => {
            return Err(MachineError::Refused(Problem::new(
                Code::TooManyMachines,
                seats_full(l.seats),
            )));
        }
        None => (
            db::licenses::activate_machine(conn, l.id, fingerprint, name).await?,
            true,
        ),
    };
    Ok(Activation {
        seats_used: machines.len() + usize::from(created),
        license: l,
        machine_id,
        created,
    })
}

/// An offline activation file for an air-gapped machine, issued by staff: takes a seat for
/// `fingerprint` (like an online activation) and answers the signed activation, good until the
/// license ends. Runs in the caller's transaction; the caller audits.
pub async fn offline_activation(
    conn: &mut PgConnection,
    signer: &Signer,
    id: Uuid,
    fingerprint: &str,
    name: &str,
) -> Result<String, MachineError> {
    if !fingerprint_ok(fingerprint) {
        return Err(MachineError::Refused(Problem::new(
            Code::FingerprintRequired,
            "The fingerprint must be 8 to 256 printable characters: the output of `fox-engine license fingerprint` on that machine.",
        )));
    }
    let a = activate_locked(conn, id, fingerprint, name).await?;
    Ok(activation_token(
        signer,
        &a.license,
        fingerprint,
        activation::Mode::Offline,
    ))
}

/// Deactivates `fingerprint` for the key's license (whatever the license's status, so that
/// a seat can always be freed). Runs in the caller's transaction.
pub async fn deactivate(
    conn: &mut PgConnection,
    signer: &Signer,
    key: &SentKey<'_>,
    fingerprint: &str,
) -> Result<License, MachineError> {
    let l = lookup(conn, signer, key)
        .await?
        .map_err(MachineError::Refused)?;
    if !db::licenses::deactivate_machine(conn, l.id, Some(fingerprint), None).await? {
        return Err(MachineError::Refused(Problem::new(
            Code::NotActivated,
            "This machine is not activated for the license.",
        )));
    }
    Ok(l)
}
