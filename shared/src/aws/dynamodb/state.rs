//! DynamoDB: feature state, decision records and alert dedupe in one table keyed by `pk`
//! (`c#<customer>`, `t#<terminal>`, `tx#<transaction>`, `batch#<key>`, `alert#<id>`),
//! expiring through its `ttl` attribute.
//!
//! A batch's writes span many requests (a transaction takes at most 100 items), so they
//! become visible through a commit marker written last. Every item a batch writes carries
//! the batch key and its value from before the batch. Readers take the new value once the
//! marker exists; the old one if the batch is their own (a retry of a half-written
//! attempt) or was abandoned (older than [`LEASE`]); and wait, then report a conflict, if
//! another writer's batch is still in flight. So a retried batch never counts a
//! transaction twice, and shards writing the same terminal never lose each other's
//! updates (every state write is conditional on the version it read).

use super::{Item, PK, TTL, delivery, n, number, s, text};
use crate::aws::{PARALLELISM, PARTIAL_ATTEMPTS, backoff, chunks, describe, retry_failed};
use crate::features::{CustomerState, TerminalState};
use crate::store::{BatchKey, Changes, DecisionRecord, StateStore, States, StoreError};
use crate::{CustomerId, TerminalId, TransactionId};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest};
use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt, stream};
use rustc_hash::FxHashSet;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

const VERSION: &str = "v";
const VALUE: &str = "s";
const BEFORE: &str = "b";
const BATCH: &str = "k";
const BATCH_AT: &str = "at";

/// Longest a batch may take from its first write to its commit (Lambda's longest
/// timeout): an uncommitted batch older than this was abandoned.
pub const LEASE: Duration = Duration::minutes(15);
/// Entity state outlives its longest feature window (37 days) after its last write.
const STATE_TTL: Duration = Duration::days(40);
/// Decision records stay long enough for late chargebacks to find their transaction.
const RECORD_TTL: Duration = Duration::days(120);
/// Markers outlive every item that refers to them.
const MARKER_TTL: Duration = Duration::days(130);

/// TransactWriteItems limits: 100 items, 4 MB (kept under, for the envelope).
const TRANSACT_ITEMS: usize = 100;
const TRANSACT_BYTES: usize = 3_500_000;
const BATCH_WRITE_ITEMS: usize = 25;
const BATCH_GET_KEYS: usize = 100;

fn customer_key(id: &CustomerId) -> String {
    format!("c#{}", id.as_str())
}

fn terminal_key(id: &TerminalId) -> String {
    format!("t#{}", id.as_str())
}

fn record_key(id: &TransactionId) -> String {
    format!("tx#{}", id.as_str())
}

fn marker_key(batch: &str) -> String {
    format!("batch#{batch}")
}

fn encode(value: &impl Serialize) -> String {
    // Our own plain data types: serialisation cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(pk: &str, json: &str) -> Result<T, StoreError> {
    // Written by this adapter: a decode failure means a schema change without migration,
    // which retrying will not fix, but which must stop the batch rather than reset state.
    serde_json::from_str(json).map_err(|e| StoreError::Transient(format!("undecodable item {pk}: {e}")))
}

pub struct DynamoStateStore {
    client: Client,
    table: String,
}

/// Items of one load, with the batches they were written by that have committed.
struct Loaded {
    items: HashMap<String, Item>,
    committed: FxHashSet<String>,
}

