//! Backup copier: new lake, report and audit objects (S3 → EventBridge) and scheduled
//! reconciliations and verifications → copies in the Object Lock bucket and in Azure Blob,
//! checked by SHA-256 and recorded in the manifest. The work is `BackupHandler`'s.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use vigil_shared::aws::{self, lambda::BackupHandler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vigil_shared::logging::init();
    let handler = &BackupHandler::from_env(&aws::config(aws::Timeouts::BACKUP).await).await?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        handler.handle(event.payload).await.map_err(Error::from)
    }))
    .await
}
