//! Kinesis: the producer's stream. Partition key = customer id (labels: transaction id),
//! so one customer's transactions stay in order on one shard.

use super::{PARALLELISM, chunks, describe, retry_failed};
use crate::alert::DeliveryError;
use crate::intake::Publisher;
use crate::wire::Event;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use futures::{StreamExt, TryStreamExt, stream};

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

/// The shard key: the customer for a transaction, the transaction for a label.
pub fn partition_key(event: &Event) -> &str {
    match event {
        Event::Transaction(tx) => tx.customer.as_str(),
        Event::Label(l) => l.transaction_id.as_str(),
    }
}

impl KinesisPublisher {
    pub fn new(client: Client, stream: impl Into<String>) -> Self {
        Self { client, stream: stream.into() }
    }

    async fn put(
        &self,
        entries: Vec<PutRecordsRequestEntry>,
    ) -> Result<Vec<PutRecordsRequestEntry>, DeliveryError> {
        let out = self
            .client
            .put_records()
            .stream_name(&self.stream)
            .set_records(Some(entries.clone()))
            .send()
            .await
            .map_err(error)?;
        if out.failed_record_count.unwrap_or(0) == 0 {
            return Ok(Vec::new());
        }
        Ok(entries
            .into_iter()
            .zip(out.records())
            .filter(|(_, r)| r.error_code().is_some())
            .map(|(e, _)| e)
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
        let size =
            |e: &PutRecordsRequestEntry| e.data().as_ref().len() + e.partition_key().map_or(0, str::len);
        let calls = chunks(entries, MAX_RECORDS, MAX_BYTES, size)
            .into_iter()
            .map(|chunk| retry_failed("Kinesis", chunk, |c| self.put(c)));
        stream::iter(calls).buffer_unordered(PARALLELISM).try_collect::<Vec<()>>().await?;
        Ok(())
    }
}
