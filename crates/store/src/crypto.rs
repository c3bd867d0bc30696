//! Sealed personal data: a field-level envelope.
//!
//! ```text
//!  master key (file 0600 or VOUCH_MASTER_KEY)
//!      └─ wraps ─> data keys (table data_keys, AES-256-GCM, one active for sealing)
//!                     └─ seal ─> field value = 0x01 | key id (u32 BE) | nonce (12) | ciphertext+tag
//! ```
//! The associated data binds each value to its table, column and row, so a sealed value
//! copied into another row or column fails to open. Blind indexes (HMAC-SHA256 under a
//! dedicated index key) allow equality lookups on sealed columns.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vouch_core::{Error, Result};
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// A 256-bit key that is wiped from memory when dropped.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        SecretKey(k)
    }

    /// Parses base64 text of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self> {
        let raw = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| Error::Invalid("master key is not valid base64".into()))?,
        );
        Self::from_slice(&raw)
    }

    fn from_slice(raw: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = raw
            .try_into()
            .map_err(|_| Error::Invalid("a key must be exactly 32 bytes".into()))?;
        Ok(SecretKey(Zeroizing::new(arr)))
    }

    /// The key as base64 text (for the key file).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }

    /// A short public fingerprint, to tell which master key wrapped a data key.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"vouch-master-key-fingerprint")
            .chain_update(self.0.as_ref())
            .finalize();
        hex_prefix(&digest[..8])
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut n);
    n
}

/// Where the master key comes from.
#[derive(Clone)]
pub enum MasterKeySource {
    /// A key file (base64), created with mode 0600 if missing.
    File(PathBuf),
    /// A key given directly (from `VOUCH_MASTER_KEY`).
    Given(SecretKey),
}

impl MasterKeySource {
    /// Loads the key, creating the file (0600, in a 0700 directory) on first use.
    pub fn load(&self) -> Result<SecretKey> {
        match self {
            MasterKeySource::Given(k) => Ok(k.clone()),
            MasterKeySource::File(path) => load_or_create_key_file(path),
        }
    }
}

/// Reads a base64 key file, or creates one with a fresh key and mode 0600.
pub fn load_or_create_key_file(path: &Path) -> Result<SecretKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => SecretKey::from_base64(&text)
            .map_err(|e| Error::Invalid(format!("master key file {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_key_file(path, &key)?;
            Ok(key)
        }
        Err(e) => Err(Error::Internal(format!(
            "cannot read master key file {}: {e}",
            path.display()
        ))),
    }
}

/// Writes a key file atomically with mode 0600 (write to a temporary file, fsync, rename).
pub fn write_key_file(path: &Path, key: &SecretKey) -> Result<()> {
    use std::io::Write as _;
    let io = |e: std::io::Error| Error::Internal(format!("writing {}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(key.to_base64().as_bytes()).map_err(io)?;
    f.write_all(b"\n").map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

/// Wraps a data key under the master key.
pub(crate) fn wrap(master: &SecretKey, key_id: i64, data_key: &SecretKey) -> Result<Vec<u8>> {
    let nonce = random_nonce();
    let aad = format!("vouch:data-key:{key_id}");
    let ct = master
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: data_key.0.as_ref(),
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| Error::Internal("wrapping a data key failed".into()))?;
    Ok([nonce.as_slice(), &ct].concat())
}

/// Unwraps a data key; fails if the master key is not the one that wrapped it.
pub(crate) fn unwrap(master: &SecretKey, key_id: i64, wrapped: &[u8]) -> Result<SecretKey> {
    if wrapped.len() < NONCE_LEN {
        return Err(Error::Internal(format!("data key {key_id} is truncated")));
    }
    let (nonce, ct) = wrapped.split_at(NONCE_LEN);
    let aad = format!("vouch:data-key:{key_id}");
    let raw = Zeroizing::new(
        master
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                Error::Internal(format!(
                    "data key {key_id} does not open with this master key (wrong VOUCH_MASTER_KEY or key file?)"
                ))
            })?,
    );
    SecretKey::from_slice(&raw)
}

/// Where a sealed value lives; it becomes the AEAD associated data.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// Table name.
    pub table: &'a str,
    /// Column name.
    pub column: &'a str,
    /// Row id.
    pub row: &'a str,
}

impl Slot<'_> {
    fn aad(&self) -> String {
        format!("vouch:v1:{}:{}:{}", self.table, self.column, self.row)
    }
}

