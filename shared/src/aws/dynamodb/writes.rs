//! Units onto TransactWriteItems requests. A unit's items must be written in one
//! transaction; several units share one when they fit (≤ 100 items, ≤ 4 MB), which cuts
//! the requests a batch makes, and the commutative updates they share (a terminal's week,
//! a customer's frauds) merge into one item. Requests run concurrently, but never two at
//! once on the same item (they would cancel each other), and in unit order per item (a
//! customer's second unit writes on top of its first).

use super::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// TransactWriteItems limits: 100 items, 4 MB (kept under, for the envelope).
pub const MAX_ITEMS: usize = 100;
pub const MAX_BYTES: usize = 3_500_000;

/// One item's change.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The whole item, on the condition that its `version` attribute is still `expected`
    /// (0: that no item exists).
    Put { item: Item, version: &'static str, expected: u64 },
    /// Commutative changes: numbers added, attributes set or removed (by name).
    Update(Update),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub add: BTreeMap<String, i64>,
    pub set: BTreeMap<String, AttributeValue>,
    pub remove: BTreeSet<String>,
}

impl Update {
    /// Folds `other` in: additions sum; an attribute set or removed by both cannot merge.
    fn merge(&mut self, other: &Update) -> bool {
        let touched = |u: &Update, name: &String| u.set.contains_key(name) || u.remove.contains(name);
        let collides = other
            .set
            .keys()
            .chain(&other.remove)
            .any(|n| touched(self, n) && self.set.get(n) != other.set.get(n));
        if collides {
            return false;
        }
        for (name, n) in &other.add {
            *self.add.entry(name.clone()).or_default() += n;
        }
        self.set.extend(other.set.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.remove.extend(other.remove.iter().cloned());
        true
    }

    fn bytes(&self) -> usize {
        self.add.keys().chain(self.set.keys()).chain(&self.remove).map(|n| n.len() + 8).sum()
    }
}

fn op_bytes(op: &Op) -> usize {
    match op {
        Op::Put { item, .. } => super::capacity::item_size(item),
        Op::Update(u) => u.bytes(),
    }
}

/// A unit's changes, one per item.
pub type UnitOps = Vec<(String, Op)>;

/// Units sent in one request: their merged items, and which units each item belongs to.
#[derive(Debug, Clone)]
pub struct Pack {
    pub units: Vec<(usize, UnitOps)>,
    pub items: Vec<(String, Op)>,
    /// Per item, the units it belongs to (a put: one).
    pub owners: Vec<Vec<usize>>,
    bytes: usize,
}

impl Pack {
    fn new() -> Self {
        Pack { units: Vec::new(), items: Vec::new(), owners: Vec::new(), bytes: 0 }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(k, _)| k.as_str())
    }

    /// Adds the unit if it fits: room left, no put on an item already here, updates mergeable.
    fn try_add(&mut self, unit: usize, ops: &UnitOps) -> bool {
        let mut items = self.items.clone();
        let mut owners = self.owners.clone();
        let mut bytes = self.bytes;
        for (key, op) in ops {
            match (items.iter().position(|(k, _)| k == key), op) {
                (None, _) => {
                    bytes += op_bytes(op) + key.len();
                    items.push((key.clone(), op.clone()));
                    owners.push(vec![unit]);
                }
                (Some(i), Op::Update(u)) => match &mut items[i].1 {
                    Op::Update(existing) => {
                        if !existing.merge(u) {
                            return false;
                        }
                        if owners[i].last() != Some(&unit) {
                            owners[i].push(unit);
                        }
                    }
                    Op::Put { .. } => return false,
                },
                (Some(_), Op::Put { .. }) => return false,
            }
        }
        if !self.units.is_empty() && (items.len() > MAX_ITEMS || bytes > MAX_BYTES) {
            return false;
        }
        self.units.push((unit, ops.clone()));
        (self.items, self.owners, self.bytes) = (items, owners, bytes);
        true
    }

