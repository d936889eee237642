//! Time travel on the embedded engine, over a lake the pipeline's own `archive` wrote.

use super::embedded::EmbeddedLake;
use super::{Format, Period, find};
use crate::archive::{Clock, DirLake};
use crate::batch::BatchReport;
use crate::ids::TransactionId;
use crate::scorer::Scorer;
use crate::store::MemoryStateStore;
use crate::test_support::{AmountModel, tx};
use crate::{Event, LabelEvent, Policy};
use chrono::{DateTime, Utc};

type TestScorer = Scorer<MemoryStateStore, AmountModel>;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn card(id: &str, amount: &str, time: &str) -> Event {
    Event::Transaction(tx(id, "c1", "p1", amount, time))
}

fn label(id: &str, known_at: &str) -> Event {
    Event::Label(LabelEvent {
        transaction_id: TransactionId::parse(id).unwrap(),
        fraud: true,
        known_at: at(known_at),
    })
}

/// One batch scored and stored as the scorer function stores it, ingested at `now`.
async fn deliver(scorer: &TestScorer, lake: &DirLake, events: Vec<Event>, now: &str) {
    let outcomes = scorer.process(&events, at(now)).await.unwrap();
    let report = BatchReport::of(events, outcomes);
    crate::pipeline::archive(lake, &report, &report.alerts(), scorer.versions(), Clock::At(at(now)))
        .await
        .unwrap();
}

async fn fraud_ops(root: &std::path::Path, as_of: &str) -> String {
    let period =
        Period::new("2024-01-01".parse().unwrap(), "2024-01-08".parse().unwrap(), at(as_of)).unwrap();
    let engine = EmbeddedLake::open(root).await.unwrap();
    engine.run(find("fraud-ops").unwrap(), period).await.unwrap().render(Format::Json)
}

