//! The scorer on transfers, cash and customer profiles: AML state moved exactly once,
//! CTRs per owning customer, screening hits, labels, and every retry shape.

use super::*;
use crate::alert::{About, Audience};
use crate::store::MemoryStateStore;
use crate::test_support::{AmountModel, FaultyStore};
use crate::{AccountId, Currency, Verdict};
use pollster::block_on;

fn now() -> DateTime<Utc> {
    "2024-06-01T00:00:00Z".parse().unwrap()
}

fn event(json: &str) -> Event {
    Event::from_json(json.as_bytes(), Currency::USD, now()).unwrap()
}

fn transfer(id: &str, payer: &str, payee: &str, amount: &str, at: &str) -> Event {
    event(&format!(
        r#"{{"channel":"transfer","transaction_id":"{id}","payer_account":"{payer}","payee_account":"{payee}","amount":"{amount}","timestamp":"{at}"}}"#
    ))
}

fn cash(id: &str, account: &str, amount: &str, at: &str) -> Event {
    event(&format!(
        r#"{{"channel":"cash_deposit","transaction_id":"{id}","account_id":"{account}","location":"branch-1","amount":"{amount}","timestamp":"{at}"}}"#
    ))
}

fn profile(customer: &str, accounts: &[&str], name: &str) -> Event {
    let accounts: Vec<String> = accounts.iter().map(|a| format!("\"{a}\"")).collect();
    event(&format!(
        r#"{{"type":"customer","customer_id":"{customer}","name":"{name}","accounts":[{}],"updated_at":"2024-01-01T00:00:00Z"}}"#,
        accounts.join(",")
    ))
}

fn acct(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn policy() -> Policy {
    crate::test_support::screening_policy()
}

fn scorer() -> Scorer<MemoryStateStore, AmountModel> {
    Scorer::new(MemoryStateStore::default(), AmountModel, policy())
}

fn finding(outcome: &Outcome) -> &Finding {
    match outcome {
        Outcome::Monitored { finding, .. } => finding,
        other => panic!("not monitored: {other:?}"),
    }
}

/// Six payers who usually pay a shop 100 each pay one collector 900 within a day: a
/// fan-in of unusual payments (a shape alone only counts up to `shape_cap`).
fn fan_in() -> Vec<Event> {
    let mut events = Vec::new();
    for i in 0..6 {
        for d in 1..4 {
            events.push(transfer(
                &format!("h{i}-{d}"),
                &format!("p{i}"),
                "shop",
                "100",
                &format!("2024-04-0{d}T0{i}:00:00Z"),
            ));
        }
    }
    events.extend((0..6).map(|i| {
        transfer(&format!("f{i}"), &format!("p{i}"), "collector", "900", &format!("2024-05-01T0{i}:00:00Z"))
    }));
    events
}

#[test]
fn a_fan_in_alerts_compliance_naming_every_account_and_a_redelivery_repeats_it() {
    let s = scorer();
    let out = block_on(s.process(&fan_in(), now())).unwrap();
    let last = finding(out.last().unwrap());
    assert_ne!(last.decision.verdict, Verdict::Accept, "{:?}", last.decision);
    assert!(last.decision.reasons.iter().any(|r| r.code == "AML_FAN_IN"));
    let alert = last.alerts.iter().find(|a| a.reasons.iter().any(|r| r.code == "AML_FAN_IN")).unwrap();
    assert_eq!(alert.audience(), Audience::Compliance);
    let About::Compliance { accounts, channel, .. } = &alert.about else { panic!() };
    assert_eq!(channel, "transfer");
    for i in 0..6 {
        assert!(accounts.contains(&acct(&format!("p{i}"))), "p{i} in {accounts:?}");
    }
    assert!(accounts.contains(&acct("collector")));
    assert_eq!(s.store().account(&acct("collector")).unwrap().inflows.len(), 6);

    let before = s.store().account(&acct("collector"));
    let again = block_on(s.process(&fan_in(), now())).unwrap();
    assert!(again.iter().all(Outcome::is_repeat));
    assert_eq!(
        finding(again.last().unwrap()),
        last,
        "the same finding, alerts included, for the fan-out to dedupe"
    );
    assert_eq!(s.store().account(&acct("collector")), before, "no state moved twice");
}

fn ctr_batch() -> Vec<Event> {
    vec![
        profile("cust-1", &["acc-1", "acc-2"], "Jane Example"),
        cash("c1", "acc-1", "6000.10", "2024-05-02T09:00:00Z"),
        cash("c2", "acc-2", "4000.00", "2024-05-02T15:00:00Z"),
        cash("c3", "acc-2", "0.01", "2024-05-02T23:59:59Z"),
        cash("c4", "acc-2", "9000", "2024-05-03T00:00:00Z"),
    ]
}

fn check_ctr(out: &[Outcome]) {
    assert!(finding(&out[1]).filings.is_empty(), "6,000.10 alone is under");
    let first = &finding(&out[2]).filings;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].owner.key(), "customer#cust-1", "both accounts' cash, one owner");
    assert_eq!(first[0].total, rust_decimal::Decimal::new(1_000_010, 2), "exact to the cent");
    assert_eq!(first[0].count, 2);
    let again = &finding(&out[3]).filings[0];
    assert_eq!(
        (again.total, again.revision, again.transactions.len()),
        (rust_decimal::Decimal::new(1_000_011, 2), 2, 3)
    );
    assert!(finding(&out[4]).filings.is_empty(), "a new business day starts from nothing");
    assert!(
        out.iter().all(|o| finding(o).alerts.iter().all(|a| a.reasons.iter().all(|r| r.code != "CTR"))),
        "a CTR is a filing, not an alert"
    );
}

