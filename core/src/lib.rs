//! ecr-steward's domain, pure: no I/O, no clock, no AWS SDK, no HTTP client, no async
//! runtime (the compiler keeps it so: this crate does not depend on them). The policy and
//! what it says about tags, labels, scans and replication; the events it reacts to; the
//! decisions the functions make and the notifications that report them.
//!
//! The adapters, the ports they implement and the Lambda harness are in `ecr-steward-shared`.

#![warn(missing_docs)]

pub mod audit;
pub mod copy_job;
pub mod date;
pub mod error;
pub mod events;
pub mod glob;
pub mod iam;
pub mod image;
pub mod labels;
pub mod manifest;
pub mod metrics;
pub mod notify;
pub mod policy;
pub mod provenance;
pub mod push;
pub mod reference;
pub mod replica_deletes;
pub mod replication;
pub mod retention;
pub mod scan;
pub mod semver;
pub mod tag;
pub mod timestamp;
pub mod upstream;
pub mod verdict;
