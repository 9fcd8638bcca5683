//! Image identity: where an image is, what a tag names, and the labels of each platform.

use crate::labels::Labels;

/// One image in one repository of one registry (region and account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry's AWS account ID; `None` for the caller's own account.
    pub account: Option<String>,
    /// The AWS region, such as `us-east-1`.
    pub region: String,
    /// The repository name, such as `team/app`.
    pub repository: String,
    /// The image's manifest digest (`sha256:…`).
    pub digest: String,
}

impl ImageRef {
    /// The image's page in the ECR console; `scan-results` or `details`.
    pub fn console_link(&self, page: &str) -> String {
        format!(
            "https://{region}.console.aws.amazon.com/ecr/repositories/private/{account}/{repository}/_/image/{digest}/{page}?region={region}",
            region = self.region,
            account = self.account.as_deref().unwrap_or("-"),
            repository = self.repository,
            digest = self.digest,
        )
    }
}

/// The labels and annotations of one platform image (the image itself when it is not an index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformLabels {
    /// `linux/arm64/v8`; `None` for a single-platform image.
    pub platform: Option<String>,
    /// The platform image's manifest digest (`sha256:…`).
    pub digest: String,
    /// Config labels merged with the manifest's and the index's annotations.
    pub labels: Labels,
}

/// The image a tag names, as ECR describes it just now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedImage {
    /// The image's manifest digest (`sha256:…`).
    pub digest: String,
    /// Every tag of the image, this one included.
    pub tags: Vec<String>,
}

/// How an image is named when it is looked up: by a tag, or by its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSelector {
    /// The image a tag names now.
    Tag(String),
    /// The image with this digest (`sha256:…`).
    Digest(String),
}

impl std::fmt::Display for ImageSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tag(tag) => write!(f, ":{tag}"),
            Self::Digest(digest) => write!(f, "@{digest}"),
        }
    }
}

/// A manifest that refers to an image (a signature, an SBOM, an attestation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// The referrer's own digest.
    pub digest: String,
    /// The tag it is found under where a registry has no referrers API (cosign's and the OCI
    /// fallback scheme's `sha256-<hex>[.sig|.att|.sbom]`); `None` when listed by the API.
    pub tag: Option<String>,
}
