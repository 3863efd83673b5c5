//! Issuing a license: customer and account, the license row, a signed key (only its hash
//! stored), a set-password link when the account has no password, the key email through the
//! outbox and an audit entry — all in the caller's transaction.

use crate::config::{Settings, Tier};
use crate::db::{self, audit::Actor, licenses::NewLicense};
use crate::domain::{EmailAddress, IssueSource};
use crate::email::messages;
use crate::license::{self, Claims, Signer};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Where a license comes from, with the Stripe references of a checkout.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    pub source: IssueSource,
    pub checkout_session_id: Option<&'a str>,
    pub subscription_id: Option<&'a str>,
    pub stripe_customer_id: Option<&'a str>,
    pub payment_intent_id: Option<&'a str>,
}

impl Origin<'_> {
    /// A license from `source` without Stripe references (sales, CLI).
    pub fn new(source: IssueSource) -> Self {
        Self {
            source,
            checkout_session_id: None,
            subscription_id: None,
            stripe_customer_id: None,
            payment_intent_id: None,
        }
    }
}

/// A license to issue.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub email: &'a EmailAddress,
    pub name: &'a str,
    pub company: &'a str,
    pub tier: &'a Tier,
    pub expires_at: OffsetDateTime,
    pub origin: Origin<'a>,
}

/// The result: the key exists only here (and in the queued email).
#[derive(Debug, Clone)]
pub struct Issued {
    pub license_id: Uuid,
    pub customer_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: OffsetDateTime,
    pub key: String,
    /// The one-time set-password link (in the key email), when the account has no password yet.
    pub set_password_url: Option<String>,
    /// Whether this issuing created the account and it holds no other license. Only then may
    /// the buyer's browser see the key and the set-password link: a checkout buyer can type
    /// any email address, and an existing account belongs to whoever owns that mailbox.
    pub new_account: bool,
}

/// The entitlements a tier grants, stored with the license and signed into its key.
pub fn entitlements(tier: &Tier) -> serde_json::Value {
    serde_json::json!({
        "concurrent_jobs": tier.limits.concurrent_jobs,
        "max_dataset_gb": tier.limits.max_dataset_gb,
        "jobs_per_month": tier.limits.jobs_per_month,
    })
}

/// Seats of a tier; per-contract tiers (no number configured) get one until sales changes it.
pub fn seats(tier: &Tier) -> i32 {
    tier.seats.map_or(1, |s| s as i32)
}

/// Signs a key for a stored license and records its hash.
pub async fn new_key(
    conn: &mut PgConnection,
    signer: &Signer,
    l: &db::licenses::License,
) -> sqlx::Result<String> {
    let mut claims = Claims {
        v: 1,
        lid: l.id,
        tier: l.tier.clone(),
        seats: l.seats as u32,
        iat: OffsetDateTime::now_utc().unix_timestamp(),
        exp: l.expires_at.unix_timestamp(),
        ent: l.entitlements.clone(),
    };
    // Signatures are deterministic: a second key within the same second would be the same
    // key. Each new key is a new key, so its issue time moves on a second until it is.
    loop {
        let key = signer.issue(&claims);
        if db::licenses::insert_key(conn, &signer.lookup_hash(&key), l.id, &license::hint(&key))
            .await?
        {
            return Ok(key);
        }
        claims.iat += 1;
    }
}

/// Issues a license; `None` when this checkout session was already fulfilled (idempotence).
pub async fn issue(
    conn: &mut PgConnection,
    settings: &Settings,
    signer: &Signer,
    req: &Request<'_>,
    actor: &Actor,
) -> sqlx::Result<Option<Issued>> {
    let email = req.email.account();
    let customer_id = db::customers::upsert_customer(
        conn,
        &email,
        req.name,
        req.company,
        req.origin.stripe_customer_id,
    )
    .await?;
    let (user, created) = db::customers::upsert_customer_user(conn, &email, customer_id).await?;
    let new = NewLicense {
        customer_id,
        tier: &req.tier.id,
        seats: seats(req.tier),
        expires_at: req.expires_at,
        entitlements: entitlements(req.tier),
        source: req.origin.source,
        checkout_session_id: req.origin.checkout_session_id,
        subscription_id: req.origin.subscription_id,
        stripe_customer_id: req.origin.stripe_customer_id,
        payment_intent_id: req.origin.payment_intent_id,
    };
    let Some(license_id) = db::licenses::insert(conn, &new).await? else {
        return Ok(None);
    };
    let license = db::licenses::by_id(conn, license_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let key = new_key(conn, signer, &license).await?;
    let licenses_held = db::licenses::for_customer(conn, customer_id).await?.len();
    let new_account = created && licenses_held == 1;

    let base = settings.server.public_url.trim_end_matches('/');
    let set_password_url = if user.password_hash.is_none() {
        let ttl = time::Duration::hours(settings.security.token_ttl_hours as i64);
        let token = db::tokens::create(conn, user.id, "set_password", ttl).await?;
        Some(format!("{base}/account/set-password?token={token}"))
    } else {
        None
    };
    let next = set_password_url
        .clone()
        .unwrap_or_else(|| format!("{base}/account/login"));
    let expires = license.expires_at.date().to_string();
    let mail = messages::license_key(
        email.as_str(),
        license_id,
        &req.tier.name,
        &expires,
        &key,
        &next,
        set_password_url.is_some(),
        true,
    );
    db::outbox::enqueue(conn, &mail.as_new()).await?;
    db::audit::record(
        conn,
        actor,
        "license.issue",
        "license",
        &license_id.to_string(),
        serde_json::json!({"tier": req.tier.id, "source": req.origin.source, "expires_at": expires}),
    )
    .await?;
    Ok(Some(Issued {
        license_id,
        customer_id,
        user_id: user.id,
        expires_at: license.expires_at,
        key,
        set_password_url,
        new_account,
    }))
}
