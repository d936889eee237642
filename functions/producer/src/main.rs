//! Producer: `POST /transactions` (API Gateway HTTP API) and batch files (S3
//! ObjectCreated) → validated events on the Kinesis stream or MSK topic. The work is
//! `ProducerHandler`'s.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use vigil_shared::aws::{self, lambda::ProducerHandler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vigil_shared::logging::init();
    let handler = &ProducerHandler::from_env(&aws::config(aws::Timeouts::PRODUCER).await).await?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        handler.handle(event.payload).await.map_err(Error::from)
    }))
    .await
}
