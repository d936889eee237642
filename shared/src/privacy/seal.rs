//! Envelope encryption of what compliance must be able to read back (counterparty names,
//! account numbers, quarantined payloads): AES-256-GCM under a data key that KMS
//! generates and wraps (`GenerateDataKey`), cached per container for a bounded time and
//! number of uses, so KMS is called once per key, not per field.
//!
//! A sealed value is text: `vgs1.<wrapped data key>.<nonce>.<ciphertext and tag>`, each
//! part base64url. The purpose (`party`, `quarantine`) is both the KMS encryption context
//! (the key policy says who may decrypt what) and the GCM associated data (a value sealed
//! for one purpose does not open as another).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PREFIX: &str = "vgs1.";
/// Longest sealed value accepted on the wire: a 140-character name or a 64-character id
/// sealed is ~400 characters; quarantined payloads are sealed whole but never parsed back.
pub const MAX_SEALED_WIRE: usize = 2048;
/// How long, and for how many values, one data key seals before a new one is generated.
pub const DATA_KEY_LIFETIME: Duration = Duration::from_secs(3600);
const DATA_KEY_USES: u32 = 1 << 20;
/// Unwrapped keys kept for opening (each producer container makes one an hour).
const OPENED_KEYS: usize = 256;

/// Why a value is sealed: the KMS encryption context and the GCM associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Names and account numbers of the parties to a payment.
    Party,
    /// A record refused as it arrived.
    Quarantine,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Party => "party",
            Purpose::Quarantine => "quarantine",
        }
    }
}

/// An encrypted value, as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sealed(String);

