//! Reports over the lake: one SQL file per section under `infra/reports`, the same text on
//! Athena (the report trigger) and on the embedded engine (`vigil report`). Each runs on
//! a [`Period`], whose `as_of` makes it reproducible: it sees only rows ingested, and
//! labels known, by then (`infra/reports/views.sql`).

mod html;
mod period;
mod render;
mod sql;
mod table;
pub mod trigger;

#[cfg(feature = "embedded-reports")]
pub mod embedded;

pub use period::{Period, PeriodError};
pub use render::{Format, csv, html, json};
pub use sql::{Bound, SqlError, bind_inline, bind_positional, compose};
pub use table::{Cell, Table};

/// One section of a report: a SELECT over the time-travel views.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub name: &'static str,
    pub sql: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub name: &'static str,
    pub title: &'static str,
    pub circulation: Circulation,
    pub sections: &'static [Section],
}

/// Who may learn that a report exists. SAR candidates and AML alerts are need-to-know
/// (31 U.S.C. 5318(g)(2): a SAR's existence must not leak, least of all towards its
/// subject), so the compliance report is announced to compliance alone and stored where
/// analysts' role cannot read (`template.yaml`, `AnalystRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circulation {
    /// Operations, model risk, audit and compliance alike (`ReportsTopic`).
    General,
    /// Compliance only (`ComplianceReportsTopic`).
    ComplianceOnly,
}

macro_rules! section {
    ($report:literal, $name:literal) => {
        Section {
            name: $name,
            sql: include_str!(concat!("../../infra/reports/", $report, "/", $name, ".sql")),
        }
    };
}

/// The views every section runs over (see the files): the time-travel views, then each
/// model's training score distribution (`infra/model/baseline.py` writes it).
pub const VIEWS: &str = concat!(
    include_str!("../../infra/reports/views.sql"),
    ",\n",
    include_str!("../../infra/reports/baselines.sql")
);

pub const REPORTS: &[Report] = &[
    Report {
        name: "fraud-ops",
        title: "Fraud operations",
        circulation: Circulation::General,
        sections: &[
            section!("fraud-ops", "summary"),
            section!("fraud-ops", "mature"),
            section!("fraud-ops", "daily"),
            section!("fraud-ops", "rules"),
            section!("fraud-ops", "losses"),
            section!("fraud-ops", "detection"),
        ],
    },
    Report {
        name: "model-monitoring",
        title: "Model monitoring",
        circulation: Circulation::General,
        sections: &[
            section!("model-monitoring", "psi"),
            section!("model-monitoring", "score_distribution"),
            section!("model-monitoring", "calibration"),
            section!("model-monitoring", "verdict_mix"),
        ],
    },
    Report {
        name: "compliance",
        title: "Compliance: CTR, SAR candidates, sanctions, AML",
        circulation: Circulation::ComplianceOnly,
        sections: &[
            section!("compliance", "ctr_filings"),
            section!("compliance", "sar_candidates"),
            section!("compliance", "sanctions_hits"),
            section!("compliance", "aml_by_typology"),
        ],
    },
    Report {
        name: "basel-oprisk",
        title: "Basel III operational risk: external fraud loss events",
        circulation: Circulation::General,
        sections: &[section!("basel-oprisk", "loss_events"), section!("basel-oprisk", "totals")],
    },
    Report {
        name: "sox-evidence",
        title: "SOX control evidence: completeness and changes",
        circulation: Circulation::General,
        sections: &[section!("sox-evidence", "completeness"), section!("sox-evidence", "changes")],
    },
];

pub fn find(name: &str) -> Option<&'static Report> {
    REPORTS.iter().find(|r| r.name == name)
}

/// What one run of a report produced: its sections' tables, in order.
#[derive(Debug, Clone)]
pub struct ReportResult {
    pub report: &'static Report,
    pub period: Period,
    pub sections: Vec<(&'static str, Table)>,
}

impl ReportResult {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => json(self),
            Format::Csv => csv(self),
            Format::Html => html(self),
        }
    }
}

#[cfg(all(test, feature = "embedded-reports"))]
mod tests;

#[cfg(all(test, feature = "embedded-reports"))]
mod compliance_tests;