/// The unwrapped data keys in memory: the active one seals, any one opens.
#[derive(Clone)]
pub struct Keyring {
    keys: HashMap<u32, SecretKey>,
    active: u32,
    index_key: SecretKey,
}

impl Keyring {
    pub(crate) fn new(keys: HashMap<u32, SecretKey>, active: u32, index_key: SecretKey) -> Self {
        Keyring {
            keys,
            active,
            index_key,
        }
    }

    /// The id of the data key that seals new values.
    pub fn active_key_id(&self) -> u32 {
        self.active
    }

    /// Whether a data key is known.
    pub fn has_key(&self, id: u32) -> bool {
        self.keys.contains_key(&id)
    }

    /// Seals a value for a slot.
    pub fn seal(&self, slot: Slot<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = self
            .keys
            .get(&self.active)
            .ok_or_else(|| Error::Internal("no active data key".into()))?;
        let nonce = random_nonce();
        let aad = slot.aad();
        let ct = key
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&self.active.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// The id of the data key that sealed `blob`, if the blob is well-formed.
    pub fn key_id_of(blob: &[u8]) -> Option<u32> {
        if blob.len() < HEADER_LEN || blob[0] != VERSION {
            return None;
        }
        Some(u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]))
    }

    /// Opens a sealed value; fails if it was tampered with or moved to another slot.
    pub fn open(&self, slot: Slot<'_>, blob: &[u8]) -> Result<Vec<u8>> {
        let key_id = Self::key_id_of(blob).ok_or_else(|| {
            Error::Internal(format!(
                "malformed sealed value in {}.{}",
                slot.table, slot.column
            ))
        })?;
        let key = self
            .keys
            .get(&key_id)
            .ok_or_else(|| Error::Internal(format!("unknown data key {key_id}")))?;
        let aad = slot.aad();
        key.cipher()
            .decrypt(
                Nonce::from_slice(&blob[5..HEADER_LEN]),
                Payload {
                    msg: &blob[HEADER_LEN..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                Error::Internal(format!(
                    "sealed value in {}.{} failed authentication",
                    slot.table, slot.column
                ))
            })
    }

    /// A blind index of a value for equality lookups: HMAC-SHA256 under the index key,
    /// separated by purpose so equal values in different columns do not correlate.
    pub fn blind_index(&self, purpose: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.index_key.0.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex_prefix(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        let mut keys = HashMap::new();
        keys.insert(1, SecretKey::generate());
        Keyring::new(keys, 1, SecretKey::generate())
    }

    #[test]
    fn seal_open_roundtrip_and_slot_binding() {
        let r = ring();
        let slot = Slot {
            table: "persons",
            column: "surname",
            row: "psn_1",
        };
        let blob = r.seal(slot, b"Mustermann").unwrap();
        assert!(!blob.windows(10).any(|w| w == b"Mustermann"));
        assert_eq!(r.open(slot, &blob).unwrap(), b"Mustermann");
        let other_row = Slot {
            row: "psn_2",
            ..slot
        };
        assert!(r.open(other_row, &blob).is_err());
        let other_col = Slot {
            column: "given_names",
            ..slot
        };
        assert!(r.open(other_col, &blob).is_err());
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(r.open(slot, &tampered).is_err());
        assert!(r.open(slot, b"short").is_err());
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let r = ring();
        let slot = Slot {
            table: "t",
            column: "c",
            row: "r",
        };
        assert_ne!(r.seal(slot, b"x").unwrap(), r.seal(slot, b"x").unwrap());
    }

    #[test]
    fn wrap_needs_the_same_master_key() {
        let master = SecretKey::generate();
        let dk = SecretKey::generate();
        let wrapped = wrap(&master, 7, &dk).unwrap();
        assert!(unwrap(&master, 7, &wrapped).is_ok());
        assert!(unwrap(&master, 8, &wrapped).is_err());
        assert!(unwrap(&SecretKey::generate(), 7, &wrapped).is_err());
    }

    #[test]
    fn blind_index_is_deterministic_and_purpose_bound() {
        let r = ring();
        assert_eq!(
            r.blind_index("email", "a@b.c"),
            r.blind_index("email", "a@b.c")
        );
        assert_ne!(
            r.blind_index("email", "a@b.c"),
            r.blind_index("phone", "a@b.c")
        );
    }
}
