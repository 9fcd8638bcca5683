//! Adapters to OCI registries (the Distribution API ECR serves): the registry client, and the
//! copy engine, which streams blobs and verifies them in flight. The manifest model is the
//! domain's (`steward::manifest`).

pub mod copy;
pub mod provenance;
pub mod registry;
pub mod window;
