//! KMS as the envelope's key service: `GenerateDataKey` (AES-256) to seal, `Decrypt` to
//! open, both with the purpose as encryption context, which the key policy conditions on
//! (the scorer may open party fields for screening; only the compliance role may open
//! quarantined payloads; analysts may open nothing).

use super::describe;
use crate::privacy::{DataKey, KeyService, Purpose, SealError};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;

/// The encryption context key the template's key policy names.
pub const CONTEXT_KEY: &str = "vigil:purpose";

pub struct KmsKeys {
    client: Client,
    key_id: String,
}

impl KmsKeys {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into() }
    }
}

impl KeyService for KmsKeys {
    async fn generate(&self, purpose: Purpose) -> Result<DataKey, SealError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, purpose.as_str())
            .send()
            .await
            .map_err(|e| SealError::KeyService(describe(&e)))?;
        let (Some(plain), Some(wrapped)) = (out.plaintext, out.ciphertext_blob) else {
            return Err(SealError::KeyService("GenerateDataKey returned no key".into()));
        };
        let plaintext = plain.into_inner().try_into().map_err(|_| {
            SealError::KeyService("GenerateDataKey returned a key that is not 32 bytes".into())
        })?;
        Ok(DataKey { plaintext, wrapped: wrapped.into_inner() })
    }

    async fn unwrap(&self, wrapped: &[u8], purpose: Purpose) -> Result<[u8; 32], SealError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(CONTEXT_KEY, purpose.as_str())
            .send()
            .await
            .map_err(|e| {
                let text = describe(&e);
                // A wrapped key KMS does not recognise was altered or is not ours: the
                // value can never open, unlike a throttled or refused call.
                if text.contains("InvalidCiphertext") {
                    SealError::Forged
                } else {
                    SealError::KeyService(text)
                }
            })?;
        out.plaintext
            .ok_or_else(|| SealError::KeyService("Decrypt returned no key".into()))?
            .into_inner()
            .try_into()
            .map_err(|_| SealError::Forged)
    }
}
