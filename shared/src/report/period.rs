//! The period a report covers and the moment it is seen from.

use crate::LABEL_DELAY_DAYS;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// Transactions with timestamps in [`from`, `to`) (UTC days), as the lake stood at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeriodError {
    #[error("the period is empty: from {from} is not before to {to}")]
    Empty { from: NaiveDate, to: NaiveDate },
    #[error("the period spans {0} days, more than the 400 a report may")]
    TooLong(i64),
    #[error("as_of {0:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time")]
    AsOf(String),
}

/// Bounds what one report may scan.
const MAX_DAYS: i64 = 400;

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate, as_of: DateTime<Utc>) -> Result<Self, PeriodError> {
        let days = (to - from).num_days();
        if days <= 0 {
            return Err(PeriodError::Empty { from, to });
        }
        if days > MAX_DAYS {
            return Err(PeriodError::TooLong(days));
        }
        Ok(Period { from, to, as_of })
    }

    /// `as_of` as given on a command line: a date means its midnight (UTC).
    pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>, PeriodError> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&Utc));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| PeriodError::AsOf(text.to_owned()))
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
    }

    /// Days before this one have had the label delay to receive their chargebacks.
    pub fn mature_day(&self) -> NaiveDate {
        (self.as_of - TimeDelta::days(LABEL_DELAY_DAYS)).date_naive()
    }

    /// `as_of` as the reports print it: RFC 3339, UTC, to the millisecond the lake keeps.
    pub fn as_of_text(&self) -> String {
        self.as_of.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_is_a_bounded_non_empty_range_of_days() {
        let t = Utc::now();
        assert_eq!(
            Period::new(day("2024-01-02"), day("2024-01-02"), t),
            Err(PeriodError::Empty { from: day("2024-01-02"), to: day("2024-01-02") })
        );
        assert_eq!(Period::new(day("2020-01-01"), day("2024-01-01"), t), Err(PeriodError::TooLong(1461)));
        assert!(Period::new(day("2024-01-01"), day("2024-02-01"), t).is_ok());
    }

    #[test]
    fn as_of_is_a_date_or_a_time() {
        assert_eq!(Period::parse_as_of("2024-01-08").unwrap().to_rfc3339(), "2024-01-08T00:00:00+00:00");
        assert_eq!(
            Period::parse_as_of("2024-01-08T12:30:00+02:00").unwrap().to_rfc3339(),
            "2024-01-08T10:30:00+00:00"
        );
        assert!(matches!(Period::parse_as_of("yesterday"), Err(PeriodError::AsOf(_))));
        let p = Period::new(day("2024-01-01"), day("2024-02-01"), Period::parse_as_of("2024-01-20").unwrap())
            .unwrap();
        assert_eq!(p.mature_day(), day("2024-01-13"));
        assert_eq!(p.as_of_text(), "2024-01-20T00:00:00.000Z");
    }
}
