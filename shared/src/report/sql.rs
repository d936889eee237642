//! A section's SQL as an engine receives it: the views and the section as one statement,
//! comments dropped, the named parameters (`:as_of`, `:from`, …) bound.

use super::Period;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SqlError {
    #[error("the SQL names an unknown parameter :{0}")]
    UnknownParameter(String),
}

/// The views, then the section: `WITH views, section's own CTEs SELECT …`.
pub fn compose(views: &str, section: &str) -> String {
    let views = strip_comments(views);
    let section = strip_comments(section);
    let body = section.trim_start();
    match body.get(..5) {
        Some(w) if w.eq_ignore_ascii_case("with ") => format!("WITH {views},\n{}", &body[5..]),
        _ => format!("WITH {views}\n{body}"),
    }
}

/// Whole-line `--` comments dropped: a parameter's name in a comment is no parameter,
/// and Athena would count a `?` there.
fn strip_comments(sql: &str) -> String {
    let lines: Vec<&str> = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
    lines.join("\n").trim().to_owned()
}

/// The parameters a report's SQL may name, as SQL literals both dialects read.
fn value(period: &Period, name: &str) -> Option<String> {
    let timestamp =
        |t: chrono::DateTime<chrono::Utc>| format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.3f"));
    let day = |d: chrono::NaiveDate| format!("'{d}'");
    Some(match name {
        "as_of" => timestamp(period.as_of),
        "from" => timestamp(period.start()),
        "to" => timestamp(period.end()),
        "from_day" => day(period.from),
        "to_day" => day(period.to),
        "mature_day" => day(period.mature_day()),
        _ => return None,
    })
}

/// Replaces each `:name` outside string literals with `with(literal)`.
fn bind(sql: &str, period: &Period, mut with: impl FnMut(String) -> String) -> Result<String, SqlError> {
    let mut out = String::with_capacity(sql.len());
    let mut in_string = false;
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
        }
        if c != ':' || in_string {
            out.push(c);
            continue;
        }
        let rest = &sql[at + 1..];
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if len == 0 {
            out.push(c);
            continue;
        }
        let name = &rest[..len];
        let literal = value(period, name).ok_or_else(|| SqlError::UnknownParameter(name.to_owned()))?;
        out.push_str(&with(literal));
        while chars.next_if(|(i, _)| *i <= at + len).is_some() {}
    }
    Ok(out)
}

/// For the embedded engine: literals in place.
pub fn bind_inline(sql: &str, period: &Period) -> Result<String, SqlError> {
    bind(sql, period, |literal| literal)
}

/// For Athena: `?` placeholders and their `ExecutionParameters`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub sql: String,
    pub parameters: Vec<String>,
}

pub fn bind_positional(sql: &str, period: &Period) -> Result<Bound, SqlError> {
    let mut parameters = Vec::new();
    let sql = bind(sql, period, |literal| {
        parameters.push(literal);
        "?".to_owned()
    })?;
    Ok(Bound { sql, parameters })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period() -> Period {
        Period::new(
            "2024-01-01".parse().unwrap(),
            "2024-02-01".parse().unwrap(),
            "2024-02-10T08:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_section_joins_the_views_in_one_with_list() {
        assert_eq!(
            compose("-- why\nv AS (SELECT 1)", "-- what\nSELECT * FROM v"),
            "WITH v AS (SELECT 1)\nSELECT * FROM v"
        );
        assert_eq!(
            compose("v AS (SELECT 1)", "WITH w AS (SELECT 2) SELECT * FROM w"),
            "WITH v AS (SELECT 1),\nw AS (SELECT 2) SELECT * FROM w"
        );
    }

    #[test]
    fn parameters_bind_inline_or_as_placeholders() {
        let sql = "SELECT 1 WHERE t <= :as_of AND dt >= :from_day AND t < :to AND x = 'a:b'";
        assert_eq!(
            bind_inline(sql, &period()).unwrap(),
            "SELECT 1 WHERE t <= TIMESTAMP '2024-02-10 08:00:00.000' AND dt >= '2024-01-01' \
             AND t < TIMESTAMP '2024-02-01 00:00:00.000' AND x = 'a:b'"
        );
        let bound = bind_positional(sql, &period()).unwrap();
        assert_eq!(bound.sql, "SELECT 1 WHERE t <= ? AND dt >= ? AND t < ? AND x = 'a:b'");
        assert_eq!(bound.parameters[1], "'2024-01-01'");
        assert_eq!(bind_inline("WHERE :nope", &period()), Err(SqlError::UnknownParameter("nope".into())));
    }

    #[test]
    fn every_report_section_binds() {
        for report in super::super::REPORTS {
            for section in report.sections {
                let sql = compose(super::super::VIEWS, section.sql);
                let bound = bind_positional(&sql, &period())
                    .unwrap_or_else(|e| panic!("{}/{}: {e}", report.name, section.name));
                assert!(!bound.sql.contains(':'), "{}/{}", report.name, section.name);
            }
        }
    }
}
