//! The report trigger's query engine: Athena, in the stack's workgroup (whose enforced
//! configuration encrypts results into the reports bucket and caps bytes scanned).

use crate::report::trigger::{Query, QueryEngine, QueryRun, TriggerError, cell};
use crate::report::{Cell, Table};
use aws_sdk_athena::Client;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};
use std::time::{Duration, Instant};

pub struct AthenaEngine {
    client: Client,
    workgroup: String,
    /// The Glue database the lake's tables are in (the SQL names tables unqualified).
    database: String,
    /// When the invocation stops waiting for its queries (Lambda retries it; the same
    /// tokens find the same queries).
    deadline: Instant,
}

/// Most rows one section may return: the reports aggregate, and a page is read whole.
pub const MAX_ROWS: usize = 100_000;

impl AthenaEngine {
    pub fn new(client: Client, workgroup: &str, database: &str, deadline: Instant) -> Self {
        Self { client, workgroup: workgroup.into(), database: database.into(), deadline }
    }
}

fn failed(query: &Query, message: impl std::fmt::Display) -> TriggerError {
    TriggerError::Query { section: query.section, message: message.to_string() }
}

impl QueryEngine for AthenaEngine {
    async fn run(&self, query: &Query) -> Result<QueryRun, TriggerError> {
        let started = self
            .client
            .start_query_execution()
            .query_string(&query.bound.sql)
            .work_group(&self.workgroup)
            .query_execution_context(QueryExecutionContext::builder().database(&self.database).build())
            .set_execution_parameters(
                (!query.bound.parameters.is_empty()).then(|| query.bound.parameters.clone()),
            )
            .client_request_token(&query.token)
            .send()
            .await
            .map_err(|e| failed(query, super::describe(&e)))?;
        let id =
            started.query_execution_id().ok_or_else(|| failed(query, "no query execution id"))?.to_owned();
        let mut pause = Duration::from_millis(200);
        let bytes_scanned = loop {
            let out = self
                .client
                .get_query_execution()
                .query_execution_id(&id)
                .send()
                .await
                .map_err(|e| failed(query, super::describe(&e)))?;
            let execution = out.query_execution();
            let status = execution.and_then(|e| e.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    break execution
                        .and_then(|e| e.statistics())
                        .and_then(|s| s.data_scanned_in_bytes())
                        .unwrap_or(0);
                }
                Some(QueryExecutionState::Failed | QueryExecutionState::Cancelled) => {
                    let reason = status.and_then(|s| s.state_change_reason()).unwrap_or("no reason given");
                    return Err(failed(query, format!("query {id} did not succeed: {reason}")));
                }
                _ if Instant::now() + pause > self.deadline => {
                    return Err(failed(
                        query,
                        format!("query {id} still running at the invocation's deadline"),
                    ));
                }
                _ => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        };
        let mut table = Table::default();
        let mut kinds = Vec::new();
        let mut pages = self.client.get_query_results().query_execution_id(&id).into_paginator().send();
        let mut first = true;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed(query, super::describe(&e)))?;
            let Some(set) = page.result_set() else { continue };
            if kinds.is_empty()
                && let Some(meta) = set.result_set_metadata()
            {
                for c in meta.column_info() {
                    table.columns.push(c.name().to_owned());
                    kinds.push(c.r#type().to_owned());
                }
            }
            for (i, row) in set.rows().iter().enumerate() {
                // A SELECT's first row is its header.
                if first && i == 0 {
                    continue;
                }
                let cells: Vec<Cell> =
                    row.data().iter().zip(&kinds).map(|(d, kind)| cell(kind, d.var_char_value())).collect();
                table.rows.push(cells);
            }
            if table.rows.len() > MAX_ROWS {
                return Err(failed(query, format!("query {id} returned more than {MAX_ROWS} rows")));
            }
            first = false;
        }
        Ok(QueryRun { query_id: id, table, bytes_scanned })
    }
}