    /// The same pack without `stale` units.
    pub fn without(&self, stale: &HashSet<usize>) -> Option<Pack> {
        let mut pack = Pack::new();
        for (unit, ops) in self.units.iter().filter(|(u, _)| !stale.contains(u)) {
            pack.try_add(*unit, ops);
        }
        (!pack.units.is_empty()).then_some(pack)
    }
}

/// The customer item a unit puts (`c#…`), if it carries a customer's state.
pub fn customer(ops: &UnitOps) -> Option<&str> {
    ops.iter()
        .find(|(key, op)| key.starts_with("c#") && matches!(op, Op::Put { .. }))
        .map(|(k, _)| k.as_str())
}

/// Packs units greedily in order.
pub fn pack(units: Vec<UnitOps>) -> Vec<Pack> {
    let mut packs = Vec::new();
    let mut current = Pack::new();
    for (i, ops) in units.iter().enumerate() {
        if !current.try_add(i, ops) {
            packs.push(std::mem::replace(&mut current, Pack::new()));
            current.try_add(i, ops);
        }
    }
    if !current.units.is_empty() {
        packs.push(current);
    }
    packs
}

/// Which of `pending` may start now: none of its items in flight or claimed by an earlier
/// pack still waiting (so writes to an item keep their order).
pub fn startable(pending: &[Pack], busy: &HashSet<String>) -> Vec<usize> {
    let mut claimed: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for (i, p) in pending.iter().enumerate() {
        let free = p.keys().all(|k| !busy.contains(k) && !claimed.contains(k));
        if free {
            out.push(i);
        }
        claimed.extend(p.keys());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str) -> (String, Op) {
        (key.to_owned(), Op::Put { item: Item::new(), version: "v", expected: 0 })
    }

    fn add(key: &str, name: &str, n: i64) -> (String, Op) {
        (
            key.to_owned(),
            Op::Update(Update { add: BTreeMap::from([(name.to_owned(), n)]), ..Update::default() }),
        )
    }

    #[test]
    fn units_share_a_request_and_their_counts_merge() {
        let units = vec![
            vec![put("c#1"), put("tx#1"), add("t#p#9", "n3", 1)],
            vec![put("c#2"), put("tx#2"), add("t#p#9", "n3", 1), add("t#p#9", "f3", 1)],
        ];
        let packs = pack(units);
        assert_eq!(packs.len(), 1);
        assert_eq!(packs[0].items.len(), 5);
        let Op::Update(u) = &packs[0].items[2].1 else { panic!() };
        assert_eq!(u.add["n3"], 2);
        assert_eq!(packs[0].owners[2], [0, 1]);
    }

    #[test]
    fn a_customers_next_unit_goes_to_a_later_request_and_waits_for_the_first() {
        let units = vec![vec![put("c#1"), put("tx#1")], vec![put("tx#9")], vec![put("c#1"), put("tx#2")]];
        let packs = pack(units);
        assert_eq!(packs.len(), 2);
        let busy = HashSet::from(["c#1".to_owned()]);
        assert!(startable(&packs[1..], &busy).is_empty(), "c#1 is being written");
        assert_eq!(startable(&packs, &HashSet::new()), [0], "the second waits for the first");
    }

    #[test]
    fn requests_hold_at_most_a_hundred_items() {
        let units: Vec<UnitOps> =
            (0..70).map(|i| vec![put(&format!("tx#{i}")), put(&format!("c#{i}"))]).collect();
        let packs = pack(units);
        assert_eq!(packs.iter().map(|p| p.items.len()).collect::<Vec<_>>(), [100, 40]);
        let stale = HashSet::from([0, 1]);
        assert_eq!(packs[0].without(&stale).unwrap().items.len(), 96);
    }

    #[test]
    fn setting_and_removing_the_same_attribute_do_not_merge() {
        let mut a = Update::default();
        a.set.insert("f:t1".into(), AttributeValue::N("5".into()));
        let mut b = Update::default();
        b.remove.insert("f:t1".into());
        assert!(!a.clone().merge(&b));
        let mut c = Update::default();
        c.set.insert("f:t2".into(), AttributeValue::N("6".into()));
        assert!(a.merge(&c));
    }
}
