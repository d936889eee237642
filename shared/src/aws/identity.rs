//! Who is calling: STS `GetCallerIdentity` with the caller's own credentials (what the
//! audit trail records as `who`).

use super::describe;
use aws_config::SdkConfig;

/// The caller's ARN (`arn:aws:sts::…:assumed-role/ROLE/SESSION` for an assumed role).
pub async fn caller_identity(config: &SdkConfig) -> Result<String, String> {
    let out =
        aws_sdk_sts::Client::new(config).get_caller_identity().send().await.map_err(|e| describe(&e))?;
    out.arn.ok_or_else(|| "GetCallerIdentity returned no ARN".to_owned())
}

/// A function's identity as its entries name it: `lambda:<function name>`.
pub fn function_identity() -> String {
    format!("lambda:{}", std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into()))
}
