//! Deterministic tokens for card and account numbers (PCI DSS 3.4: the PAN unreadable
//! wherever it is stored). A token is a keyed HMAC-SHA-256 of the number under the
//! deployment's secret, so the same card always gets the same token (state, joins and
//! reports still work) and nobody without the key can go back or test a guess.
//!
//! `tk1_411111_1111_<20 letters>` for a Luhn-valid PAN (BIN and last four kept: what an
//! analyst recognises a card by, and what PCI allows shown), `tk1_6789_<20 letters>`
//! otherwise. `1` is the key's version: after a rotation new tokens carry the new
//! version, and the old key stays loaded for lookups until its `valid_until`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// Letters of the tag: 80 bits, so two cards of a bank never share a token.
const TAG_LETTERS: usize = 20;
const PREFIX: &str = "tk";

/// One version of the tokenisation key.
#[derive(Clone)]
pub struct TokenKey {
    pub version: u16,
    key: Vec<u8>,
    /// A previous key is kept for lookups until then; the current key has none.
    pub valid_until: Option<DateTime<Utc>>,
}

impl TokenKey {
    /// At least 16 bytes of key material.
    pub fn new(version: u16, key: &[u8], valid_until: Option<DateTime<Utc>>) -> Result<Self, TokenError> {
        if key.len() < 16 {
            return Err(TokenError::ShortKey(key.len()));
        }
        if version == 0 || version > 999 {
            return Err(TokenError::Version(version));
        }
        Ok(Self { version, key: key.to_vec(), valid_until })
    }
}

/// Never prints the key.
impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKey(v{}, {} bytes)", self.version, self.key.len())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("a tokenisation key needs at least 16 bytes, not {0}")]
    ShortKey(usize),
    #[error("key version {0} is not in 1..=999")]
    Version(u16),
}

/// The deployment's tokeniser: the current key and any previous ones still valid.
#[derive(Debug, Clone)]
pub struct Tokeniser {
    current: TokenKey,
    previous: Vec<TokenKey>,
}

impl Tokeniser {
    pub fn new(current: TokenKey, previous: Vec<TokenKey>) -> Self {
        Self { current, previous }
    }

    pub fn version(&self) -> u16 {
        self.current.version
    }

    /// The token of `raw` under the current key; a token (of any version this
    /// deployment knows) is returned as it is, so tokenising twice changes nothing.
    pub fn tokenise(&self, raw: &str) -> String {
        if self.is_token(raw) { raw.to_owned() } else { token(&self.current, raw) }
    }

    /// The tokens `raw` had under every key still valid at `now`, current first: what a
    /// lookup during a key rotation tries.
    pub fn lookup_tokens(&self, raw: &str, now: DateTime<Utc>) -> Vec<String> {
        let valid = self.previous.iter().filter(|k| k.valid_until.is_none_or(|until| now <= until));
        std::iter::once(&self.current).chain(valid).map(|k| token(k, raw)).collect()
    }

    /// True for a token of a key version this deployment holds.
    pub fn is_token(&self, text: &str) -> bool {
        Parsed::of(text).is_some_and(|p| {
            p.version == self.current.version || self.previous.iter().any(|k| k.version == p.version)
        })
    }
}

fn token(key: &TokenKey, raw: &str) -> String {
    // A card number written in groups (`4111 1111 1111 1111`) is the same card.
    let compact: String;
    let raw = if raw.contains([' ', '-']) {
        compact = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if bin(&compact).is_some() { compact.as_str() } else { raw }
    } else {
        raw
    };
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key.key).unwrap_or_else(|_| unreachable!("any length"));
    mac.update(raw.as_bytes());
    let digest = mac.finalize().into_bytes();
    // Letters only (a–p, one per four bits): a tag never adds to a run of digits that a
    // scanner for card numbers would flag.
    let tag: String =
        digest.iter().flat_map(|b| [b >> 4, b & 15]).take(TAG_LETTERS).map(|n| (b'a' + n) as char).collect();
    // The last four characters, not bytes: an id may be any UTF-8.
    let last4 = &raw[raw.char_indices().rev().nth(3).map_or(0, |(i, _)| i)..];
    let v = key.version;
    match bin(raw) {
        Some(bin) => format!("{PREFIX}{v}_{bin}_{last4}_{tag}"),
        None => format!("{PREFIX}{v}_{last4}_{tag}"),
    }
}

/// The first six digits of a Luhn-valid 13–19 digit card number.
fn bin(raw: &str) -> Option<&str> {
    let digits = raw.bytes().all(|b| b.is_ascii_digit());
    (digits && (13..=19).contains(&raw.len()) && luhn(raw)).then(|| &raw[..6])
}

pub fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A token's parts, read from its fixed-length end.
struct Parsed<'a> {
    version: u16,
    bin: Option<&'a str>,
    last4: &'a str,
}