impl DynamoStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Reads `keys` and the markers of the batches that wrote them, waiting out other
    /// writers' batches in flight. Yields each key's visible value and stored version.
    async fn load(
        &self,
        own: &BatchKey,
        keys: Vec<String>,
    ) -> Result<HashMap<String, (Option<String>, i64)>, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let items = self.get_many(keys.clone()).await?;
            let batches: FxHashSet<&str> = items.values().filter_map(|i| text(i, BATCH)).collect();
            let markers = self.get_many(batches.into_iter().map(marker_key).collect()).await?;
            let committed =
                markers.keys().filter_map(|k| k.strip_prefix("batch#")).map(str::to_owned).collect();
            let loaded = Loaded { items, committed };
            match loaded.visible(own, Utc::now()) {
                Err(StoreError::Conflict(what)) if attempt < PARTIAL_ATTEMPTS => {
                    tracing::debug!(%what, attempt, "waiting for another batch to commit");
                    backoff(attempt).await;
                }
                result => return result,
            }
        }
    }

    /// BatchGetItem in chunks of 100, concurrently, retrying unprocessed keys.
    async fn get_many(&self, keys: Vec<String>) -> Result<HashMap<String, Item>, StoreError> {
        let calls = chunks(keys, BATCH_GET_KEYS, usize::MAX, |_| 0).into_iter().map(|c| self.get_chunk(c));
        let parts: Vec<Vec<Item>> = stream::iter(calls).buffer_unordered(PARALLELISM).try_collect().await?;
        Ok(parts
            .into_iter()
            .flatten()
            .filter_map(|item| text(&item, PK).map(str::to_owned).map(|pk| (pk, item)))
            .collect())
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
                .send()
                .await
                .map_err(delivery)?;
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

    fn entity_put(
        &self,
        pk: String,
        version: u64,
        value: String,
        before: Option<String>,
        batch: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = HashMap::from([
            (PK.to_owned(), s(pk)),
            (VERSION.to_owned(), n(version as i64 + 1)),
            (VALUE.to_owned(), s(value)),
            (BATCH.to_owned(), s(batch)),
            (BATCH_AT.to_owned(), n(now.timestamp())),
            (TTL.to_owned(), n((now + STATE_TTL).timestamp())),
        ]);
        if let Some(b) = before {
            item.insert(BEFORE.to_owned(), s(b));
        }
        // Version 0 means the batch saw no item at all.
        let put = if version == 0 {
            Put::builder().condition_expression("attribute_not_exists(pk)")
        } else {
            Put::builder().condition_expression("v = :v").expression_attribute_values(":v", n(version as i64))
        };
        let put = put
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError::Transient(describe(&e)))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn record_item(
        &self,
        record: &DecisionRecord,
        before: Option<&DecisionRecord>,
        batch: &str,
        now: DateTime<Utc>,
    ) -> Item {
        let mut item = HashMap::from([
            (PK.to_owned(), s(record_key(&record.decision.transaction_id))),
            (VALUE.to_owned(), s(encode(record))),
            (BATCH.to_owned(), s(batch)),
            (BATCH_AT.to_owned(), n(now.timestamp())),
            (TTL.to_owned(), n((record.at + RECORD_TTL).timestamp())),
        ]);
        if let Some(b) = before {
            item.insert(BEFORE.to_owned(), s(encode(b)));
        }
        item
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let codes: Vec<&str> = c.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
                    if codes.iter().any(|c| matches!(*c, "ConditionalCheckFailed" | "TransactionConflict")) {
                        Err(StoreError::Conflict(format!(
                            "state written by another batch ({})",
                            codes.join(",")
                        )))
                    } else {
                        Err(StoreError::Transient(format!("transaction cancelled: {}", codes.join(","))))
                    }
                }
                other => Err(StoreError::Transient(describe(&other))),
            },
            Err(e) => Err(StoreError::Transient(describe(&e))),
        }
    }

    /// BatchWriteItem of up to 25 items, retrying unprocessed ones.
    async fn put_items(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder().set_item(Some(item)).build()?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, aws_sdk_dynamodb::error::BuildError>>()
            .map_err(|e| StoreError::Transient(describe(&e)))?;
        retry_failed("DynamoDB", requests, |todo| async {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, todo)
                .send()
                .await
                .map_err(delivery)?;
            Ok(out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default())
        })
        .await
        .map_err(|e| StoreError::Transient(e.to_string()))
    }
}

impl Loaded {
    /// Each item's value as of the last committed batch, and its stored version.
    fn visible(
        self,
        own: &BatchKey,
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, (Option<String>, i64)>, StoreError> {
        let mut out = HashMap::with_capacity(self.items.len());
        for (pk, mut item) in self.items {
            let version = number(&item, VERSION).unwrap_or(0);
            let field = match text(&item, BATCH) {
                None => VALUE,
                Some(b) if self.committed.contains(b) => VALUE,
                Some(b)
                    if b == own.as_str()
                        || now.timestamp() - number(&item, BATCH_AT).unwrap_or(0) > LEASE.num_seconds() =>
                {
                    BEFORE
                }
                Some(b) => return Err(StoreError::Conflict(format!("{pk} is being written by batch {b}"))),
            };
            let value = item.remove(field).and_then(|v| v.as_s().ok().cloned());
            out.insert(pk, (value, version));
        }
        Ok(out)
    }
}

/// The state under `key` as loaded, stamped with its stored version. An item whose
/// visible value is "none yet" (a rolled-back first write) is a default state that still
/// has a version to write against.
fn visible_state<T: DeserializeOwned + Default>(
    loaded: &mut HashMap<String, (Option<String>, i64)>,
    key: &str,
    version: impl Fn(&mut T) -> &mut u64,
) -> Result<Option<T>, StoreError> {
    let Some((value, stored)) = loaded.remove(key) else { return Ok(None) };
    let mut state = match value {
        Some(json) => decode(key, &json)?,
        None => T::default(),
    };
    *version(&mut state) = stored as u64;
    Ok(Some(state))
}

impl StateStore for DynamoStateStore {
    async fn load_records(
        &self,
        batch: &BatchKey,
        ids: &[TransactionId],
    ) -> Result<rustc_hash::FxHashMap<TransactionId, DecisionRecord>, StoreError> {
        let mut loaded = self.load(batch, ids.iter().map(record_key).collect()).await?;
        let mut out = rustc_hash::FxHashMap::default();
        for id in ids {
            if let Some((Some(json), _)) = loaded.remove(&record_key(id)) {
                out.insert(id.clone(), decode(&record_key(id), &json)?);
            }
        }
        Ok(out)
    }

