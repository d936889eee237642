//! EventBridge: the scorer's alerts as events on the Vigil bus (`source` [`SOURCE`],
//! `detail-type` by severity), for the alerts function and any other subscriber.

use super::{PARALLELISM, chunks, describe, retry_failed};
use crate::alert::{Alert, AlertSink, DeliveryError};
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::{StreamExt, TryStreamExt, stream};

pub const SOURCE: &str = "vigil";
/// PutEvents limits: 10 entries, 256 KB per request.
const MAX_ENTRIES: usize = 10;
const MAX_BYTES: usize = 256 * 1024;

pub struct EventBridgeAlerts {
    client: Client,
    bus: String,
}

impl EventBridgeAlerts {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self { client, bus: bus.into() }
    }

    async fn put(
        &self,
        entries: Vec<PutEventsRequestEntry>,
    ) -> Result<Vec<PutEventsRequestEntry>, DeliveryError> {
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries.clone()))
            .send()
            .await
            .map_err(|e| DeliveryError { service: "EventBridge", message: describe(&e) })?;
        if out.failed_entry_count == 0 {
            return Ok(Vec::new());
        }
        // Results are positional: one per entry sent.
        Ok(entries
            .into_iter()
            .zip(out.entries())
            .filter(|(_, r)| r.error_code().is_some())
            .map(|(e, _)| e)
            .collect())
    }
}

/// The event's `detail-type`: what rules and subscriptions match on.
pub fn detail_type(alert: &Alert) -> String {
    format!("Vigil alert {}", alert.severity.as_str())
}

fn entry_bytes(e: &PutEventsRequestEntry) -> usize {
    // EventBridge counts source, detail-type, detail and resources.
    SOURCE.len() + e.detail_type().map_or(0, str::len) + e.detail().map_or(0, str::len) + 64
}

impl AlertSink for EventBridgeAlerts {
    async fn send(&self, alerts: &[Alert]) -> Result<(), DeliveryError> {
        let entries: Vec<PutEventsRequestEntry> = alerts
            .iter()
            .map(|a| {
                PutEventsRequestEntry::builder()
                    .source(SOURCE)
                    .detail_type(detail_type(a))
                    .detail(serde_json::to_string(a).unwrap_or_default())
                    .event_bus_name(&self.bus)
                    .build()
            })
            .collect();
        let calls = chunks(entries, MAX_ENTRIES, MAX_BYTES, entry_bytes)
            .into_iter()
            .map(|chunk| retry_failed("EventBridge", chunk, |c| self.put(c)));
        stream::iter(calls).buffer_unordered(PARALLELISM).try_collect::<Vec<()>>().await?;
        Ok(())
    }
}