impl<'a> Parsed<'a> {
    fn of(text: &'a str) -> Option<Self> {
        let rest = text.strip_prefix(PREFIX)?;
        let (version, rest) = rest.split_once('_')?;
        let version: u16 = version.parse().ok()?;
        // Any text reaches here (a raw id is checked before it is tokenised): slice only
        // where `get` says a character boundary is.
        let tag_at = rest.len().checked_sub(TAG_LETTERS + 1)?;
        let (head, tag) = (rest.get(..tag_at)?, rest.get(tag_at..)?);
        let letters = tag.strip_prefix('_')?;
        if !letters.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
            return None;
        }
        match head.split_once('_') {
            // `411111_1111`
            Some((bin, last4))
                if bin.len() == 6 && bin.bytes().all(|b| b.is_ascii_digit()) && last4.len() == 4 =>
            {
                Some(Self { version, bin: Some(bin), last4 })
            }
            _ if head.chars().count() <= 4 => Some(Self { version, bin: None, last4: head }),
            _ => None,
        }
    }
}

/// How a token is shown to people: `411111******1111` for a card, `****6789` otherwise.
/// Anything that is not a token is masked to its last four.
pub fn display(text: &str) -> String {
    match Parsed::of(text) {
        Some(Parsed { bin: Some(bin), last4, .. }) => format!("{bin}******{last4}"),
        Some(Parsed { last4, .. }) => format!("****{last4}"),
        None => crate::ids::mask(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokeniser(key: &[u8]) -> Tokeniser {
        Tokeniser::new(TokenKey::new(1, key, None).unwrap(), Vec::new())
    }

    #[test]
    fn pans_keep_bin_and_last_four_others_last_four() {
        let t = tokeniser(b"0123456789abcdef0123456789abcdef");
        let card = t.tokenise("4111111111111111");
        assert!(card.starts_with("tk1_411111_1111_"), "{card}");
        assert_eq!(card.len(), "tk1_411111_1111_".len() + TAG_LETTERS);
        assert_eq!(display(&card), "411111******1111");
        // Not Luhn-valid: not treated as a card.
        let account = t.tokenise("4111111111111112");
        assert!(account.starts_with("tk1_1112_"), "{account}");
        assert_eq!(display(&account), "****1112");
        assert_eq!(display(&t.tokenise("c1")), "****c1");
    }

    #[test]
    fn tokens_are_deterministic_idempotent_and_differ_across_keys() {
        let a = tokeniser(b"deployment-a-key-0123456789abcdef");
        let b = tokeniser(b"deployment-b-key-0123456789abcdef");
        let pan = "5500000000000004";
        assert_eq!(a.tokenise(pan), a.tokenise(pan), "stable");
        assert_eq!(a.tokenise(&a.tokenise(pan)), a.tokenise(pan), "a token is not tokenised again");
        assert_ne!(a.tokenise(pan), b.tokenise(pan), "keyed");
        assert_ne!(a.tokenise(pan), a.tokenise("5105105105105100"));
        assert!(a.is_token(&a.tokenise("DE89370400440532013000")));
        assert!(!a.is_token(pan));
    }

    #[test]
    fn previous_keys_serve_lookups_until_they_expire() {
        let now = Utc::now();
        let old = TokenKey::new(1, b"old-key-0123456789abcdef", Some(now)).unwrap();
        let t =
            Tokeniser::new(TokenKey::new(2, b"new-key-0123456789abcdef", None).unwrap(), vec![old.clone()]);
        let before = Tokeniser::new(old, Vec::new()).tokenise("12345678");
        assert!(t.tokenise("12345678").starts_with("tk2_"));
        assert!(t.is_token(&before), "old tokens are still recognised");
        assert_eq!(t.lookup_tokens("12345678", now), vec![t.tokenise("12345678"), before]);
        assert_eq!(t.lookup_tokens("12345678", now + chrono::TimeDelta::seconds(1)).len(), 1);
    }

    #[test]
    fn any_text_tokenises_once_without_panicking() {
        let t = tokeniser(b"0123456789abcdef0123456789abcdef");
        // Grouped digits are the same card.
        assert_eq!(t.tokenise("4111 1111 1111 1111"), t.tokenise("4111111111111111"));
        assert_eq!(t.tokenise("4111-1111-1111-1111"), t.tokenise("4111111111111111"));
        for raw in ["客户编号12", "Ünïcödé", "é", "tk1_é", "tk1_ab_cdefghijklmnopabcdéé", "a_b", ""]
        {
            let once = t.tokenise(raw);
            assert!(t.is_token(&once), "{raw} → {once}");
            assert_eq!(t.tokenise(&once), once, "{raw}: tokenised once");
            let _ = display(raw);
        }
        assert!(t.tokenise("客户编号12").contains("_编号12_"));
    }

    proptest::proptest! {
        #[test]
        fn every_text_tokenises_once_and_shows_no_more_than_four_of_its_characters(raw in "\\PC{0,30}") {
            let t = tokeniser(b"0123456789abcdef0123456789abcdef");
            let once = t.tokenise(&raw);
            proptest::prop_assert_eq!(t.tokenise(&once), once.clone());
            proptest::prop_assert!(display(&once).chars().filter(|c| *c != '*').count() <= 10);
            let _ = display(&raw);
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(TokenKey::new(1, b"short", None).unwrap_err(), TokenError::ShortKey(5));
    }
}
