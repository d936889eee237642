//! Sanctions lists: loading and indexing the full OFAC + UN lists, screening one name
//! against them, comparing one pair.
//! `cargo bench -p vigil-shared --bench sanctions` (lists from `VIGIL_SANCTIONS_DIR`,
//! by default the shared sample lists beside the repository).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use vigil_shared::sanctions::{SanctionsLists, Schema, Screener, compare};

/// Listed names in other spellings, unlisted common names, companies and vessels.
const QUERIES: &[(&str, Option<Schema>)] = &[
    ("Osama bin Ladin", Some(Schema::Person)),
    ("Ayman al Zawahri", None),
    ("John Smith", Some(Schema::Person)),
    ("Maria Garcia Lopez", None),
    ("Mohammed Ali Hassan", Some(Schema::Person)),
    ("Banco Nacional de Cuba SA", Some(Schema::Company)),
    ("Rosoboronexport OOO", None),
    ("Sunrise Bakery LLC", Some(Schema::Company)),
    ("Hizbollah", None),
    ("Kim Jong Un", Some(Schema::Person)),
    ("Ocean Star", Some(Schema::Vessel)),
    ("Wei Zhang", None),
    ("Joaquin Guzman Loera", Some(Schema::Person)),
    ("Islamic Revolutionary Guard Corps", None),
    ("Vladimir Putin", None),
    ("Abdul Rahman Yasin", Some(Schema::Person)),
];

fn lists_dir() -> PathBuf {
    std::env::var_os("VIGIL_SANCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/sanctions"))
}

fn bench(c: &mut Criterion) {
    let dir = lists_dir();
    if !dir.join("sdn.csv").exists() {
        eprintln!("no lists in {}: set VIGIL_SANCTIONS_DIR", dir.display());
        return;
    }
    let mut group = c.benchmark_group("sanctions");
    group.sample_size(20);
    group.bench_function("load_and_index_full_lists", |b| {
        b.iter(|| black_box(Screener::new(SanctionsLists::from_dir(&dir).unwrap())))
    });
    group.finish();

    let screener = Screener::new(SanctionsLists::from_dir(&dir).unwrap());
    let mut i = 0;
    c.bench_function("screen_one_name", |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES.len();
            let (name, schema) = QUERIES[i];
            black_box(screener.best(black_box(name), schema).map(|h| h.score))
        })
    });
    c.bench_function("compare_one_pair", |b| {
        b.iter(|| {
            black_box(compare(
                black_box("BIN LADEN, Usama bin Muhammad bin Awad"),
                black_box("Osama bin Ladin"),
                Some(Schema::Person),
            ))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
