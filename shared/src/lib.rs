//! ecr-steward's shared crate: the policy engine, the event model and the adapters that the
//! Lambda functions and the CLI are built on.

pub mod glob;
pub mod labels;
pub mod policy;
pub mod reference;
pub mod semver;
pub mod tag;
