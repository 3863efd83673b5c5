//! A license of our own for running the `fox-engine` binary in tests: a fresh signing key
//! (its public key given to the binary as a self-hosted platform's), a key, and an offline
//! activation of this machine, kept in a private config directory.

use fox_license::activation::{ActivationClaims, Mode};
use fox_license::{Claims, Signer, SigningKey};
use std::path::PathBuf;
use std::process::Command;

pub struct License {
    pub signer: Signer,
    pub dir: PathBuf,
    pub key: String,
    pub lid: uuid::Uuid,
}

impl License {
    /// A license with `ent` entitlements, valid for a year, not yet activated here.
    pub fn new(tag: &str, ent: serde_json::Value) -> Self {
        let signer = Signer::new(SigningKey::generate());
        let dir = std::env::temp_dir().join(format!(
            "fox-engine-license-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let lid = uuid::Uuid::from_u128(rand::random());
        let now = now();
        let key = signer.issue(&Claims {
            v: 1,
            lid,
            tier: "researcher".into(),
            seats: 1,
            iat: now,
            exp: now + 365 * 86_400,
            ent,
        });
        Self {
            signer,
            dir,
            key,
            lid,
        }
    }

    /// Installs an offline activation of this machine (as `fox-engine license install` would).
    pub fn activate_offline(&self) -> String {
        let token = self.signer.issue_activation(&ActivationClaims {
            v: 1,
            lid: self.lid,
            fp: fox_license::machine::fingerprint(),
            iat: now(),
            exp: now() + 365 * 86_400,
            mode: Mode::Offline,
        });
        std::fs::write(self.dir.join("activation"), &token).unwrap();
        token
    }

    /// `fox-engine` with this license's public key, config dir and key, and a platform
    /// address where nothing listens.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fox-engine"));
        c.env("FOX_LICENSE_DIR", &self.dir)
            .env(
                "FOX_LICENSE_PUBLIC_KEY",
                self.signer.public_key().to_base64(),
            )
            .env("FOX_LICENSE_KEY", &self.key)
            .env("FOX_PLATFORM_URL", "http://127.0.0.1:9")
            .env_remove("RUST_LOG");
        c
    }

    #[allow(dead_code)]
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for License {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
