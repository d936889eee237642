//! `vigil reveal`: compliance reads back sealed fields (account numbers, names, quarantined
//! payloads) with its own credentials. KMS is the gate (the key's policy names the
//! compliance role; nobody else may open a data key); the caller's role is also checked
//! here first, so a refusal is explicit, and every attempt, opened or refused, is a new
//! entry in the audit trail, which holds hashes of what was asked, never the values.

use super::identity::caller_identity;
use super::kms::KmsKeys;
use crate::audit::{AuditAction, AuditRecord, AuditStore, AuditTrail};
use crate::privacy::{Envelope, Purpose, SealError, Sealed};
use aws_config::SdkConfig;

/// What a compliance officer asks to read.
#[derive(Debug, Clone)]
pub struct RevealRequest {
    pub values: Vec<Sealed>,
    pub purpose: Purpose,
    /// The KMS key that sealed them (the stack's `FieldKey`).
    pub data_key: String,
    /// The compliance role's ARN (`arn:aws:iam::…:role/NAME`).
    pub compliance_role: String,
    /// The case or reason, recorded with the reveal.
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RevealError {
    #[error("reveal refused: {0}")]
    Refused(String),
    #[error("who is asking: {0}")]
    Identity(String),
    #[error("value {index}: {source}")]
    Open { index: usize, source: SealError },
    /// The reveal is not done unless it is on record.
    #[error("audit trail: {0}")]
    Audit(String),
}

/// The role name of an assumed-role session ARN (`arn:aws:sts::1:assumed-role/NAME/session`).
fn assumed_role(identity: &str) -> Option<&str> {
    let rest = identity.split_once(":assumed-role/")?.1;
    rest.split('/').next()
}

/// Opens `request.values` if the caller has assumed the compliance role and KMS agrees;
/// records the attempt either way.
pub async fn reveal<S: AuditStore>(
    caller: &SdkConfig,
    audit: &AuditTrail<S>,
    request: &RevealRequest,
) -> Result<Vec<String>, RevealError> {
    let identity = caller_identity(caller).await.map_err(|e| RevealError::Identity(e.to_string()))?;
    let role = request.compliance_role.rsplit('/').next().unwrap_or_default();
    let record = |action, result: String| {
        let mut r = AuditRecord::new(
            identity.clone(),
            action,
            format!("sealed:{}", request.purpose.as_str()),
            result,
        );
        r = r.input("reason", request.reason.as_bytes());
        for (i, v) in request.values.iter().enumerate() {
            r = r.input(format!("value{i}"), v.as_str().as_bytes());
        }
        r
    };
    if assumed_role(&identity) != Some(role) {
        let why = format!("{identity} has not assumed the compliance role ({role})");
        let entry = record(AuditAction::RevealRefused, "refused: not the compliance role".into());
        audit.append(entry).await.map_err(|e| RevealError::Audit(e.to_string()))?;
        return Err(RevealError::Refused(why));
    }
    let envelope = Envelope::new(KmsKeys::new(aws_sdk_kms::Client::new(caller), &request.data_key));
    let mut out = Vec::with_capacity(request.values.len());
    for (index, value) in request.values.iter().enumerate() {
        match envelope.open(request.purpose, value).await {
            Ok(plain) => out.push(String::from_utf8_lossy(&plain).into_owned()),
            Err(source) => {
                let entry = record(AuditAction::RevealRefused, format!("refused: value {index}: {source}"));
                audit.append(entry).await.map_err(|e| RevealError::Audit(e.to_string()))?;
                return Err(RevealError::Open { index, source });
            }
        }
    }
    let entry = record(AuditAction::Reveal, format!("opened {} value(s)", out.len()));
    audit.append(entry).await.map_err(|e| RevealError::Audit(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn assumed_role_names_the_role() {
        let arn = "arn:aws:sts::123456789012:assumed-role/vigil-compliance-role/jane";
        assert_eq!(super::assumed_role(arn), Some("vigil-compliance-role"));
        assert_eq!(super::assumed_role("arn:aws:iam::123456789012:user/jane"), None);
    }
}
