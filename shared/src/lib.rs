//! ecr-steward's ports and adapters, and the Lambda harness, on the domain crate
//! `steward-core` (re-exported here, so a function or the CLI needs this one dependency).
//!
//! The rule of use: functions and CLI → `ports` and adapters (`aws`, `oci`, `http`) →
//! the domain; never back. The domain knows no SDK, no HTTP client and no async runtime.

#![warn(missing_docs)]

/// The IAM policy a CI pipeline needs (`ecr-steward iam pipeline`).
pub use steward_core::iam;
/// The metrics model (`steward_core::metrics`); [`emf`] writes it to the log.
pub use steward_core::metrics;
pub use steward_core::{
    audit, copy_job, date, error, events, glob, image, labels, manifest, notify, policy,
    provenance, push, reference, replica_deletes, replication, retention, scan, semver, tag,
    timestamp, upstream, verdict,
};

mod adapters;
pub use adapters::{aws, oci};

pub mod config;
pub mod deadline;
pub mod emf;
pub mod harness;
pub mod http;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod ops;
pub mod policy_source;
pub mod ports;
pub mod retry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