impl Sealed {
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let parts = Parts::of(text)?;
        drop(parts);
        if text.len() > MAX_SEALED_WIRE {
            return Err(SealError::Malformed("longer than a sealed field may be"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sealed {
    type Error = SealError;
    fn try_from(s: String) -> Result<Self, SealError> {
        Sealed::parse(&s)
    }
}

impl From<Sealed> for String {
    fn from(s: Sealed) -> String {
        s.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

struct Parts {
    wrapped: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl Parts {
    fn of(text: &str) -> Result<Parts, SealError> {
        let body = text.strip_prefix(PREFIX).ok_or(SealError::Malformed("not a sealed value (vgs1.)"))?;
        let mut it = body.split('.');
        let (Some(w), Some(n), Some(c), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(SealError::Malformed("not four parts"));
        };
        let decode = |s: &str| B64.decode(s).map_err(|_| SealError::Malformed("not base64url"));
        let nonce = decode(n)?.try_into().map_err(|_| SealError::Malformed("nonce is not 12 bytes"))?;
        let (wrapped, ciphertext) = (decode(w)?, decode(c)?);
        if wrapped.is_empty() || ciphertext.len() < AES_256_GCM.tag_len() {
            return Err(SealError::Malformed("empty key or ciphertext"));
        }
        Ok(Parts { wrapped, nonce, ciphertext })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value: {0}")]
    Malformed(&'static str),
    /// The key service refused or failed (KMS: access denied, throttled, unavailable).
    #[error("key service: {0}")]
    KeyService(String),
    /// The value does not open under its key and purpose: altered, or sealed for another.
    #[error("sealed value does not authenticate (altered, or sealed for another purpose)")]
    Forged,
}

/// A fresh data key: the plaintext (used, never stored) and KMS's wrapped copy (stored
/// with every value it seals).
pub struct DataKey {
    pub plaintext: [u8; 32],
    pub wrapped: Vec<u8>,
}

/// What generates and unwraps data keys: KMS in production (`aws::kms`), a local master
/// key in tests and the CLI.
pub trait KeyService: Send + Sync {
    fn generate(&self, purpose: Purpose) -> impl Future<Output = Result<DataKey, SealError>> + Send;
    fn unwrap(
        &self,
        wrapped: &[u8],
        purpose: Purpose,
    ) -> impl Future<Output = Result<[u8; 32], SealError>> + Send;
}

/// Data keys opened so far, by their wrapped form and purpose.
type Opened = HashMap<(Vec<u8>, Purpose), [u8; 32]>;

struct Current {
    key: DataKey,
    made: Instant,
    uses: u32,
}

/// Seals and opens values with data keys from `K`, caching them per container.
pub struct Envelope<K> {
    keys: K,
    sealing: Mutex<HashMap<Purpose, Current>>,
    opened: Mutex<Opened>,
}

impl<K: KeyService> Envelope<K> {
    pub fn new(keys: K) -> Self {
        Self { keys, sealing: Mutex::default(), opened: Mutex::default() }
    }

    /// The data key to seal with: the cached one while it is young and little used.
    async fn sealing_key(&self, purpose: Purpose) -> Result<([u8; 32], Vec<u8>), SealError> {
        {
            let mut cache = self.sealing.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get_mut(&purpose)
                && c.made.elapsed() < DATA_KEY_LIFETIME
                && c.uses < DATA_KEY_USES
            {
                c.uses += 1;
                return Ok((c.key.plaintext, c.key.wrapped.clone()));
            }
        }
        let key = self.keys.generate(purpose).await?;
        let out = (key.plaintext, key.wrapped.clone());
        let mut cache = self.sealing.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(purpose, Current { key, made: Instant::now(), uses: 1 });
        Ok(out)
    }

    pub async fn seal(&self, purpose: Purpose, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let (key, wrapped) = self.sealing_key(purpose).await?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::KeyService("no randomness".into()))?;
        let mut data = plaintext.to_vec();
        aead(&key)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_str()),
                &mut data,
            )
            .map_err(|_| SealError::KeyService("AES-GCM seal failed".into()))?;
        Ok(Sealed(format!("{PREFIX}{}.{}.{}", B64.encode(&wrapped), B64.encode(nonce), B64.encode(&data))))
    }

    pub async fn open(&self, purpose: Purpose, sealed: &Sealed) -> Result<Vec<u8>, SealError> {
        let Parts { wrapped, nonce, mut ciphertext } = Parts::of(&sealed.0)?;
        let cached =
            self.opened.lock().unwrap_or_else(|p| p.into_inner()).get(&(wrapped.clone(), purpose)).copied();
        let key = match cached {
            Some(k) => k,
            None => {
                let k = self.keys.unwrap(&wrapped, purpose).await?;
                let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
                if opened.len() >= OPENED_KEYS {
                    opened.clear();
                }
                opened.insert((wrapped, purpose), k);
                k
            }
        };
        let plain = aead(&key)
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.as_str()), &mut ciphertext)
            .map_err(|_| SealError::Forged)?;
        Ok(plain.to_vec())
    }

    /// `open` for text fields.
    pub async fn open_text(&self, purpose: Purpose, sealed: &Sealed) -> Result<String, SealError> {
        String::from_utf8(self.open(purpose, sealed).await?).map_err(|_| SealError::Forged)
    }
}

/// Bytes from the system's secure random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS random source does not fail on the platforms Vigil runs on.
    aws_lc_rs::rand::fill(&mut out).unwrap_or_else(|_| unreachable!("system randomness"));
    out
}

fn aead(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap_or_else(|_| unreachable!("32-byte key")))
}

/// Data keys wrapped under a master key held in memory: for tests and local runs only.
pub struct LocalKeys {
    master: [u8; 32],
}

impl LocalKeys {
    pub fn new(master: [u8; 32]) -> Self {
        Self { master }
    }
}

impl KeyService for LocalKeys {
    async fn generate(&self, purpose: Purpose) -> Result<DataKey, SealError> {
        let mut plaintext = [0u8; 32];
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut plaintext).map_err(|_| SealError::KeyService("no randomness".into()))?;
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::KeyService("no randomness".into()))?;
        let mut wrapped = plaintext.to_vec();
        aead(&self.master)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_str()),
                &mut wrapped,
            )
            .map_err(|_| SealError::KeyService("wrap failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(wrapped);
        Ok(DataKey { plaintext, wrapped: out })
    }

    async fn unwrap(&self, wrapped: &[u8], purpose: Purpose) -> Result<[u8; 32], SealError> {
        if wrapped.len() <= NONCE_LEN {
            return Err(SealError::Forged);
        }
        let (nonce, rest) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Forged)?;
        let mut data = rest.to_vec();
        let plain = aead(&self.master)
            .open_in_place(nonce, Aad::from(purpose.as_str()), &mut data)
            .map_err(|_| SealError::Forged)?;
        plain.try_into().map_err(|_| SealError::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollster::block_on;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the key service's calls.
    struct Counting(LocalKeys, AtomicUsize);

    impl KeyService for Counting {
        async fn generate(&self, purpose: Purpose) -> Result<DataKey, SealError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.generate(purpose).await
        }
        async fn unwrap(&self, wrapped: &[u8], purpose: Purpose) -> Result<[u8; 32], SealError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.unwrap(wrapped, purpose).await
        }
    }

    #[test]
    fn sealed_values_open_and_hide_the_plaintext() {
        let envelope = Envelope::new(Counting(LocalKeys::new([7; 32]), AtomicUsize::new(0)));
        let a = block_on(envelope.seal(Purpose::Party, b"Jane Doe")).unwrap();
        let b = block_on(envelope.seal(Purpose::Party, b"Jane Doe")).unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.as_str().contains("Jane"));
        assert_eq!(block_on(envelope.open_text(Purpose::Party, &a)).unwrap(), "Jane Doe");
        assert_eq!(block_on(envelope.open_text(Purpose::Party, &b)).unwrap(), "Jane Doe");
        // One generate, one unwrap: the data key is cached both ways.
        assert_eq!(envelope.keys.1.load(Ordering::SeqCst), 2);
        assert_eq!(Sealed::parse(a.as_str()).unwrap(), a);
        assert!(format!("{a:?}").starts_with("Sealed("));
    }

    #[test]
    fn altered_or_misused_values_do_not_open() {
        let envelope = Envelope::new(LocalKeys::new([9; 32]));
        let sealed = block_on(envelope.seal(Purpose::Party, b"DE89370400440532013000")).unwrap();
        assert_eq!(block_on(envelope.open(Purpose::Quarantine, &sealed)), Err(SealError::Forged));
        // A character of a whole base64 group (the last one may carry padding bits).
        let mut text = sealed.as_str().to_owned().into_bytes();
        let at = text.len() - 4;
        text[at] = if text[at] == b'A' { b'B' } else { b'A' };
        let text = String::from_utf8(text).unwrap();
        assert_eq!(block_on(envelope.open(Purpose::Party, &Sealed(text))), Err(SealError::Forged));
        let other = Envelope::new(LocalKeys::new([1; 32]));
        assert_eq!(
            block_on(other.open(Purpose::Party, &sealed)),
            Err(SealError::Forged),
            "another master key"
        );
        assert!(matches!(Sealed::parse("vgs1.abc"), Err(SealError::Malformed(_))));
        assert!(matches!(Sealed::parse("Jane Doe"), Err(SealError::Malformed(_))));
    }
}
