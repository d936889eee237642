//! Vigil's deployment on local stand-ins for the cloud: the SAM template read as
//! CloudFormation reads it, its resources created on moto, and the event sources Lambda
//! runs around the functions done in process — so the local demo and the end-to-end test
//! run what `sam deploy` deploys, wired the way the template wires it.

// The scorer's future nests the AWS SDK's deeply.
#![recursion_limit = "256"]

pub mod azurite;
pub mod backup_drill;
pub mod chaos;
pub mod drill;
pub mod dump;
pub mod e2e;
pub mod moto;
pub mod sources;
pub mod stack;
pub mod template;

pub use stack::LocalStack;
pub use template::Template;

/// The repository's `template.yaml`.
pub fn template_path() -> std::path::PathBuf {
    moto::workspace().join("template.yaml")
}
