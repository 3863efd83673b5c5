//! The license gate of `fox-engine` (the library stays unlicensed: tests and the platform's
//! workers call it under their own authority). `run` and `predict` need a license key that
//! verifies offline against the public key built into this binary, and an activation of this
//! machine (see `fox_license::check`); `fox-engine license …` manages both.

use std::path::Path;
use std::process::ExitCode;

use fox_license::PublicKey;
pub use fox_license::check::Refusal;
use fox_license::check::{self, Checker, Licensed, Policy, Store, SystemClock};
use fox_license::http::HttpPlatform;

use crate::cli::LicenseCommand;

/// The platform's public key and address, built into release builds
/// (`scripts/release-engine.sh` sets them from the platform's configuration).
const BUILT_IN_PUBLIC_KEY: Option<&str> = option_env!("FOX_LICENSE_PUBLIC_KEY");
const BUILT_IN_URL: Option<&str> = option_env!("FOX_PLATFORM_URL");
/// The address `scripts/serve.sh` serves on.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The exit code of a refused license (2 is an invalid config).
pub const REFUSED: u8 = 3;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The platform's address: `FOX_PLATFORM_URL`, else the built-in one.
fn url() -> String {
    env("FOX_PLATFORM_URL")
        .or_else(|| BUILT_IN_URL.map(str::to_string))
        .unwrap_or_else(|| DEFAULT_URL.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The key that verifies licenses: `FOX_LICENSE_PUBLIC_KEY` (a self-hosted platform), else
/// the built-in one.
fn public_key(url: &str) -> Result<PublicKey, Refusal> {
    let text = env("FOX_LICENSE_PUBLIC_KEY").or_else(|| BUILT_IN_PUBLIC_KEY.map(str::to_string));
    let Some(text) = text else {
        return Err(Refusal(format!(
            "This build of fox-engine has no license public key: download the release build from your dashboard on {url}, or set FOX_LICENSE_PUBLIC_KEY to the `public_key` of {url}/.well-known/fox-license-key."
        )));
    };
    PublicKey::from_base64(&text).map_err(|_| {
        Refusal("FOX_LICENSE_PUBLIC_KEY is not an Ed25519 public key (base64 of 32 bytes): copy the `public_key` of your platform's /.well-known/fox-license-key.".into())
    })
}

/// Days or hours from the environment, with a default.
fn secs(name: &str, unit: i64, default: i64) -> Result<i64, Refusal> {
    match env(name) {
        None => Ok(default * unit),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .map(|n| i64::from(n) * unit)
            .map_err(|_| Refusal(format!("{name} must be a whole number, got {v:?}."))),
    }
}

fn checker() -> Result<Checker<SystemClock, HttpPlatform>, Refusal> {
    let url = url();
    let dir = Store::default_dir().ok_or_else(|| {
        Refusal("No license directory: set FOX_LICENSE_DIR (or HOME) so the license and this machine's activation can be kept.".into())
    })?;
    Ok(Checker {
        public_key: public_key(&url)?,
        fingerprint: fox_license::machine::fingerprint(),
        machine_name: fox_license::machine::name(),
        policy: Policy {
            revalidate_after: secs("FOX_LICENSE_REVALIDATE_HOURS", 3600, 24)?,
            grace: secs("FOX_LICENSE_GRACE_DAYS", 86_400, 7)?,
        },
        store: Store::new(dir),
        clock: SystemClock,
        platform: HttpPlatform::new(&url),
        url,
    })
}

/// The key to use: `--license-key` / `FOX_LICENSE_KEY`, else the stored one.
fn key<C, P>(given: Option<&str>, c: &Checker<C, P>) -> Result<String, Refusal> {
    given
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .or_else(|| c.store.key())
        .ok_or_else(|| {
            Refusal(format!(
                "No license key: pass --license-key, set FOX_LICENSE_KEY, or run `fox-engine license activate --key FOX1-…` once (the key is kept in {}).",
                c.store.dir().display()
            ))
        })
}

/// Checks the license before `run` or `predict` reads `inputs`: the key, this machine's
/// activation, and the license's dataset size limit.
pub fn require(given: Option<&str>, inputs: &[&Path]) -> Result<Licensed, Refusal> {
    let c = checker()?;
    let key = key(given, &c)?;
    let licensed = c.check(&key)?;
    for path in inputs {
        // A missing file is the engine's error to report, with its own message.
        if let Ok(meta) = std::fs::metadata(path) {
            check::check_dataset_size(&licensed.claims, path, meta.len(), &c.url)?;
        }
    }
    if let Some(n) = &licensed.notice {
        tracing::warn!("{n}");
    }
    tracing::debug!(license_id = %licensed.claims.lid, tier = %licensed.claims.tier, "license checked");
    Ok(licensed)
}

/// `fox-engine license …`.
pub fn command(cmd: LicenseCommand, given: Option<&str>) -> Result<ExitCode, Refusal> {
    if let LicenseCommand::Fingerprint = cmd {
        println!("{}", fox_license::machine::fingerprint());
        return Ok(ExitCode::SUCCESS);
    }
    let c = checker()?;
    match cmd {
        LicenseCommand::Fingerprint => unreachable!("answered above"),
        LicenseCommand::Status => {
            let key = key(given, &c)?;
            let l = c.check(&key)?;
            print_license(&c, &l);
        }
        LicenseCommand::Activate { key: new_key } => {
            let key = match new_key.as_deref().or(given) {
                Some(k) => {
                    c.verify_key(k)?;
                    c.store.save_key(k).map_err(|e| {
                        Refusal(format!(
                            "Could not save the key in {}: {e}.",
                            c.store.dir().display()
                        ))
                    })?;
                    k.trim().to_string()
                }
                None => key(None, &c)?,
            };
            let l = c.activate(&key)?;
            println!(
                "This machine ({}) is activated for license {}; the key is kept in {}.",
                c.machine_name,
                l.claims.lid,
                c.store.key_path().display()
            );
        }
        LicenseCommand::Deactivate => {
            let key = key(given, &c)?;
            c.deactivate(&key)?;
            println!(
                "This machine's seat is free; run `fox-engine license activate` to take one again."
            );
        }
        LicenseCommand::Install { file } => {
            let key = key(given, &c)?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Refusal(format!("Could not read {}: {e}.", file.display())))?;
            let l = c.install(&key, &text)?;
            println!(
                "Offline activation installed: this machine may run the engine until {}.",
                check::date(l.activation.exp)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_license<C, P>(c: &Checker<C, P>, l: &Licensed) {
    let a = &l.activation;
    println!("license:    {}", l.claims.lid);
    println!("tier:       {}", l.claims.tier);
    println!("seats:      {}", l.claims.seats);
    println!("expires:    {}", check::date(a.exp.max(l.claims.exp)));
    println!(
        "activation: {} ({}), confirmed {}",
        c.machine_name,
        match a.mode {
            fox_license::activation::Mode::Online => "online",
            fox_license::activation::Mode::Offline => "offline file",
        },
        check::date(a.iat)
    );
    println!("platform:   {}", c.url);
    println!("stored in:  {}", c.store.dir().display());
    if let Some(n) = &l.notice {
        println!("note:       {n}");
    }
}
