//! `vigil sanctions compare | screen | measure`: the name matcher and the list screener
//! over CSV files, and their quality on labelled and generated variant sets.

use crate::files;
use crate::variants;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vigil_shared::sanctions::{DEFAULT_THRESHOLD, SanctionsLists, Schema, Screener, compare};

#[derive(Debug, clap::Subcommand)]
pub enum Sanctions {
    /// Score name pairs: reads `name1,name2,schema` (other columns kept), writes every
    /// input column plus `score,match` (match at the default threshold).
    Compare {
        #[arg(long)]
        pairs: PathBuf,
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
    /// Screen names against the lists in a directory (`sdn.csv`, `alt.csv`, optionally
    /// `un_consolidated.xml[.gz]`): reads a `name` column (optional `schema`), writes
    /// `name,hit,entry_id,matched_name,score` per name, the best candidate's.
    Screen {
        #[arg(long)]
        lists: PathBuf,
        #[arg(long)]
        names: PathBuf,
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
    /// Quality at the default threshold: precision, recall and F1 on labelled pairs
    /// (`name1,name2,schema,label`); with --lists, the share of perturbed listed names
    /// whose best hit is their own entry, and of generated common names that hit.
    Measure {
        #[arg(long)]
        pairs: Vec<PathBuf>,
        #[arg(long)]
        lists: Option<PathBuf>,
        /// Perturbed listed names and common names to generate.
        #[arg(long, default_value_t = 2000)]
        samples: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Print the misclassified pairs and names.
        #[arg(long)]
        verbose: bool,
    },
}

pub fn run(command: Sanctions) -> Result<()> {
    match command {
        Sanctions::Compare { pairs, out } => compare_file(&pairs, &out),
        Sanctions::Screen { lists, names, out } => screen_file(&lists, &names, &out),
        Sanctions::Measure { pairs, lists, samples, seed, verbose } => {
            measure(&pairs, lists.as_deref(), samples, seed, verbose)
        }
    }
}

/// A schema column's value: empty or unknown means "unknown" (matched against all).
fn schema_of(raw: Option<&str>, unknown: &mut usize) -> Option<Schema> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    raw.parse().map_err(|_| *unknown += 1).ok()
}

fn column(headers: &csv::StringRecord, name: &str, path: &Path) -> Result<usize> {
    headers.iter().position(|h| h.trim() == name).with_context(|| {
        format!(
            "{}: no `{name}` column (header: {})",
            path.display(),
            headers.iter().collect::<Vec<_>>().join(",")
        )
    })
}

fn reader(path: &Path) -> Result<csv::Reader<Box<dyn std::io::Read + Send>>> {
    let input = vigil_shared::csvio::open(path)?;
    Ok(csv::ReaderBuilder::new().flexible(true).from_reader(input))
}

fn compare_file(pairs: &Path, out: &Path) -> Result<()> {
    let mut r = reader(pairs)?;
    let headers = r.headers()?.clone();
    let (a, b) = (column(&headers, "name1", pairs)?, column(&headers, "name2", pairs)?);
    let schema = headers.iter().position(|h| h.trim() == "schema");
    let mut w = files::csv_writer(out)?;
    let mut header = headers.clone();
    header.push_field("score");
    header.push_field("match");
    w.write_record(&header)?;
    let (mut rows, mut unknown) = (0usize, 0usize);
    for record in r.records() {
        let mut record = record.with_context(|| format!("reading {}", pairs.display()))?;
        let schema = schema_of(schema.and_then(|i| record.get(i)), &mut unknown);
        let score = compare(record.get(a).unwrap_or_default(), record.get(b).unwrap_or_default(), schema);
        record.push_field(&format!("{score:.4}"));
        record.push_field(if score >= DEFAULT_THRESHOLD { "true" } else { "false" });
        w.write_record(&record)?;
        rows += 1;
    }
    w.flush()?;
    if unknown > 0 {
        eprintln!("{unknown} rows had an unknown schema: compared as any");
    }
    eprintln!("compared {rows} pairs (threshold {DEFAULT_THRESHOLD})");
    Ok(())
}

/// Loads the lists of `dir` and says what was loaded.
pub fn load_screener(dir: &Path) -> Result<Screener> {
    let started = Instant::now();
    let lists =
        SanctionsLists::from_dir(dir).with_context(|| format!("loading the lists in {}", dir.display()))?;
    let (entries, names) = (lists.entries.len(), lists.names());
    let screener = Screener::new(lists);
    eprintln!(
        "loaded {entries} entries ({names} names), version {}, in {:.0} ms",
        screener.version(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(screener)
}

fn screen_file(lists: &Path, names: &Path, out: &Path) -> Result<()> {
    let screener = load_screener(lists)?;
    let mut r = reader(names)?;
    let headers = r.headers()?.clone();
    let name = column(&headers, "name", names)?;
    let schema = headers.iter().position(|h| h.trim() == "schema");
    let mut w = files::csv_writer(out)?;
    w.write_record(["name", "hit", "entry_id", "matched_name", "score"])?;
    let (mut rows, mut hits, mut unknown) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    for record in r.records() {
        let record = record.with_context(|| format!("reading {}", names.display()))?;
        let raw = record.get(name).unwrap_or_default();
        let schema = schema_of(schema.and_then(|i| record.get(i)), &mut unknown);
        match screener.best(raw, schema) {
            Some(hit) => {
                hits += usize::from(hit.matched);
                let score = format!("{:.4}", hit.score);
                w.write_record([raw, bool_str(hit.matched), hit.entry_id(), hit.matched_name, &score])?;
            }
            None => w.write_record([raw, "false", "", "", "0"])?,
        }
        rows += 1;
    }
    w.flush()?;
    if unknown > 0 {
        eprintln!("{unknown} rows had an unknown schema: screened as any");
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / rows.max(1) as f64;
    eprintln!(
        "screened {rows} names: {hits} hits at threshold {} ({micros:.1} µs per name)",
        screener.threshold()
    );
    Ok(())
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Precision, recall and F1 of `predicted` against `truth`.
fn f1(truth: &[bool], predicted: &[bool]) -> (f64, f64, f64) {
    let count =
        |want: (bool, bool)| truth.iter().zip(predicted).filter(|&(&t, &p)| (t, p) == want).count() as f64;
    let (tp, fp, fn_) = (count((true, true)), count((false, true)), count((true, false)));
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    (precision, recall, f1)
}

fn measure(pairs: &[PathBuf], lists: Option<&Path>, samples: usize, seed: u64, verbose: bool) -> Result<()> {
    if pairs.is_empty() && lists.is_none() {
        bail!("nothing to measure: give --pairs and/or --lists");
    }
    for path in pairs {
        measure_pairs(path, verbose)?;
    }
    let generated = variants::labelled_pairs(samples, seed);
    report_pairs("generated variant pairs", &generated, verbose);
    if let Some(dir) = lists {
        let screener = load_screener(dir)?;
        measure_lists(&screener, samples, seed, verbose);
    }
    Ok(())
}

/// A labelled pair: names, schema, same party or not, and a category for the report.
pub struct LabelledPair {
    pub name1: String,
    pub name2: String,
    pub schema: Option<Schema>,
    pub same: bool,
    pub category: String,
}

fn measure_pairs(path: &Path, verbose: bool) -> Result<()> {
    let mut r = reader(path)?;
    let headers = r.headers()?.clone();
    let (a, b, label) = (
        column(&headers, "name1", path)?,
        column(&headers, "name2", path)?,
        column(&headers, "label", path)?,
    );
    let schema = headers.iter().position(|h| h.trim() == "schema");
    let category = headers.iter().position(|h| h.trim() == "category");
    let mut unknown = 0;
    let mut pairs = Vec::new();
    for record in r.records() {
        let record = record?;
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or_default().to_owned();
        pairs.push(LabelledPair {
            name1: field(Some(a)),
            name2: field(Some(b)),
            schema: schema_of(schema.and_then(|i| record.get(i)), &mut unknown),
            same: matches!(field(Some(label)).trim(), "1" | "true" | "TRUE" | "True"),
            category: field(category),
        });
    }
    report_pairs(&path.display().to_string(), &pairs, verbose);
    Ok(())
}

fn report_pairs(what: &str, pairs: &[LabelledPair], verbose: bool) {
    let scores: Vec<f64> = pairs.iter().map(|p| compare(&p.name1, &p.name2, p.schema)).collect();
    let truth: Vec<bool> = pairs.iter().map(|p| p.same).collect();
    let predicted: Vec<bool> = scores.iter().map(|&s| s >= DEFAULT_THRESHOLD).collect();
    let (p, r, f) = f1(&truth, &predicted);
    println!(
        "{what}: {} pairs ({} matches): precision {p:.3} recall {r:.3} F1 {f:.3} at threshold {DEFAULT_THRESHOLD}",
        pairs.len(),
        truth.iter().filter(|&&t| t).count()
    );
    let best = (50..=95)
        .map(|t| {
            let t = f64::from(t) / 100.0;
            let predicted: Vec<bool> = scores.iter().map(|&s| s >= t).collect();
            (t, f1(&truth, &predicted).2)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((t, f)) = best {
        println!("  (best F1 {f:.3} at threshold {t:.2})");
    }
    let mut categories: Vec<&str> = pairs.iter().map(|p| p.category.as_str()).collect();
    categories.sort_unstable();
    categories.dedup();
    for c in categories.iter().filter(|c| !c.is_empty()) {
        let idx: Vec<usize> = (0..pairs.len()).filter(|&i| pairs[i].category == *c).collect();
        let right = idx.iter().filter(|&&i| truth[i] == predicted[i]).count();
        println!("  {c:<16} {right}/{} right", idx.len());
    }
    if verbose {
        for (i, pair) in pairs.iter().enumerate().filter(|&(i, _)| truth[i] != predicted[i]) {
            println!(
                "  wrong: {:.3} {} [{}] {} | {} ({})",
                scores[i],
                if pair.same { "FN" } else { "FP" },
                pair.schema.map_or("any", Schema::as_str),
                pair.name1,
                pair.name2,
                pair.category
            );
        }
    }
}

fn measure_lists(screener: &Screener, samples: usize, seed: u64, verbose: bool) {
    let perturbed = variants::perturbed_listed(screener.lists(), samples, seed);
    let started = Instant::now();
    let (mut best_right, mut hit_right) = (0usize, 0usize);
    for p in &perturbed {
        let hit = screener.best(&p.name, p.schema);
        let right = hit.as_ref().is_some_and(|h| h.entry_id() == p.entry_id);
        best_right += usize::from(right);
        hit_right += usize::from(right && hit.as_ref().is_some_and(|h| h.matched));
        if verbose && !(right && hit.as_ref().is_some_and(|h| h.matched)) {
            let got = hit.map_or(("-".to_owned(), String::new(), 0.0), |h| {
                (h.entry_id().to_owned(), h.matched_name.to_owned(), h.score)
            });
            println!(
                "  missed: {} `{}` ({}) from `{}` -> {} `{}` {:.3}",
                p.entry_id, p.name, p.how, p.original, got.0, got.1, got.2
            );
        }
    }
    let n = perturbed.len().max(1) as f64;
    let micros = started.elapsed().as_secs_f64() * 1e6 / n;
    println!(
        "perturbed listed names: {} ; best hit is the right entry {:.1} %, and a hit {:.1} % ({micros:.1} µs per name)",
        perturbed.len(),
        100.0 * best_right as f64 / n,
        100.0 * hit_right as f64 / n
    );
    // A generated name that is listed as it is (`Mohammed Khan`) is no false hit.
    let common: Vec<_> = variants::common_names(samples, seed)
        .into_iter()
        .filter(|(name, schema)| screener.best(name, *schema).is_none_or(|h| h.score < 0.999))
        .collect();
    let mut hits = 0;
    for (name, schema) in &common {
        if let Some(hit) = screener.screen(name, *schema) {
            hits += 1;
            if verbose {
                println!(
                    "  false hit: `{name}` -> {} `{}` {:.3}",
                    hit.entry_id(),
                    hit.matched_name,
                    hit.score
                );
            }
        }
    }
    println!(
        "common names on no list (those listed verbatim left out): {} ; hits {:.2} %",
        common.len(),
        100.0 * hits as f64 / common.len().max(1) as f64
    );
}
