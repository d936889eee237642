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

/// The tokenisation key, as the template generates it (`{"version": "1", "key": "…"}`),
/// with the keys it replaced after a rotation (`"previous": [{"version", "key",
/// "valid_until"}]`). Secrets Manager keeps it encrypted under the deployment's KMS key;
/// it is read once per container and never logged.
pub async fn token_keys(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<crate::privacy::Tokeniser, String> {
    use crate::privacy::{TokenKey, Tokeniser};
    #[derive(serde::Deserialize)]
    struct Key {
        version: String,
        key: String,
        #[serde(default)]
        valid_until: Option<chrono::DateTime<chrono::Utc>>,
    }
    #[derive(serde::Deserialize)]
    struct Secret {
        #[serde(flatten)]
        current: Key,
        #[serde(default)]
        previous: Vec<Key>,
    }
    let out = client.get_secret_value().secret_id(id).send().await.map_err(|e| describe(&e))?;
    let text = out.secret_string().ok_or_else(|| format!("secret {id} has no text value"))?;
    let secret: Secret = serde_json::from_str(text).map_err(|e| {
        format!(
            "secret {id} is not {{\"version\", \"key\"[, \"previous\"]}}: {}",
            crate::redact::json_error(&e)
        )
    })?;
    let key = |k: &Key| {
        let version = k.version.parse().map_err(|_| format!("secret {id}: version is not a number"))?;
        TokenKey::new(version, k.key.as_bytes(), k.valid_until).map_err(|e| format!("secret {id}: {e}"))
    };
    let previous = secret.previous.iter().map(key).collect::<Result<Vec<_>, _>>()?;
    Ok(Tokeniser::new(key(&secret.current)?, previous))
}
