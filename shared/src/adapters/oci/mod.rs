//! Adapters to OCI registries (the Distribution API ECR serves): the manifest model, the
//! registry client, and the copy engine, which streams blobs and verifies them in flight.

pub mod copy;
pub mod manifest;
pub mod registry;
