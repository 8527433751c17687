//! Encryption of state at rest: AES-256-GCM with a key derived from a passphrase by
//! Argon2id (memory-hard), for snapshots and journal entries on every backend.
//!
//! An encrypted object is a JSON envelope:
//! `{"mlinfra_encrypted":1,"kdf":"argon2id","m":19456,"t":2,"p":1,"salt":B64,"nonce":B64,"ciphertext":B64}`.
//! The salt is drawn once per process, so the key is derived once per run, not per
//! write; each object has its own random nonce. GCM's tag authenticates the content: a
//! changed byte or a wrong passphrase fails to decrypt, never reads as garbage.

use std::collections::HashMap;
use std::sync::Mutex;

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Bound into every ciphertext: an envelope of anything else does not decrypt as state.
const AAD: &[u8] = b"mlinfra-state-v1";
/// Argon2id parameters (memory KiB, iterations, lanes).
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Envelope {
    mlinfra_encrypted: u32,
    kdf: String,
    m: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
}

/// Why encrypted state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("it is encrypted, but neither the passphrase nor the fallback decrypts it: the passphrase is wrong, or the content was changed")]
    Undecryptable,
    #[error("it is not encrypted, and this configuration's encryption is enforced; to encrypt existing state, set enforced = false for one run that writes it (its next write is encrypted), then enforce")]
    Plaintext,
    #[error("its encryption envelope is malformed: {0}")]
    Malformed(String),
    #[error("no passphrase: set {0} (the encryption block names it)")]
    NoPassphrase(String),
}

/// Encrypts with the primary passphrase; decrypts with the primary or the fallback.
pub struct Codec {
    primary: String,
    fallback: Option<String>,
    enforced: bool,
    salt: [u8; 16],
    /// The key this codec encrypts with, derived once.
    write_key: [u8; 32],
    keys: Mutex<HashMap<KeyId, [u8; 32]>>,
}

/// Which passphrase (fallback or not), salt and derivation costs a key came from.
type KeyId = (bool, Vec<u8>, u32, u32, u32);

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("enforced", &self.enforced)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Codec {
    pub fn new(primary: String, fallback: Option<String>, enforced: bool) -> Codec {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        // This build's own costs are valid parameters, so the derivation cannot fail.
        let write_key = derive(&primary, &salt, M_COST, T_COST, P_COST)
            .expect("Argon2id accepts this build's parameters");
        let mut keys = HashMap::new();
        keys.insert((false, salt.to_vec(), M_COST, T_COST, P_COST), write_key);
        Codec {
            primary,
            fallback,
            enforced,
            salt,
            write_key,
            keys: Mutex::new(keys),
        }
    }

    fn key(
        &self,
        fallback: bool,
        salt: &[u8],
        m: u32,
        t: u32,
        p: u32,
    ) -> Result<[u8; 32], CryptoError> {
        let cache_key = (fallback, salt.to_vec(), m, t, p);
        if let Some(k) = self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&cache_key)
        {
            return Ok(*k);
        }
        let pass = if fallback {
            self.fallback.as_deref().ok_or(CryptoError::Undecryptable)?
        } else {
            &self.primary
        };
        let out = derive(pass, salt, m, t, p)?;
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cache_key, out);
        Ok(out)
    }

    /// The envelope of `plain`, under the primary passphrase.
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(&self.write_key.into());
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: AAD,
                },
            )
            .unwrap_or_default();
        let env = Envelope {
            mlinfra_encrypted: 1,
            kdf: "argon2id".into(),
            m: M_COST,
            t: T_COST,
            p: P_COST,
            salt: B64.encode(self.salt),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ct),
        };
        serde_json::to_vec(&env).unwrap_or_default()
    }

    /// The plaintext of `bytes`: decrypted when it is an envelope; as it is when it is
    /// plaintext and encryption is not enforced.
    pub fn decrypt(&self, bytes: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if !is_envelope(bytes) {
            if self.enforced {
                return Err(CryptoError::Plaintext);
            }
            return Ok(bytes.to_vec());
        }
        let env: Envelope =
            serde_json::from_slice(bytes).map_err(|e| CryptoError::Malformed(e.to_string()))?;
        if env.mlinfra_encrypted != 1 || env.kdf != "argon2id" {
            return Err(CryptoError::Malformed(format!(
                "version {} with {} is not one this mlinfra reads",
                env.mlinfra_encrypted, env.kdf
            )));
        }
        let bad = |e: base64::DecodeError| CryptoError::Malformed(e.to_string());
        let salt = B64.decode(&env.salt).map_err(bad)?;
        let nonce = B64.decode(&env.nonce).map_err(bad)?;
        let ct = B64.decode(&env.ciphertext).map_err(bad)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Malformed("the nonce is not 12 bytes".into()));
        }
        // Memory-hard derivation costs are bounded: a hostile envelope cannot ask for GBs.
        if env.m > 1024 * 1024 || env.t > 16 || env.p > 8 {
            return Err(CryptoError::Malformed(
                "its key derivation costs are out of range".into(),
            ));
        }
        for fallback in [false, true] {
            if fallback && self.fallback.is_none() {
                break;
            }
            let key = self.key(fallback, &salt, env.m, env.t, env.p)?;
            let cipher = Aes256Gcm::new(&key.into());
            if let Ok(p) = cipher.decrypt(Nonce::from_slice(&nonce), Payload { msg: &ct, aad: AAD })
            {
                return Ok(p);
            }
        }
        Err(CryptoError::Undecryptable)
    }
}

