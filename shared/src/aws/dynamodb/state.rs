//! The state store on DynamoDB. Items (key `pk`):
//!
//! - `tx#<transaction>`: its decision record, or a label waiting for it (`s`, JSON), with
//!   a version `rv`; a waiting label also carries `parked` (the day it was parked), which
//!   the sparse index [`PARKED_INDEX`] lists for the sweep.
//! - `c#<customer>`: the customer's spending history (`s`, JSON) and version `v`.
//! - `cf#<customer>`: the customer's confirmed frauds, one attribute `f:<transaction>`
//!   holding the transaction's time (labels travel on other shards than the customer's
//!   transactions: this keeps the customer's own item single-writer).
//! - `t#<terminal>#<week>`: a terminal's counts for one week (168 hours since the epoch):
//!   `n<h>` transactions and `f<h>` confirmed frauds in hour `h` of the week, added to by
//!   every shard (`ADD`: commutative, no version, one small item per write).
//!
//! - `a#<account>`: an account's AML state (`s`, JSON) and version `v`.
//! - `d#<owner>`: a cash owner's business day (`s`, JSON) and version `v`, for the CTR.
//!
//! A unit (see [`crate::store`]) is written as one TransactWriteItems: record puts on
//! their version, the customer put on its version, the terminal and fraud updates. So a
//! crash at any point leaves each transaction fully counted or not at all, whatever
//! batch its retry arrives in. A cancelled transaction names the items whose condition
//! failed: their units are reported stale (the scorer redoes them); items another
//! transaction held (`TransactionConflict`) are resent after a jittered backoff.

use super::capacity::{self, Meter, Usage};
use super::writes::{self, Op, Pack, Update};
use super::{Item, PK, TTL, delivery, n, number, s, text};
use crate::aws::{PARALLELISM, chunks, describe, retry_failed};
use crate::features::{CustomerState, FRAUD_RETENTION_DAYS, TerminalState};
use crate::ids::{AccountId, CustomerId, TerminalId, TransactionId};
use crate::store::{
    LoadRequest, PARKED_RETENTION, ParkedLabel, Record, RecordState, Snapshot, Span, StateStore, StoreError,
    Unit, Versioned, covered,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnConsumedCapacity, TransactWriteItem, Update as UpdateItem,
};
use chrono::{DateTime, Duration, Utc};
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration as StdDuration;

const VERSION: &str = "v";
const RECORD_VERSION: &str = "rv";
const VALUE: &str = "s";
/// On a waiting label: the UTC day it was parked.
pub const PARKED: &str = "parked";
/// The sparse global secondary index over [`PARKED`] (key `parked`, then `pk`).
pub const PARKED_INDEX: &str = "parked";
const FRAUD_PREFIX: &str = "f:";

/// Hours per terminal item.
const WEEK_HOURS: i64 = 168;
/// A customer's spending outlives its longest window (30 days) after its last write.
const CUSTOMER_TTL: Duration = Duration::days(40);
/// An account's AML state outlives the dormancy a reactivation is measured against.
const ACCOUNT_TTL: Duration = Duration::days(400);
/// A cash day is only read on the same business day.
const CASH_DAY_TTL: Duration = Duration::days(3);
/// Records, frauds and terminal counts outlive the latest chargeback that must find them.
const RETAINED_TTL: Duration = Duration::days(FRAUD_RETENTION_DAYS);
const BATCH_GET_KEYS: usize = 100;
/// Days before the cutoff's a sweep looks at: up to three weeks of missed daily sweeps lose
/// nothing (a waiting label's item lives four times its retention, 28 days).
const SWEEP_DAYS_BACK: i64 = 21;
/// Resends of a transaction cancelled because other writers held its items.
const CONFLICT_ATTEMPTS: u32 = 10;

fn record_key(id: &TransactionId) -> String {
    format!("tx#{}", id.as_str())
}

fn customer_key(id: &CustomerId) -> String {
    format!("c#{}", id.as_str())
}

fn frauds_key(id: &CustomerId) -> String {
    format!("cf#{}", id.as_str())
}

fn account_key(id: &AccountId) -> String {
    format!("a#{}", id.as_str())
}

fn cash_day_key(owner: &str) -> String {
    format!("d#{owner}")
}

fn week_key(id: &TerminalId, week: i64) -> String {
    format!("t#{}#{week}", id.as_str())
}

