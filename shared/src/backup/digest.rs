//! Digests of an object's bytes, computed as they stream past: SHA-256 (the manifest's
//! identity of an object) and MD5 (what Azure stores as a blob's Content-MD5).

use base64::Engine;
use md5::Md5;
// Two `Digest` traits (sha2 is on digest 0.10, md-5 on 0.11): each type implements one.
use md5::Digest as _;
use sha2::{Digest as _, Sha256};

/// A SHA-256 as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn of(bytes: &[u8]) -> Sha256Hex {
        Sha256Hex::from_digest(&Sha256::digest(bytes))
    }

    fn from_digest(digest: &[u8]) -> Sha256Hex {
        use std::fmt::Write;
        let mut hex = String::with_capacity(64);
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        Sha256Hex(hex)
    }

    pub fn parse(text: &str) -> Option<Sha256Hex> {
        let ok = text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Sha256Hex(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 32 bytes, base64 (S3's `x-amz-checksum-sha256`).
    pub fn to_base64(&self) -> String {
        let bytes: Vec<u8> =
            (0..32).filter_map(|i| u8::from_str_radix(&self.0[2 * i..2 * i + 2], 16).ok()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Sha256Hex::parse(&text).ok_or_else(|| format!("`{text}` is not a SHA-256 in hex"))
    }
}

impl From<Sha256Hex> for String {
    fn from(h: Sha256Hex) -> String {
        h.0
    }
}

impl std::fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The whole object's digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    pub sha256: Sha256Hex,
    /// Base64, as Azure's Content-MD5.
    pub md5: String,
}

/// SHA-256 and MD5 of a stream, fed chunk by chunk.
#[derive(Default, Clone)]
pub struct Hasher {
    sha256: Sha256,
    md5: Md5,
    size: u64,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher::default()
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> Digests {
        let md5 = base64::engine::general_purpose::STANDARD.encode(self.md5.finalize());
        Digests { size: self.size, sha256: Sha256Hex::from_digest(&self.sha256.finalize()), md5 }
    }
}

/// The MD5 of `bytes`, base64 (a block's Content-MD5).
pub fn md5_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes))
}

/// S3's checksum of a multipart object: the SHA-256 of its parts' SHA-256 digests, then
/// `-<parts>`.
pub fn composite_sha256_base64(parts: &[[u8; 32]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    format!("{}-{}", base64::engine::general_purpose::STANDARD.encode(h.finalize()), parts.len())
}

/// The SHA-256 of one part (for [`composite_sha256_base64`]).
pub fn sha256_bytes(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_a_stream_equal_those_of_its_bytes_whatever_the_chunks() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = Hasher::new();
        for chunk in data.chunks(333) {
            h.update(chunk);
        }
        let d = h.finish();
        assert_eq!(d.size, 10_000);
        assert_eq!(d.sha256, Sha256Hex::of(&data));
        assert_eq!(d.md5, md5_base64(&data));
    }

    #[test]
    fn a_known_sha256_in_hex_and_base64() {
        let h = Sha256Hex::of(b"hello");
        assert_eq!(h.as_str(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(h.to_base64(), "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
        assert_eq!(md5_base64(b"hello"), "XUFAKrxLKna5cZ2REBfFkg==");
        assert!(Sha256Hex::parse("abc").is_none());
        assert!(Sha256Hex::parse(&"G".repeat(64)).is_none());
    }
}
