//! ECR's API: registry credentials, tags (TagStore) and scan findings (ScanReader).

use std::collections::BTreeMap;

use aws_config::{Region, SdkConfig};
use aws_sdk_ecr::types::ImageIdentifier;

use super::classify::classify;
use crate::error::{AwsErrorCode, Service, StewardError};
use crate::image::{ImageSelector, TaggedImage};
use crate::ports::{ImageCatalog, ScanFindings, ScanReader, TagStore};
use crate::provenance::{ManagedSigning, SigningState};
use crate::scan::{ScanState, VulnFinding, VulnSeverity};

/// ECR, for one region.
#[derive(Clone, Debug)]
pub struct Ecr {
    pub(super) client: aws_sdk_ecr::Client,
}

impl Ecr {
    /// An ECR client on `config` (its region and credentials).
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_ecr::Client::new(config),
        }
    }

    /// An ECR client for `region`, with `config`'s credentials and HTTP client.
    pub fn in_region(config: &SdkConfig, region: &str) -> Self {
        let config = config
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        Self::new(&config)
    }

    /// The SDK client, for calls this adapter does not wrap.
    pub fn client(&self) -> &aws_sdk_ecr::Client {
        &self.client
    }

    /// The credentials of the registry of this region, from GetAuthorizationToken.
    pub async fn registry_credentials(&self) -> Result<RegistryCredentials, StewardError> {
        let output = self
            .client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?;
        let data =
            output
                .authorization_data()
                .first()
                .ok_or_else(|| StewardError::InvalidResponse {
                    service: Service::Ecr,
                    message: "GetAuthorizationToken returned no authorization data".into(),
                })?;
        let token = data.authorization_token().unwrap_or_default();
        let endpoint = data.proxy_endpoint().unwrap_or_default();
        let expires_at = data
            .expires_at()
            .and_then(|at| std::time::SystemTime::try_from(*at).ok());
        Ok(RegistryCredentials {
            authorization: format!("Basic {token}"),
            endpoint: endpoint.to_string(),
            expires_at,
        })
    }
}

/// What a registry client needs to reach an ECR registry.
#[derive(Clone)]
pub struct RegistryCredentials {
    /// The `Authorization` header's value: `Basic <token>`, valid 12 hours.
    pub authorization: String,
    /// The registry's endpoint, `https://<account>.dkr.ecr.<region>.amazonaws.com`.
    pub endpoint: String,
    /// When the token expires, as ECR says (`expiresAt`).
    pub expires_at: Option<std::time::SystemTime>,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Every manifest type ECR stores, so that BatchGetImage returns the manifest as pushed.
const MANIFEST_MEDIA_TYPES: [&str; 5] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
];

