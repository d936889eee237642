//! MSK (Kafka): the producer's other stream. Pure-Rust client (rskafka); on MSK, TLS and
//! IAM authentication (SASL OAUTHBEARER with a SigV4-signed token); plaintext for local
//! brokers. Records are keyed by customer (labels: transaction) and partitioned like the
//! Java client's default partitioner (murmur2), so other producers agree on placement.

use super::kinesis::partition_key;
use super::{chunks, describe};
use crate::alert::DeliveryError;
use crate::intake::Publisher;
use crate::wire::Event;
use futures::future::{BoxFuture, try_join_all};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, OauthBearerCredentials, SaslConfig};
use rskafka::record::Record;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How to reach the brokers.
#[derive(Debug, Clone)]
pub enum KafkaAuth {
    /// A local or private broker without TLS (tests, the local demo).
    Plaintext,
    /// MSK with IAM access control (port 9098): TLS, and a token signed for `region`.
    MskIam { region: String },
}

/// Record bytes per produce request: under the broker's default `message.max.bytes`
/// (1 MiB, MSK's too), with room for the batch and request headers.
pub const MAX_PRODUCE_BYTES: usize = 900 * 1024;
/// A record's framing in a batch (length, attributes, offset and time deltas, header
/// count; varints of at most 5 bytes each): counted generously.
const RECORD_OVERHEAD: usize = 32;

pub struct KafkaPublisher {
    topic: String,
    partitions: Vec<PartitionClient>,
}

fn error(e: impl std::error::Error + 'static) -> DeliveryError {
    DeliveryError { service: "Kafka", message: describe(&e) }
}

/// A cached IAM token, refreshed a minute before it expires.
fn iam_token(region: String) -> rskafka::client::OauthCallback {
    let cache: Arc<Mutex<Option<(String, i64)>>> = Arc::default();
    Arc::new(move || -> BoxFuture<'static, Result<String, Box<dyn std::error::Error + Send + Sync>>> {
        let (cache, region) = (cache.clone(), region.clone());
        Box::pin(async move {
            let now_ms = chrono::Utc::now().timestamp_millis();
            if let Some((token, expires_ms)) = cache.lock().unwrap_or_else(|p| p.into_inner()).clone()
                && expires_ms - now_ms > 60_000
            {
                return Ok(token);
            }
            let (token, expires_ms) =
                aws_msk_iam_sasl_signer::generate_auth_token(aws_config::Region::new(region)).await?;
            *cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((token.clone(), expires_ms));
            Ok(token)
        })
    })
}

fn tls() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    // The provider supports the default versions: this cannot fail.
    Arc::new(config.unwrap_or_else(|_| unreachable!("aws-lc-rs supports TLS 1.2 and 1.3")))
}

impl KafkaPublisher {
    /// Connects to `brokers` and the partitions of `topic` (which must exist).
    pub async fn connect(brokers: Vec<String>, topic: &str, auth: KafkaAuth) -> Result<Self, DeliveryError> {
        let mut builder = ClientBuilder::new(brokers);
        if let KafkaAuth::MskIam { region } = auth {
            builder =
                builder.tls_config(tls()).sasl_config(SaslConfig::Oauthbearer(OauthBearerCredentials {
                    callback: iam_token(region),
                    authz_id: None,
                    bearer_kvs: Vec::new(),
                }));
        }
        let client: Client = builder.build().await.map_err(error)?;
        let topics = client.list_topics().await.map_err(error)?;
        let Some(found) = topics.into_iter().find(|t| t.name == topic) else {
            return Err(DeliveryError { service: "Kafka", message: format!("no topic {topic}") });
        };
        let mut partitions = Vec::with_capacity(found.partitions.len());
        for p in found.partitions {
            partitions
                .push(client.partition_client(topic, p, UnknownTopicHandling::Error).await.map_err(error)?);
        }
        Ok(Self { topic: topic.to_owned(), partitions })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }
}

/// Kafka's murmur2 (the Java client's default partitioner hashes keys with it).
pub fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// The partition the Java client would pick for `key`.
pub fn partition_for(key: &[u8], partitions: usize) -> usize {
    (murmur2(key) & 0x7fff_ffff) as usize % partitions.max(1)
}

impl Publisher for KafkaPublisher {
    async fn publish(&self, events: &[Event]) -> Result<(), DeliveryError> {
        let now = chrono::Utc::now();
        let mut by_partition: BTreeMap<usize, Vec<Record>> = BTreeMap::new();
        for e in events {
            let key = partition_key(e).as_bytes();
            by_partition.entry(partition_for(key, self.partitions.len())).or_default().push(Record {
                key: Some(key.to_vec()),
                value: Some(e.to_json().into_bytes()),
                headers: BTreeMap::new(),
                timestamp: now,
            });
        }
        // rskafka retries retriable broker errors itself; what still fails is reported,
        // and the caller's retry is absorbed by the scorer's idempotency. Partitions go
        // concurrently; one partition's requests one after the other, to keep its order.
        try_join_all(by_partition.into_iter().map(|(p, records)| async move {
            for request in requests(records) {
                self.partitions[p].produce(request, Compression::NoCompression).await.map_err(error)?;
            }
            Ok::<_, DeliveryError>(())
        }))
        .await?;
        Ok(())
    }
}

/// One partition's records as produce requests of at most [`MAX_PRODUCE_BYTES`], in order.
fn requests(records: Vec<Record>) -> Vec<Vec<Record>> {
    chunks(records, usize::MAX, MAX_PRODUCE_BYTES, |r| {
        let headers: usize = r.headers.iter().map(|(k, v)| k.len() + v.len() + 10).sum();
        r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len) + headers + RECORD_OVERHEAD
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Reference values from Kafka's own Utils.murmur2 tests.
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32, -58897971);
        assert_eq!(murmur2(b"abc") as i32, 479470107);
        assert!(partition_for(b"c1", 3) < 3);
    }

    #[test]
    fn a_partition_over_the_broker_limit_goes_in_ordered_requests_under_it() {
        let record = |i: usize| Record {
            key: Some(b"c1".to_vec()),
            value: Some(format!("{i:0>200}").into_bytes()),
            headers: BTreeMap::new(),
            timestamp: chrono::Utc::now(),
        };
        let records: Vec<Record> = (0..15_000).map(record).collect();
        let requests = requests(records);
        assert!(requests.len() >= 3, "3 MB in {} requests", requests.len());
        for r in &requests {
            let bytes: usize =
                r.iter().map(|r| r.key.as_ref().unwrap().len() + r.value.as_ref().unwrap().len()).sum();
            assert!(bytes + r.len() * RECORD_OVERHEAD <= MAX_PRODUCE_BYTES, "{bytes} bytes");
        }
        let values: Vec<Vec<u8>> = requests.into_iter().flatten().map(|r| r.value.unwrap()).collect();
        assert_eq!(values, (0..15_000).map(|i| record(i).value.unwrap()).collect::<Vec<_>>(), "order kept");
    }
}
