//! The report as a page a person reads: one self-contained HTML file (inline SVG charts
//! drawn with plotters, inline CSS, no script, nothing fetched), then every section's table.

use super::{ReportResult, Table, table::Cell};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

const SIZE: (u32, u32) = (720, 300);
const PALETTE: [RGBColor; 4] =
    [RGBColor(46, 125, 50), RGBColor(249, 168, 37), RGBColor(198, 40, 40), RGBColor(21, 101, 192)];

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Lines over a table's rows: `x` labels the rows, each of `series` a line.
fn lines(title: &str, labels: &[String], series: &[(&str, Vec<f64>)]) -> Option<String> {
    let top = series.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0_f64, f64::max);
    line_chart(title, labels, series, 0.0..(top * 1.1).max(1e-9), None)
}

/// The frame both kinds of line chart share; `y` is the axis (linear or log).
fn line_chart<Y>(
    title: &str,
    labels: &[String],
    series: &[(&str, Vec<f64>)],
    y: Y,
    y_format: Option<&dyn Fn(&f64) -> String>,
) -> Option<String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    if labels.is_empty() {
        return None;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0..labels.len().saturating_sub(1).max(1), y)
            .ok()?;
        // Dates need room; score tenths ("0.3") do not.
        let shown = if labels.iter().all(|l| l.len() <= 4) { labels.len() } else { labels.len().min(8) };
        let x_label = |i: &usize| labels.get(*i).cloned().unwrap_or_default();
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(shown).x_label_formatter(&x_label);
        if let Some(format) = y_format {
            mesh.y_label_formatter(format);
        }
        mesh.draw().ok()?;
        for (i, (name, values)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            // A value that is not a number (a ratio without a denominator) is a gap, not a
            // zero; a dot marks each point so one between gaps still shows.
            let points: Vec<(usize, f64)> =
                values.iter().copied().enumerate().filter(|(_, v)| v.is_finite()).collect();
            let dots = points.iter().map(|p| Circle::new(*p, 2, color.filled()));
            chart
                .draw_series(dots)
                .ok()?
                .label(*name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
            for run in points.chunk_by(|a, b| b.0 == a.0 + 1) {
                chart.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2))).ok()?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// One bar per label.
