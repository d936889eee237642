//! `vigil replay --lake` then `vigil report`: every report's SQL on the embedded engine over
//! a lake the scorer's own archive path wrote from generated data, and the fraud-ops
//! numbers against an independent count from the replay's decisions and the label file.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn vigil(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).output().expect("vigil runs");
    assert!(out.status.success(), "vigil {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn rows(p: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(p).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|row| {
            headers.iter().zip(row.unwrap().iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()
        })
        .collect()
}

const AS_OF: &str = "2018-04-20T00:00:00Z";

fn report(lake: &Path, name: &str, format: &str, as_of: &str) -> String {
    vigil(&[
        "report",
        name,
        "--lake",
        s(lake),
        "--from",
        "2018-04-03",
        "--to",
        "2018-05-01",
        "--as-of",
        as_of,
        "--format",
        format,
    ])
}

#[test]
fn reports_over_a_replayed_lake_match_an_independent_count() {
    let dir = tempfile::tempdir().unwrap();
    let (txs, labels, scores, lake) = (
        dir.path().join("t.csv"),
        dir.path().join("l.csv"),
        dir.path().join("s.csv"),
        dir.path().join("lake"),
    );
    vigil(&["generate", "--customers", "300", "--days", "35", "--seed", "5", "--out", s(&txs)]);
    vigil(&["labels", "--transactions", s(&txs), "--out", s(&labels)]);
    vigil(&[
        "replay",
        "--transactions",
        s(&txs),
        "--labels",
        s(&labels),
        "--out",
        s(&scores),
        "--batch",
        "300",
        "--lake",
        s(&lake),
    ]);

    // Independently: transactions of [from, to) the lake held at as_of (ingested at their
    // own time on the replay's clock), with the labels known by then.
    let time: HashMap<String, String> =
        rows(&txs).into_iter().map(|r| (r["transaction_id"].clone(), r["tx_datetime"].clone())).collect();
    let fraud: std::collections::HashSet<String> = rows(&labels)
        .into_iter()
        .filter(|r| r["tx_fraud"] == "1" && r["known_at"].as_str() <= AS_OF)
        .map(|r| r["transaction_id"].clone())
        .collect();
    let (mut n, mut verdicts, mut alerts, mut confirmed, mut hits) = (0, HashMap::new(), 0, 0, 0);
    for r in rows(&scores) {
        let t = &time[&r["transaction_id"]];
        if t.as_str() < "2018-04-03" || t.as_str() > AS_OF {
            continue;
        }
        n += 1;
        *verdicts.entry(r["decision"].clone()).or_insert(0) += 1;
        let alerted = r["decision"] != "ACCEPT";
        let is_fraud = fraud.contains(&r["transaction_id"]);
        alerts += usize::from(alerted);
        confirmed += usize::from(is_fraud);
        hits += usize::from(alerted && is_fraud);
    }
    assert!(n > 1000 && confirmed > 10 && hits > 0, "the data exercises the report: {n} {confirmed} {hits}");

    let json: serde_json::Value = serde_json::from_str(&report(&lake, "fraud-ops", "json", AS_OF)).unwrap();
    let count = |key: &str| json[key].as_u64().unwrap() as usize;
    assert_eq!((json["from"].as_str(), json["to"].as_str()), (Some("2018-04-03"), Some("2018-05-01")));
    assert_eq!(json["as_of"], "2018-04-20T00:00:00.000Z");
    assert_eq!(count("transactions"), n);
    for v in ["ACCEPT", "REVIEW", "BLOCK"] {
        assert_eq!(
            json["verdicts"][v].as_u64().unwrap() as usize,
            verdicts.get(v).copied().unwrap_or(0),
            "{v}"
        );
    }
    assert_eq!(
        (count("alerts"), count("confirmed_frauds"), count("alerts_confirmed")),
        (alerts, confirmed, hits)
    );
    let close = |key: &str, want: f64| {
        assert!((json[key].as_f64().unwrap() - want).abs() < 1e-12, "{key}: {}", json[key])
    };
    close("alert_precision", hits as f64 / alerts as f64);
    close("fraud_recall", hits as f64 / confirmed as f64);

    // The other reports agree with it where they overlap.
    let basel: serde_json::Value =
        serde_json::from_str(&report(&lake, "basel-oprisk", "json", AS_OF)).unwrap();
    assert_eq!(basel["sections"]["loss_events"].as_array().unwrap().len(), confirmed);
    let sox: serde_json::Value = serde_json::from_str(&report(&lake, "sox-evidence", "json", AS_OF)).unwrap();
    let completeness = &sox["sections"]["completeness"][0];
    assert_eq!(completeness["decided"].as_u64().unwrap() as usize, n);
    assert_eq!(completeness["alerting_decisions"].as_u64().unwrap() as usize, alerts);
    let monitoring: serde_json::Value =
        serde_json::from_str(&report(&lake, "model-monitoring", "json", AS_OF)).unwrap();
    let buckets = monitoring["sections"]["score_distribution"].as_array().unwrap();
    assert_eq!(buckets.iter().map(|b| b["transactions"].as_u64().unwrap() as usize).sum::<usize>(), n);

    // Every report in every format; the CSV is the same numbers in long form.
    for name in ["fraud-ops", "model-monitoring", "compliance", "basel-oprisk", "sox-evidence"] {
        for format in ["json", "csv", "html"] {
            assert!(!report(&lake, name, format, AS_OF).is_empty(), "{name} {format}");
        }
    }
    let csv = report(&lake, "fraud-ops", "csv", AS_OF);
    assert!(csv.starts_with("section,row,column,value\n"));
    assert!(csv.contains(&format!("summary,0,transactions,{n}\n")), "{csv}");
    let html = report(&lake, "fraud-ops", "html", AS_OF);
    assert!(html.contains("<svg") && html.contains("Alerts per day"), "charts drawn");
}
