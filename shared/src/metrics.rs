//! CloudWatch Embedded Metric Format: one JSON log line per batch that CloudWatch turns
//! into metrics, with no API call on the hot path.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "Vigil";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Where a function's EMF lines go: stdout in Lambda (CloudWatch Logs reads them); nowhere
/// when the functions run in process (the local stack), where they would drown the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MetricsSink {
    #[default]
    Stdout,
    Off,
}

impl MetricsSink {
    pub fn emit(self, function: &str, metrics: &[(&str, Unit, f64)]) {
        if self == MetricsSink::Stdout {
            println!("{}", emf(function, Utc::now(), metrics));
        }
    }
}

/// The EMF line for `metrics` of `function` (the only dimension, so alarms stay simple).
pub fn emf(function: &str, at: DateTime<Utc>, metrics: &[(&str, Unit, f64)]) -> String {
    let definitions: Vec<Value> =
        metrics.iter().map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() })).collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert("Function".into(), function.into());
    for (name, _, value) in metrics {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_declares_each_metric_and_carries_its_value() {
        let at = "2024-01-01T00:00:00Z".parse().unwrap();
        let line = emf("scorer", at, &[("Records", Unit::Count, 10.0), ("Latency", Unit::Milliseconds, 3.5)]);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_704_067_200_000i64);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Vigil");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"], "Milliseconds");
        assert_eq!(v["Function"], "scorer");
        assert_eq!(v["Records"], 10.0);
    }
}