fn encode(value: &impl serde::Serialize) -> String {
    // Our own plain data types: serialisation cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(pk: &str, json: &str) -> Result<T, StoreError> {
    // Written by this adapter: a decode failure means a schema change without migration,
    // which retrying will not fix, but which must stop the batch rather than reset state.
    serde_json::from_str(json).map_err(|e| StoreError::Transient(format!("undecodable item {pk}: {e}")))
}

fn unavailable(e: impl std::error::Error + 'static) -> StoreError {
    StoreError::Transient(describe(&e))
}

pub struct DynamoStateStore {
    client: Client,
    table: String,
    meter: Meter,
    /// Sizes of the items the last load read, for the write units of what replaces them.
    sizes: std::sync::Mutex<HashMap<String, usize>>,
    /// The confirmed frauds the last load read per `cf#` item (attribute, transaction time),
    /// so a customer's unit can drop those past their retention.
    frauds: std::sync::Mutex<HashMap<String, Vec<(String, i64)>>>,
}

impl DynamoStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: Meter::default(),
            sizes: Default::default(),
            frauds: Default::default(),
        }
    }

    /// What this store has spent since it was built.
    pub fn usage(&self) -> Usage {
        self.meter.usage()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// BatchGetItem in chunks of 100, concurrently, retrying unprocessed keys.
    async fn get_many(&self, keys: Vec<String>) -> Result<HashMap<String, Item>, StoreError> {
        let asked = keys.len();
        let calls = chunks(keys, BATCH_GET_KEYS, usize::MAX, |_| 0).into_iter().map(|c| self.get_chunk(c));
        let parts: Vec<Vec<Item>> = stream::iter(calls).buffer_unordered(PARALLELISM).try_collect().await?;
        let items: HashMap<String, Item> = parts
            .into_iter()
            .flatten()
            .filter_map(|item| text(&item, PK).map(str::to_owned).map(|pk| (pk, item)))
            .collect();
        let found: f64 =
            items.values().map(|i| capacity::consistent_read_units(capacity::item_size(i))).sum();
        let absent = asked.saturating_sub(items.len()) as f64;
        self.meter.record(|u| u.read_units += found + absent);
        Ok(items)
    }

    /// One BatchGetItem, its unprocessed keys asked again until none is left.
    async fn get_chunk(&self, keys: Vec<String>) -> Result<Vec<Item>, StoreError> {
        let found = std::sync::Mutex::new(Vec::with_capacity(keys.len()));
        let keys: Vec<Item> = keys.into_iter().map(|k| HashMap::from([(PK.to_owned(), s(k))])).collect();
        retry_failed("DynamoDB", keys, |todo| async {
            let request = KeysAndAttributes::builder().set_keys(Some(todo)).consistent_read(true).build();
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request.map_err(delivery)?)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(delivery)?;
            let (reported, _) = Meter::reported(out.consumed_capacity());
            self.meter.record(|u| {
                u.batch_gets += 1;
                u.reported_read_units += reported;
            });
            if let Some(mut responses) = out.responses {
                found
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(responses.remove(&self.table).unwrap_or_default());
            }
            Ok(out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default())
        })
        .await
        .map_err(|e| StoreError::Transient(e.to_string()))?;
        Ok(found.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// A unit as the items it writes.
    fn ops(&self, unit: &Unit, now: DateTime<Utc>) -> writes::UnitOps {
        let ttl = |d: Duration| n((now + d).timestamp());
        let mut ops = Vec::new();
        for r in &unit.records {
            let mut item = HashMap::from([
                (PK.to_owned(), s(record_key(&r.id))),
                (RECORD_VERSION.to_owned(), n(r.expected as i64 + 1)),
                (VALUE.to_owned(), s(encode(&r.state))),
                (TTL.to_owned(), ttl(RETAINED_TTL)),
            ]);
            if let RecordState::Parked(p) = &r.state {
                item.insert(PARKED.to_owned(), s(p.parked_at.date_naive().to_string()));
                // Kept past its retention, for the sweep to report it before it expires.
                item.insert(TTL.to_owned(), n((p.parked_at + PARKED_RETENTION * 4).timestamp()));
            }
            let op = Op::Put { item, version: RECORD_VERSION, expected: r.expected };
            ops.push((record_key(&r.id), op));
        }
        if let Some((id, state)) = &unit.customer {
            let item = HashMap::from([
                (PK.to_owned(), s(customer_key(id))),
                (VERSION.to_owned(), n(state.version as i64 + 1)),
                (VALUE.to_owned(), s(encode(state))),
                (TTL.to_owned(), ttl(CUSTOMER_TTL)),
            ]);
            ops.push((customer_key(id), Op::Put { item, version: VERSION, expected: state.version }));
        }
        let versioned = |key: String, version: u64, value: String, ttl: AttributeValue| {
            let item = HashMap::from([
                (PK.to_owned(), s(key.clone())),
                (VERSION.to_owned(), n(version as i64 + 1)),
                (VALUE.to_owned(), s(value)),
                (TTL.to_owned(), ttl),
            ]);
            (key, Op::Put { item, version: VERSION, expected: version })
        };
        for (id, a) in &unit.accounts {
            ops.push(versioned(account_key(id), a.version, encode(&a.state), ttl(ACCOUNT_TTL)));
        }
        for (owner, d) in &unit.cash_days {
            ops.push(versioned(cash_day_key(owner), d.version, encode(&d.state), ttl(CASH_DAY_TTL)));
        }
        let mut updates: BTreeMap<String, Update> = BTreeMap::new();
        for (terminal, d) in &unit.terminals {
            let (week, hour) = (d.hour.div_euclid(WEEK_HOURS), d.hour.rem_euclid(WEEK_HOURS));
            let u = updates.entry(week_key(terminal, week)).or_default();
            for (name, value) in [(format!("n{hour}"), d.count), (format!("f{hour}"), d.frauds)] {
                if value != 0 {
                    *u.add.entry(name).or_default() += value;
                }
            }
        }
        if let Some((id, state)) = &unit.customer {
            // Frauds past their retention (relative to the customer's latest payment) leave
            // the item here, or it would grow with every fraud ever confirmed.
            let oldest = state.last_tx_at.unwrap_or(i64::MIN).saturating_sub(RETAINED_TTL.num_seconds());
            let loaded = self.frauds.lock().unwrap_or_else(|p| p.into_inner());
            let expired: Vec<String> = loaded
                .get(&frauds_key(id))
                .into_iter()
                .flatten()
                .filter(|(_, at)| *at <= oldest)
                .map(|(name, _)| name.clone())
                .collect();
            if !expired.is_empty() {
                updates.entry(frauds_key(id)).or_default().remove.extend(expired);
            }
        }
        for m in &unit.frauds {
            let u = updates.entry(frauds_key(&m.customer)).or_default();
            let name = format!("{FRAUD_PREFIX}{}", m.transaction.as_str());
            match m.at {
                Some(at) => drop(u.set.insert(name, n(at))),
                None => drop(u.remove.insert(name)),
            }
        }
        for (key, mut u) in updates {
            u.set.insert(TTL.to_owned(), ttl(RETAINED_TTL));
            ops.push((key, Op::Update(u)));
        }
        ops
    }

    fn transact_item(&self, key: &str, op: &Op) -> Result<TransactWriteItem, StoreError> {
        let built = match op {
            Op::Put { item, version, expected } => {
                let put = Put::builder().table_name(&self.table).set_item(Some(item.clone()));
                let put = if *expected == 0 {
                    put.condition_expression("attribute_not_exists(pk)")
                } else {
                    put.condition_expression("#v = :v")
                        .expression_attribute_names("#v", *version)
                        .expression_attribute_values(":v", n(*expected as i64))
                };
                TransactWriteItem::builder().put(put.build().map_err(unavailable)?).build()
            }
            Op::Update(u) => {
                let mut names = HashMap::new();
                let mut values = HashMap::new();
                let clause = |kind: &str, parts: Vec<String>| {
                    if parts.is_empty() { String::new() } else { format!("{kind} {} ", parts.join(", ")) }
                };
                let mut placeholder = |name: &str, value: Option<AttributeValue>| {
                    let i = names.len();
                    names.insert(format!("#a{i}"), name.to_owned());
                    if let Some(v) = value {
                        values.insert(format!(":v{i}"), v);
                    }
                    i
                };
                let adds: Vec<String> = u
                    .add
                    .iter()
                    .filter(|(_, v)| **v != 0)
                    .map(|(name, v)| placeholder(name, Some(n(*v))))
                    .map(|i| format!("#a{i} :v{i}"))
                    .collect();
                let sets: Vec<String> = u
                    .set
                    .iter()
                    .map(|(name, v)| placeholder(name, Some(v.clone())))
                    .map(|i| format!("#a{i} = :v{i}"))
                    .collect();
                let removes: Vec<String> =
                    u.remove.iter().map(|name| format!("#a{}", placeholder(name, None))).collect();
                let expression =
                    format!("{}{}{}", clause("ADD", adds), clause("SET", sets), clause("REMOVE", removes));
                let update = UpdateItem::builder()
                    .table_name(&self.table)
                    .key(PK, s(key))
                    .update_expression(expression.trim_end())
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values((!values.is_empty()).then_some(values))
                    .build()
                    .map_err(unavailable)?;
                TransactWriteItem::builder().update(update).build()
            }
        };
        Ok(built)
    }

    /// Write units of a pack, from the sizes of what it replaces and writes.
    fn estimate(&self, pack: &Pack) -> f64 {
        let sizes = self.sizes.lock().unwrap_or_else(|p| p.into_inner());
        pack.items
            .iter()
            .map(|(key, op)| {
                let before = sizes.get(key).copied().unwrap_or(0);
                let after = match op {
                    Op::Put { item, .. } => capacity::item_size(item),
                    Op::Update(u) => {
                        before
                            + u.add.keys().map(|k| k.len() + 2).sum::<usize>()
                            + u.set.iter().map(|(k, v)| k.len() + capacity::value_size(v)).sum::<usize>()
                    }
                };
                capacity::transactional_write_units(before, after)
            })
            .sum()
    }

    /// Sends one pack: `Ok(None)` when written, `Ok(Some(codes))` when cancelled, with each
    /// item's cancellation code.
    async fn send(&self, pack: &Pack) -> Result<Option<Vec<String>>, StoreError> {
        let items: Vec<TransactWriteItem> =
            pack.items.iter().map(|(k, op)| self.transact_item(k, op)).collect::<Result<_, _>>()?;
        let estimate = self.estimate(pack);
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.meter.record(|u| {
            u.transactions += 1;
            u.write_units += estimate;
        });
        match out {
            Ok(out) => {
                let (_, reported) = Meter::reported(out.consumed_capacity());
                self.meter.record(|u| u.reported_write_units += reported);
                Ok(None)
            }
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => Ok(Some(
                    c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect(),
                )),
                // Another request with the same token is still running: try again shortly.
                TransactWriteItemsError::TransactionInProgressException(_) => {
                    Ok(Some(vec!["TransactionConflict".to_owned(); pack.items.len()]))
                }
                other => Err(unavailable(other)),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Sends a pack until it is written or only stale units are left: returns the units
    /// written.
    async fn settle(&self, mut pack: Pack) -> Result<Vec<usize>, StoreError> {
        for attempt in 1..=CONFLICT_ATTEMPTS {
            let Some(codes) = self.send(&pack).await? else {
                return Ok(pack.units.iter().map(|(u, _)| *u).collect());
            };
            let refused: HashSet<usize> = codes
                .iter()
                .zip(&pack.owners)
                .filter(|(code, _)| code.as_str() == "ConditionalCheckFailed")
                .flat_map(|(_, owners)| owners.iter().copied())
                .collect();
            // Held by another writer, or throttled: the same request succeeds a moment later.
            let later = |c: &str| {
                matches!(c, "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
            };
            let conflict = codes.iter().any(|c| later(c));
            if let Some(other) =
                codes.iter().find(|c| !later(c) && !matches!(c.as_str(), "None" | "ConditionalCheckFailed"))
            {
                return Err(StoreError::Transient(format!("transaction cancelled: {other}")));
            }
            if refused.is_empty() && !conflict {
                return Err(StoreError::Transient(format!("transaction cancelled: {}", codes.join(","))));
            }
            self.meter.record(|u| {
                u.stale_units += refused.len() as u64;
                u.conflicts += u64::from(conflict);
            });
            match pack.without(&refused) {
                None => return Ok(Vec::new()),
                Some(rest) => pack = rest,
            }
            if conflict {
                tracing::debug!(attempt, items = pack.items.len(), "items held by another writer: resending");
                tokio::time::sleep(jittered(attempt)).await;
            }
        }
        Err(StoreError::Transient(format!(
            "transaction kept conflicting with other writers ({CONFLICT_ATTEMPTS} attempts)"
        )))
    }
}

/// Backoff before resend `attempt` (from 1) of a conflicting transaction: up to 20 ms, doubling
/// to 640 ms, with full jitter, so writers that collided do not collide again in step.
fn jittered(attempt: u32) -> StdDuration {
    let cap = 10u64 << attempt.min(6);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    StdDuration::from_millis(1 + u64::from(nanos) % cap)
}

/// A whole-item state (`s`) with its version (`v`), if `key` was read.
fn take_versioned<T: serde::de::DeserializeOwned>(
    items: &mut HashMap<String, Item>,
    key: &str,
) -> Result<Option<Versioned<T>>, StoreError> {
    let Some(item) = items.remove(key) else { return Ok(None) };
    let version = number(&item, VERSION).unwrap_or(0) as u64;
    let state = decode(key, text(&item, VALUE).unwrap_or_default())?;
    Ok(Some(Versioned { version, state }))
}

/// The customer's frauds in a `cf#` item: its attributes `f:<transaction>` with the
/// transaction's time.
fn frauds_of(item: &Item) -> Vec<(String, i64)> {
    item.iter()
        .filter(|(k, _)| k.starts_with(FRAUD_PREFIX))
        .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
        .collect()
}

impl StateStore for DynamoStateStore {
    async fn load(&self, request: &LoadRequest) -> Result<Snapshot, StoreError> {
        let mut keys: Vec<String> = request.records.iter().map(record_key).collect();
        for c in &request.customers {
            keys.push(customer_key(c));
            keys.push(frauds_key(c));
        }
        let terminals: Vec<(&TerminalId, Vec<Span>, BTreeSet<i64>)> = request
            .terminal_spans()
            .into_iter()
            .map(|(t, spans)| {
                let weeks = spans
                    .iter()
                    .flat_map(|s| (s.from + 1).div_euclid(WEEK_HOURS)..=s.to.div_euclid(WEEK_HOURS))
                    .collect();
                (t, spans, weeks)
            })
            .collect();
        for (t, _, weeks) in &terminals {
            keys.extend(weeks.iter().map(|w| week_key(t, *w)));
        }
        keys.extend(request.accounts.iter().map(account_key));
        keys.extend(request.cash_days.iter().map(|o| cash_day_key(o)));
        let mut items = self.get_many(keys).await?;
        *self.sizes.lock().unwrap_or_else(|p| p.into_inner()) =
            items.iter().map(|(k, i)| (k.clone(), capacity::item_size(i))).collect();
        self.frauds.lock().unwrap_or_else(|p| p.into_inner()).clear();

        let mut out = Snapshot::default();
        for id in &request.records {
            let key = record_key(id);
            if let Some(item) = items.remove(&key) {
                let version = number(&item, RECORD_VERSION).unwrap_or(0) as u64;
                let state = decode(&key, text(&item, VALUE).unwrap_or_default())?;
                out.records.insert(id.clone(), Record { version, state });
            }
        }
        for id in &request.customers {
            let (state, frauds) = (items.remove(&customer_key(id)), items.remove(&frauds_key(id)));
            if state.is_none() && frauds.is_none() {
                continue;
            }
            let mut customer = match &state {
                Some(item) => {
                    let mut c: CustomerState =
                        decode(&customer_key(id), text(item, VALUE).unwrap_or_default())?;
                    c.version = number(item, VERSION).unwrap_or(0) as u64;
                    c
                }
                None => CustomerState::default(),
            };
            let frauds = frauds.as_ref().map(frauds_of).unwrap_or_default();
            customer.fraud_tx_at = frauds.iter().map(|(_, at)| *at).collect();
            customer.fraud_tx_at.sort_unstable();
            self.frauds.lock().unwrap_or_else(|p| p.into_inner()).insert(frauds_key(id), frauds);
            out.customers.insert(id.clone(), customer);
        }
        for id in &request.accounts {
            if let Some(a) = take_versioned(&mut items, &account_key(id))? {
                out.accounts.insert(id.clone(), a);
            }
        }
        for owner in &request.cash_days {
            if let Some(d) = take_versioned(&mut items, &cash_day_key(owner))? {
                out.cash_days.insert(owner.clone(), d);
            }
        }
        for (id, spans, weeks) in terminals {
            let mut hours: Vec<(i64, (i64, i64))> = Vec::new();
            for week in weeks {
                let Some(item) = items.remove(&week_key(id, week)) else { continue };
                let mut by_hour: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
                for (name, value) in &item {
                    let (kind, offset) = name.split_at(1.min(name.len()));
                    let (Ok(offset), Some(v)) =
                        (offset.parse::<i64>(), value.as_n().ok().and_then(|v| v.parse::<i64>().ok()))
                    else {
                        continue;
                    };
                    let entry = by_hour.entry(week * WEEK_HOURS + offset).or_default();
                    match kind {
                        "n" => entry.0 += v,
                        "f" => entry.1 += v,
                        _ => {}
                    }
                }
                hours.extend(by_hour.into_iter().filter(|(h, _)| covered(&spans, *h)));
            }
            if !hours.is_empty() {
                out.terminals.insert(id.clone(), TerminalState::from_hours(hours));
            }
        }
        Ok(out)
    }

    async fn commit(&self, units: Vec<Unit>) -> Result<Vec<bool>, StoreError> {
        let now = Utc::now();
        let mut applied = vec![false; units.len()];
        let mut pending: Vec<Pack> = writes::pack(units.iter().map(|u| self.ops(u, now)).collect());
        drop(units);
        let mut busy: HashSet<String> = HashSet::new();
        // Customers with a unit refused: their later units (written on top of it) are not
        // sent, or another writer's change could be overwritten by a state built on units
        // that never happened.
        let mut refused: HashSet<String> = HashSet::new();
        let mut running = FuturesUnordered::new();
        let mut failure = None;
        loop {
            if failure.is_none() {
                let room = PARALLELISM.saturating_sub(running.len());
                let start: Vec<usize> = writes::startable(&pending, &busy).into_iter().take(room).collect();
                for i in start.into_iter().rev() {
                    let pack = pending.remove(i);
                    let after_refused: HashSet<usize> = pack
                        .units
                        .iter()
                        .filter(|(_, ops)| writes::customer(ops).is_some_and(|c| refused.contains(c)))
                        .map(|(u, _)| *u)
                        .collect();
                    let Some(pack) = pack.without(&after_refused) else { continue };
                    let members: Vec<(usize, Option<String>)> = pack
                        .units
                        .iter()
                        .map(|(u, ops)| (*u, writes::customer(ops).map(str::to_owned)))
                        .collect();
                    let keys: Vec<String> = pack.keys().map(str::to_owned).collect();
                    busy.extend(keys.iter().cloned());
                    running.push(async move { (keys, members, self.settle(pack).await) });
                }
            }
            // Every request runs to its end even when one fails: what was written is then
            // written whole, rather than cancelled with an unknown outcome.
            let Some((keys, members, result)) = running.next().await else { break };
            for k in keys {
                busy.remove(&k);
            }
            match result {
                Ok(written) => {
                    for (unit, customer) in members {
                        if written.contains(&unit) {
                            applied[unit] = true;
                        } else if let Some(c) = customer {
                            refused.insert(c);
                        }
                    }
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(applied),
        }
    }

    fn unit_limit(&self) -> usize {
        // A transaction's record and terminal week per new transaction, plus the customer's
        // state and frauds, within TransactWriteItems' 100 items.
        40
    }

    /// From the sparse index: the days up to `cutoff`'s (three weeks back, in case sweeps
    /// were missed), then the records themselves (the index is eventually consistent and lists
    /// keys only).
    async fn parked_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<(TransactionId, u64, ParkedLabel)>, StoreError> {
        let mut keys = Vec::new();
        for back in 0..=SWEEP_DAYS_BACK {
            let day = (cutoff - Duration::days(back)).date_naive().to_string();
            let pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(PARKED_INDEX)
                .key_condition_expression("#p = :d")
                .expression_attribute_names("#p", PARKED)
                .expression_attribute_values(":d", s(day))
                .into_paginator()
                .items()
                .send()
                .collect::<Vec<_>>()
                .await;
            for item in pages {
                keys.extend(text(&item.map_err(unavailable)?, PK).map(str::to_owned));
            }
        }
        let items = self.get_many(keys).await?;
        let mut out = Vec::new();
        for (key, item) in items {
            let (Some(id), Some(json)) = (key.strip_prefix("tx#"), text(&item, VALUE)) else { continue };
            if let RecordState::Parked(p) = decode(&key, json)?
                && p.parked_at < cutoff
                && let Ok(id) = TransactionId::parse(id)
            {
                out.push((id, number(&item, RECORD_VERSION).unwrap_or(0) as u64, p));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn forget_parked(&self, id: &TransactionId, version: u64) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(record_key(id)))
            .condition_expression("#v = :v AND attribute_exists(#p)")
            .expression_attribute_names("#v", RECORD_VERSION)
            .expression_attribute_names("#p", PARKED)
            .expression_attribute_values(":v", n(version as i64))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}
