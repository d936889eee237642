//! Alerts: EventBridge alert events → one SNS message per alert, on its severity's
//! topic, never twice. The work is `AlertsHandler`'s.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use vigil_shared::Alert;
use vigil_shared::aws::{self, lambda::AlertsHandler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vigil_shared::logging::init();
    let handler = &AlertsHandler::from_env(&aws::config(aws::Timeouts::ALERTS).await)?;
    run(service_fn(|event: LambdaEvent<EventBridgeEvent<Alert>>| async move {
        handler.handle(event.payload).await.map(|_| ()).map_err(Error::from)
    }))
    .await
}
