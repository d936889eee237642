//! Kinesis: the producer's stream. Partition key = customer id (labels: transaction id),
//! so one customer's transactions stay in order on one shard.
//!
//! PutRecords writes each record of a request independently: one refused (throttled) and
//! resent later would land after the records behind it. So a request never holds a
//! record whose key has an earlier record not yet confirmed: each round sends, per key,
//! only the oldest record still to go, and a refused one stays first in line for its key.
//! Keys do not wait for one another, so rounds stay batched and concurrent.

use super::{PARALLELISM, PARTIAL_ATTEMPTS, backoff, chunks, describe};
use crate::alert::DeliveryError;
use crate::intake::Publisher;
use crate::wire::Event;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;

/// PutRecords limits: 500 records, 5 MiB (data and partition keys) per request.
const MAX_RECORDS: usize = 500;
const MAX_BYTES: usize = 5 * 1024 * 1024;

pub struct KinesisPublisher {
    client: Client,
    stream: String,
}

fn error(e: impl std::error::Error + 'static) -> DeliveryError {
    DeliveryError { service: "Kinesis", message: describe(&e) }
}

/// The shard key: the customer for a card payment, the transaction for a label, the
/// paying account for a transfer (the account for cash), the customer for a profile —
/// so one writer usually holds each state item.
pub fn partition_key(event: &Event) -> &str {
    match event {
        Event::Transaction(tx) => tx.customer.as_str(),
        Event::Label(l) => l.transaction_id.as_str(),
        Event::Flow(f) => match &f.event {
            crate::aml::FlowEvent::Transfer(t) => t.payer.as_str(),
            crate::aml::FlowEvent::Cash(c) => c.account.as_str(),
        },
        Event::Customer(p) => p.customer.as_str(),
    }
}

impl KinesisPublisher {
    pub fn new(client: Client, stream: impl Into<String>) -> Self {
        Self { client, stream: stream.into() }
    }

    /// Sends `entries[i]` for each `i` of `chunk` in one request; the ones refused.
    async fn put(
        &self,
        entries: &[PutRecordsRequestEntry],
        chunk: Vec<usize>,
    ) -> Result<Vec<usize>, DeliveryError> {
        let records = chunk.iter().map(|&i| entries[i].clone()).collect();
        let out = self
            .client
            .put_records()
            .stream_name(&self.stream)
            .set_records(Some(records))
            .send()
            .await
            .map_err(error)?;
        if out.failed_record_count.unwrap_or(0) == 0 {
            return Ok(Vec::new());
        }
        if out.records().len() != chunk.len() {
            let message = format!("{} results for {} records", out.records().len(), chunk.len());
            return Err(DeliveryError { service: "Kinesis", message });
        }
        Ok(chunk
            .into_iter()
            .zip(out.records())
            .filter(|(_, r)| r.error_code().is_some())
            .map(|(i, _)| i)
            .collect())
    }
}

impl Publisher for KinesisPublisher {
    async fn publish(&self, events: &[Event]) -> Result<(), DeliveryError> {
        let entries = events
            .iter()
            .map(|e| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(e.to_json()))
                    .partition_key(partition_key(e))
                    .build()
                    .map_err(error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let keys: Vec<&str> = events.iter().map(partition_key).collect();
        let sizes: Vec<usize> =
            entries.iter().zip(&keys).map(|(e, k)| e.data().as_ref().len() + k.len()).collect();
        in_key_order(&keys, &sizes, |chunk| self.put(&entries, chunk)).await
    }
}

/// Which records may go next: per key, the oldest one not yet confirmed.
struct KeyOrder {
    /// The next record with the same key, for each record.
    next: Vec<Option<usize>>,
    /// The oldest unconfirmed record of each key with records left, in input order.
    heads: BTreeSet<usize>,
}

impl KeyOrder {
    fn new<K: std::hash::Hash + Eq>(keys: impl IntoIterator<Item = K>) -> Self {
        let mut last: HashMap<K, usize> = HashMap::new();
        let mut next = Vec::new();
        let mut heads = BTreeSet::new();
        for (i, key) in keys.into_iter().enumerate() {
            next.push(None);
            match last.insert(key, i) {
                Some(previous) => next[previous] = Some(i),
                None => {
                    heads.insert(i);
                }
            }
        }
        Self { next, heads }
    }

