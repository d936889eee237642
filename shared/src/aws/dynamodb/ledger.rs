//! The alert ledger: which alerts have gone out.

use super::{PK, TTL, delivery, n, s};
use crate::alert::{AlertLedger, DeliveryError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use chrono::{Duration, Utc};
use std::collections::HashMap;

const ALERT_TTL: Duration = Duration::days(14);

/// Which alerts have gone out, so a redelivered alert is not sent twice.
pub struct DynamoAlertLedger {
    client: Client,
    table: String,
}

impl DynamoAlertLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl AlertLedger for DynamoAlertLedger {
    async fn claim(&self, alert_id: &str) -> Result<bool, DeliveryError> {
        let item = HashMap::from([
            (PK.to_owned(), s(format!("alert#{alert_id}"))),
            (TTL.to_owned(), n((Utc::now() + ALERT_TTL).timestamp())),
        ]);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(false),
            Err(e) => Err(delivery(e)),
        }
    }

    async fn release(&self, alert_id: &str) -> Result<(), DeliveryError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(format!("alert#{alert_id}")))
            .send()
            .await
            .map_err(delivery)?;
        Ok(())
    }
}
