//! ecr-steward's shared crate: the policy engine, the event model and the adapters that the
//! Lambda functions and the CLI are built on.

pub mod aws;
pub mod config;
pub mod copy;
pub mod date;
pub mod deadline;
pub mod error;
pub mod events;
pub mod glob;
pub mod guard;
pub mod http;
pub mod labels;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod notify;
pub mod policy;
pub mod ports;
pub mod reference;
pub mod registry;
pub mod replicate;
pub mod scan;
pub mod semver;
pub mod tag;
#[cfg(feature = "testing")]
pub mod testing;