#[test]
fn cash_is_aggregated_per_owning_customer_per_business_day_into_one_ctr() {
    let s = scorer();
    check_ctr(&block_on(s.process(&ctr_batch(), now())).unwrap());
}

#[test]
fn the_owner_a_stored_profile_names_is_found_by_a_later_batch() {
    let s = scorer();
    let out: Vec<Outcome> =
        ctr_batch().into_iter().map(|e| block_on(s.process(&[e], now())).unwrap().remove(0)).collect();
    check_ctr(&out);
    assert!(s.store().cash_day("customer#cust-1").is_some());
    assert!(s.store().cash_day("account#acc-1").is_none());
}

#[test]
fn a_payee_on_a_list_is_blocked_or_reviewed_with_the_entry_and_the_list_version() {
    let s = scorer();
    let named = |id: &str, name: &str| {
        event(&format!(
            r#"{{"channel":"transfer","transaction_id":"{id}","payer_account":"a1","payee_account":"b1","payee_name":"{name}","payee_bic":"DEUTDEFF","amount":"120","timestamp":"2024-05-01T10:00:00Z"}}"#
        ))
    };
    let events = [
        named("s1", "Zentara Maritime Holdings"),
        named("s2", "Dmitri Karvosh"),
        named("s3", "Jane Example"),
    ];
    let out = block_on(s.process(&events, now())).unwrap();
    for o in &out[..2] {
        let f = finding(o);
        assert_ne!(f.decision.verdict, Verdict::Accept, "{:?}", f.decision);
        let hit = &f.decision.reasons[0];
        assert_eq!(hit.code, "SANCTIONS_HIT");
        assert!(hit.detail.contains("ofac:9000") && hit.detail.contains("DEMO-"), "{}", hit.detail);
        let alert = f.alerts.iter().find(|a| a.id.starts_with("sanctions:")).unwrap();
        let About::Compliance { list_version, accounts, .. } = &alert.about else { panic!() };
        assert_eq!(list_version, &f.list_version);
        assert!(list_version.is_some());
        assert_eq!(accounts, &[acct("a1")]);
    }
    let clear = finding(&out[2]);
    assert_eq!(clear.decision.verdict, Verdict::Accept);
    assert!(clear.list_version.is_some(), "every screening records the lists it used");
    assert!(!format!("{out:?}").contains("Jane Example"), "the screened name is not kept");
}

#[test]
fn a_customer_profile_is_screened_and_its_accounts_learn_their_owner() {
    let s = scorer();
    let out =
        block_on(s.process(&[profile("cust-9", &["x1", "x2"], "Ana Lucia Velasco Ruiz")], now())).unwrap();
    let f = finding(&out[0]);
    assert_ne!(f.decision.verdict, Verdict::Accept);
    let About::Compliance { accounts, customer_masked, channel, .. } = &f.alerts[0].about else { panic!() };
    assert_eq!((channel.as_str(), accounts.len()), ("customer profile", 2));
    assert_eq!(customer_masked.as_deref(), Some("****t-9"));
    let owner = s.store().account(&acct("x2")).unwrap().profile.owner;
    assert_eq!(owner.map(|o| o.as_str().to_owned()).as_deref(), Some("cust-9"));
}

