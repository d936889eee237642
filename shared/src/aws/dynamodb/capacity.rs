//! What the state store costs: DynamoDB's read and write units, as the service reports
//! them (`ReturnConsumedCapacity`) and as computed from item sizes with DynamoDB's
//! documented rules — the local stand-in (moto) reports no real figures, so the estimate
//! is what local measurements show; deployed, both are recorded and should agree.

use super::Item;
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity};
use std::sync::Mutex;

/// Bytes DynamoDB counts for an item: each attribute's name plus its value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// A value's size as DynamoDB counts it: strings and binaries by length, numbers by
/// significant digits (about one byte per two digits, plus one), sets and documents by
/// their elements (with a small overhead per element).
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() + value_size(e)).sum::<usize>(),
        _ => 0,
    }
}

fn number_size(n: &str) -> usize {
    let digits = n.trim_start_matches('-').trim_start_matches('0').bytes().filter(u8::is_ascii_digit).count();
    digits.div_ceil(2) + 1 + usize::from(n.starts_with('-'))
}

/// Write units of one item in a transaction: two per KB (rounded up) of the larger of the
/// item before and after the write.
pub fn transactional_write_units(before: usize, after: usize) -> f64 {
    2.0 * before.max(after).max(1).div_ceil(1024) as f64
}

/// Read units of a strongly consistent read: one per 4 KB (an absent item costs one too).
pub fn consistent_read_units(size: usize) -> f64 {
    size.max(1).div_ceil(4096) as f64
}

/// Cumulative cost of one store (one per container): the handler reports the difference
/// over each batch.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Read and write units as computed from item sizes.
    pub read_units: f64,
    pub write_units: f64,
    /// Units the service reported (0 where it reports none, as moto does).
    pub reported_read_units: f64,
    pub reported_write_units: f64,
    pub batch_gets: u64,
    pub transactions: u64,
    /// Transactions DynamoDB cancelled because another writer held one of their items (or
    /// throttled one), resent after a backoff.
    pub conflicts: u64,
    /// Units refused because their customer or record had moved (redone by the scorer).
    pub stale_units: u64,
}

impl Usage {
    /// What was spent since `earlier`.
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
            reported_read_units: self.reported_read_units - earlier.reported_read_units,
            reported_write_units: self.reported_write_units - earlier.reported_write_units,
            batch_gets: self.batch_gets - earlier.batch_gets,
            transactions: self.transactions - earlier.transactions,
            conflicts: self.conflicts - earlier.conflicts,
            stale_units: self.stale_units - earlier.stale_units,
        }
    }
}

#[derive(Debug, Default)]
pub struct Meter(Mutex<Usage>);

impl Meter {
    pub fn usage(&self) -> Usage {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, change: impl FnOnce(&mut Usage)) {
        change(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn reported(consumed: &[ConsumedCapacity]) -> (f64, f64) {
        consumed.iter().fold((0.0, 0.0), |(r, w), c| {
            (
                r + c.read_capacity_units.unwrap_or(0.0),
                w + c.write_capacity_units.or(c.capacity_units).unwrap_or(0.0),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        let item: Item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("tx#abc".into())),
            ("rv".to_owned(), AttributeValue::N("12".into())),
        ]);
        // 2 + 6 for pk, 2 + (1 + 1) for a two-digit number.
        assert_eq!(item_size(&item), 12);
        assert_eq!(number_size("-123"), 4, "two bytes of digits, one, one for the sign");
        assert_eq!(transactional_write_units(100, 1025), 4.0);
        assert_eq!(transactional_write_units(0, 0), 2.0);
        assert_eq!(consistent_read_units(0), 1.0);
        assert_eq!(consistent_read_units(4097), 2.0);
    }
}