#[tokio::test]
async fn a_report_as_of_a_time_is_the_same_bytes_whatever_arrived_later() {
    let dir = tempfile::tempdir().unwrap();
    let lake = DirLake::new(dir.path());
    let scorer = Scorer::new(MemoryStateStore::default(), AmountModel, Policy::default());
    // AmountModel: the score is the amount / 1000, so 950 and 990 alert, 20 and 30 do not.
    deliver(
        &scorer,
        &lake,
        vec![card("t1", "20", "2024-01-01T10:00:00Z"), card("t2", "950", "2024-01-01T10:05:00Z")],
        "2024-01-01T10:06:00Z",
    )
    .await;
    deliver(
        &scorer,
        &lake,
        vec![card("t3", "990", "2024-01-01T11:00:00Z"), card("t4", "30", "2024-01-01T11:05:00Z")],
        "2024-01-01T11:06:00Z",
    )
    .await;
    deliver(&scorer, &lake, vec![label("t2", "2024-01-01T13:00:00Z")], "2024-01-01T13:00:01Z").await;
    let as_of = "2024-01-01T14:00:00Z";
    let before = fraud_ops(dir.path(), as_of).await;
    let summary: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(summary["transactions"], 4, "{before}");
    assert_eq!(summary["verdicts"]["ACCEPT"], 2);
    assert_eq!(summary["alerts"], 2);
    assert_eq!(
        (summary["confirmed_frauds"].clone(), summary["alerts_confirmed"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(summary["alert_precision"], 0.5);
    assert_eq!(summary["fraud_recall"], 1.0);
    assert_eq!(summary["as_of"], "2024-01-01T14:00:00.000Z");

    // Later: a label known before as_of but ingested after it, a transaction of the period
    // ingested late, and the first batch redelivered in another shape (its rows again).
    deliver(
        &scorer,
        &lake,
        vec![label("t1", "2024-01-01T13:30:00Z"), card("t5", "40", "2024-01-01T12:00:00Z")],
        "2024-01-03T09:00:00Z",
    )
    .await;
    deliver(&scorer, &lake, vec![card("t2", "950", "2024-01-01T10:05:00Z")], "2024-01-03T09:05:00Z").await;
    assert_eq!(fraud_ops(dir.path(), as_of).await, before, "the same as_of, the same bytes");

    let after = fraud_ops(dir.path(), "2024-01-04T00:00:00Z").await;
    let summary: serde_json::Value = serde_json::from_str(&after).unwrap();
    assert_eq!(summary["transactions"], 5, "t5 counts, the redelivered t2 once: {after}");
    assert_eq!(summary["confirmed_frauds"], 2);
    assert_eq!(summary["alerts_confirmed"], 1);
    assert_eq!(summary["fraud_recall"], 0.5);
}

#[tokio::test]
async fn an_empty_lake_reports_zeros_and_null_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let text = fraud_ops(dir.path(), "2024-01-04T00:00:00Z").await;
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["transactions"], 0, "{text}");
    assert!(summary["alert_precision"].is_null() && summary["fraud_recall"].is_null());
    for report in super::REPORTS {
        let period = Period::new(
            "2024-01-01".parse().unwrap(),
            "2024-01-08".parse().unwrap(),
            at("2024-01-09T00:00:00Z"),
        )
        .unwrap();
        let engine = EmbeddedLake::open(dir.path()).await.unwrap();
        let result = engine.run(report, period).await.unwrap_or_else(|e| panic!("{}: {e}", report.name));
        assert_eq!(result.sections.len(), report.sections.len());
    }
}

/// Every report over the first week of 2024, as JSON, and the lake's object count.
async fn all_reports(root: &std::path::Path, as_of: &str) -> Vec<String> {
    let period =
        Period::new("2024-01-01".parse().unwrap(), "2024-01-08".parse().unwrap(), at(as_of)).unwrap();
    let engine = EmbeddedLake::open(root).await.unwrap();
    let mut out = Vec::new();
    for report in super::REPORTS {
        out.push(engine.run(report, period).await.unwrap().render(Format::Json));
    }
    out
}

fn objects(root: &std::path::Path) -> usize {
    let mut n = 0;
    for table in std::fs::read_dir(root).unwrap() {
        for day in std::fs::read_dir(table.unwrap().path()).unwrap() {
            n += std::fs::read_dir(day.unwrap().path()).unwrap().count();
        }
    }
    n
}

#[tokio::test]
async fn compaction_keeps_every_report_byte_identical_while_it_runs_and_after() {
    use crate::archive::compact;
    let dir = tempfile::tempdir().unwrap();
    let lake = DirLake::new(dir.path());
    let scorer = Scorer::new(MemoryStateStore::default(), AmountModel, Policy::default());
    for i in 0..6 {
        let (id, amount) = (format!("t{i}"), if i % 2 == 0 { "950" } else { "20" });
        let events = vec![card(&id, amount, &format!("2024-01-01T1{i}:00:00Z"))];
        let now = format!("2024-01-01T1{i}:00:01Z");
        let outcomes = scorer.process(&events, at(&now)).await.unwrap();
        let mut report = BatchReport::of(events, outcomes);
        report.rejected = vec![(format!("{i}-9"), "MALFORMED")];
        crate::pipeline::archive(&lake, &report, &report.alerts(), scorer.versions(), Clock::At(at(&now)))
            .await
            .unwrap();
    }
    deliver(&scorer, &lake, vec![label("t2", "2024-01-01T18:00:00Z")], "2024-01-01T18:00:01Z").await;
    let as_of = "2024-01-03T00:00:00Z";
    let before = all_reports(dir.path(), as_of).await;
    let small = objects(dir.path());
    assert!(before.iter().any(|r| r.contains("\"quarantined\": 6")), "{before:?}");

    // Written, not yet retired: every row twice on disk, once in every report.
    let day = "2024-01-01".parse().unwrap();
    // Retirement goes by the objects' own modification times: the wall clock's.
    let now = Utc::now();
    let first = compact::day(&lake, day, now).await.unwrap();
    let decisions = first.iter().find(|c| c.partition.starts_with("decisions/")).unwrap();
    assert_eq!((decisions.inputs, decisions.rows, decisions.retired), (6, 6, 0), "{first:?}");
    assert_eq!(objects(dir.path()), small + first.iter().filter(|c| c.written.is_some()).count());
    assert_eq!(all_reports(dir.path(), as_of).await, before, "both copies there: one counted");
    assert_eq!(
        compact::day(&lake, day, now).await.unwrap().iter().filter(|c| c.written.is_some()).count(),
        0
    );

    // A day later the covered objects go; nothing else changes.
    let later = now + compact::RETIRE_AFTER + chrono::TimeDelta::hours(12);
    let second = compact::day(&lake, day, later).await.unwrap();
    assert_eq!(
        second.iter().map(|c| c.retired).sum::<usize>(),
        first.iter().map(|c| c.inputs).sum::<usize>()
    );
    assert!(second.iter().all(|c| c.written.is_none()), "{second:?}");
    let tables = crate::archive::parquet::TABLES.len();
    assert!(objects(dir.path()) <= tables, "one object per table and day: {}", objects(dir.path()));
    assert_eq!(all_reports(dir.path(), as_of).await, before);
    // A third run finds nothing to do.
    let third = compact::day(&lake, day, later).await.unwrap();
    assert!(third.iter().all(|c| c.written.is_none() && c.retired == 0), "{third:?}");
}
