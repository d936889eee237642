//! The compliance report over a lake the scorer wrote from a generated AML scenario, each
//! section against a count made here: CTR filings from the raw cash, typology hits,
//! screening hits and SAR candidates from the replay's own outcomes and amounts.

use super::embedded::EmbeddedLake;
use super::{Period, Table, find};
use crate::archive::DirLake;
use crate::scorer::{Outcome, Scorer};
use crate::store::MemoryStateStore;
use crate::test_support::{AmountModel, screening_policy};
use crate::{Currency, Event, Verdict};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// What the scenario sent, by transaction: for the independent counts.
struct Sent {
    amount: Decimal,
    at: DateTime<Utc>,
    /// (owner key, channel) for cash: a CTR's direction.
    cash: Option<(String, &'static str)>,
}

/// A seeded week of transfers and cash among 30 accounts (ten customers own two each),
/// with a fan-in of large payments, deposits kept just under the CTR threshold, days of
/// cash over it, and payments to a listed company.
fn scenario() -> (Vec<Event>, BTreeMap<String, Sent>) {
    let start: DateTime<Utc> = "2024-03-04T00:00:00Z".parse().unwrap();
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let owner = |a: u64| if a < 20 { format!("customer#cust-{}", a / 2) } else { format!("account#a{a}") };
    let mut lines = Vec::new();
    let mut sent = BTreeMap::new();
    for c in 0..10 {
        lines.push(format!(
            r#"{{"type":"customer","customer_id":"cust-{c}","name":"Holder Number{c}","accounts":["a{}","a{}"],"updated_at":"2024-03-01T00:00:00Z"}}"#,
            2 * c,
            2 * c + 1
        ));
    }
    let mut push = |id: String, json: String, amount: Decimal, at: DateTime<Utc>, cash| {
        lines.push(json);
        sent.insert(id, Sent { amount, at, cash });
    };
    for i in 0..400u64 {
        let at = start + TimeDelta::minutes((i * 25) as i64);
        let (from, to) = (next(30), next(30));
        let amount = Decimal::new(5_000 + next(290_000) as i64, 2);
        let id = format!("x{i}");
        if from != to {
            let json = format!(
                r#"{{"channel":"transfer","transaction_id":"{id}","payer_account":"a{from}","payee_account":"a{to}","amount":"{amount}","timestamp":"{}"}}"#,
                at.to_rfc3339()
            );
            push(id, json, amount, at, None);
        }
        if i % 7 == 3 {
            let channel = if next(3) == 0 { "cash_withdrawal" } else { "cash_deposit" };
            let amount = Decimal::new(200_000 + next(700_000) as i64, 2);
            let id = format!("k{i}");
            let json = format!(
                r#"{{"channel":"{channel}","transaction_id":"{id}","account_id":"a{from}","location":"branch-1","amount":"{amount}","timestamp":"{}"}}"#,
                at.to_rfc3339()
            );
            push(id, json, amount, at, Some((owner(from), channel)));
        }
    }
    // Six payers send an account they never paid 6,000 each within hours: a fan-in.
    for p in 0..6 {
        let (id, at) = (format!("fan{p}"), start + TimeDelta::hours(72 + p));
        let json = format!(
            r#"{{"channel":"transfer","transaction_id":"{id}","payer_account":"a{}","payee_account":"a29","amount":"6000","timestamp":"{}"}}"#,
            20 + p,
            at.to_rfc3339()
        );
        push(id, json, Decimal::from(6_000), at, None);
    }
    // Deposits just under the threshold, three in two days: structuring.
    for (d, amount) in [(0, "9500"), (1, "9400"), (1, "9300")] {
        let (id, at) = (format!("s{d}{amount}"), start + TimeDelta::hours(100 + 20 * d + 1));
        let json = format!(
            r#"{{"channel":"cash_deposit","transaction_id":"{id}","account_id":"a27","location":"branch-2","amount":"{amount}","timestamp":"{}"}}"#,
            at.to_rfc3339()
        );
        push(id, json, amount.parse().unwrap(), at, Some((owner(27), "cash_deposit")));
    }
    // Cash out of both of a customer's accounts on one day: 12,000 and more.
    for (n, account) in [(0, 10), (1, 11)] {
        let (id, at) = (format!("w{n}"), start + TimeDelta::hours(50 + n));
        let json = format!(
            r#"{{"channel":"cash_withdrawal","transaction_id":"{id}","account_id":"a{account}","location":"atm-7","amount":"6000","timestamp":"{}"}}"#,
            at.to_rfc3339()
        );
        push(id, json, Decimal::from(6_000), at, Some((owner(account), "cash_withdrawal")));
    }
    // A listed company paid twice, once under 5,000.
    for (n, amount) in [(0, "7000"), (1, "1200")] {
        let (id, at) = (format!("sdn{n}"), start + TimeDelta::hours(130 + n));
        let json = format!(
            r#"{{"channel":"transfer","transaction_id":"{id}","payer_account":"a3","payee_account":"x-ext-{n}","payee_name":"Zentara Maritime Holdings LLC","amount":"{amount}","timestamp":"{}"}}"#,
            at.to_rfc3339()
        );
        push(id, json, amount.parse().unwrap(), at, None);
    }
    let now: DateTime<Utc> = "2024-03-20T00:00:00Z".parse().unwrap();
    let mut events: Vec<Event> =
        lines.iter().map(|l| Event::from_json(l.as_bytes(), Currency::USD, now).unwrap()).collect();
    events.sort_by_key(Event::time);
    (events, sent)
}

fn column(table: &Table, name: &str) -> Vec<String> {
    (0..table.rows.len()).map(|r| table.get(r, name).to_string()).collect()
}

#[tokio::test]
async fn the_compliance_report_agrees_with_the_scenario_and_the_replays_outcomes() {
    let (events, sent) = scenario();
    let dir = tempfile::tempdir().unwrap();
    let lake = DirLake::new(dir.path());
    let scorer = Scorer::new(MemoryStateStore::default(), AmountModel, screening_policy());
    let origin = vec![None; events.len()];
    let mut findings = Vec::new();
    crate::replay::run(&scorer, &events, &origin, 23, Some(&lake), |_, outcome| {
        if let Outcome::Monitored { finding, .. } = outcome {
            findings.push(*finding);
        }
    })
    .unwrap();
    let period = Period::new(
        "2024-03-04".parse().unwrap(),
        "2024-03-11".parse().unwrap(),
        "2024-03-20T00:00:00Z".parse().unwrap(),
    )
    .unwrap();
    let engine = EmbeddedLake::open(dir.path()).await.unwrap();
    let result = engine.run(find("compliance").unwrap(), period).await.unwrap();
    let section = |name: &str| &result.sections.iter().find(|(n, _)| *n == name).unwrap().1;

    // CTR: every owner's cash per UTC day and direction, reported when over 10,000.
    let mut days: BTreeMap<(NaiveDate, String, &str), (Decimal, u32)> = BTreeMap::new();
    for s in sent.values() {
        if let Some((owner, direction)) = &s.cash {
            let day = days.entry((s.at.date_naive(), owner.clone(), direction)).or_default();
            *day = (day.0 + s.amount, day.1 + 1);
        }
    }
    let want: BTreeSet<String> = days
        .iter()
        .filter(|(_, (total, _))| *total > Decimal::from(10_000))
        .map(|((day, owner, direction), (total, count))| format!("{day} {owner} {direction} {total} {count}"))
        .collect();
    let ctr = section("ctr_filings");
    let got: BTreeSet<String> = (0..ctr.rows.len())
        .map(|r| {
            let cell = |c: &str| ctr.get(r, c).to_string();
            let total: Decimal = cell("total").parse().unwrap();
            let (day, owner, direction) = (cell("business_day"), cell("owner"), cell("direction"));
            format!("{day} {owner} {direction} {} {}", total.normalize(), cell("count"))
        })
        .collect();
    let want: BTreeSet<String> = want
        .into_iter()
        .map(|w| {
            let mut p: Vec<String> = w.split(' ').map(str::to_owned).collect();
            p[3] = p[3].parse::<Decimal>().unwrap().normalize().to_string();
            p.join(" ")
        })
        .collect();
    assert!(want.len() >= 3, "the scenario files CTRs: {want:?}");
    assert!(want.iter().any(|w| w.contains("customer#cust-5 cash_withdrawal")), "{want:?}");
    assert_eq!(got, want, "one CTR per owner, day and direction over the threshold");

    // Typologies: the transactions whose decision names each AML code, their amounts and
    // how many of them were blocked.
    let in_period = |id: &str| sent.get(id).is_some_and(|s| s.at < period.end());
    let mut typologies: BTreeMap<String, (usize, Decimal, usize)> = BTreeMap::new();
    let mut screened = BTreeSet::new();
    for f in &findings {
        let id = f.decision.transaction_id.as_str();
        if !in_period(id) {
            continue;
        }
        let codes: BTreeSet<&str> = f.decision.reasons.iter().map(|r| r.code.as_str()).collect();
        for code in codes.iter().filter(|c| c.starts_with("AML")) {
            let t = typologies.entry((*code).to_owned()).or_default();
            *t = (t.0 + 1, t.1 + sent[id].amount, t.2 + usize::from(f.decision.verdict == Verdict::Block));
        }
        if codes.contains("SANCTIONS_HIT") {
            screened.insert(id.to_owned());
        }
    }
    assert!(
        typologies.contains_key("AML_FAN_IN") && typologies.contains_key("AML_STRUCTURING"),
        "{typologies:?}"
    );
    let aml = section("aml_by_typology");
    let got: BTreeMap<String, (usize, Decimal, usize)> = (0..aml.rows.len())
        .map(|r| {
            let n = |c: &str| aml.get(r, c).as_f64().unwrap() as usize;
            let amount: Decimal = aml.get(r, "amount").to_string().parse().unwrap();
            (aml.get(r, "typology").to_string(), (n("transactions"), amount.normalize(), n("blocked")))
        })
        .collect();
    let want: BTreeMap<_, _> = typologies
        .into_iter()
        .map(|(code, (n, amount, blocked))| (code, (n, amount.normalize(), blocked)))
        .collect();
    assert_eq!(got, want);

    // Screening: both payments to the listed company, nothing else.
    assert_eq!(screened, BTreeSet::from(["sdn0".to_owned(), "sdn1".to_owned()]));
    let hits: BTreeSet<String> = column(section("sanctions_hits"), "transaction_id").into_iter().collect();
    assert_eq!(hits, screened);

    // SAR candidates: compliance alerts on 5,000 or more, due 30 days after detection.
    let want: BTreeSet<String> = findings
        .iter()
        .flat_map(|f| &f.alerts)
        .filter(|a| in_period(a.transaction_id.as_str()))
        .filter(|a| sent[a.transaction_id.as_str()].amount >= Decimal::from(5_000))
        .map(|a| format!("{} {}", a.id, (a.at.date_naive() + TimeDelta::days(30))))
        .collect();
    assert!(want.iter().any(|w| w.starts_with("sanctions:sdn0")), "{want:?}");
    assert!(!want.iter().any(|w| w.starts_with("sanctions:sdn1")), "under 5,000: no SAR candidate");
    let sar = section("sar_candidates");
    let got: BTreeSet<String> = (0..sar.rows.len())
        .map(|r| format!("{} {}", sar.get(r, "alert_id"), &sar.get(r, "due").to_string()[..10]))
        .collect();
    assert_eq!(got, want);
}
