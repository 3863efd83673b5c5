//! The machine fingerprint: a hash of stable facts about the machine, so that nothing
//! identifying leaves it. Linux: the systemd/D-Bus machine id, else the host name.

use sha2::{Digest, Sha256};

/// Where the stable machine id lives on Linux.
const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// This machine's fingerprint: 64 hex digits.
pub fn fingerprint() -> String {
    let id = MACHINE_ID_FILES
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| format!("host:{}", name()));
    fingerprint_of(&id)
}

/// The fingerprint of a machine id (what [`fingerprint`] hashes).
pub fn fingerprint_of(machine_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"fox-machine-v1\0")
        .chain_update(machine_id.as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The machine's host name, shown on the dashboard next to its activation.
pub fn name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_hex_and_hide_the_id() {
        let a = fingerprint_of("0123456789abcdef");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, fingerprint_of("0123456789abcdef"));
        assert_ne!(a, fingerprint_of("0123456789abcdee"));
        assert!(!a.contains("0123456789abcdef"));
        assert_eq!(
            fingerprint(),
            fingerprint(),
            "the same machine, the same fingerprint"
        );
    }
}
