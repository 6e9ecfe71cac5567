//! Envelope encryption: AES-256-GCM with a fresh random 96-bit nonce per seal and associated
//! data that binds every blob to where it belongs. Never logs, never writes anything.
//!
//! A sealed blob is `[format version: 1 byte][nonce: 12 bytes][ciphertext ‖ 16-byte tag]`.
//! The associated data (never stored, rebuilt from the row when opening) is
//!
//! ```text
//! "callscribe.aad.v1" ‖ purpose (1 byte) ‖ len(tenant) u32 BE ‖ tenant ‖ len(call) u32 BE ‖ call
//!                     ‖ sequence u64 BE ‖ key version u32 BE
//! ```
//!
//! so a blob moved to another tenant, call, segment, purpose (text ↔ words) or key version
//! fails authentication instead of decrypting.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// The only blob format so far.
pub const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const AAD_DOMAIN: &[u8] = b"callscribe.aad.v1";

/// A 256-bit key. The bytes are zeroised when it is dropped; it is never printed.
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> SecretKey {
        let mut k = Zeroizing::new([0u8; 32]);
        crate::sys::fill_random(k.as_mut());
        SecretKey(k)
    }

    /// Takes a key from bytes; the caller's buffer is wiped.
    pub fn from_bytes(bytes: &mut [u8]) -> Option<SecretKey> {
        if bytes.len() != 32 {
            bytes.zeroize();
            return None;
        }
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(bytes);
        bytes.zeroize();
        Some(SecretKey(k))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA-256 under this key (fingerprints, lookup hashes).
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_ref())
            .expect("HMAC takes any key length");
        for p in parts {
            m.update(&(p.len() as u32).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// What a sealed blob is; part of the associated data so blobs cannot change roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Purpose {
    /// A tenant key-encryption key wrapped by a master key.
    TenantKek = 1,
    /// A tenant's index key (keyed lookup of provider call ids) wrapped by a master key.
    TenantIndexKey = 2,
    /// A call's data key wrapped by a tenant key-encryption key.
    CallDataKey = 3,
    /// A segment's redacted text.
    SegmentText = 4,
    /// A segment's redacted words and redaction spans (JSON).
    SegmentDetail = 5,
    /// The provider's id of a call.
    CallExternalId = 6,
}

/// Where a blob belongs. `key_version` is the version of the key that seals it.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub purpose: Purpose,
    pub tenant: &'a str,
    pub call: &'a str,
    pub seq: u64,
    pub key_version: u32,
}

impl Aad<'_> {
    fn encode(&self) -> Vec<u8> {
        let mut v =
            Vec::with_capacity(AAD_DOMAIN.len() + 1 + 8 + self.tenant.len() + self.call.len() + 12);
        v.extend_from_slice(AAD_DOMAIN);
        v.push(self.purpose as u8);
        for s in [self.tenant, self.call] {
            v.extend_from_slice(&(s.len() as u32).to_be_bytes());
            v.extend_from_slice(s.as_bytes());
        }
        v.extend_from_slice(&self.seq.to_be_bytes());
        v.extend_from_slice(&self.key_version.to_be_bytes());
        v
    }
}

/// Why a blob did not open. Deliberately says nothing about the plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("unknown sealed-blob format version {0} (this build reads version {FORMAT_V1})")]
    UnknownFormat(u8),
    #[error("sealed blob is truncated ({0} bytes)")]
    Truncated(usize),
    #[error(
        "authentication failed: the data was altered, belongs to another row, or the key is wrong"
    )]
    Authentication,
}

/// Encrypts `plaintext` under `key` bound to `aad`.
pub fn seal(key: &SecretKey, aad: &Aad<'_>, plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key.expose()).expect("32-byte key");
    let mut nonce = [0u8; NONCE_LEN];
    crate::sys::fill_random(&mut nonce);
    let ad = aad.encode();
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &ad,
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Decrypts and authenticates a blob made by [`seal`] with the same key and `aad`.
pub fn open(
    key: &SecretKey,
    aad: &Aad<'_>,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let Some((&version, rest)) = blob.split_first() else {
        return Err(CryptoError::Truncated(0));
    };
    if version != FORMAT_V1 {
        return Err(CryptoError::UnknownFormat(version));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Truncated(blob.len()));
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new_from_slice(key.expose()).expect("32-byte key");
    let ad = aad.encode();
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &ad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
}