/// The Argon2id key of `pass` with `salt` and these costs.
fn derive(pass: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32], CryptoError> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| CryptoError::Malformed(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(pass.as_bytes(), salt, &mut out)
        .map_err(|e| CryptoError::Malformed(e.to_string()))?;
    Ok(out)
}

/// Whether `bytes` is an encryption envelope (rather than plaintext state).
pub fn is_envelope(bytes: &[u8]) -> bool {
    bytes.starts_with(b"{\"mlinfra_encrypted\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_a_wrong_passphrase_or_a_changed_byte() {
        let c = Codec::new("correct horse".into(), None, false);
        let e = c.encrypt(b"{\"serial\": 1}");
        assert!(is_envelope(&e));
        assert!(!String::from_utf8_lossy(&e).contains("serial"));
        assert_eq!(c.decrypt(&e).unwrap(), b"{\"serial\": 1}");
        let wrong = Codec::new("battery staple".into(), None, false);
        assert!(matches!(wrong.decrypt(&e), Err(CryptoError::Undecryptable)));
        let mut env: serde_json::Value = serde_json::from_slice(&e).unwrap();
        let mut ct = B64.decode(env["ciphertext"].as_str().unwrap()).unwrap();
        ct[0] ^= 1;
        env["ciphertext"] = B64.encode(ct).into();
        let tampered = serde_json::to_vec(&env).unwrap();
        assert!(matches!(
            c.decrypt(&tampered),
            Err(CryptoError::Undecryptable)
        ));
    }

    #[test]
    fn a_fallback_passphrase_reads_what_the_old_one_wrote() {
        let old = Codec::new("old".into(), None, true);
        let e = old.encrypt(b"state");
        let rotated = Codec::new("new".into(), Some("old".into()), true);
        assert_eq!(rotated.decrypt(&e).unwrap(), b"state");
        // What the rotated codec writes, only the new passphrase reads.
        let e2 = rotated.encrypt(b"state");
        assert!(old.decrypt(&e2).is_err());
        assert_eq!(
            Codec::new("new".into(), None, true).decrypt(&e2).unwrap(),
            b"state"
        );
    }

    #[test]
    fn enforced_encryption_refuses_plaintext() {
        assert!(matches!(
            Codec::new("p".into(), None, true).decrypt(b"{\"version\": 1}"),
            Err(CryptoError::Plaintext)
        ));
        assert_eq!(
            Codec::new("p".into(), None, false).decrypt(b"{}").unwrap(),
            b"{}"
        );
    }
}
