//! The OCI manifest model: a manifest's exact bytes and media type, the parts of a manifest
//! or index that ecr-steward reads, and the sha256 digest of bytes.

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Service, StewardError};

/// The media type of an OCI image index (a multi-platform image).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The media type of an OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The media type of a Docker manifest list (a multi-platform image).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The media type of a Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A manifest as the registry stores it: the exact bytes, and what they are.
#[derive(Debug, Clone)]
pub struct RawManifest {
    /// The manifest exactly as stored; its digest is computed over these bytes.
    pub bytes: Vec<u8>,
    /// The manifest's media type, such as [`OCI_MANIFEST`].
    pub media_type: String,
    /// The manifest's digest (`sha256:…`).
    pub digest: String,
}

/// The parts of an image manifest or index that ecr-steward reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDoc {
    /// The document's own `mediaType`, when it has one.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The image config (a manifest's; `None` for an index).
    #[serde(default)]
    pub config: Option<Descriptor>,
    /// The layers (a manifest's).
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The platform manifests (an index's).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to (a signature's or attestation's image).
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// What kind of artifact this is (OCI 1.1), such as `application/vnd.cncf.notary.signature`.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// The document's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A reference to a blob or manifest, by digest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of what it points to.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The digest of what it points to (`sha256:…`).
    pub digest: String,
    /// Its size in bytes; 0 when not given.
    #[serde(default)]
    pub size: u64,
    /// The platform, for an index's manifests.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// The descriptor's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Where else the blob can be fetched from: a non-distributable layer's only home.
    #[serde(default)]
    pub urls: Vec<String>,
    /// What kind of artifact it points to (OCI 1.1 referrers).
    #[serde(default)]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// True for a layer no registry is expected to hold: a Docker "foreign" layer, an OCI
    /// non-distributable one, or any descriptor with `urls` (Windows base layers). Copiers
    /// leave it where its `urls` say and copy the manifest as it is.
    pub fn is_external(&self) -> bool {
        let media_type = self.media_type.as_deref().unwrap_or_default();
        !self.urls.is_empty()
            || media_type.contains(".foreign.")
            || media_type.contains(".nondistributable.")
    }
}

/// The platform of an image in an index.
#[derive(Debug, Clone, Deserialize)]
pub struct Platform {
    /// The operating system, such as `linux`.
    pub os: String,
    /// The CPU architecture, such as `arm64`.
    pub architecture: String,
    /// The CPU variant, such as `v8`, when given.
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/architecture[/variant]`, such as `linux/arm64/v8`.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

impl RawManifest {
    /// True for an OCI index or Docker manifest list.
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_LIST
    }

    /// Reads the parts ecr-steward uses; bytes that are not a JSON manifest are a
    /// [`StewardError::InvalidResponse`].
    pub fn parse(&self) -> Result<ManifestDoc, StewardError> {
        serde_json::from_slice(&self.bytes).map_err(|error| StewardError::InvalidResponse {
            service: Service::Registry,
            message: format!("manifest {} is not valid JSON: {error}", self.digest),
        })
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", lower_hex(&Sha256::digest(bytes)))
}

/// Bytes as lowercase hex, two digits a byte.
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}
