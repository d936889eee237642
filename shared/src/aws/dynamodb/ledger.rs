//! The alert ledger: one item `alert#<id>` per alert. `state` is `sending` while an
//! invocation holds the sending lease (`lease_until`, epoch milliseconds), then `sent`.
//! Both expire through `ttl` 14 days on: long after EventBridge and Lambda stop retrying
//! (the template gives events an hour) and long enough for a dead-letter redrive.

use super::{Item, PK, TTL, delivery, n, number, s, text};
use crate::alert::{AlertLedger, Claim, DEFAULT_LEASE, DeliveryError, Lease};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

const ALERT_TTL: Duration = Duration::days(14);

const STATE: &str = "state";
const LEASE_UNTIL: &str = "lease_until";
const SENDING: &str = "sending";
const SENT: &str = "sent";

/// Which alerts went out, and which one an invocation is sending now.
pub struct DynamoAlertLedger {
    client: Client,
    table: String,
    lease: std::time::Duration,
}

impl DynamoAlertLedger {
    /// A ledger taking leases of [`DEFAULT_LEASE`].
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), lease: DEFAULT_LEASE }
    }

    pub fn with_lease(self, lease: std::time::Duration) -> Self {
        Self { lease, ..self }
    }

    /// How long a lease it takes: a retry sooner than this after a failure may find the
    /// lease still held (the local stand-in of Lambda's retries waits longer).
    pub fn lease(&self) -> std::time::Duration {
        self.lease
    }

    fn key(alert_id: &str) -> AttributeValue {
        s(format!("alert#{alert_id}"))
    }

    fn expiry(now: DateTime<Utc>) -> AttributeValue {
        n((now + ALERT_TTL).timestamp())
    }
}

/// What refused a lease: the item as it stands.
fn refusal(item: Option<&Item>) -> Result<Claim, DeliveryError> {
    let Some(item) = item else {
        return Err(DeliveryError { service: "DynamoDB", message: "lease refused, no item returned".into() });
    };
    match text(item, STATE) {
        Some(SENDING) => number(item, LEASE_UNTIL)
            .and_then(DateTime::from_timestamp_millis)
            .map(|until| Claim::Held { until })
            .ok_or_else(|| DeliveryError {
                service: "DynamoDB",
                message: format!("alert lease without a valid {LEASE_UNTIL}"),
            }),
        // `sent`, or a claim written before leases (no state): those were deleted when
        // delivery failed, so one still there was sent (or lost in a crash back then).
        _ => Ok(Claim::Sent),
    }
}

impl AlertLedger for DynamoAlertLedger {
    async fn lease(&self, alert_id: &str, now: DateTime<Utc>) -> Result<Claim, DeliveryError> {
        let lease = Lease::starting(now, self.lease);
        let item = HashMap::from([
            (PK.to_owned(), Self::key(alert_id)),
            (STATE.to_owned(), s(SENDING)),
            (LEASE_UNTIL.to_owned(), n(lease.until.timestamp_millis())),
            (TTL.to_owned(), Self::expiry(now)),
        ]);
        // Free if nobody took it, or the last holder's lease ran out (it died, or gave up
        // without giving it back); the item that refused tells sent from held.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR (#state = :sending AND #until < :now)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_values(":sending", s(SENDING))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Leased(lease)),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(refused) => refusal(refused.item.as_ref()),
                other => Err(delivery(other)),
            },
            Err(e) => Err(delivery(e)),
        }
    }

    /// Unconditional: the alert went out whoever holds the lease now.
    async fn mark_sent(&self, alert_id: &str, now: DateTime<Utc>) -> Result<(), DeliveryError> {
        let item = HashMap::from([
            (PK.to_owned(), Self::key(alert_id)),
            (STATE.to_owned(), s(SENT)),
            (TTL.to_owned(), Self::expiry(now)),
        ]);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(delivery)?;
        Ok(())
    }

    async fn release(&self, alert_id: &str, lease: Lease) -> Result<(), DeliveryError> {
        // A lease is told apart by its end: a later holder took over only after it passed,
        // so its own ends later.
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, Self::key(alert_id))
            .condition_expression("#state = :sending AND #until = :until")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_values(":sending", s(SENDING))
            .expression_attribute_values(":until", n(lease.until.timestamp_millis()))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(delivery(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn a_refused_lease_tells_sent_from_held() {
        let until: DateTime<Utc> = "2024-01-01T00:00:30Z".parse().unwrap();
        let held = item(&[(STATE, s(SENDING)), (LEASE_UNTIL, n(until.timestamp_millis()))]);
        assert_eq!(refusal(Some(&held)).unwrap(), Claim::Held { until });
        assert_eq!(refusal(Some(&item(&[(STATE, s(SENT))]))).unwrap(), Claim::Sent);
        let legacy = item(&[(PK, s("alert#vigil:tx-1")), (TTL, n(1))]);
        assert_eq!(refusal(Some(&legacy)).unwrap(), Claim::Sent, "a claim from before leases");
        assert!(refusal(Some(&item(&[(STATE, s(SENDING))]))).is_err());
        assert!(refusal(None).is_err());
    }
}
