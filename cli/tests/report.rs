//! `vigil replay --lake` then `vigil report`: every report's SQL on the embedded engine over
//! a lake the scorer's own archive path wrote from generated data, and the fraud-ops
//! numbers against an independent count from the replay's decisions and the label file.

use crate::browser;

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

/// The training baseline `infra/model/baseline.py` recorded for `version`, read from its file.
fn baseline(version: &serde_json::Value) -> [f64; 10] {
    let version = format!("('{}',", version.as_str().expect("a model version"));
    let mut shares = [f64::NAN; 10];
    for line in include_str!("../../infra/reports/baselines.sql").lines() {
        if let Some(row) = line.trim().strip_prefix(&version) {
            let (bucket, share) = row.trim_end_matches([',', ')']).split_once(',').unwrap();
            shares[bucket.trim().parse::<usize>().unwrap()] = share.trim().parse().unwrap();
        }
    }
    assert!(shares.iter().all(|s| s.is_finite()), "a baseline for {version}");
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{version}'s shares sum to one: {shares:?}");
    shares
}

/// PSI as the report defines it: shares floored at 0.0001, rounded to 6 places.
fn population_stability(counts: &[usize; 10], expected: &[f64; 10]) -> f64 {
    let total = counts.iter().sum::<usize>() as f64;
    let psi: f64 = counts
        .iter()
        .zip(expected)
        .map(|(n, e)| {
            let (a, e) = ((*n as f64 / total).max(1e-4), e.max(1e-4));
            (a - e) * (a / e).ln()
        })
        .sum();
    (psi * 1e6).round() / 1e6
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
    let mut tenths = [0_usize; 10];
    for r in rows(&scores) {
        let t = &time[&r["transaction_id"]];
        if t.as_str() < "2018-04-03" || t.as_str() > AS_OF {
            continue;
        }
        n += 1;
        let score: f32 = r["score"].parse().unwrap();
        // In 32 bits, as both engines multiply the stored REAL.
        tenths[((score * 10.0_f32).floor() as usize).min(9)] += 1;
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
    let model_version = monitoring["sections"]["verdict_mix"][0]["model_version"].clone();
    let buckets = monitoring["sections"]["score_distribution"].as_array().unwrap();
    assert_eq!(buckets.iter().map(|b| b["transactions"].as_u64().unwrap() as usize).sum::<usize>(), n);
    assert_eq!(buckets.len(), 10, "every tenth listed for the one model version");
    let psi = &monitoring["sections"]["psi"][0];
    assert_eq!(psi["model_version"], model_version);
    assert_eq!(psi["transactions"].as_u64().unwrap() as usize, n);
    let want = population_stability(&tenths, &baseline(&model_version));
    assert!((psi["psi"].as_f64().unwrap() - want).abs() < 1e-6, "psi {} against {want}", psi["psi"]);

    // Every report in every format; the CSV is the same numbers in long form.
    // Each page opened in headless Chromium: no console message, every chart at its size.
    for name in ["fraud-ops", "model-monitoring", "compliance", "basel-oprisk", "sox-evidence"] {
        for format in ["json", "csv"] {
            assert!(!report(&lake, name, format, AS_OF).is_empty(), "{name} {format}");
        }
        browser::check(&report(&lake, name, "html", AS_OF), dir.path(), name);
    }
    let csv = report(&lake, "fraud-ops", "csv", AS_OF);
    assert!(csv.starts_with("section,row,column,value\n"));
    assert!(csv.contains(&format!("summary,0,transactions,{n}\n")), "{csv}");
    let html = report(&lake, "fraud-ops", "html", AS_OF);
    assert!(html.contains("<svg") && html.contains("Alerts per day"), "charts drawn");
}

#[test]
fn the_page_check_fails_a_console_error_a_shrunken_chart_and_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let page = "<!DOCTYPE html><html><body><section><table></table><figure><svg width=\"10\" height=\"10\"></svg>\
                </figure><div style=\"width:2000px\">wide</div></section><script>console.error(\"broken\")</script>\
                </body></html>";
    let opened = browser::open(page, dir.path(), "broken");
    assert!(opened.console.iter().any(|l| l.contains("broken")), "{:?}", opened.console);
    let layout = opened.layout.expect("the probe reports");
    assert_eq!((layout.charts, layout.charts_at_size, layout.sections, layout.overflow), (1, 0, 1, true));
    assert_eq!(browser::png_size(&opened.screenshot).0, 1200);
    let checked = std::panic::catch_unwind(|| browser::check(page, dir.path(), "broken-checked"));
    assert!(checked.is_err(), "the check a report page passes refuses this one");
}
