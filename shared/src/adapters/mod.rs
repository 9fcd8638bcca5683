//! The adapters behind the ports, grouped by what they talk to.

pub mod aws;
pub mod oci;