#[test]
fn a_label_on_a_transfer_is_recorded_once() {
    let s = scorer();
    block_on(s.process(&fan_in(), now())).unwrap();
    let label = |fraud: bool| {
        event(&format!(
            r#"{{"type":"label","transaction_id":"f1","fraud":{fraud},"known_at":"2024-05-09T00:00:00Z"}}"#
        ))
    };
    let out = block_on(s.process(&[label(true), label(true)], now())).unwrap();
    assert!(matches!(out[0], Outcome::Labelled { fraud: true, corrected: false, .. }));
    assert!(matches!(out[1], Outcome::LabelDuplicate { .. }));
    let Some(crate::store::Record { state: crate::store::RecordState::Monitored(r), .. }) =
        s.store().record(&TransactionId::parse("f1").unwrap())
    else {
        panic!()
    };
    assert!(r.label.is_some_and(|l| l.fraud));
}

#[test]
fn a_label_ahead_of_its_transfer_waits_and_joins_it() {
    let s = scorer();
    let label =
        event(r#"{"type":"label","transaction_id":"f2","fraud":true,"known_at":"2024-05-09T00:00:00Z"}"#);
    let out = block_on(s.process(std::slice::from_ref(&label), now())).unwrap();
    assert!(matches!(out[0], Outcome::LabelParked { .. }));
    let mut events = vec![label];
    events.extend(fan_in());
    block_on(s.process(&events, now())).unwrap();
    let Some(crate::store::Record { state: crate::store::RecordState::Monitored(r), .. }) =
        s.store().record(&TransactionId::parse("f2").unwrap())
    else {
        panic!()
    };
    assert!(r.label.is_some_and(|l| l.fraud));
}

/// 12 accounts paying each other round-robin, 60 transfers over a day, and cash.
fn stream() -> Vec<Event> {
    let mut events = Vec::new();
    for i in 0..60 {
        let at = format!("2024-05-01T{:02}:{:02}:00Z", i / 6, (i % 6) * 10);
        events.push(transfer(
            &format!("x{i}"),
            &format!("a{}", i % 12),
            &format!("a{}", (i + 5) % 12),
            "20",
            &at,
        ));
        if i % 9 == 4 {
            events.push(cash(&format!("k{i}"), &format!("a{}", i % 12), "3000", &at));
        }
    }
    events
}

/// Every transfer counted once: each account paid 5 times and was paid 5 times, and cash
/// days hold each deposit once.
fn check_exactly_once(store: &MemoryStateStore, events: &[Event]) {
    for a in 0..12 {
        let state = store.account(&acct(&format!("a{a}"))).unwrap();
        assert_eq!(state.payments, 5, "a{a} paid");
        assert_eq!(state.inflows.len(), 5, "a{a} was paid");
    }
    let deposits: u32 =
        (0..12).filter_map(|a| store.cash_day(&format!("account#a{a}"))).map(|d| d.deposits.count).sum();
    assert_eq!(deposits as usize, events.iter().filter(|e| e.channel() == Some("cash_deposit")).count());
}

/// A crash after k of n units, then each retry shape Lambda produces (the same batch,
/// its halves, the rest from a checkpoint with newer records, another order): every
/// transfer and cash movement moves state exactly once.
#[test]
fn a_crash_after_k_units_then_any_retry_shape_moves_account_state_once() {
    let events = stream();
    let (head, newer) = events.split_at(events.len() - 10);
    for k in [0, 1, 7, 23] {
        let shapes = crate::test_support::retry_shapes(head, newer);
        for (shape, retries) in shapes.into_iter().enumerate() {
            let s = Scorer::new(FaultyStore::default(), AmountModel, policy());
            *s.store().crash_after.lock().unwrap() = Some(k);
            assert!(block_on(s.process(head, now())).is_err(), "k={k}: crashed");
            for retry in retries {
                block_on(s.process(&retry, now())).unwrap();
            }
            block_on(s.process(&events, now())).unwrap();
            let out = block_on(s.process(&events, now())).unwrap();
            assert!(out.iter().all(Outcome::is_repeat), "k={k} shape={shape}");
            check_exactly_once(&s.store().inner, &events);
        }
    }
}

#[test]
fn a_unit_another_writer_moved_is_redone_and_later_units_on_its_accounts_wait_for_it() {
    // Another writer moves a1 between this batch's load and commit: the first transfer's
    // unit is refused, and so are the later ones built on a1 — then redone from fresh state.
    let s = Scorer::new(FaultyStore::default(), AmountModel, policy());
    let events = stream();
    block_on(s.process(&events[..3], now())).unwrap();
    let stale = s.store().inner.account(&acct("a1")).unwrap();
    let unit = crate::store::Unit {
        accounts: vec![(acct("a1"), crate::store::Versioned { version: 1, state: stale })],
        ..crate::store::Unit::default()
    };
    block_on(s.store().inner.commit(vec![unit])).unwrap();
    block_on(s.process(&events, now())).unwrap();
    check_exactly_once(&s.store().inner, &events);
}