impl TagStore for Ecr {
    async fn image_by_digest(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<(TaggedImage, Option<crate::timestamp::Timestamp>)>, StewardError> {
        let described = self
            .client
            .describe_images()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await;
        match described.map_err(|e| classify(Service::Ecr, e)) {
            Ok(output) => Ok(output.image_details().first().and_then(|detail| {
                let pushed_at = detail
                    .image_pushed_at()
                    .map(|at| crate::timestamp::Timestamp(at.secs()));
                tagged(detail).map(|image| (image, pushed_at))
            })),
            Err(StewardError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn tagged_image(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<TaggedImage>, StewardError> {
        self.find_image(repository, &ImageSelector::Tag(tag.into()))
            .await
    }

    async fn put_tag(&self, repository: &str, tag: &str, digest: &str) -> Result<(), StewardError> {
        let mut request = self
            .client
            .batch_get_image()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build());
        for media_type in MANIFEST_MEDIA_TYPES {
            request = request.accepted_media_types(media_type);
        }
        let fetched = request
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?;
        let image = fetched
            .images()
            .iter()
            .find(|image| image.image_id().and_then(|id| id.image_digest()) == Some(digest))
            .ok_or_else(|| StewardError::NotFound {
                service: Service::Ecr,
                what: format!("image {digest} in {repository}"),
            })?;
        let manifest = image
            .image_manifest()
            .ok_or_else(|| StewardError::InvalidResponse {
                service: Service::Ecr,
                message: format!("BatchGetImage returned no manifest for {digest}"),
            })?;
        let put = self
            .client
            .put_image()
            .repository_name(repository)
            .image_manifest(manifest)
            .set_image_manifest_media_type(image.image_manifest_media_type().map(str::to_string))
            .image_tag(tag)
            .image_digest(digest)
            .send()
            .await;
        let error = match put {
            Ok(_) => return Ok(()),
            Err(error) => classify(Service::Ecr, error),
        };
        let code = match &error {
            StewardError::Rejected { code, .. } => code.clone(),
            _ => None,
        };
        match code {
            // Nothing changed: either the tag already names this image, or (moto) an
            // immutable tag names another one. What the tag names now decides.
            Some(AwsErrorCode::ImageAlreadyExists) => {
                match self.tagged_image(repository, tag).await? {
                    Some(current) if current.digest == digest => Ok(()),
                    current => Err(StewardError::Conflict {
                        service: Service::Ecr,
                        message: format!(
                            "tag {tag} of {repository} is immutable and names {}",
                            current.map_or_else(|| "no image".into(), |c| c.digest)
                        ),
                    }),
                }
            }
            Some(AwsErrorCode::ImageTagAlreadyExists) => Err(StewardError::Conflict {
                service: Service::Ecr,
                message: format!("tag {tag} of {repository} is immutable and names another image"),
            }),
            _ => Err(error),
        }
    }

    async fn remove_tag(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, StewardError> {
        let id = ImageIdentifier::builder().image_tag(tag).build();
        match self.batch_delete_one(None, repository, id).await? {
            None => Ok(None),
            Some(Some(digest)) => Ok(Some(digest)),
            Some(None) => Err(StewardError::InvalidResponse {
                service: Service::Ecr,
                message: format!("BatchDeleteImage removed {tag} but named no digest"),
            }),
        }
    }
}

impl Ecr {
    /// One BatchDeleteImage of `id` in `account`'s registry (the caller's when `None`): `None`
    /// when there was no such image or tag, else the digest ECR's answer names, if it names one.
    pub(crate) async fn batch_delete_one(
        &self,
        account: Option<&str>,
        repository: &str,
        id: ImageIdentifier,
    ) -> Result<Option<Option<String>>, StewardError> {
        let deleted = self
            .client
            .batch_delete_image()
            .repository_name(repository)
            .set_registry_id(account.map(str::to_string))
            .image_ids(id)
            .send()
            .await;
        let output = match deleted.map_err(|e| classify(Service::Ecr, e)) {
            Ok(output) => output,
            Err(StewardError::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        if let Some(failure) = output.failures().first() {
            let code = failure
                .failure_code()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default();
            if code == "ImageNotFound" || code == "ImageTagDoesNotMatchDigest" {
                return Ok(None);
            }
            return Err(StewardError::Rejected {
                code: None,
                service: Service::Ecr,
                message: format!(
                    "BatchDeleteImage {code}: {}",
                    failure.failure_reason().unwrap_or_default()
                ),
            });
        }
        Ok(Some(
            output
                .image_ids()
                .first()
                .and_then(|id| id.image_digest())
                .map(str::to_string),
        ))
    }
}

/// Most pages of findings read for one image (1,000 findings a page).
const MAX_FINDING_PAGES: usize = 10;

impl crate::ports::SigningStatusReader for Ecr {
    /// A registry where managed signing is not available (an older ECR API, or a stand-in
    /// without it) answers like one that signs nothing: no statuses.
    async fn signing_statuses(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<ManagedSigning>, StewardError> {
        let answer = self
            .client
            .describe_image_signing_status()
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                let code = aws_sdk_ecr::error::ProvideErrorMetadata::code(&error)
                    .unwrap_or_default()
                    .to_string();
                let status = error.raw_response().map(|r| r.status().as_u16());
                if code == "UnsupportedOperation"
                    || code == "UnknownOperationException"
                    || code.contains("NotImplemented")
                    || code == "SigningConfigurationNotFoundException"
                    || status == Some(404)
                    || status == Some(501)
                {
                    tracing::debug!(%code, "no managed signing status");
                    return Ok(Vec::new());
                }
                return Err(classify(Service::Ecr, error));
            }
        };
        Ok(answer
            .signing_statuses()
            .iter()
            .map(|status| ManagedSigning {
                profile: status.signing_profile_arn().unwrap_or_default().to_string(),
                state: match status.status().map(|s| s.as_str()) {
                    Some("COMPLETE") => SigningState::Complete,
                    Some("FAILED") => SigningState::Failed,
                    _ => SigningState::InProgress,
                },
                reason: status
                    .failure_reason()
                    .or(status.failure_code())
                    .map(str::to_string),
            })
            .collect())
    }
}

impl ScanReader for Ecr {
    async fn scan_findings(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<ScanFindings, StewardError> {
        let image = ImageIdentifier::builder().image_digest(digest).build();
        let mut result = ScanFindings {
            state: ScanState::InProgress,
            counts: BTreeMap::new(),
            findings: Vec::new(),
        };
        let mut next_token = None;
        for _ in 0..MAX_FINDING_PAGES {
            let page = self
                .client
                .describe_image_scan_findings()
                .repository_name(repository)
                .image_id(image.clone())
                .max_results(1000)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| classify(Service::Ecr, e))?;
            if let Some(status) = page.image_scan_status() {
                let name = status.status().map(|s| s.as_str()).unwrap_or("IN_PROGRESS");
                result.state = ScanState::from_status(name, status.description());
            }
            if let Some(findings) = page.image_scan_findings() {
                if let Some(counts) = findings.finding_severity_counts() {
                    result.counts = counts
                        .iter()
                        .filter_map(|(severity, count)| {
                            Some((
                                VulnSeverity::from_name(severity.as_str())?,
                                u64::try_from(*count).unwrap_or(0),
                            ))
                        })
                        .collect();
                }
                result
                    .findings
                    .extend(findings.findings().iter().map(basic_finding));
                result
                    .findings
                    .extend(findings.enhanced_findings().iter().map(enhanced_finding));
            }
            next_token = page.next_token().map(str::to_string);
            if next_token.is_none() {
                break;
            }
        }
        Ok(result)
    }
}

fn basic_finding(finding: &aws_sdk_ecr::types::ImageScanFinding) -> VulnFinding {
    let attribute = |key: &str| {
        finding
            .attributes()
            .iter()
            .find(|a| a.key() == key)
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    VulnFinding {
        id: finding.name().unwrap_or_default().to_string(),
        severity: finding
            .severity()
            .and_then(|s| VulnSeverity::from_name(s.as_str()))
            .unwrap_or(VulnSeverity::Undefined),
        package: attribute("package_name"),
        installed_version: attribute("package_version"),
        fixed_in: None,
        fixable: None,
        uri: finding.uri().map(str::to_string),
    }
}

fn enhanced_finding(finding: &aws_sdk_ecr::types::EnhancedImageScanFinding) -> VulnFinding {
    let details = finding.package_vulnerability_details();
    let package = details.and_then(|d| d.vulnerable_packages().first());
    VulnFinding {
        id: details
            .and_then(|d| d.vulnerability_id())
            .or(finding.title())
            .unwrap_or_default()
            .to_string(),
        severity: finding
            .severity()
            .and_then(VulnSeverity::from_name)
            .unwrap_or(VulnSeverity::Undefined),
        package: package.and_then(|p| p.name()).map(str::to_string),
        installed_version: package.and_then(|p| p.version()).map(str::to_string),
        fixed_in: package
            .and_then(|p| p.fixed_in_version())
            .map(str::to_string),
        fixable: finding.fix_available().map(|fix| fix != "NO"),
        uri: details.and_then(|d| d.source_url()).map(str::to_string),
    }
}

fn tagged(detail: &aws_sdk_ecr::types::ImageDetail) -> Option<TaggedImage> {
    Some(TaggedImage {
        digest: detail.image_digest()?.to_string(),
        tags: detail.image_tags().to_vec(),
        archived: detail
            .image_status()
            .is_some_and(|status| *status != aws_sdk_ecr::types::ImageStatus::Active),
    })
}

impl ImageCatalog for Ecr {
    async fn find_image(
        &self,
        repository: &str,
        selector: &ImageSelector,
    ) -> Result<Option<TaggedImage>, StewardError> {
        let id = match selector {
            ImageSelector::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
            ImageSelector::Digest(digest) => {
                ImageIdentifier::builder().image_digest(digest).build()
            }
        };
        let described = self
            .client
            .describe_images()
            .repository_name(repository)
            .image_ids(id)
            .send()
            .await;
        match described.map_err(|e| classify(Service::Ecr, e)) {
            Ok(output) => Ok(output.image_details().first().and_then(tagged)),
            Err(StewardError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn repositories(&self) -> Result<Vec<String>, StewardError> {
        let mut pages = self.client.describe_repositories().into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(Service::Ecr, e))?;
            names.extend(
                page.repositories()
                    .iter()
                    .filter_map(|r| r.repository_name())
                    .map(str::to_string),
            );
        }
        names.sort();
        Ok(names)
    }

    async fn tagged_images(&self, repository: &str) -> Result<Vec<TaggedImage>, StewardError> {
        // Archived images too, so that what skips them can say so.
        let mut pages = self
            .client
            .describe_images()
            .repository_name(repository)
            .filter(
                aws_sdk_ecr::types::DescribeImagesFilter::builder()
                    .image_status(aws_sdk_ecr::types::ImageStatusFilter::Any)
                    .build(),
            )
            .into_paginator()
            .send();
        let mut images = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(Service::Ecr, e))?;
            images.extend(
                page.image_details()
                    .iter()
                    .filter_map(tagged)
                    .filter(|image| !image.tags.is_empty()),
            );
        }
        images.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(images)
    }

    async fn scans_on_push(&self, repository: &str) -> Result<bool, StewardError> {
        use aws_sdk_ecr::types::{ScanFrequency, ScanType};
        let own_flag = self
            .client
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?
            .repositories()
            .first()
            .and_then(|r| r.image_scanning_configuration())
            .is_some_and(|c| c.scan_on_push());
        if own_flag {
            return Ok(true);
        }
        // The effective setting, registry rules included; where it cannot be read (older
        // registries, missing permission), a registry on enhanced scanning counts as scanning.
        let effective = self
            .client
            .batch_get_repository_scanning_configuration()
            .repository_names(repository)
            .send()
            .await
            .ok()
            .and_then(|out| {
                out.scanning_configurations().first().map(|c| {
                    c.scan_on_push()
                        || matches!(
                            c.scan_frequency(),
                            Some(ScanFrequency::ScanOnPush | ScanFrequency::ContinuousScan)
                        )
                })
            });
        if let Some(on) = effective {
            return Ok(on);
        }
        Ok(self
            .client
            .get_registry_scanning_configuration()
            .send()
            .await
            .ok()
            .and_then(|out| {
                out.scanning_configuration()
                    .and_then(|c| c.scan_type().cloned())
            })
            .is_some_and(|scan_type| scan_type == ScanType::Enhanced))
    }
}
