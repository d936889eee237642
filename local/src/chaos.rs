//! Failures Lambda really produces, injected where they happen, for `vigil drill`: a
//! function killed part-way (a timeout, an out-of-memory, a panic: its invocation simply
//! stops, with whatever requests it had sent), a batch delivered again, a batch item
//! failure retried from its checkpoint with newer records. Service faults (throttling,
//! conflicts, calls that time out after they were applied) are injected at the protocol by
//! the moto wrapper (`moto::set_faults`).

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How often each failure is injected.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    /// Scorer invocations killed: after their first few DynamoDB transactions were answered
    /// (mid-save), or at a random moment.
    pub kill_scorer: f64,
    /// Batches the event source delivers again after they succeeded.
    pub redeliver: f64,
    /// Alerts invocations killed right after SNS took the message (before it is marked sent).
    pub kill_alerts_after_publish: f64,
}

/// The drill's dice and what they injected.
#[derive(Debug)]
pub struct Chaos {
    pub rates: Rates,
    rng: Mutex<SmallRng>,
    pub scorer_kills: AtomicUsize,
    /// Of those, kills after at least one transaction was answered.
    pub scorer_kills_mid_save: AtomicUsize,
    pub redeliveries: AtomicUsize,
    pub alert_kills: AtomicUsize,
}

impl Chaos {
    pub fn new(rates: Rates, seed: u64) -> Self {
        Chaos {
            rates,
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
            scorer_kills: AtomicUsize::new(0),
            scorer_kills_mid_save: AtomicUsize::new(0),
            redeliveries: AtomicUsize::new(0),
            alert_kills: AtomicUsize::new(0),
        }
    }

    /// True with probability `rate`.
    pub fn roll(&self, rate: f64) -> bool {
        rate > 0.0 && self.rng.lock().unwrap_or_else(|p| p.into_inner()).random_bool(rate.min(1.0))
    }

    /// Where to kill a scorer invocation, if this one dies.
    pub fn scorer_kill(&self) -> Option<Kill> {
        if !self.roll(self.rates.kill_scorer) {
            return None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        Some(if rng.random_bool(0.75) {
            Kill::AfterCalls(rng.random_range(1..=3))
        } else {
            Kill::After(Duration::from_millis(rng.random_range(1..=150)))
        })
    }
}

/// When an invocation dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    /// Once this many more of the watched calls have been answered.
    AfterCalls(usize),
    After(Duration),
}

/// Fires when a watched call has been answered `n` times since it was armed: a function's
/// client reports its answers here, and the invocation is dropped when it fires.
#[derive(Debug, Default)]
pub struct Tripwire {
    remaining: AtomicUsize,
    fired: Notify,
}

impl Tripwire {
    /// Fires after `n` answers (0: disarmed).
    pub fn arm(&self, n: usize) {
        self.remaining.store(n, Ordering::SeqCst);
    }

    /// Resolves when it fires; create it before the invocation starts.
    pub fn fired(&self) -> std::pin::Pin<Box<tokio::sync::futures::Notified<'_>>> {
        let mut notified = Box::pin(self.fired.notified());
        notified.as_mut().enable();
        notified
    }

    fn answered(&self) {
        let step = self.remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if step == Ok(1) {
            self.fired.notify_waiters();
        }
    }
}

/// An SDK interceptor reporting each successful answer to `operation` (an `X-Amz-Target`
/// suffix, or any request when empty) to its tripwire: the call took effect.
#[derive(Debug, Clone)]
pub struct Watch {
    pub tripwire: Arc<Tripwire>,
    pub operation: &'static str,
}

#[derive(Debug, Clone)]
struct Watched(bool);

impl aws_smithy_types::config_bag::Storable for Watched {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Intercept for Watch {
    fn name(&self) -> &'static str {
        "Watch"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let watched = self.operation.is_empty() || target.ends_with(self.operation);
        cfg.interceptor_state().store_put(Watched(watched));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Watched>().is_some_and(|w| w.0) && context.response().status().is_success() {
            self.tripwire.answered();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tripwire_fires_on_its_nth_answer_only() {
        let t = Tripwire::default();
        t.arm(2);
        let fired = t.fired();
        t.answered();
        let early = tokio::time::timeout(Duration::from_millis(20), t.fired()).await;
        assert!(early.is_err(), "one answer of two");
        t.answered();
        tokio::time::timeout(Duration::from_secs(1), fired).await.expect("fired on the second");
        t.answered();
        assert_eq!(t.remaining.load(Ordering::SeqCst), 0, "stays disarmed");
    }

    #[test]
    fn the_dice_are_seeded() {
        let rolls = |seed| {
            let c = Chaos::new(Rates { kill_scorer: 0.5, ..Rates::default() }, seed);
            (0..32).map(|_| c.scorer_kill()).collect::<Vec<_>>()
        };
        assert_eq!(rolls(3), rolls(3));
        assert!(rolls(3).iter().any(Option::is_some) && rolls(3).iter().any(Option::is_none));
    }
}
