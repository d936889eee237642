//! The one redaction layer: every log line, error body and quarantine reason Vigil writes
//! passes through [`scrub`], so a card or account number that slipped into a message (an
//! upstream error string, a library's `Debug`) is masked without care at each call site.
//!
//! Names cannot be recognised by pattern: they are kept out by type instead (a
//! [`PartyName`](crate::aml::PartyName) never prints itself, and they are sealed before
//! anything is stored).

use std::borrow::Cow;
use std::io;
use tracing_subscriber::fmt::MakeWriter;

/// Runs of this many digits or more look like card or account numbers. Fewer are amounts,
/// counts, dates; more (Kinesis sequence numbers, 56 digits) are not numbers people hold.
const MIN_DIGITS: usize = 8;
const MAX_DIGITS: usize = 19;

/// Masks card-number-like digit runs (8–19 digits, also written in groups of four
/// separated by spaces or dashes) and IBAN-like strings, keeping the last four characters.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let found = if boundary { digit_run(bytes, i).or_else(|| iban(bytes, i)) } else { None };
        match found {
            Some(end) => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..i]);
                o.push_str("****");
                o.push_str(&text[end - 4..end]);
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// End of a card-number-like run starting at `start`: digits, or groups of four joined by
/// one space or dash, not followed by a letter or digit.
fn digit_run(bytes: &[u8], start: usize) -> Option<usize> {
    let digits_from = |i: usize| bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let first = digits_from(start);
    let (mut end, mut count) = (start + first, first);
    if first == 4 {
        // 4111 1111 1111 1111 / 4111-1111-1111-1111
        while end + 1 < bytes.len() && matches!(bytes[end], b' ' | b'-') {
            let n = digits_from(end + 1);
            if !(1..=4).contains(&n) {
                break;
            }
            end += 1 + n;
            count += n;
            if n < 4 {
                break;
            }
        }
    }
    let clean_end = bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
    ((MIN_DIGITS..=MAX_DIGITS).contains(&count) && clean_end).then_some(end)
}

/// End of an IBAN-like string at `start`: two capitals, two digits, 11–30 capitals or
/// digits (`DE89370400440532013000`).
fn iban(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = &bytes[start..];
    if rest.len() < 15
        || !rest[..2].iter().all(u8::is_ascii_uppercase)
        || !rest[2..4].iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let n = rest[4..].iter().take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit()).count();
    let end = start + 4 + n;
    let has_digits = rest[4..4 + n].iter().filter(|b| b.is_ascii_digit()).count() >= 6;
    let clean_end = bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
    ((11..=30).contains(&n) && has_digits && clean_end).then_some(end)
}

/// A value echoed in an error message: scrubbed, and cut to 24 characters (an error
/// names what was wrong; it does not repeat a record, which may carry a name).
pub struct Shown<'a>(pub &'a str);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MAX: usize = 24;
        let text = scrub(self.0);
        match text.char_indices().nth(MAX) {
            Some((cut, _)) => write!(f, "{}…", &text[..cut]),
            None => f.write_str(&text),
        }
    }
}

/// A JSON parse error without the input it quotes (`invalid type: string "…"`): what
/// kind of error, and where.
pub fn json_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected type or value",
        serde_json::error::Category::Eof => "unexpected end",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// A `MakeWriter` whose writers scrub what they are given. The `fmt` layer writes each
/// formatted event with one `write_all`, so a number is never split across two writes.
#[derive(Debug, Clone)]
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = Scrubbed<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Scrubbed(self.0.make_writer())
    }
}

pub struct Scrubbed<W>(W);

impl<W: io::Write> io::Write for Scrubbed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(scrub(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_and_account_numbers_are_masked() {
        assert_eq!(scrub("card 4111111111111111 declined"), "card ****1111 declined");
        assert_eq!(scrub("4111 1111 1111 1111"), "****1111");
        assert_eq!(scrub("pan=4111-1111-1111-1111."), "pan=****1111.");
        assert_eq!(scrub("acct 12345678"), "acct ****5678");
        assert_eq!(scrub("iban DE89370400440532013000!"), "iban ****3000!");
    }

    #[test]
    fn ordinary_numbers_are_left_alone() {
        for text in [
            "amount 9500.00 at 2018-04-01T00:00:31Z",
            "tx-1234567 batch of 500",
            "seq 49590338271490256608559692538361571095921575989136588898",
            "token tk1.411111.1111.abcdefghijklmnopqrst",
            "cust-0004",
            "ABC1234567890XYZ",
        ] {
            assert_eq!(scrub(text), text, "{text}");
        }
    }

    #[test]
    fn the_writer_scrubs_each_line() {
        use std::io::Write;
        let mut out = Vec::new();
        Scrubbed(&mut out).write_all(b"{\"customer\":\"5500000000000004\"}\n").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "{\"customer\":\"****0004\"}\n");
    }
}
