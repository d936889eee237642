//! Delivering an alert at least once, and almost always once: a short sending lease in the
//! ledger, the publish, then a `sent` mark that later deliveries of the same alert find.
//!
//! Nothing is lost: an invocation that dies holding the lease leaves it to expire, and the
//! event's next delivery (Lambda retries a failed asynchronous invocation after about a
//! minute, longer than the lease) takes it over and publishes again. The one window for a
//! duplicate is a death between publishing and marking; the message carries the alert id
//! so subscribers can drop the repeat.

use super::{Alert, DeliveryError, MemoryAlerts, Notifier};
use chrono::{DateTime, TimeDelta, Utc};
use std::future::Future;
use std::time::Duration;

/// How long a sending lease holds unless configured: longer than the alerts function's
/// timeout (15 s), so no live invocation loses its lease, and shorter than Lambda's first
/// retry of a failed invocation (about 60 s), so that retry finds a dead one's lease expired.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The right to publish one alert, until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub until: DateTime<Utc>,
}

impl Lease {
    /// A lease of `duration` taken at `now`.
    pub fn starting(now: DateTime<Utc>, duration: Duration) -> Lease {
        let until = TimeDelta::from_std(duration).ok().and_then(|d| now.checked_add_signed(d));
        Lease { until: until.unwrap_or(DateTime::<Utc>::MAX_UTC) }
    }
}

/// The ledger's answer to a request for the sending lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours: publish, then mark the alert sent (or give the lease back if publishing failed).
    Leased(Lease),
    /// Already sent: nothing to do.
    Sent,
    /// Another invocation is sending it, or was until it died: its lease runs to `until`.
    Held { until: DateTime<Utc> },
}

/// Which alerts went out, and which one an invocation is sending now.
pub trait AlertLedger: Send + Sync {
    /// Takes the sending lease on `alert_id`, unless the alert was sent or another lease
    /// is live at `now`.
    fn lease(
        &self,
        alert_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Claim, DeliveryError>> + Send;
    /// Records that `alert_id` went out, for as long as redeliveries can come.
    fn mark_sent(
        &self,
        alert_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
    /// Gives `lease` back after a failed publish, so a retry need not wait for it to expire.
    /// Does nothing if the lease is no longer held (expired and taken, or the alert sent).
    fn release(&self, alert_id: &str, lease: Lease)
    -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanOut {
    Sent,
    /// Already delivered (EventBridge delivers at least once, the scorer may resend).
    Duplicate,
}

/// Why an alert was not delivered by this invocation. Every case is retried: the alerts
/// function returns it as an error and Lambda invokes it again later.
#[derive(Debug, thiserror::Error)]
pub enum FanOutError {
    /// The ledger could not be read or written: nothing was published.
    #[error("alert ledger: {0}")]
    Ledger(DeliveryError),
    /// Another invocation holds the sending lease. Not a duplicate: if that invocation died
    /// after publishing, the alert is only sent again once its lease expires.
    #[error("alert {alert} is being sent by another invocation (lease until {until}); retry after it")]
    LeaseHeld { alert: String, until: DateTime<Utc> },
    /// Publishing failed; the lease was given back, so a retry sends at once.
    #[error("alert {alert} not published: {error}")]
    Publish { alert: String, error: DeliveryError },
    /// Published, but the `sent` mark was not written: a retry after the lease publishes
    /// again, a duplicate subscribers drop by the alert id.
    #[error("alert {alert} published but not recorded as sent: {error}")]
    Unrecorded { alert: String, error: DeliveryError },
}

/// Delivers `alert` at least once: lease, publish, mark sent; on a failed publish, gives
/// the lease back. `now` is the invocation's clock, for the lease and the mark's expiry.
pub async fn fan_out(
    ledger: &impl AlertLedger,
    notifier: &impl Notifier,
    alert: &Alert,
    now: DateTime<Utc>,
) -> Result<FanOut, FanOutError> {
    let lease = match ledger.lease(&alert.id, now).await.map_err(FanOutError::Ledger)? {
        Claim::Leased(lease) => lease,
        Claim::Sent => return Ok(FanOut::Duplicate),
        Claim::Held { until } => return Err(FanOutError::LeaseHeld { alert: alert.id.clone(), until }),
    };
    if let Err(error) = notifier.notify(std::slice::from_ref(alert)).await {
        if let Err(release) = ledger.release(&alert.id, lease).await {
            // Not lost: the lease expires and a retry after it sends.
            tracing::warn!(alert = %alert.id, %release, until = %lease.until, "lease not given back");
        }
        return Err(FanOutError::Publish { alert: alert.id.clone(), error });
    }
    // Failing here, like dying here, leaves the lease to expire: a retry then publishes
    // again rather than risk the alert never going out.
    ledger
        .mark_sent(&alert.id, now)
        .await
        .map_err(|error| FanOutError::Unrecorded { alert: alert.id.clone(), error })?;
    Ok(FanOut::Sent)
}

/// An alert's line in [`MemoryAlerts`]' ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    Sending(Lease),
    Sent,
}

/// The same rules as the DynamoDB ledger, with a [`DEFAULT_LEASE`].
impl AlertLedger for MemoryAlerts {
    async fn lease(&self, alert_id: &str, now: DateTime<Utc>) -> Result<Claim, DeliveryError> {
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        match ledger.get(alert_id) {
            Some(Entry::Sent) => Ok(Claim::Sent),
            Some(Entry::Sending(lease)) if lease.until >= now => Ok(Claim::Held { until: lease.until }),
            _ => {
                let lease = Lease::starting(now, DEFAULT_LEASE);
                ledger.insert(alert_id.to_owned(), Entry::Sending(lease));
                Ok(Claim::Leased(lease))
            }
        }
    }

    async fn mark_sent(&self, alert_id: &str, _: DateTime<Utc>) -> Result<(), DeliveryError> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner()).insert(alert_id.to_owned(), Entry::Sent);
        Ok(())
    }

