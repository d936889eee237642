//! How long a function's AWS calls may take. Without bounds, a connection that stalls or a
//! service that stops answering holds the call until Lambda kills the invocation at its
//! timeout: no error in the logs, and the whole time billed. With them, the call fails, the
//! handler reports it (a batch item failure, a 503, an error Lambda retries) and the
//! invocation ends well inside its timeout.
//!
//! Each function's numbers come from its Lambda timeout (template.yaml) and from what a
//! healthy call costs: DynamoDB, SNS, EventBridge and Kinesis answer in milliseconds, the
//! biggest requests (a 5 MB PutRecords, a batch's Parquet or quarantine object) in well under
//! a second. An attempt gets many times that; the operation (all attempts and backoff) is
//! capped so that the calls an invocation makes one after another fit its timeout.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// One function's bounds on every AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The function's Lambda timeout (template.yaml `Timeout`) these are sized for.
    pub function: Duration,
    /// To open a connection, TLS included: milliseconds within a region.
    pub connect: Duration,
    /// One attempt, from sending the request to the response read. A streamed response
    /// body (S3 GetObject) is read after the call: the SDK's stalled-stream protection,
    /// on by default, fails it if no byte comes for 5 s.
    pub attempt: Duration,
    /// The whole call: every attempt and the backoff between them.
    pub operation: Duration,
    /// Attempts per call, the first included (the SDK retries throttling, 5xx and
    /// timeouts).
    pub max_attempts: u32,
    /// Backoff before the first retry; each next one doubles (jittered down).
    pub initial_backoff: Duration,
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Timeouts {
    /// Scorer (120 s): a 10,000-record batch makes hundreds of calls, 8 in flight, each a
    /// few milliseconds to a few hundred (a 100-item TransactWriteItems, a Parquet PUT). A
    /// call that fails after 20 s ends the batch with a batch item failure and leaves the
    /// event source 100 s to spare; 1 s backoff gives DynamoDB throttling time to pass.
    pub const SCORER: Timeouts = Timeouts {
        function: secs(120),
        connect: secs(2),
        attempt: secs(5),
        operation: secs(20),
        max_attempts: 3,
        initial_backoff: secs(1),
    };

    /// Alerts (15 s): at most three calls one after another (lease, publish, mark sent or
    /// release), each tens of milliseconds. 3 s each is 9 s in all, 6 s to spare, and
    /// every call gets at least two attempts.
    pub const ALERTS: Timeouts = Timeouts {
        function: secs(15),
        connect: Duration::from_millis(500),
        attempt: secs(1),
        operation: secs(3),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(100),
    };

    /// Decision API (5 s): the request bounds its own waits (the store budget, 150 ms; the
    /// stream hand-off, 1 s) and goes on without the call; these bound what is left in
    /// flight (a write finishing, the quarantine of a failed hand-off) well inside the
    /// timeout. Connections are warm after an environment's first request.
    pub const DECISIONS: Timeouts = Timeouts {
        function: secs(5),
        connect: Duration::from_millis(300),
        attempt: Duration::from_millis(500),
        operation: Duration::from_millis(1_200),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
    };

    /// Producer (300 s, but its API answers through API Gateway, which gives up after
    /// 30 s): 25 s per call lets the API say 503 itself. An attempt of 10 s covers a 5 MB
    /// PutRecords or a 100 MB quarantine object at 10 MB/s; a stalled file read fails
    /// through stalled-stream protection.
    pub const PRODUCER: Timeouts = Timeouts {
        function: secs(300),
        connect: secs(2),
        attempt: secs(10),
        operation: secs(25),
        max_attempts: 3,
        initial_backoff: secs(1),
    };

    /// Backup copier (900 s): a CopyObject of up to 256 MiB or an UploadPartCopy of a
    /// 64 MiB part is seconds of S3's work, answered when done; 60 s an attempt, three
    /// minutes a call, and a failed call still leaves most of the function's time to
    /// report it. A streamed body (GetObject, a blob) fails on stalls, not on length.
    pub const BACKUP: Timeouts = Timeouts {
        function: secs(900),
        connect: secs(2),
        attempt: secs(60),
        operation: secs(180),
        max_attempts: 3,
        initial_backoff: secs(1),
    };

    /// Report trigger (900 s): Athena answers its control calls in milliseconds and a
    /// results page (1,000 rows) or a report object in well under a second; the queries'
    /// own running time is the invocation's deadline, not these (the trigger polls).
    pub const REPORTS: Timeouts = Timeouts {
        function: secs(900),
        connect: secs(2),
        attempt: secs(20),
        operation: secs(60),
        max_attempts: 3,
        initial_backoff: secs(1),
    };

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
    }

    /// `loader` with these bounds on every client built from its configuration.
    pub fn apply(&self, loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
        loader.timeout_config(self.timeout_config()).retry_config(self.retry_config())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(&str, Timeouts); 6] = [
        ("backup", Timeouts::BACKUP),
        ("reports", Timeouts::REPORTS),
        ("scorer", Timeouts::SCORER),
        ("alerts", Timeouts::ALERTS),
        ("producer", Timeouts::PRODUCER),
        ("decisions", Timeouts::DECISIONS),
    ];

    #[test]
    fn a_call_fails_well_inside_its_function_and_gets_a_retry_first() {
        for (name, t) in ALL {
            assert!(t.connect < t.attempt, "{name}: a connection fits an attempt");
            let retried = t.attempt * 2 + t.initial_backoff;
            assert!(retried <= t.operation, "{name}: a timed-out attempt is retried once at least");
            assert!(
                t.operation * 4 <= t.function,
                "{name}: a failed call leaves most of the function's time"
            );
            assert!((2..=5).contains(&t.max_attempts), "{name}: bounded retries");
        }
        // The alerts function's lease, publish and mark (or release) come one after another.
        let alerts = Timeouts::ALERTS;
        assert!(alerts.operation * 3 + secs(5) <= alerts.function);
        // The producer's API answers before API Gateway's 30 s integration timeout.
        assert!(Timeouts::PRODUCER.operation < secs(30));
    }

    #[test]
    fn the_sdk_configuration_carries_them() {
        let t = Timeouts::ALERTS;
        let timeouts = t.timeout_config();
        assert_eq!(timeouts.connect_timeout(), Some(t.connect));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(t.attempt));
        assert_eq!(timeouts.operation_timeout(), Some(t.operation));
        let retries = t.retry_config();
        assert_eq!(retries.max_attempts(), t.max_attempts);
        assert_eq!(retries.initial_backoff(), t.initial_backoff);
    }
}