    async fn load_states(
        &self,
        batch: &BatchKey,
        customers: &[CustomerId],
        terminals: &[TerminalId],
    ) -> Result<States, StoreError> {
        let keys = customers.iter().map(customer_key).chain(terminals.iter().map(terminal_key)).collect();
        let mut loaded = self.load(batch, keys).await?;
        let mut states = States::default();
        for id in customers {
            if let Some(state) =
                visible_state(&mut loaded, &customer_key(id), |s: &mut CustomerState| &mut s.version)?
            {
                states.0.insert(id.clone(), state);
            }
        }
        for id in terminals {
            if let Some(state) =
                visible_state(&mut loaded, &terminal_key(id), |s: &mut TerminalState| &mut s.version)?
            {
                states.1.insert(id.clone(), state);
            }
        }
        Ok(states)
    }

    async fn save(&self, changes: Changes) -> Result<(), StoreError> {
        let started = Utc::now();
        let batch = changes.batch.as_str();
        let (before_c, before_t) = &changes.previous;
        let mut entities = Vec::with_capacity(changes.customers.len() + changes.terminals.len());
        let mut put = |key: String, version: u64, value: String, before: Option<String>| {
            let bytes = value.len() + before.as_ref().map_or(0, String::len);
            entities.push((self.entity_put(key, version, value, before, batch, started)?, bytes));
            Ok::<_, StoreError>(())
        };
        for (id, state) in &changes.customers {
            put(customer_key(id), state.version, encode(state), before_c.get(id).map(encode))?;
        }
        for (id, state) in &changes.terminals {
            put(terminal_key(id), state.version, encode(state), before_t.get(id).map(encode))?;
        }
        let unlabelled: Vec<DecisionRecord> =
            changes.labelled.iter().map(|r| DecisionRecord { label: None, ..r.clone() }).collect();
        let records: Vec<(&DecisionRecord, Option<&DecisionRecord>)> = changes
            .records
            .iter()
            .map(|r| (r, None))
            .chain(changes.labelled.iter().zip(unlabelled.iter().map(Some)))
            .collect();

        let mut calls: Vec<BoxFuture<'_, Result<(), StoreError>>> = Vec::new();
        for chunk in chunks(entities, TRANSACT_ITEMS, TRANSACT_BYTES, |(_, b)| *b) {
            calls.push(self.transact(chunk.into_iter().map(|(i, _)| i).collect()).boxed());
        }
        // Record items are built as their request goes out: a 10k batch's would otherwise
        // all sit in memory at once.
        for chunk in records.chunks(BATCH_WRITE_ITEMS) {
            calls.push(
                async move {
                    let items = chunk.iter().map(|(r, b)| self.record_item(r, *b, batch, started)).collect();
                    self.put_items(items).await
                }
                .boxed(),
            );
        }
        // Every request runs to its end even when one fails: what was written is then known
        // to be written (and tagged), rather than cancelled with an unknown outcome.
        let results: Vec<Result<(), StoreError>> =
            stream::iter(calls).buffer_unordered(PARALLELISM).collect().await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;

        if Utc::now() - started > LEASE {
            // Readers may already have rolled this batch back: it must be redone, not committed.
            return Err(StoreError::Transient(format!("batch {batch} outlived its lease before commit")));
        }
        let marker = HashMap::from([
            (PK.to_owned(), s(marker_key(batch))),
            (TTL.to_owned(), n((started + MARKER_TTL).timestamp())),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(marker))
            .send()
            .await
            .map_err(|e| StoreError::Transient(describe(&e)))?;
        Ok(())
    }
}
