//! One transaction through features + model + decision, with warm in-memory state.
//! `cargo bench -p vigil-shared --bench score`

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use vigil_shared::features::{CustomerState, TerminalState};
use vigil_shared::store::MemoryStateStore;
use vigil_shared::{
    Amount, Currency, CustomerId, Event, FeatureEngine, FraudModel, Model, Policy, Scorer, TerminalId,
    Transaction, TransactionId,
};

const CUSTOMERS: u64 = 1_000;
const TERMINALS: u64 = 2_000;

fn tx(n: u64, at: DateTime<Utc>) -> Transaction {
    // A cheap deterministic scramble so customers and terminals mix.
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Transaction {
        id: TransactionId::parse(&format!("tx-{n}")).unwrap(),
        customer: CustomerId::parse(&format!("c{}", h % CUSTOMERS)).unwrap(),
        terminal: TerminalId::parse(&format!("t{}", (h >> 20) % TERMINALS)).unwrap(),
        amount: Amount::parse(&format!("{}.{:02}", 5 + h % 150, h % 100)).unwrap(),
        currency: Currency::USD,
        at,
    }
}

fn start() -> DateTime<Utc> {
    "2018-04-01T00:00:00Z".parse().unwrap()
}

/// 30 days at ~2 payments per customer per day.
fn warm(scorer: &Scorer<MemoryStateStore, Model>) -> u64 {
    let n = CUSTOMERS * 2 * 30;
    let step = TimeDelta::seconds(86_400 * 30 / n as i64);
    let events: Vec<Event> = (0..n).map(|i| Event::Transaction(tx(i, start() + step * i as i32))).collect();
    for chunk in events.chunks(1000) {
        pollster::block_on(scorer.process(chunk, start())).unwrap();
    }
    n
}

fn bench(c: &mut Criterion) {
    let scorer = Scorer::new(MemoryStateStore::default(), Model::embedded().unwrap(), Policy::default());
    let mut n = warm(&scorer);
    let at = start() + TimeDelta::days(30);

    c.bench_function("score_one_transaction", |b| {
        b.iter(|| {
            n += 1;
            let event = [Event::Transaction(tx(n, at))];
            black_box(pollster::block_on(scorer.process(&event, at)).unwrap());
        })
    });

    let batch: Vec<Event> = (0..1000).map(|i| Event::Transaction(tx(10_000_000 + i, at))).collect();
    let mut group = c.benchmark_group("batch_1000");
    group.throughput(criterion::Throughput::Elements(1000));
    group.sample_size(20);
    group.bench_function("score_batch_1000_fresh_state", |b| {
        b.iter_batched(
            || Scorer::new(MemoryStateStore::default(), Model::embedded().unwrap(), Policy::default()),
            |s| black_box(pollster::block_on(s.process(&batch, at)).unwrap()),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();

    let engine = FeatureEngine::default();
    let (mut cs, mut ts) = (CustomerState::default(), TerminalState::default());
    for i in 0..60 {
        engine.observe(&tx(7, start() + TimeDelta::hours(12 * i)), &mut cs, &mut ts);
    }
    let one = tx(7, start() + TimeDelta::days(31));
    c.bench_function("features_only", |b| {
        b.iter(|| black_box(engine.observe(&one, &mut cs.clone(), &mut ts.clone())))
    });
    let model = Model::embedded().unwrap();
    let f = engine.observe(&one, &mut cs, &mut ts);
    // What a cold start pays once: parse, check and optimise the embedded model.
    c.bench_function("model_load", |b| b.iter(|| black_box(Model::embedded().unwrap())));
    c.bench_function("model_one_row", |b| b.iter(|| black_box(model.score(&[f]).unwrap())));
}

criterion_group!(benches, bench);
criterion_main!(benches);
