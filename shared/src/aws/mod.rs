//! AWS adapters, one module per service, each implementing a domain port. Clients come
//! from one [`aws_config::SdkConfig`] loaded once per container, with the function's
//! [`Timeouts`]; `AWS_ENDPOINT_URL` points them all at a local endpoint (moto) for tests and
//! the local demo.

pub mod athena;
pub mod audit;
pub mod backup;
pub mod dynamodb;
pub mod eventbridge;
pub mod identity;
pub mod kinesis;
pub mod kms;
pub mod lambda;
pub mod lists;
pub mod msk;
pub mod reveal;
pub mod s3;
pub mod secrets;
pub mod sns;
mod timeouts;

pub use timeouts::Timeouts;

use std::time::Duration;

/// The SDK configuration from the environment (region, credentials, endpoint), every call
/// bounded by `timeouts`.
pub async fn config(timeouts: Timeouts) -> aws_config::SdkConfig {
    timeouts.apply(aws_config::defaults(aws_config::BehaviorVersion::latest())).load().await
}

/// An SDK error with its causes: the SDK's own `Display` says only "service error".
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Attempts at the part of a batch call a service left undone (unprocessed keys, failed
/// entries); the SDK already retries whole failed calls.
pub(crate) const PARTIAL_ATTEMPTS: u32 = 6;

/// Backoff before retry `attempt` (1-based) of a partial failure: 25 ms doubling, capped.
pub(crate) async fn backoff(attempt: u32) {
    let ms = 25u64 << attempt.min(5);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Sends `entries` with `send`, which returns the ones the service refused (a partial
/// failure), and resends those with backoff until none is left: none is lost.
pub(crate) async fn retry_failed<E, F, Fut>(
    service: &'static str,
    entries: Vec<E>,
    send: F,
) -> Result<(), crate::alert::DeliveryError>
where
    F: Fn(Vec<E>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<E>, crate::alert::DeliveryError>>,
{
    let mut todo = entries;
    for attempt in 1..=PARTIAL_ATTEMPTS {
        let failed = send(todo).await?;
        if failed.is_empty() {
            return Ok(());
        }
        tracing::debug!(service, failed = failed.len(), attempt, "resending refused entries");
        todo = failed;
        backoff(attempt).await;
    }
    Err(crate::alert::DeliveryError { service, message: "entries still refused after retries".into() })
}

/// Requests a batch adapter keeps in flight at once.
pub(crate) const PARALLELISM: usize = 8;

/// Splits `items` into chunks of at most `max_items` entries and `max_bytes` in total,
/// by each item's size; an item larger than `max_bytes` goes alone.
pub(crate) fn chunks<T>(
    items: Vec<T>,
    max_items: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let mut bytes = 0;
    for item in items {
        let n = size(&item);
        if !current.is_empty() && (current.len() == max_items || bytes + n > max_bytes) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += n;
        current.push(item);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{chunks, retry_failed};
    use crate::alert::DeliveryError;
    use std::sync::Mutex;

    #[tokio::test]
    async fn refused_entries_are_resent_until_none_is_left() {
        let sent = Mutex::new(Vec::new());
        // The service refuses every odd entry the first time it sees it.
        let send = |entries: Vec<u32>| {
            let mut log = sent.lock().unwrap();
            let refused: Vec<u32> =
                entries.iter().copied().filter(|e| e % 2 == 1 && !log.contains(e)).collect();
            log.extend(entries);
            std::future::ready(Ok::<_, DeliveryError>(refused))
        };
        retry_failed("Test", vec![1, 2, 3, 4], send).await.unwrap();
        assert_eq!(*sent.lock().unwrap(), [1, 2, 3, 4, 1, 3]);

        let never = |entries: Vec<u32>| std::future::ready(Ok::<_, DeliveryError>(entries));
        let err = retry_failed("Test", vec![7], never).await.unwrap_err();
        assert_eq!(err.service, "Test");
    }

    #[test]
    fn chunks_respect_count_and_size() {
        let sizes = vec![4, 4, 4, 9, 1, 1, 1, 1];
        let got = chunks(sizes, 3, 10, |n| *n);
        assert_eq!(got, vec![vec![4, 4], vec![4], vec![9, 1], vec![1, 1, 1]]);
        assert!(chunks(Vec::<u8>::new(), 3, 10, |_| 1).is_empty());
        assert_eq!(chunks(vec![20], 3, 10, |n| *n), vec![vec![20]], "an oversized item goes alone");
    }
}
