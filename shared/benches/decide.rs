//! One decision request through the decision API's core (parse, validate, load, features,
//! model, rules, record, hand off) against warm in-memory state: p50, p99 and max over
//! 20,000 single-transaction requests. `cargo bench -p vigil-shared --bench decide`
//!
//! Percentiles, not criterion's mean: an authorisation budget is about the tail.

use std::time::{Duration, Instant};
use vigil_shared::batch::MemoryQuarantine;
use vigil_shared::decide::{Budget, Desk};
use vigil_shared::intake::MemoryStream;
use vigil_shared::store::MemoryStateStore;
use vigil_shared::{Currency, Model, Policy, Scorer};

const CUSTOMERS: u64 = 1_000;
const TERMINALS: u64 = 2_000;
const WARM: u64 = 60_000;
const MEASURED: u64 = 20_000;

/// Request `n`: a payment of customer and terminal scrambled from `n`, `n` minutes in.
fn body(n: u64) -> String {
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let at = chrono::DateTime::UNIX_EPOCH
        + chrono::TimeDelta::days(17_622)
        + chrono::TimeDelta::seconds(43 * n as i64);
    format!(
        r#"{{"transaction_id":"tx-{n}","customer_id":"c{}","terminal_id":"t{}","amount":"{}.{:02}","timestamp":"{}"}}"#,
        h % CUSTOMERS,
        (h >> 20) % TERMINALS,
        5 + h % 150,
        h % 100,
        at.to_rfc3339()
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let scorer =
        Scorer::new(MemoryStateStore::default(), Model::embedded().expect("model"), Policy::default());
    let quarantine = MemoryQuarantine::default();
    let desk = Desk {
        stream: MemoryStream::default(),
        budget: Budget::default(),
        currency: Currency::USD,
        privacy: std::sync::Arc::new(vigil_shared::privacy::Privacy::for_tests()),
    };
    let now = chrono::Utc::now();
    let mut took: Vec<Duration> = Vec::with_capacity(MEASURED as usize);
    runtime.block_on(async {
        for n in 0..WARM + MEASURED {
            let request = body(n);
            let started = Instant::now();
            let answer = desk.decide(&scorer, &quarantine, request.as_bytes(), now).await;
            if n >= WARM {
                took.push(started.elapsed());
            }
            assert_eq!((answer.status, answer.degraded), (200, 0), "{}", answer.body);
        }
    });
    took.sort();
    let at = |p: f64| took[((took.len() as f64 * p).ceil() as usize).clamp(1, took.len()) - 1];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "decide_one ({MEASURED} requests after {WARM} warming 30 days of state): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        us(at(0.50)),
        us(at(0.99)),
        us(took[took.len() - 1])
    );
}