/// Wraps (seals) a key under another.
pub fn wrap(kek: &SecretKey, aad: &Aad<'_>, key: &SecretKey) -> Vec<u8> {
    seal(kek, aad, key.expose())
}

/// Unwraps a key sealed by [`wrap`].
pub fn unwrap(kek: &SecretKey, aad: &Aad<'_>, blob: &[u8]) -> Result<SecretKey, CryptoError> {
    let mut bytes = open(kek, aad, blob)?;
    SecretKey::from_bytes(&mut bytes).ok_or(CryptoError::Authentication)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aad(
        purpose: Purpose,
        tenant: &'static str,
        call: &'static str,
        seq: u64,
        v: u32,
    ) -> Aad<'static> {
        Aad {
            purpose,
            tenant,
            call,
            seq,
            key_version: v,
        }
    }

    #[test]
    fn round_trip_and_every_binding_is_checked() {
        let key = SecretKey::generate();
        let a = aad(Purpose::SegmentText, "t1", "c1", 3, 1);
        let blob = seal(&key, &a, b"hello [NAME]");
        assert_eq!(blob[0], FORMAT_V1);
        assert_eq!(&open(&key, &a, &blob).unwrap()[..], b"hello [NAME]");
        for other in [
            aad(Purpose::SegmentDetail, "t1", "c1", 3, 1),
            aad(Purpose::SegmentText, "t2", "c1", 3, 1),
            aad(Purpose::SegmentText, "t1", "c2", 3, 1),
            aad(Purpose::SegmentText, "t1", "c1", 4, 1),
            aad(Purpose::SegmentText, "t1", "c1", 3, 2),
            // length prefixes keep ("t1c", "1") apart from ("t1", "c1")
            aad(Purpose::SegmentText, "t1c", "1", 3, 1),
        ] {
            assert_eq!(
                open(&key, &other, &blob).unwrap_err(),
                CryptoError::Authentication,
                "{other:?}"
            );
        }
        assert_eq!(
            open(&SecretKey::generate(), &a, &blob).unwrap_err(),
            CryptoError::Authentication
        );
    }

    #[test]
    fn tampering_truncation_and_format_are_detected() {
        let key = SecretKey::generate();
        let a = aad(Purpose::SegmentText, "t", "c", 0, 1);
        let blob = seal(&key, &a, b"some text");
        for i in 1..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                open(&key, &a, &bad).unwrap_err(),
                CryptoError::Authentication,
                "byte {i}"
            );
        }
        let mut v2 = blob.clone();
        v2[0] = 2;
        assert_eq!(
            open(&key, &a, &v2).unwrap_err(),
            CryptoError::UnknownFormat(2)
        );
        assert_eq!(
            open(&key, &a, &blob[..20]).unwrap_err(),
            CryptoError::Truncated(20)
        );
        assert_eq!(open(&key, &a, &[]).unwrap_err(), CryptoError::Truncated(0));
    }

    #[test]
    fn nonces_are_fresh() {
        let key = SecretKey::generate();
        let a = aad(Purpose::SegmentText, "t", "c", 0, 1);
        assert_ne!(seal(&key, &a, b"x"), seal(&key, &a, b"x"));
    }

    #[test]
    fn wrapped_keys_unwrap_only_where_they_belong() {
        let kek = SecretKey::generate();
        let dek = SecretKey::generate();
        let a = aad(Purpose::CallDataKey, "t", "c", 0, 1);
        let w = wrap(&kek, &a, &dek);
        assert_eq!(unwrap(&kek, &a, &w).unwrap().expose(), dek.expose());
        assert!(unwrap(&kek, &aad(Purpose::CallDataKey, "t", "d", 0, 1), &w).is_err());
    }
}
