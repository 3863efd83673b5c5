//! The license check of a client (the engine CLI), before it touches any data.
//!
//! 1. The key, offline: signature against the public key built into the binary (or the
//!    self-hosted platform's), format version, expiry.
//! 2. This machine's activation: the platform's signed [`ActivationClaims`] kept in the
//!    client's config directory. A fresh one (younger than [`Policy::revalidate_after`]) is
//!    trusted offline; an older one is revalidated online, and while the platform cannot be
//!    reached it keeps working until [`Policy::grace`] has passed since the last confirmation.
//!    Without one the machine is activated online, within the license's seats. An offline
//!    activation file (air-gapped installs) is good until the license expires.
//!
//! Time and the platform are traits, so every branch is tested with a fake clock and a fake
//! platform. Every refusal is one [`Refusal`] sentence saying what is wrong and what to do.

use crate::activation::{ActivationClaims, Mode};
use crate::{Claims, KeyError, PublicKey};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Seconds since the Unix epoch, now.
pub trait Clock {
    fn now(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}

/// What the license platform answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Yes, with a fresh signed activation (empty for a deactivation).
    Granted(String),
    /// No: the license API's code (`TOO_MANY_MACHINES`, `REVOKED`, …) and its sentence.
    Refused { code: String, detail: String },
}

/// The platform could not be reached (or answered with a transient failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable(pub String);

/// The license platform's machine operations.
pub trait Platform {
    fn activate(&self, key: &str, fingerprint: &str, name: &str) -> Result<Answer, Unreachable>;
    fn validate(&self, key: &str, fingerprint: &str) -> Result<Answer, Unreachable>;
    fn deactivate(&self, key: &str, fingerprint: &str) -> Result<Answer, Unreachable>;
}

/// How long an activation is trusted offline.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Revalidate online once the last confirmation is older than this (seconds).
    pub revalidate_after: i64,
    /// Refuse once the last confirmation is older than this and the platform cannot be
    /// reached (seconds).
    pub grace: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            revalidate_after: 24 * 3600,
            grace: 7 * 24 * 3600,
        }
    }
}

/// Why the engine may not run, in one sentence with what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// A license that may run here.
#[derive(Debug, Clone)]
pub struct Licensed {
    pub claims: Claims,
    pub activation: ActivationClaims,
    /// Said to the user without refusing (working offline within the grace period).
    pub notice: Option<String>,
}

