//! A report's result as JSON (nested where a column's name has a dot), CSV (one long
//! table: section, row, column, value) or a self-contained HTML page with charts.

use super::{ReportResult, Table};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "html" => Ok(Format::Html),
            other => Err(format!("unknown format {other:?}: json, csv or html")),
        }
    }
}

/// `{"a.b": 1}` → `{"a": {"b": 1}}`.
fn nest(table: &Table, row: usize, into: &mut Map<String, Value>) {
    for (name, cell) in table.columns.iter().zip(&table.rows[row]) {
        let mut parts = name.split('.').peekable();
        let mut at = &mut *into;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                at.insert(part.to_owned(), cell.json());
            } else {
                let next = at.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
                if !next.is_object() {
                    *next = Value::Object(Map::new());
                }
                let Value::Object(map) = next else { unreachable!("just made an object") };
                at = map;
            }
        }
    }
}

/// The period, then a one-row `summary` section's columns at the top level (the fraud-ops
/// contract), then every other section under `sections` as a list of rows.
pub fn json(result: &ReportResult) -> String {
    let mut top = Map::new();
    top.insert("from".into(), result.period.from.to_string().into());
    top.insert("to".into(), result.period.to.to_string().into());
    top.insert("as_of".into(), result.period.as_of_text().into());
    let mut sections = Map::new();
    for (name, table) in &result.sections {
        if *name == "summary" && table.rows.len() == 1 {
            nest(table, 0, &mut top);
            continue;
        }
        let rows = (0..table.rows.len())
            .map(|r| {
                let mut row = Map::new();
                nest(table, r, &mut row);
                Value::Object(row)
            })
            .collect();
        sections.insert((*name).to_owned(), Value::Array(rows));
    }
    top.insert("sections".into(), Value::Object(sections));
    let mut text = serde_json::to_string_pretty(&Value::Object(top)).unwrap_or_default();
    text.push('\n');
    text
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

pub fn csv(result: &ReportResult) -> String {
    let mut out = String::from("section,row,column,value\n");
    for (name, table) in &result.sections {
        for (r, row) in table.rows.iter().enumerate() {
            for (column, cell) in table.columns.iter().zip(row) {
                out.push_str(&format!("{name},{r},{},{}\n", csv_field(column), csv_field(&cell.to_string())));
            }
        }
    }
    out
}

pub use super::html::html;
