//! Adapters to AWS: the SDK set-up on the one HTTP client, error classification, ECR, SNS, the
//! policy in S3 or SSM, and the ECR registries (tokens per region) the OCI adapters reach
//! images through.

mod classify;
mod cursor;
mod ecr;
#[cfg(feature = "events")]
mod event_bus;
mod inspect;
mod policy_store;
mod registries;
mod replicas;
mod retention;
mod sdk;
mod sns;
#[cfg(feature = "sqs")]
mod sqs;
#[cfg(feature = "in-use")]
mod workloads;

pub use classify::classify;
pub use cursor::SsmCursor;
pub use ecr::{Ecr, RegistryCredentials};
#[cfg(feature = "events")]
pub use event_bus::EventBus;
pub use policy_store::{AwsPolicyStore, MAX_POLICY_BYTES};
pub use registries::{how_to_create, Registries, RegistryReplicator};
pub use sdk::{retry_config, sdk_config, timeout_config};
pub use sns::Sns;
#[cfg(feature = "sqs")]
pub use sqs::Sqs;
#[cfg(feature = "in-use")]
pub use workloads::AwsWorkloads;