/// The client's files: the license key and the latest activation, in its config directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$FOX_LICENSE_DIR`, else `$XDG_CONFIG_HOME/fox-ml`, else `~/.config/fox-ml`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        var("FOX_LICENSE_DIR").map(PathBuf::from).or_else(|| {
            var("XDG_CONFIG_HOME")
                .map(|d| PathBuf::from(d).join("fox-ml"))
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config/fox-ml")))
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join("license.key")
    }

    fn activation_path(&self) -> PathBuf {
        self.dir.join("activation")
    }

    fn read(path: &Path) -> Option<String> {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Writes `text` readable by its owner only, replacing the file at once.
    fn write(&self, path: &Path, text: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = path.with_extension("tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    pub fn key(&self) -> Option<String> {
        Self::read(&self.key_path())
    }

    pub fn save_key(&self, key: &str) -> std::io::Result<()> {
        self.write(&self.key_path(), key.trim())
    }

    pub fn activation(&self) -> Option<String> {
        Self::read(&self.activation_path())
    }

    pub fn save_activation(&self, token: &str) -> std::io::Result<()> {
        self.write(&self.activation_path(), token)
    }

    pub fn clear_activation(&self) -> std::io::Result<()> {
        match std::fs::remove_file(self.activation_path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// `2026-12-04` for Unix seconds (UTC).
pub fn date(unix: i64) -> String {
    // Howard Hinnant's days-to-civil.
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn days(secs: i64) -> String {
    let d = (secs as f64 / 86_400.0).ceil().max(0.0) as i64;
    if d == 1 {
        "1 day".into()
    } else {
        format!("{d} days")
    }
}

/// Refuses when the input is larger than the license's `max_dataset_gb`.
pub fn check_dataset_size(
    claims: &Claims,
    path: &Path,
    bytes: u64,
    url: &str,
) -> Result<(), Refusal> {
    let Some(gb) = claims.limit("max_dataset_gb") else {
        return Ok(());
    };
    let limit = (gb * 1e9) as u64;
    if bytes > limit {
        return Err(Refusal(format!(
            "{} is {:.2} GB; your {} license allows datasets up to {gb} GB: use a smaller file, or upgrade at {url}/pricing.",
            path.display(),
            bytes as f64 / 1e9,
            claims.tier
        )));
    }
    Ok(())
}

/// The license check of one client on one machine.
pub struct Checker<C, P> {
    pub public_key: PublicKey,
    /// The platform's address, for messages (`https://…`, no trailing slash).
    pub url: String,
    pub fingerprint: String,
    pub machine_name: String,
    pub policy: Policy,
    pub store: Store,
    pub clock: C,
    pub platform: P,
}

impl<C: Clock, P: Platform> Checker<C, P> {
    /// The key's claims if its signature verifies with our public key and its format is ours.
    /// Expiry is checked by [`Self::check`] (a fresher activation may carry a renewal).
    pub fn verify_key(&self, key: &str) -> Result<Claims, Refusal> {
        let claims = self.public_key.verify(key).map_err(|e| match e {
            KeyError::Malformed => Refusal(
                "This is not a Fox ML license key (it starts with FOX1-): copy the whole key from your email or your dashboard.".into(),
            ),
            KeyError::BadSignature => Refusal(format!(
                "This license key was not issued by {} or was altered (its signature does not verify): copy it again from your dashboard; for a self-hosted platform, set FOX_LICENSE_PUBLIC_KEY to its public key.",
                self.url
            )),
        })?;
        if claims.v != 1 {
            return Err(Refusal(format!(
                "This key is for another product or a newer format (version {}): update fox-engine.",
                claims.v
            )));
        }
        Ok(claims)
    }

    /// The stored activation, if it is ours: signed by the platform, for this license and
    /// this machine.
    fn stored_activation(&self, claims: &Claims) -> Option<ActivationClaims> {
        let token = self.store.activation()?;
        self.public_key
            .verify_activation(&token)
            .ok()
            .filter(|a| a.v == 1 && a.lid == claims.lid && a.fp == self.fingerprint)
    }

    /// Checks and stores an activation the platform just sent.
    fn accept(&self, claims: &Claims, token: &str) -> Result<ActivationClaims, Refusal> {
        let a = self
            .public_key
            .verify_activation(token)
            .ok()
            .filter(|a| a.lid == claims.lid && a.fp == self.fingerprint)
            .ok_or_else(|| {
                Refusal(format!(
                    "{} answered with an activation that does not verify: check that FOX_PLATFORM_URL and FOX_LICENSE_PUBLIC_KEY name the same platform.",
                    self.url
                ))
            })?;
        self.store.save_activation(token).map_err(|e| {
            Refusal(format!(
                "Could not save the activation in {}: {e}.",
                self.store.dir().display()
            ))
        })?;
        Ok(a)
    }

    /// A refusal for a platform's answer.
    fn refused(&self, code: &str, detail: &str) -> Refusal {
        let url = &self.url;
        Refusal(match code {
            "TOO_MANY_MACHINES" => format!(
                "{detail} Free a seat: on {url}/account choose Deactivate next to a machine you no longer use (or run `fox-engine license deactivate` on it), then run again."
            ),
            "REVOKED" => format!(
                "This license was revoked and cannot run the engine; if you think this is a mistake, contact us at {url}/contact."
            ),
            "SUSPENDED" => format!("{detail} See {url}/account."),
            "EXPIRED" => format!("{detail} Renew it at {url}/account."),
            "NOT_FOUND" | "INVALID_SIGNATURE" => format!(
                "{url} does not know this key ({detail}): check that FOX_PLATFORM_URL is the platform that issued it."
            ),
            "FINGERPRINT_MISMATCH" | "NOT_ACTIVATED" => format!(
                "This machine's activation was removed (on the dashboard or with `fox-engine license deactivate`): run `fox-engine license activate` to take a seat again."
            ),
            _ => format!("{url} refused the license: {detail}"),
        })
    }

    fn expired(&self, exp: i64) -> Refusal {
        Refusal(format!(
            "Your license expired on {}: renew it at {}/account.",
            date(exp),
            self.url
        ))
    }

    /// Activates this machine online (or confirms an existing activation).
    pub fn activate(&self, key: &str) -> Result<Licensed, Refusal> {
        let claims = self.verify_key(key)?;
        match self
            .platform
            .activate(key, &self.fingerprint, &self.machine_name)
        {
            Ok(Answer::Granted(token)) => {
                let activation = self.accept(&claims, &token)?;
                Ok(Licensed {
                    claims,
                    activation,
                    notice: None,
                })
            }
            Ok(Answer::Refused { code, detail }) => Err(self.refused(&code, &detail)),
            Err(Unreachable(why)) => Err(Refusal(format!(
                "This machine is not activated yet and {} could not be reached ({why}): activation needs the platform once; for an air-gapped machine, ask for an offline activation file and run `fox-engine license install FILE`.",
                self.url
            ))),
        }
    }

    /// Frees this machine's seat and forgets its activation.
    pub fn deactivate(&self, key: &str) -> Result<(), Refusal> {
        self.verify_key(key)?;
        let answer = self
            .platform
            .deactivate(key, &self.fingerprint)
            .map_err(|Unreachable(why)| {
                Refusal(format!(
                    "{} could not be reached ({why}); the seat stays taken: try again when online, or deactivate this machine on {}/account.",
                    self.url, self.url
                ))
            })?;
        let _ = self.store.clear_activation();
        match answer {
            Answer::Granted(_) => Ok(()),
            Answer::Refused { code, .. } if code == "NOT_ACTIVATED" => Ok(()),
            Answer::Refused { code, detail } => Err(self.refused(&code, &detail)),
        }
    }

    /// Installs an offline activation file (air-gapped machines).
    pub fn install(&self, key: &str, token: &str) -> Result<Licensed, Refusal> {
        let claims = self.verify_key(key)?;
        let a = self.public_key.verify_activation(token).map_err(|_| {
            Refusal("This activation file was not issued by the platform of this key or was altered: ask for a new one.".into())
        })?;
        if a.lid != claims.lid {
            return Err(Refusal(
                "This activation file is for another license: ask for one issued for this key's license.".into(),
            ));
        }
        if a.fp != self.fingerprint {
            return Err(Refusal(format!(
                "This activation file is for another machine: ask for one issued for this machine's fingerprint {} (`fox-engine license fingerprint`).",
                self.fingerprint
            )));
        }
        if a.exp <= self.clock.now() {
            return Err(self.expired(a.exp));
        }
        self.store.save_activation(token.trim()).map_err(|e| {
            Refusal(format!(
                "Could not save the activation in {}: {e}.",
                self.store.dir().display()
            ))
        })?;
        Ok(Licensed {
            claims,
            activation: a,
            notice: None,
        })
    }

    /// May this machine run the engine with `key` now? Activates or revalidates online when
    /// it must.
    pub fn check(&self, key: &str) -> Result<Licensed, Refusal> {
        let claims = self.verify_key(key)?;
        let now = self.clock.now();
        let Some(a) = self.stored_activation(&claims) else {
            if claims.exp <= now {
                return Err(self.expired(claims.exp));
            }
            return self.activate(key);
        };
        // The activation carries the license's current expiry (renewals extend it).
        let exp = a.exp.max(claims.exp);
        if exp <= now {
            return Err(self.expired(exp));
        }
        let licensed = |activation, notice| Licensed {
            claims: claims.clone(),
            activation,
            notice,
        };
        if a.mode == Mode::Offline {
            return Ok(licensed(a, None));
        }
        let age = now - a.iat;
        // A confirmation from the future means the clock was turned back: revalidate.
        if (0..self.policy.revalidate_after).contains(&age) {
            return Ok(licensed(a, None));
        }
        match self.platform.validate(key, &self.fingerprint) {
            Ok(Answer::Granted(token)) => {
                let a = self.accept(&claims, &token)?;
                let exp = a.exp.max(claims.exp);
                if exp <= now {
                    return Err(self.expired(exp));
                }
                Ok(licensed(a, None))
            }
            Ok(Answer::Refused { code, detail }) => {
                let _ = self.store.clear_activation();
                Err(self.refused(&code, &detail))
            }
            Err(Unreachable(why)) if (0..self.policy.grace).contains(&age) => {
                let notice = format!(
                    "{} could not be reached ({why}); working offline on the activation confirmed {}, for {} more.",
                    self.url,
                    date(a.iat),
                    days(self.policy.grace - age)
                );
                Ok(licensed(a, Some(notice)))
            }
            Err(Unreachable(why)) => Err(Refusal(format!(
                "The license has not been confirmed with {} since {} and the {} offline grace period is over ({why}): connect this machine to the platform and run again, or ask for an offline activation file.",
                self.url,
                date(a.iat),
                days(self.policy.grace)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Signer, SigningKey};
    use std::cell::{Cell, RefCell};

    const DAY: i64 = 86_400;
    const T0: i64 = 1_800_000_000;

    struct FakeClock(Cell<i64>);
    impl Clock for &FakeClock {
        fn now(&self) -> i64 {
            self.0.get()
        }
    }

    /// A platform with seats, a status, and a switch to be unreachable.
    struct FakePlatform<'a> {
        signer: &'a Signer,
        clock: &'a FakeClock,
        lid: uuid::Uuid,
        exp: Cell<i64>,
        seats: usize,
        machines: RefCell<Vec<String>>,
        status: RefCell<&'static str>,
        online: Cell<bool>,
        calls: Cell<u32>,
    }

    impl FakePlatform<'_> {
        fn grant(&self, fp: &str) -> Answer {
            Answer::Granted(self.signer.issue_activation(&ActivationClaims {
                v: 1,
                lid: self.lid,
                fp: fp.into(),
                iat: self.clock.0.get(),
                exp: self.exp.get(),
                mode: Mode::Online,
            }))
        }
        fn reach(&self) -> Result<(), Unreachable> {
            self.calls.set(self.calls.get() + 1);
            if self.online.get() {
                Ok(())
            } else {
                Err(Unreachable("connection refused".into()))
            }
        }
        fn status(&self) -> Option<Answer> {
            let s = *self.status.borrow();
            (s != "ACTIVE").then(|| Answer::Refused {
                code: s.into(),
                detail: format!("This license is {}.", s.to_lowercase()),
            })
        }
    }

    impl Platform for &FakePlatform<'_> {
        fn activate(&self, _: &str, fp: &str, _: &str) -> Result<Answer, Unreachable> {
            self.reach()?;
            if let Some(no) = self.status() {
                return Ok(no);
            }
            let mut m = self.machines.borrow_mut();
            if !m.iter().any(|x| x == fp) {
                if m.len() >= self.seats {
                    return Ok(Answer::Refused {
                        code: "TOO_MANY_MACHINES".into(),
                        detail: format!("All {} seats are in use.", self.seats),
                    });
                }
                m.push(fp.into());
            }
            Ok(self.grant(fp))
        }
        fn validate(&self, _: &str, fp: &str) -> Result<Answer, Unreachable> {
            self.reach()?;
            if let Some(no) = self.status() {
                return Ok(no);
            }
            if !self.machines.borrow().iter().any(|x| x == fp) {
                return Ok(Answer::Refused {
                    code: "FINGERPRINT_MISMATCH".into(),
                    detail: "not activated".into(),
                });
            }
            Ok(self.grant(fp))
        }
        fn deactivate(&self, _: &str, fp: &str) -> Result<Answer, Unreachable> {
            self.reach()?;
            self.machines.borrow_mut().retain(|x| x != fp);
            Ok(Answer::Granted(String::new()))
        }
    }

    struct World {
        signer: Signer,
        clock: FakeClock,
        key: String,
        lid: uuid::Uuid,
        dir: PathBuf,
    }

    impl World {
        fn new(seats: u32, exp: i64) -> Self {
            let signer = Signer::new(SigningKey::generate());
            let lid = uuid::Uuid::from_u128(7);
            let key = signer.issue(&Claims {
                v: 1,
                lid,
                tier: "researcher".into(),
                seats,
                iat: T0 - DAY,
                exp,
                ent: serde_json::json!({"max_dataset_gb": 10}),
            });
            let dir = std::env::temp_dir().join(format!(
                "fox-license-test-{}-{}",
                std::process::id(),
                rand::random::<u64>()
            ));
            Self {
                signer,
                clock: FakeClock(Cell::new(T0)),
                key,
                lid,
                dir,
            }
        }

        fn platform(&self, seats: usize, exp: i64) -> FakePlatform<'_> {
            FakePlatform {
                signer: &self.signer,
                clock: &self.clock,
                lid: self.lid,
                exp: Cell::new(exp),
                seats,
                machines: RefCell::new(Vec::new()),
                status: RefCell::new("ACTIVE"),
                online: Cell::new(true),
                calls: Cell::new(0),
            }
        }

        fn checker<'a>(
            &'a self,
            platform: &'a FakePlatform<'a>,
            fp: &str,
        ) -> Checker<&'a FakeClock, &'a FakePlatform<'a>> {
            Checker {
                public_key: self.signer.public_key(),
                url: "https://fox.example".into(),
                fingerprint: fp.into(),
                machine_name: "box".into(),
                policy: Policy::default(),
                store: Store::new(self.dir.join(fp)),
                clock: &self.clock,
                platform,
            }
        }

        fn advance(&self, secs: i64) {
            self.clock.0.set(self.clock.0.get() + secs);
        }
    }

    impl Drop for World {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    const FP: &str = "machine-a-fingerprint";

    #[test]
    fn a_valid_key_activates_once_then_runs_offline_until_revalidation() {
        let w = World::new(2, T0 + 365 * DAY);
        let p = w.platform(2, T0 + 365 * DAY);
        let c = w.checker(&p, FP);
        let l = c.check(&w.key).unwrap();
        assert_eq!(l.claims.tier, "researcher");
        assert_eq!(l.activation.fp, FP);
        assert_eq!(p.calls.get(), 1, "activated online");
        assert!(c.store.activation().unwrap().starts_with("FOXA1-"));
        // Within a day: no call.
        w.advance(DAY - 1);
        c.check(&w.key).unwrap();
        assert_eq!(p.calls.get(), 1);
        // After a day: revalidated, and the new confirmation is stored.
        w.advance(2);
        c.check(&w.key).unwrap();
        assert_eq!(p.calls.get(), 2);
        w.advance(DAY - 10);
        c.check(&w.key).unwrap();
        assert_eq!(p.calls.get(), 2, "the revalidation restarted the clock");
    }

    #[test]
    fn expired_tampered_and_foreign_keys_are_refused_offline() {
        let w = World::new(2, T0 - DAY);
        let p = w.platform(2, T0 - DAY);
        let c = w.checker(&p, FP);
        let e = c.check(&w.key).unwrap_err();
        assert_eq!(
            e.0,
            format!(
                "Your license expired on {}: renew it at https://fox.example/account.",
                date(T0 - DAY)
            )
        );
        assert_eq!(p.calls.get(), 0, "refused without the network");

        let w = World::new(2, T0 + DAY);
        let p = w.platform(2, T0 + DAY);
        let c = w.checker(&p, FP);
        // A longer expiry pasted into the payload.
        let (payload, sig) = w.key["FOX1-".len()..].split_once('.').unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
        claims["exp"] = serde_json::json!(T0 + 3650 * DAY);
        let forged = format!(
            "FOX1-{}.{sig}",
            b64.encode(serde_json::to_vec(&claims).unwrap())
        );
        let e = c.check(&forged).unwrap_err();
        assert!(e.0.contains("was altered"), "{e}");
        assert!(
            c.check("hello")
                .unwrap_err()
                .0
                .contains("not a Fox ML license key")
        );
        // The right key checked against another platform's public key.
        let other = Signer::new(SigningKey::generate());
        let c2 = Checker {
            public_key: other.public_key(),
            ..w.checker(&p, FP)
        };
        assert!(
            c2.check(&w.key)
                .unwrap_err()
                .0
                .contains("not issued by https://fox.example")
        );
        assert_eq!(p.calls.get(), 0);
    }

    #[test]
    fn full_seats_say_how_to_free_one_and_deactivating_frees_it() {
        let w = World::new(1, T0 + 365 * DAY);
        let p = w.platform(1, T0 + 365 * DAY);
        let a = w.checker(&p, "machine-a-fingerprint");
        let b = w.checker(&p, "machine-b-fingerprint");
        a.check(&w.key).unwrap();
        let e = b.check(&w.key).unwrap_err();
        assert!(e.0.starts_with("All 1 seats are in use. Free a seat: on https://fox.example/account choose Deactivate"), "{e}");
        assert!(e.0.contains("fox-engine license deactivate"));
        assert!(b.store.activation().is_none());
        a.deactivate(&w.key).unwrap();
        assert!(
            a.store.activation().is_none(),
            "the activation is forgotten"
        );
        b.check(&w.key).unwrap();
        assert!(
            a.check(&w.key)
                .unwrap_err()
                .0
                .starts_with("All 1 seats are in use.")
        );
        // B deactivated on the dashboard: its next revalidation says so.
        p.machines.borrow_mut().clear();
        w.advance(DAY + 1);
        let e = b.check(&w.key).unwrap_err();
        assert!(
            e.0.contains("activation was removed") && e.0.contains("license activate"),
            "{e}"
        );
    }

    #[test]
    fn offline_within_the_grace_period_works_and_past_it_refuses() {
        let w = World::new(2, T0 + 365 * DAY);
        let p = w.platform(2, T0 + 365 * DAY);
        let c = w.checker(&p, FP);
        c.check(&w.key).unwrap();
        p.online.set(false);
        w.advance(3 * DAY);
        let l = c.check(&w.key).unwrap();
        let notice = l.notice.unwrap();
        assert!(
            notice.contains("working offline") && notice.contains("for 4 days more"),
            "{notice}"
        );
        w.advance(4 * DAY - 60);
        assert!(
            c.check(&w.key)
                .unwrap()
                .notice
                .unwrap()
                .contains("for 1 day more")
        );
        w.advance(120);
        let e = c.check(&w.key).unwrap_err();
        assert!(
            e.0.contains("grace period is over") && e.0.contains(&date(T0)),
            "{e}"
        );
        // Back online: revalidated and working again.
        p.online.set(true);
        assert!(c.check(&w.key).unwrap().notice.is_none());
        // A machine that never activated cannot start offline.
        p.online.set(false);
        let e = w
            .checker(&p, "machine-b-fingerprint")
            .check(&w.key)
            .unwrap_err();
        assert!(
            e.0.contains("not activated yet") && e.0.contains("license install"),
            "{e}"
        );
    }

    #[test]
    fn a_revoked_license_stops_at_the_next_revalidation_and_a_reinstated_one_resumes() {
        let w = World::new(2, T0 + 365 * DAY);
        let p = w.platform(2, T0 + 365 * DAY);
        let c = w.checker(&p, FP);
        c.check(&w.key).unwrap();
        *p.status.borrow_mut() = "REVOKED";
        // Until the revalidation the cached activation stands (offline use is the point).
        c.check(&w.key).unwrap();
        w.advance(DAY + 1);
        let e = c.check(&w.key).unwrap_err();
        assert!(e.0.starts_with("This license was revoked"), "{e}");
        assert!(c.store.activation().is_none(), "the activation is dropped");
        // Going offline does not bring it back.
        p.online.set(false);
        assert!(c.check(&w.key).is_err());
        // Reinstated by staff (e.g. a suspension lifted): the next check activates again.
        p.online.set(true);
        *p.status.borrow_mut() = "SUSPENDED";
        assert!(c.check(&w.key).unwrap_err().0.contains("suspended"));
        *p.status.borrow_mut() = "ACTIVE";
        c.check(&w.key).unwrap();
    }

    #[test]
    fn a_renewal_carried_by_the_activation_outlives_the_keys_expiry() {
        let w = World::new(2, T0 + DAY);
        let p = w.platform(2, T0 + 40 * DAY);
        let c = w.checker(&p, FP);
        c.check(&w.key).unwrap();
        w.advance(2 * DAY);
        assert!(c.check(&w.key).is_ok(), "renewed past the key's own expiry");
        // Not renewed again: the platform's expiry is the one that counts.
        p.exp.set(T0 + 3 * DAY);
        w.advance(2 * DAY);
        let e = c.check(&w.key).unwrap_err();
        assert!(
            e.0.contains(&format!("expired on {}", date(T0 + 3 * DAY))),
            "{e}"
        );
    }

    #[test]
    fn offline_activation_files_work_without_the_platform_for_their_machine_only() {
        let w = World::new(2, T0 + 365 * DAY);
        let p = w.platform(2, T0 + 365 * DAY);
        p.online.set(false);
        let c = w.checker(&p, FP);
        let file = w.signer.issue_activation(&ActivationClaims {
            v: 1,
            lid: w.lid,
            fp: FP.into(),
            iat: T0,
            exp: T0 + 365 * DAY,
            mode: Mode::Offline,
        });
        let other_machine = w.checker(&p, "machine-b-fingerprint");
        assert!(
            other_machine
                .install(&w.key, &file)
                .unwrap_err()
                .0
                .contains("another machine")
        );
        c.install(&w.key, &file).unwrap();
        w.advance(300 * DAY);
        assert!(c.check(&w.key).unwrap().notice.is_none());
        assert_eq!(p.calls.get(), 0, "never online");
        w.advance(66 * DAY);
        assert!(
            c.check(&w.key)
                .unwrap_err()
                .0
                .starts_with("Your license expired on")
        );
        let forged = file.replacen("FOXA1-e", "FOXA1-f", 1);
        assert!(c.install(&w.key, &forged).is_err());
    }

    #[test]
    fn dataset_size_is_checked_against_the_entitlement() {
        let w = World::new(1, T0 + DAY);
        let claims = w.signer.public_key().verify(&w.key).unwrap();
        let p = Path::new("panel.parquet");
        assert!(check_dataset_size(&claims, p, 10_000_000_000, "u").is_ok());
        let e = check_dataset_size(&claims, p, 10_000_000_001, "https://fox.example").unwrap_err();
        assert_eq!(
            e.0,
            "panel.parquet is 10.00 GB; your researcher license allows datasets up to 10 GB: use a smaller file, or upgrade at https://fox.example/pricing."
        );
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_800_000_000), "2027-01-15");
        assert_eq!(date(951_782_400), "2000-02-29");
    }
}
