//! Keys for local development (`FOX_ENV=local` only): when the session key or the license
//! signing key is not configured, it is generated once into `security.local_keys_dir`
//! (`var/keys/`, git-ignored) and read back on every later start, so sessions and issued
//! license keys survive a restart of the one-command setup. Production never comes here:
//! its configuration must name real secrets (checked at load).

use crate::config::{Environment, Settings};
use crate::license::SigningKey;
use anyhow::Context;
use rand::RngCore;
use std::io::Write;
use std::path::Path;

fn is_local(env: &Environment) -> bool {
    env.name() == "local"
}

/// The license signing key: the configured one, or under `FOX_ENV=local` the generated
/// local one (the server and the `fox` CLI share it); `None` elsewhere.
pub fn license_signing_key(
    settings: &Settings,
    env: &Environment,
) -> anyhow::Result<Option<SigningKey>> {
    let dir = Path::new(&settings.security.local_keys_dir);
    Ok(Some(match &settings.license.signing_key {
        Some(k) => SigningKey::from_base64(k.expose()).context("license.signing_key")?,
        None if is_local(env) => {
            SigningKey::from_base64(&load_or_create(dir, "license-signing.key", || {
                SigningKey::generate().to_base64()
            })?)
            .with_context(|| format!("{}/license-signing.key", dir.display()))?
        }
        None => return Ok(None),
    }))
}

/// The key of CSRF tokens: the configured session key, or under `FOX_ENV=local` the
/// generated local one; `None` elsewhere.
pub fn session_key(settings: &Settings, env: &Environment) -> anyhow::Result<Option<Vec<u8>>> {
    Ok(match &settings.security.session_key {
        Some(k) => Some(k.expose().as_bytes().to_vec()),
        None if is_local(env) => Some(
            load_or_create(
                Path::new(&settings.security.local_keys_dir),
                "session.key",
                || {
                    let mut k = [0u8; 32];
                    rand::rng().fill_bytes(&mut k);
                    k.iter().map(|b| format!("{b:02x}")).collect()
                },
            )?
            .into_bytes(),
        ),
        None => None,
    })
}

/// The key stored in `dir/name`, created with `generate` (a text value) on first use.
/// Two processes starting at once agree on one key: the file is created exclusively, and
/// the loser reads the winner's.
pub fn load_or_create(
    dir: &Path,
    name: &str,
    generate: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    let path = dir.join(name);
    if let Some(k) = read(&path)? {
        return Ok(k);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(generate().as_bytes())?;
        f.sync_all()?;
    }
    // hard_link fails if the key appeared meanwhile: then the other process's key wins.
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => tracing::info!(path = %path.display(), "generated a local development key"),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("writing {}", path.display())),
    }
    read(&path)?.with_context(|| format!("{} is empty", path.display()))
}

fn read(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let dir = std::env::temp_dir().join(format!("fox-keys-{}", uuid::Uuid::new_v4()));
        let a = load_or_create(&dir, "k", || "first".into()).unwrap();
        let b = load_or_create(&dir, "k", || "second".into()).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("first", "first"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("k"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