    async fn release(&self, alert_id: &str, lease: Lease) -> Result<(), DeliveryError> {
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if ledger.get(alert_id) == Some(&Entry::Sending(lease)) {
            ledger.remove(alert_id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Decision, Reason, Verdict};
    use crate::ids::TransactionId;
    use pollster::block_on;

    fn alert() -> Alert {
        let tx =
            crate::test_support::tx("tx-9", "4111111111111111", "term-7", "12000", "2018-05-01T09:30:00Z");
        let decision = Decision {
            transaction_id: TransactionId::parse("tx-9").unwrap(),
            score: 0.93,
            verdict: Verdict::Block,
            reasons: vec![Reason {
                code: "RULE_AMOUNT_OVER_THRESHOLD".into(),
                detail: "12000 USD > 10000".into(),
            }],
        };
        Alert::for_decision(&decision, &tx).unwrap()
    }

    fn at(seconds: u64) -> DateTime<Utc> {
        let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        start + Duration::from_secs(seconds)
    }

    struct Down;
    impl Notifier for Down {
        async fn notify(&self, _: &[Alert]) -> Result<(), DeliveryError> {
            Err(DeliveryError { service: "SNS", message: "throttled".into() })
        }
    }

    /// A ledger whose `sent` mark never lands: the invocation dies after publishing.
    struct DiesBeforeMarking<'a>(&'a MemoryAlerts);
    impl AlertLedger for DiesBeforeMarking<'_> {
        async fn lease(&self, alert_id: &str, now: DateTime<Utc>) -> Result<Claim, DeliveryError> {
            self.0.lease(alert_id, now).await
        }
        async fn mark_sent(&self, _: &str, _: DateTime<Utc>) -> Result<(), DeliveryError> {
            Err(DeliveryError { service: "DynamoDB", message: "connection reset".into() })
        }
        async fn release(&self, alert_id: &str, lease: Lease) -> Result<(), DeliveryError> {
            self.0.release(alert_id, lease).await
        }
    }

    #[test]
    fn an_alert_goes_out_once_and_a_redelivery_is_a_duplicate() {
        let (alert, memory) = (alert(), MemoryAlerts::default());
        assert_eq!(block_on(fan_out(&memory, &memory, &alert, at(0))).unwrap(), FanOut::Sent);
        assert_eq!(block_on(fan_out(&memory, &memory, &alert, at(1))).unwrap(), FanOut::Duplicate);
        assert_eq!(block_on(fan_out(&memory, &memory, &alert, at(3600))).unwrap(), FanOut::Duplicate);
        assert_eq!(memory.sent(), vec![alert]);
    }

    #[test]
    fn a_failed_publish_gives_the_lease_back_and_the_retry_sends() {
        let (alert, memory) = (alert(), MemoryAlerts::default());
        let failed = block_on(fan_out(&memory, &Down, &alert, at(0)));
        assert!(matches!(failed, Err(FanOutError::Publish { .. })), "{failed:?}");
        assert_eq!(block_on(fan_out(&memory, &memory, &alert, at(1))).unwrap(), FanOut::Sent);
        assert_eq!(memory.sent(), vec![alert]);
    }

    #[test]
    fn a_retry_while_another_invocation_holds_the_lease_is_an_error_not_a_duplicate() {
        let (alert, memory) = (alert(), MemoryAlerts::default());
        let Claim::Leased(theirs) = block_on(memory.lease(&alert.id, at(0))).unwrap() else {
            panic!("the first lease is free")
        };
        let live = block_on(fan_out(&memory, &memory, &alert, at(10)));
        match live {
            Err(FanOutError::LeaseHeld { until, .. }) => assert_eq!(until, theirs.until),
            other => panic!("expected a held lease, got {other:?}"),
        }
        assert!(memory.sent().is_empty());
        // Giving back a lease that is not (or no longer) held changes nothing.
        let stale = Lease::starting(at(0), Duration::from_secs(1));
        block_on(memory.release(&alert.id, stale)).unwrap();
        assert!(matches!(block_on(memory.lease(&alert.id, at(10))), Ok(Claim::Held { .. })));
    }

    #[test]
    fn an_alert_whose_invocation_died_after_publishing_is_sent_again_once_its_lease_expires() {
        let (alert, memory) = (alert(), MemoryAlerts::default());
        let died = block_on(fan_out(&DiesBeforeMarking(&memory), &memory, &alert, at(0)));
        assert!(matches!(died, Err(FanOutError::Unrecorded { .. })), "{died:?}");
        assert_eq!(memory.sent().len(), 1, "published before dying");

        let early = block_on(fan_out(&memory, &memory, &alert, at(DEFAULT_LEASE.as_secs() - 1)));
        assert!(matches!(early, Err(FanOutError::LeaseHeld { .. })), "{early:?}");
        let retry = block_on(fan_out(&memory, &memory, &alert, at(DEFAULT_LEASE.as_secs() + 1)));
        assert_eq!(retry.unwrap(), FanOut::Sent);
        assert_eq!(memory.sent(), vec![alert.clone(), alert.clone()], "a duplicate, never none");
        assert_eq!(block_on(fan_out(&memory, &memory, &alert, at(120))).unwrap(), FanOut::Duplicate);
    }

    #[test]
    fn a_lease_too_long_to_represent_ends_at_the_end_of_time() {
        assert_eq!(Lease::starting(at(0), Duration::MAX).until, DateTime::<Utc>::MAX_UTC);
        assert_eq!(Lease::starting(at(0), DEFAULT_LEASE).until, at(30));
    }
}
