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

/// The AWS partition a region is in: `aws-cn` for China, `aws-us-gov` for GovCloud (US), the
/// isolated partitions by their region prefixes, `aws` for every other region.
pub fn partition_of(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

impl ImageRef {
    /// The image's page in the ECR console of its partition; `scan-results` or `details`.
    pub fn console_link(&self, page: &str) -> String {
        let host = match partition_of(&self.region) {
            "aws-cn" => "console.amazonaws.cn".to_string(),
            "aws-us-gov" => "console.amazonaws-us-gov.com".to_string(),
            _ => format!("{}.console.aws.amazon.com", self.region),
        };
        format!(
            "https://{host}/ecr/repositories/private/{account}/{repository}/_/image/{digest}/{page}?region={region}",
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
    /// In the archive storage class, or being restored from it: it cannot be pulled.
    pub archived: bool,
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

/// A content digest, `algorithm:hex`, checked once where it comes in (an event, a registry's
/// answer): `sha256:` and 64 lowercase hex digits, or `sha512:` and 128.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

/// The hash a digest is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// What registries and ECR use.
    Sha256,
    /// Allowed by the OCI image spec.
    Sha512,
}

/// Text that is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a digest; hint: sha256: and 64 lowercase hex digits (or sha512: and 128)")]
pub struct DigestError(pub String);

impl Digest {
    /// Checks `text`.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let hex_ok = |hex: &str, len: usize| {
            hex.len() == len && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        let valid = match text.split_once(':') {
            Some(("sha256", hex)) => hex_ok(hex, 64),
            Some(("sha512", hex)) => hex_ok(hex, 128),
            _ => false,
        };
        if valid {
            Ok(Self(text.into()))
        } else {
            Err(DigestError(text.into()))
        }
    }

    /// The digest as written, `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash it is made with.
    pub fn algorithm(&self) -> DigestAlgorithm {
        if self.0.starts_with("sha512:") {
            DigestAlgorithm::Sha512
        } else {
            DigestAlgorithm::Sha256
        }
    }

    /// The hex digits, without the algorithm.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, hex)| hex)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> Self {
        digest.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_partitions_follow_the_region() {
        let image = |region: &str| ImageRef {
            account: Some("123456789012".into()),
            region: region.into(),
            repository: "team/app".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
        };
        assert!(image("eu-west-1")
            .console_link("details")
            .starts_with("https://eu-west-1.console.aws.amazon.com/ecr/"));
        assert!(image("cn-north-1")
            .console_link("details")
            .starts_with("https://console.amazonaws.cn/ecr/"));
        assert!(image("us-gov-west-1")
            .console_link("scan-results")
            .starts_with("https://console.amazonaws-us-gov.com/ecr/"));
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
        ] {
            assert_eq!(partition_of(region), partition, "{region}");
        }
    }

    #[test]
    fn digests_are_checked_once() {
        let text = format!("sha256:{}", "ab".repeat(32));
        let digest = Digest::parse(&text).expect("valid");
        assert_eq!(digest.algorithm(), DigestAlgorithm::Sha256);
        assert_eq!(digest.hex().len(), 64);
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_ok());
        for bad in [
            "latest",
            "sha256:",
            "sha256:ABCD",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "0".repeat(63)),
            &format!("md5:{}", "0".repeat(32)),
            &format!("sha512:{}", "0".repeat(64)),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }
}