    /// `i` reached the stream: the next record with its key may go.
    fn confirm(&mut self, i: usize) {
        self.heads.remove(&i);
        if let Some(j) = self.next[i] {
            self.heads.insert(j);
        }
    }
}

/// Delivers records `0..keys.len()` with `send`, which takes one request's records and
/// returns the ones the service refused, so that records of one key reach the stream in
/// input order: rounds of at most [`PARALLELISM`] concurrent requests, each holding no
/// two records of a key, and no record sent before the previous one of its key is in.
async fn in_key_order<K, F, Fut>(keys: &[K], sizes: &[usize], send: F) -> Result<(), DeliveryError>
where
    K: std::hash::Hash + Eq,
    F: Fn(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<Vec<usize>, DeliveryError>>,
{
    let mut order = KeyOrder::new(keys);
    let mut refusals = vec![0u32; keys.len()];
    while !order.heads.is_empty() {
        let ready: Vec<usize> = order.heads.iter().copied().take(PARALLELISM * MAX_RECORDS).collect();
        let mut round = chunks(ready, MAX_RECORDS, MAX_BYTES, |&i| sizes[i]);
        round.truncate(PARALLELISM);
        let sent: Vec<usize> = round.iter().flatten().copied().collect();
        let refused: Vec<Vec<usize>> =
            stream::iter(round.into_iter().map(&send)).buffer_unordered(PARALLELISM).try_collect().await?;
        let refused: BTreeSet<usize> = refused.into_iter().flatten().collect();
        for &i in sent.iter().filter(|i| !refused.contains(i)) {
            order.confirm(i);
        }
        let Some(attempt) = refused
            .iter()
            .map(|&i| {
                refusals[i] += 1;
                refusals[i]
            })
            .max()
        else {
            continue;
        };
        if attempt >= PARTIAL_ATTEMPTS {
            let message = format!("{} records still refused after {attempt} attempts", refused.len());
            return Err(DeliveryError { service: "Kinesis", message });
        }
        tracing::debug!(refused = refused.len(), attempt, "resending refused records first for their keys");
        backoff(attempt).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Mutex;

    /// Runs `in_key_order` against a fake stream that refuses each record the number of
    /// times `refusals` says; what the stream holds, and the requests it got.
    fn deliver(keys: &[u8], refusals: &[u8]) -> (Result<(), DeliveryError>, Vec<usize>, Vec<Vec<usize>>) {
        let stream = Mutex::new(Vec::new());
        let requests = Mutex::new(Vec::new());
        let left = Mutex::new(refusals.to_vec());
        let sizes = vec![100; keys.len()];
        let send = |chunk: Vec<usize>| {
            requests.lock().unwrap().push(chunk.clone());
            let mut left = left.lock().unwrap();
            let mut refused = Vec::new();
            for i in chunk {
                if left[i] > 0 {
                    left[i] -= 1;
                    refused.push(i);
                } else {
                    stream.lock().unwrap().push(i);
                }
            }
            std::future::ready(Ok(refused))
        };
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let result = runtime.block_on(in_key_order(keys, &sizes, send));
        (result, stream.into_inner().unwrap(), requests.into_inner().unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn each_key_reaches_the_stream_in_input_order_despite_refusals(
            keys in proptest::collection::vec(0u8..12, 1..1500),
            seed in any::<u64>(),
        ) {
            // Up to two refusals per record, spread by the seed.
            let refusals: Vec<u8> = (0..keys.len()).map(|i| ((seed >> (i % 60)) & 3).min(2) as u8).collect();
            let (result, stream, requests) = deliver(&keys, &refusals);
            prop_assert!(result.is_ok());
            let mut sorted = stream.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..keys.len()).collect::<Vec<_>>(), "each record once");
            for key in 0..12 {
                let of_key: Vec<usize> = stream.iter().copied().filter(|&i| keys[i] == key).collect();
                prop_assert!(of_key.windows(2).all(|w| w[0] < w[1]), "key {} out of order: {:?}", key, of_key);
            }
            for r in &requests {
                prop_assert!(r.len() <= MAX_RECORDS);
                let distinct: BTreeSet<u8> = r.iter().map(|&i| keys[i]).collect();
                prop_assert_eq!(distinct.len(), r.len(), "one record per key per request");
            }
        }
    }

    #[test]
    fn distinct_keys_go_in_few_concurrent_requests() {
        let keys: Vec<u32> = (0..1200).collect();
        let requests = Mutex::new(Vec::new());
        let send = |chunk: Vec<usize>| {
            requests.lock().unwrap().push(chunk.len());
            std::future::ready(Ok(Vec::new()))
        };
        let sizes = vec![100; keys.len()];
        pollster::block_on(in_key_order(&keys, &sizes, send)).unwrap();
        assert_eq!(requests.into_inner().unwrap(), [500, 500, 200]);
    }

    #[test]
    fn a_record_refused_every_time_fails_the_publish() {
        let (result, stream, _) = deliver(&[1, 2, 1], &[u8::MAX, 0, 0]);
        assert!(result.unwrap_err().message.contains("still refused"));
        assert_eq!(stream, [1], "nothing of key 1 overtook its refused record");
    }
}
