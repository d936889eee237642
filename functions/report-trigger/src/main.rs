//! Report trigger: an EventBridge Scheduler input → one report run on Athena, stored with
//! its manifest, audited and announced. The work is `ReportTriggerHandler`'s.

#![recursion_limit = "256"]
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use vigil_shared::aws::{self, lambda::ReportTriggerHandler, lambda::query_deadline};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vigil_shared::logging::init();
    let handler = &ReportTriggerHandler::from_env(&aws::config(aws::Timeouts::REPORTS).await)?;
    run(service_fn(|event: LambdaEvent<Value>| async move {
        let deadline = query_deadline(event.context.deadline, chrono::Utc::now());
        handler.handle(event.payload, deadline).await.map_err(Error::from)
    }))
    .await
}