fn bars(title: &str, labels: &[String], values: &[f64]) -> Option<String> {
    if labels.is_empty() {
        return None;
    }
    let top = values.iter().copied().fold(0.0_f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let n = labels.len() as u32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..(top * 1.1).max(1e-9))
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    labels.get(*i as usize).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .draw()
            .ok()?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(PALETTE[3].mix(0.8).filled())
                    .margin(4)
                    .data(values.iter().enumerate().map(|(i, v)| (i as u32, *v))),
            )
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Shares per score tenth on a log axis (most payments score under 0.1, and the tenths
/// that matter hold a thousandth of them), one line per series.
fn log_shares(title: &str, labels: &[String], series: &[(&str, Vec<f64>)]) -> Option<String> {
    const FLOOR: f64 = 1e-5;
    let floored: Vec<(&str, Vec<f64>)> =
        series.iter().map(|(name, v)| (*name, v.iter().map(|v| v.clamp(FLOOR, 1.0)).collect())).collect();
    line_chart(title, labels, &floored, (FLOOR..1.0).log_scale(), Some(&|v| format!("{v:.0e}")))
}

/// The period's score distribution against the training baseline, for the model version
/// that scored most of the period.
fn score_distribution(table: &Table) -> Option<String> {
    let versions = texts(table, "model_version");
    let counts = column(table, "transactions");
    let mut totals: Vec<(&String, f64)> = Vec::new();
    for (version, n) in versions.iter().zip(&counts) {
        match totals.iter_mut().find(|(v, _)| *v == version) {
            Some((_, total)) => *total += n,
            None => totals.push((version, *n)),
        }
    }
    let main = totals.iter().max_by(|a, b| a.1.total_cmp(&b.1))?.0;
    let rows: Vec<usize> = (0..table.rows.len()).filter(|r| &versions[*r] == main).collect();
    let pick = |name: &str| rows.iter().map(|r| table.get(*r, name).as_f64()).collect::<Vec<_>>();
    let labels: Vec<String> =
        pick("bucket").iter().map(|b| format!("{:.1}", b.unwrap_or(0.0) / 10.0)).collect();
    let observed = pick("share").into_iter().map(|v| v.unwrap_or(0.0)).collect();
    let mut series = vec![("this period", observed)];
    let baseline = pick("baseline_share");
    if baseline.iter().all(Option::is_some) {
        series.push(("training baseline", baseline.into_iter().flatten().collect()));
    }
    log_shares(&format!("Score distribution of {main} against its training baseline"), &labels, &series)
}

fn column(table: &Table, name: &str) -> Vec<f64> {
    (0..table.rows.len()).map(|r| table.get(r, name).as_f64().unwrap_or(0.0)).collect()
}

fn texts(table: &Table, name: &str) -> Vec<String> {
    (0..table.rows.len()).map(|r| table.get(r, name).to_string()).collect()
}

/// The charts a section earns, by what it holds.
fn charts(section: &str, table: &Table) -> Vec<String> {
    // No denominator, no ratio: a gap in the line.
    let ratio = |a: &[f64], b: &[f64]| {
        a.iter().zip(b).map(|(a, b)| if *b > 0.0 { a / b } else { f64::NAN }).collect()
    };
    let charts = match section {
        "daily" => {
            let days = texts(table, "day");
            let (review, block) = (column(table, "review"), column(table, "block"));
            let alerts: Vec<f64> = review.iter().zip(&block).map(|(r, b)| r + b).collect();
            let confirmed = column(table, "alerts_confirmed");
            let recall = ratio(&confirmed, &column(table, "confirmed_frauds"));
            vec![
                // ACCEPT is most of every day and would flatten the alerts: it is in the table.
                lines(
                    "Alerts per day: REVIEW and BLOCK verdicts",
                    &days,
                    &[("REVIEW", review), ("BLOCK", block)],
                ),
                lines(
                    "Alert precision and fraud recall per day (labels known at as_of)",
                    &days,
                    &[("precision", ratio(&confirmed, &alerts)), ("recall", recall)],
                ),
            ]
        }
        "rules" => {
            let top = table.rows.len().min(10);
            let codes: Vec<String> = texts(table, "code").into_iter().take(top).collect();
            vec![bars("Top rules by hits", &codes, &column(table, "hits")[..top])]
        }
        "score_distribution" => vec![score_distribution(table)],
        "verdict_mix" => {
            let days = texts(table, "day");
            vec![lines("Mean score per day", &days, &[("mean score", column(table, "mean_score"))])]
        }
        _ => Vec::new(),
    };
    charts.into_iter().flatten().collect()
}

/// A ratio as a person reads it (four significant digits below one, cents above); the
/// exact value stays in the cell's title, the JSON and the CSV.
fn readable(x: f64) -> String {
    let digits =
        if x.abs() >= 1.0 || x == 0.0 { 2 } else { (3.0 - x.abs().log10().floor()).min(12.0) as usize };
    let text = format!("{x:.digits$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

fn table_html(table: &Table) -> String {
    let mut out = String::from("<table><thead><tr>");
    for c in &table.columns {
        // A long name may break after its dots and underscores, never inside a word.
        out.push_str(&format!("<th>{}</th>", escape(c).replace('.', ".<wbr>").replace('_', "_<wbr>")));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let exact = escape(&cell.to_string());
            match cell {
                Cell::Float(x) if x.is_finite() && readable(*x) != exact => {
                    out.push_str(&format!("<td title=\"{exact}\">{}</td>", readable(*x)))
                }
                _ => out.push_str(&format!("<td>{exact}</td>")),
            }
        }
        out.push_str("</tr>");
    }
    if table.rows.is_empty() {
        out.push_str(&format!("<tr><td colspan=\"{}\">no rows</td></tr>", table.columns.len().max(1)));
    }
    out.push_str("</tbody></table>");
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1100px;color:#222}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}\
th{background:#f4f4f4}.meta{color:#555}figure{margin:1em 0}";

pub fn html(result: &ReportResult) -> String {
    let p = &result.period;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Vigil — {title}</title>\
         <style>{STYLE}</style></head><body><h1>Vigil — {title}</h1>\
         <p class=\"meta\">Transactions from {} to {} (exclusive), as the lake stood at {}.</p>",
        p.from,
        p.to,
        p.as_of_text(),
        title = escape(result.report.title),
    );
    for (name, table) in &result.sections {
        out.push_str(&format!("<section id=\"{0}\"><h2>{0}</h2>", escape(name)));
        for svg in charts(name, table) {
            out.push_str(&format!("<figure>{svg}</figure>"));
        }
        out.push_str(&table_html(table));
        out.push_str("</section>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn ratios_read_to_four_significant_digits_and_amounts_to_cents() {
        let shown: Vec<String> =
            [0.25925925925925924, 0.009555, 1.0, 0.5, 1234.5678, 0.0, 3.0, -0.125].map(readable).into();
        assert_eq!(shown, ["0.2593", "0.009555", "1", "0.5", "1234.57", "0", "3", "-0.125"]);
    }
}
