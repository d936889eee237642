//! End to end through the `vigil` binary, on data it generates itself:
//! generate → labels → replay → eval, and the feature export.

use std::path::{Path, PathBuf};
use std::process::Command;

fn vigil(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).output().expect("vigil runs");
    assert!(out.status.success(), "vigil {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn replay(txs: &Path, labels: &Path, out: &Path, batch: usize) -> String {
    let batch = batch.to_string();
    vigil(&["replay", "--transactions", s(txs), "--labels", s(labels), "--out", s(out), "--batch", &batch])
}

/// The number after `name ` in `vigil eval`'s report.
fn metric(report: &str, name: &str) -> f64 {
    let after = report.split(name).nth(1).unwrap_or_else(|| panic!("no {name} in {report}"));
    after.split_whitespace().next().unwrap().parse().unwrap()
}

fn read_csv(p: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(p).unwrap();
    r.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}

#[test]
fn replay_scores_every_row_quarantines_bad_ones_and_detects_fraud() {
    let dir = tempfile::tempdir().unwrap();
    let (txs, labels, scores) =
        (path(dir.path(), "t.csv"), path(dir.path(), "l.csv"), path(dir.path(), "s.csv"));
    vigil(&[
        "generate",
        "--customers",
        "400",
        "--days",
        "70",
        "--seed",
        "11",
        "--malformed",
        "0.01",
        "--out",
        s(&txs),
    ]);
    // Labels derived from the file (known 7 days later); malformed rows have none.
    vigil(&["labels", "--transactions", s(&txs), "--out", s(&labels)]);
    let summary = replay(&txs, &labels, &scores, 500);

    let input = read_csv(&txs);
    let output = read_csv(&scores);
    assert_eq!(input.len(), output.len(), "one output row per input row");
    let quarantined: Vec<_> = output.iter().filter(|r| r[2] == "QUARANTINE").collect();
    assert!(!quarantined.is_empty());
    assert!(
        quarantined.iter().all(|r| r[1] == "0"
            && (r[3].starts_with("INVALID_AMOUNT") || r[3].starts_with("MISSING_FIELD"))),
        "{quarantined:?}"
    );
    for (i, o) in input.iter().zip(&output) {
        assert_eq!(i[0], o[0], "rows keep input order");
        if o[2] != "QUARANTINE" {
            let score: f32 = o[1].parse().unwrap();
            assert!((0.0..=1.0).contains(&score));
            assert!(["ACCEPT", "REVIEW", "BLOCK"].contains(&o[2].as_str()));
            assert_eq!(o[2] != "ACCEPT", !o[3].is_empty(), "alerts and only alerts carry reasons: {o:?}");
        }
    }
    assert!(summary.contains(&format!("{} quarantined", quarantined.len())), "{summary}");

    // The model was trained on the handbook's simulator; it must rank this data's fraud well.
    let report = vigil(&[
        "eval",
        "--transactions",
        s(&txs),
        "--scores",
        s(&scores),
        "--test-from",
        "2018-05-27",
        "--test-days",
        "14",
    ]);
    let (auc, ap) = (metric(&report, "AUC ROC "), metric(&report, "average precision "));
    assert!(auc > 0.85 && ap > 0.5, "{report}");

    // Replays are deterministic.
    let again = path(dir.path(), "s2.csv");
    replay(&txs, &labels, &again, 97);
    assert_eq!(std::fs::read(&scores).unwrap(), std::fs::read(&again).unwrap(), "batch size changes nothing");
}

#[test]
fn feature_export_has_the_model_contract_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (txs, feats) = (path(dir.path(), "t.csv"), path(dir.path(), "f.csv"));
    vigil(&["generate", "--customers", "50", "--days", "5", "--out", s(&txs)]);
    vigil(&["features", "--transactions", s(&txs), "--out", s(&feats)]);
    let header = csv::Reader::from_path(&feats).unwrap().headers().unwrap().clone();
    let names: Vec<&str> = header.iter().collect();
    assert_eq!(&names[4..names.len() - 1], vigil_shared::FEATURE_NAMES);
    assert_eq!(read_csv(&feats).len(), read_csv(&txs).len());
}

#[test]
fn bad_files_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = path(dir.path(), "bad.csv");
    std::fs::write(&bad, "id,amount\n1,2\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["replay", "--transactions", s(&bad)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing column `transaction_id`"));
}
