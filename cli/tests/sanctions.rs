//! `vigil sanctions compare` and `screen` through the binary, on small lists written
//! here: the contracts the independent evaluation runs.

use std::path::Path;
use std::process::Command;

fn vigil(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).output().expect("vigil runs");
    assert!(out.status.success(), "vigil {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_csv(p: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_path(p).unwrap();
    r.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}

const SDN: &str = "\
2676,\"AL ZAWAHIRI, Dr. Ayman\",\"individual\",\"SDGT] [SDT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
6365,\"BIN LADEN, Usama bin Muhammad bin Awad\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
4234,\"HERMANN\",\"vessel\",\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
306,\"BANCO NACIONAL DE CUBA\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"a.k.a. 'BNC'.\"";
const ALT: &str =
    "6365,1,\"aka\",\"BIN LADIN, Osama\",-0- \n306,220,\"aka\",\"NATIONAL BANK OF CUBA\",-0- \n";
const UN: &str = "<CONSOLIDATED_LIST dateGenerated=\"2026-01-01\"><INDIVIDUALS><INDIVIDUAL><DATAID>77</DATAID>\
    <FIRST_NAME>HASSAN</FIRST_NAME><SECOND_NAME>NASRALLAH</SECOND_NAME><UN_LIST_TYPE>X</UN_LIST_TYPE>\
    </INDIVIDUAL></INDIVIDUALS><ENTITIES/></CONSOLIDATED_LIST>";

#[test]
fn compare_keeps_every_input_column_in_order_and_adds_score_and_match() {
    let dir = tempfile::tempdir().unwrap();
    let (pairs, out) = (dir.path().join("p.csv"), dir.path().join("s.csv"));
    std::fs::write(
        &pairs,
        "id,schema,name2,name1,note\n\
         1,Person,Usama bin Ladin,Osama bin Laden,x\n\
         2,Person,Peter Smith,John Smith,\"a, b\"\n\
         3,Company,ROSOBORONEXPORT,Rosoboronexport OOO,\n\
         4,,Hizbollah,Hezbollah,\n",
    )
    .unwrap();
    vigil(&["sanctions", "compare", "--pairs", pairs.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let rows = read_csv(&out);
    assert_eq!(rows[0], ["id", "schema", "name2", "name1", "note", "score", "match"]);
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[2][..5], ["2", "Person", "Peter Smith", "John Smith", "a, b"]);
    let matches: Vec<&str> = rows[1..].iter().map(|r| r[6].as_str()).collect();
    assert_eq!(matches, ["true", "false", "true", "true"]);
    for r in &rows[1..] {
        let score: f64 = r[5].parse().unwrap();
        assert!((0.0..=1.0).contains(&score));
    }
}

#[test]
fn screen_writes_one_row_per_name_with_the_best_entry() {
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists");
    std::fs::create_dir(&lists).unwrap();
    std::fs::write(lists.join("sdn.csv"), SDN).unwrap();
    std::fs::write(lists.join("alt.csv"), ALT).unwrap();
    std::fs::write(lists.join("un_consolidated.xml"), UN).unwrap();
    let (names, out) = (dir.path().join("n.csv"), dir.path().join("h.csv"));
    std::fs::write(
        &names,
        "schema,name\nPerson,Osama bin Ladin\n,Hasan Nasrallah\nPerson,Jane Zimmerwood\nCompany,National Bank of Cuba S.A.\n,Xyzzy\n",
    )
    .unwrap();
    let log = vigil(&[
        "sanctions",
        "screen",
        "--lists",
        lists.to_str().unwrap(),
        "--names",
        names.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(log.contains("un:2026-01-01"), "{log}");
    let rows = read_csv(&out);
    assert_eq!(rows[0], ["name", "hit", "entry_id", "matched_name", "score"]);
    let got: Vec<(&str, &str, &str)> =
        rows[1..].iter().map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str())).collect();
    assert_eq!(
        got,
        [
            ("Osama bin Ladin", "true", "ofac:6365"),
            ("Hasan Nasrallah", "true", "un:77"),
            ("Jane Zimmerwood", "false", ""),
            ("National Bank of Cuba S.A.", "true", "ofac:306"),
            ("Xyzzy", "false", ""),
        ]
    );
    assert_eq!(rows[4][3], "NATIONAL BANK OF CUBA");
    assert_eq!(rows[5][4], "0");
}

#[test]
fn a_truncated_list_fails_the_screen_loudly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sdn.csv"), &SDN[..SDN.len() - 30]).unwrap();
    std::fs::write(dir.path().join("alt.csv"), ALT).unwrap();
    let names = dir.path().join("n.csv");
    std::fs::write(&names, "name\nX\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "sanctions",
            "screen",
            "--lists",
            dir.path().to_str().unwrap(),
            "--names",
            names.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sdn.csv, line 4"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
