//! Secrets Manager: the Azure account's credentials for the backup copier, read once per
//! container (the template names the secret; its value is set by the operator).

use super::describe;
use crate::azure::AzureCredentials;

/// The secret `id` (name or ARN), a JSON object [`AzureCredentials`] reads.
pub async fn azure_credentials(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<AzureCredentials, String> {
    let out = client.get_secret_value().secret_id(id).send().await.map_err(|e| describe(&e))?;
    let text = out.secret_string().ok_or_else(|| format!("secret {id} has no text value"))?;
    // Never echo the value: it holds the account key.
    serde_json::from_str(text).map_err(|e| {
        format!(
            "secret {id} is not {{\"account\", \"key\", \"container\"[, \"endpoint\", \"immutability_days\"]}}: {} at column {}",
            e.classify() as u8,
            e.column()
        )
    })
}
