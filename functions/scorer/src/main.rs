//! Scorer: Kinesis and MSK batches of transactions and labels, and decision requests at
//! authorisation time → decisions in the lake, alerts on EventBridge, state in DynamoDB.
//! The work is `ScorerHandler`'s.

#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::value::RawValue;
use vigil_shared::aws::{self, lambda::ProcessEnv, lambda::ScorerHandler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vigil_shared::logging::init();
    let handler = &ScorerHandler::from_env(&aws::config(ScorerHandler::timeouts(&ProcessEnv)).await).await?;
    run(service_fn(|event: LambdaEvent<Box<RawValue>>| async move {
        handler.handle(event.payload).await.map_err(Error::from)
    }))
    .await
}
