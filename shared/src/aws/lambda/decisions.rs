//! The scorer's third entry point: `POST /v1/decisions` from the HTTP API, answered at
//! authorisation time (see [`crate::decide`]).

use super::http::{self, json_response};
use super::stream::{StreamConfig, StreamPublisher};
use super::{ConfigError, ScorerHandler, Vars, env};
use crate::decide::{Answer, Budget, Desk};
use crate::metrics::Unit;
use crate::money::Currency;
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// The route, as API Gateway names it in `routeKey`.
pub const ROUTE: &str = "POST /v1/decisions";

/// The decision API's configuration: the stream to hand decisions to and the store's
/// budget. Present when the environment names a stream (the decision function's does; the
/// stream scorer's does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskConfig {
    pub stream: StreamConfig,
    pub budget: Budget,
}

impl DeskConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Option<Self>, ConfigError> {
        if !StreamConfig::is_set(vars) {
            return Ok(None);
        }
        let state = match vars.get(env::DECISION_BUDGET_MS) {
            None => Budget::default().state,
            Some(text) => match text.trim().parse::<u64>() {
                Ok(ms @ 1..=10_000) => Duration::from_millis(ms),
                _ => {
                    let why = format!("`{text}`: milliseconds, 1 to 10000");
                    return Err(ConfigError::Invalid(env::DECISION_BUDGET_MS, why));
                }
            },
        };
        let stream = StreamConfig::from_vars(vars)?;
        Ok(Some(Self { stream, budget: Budget { state, ..Budget::default() } }))
    }
}

/// The desk, connected to its stream, where the environment configures one.
pub async fn desk(
    config: &SdkConfig,
    vars: &dyn Vars,
    currency: Currency,
    privacy: std::sync::Arc<crate::privacy::Privacy>,
) -> Result<Option<Desk<StreamPublisher>>, ConfigError> {
    let Some(at) = DeskConfig::from_vars(vars)? else { return Ok(None) };
    let stream = StreamPublisher::connect(config, at.stream).await?;
    Ok(Some(Desk { stream, budget: at.budget, currency, privacy }))
}

fn refusal(status: u16, code: &str, reason: &str) -> ApiGatewayV2httpResponse {
    let answer = Answer::error(status, code, reason.to_owned());
    json_response(i64::from(answer.status), &answer.body)
}

impl ScorerHandler {
    /// Answers one request of the HTTP API: the decisions, degraded where the store was too
    /// slow; 4xx for what cannot be read; 503 only when nothing could be decided.
    pub async fn decisions(
        &self,
        request: ApiGatewayV2httpRequest,
        now: DateTime<Utc>,
    ) -> ApiGatewayV2httpResponse {
        let Some(desk) = &self.desk else {
            return refusal(503, "NOT_CONFIGURED", "this function has no stream to hand decisions to");
        };
        if request.route_key.as_deref() != Some(ROUTE) {
            return refusal(404, "NO_SUCH_ROUTE", "the decision API serves POST /v1/decisions");
        }
        let started = Instant::now();
        let body = match http::body(request) {
            Ok(body) => body,
            Err(reason) => return refusal(400, "MALFORMED_BODY", &reason),
        };
        let p = &self.pipeline;
        let answer = desk.decide(&p.scorer, &p.quarantine, &body, now).await;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::info!(
            status = answer.status,
            decided = answer.decided,
            degraded = answer.degraded,
            rejected = answer.rejected,
            handoff_failed = answer.handoff_failed,
            ms,
            "decision request answered"
        );
        let count = |n: usize| n as f64;
        self.metrics.emit(
            "decisions",
            &[
                ("Decided", Unit::Count, count(answer.decided)),
                ("Degraded", Unit::Count, count(answer.degraded)),
                ("Rejected", Unit::Count, count(answer.rejected)),
                ("HandoffFailures", Unit::Count, count(answer.handoff_failed)),
                ("Unavailable", Unit::Count, count(usize::from(answer.status == 503))),
                ("DecisionLatency", Unit::Milliseconds, ms),
            ],
        );
        json_response(i64::from(answer.status), &answer.body)
    }
}
