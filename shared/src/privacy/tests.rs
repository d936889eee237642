use super::*;
use crate::money::Currency;
use chrono::{DateTime, Utc};
use pollster::block_on;

fn now() -> DateTime<Utc> {
    "2024-06-01T00:00:00Z".parse().unwrap()
}

fn parse(json: &str) -> Event {
    Event::from_json(json.as_bytes(), Currency::USD, now()).unwrap()
}

const TRANSFER: &str = r#"{"channel":"transfer","transaction_id":"t1","payer_account":"12345678901","payee_account":"DE89370400440532013000","payee_name":"Jane Q Public","amount":"9500","timestamp":"2024-05-01T10:00:00Z"}"#;
const PROFILE: &str = r#"{"type":"customer","customer_id":"4111111111111111","name":"Jane Q Public","accounts":["12345678901"],"updated_at":"2024-05-01T00:00:00Z"}"#;

#[test]
fn protected_events_carry_no_number_or_name_and_read_back() {
    let privacy = Privacy::for_tests();
    for (raw, clear) in [
        (TRANSFER, &["12345678901", "DE89370400440532013000", "Jane Q Public"][..]),
        (PROFILE, &["4111111111111111", "12345678901", "Jane Q Public"][..]),
        (
            r#"{"transaction_id":"c1","customer_id":"4111111111111111","terminal_id":"t","amount":"5","timestamp":"2024-05-01T10:00:00Z"}"#,
            &["4111111111111111"][..],
        ),
    ] {
        let event = block_on(privacy.protect(parse(raw))).unwrap();
        let json = event.to_json();
        for c in clear {
            assert!(!json.contains(c), "{c} in {json}");
            assert!(!format!("{event:?}").contains(c), "{c} in Debug");
        }
        // What the stream carries parses back to the same protected event, and
        // protecting again changes nothing.
        let again = block_on(privacy.protect(parse(&json))).unwrap();
        assert_eq!(again.to_json(), json);
    }
    let Event::Flow(flow) = block_on(privacy.protect(parse(TRANSFER))).unwrap() else { panic!() };
    let open = |s: &Option<Sealed>| {
        block_on(privacy.envelope.open_text(Purpose::Party, s.as_ref().unwrap())).unwrap()
    };
    assert_eq!(open(&flow.sealed.account), "12345678901");
    assert_eq!(open(&flow.sealed.payee_account), "DE89370400440532013000");
    assert_eq!(open(&flow.sealed.payee_name), "Jane Q Public");
}

#[test]
fn the_scorer_opens_names_for_screening_only_in_memory() {
    let privacy = Privacy::for_tests();
    let stream = block_on(privacy.protect(parse(TRANSFER))).unwrap().to_json();
    let mut event = privacy.tokenise(parse(&stream));
    block_on(privacy.open_names(&mut event)).unwrap();
    let Event::Flow(flow) = &event else { panic!() };
    let FlowEvent::Transfer(t) = &flow.event else { panic!() };
    assert_eq!(t.payee_name.as_ref().map(PartyName::as_str), Some("Jane Q Public"));
    assert!(!event.to_json().contains("Jane"), "an opened name is never written back");
}

#[test]
fn raw_and_protected_records_reach_the_same_tokens_and_profile_ids() {
    let privacy = Privacy::for_tests();
    let direct = privacy.tokenise(parse(PROFILE));
    let again = privacy.tokenise(parse(PROFILE));
    assert_eq!(direct.subject(), again.subject(), "a redelivered raw profile is a repeat");
    assert!(direct.subject().as_str().starts_with("profile:k"));
    let Event::Customer(p) = direct else { panic!() };
    assert_eq!(p.customer.as_str(), privacy.tokens.tokenise("4111111111111111"));
    assert_eq!(token::display(p.customer.as_str()), "411111******1111");
}
