//! SNS: the alerts function's message to the operations team, on the topic for the
//! alert's severity (compliance alerts on the compliance team's own topic), with attributes (severity, verdict, rule codes, transaction id) for
//! filter policies and for tracing an alert back to its decision, and the alert id by
//! which subscribers drop the rare repeat (delivery is at least once).

use super::{chunks, describe, retry_failed};
use crate::alert::{Alert, Audience, DeliveryError, Notifier, Severity};
use crate::report::Circulation;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

/// PublishBatch takes 10 entries.
const MAX_ENTRIES: usize = 10;

pub struct SnsNotifier {
    client: Client,
    medium_topic: String,
    high_topic: String,
    compliance_topic: Option<String>,
}

fn error(e: impl std::error::Error + 'static) -> DeliveryError {
    DeliveryError { service: "SNS", message: describe(&e) }
}

fn attribute(data_type: &str, value: String) -> Result<MessageAttributeValue, DeliveryError> {
    MessageAttributeValue::builder().data_type(data_type).string_value(value).build().map_err(error)
}

/// A one-line subject for e-mail subscribers (SNS allows 100 characters).
pub fn subject(alert: &Alert) -> String {
    let kind = match alert.audience() {
        Audience::FraudOps => "",
        Audience::Compliance => " compliance",
    };
    let mut s = format!(
        "Vigil{kind} {} {}: transaction {}",
        alert.severity.as_str(),
        alert.verdict,
        alert.transaction_id
    );
    s.truncate(100);
    s
}

impl SnsNotifier {
    pub fn new(client: Client, medium_topic: impl Into<String>, high_topic: impl Into<String>) -> Self {
        Self {
            client,
            medium_topic: medium_topic.into(),
            high_topic: high_topic.into(),
            compliance_topic: None,
        }
    }

    /// Where AML and sanctions alerts go: never to fraud operations' topics (tipping-off).
    pub fn with_compliance(mut self, topic: impl Into<String>) -> Self {
        self.compliance_topic = Some(topic.into());
        self
    }

    /// The topic for alerts of `audience` and `severity`; `None` for compliance alerts
    /// when no compliance topic is configured.
    fn topic(&self, audience: Audience, severity: Severity) -> Option<&str> {
        match (audience, severity) {
            (Audience::Compliance, _) => self.compliance_topic.as_deref(),
            (Audience::FraudOps, Severity::Medium) => Some(&self.medium_topic),
            (Audience::FraudOps, Severity::High) => Some(&self.high_topic),
        }
    }

    fn entry(id: usize, alert: &Alert) -> Result<PublishBatchRequestEntry, DeliveryError> {
        let rules: Vec<&str> = alert.rule_codes().collect();
        PublishBatchRequestEntry::builder()
            .id(id.to_string())
            .subject(subject(alert))
            .message(alert.to_string())
            .message_attributes("alert_id", attribute("String", alert.id.clone())?)
            .message_attributes("severity", attribute("String", alert.severity.as_str().to_owned())?)
            .message_attributes("audience", attribute("String", alert.audience().as_str().to_owned())?)
            .message_attributes("verdict", attribute("String", alert.verdict.to_string())?)
            .message_attributes("transaction_id", attribute("String", alert.transaction_id.to_string())?)
            .message_attributes(
                "rule_codes",
                attribute("String.Array", serde_json::to_string(&rules).unwrap_or_default())?,
            )
            .build()
            .map_err(error)
    }

    async fn publish(
        &self,
        topic: &str,
        entries: Vec<PublishBatchRequestEntry>,
    ) -> Result<Vec<PublishBatchRequestEntry>, DeliveryError> {
        let out = self
            .client
            .publish_batch()
            .topic_arn(topic)
            .set_publish_batch_request_entries(Some(entries.clone()))
            .send()
            .await
            .map_err(error)?;
        let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
        Ok(entries.into_iter().filter(|e| failed.contains(&e.id())).collect())
    }
}

impl Notifier for SnsNotifier {
    async fn notify(&self, alerts: &[Alert]) -> Result<(), DeliveryError> {
        for audience in [Audience::Compliance, Audience::FraudOps] {
            for severity in [Severity::High, Severity::Medium] {
                let entries = alerts
                    .iter()
                    .filter(|a| a.audience() == audience && a.severity == severity)
                    .enumerate()
                    .map(|(i, a)| Self::entry(i, a))
                    .collect::<Result<Vec<_>, _>>()?;
                if entries.is_empty() {
                    continue;
                }
                let topic = self.topic(audience, severity).ok_or_else(|| DeliveryError {
                    service: "SNS",
                    message: "a compliance alert, and no compliance topic configured".into(),
                })?;
                for chunk in chunks(entries, MAX_ENTRIES, usize::MAX, |_| 0) {
                    retry_failed("SNS", chunk, |c| self.publish(topic, c)).await?;
                }
            }
        }
        Ok(())
    }
}

/// Where the report trigger says a report is ready: the general reports topic, or
/// compliance's own for a report whose existence is need-to-know.
pub struct SnsReportNotifier {
    client: Client,
    general_topic: String,
    compliance_topic: String,
}

impl SnsReportNotifier {
    pub fn new(
        client: Client,
        general_topic: impl Into<String>,
        compliance_topic: impl Into<String>,
    ) -> Self {
        Self { client, general_topic: general_topic.into(), compliance_topic: compliance_topic.into() }
    }
}

impl crate::report::trigger::ReportNotifier for SnsReportNotifier {
    async fn notify(
        &self,
        circulation: Circulation,
        subject: &str,
        message: &str,
    ) -> Result<(), DeliveryError> {
        let topic = match circulation {
            Circulation::General => &self.general_topic,
            Circulation::ComplianceOnly => &self.compliance_topic,
        };
        // SNS subjects: at most 100 characters.
        let subject: String = subject.chars().take(100).collect();
        self.client
            .publish()
            .topic_arn(topic)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(error)?;
        Ok(())
    }
}
