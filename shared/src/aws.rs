//! Adapters to AWS: the SDK configuration (one HTTP client, rustls on ring), ECR and SNS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use tokio::sync::Mutex;

use crate::copy::{copy_image, CopyOptions, CopyStats, Endpoint};
use crate::error::{Service, StewardError};
use crate::http::SdkHttpClient;
use crate::notify::ImageRef;
use crate::notify::Notification;
use crate::policy::Target;
use crate::ports::{
    ImageReader, Notifier, PlatformLabels, Replicator, ScanFindings, ScanReader, TagStore,
    TaggedImage,
};
use crate::registry::RegistryClient;
use crate::scan::{ScanState, VulnFinding, VulnSeverity};

/// The SDK configuration from the environment (credentials, region, `AWS_ENDPOINT_URL`), on
/// the process's one HTTP client (see [`crate::http`]).
pub async fn sdk_config(http: &reqwest::Client) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(SdkHttpClient::shared(http.clone()))
        .retry_config(retry_config())
        .load()
        .await
}

/// The SDK's retries: its standard strategy (exponential backoff with full jitter, a retry
/// quota against retry storms) on throttling, 5xx and connection errors; 3 attempts, waits
/// from 100 ms up to 2 s, so that a call that stays throttled gives up well inside a
/// function's timeout and the event is retried by Lambda instead.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(2))
}

/// Maps an SDK error to the classes Lambda's retries act on.
/// An error without a code the SDK could read (a proxy's or load balancer's page, say) is
/// classified by its HTTP status, as the registry's are.
pub fn classify<E>(service: Service, error: SdkError<E, HttpResponse>) -> StewardError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StewardError::Unavailable {
                service,
                message: format!("{}", aws_sdk_ecr::error::DisplayErrorContext(&error)),
            }
        }
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or_default();
            if code.is_empty() {
                return StewardError::from_status(
                    service,
                    context.raw().status().as_u16(),
                    "the requested resource",
                    context
                        .err()
                        .message()
                        .unwrap_or("no error code in the answer"),
                );
            }
            let message = context.err().message().unwrap_or(code).to_string();
            match code {
                "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "ThrottledException" => StewardError::Throttled { service, message },
                "ServiceUnavailable"
                | "ServerException"
                | "InternalError"
                | "InternalFailure"
                | "KMSThrottlingException" => StewardError::Unavailable { service, message },
                code if code.ends_with("NotFoundException") || code == "NotFound" => {
                    StewardError::NotFound {
                        service,
                        what: message,
                    }
                }
                _ => StewardError::Rejected {
                    service,
                    message: format!("{code}: {message}"),
                },
            }
        }
        _ => StewardError::Rejected {
            service,
            message: format!("{}", aws_sdk_ecr::error::DisplayErrorContext(&error)),
        },
    }
}

/// ECR, for one region.
#[derive(Clone, Debug)]
pub struct Ecr {
    client: aws_sdk_ecr::Client,
}

impl Ecr {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_ecr::Client::new(config),
        }
    }

    pub fn in_region(config: &SdkConfig, region: &str) -> Self {
        let config = config
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        Self::new(&config)
    }

    pub fn client(&self) -> &aws_sdk_ecr::Client {
        &self.client
    }

    /// `Basic …` credentials for the registry, and its endpoint (`https://<account>.dkr.ecr…`).
    pub async fn registry_credentials(&self) -> Result<(String, String), StewardError> {
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
        Ok((format!("Basic {token}"), endpoint.to_string()))
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

/// The AWS error code of a service error, if it has one.
fn error_code<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Option<String> {
    match error {
        SdkError::ServiceError(context) => context.err().code().map(str::to_string),
        _ => None,
    }
}

impl TagStore for Ecr {
    async fn tagged_image(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<TaggedImage>, StewardError> {
        let described = self
            .client
            .describe_images()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await;
        match described.map_err(|e| classify(Service::Ecr, e)) {
            Ok(output) => Ok(output.image_details().first().and_then(|detail| {
                Some(TaggedImage {
                    digest: detail.image_digest()?.to_string(),
                    tags: detail.image_tags().to_vec(),
                })
            })),
            Err(StewardError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
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
            Err(error) => error,
        };
        match error_code(&error).as_deref() {
            // Nothing changed: either the tag already names this image, or (moto) an
            // immutable tag names another one. What the tag names now decides.
            Some("ImageAlreadyExistsException") => {
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
            Some("ImageTagAlreadyExistsException") => Err(StewardError::Conflict {
                service: Service::Ecr,
                message: format!("tag {tag} of {repository} is immutable and names another image"),
            }),
            _ => Err(classify(Service::Ecr, error)),
        }
    }

    async fn remove_tag(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, StewardError> {
        let deleted = self
            .client
            .batch_delete_image()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
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
                service: Service::Ecr,
                message: format!(
                    "BatchDeleteImage {code}: {}",
                    failure.failure_reason().unwrap_or_default()
                ),
            });
        }
        output
            .image_ids()
            .first()
            .and_then(|id| id.image_digest())
            .map(|digest| Some(digest.to_string()))
            .ok_or_else(|| StewardError::InvalidResponse {
                service: Service::Ecr,
                message: format!("BatchDeleteImage removed {tag} but named no digest"),
            })
    }
}

/// Most pages of findings read for one image (1,000 findings a page).
const MAX_FINDING_PAGES: usize = 10;

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

/// Publishes notifications to one SNS topic.
#[derive(Clone, Debug)]
pub struct Sns {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Sns {
    pub fn new(config: &SdkConfig, topic_arn: &str) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(config),
            topic_arn: topic_arn.into(),
        }
    }
}

impl Notifier for Sns {
    async fn publish(&self, notification: &Notification) -> Result<(), StewardError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notification.subject())
            .message(notification.chat_message().to_string());
        for (name, value) in notification.attributes() {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| StewardError::Rejected {
                    service: Service::Sns,
                    message: e.to_string(),
                })?;
            request = request.message_attributes(name, attribute);
        }
        request
            .send()
            .await
            .map_err(|e| classify(Service::Sns, e))?;
        Ok(())
    }
}

/// How long a registry token is reused; ECR's are valid for 12 hours.
const TOKEN_REUSE: Duration = Duration::from_secs(6 * 3600);

/// Registry clients per region, authenticated with ECR tokens, created on first use and
/// reused while their token is fresh. An endpoint override (for local registries) replaces
/// the token's proxy endpoint.
#[derive(Clone)]
pub struct Registries {
    sdk: SdkConfig,
    http: reqwest::Client,
    overrides: BTreeMap<String, String>,
    cache: Arc<Mutex<BTreeMap<String, (RegistryClient, Instant)>>>,
}

impl Registries {
    /// `http` is the client the registries are reached with (the SDK's, see [`crate::http`]).
    pub fn new(
        sdk: &SdkConfig,
        http: reqwest::Client,
        overrides: BTreeMap<String, String>,
    ) -> Self {
        Self {
            sdk: sdk.clone(),
            http,
            overrides,
            cache: Arc::default(),
        }
    }

    /// The registry of the caller's account in `region`.
    pub async fn client(&self, region: &str) -> Result<RegistryClient, StewardError> {
        self.client_for(region, None).await
    }

    /// The registry of `account` (the caller's when `None`) in `region`.
    pub async fn client_for(
        &self,
        region: &str,
        account: Option<&str>,
    ) -> Result<RegistryClient, StewardError> {
        let key = format!("{region}/{}", account.unwrap_or_default());
        let mut cache = self.cache.lock().await;
        if let Some((client, since)) = cache.get(&key) {
            if since.elapsed() < TOKEN_REUSE {
                return Ok(client.clone());
            }
        }
        let (authorization, endpoint) = Ecr::in_region(&self.sdk, region)
            .registry_credentials()
            .await?;
        let endpoint = match (self.overrides.get(region), account) {
            (Some(local), _) => local.clone(),
            (None, Some(account)) => format!("https://{account}.dkr.ecr.{region}.amazonaws.com"),
            (None, None) => endpoint,
        };
        let client = RegistryClient::new(self.http.clone(), &endpoint, Some(authorization));
        cache.insert(key, (client.clone(), Instant::now()));
        Ok(client)
    }
}

/// Copies images to other regions: makes sure the destination repository exists (creating it
/// when the rule says so, with the source's tag mutability and scan-on-push), then copies.
#[derive(Clone)]
pub struct RegistryReplicator {
    pub sdk: SdkConfig,
    pub registries: Registries,
    pub options: CopyOptions,
}

impl RegistryReplicator {
    /// True when the repository had to be created.
    pub async fn ensure_repository(
        &self,
        source: &ImageRef,
        target: &Target,
    ) -> Result<bool, StewardError> {
        let destination = Ecr::in_region(&self.sdk, &target.region);
        let found = destination
            .client
            .describe_repositories()
            .repository_names(&target.repository)
            .set_registry_id(target.account.clone())
            .send()
            .await;
        match found.map_err(|e| classify(Service::Ecr, e)) {
            Ok(_) => return Ok(false),
            Err(StewardError::NotFound { .. }) if target.create_repository => {}
            Err(StewardError::NotFound { .. }) => {
                return Err(StewardError::NotFound {
                    service: Service::Ecr,
                    what: format!(
                        "repository {} in {} (set create_repository: true in the replication rule to create it)",
                        target.repository, target.region
                    ),
                })
            }
            Err(other) => return Err(other),
        }
        let origin = Ecr::in_region(&self.sdk, &source.region)
            .client
            .describe_repositories()
            .repository_names(&source.repository)
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?;
        let origin = origin.repositories().first();
        let created = destination
            .client
            .create_repository()
            .repository_name(&target.repository)
            .set_registry_id(target.account.clone())
            .set_image_tag_mutability(origin.and_then(|r| r.image_tag_mutability()).cloned())
            .set_image_scanning_configuration(
                origin
                    .and_then(|r| r.image_scanning_configuration())
                    .cloned(),
            )
            .send()
            .await;
        match created.map_err(|e| classify(Service::Ecr, e)) {
            Ok(_) => Ok(true),
            // Created meanwhile by a concurrent delivery.
            Err(StewardError::Rejected { message, .. })
                if message.starts_with("RepositoryAlreadyExistsException") =>
            {
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }
}

impl Replicator for RegistryReplicator {
    async fn replicate(
        &self,
        source: &ImageRef,
        tags: &[String],
        target: &Target,
    ) -> Result<CopyStats, StewardError> {
        self.ensure_repository(source, target).await?;
        let from = self.registries.client(&source.region).await?;
        let to = self
            .registries
            .client_for(&target.region, target.account.as_deref())
            .await?;
        copy_image(
            Endpoint {
                registry: &from,
                repository: &source.repository,
            },
            Endpoint {
                registry: &to,
                repository: &target.repository,
            },
            &source.digest,
            tags,
            &self.options,
        )
        .await
    }
}

impl ImageReader for Registries {
    async fn platform_labels(
        &self,
        region: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<PlatformLabels>, StewardError> {
        self.client(region)
            .await?
            .platform_labels(repository, digest)
            .await
    }

    async fn tag_digest(
        &self,
        region: &str,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, StewardError> {
        self.client(region)
            .await?
            .head_manifest(repository, tag)
            .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecr::error::ErrorMetadata;
    use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn service_error(status: u16, code: Option<&str>) -> StewardError {
        let mut metadata = ErrorMetadata::builder();
        if let Some(code) = code {
            metadata = metadata.code(code).message("details");
        }
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("a status"),
            SdkBody::empty(),
        );
        let error = DescribeRepositoriesError::generic(metadata.build());
        classify(Service::Ecr, SdkError::service_error(error, raw))
    }

    #[test]
    fn codes_decide_and_the_status_stands_in_when_there_is_none() {
        let cases = [
            (400, Some("ThrottlingException"), "Retryable.Throttled"),
            (
                400,
                Some("RepositoryNotFoundException"),
                "NonRetryable.NotFound",
            ),
            (400, Some("AccessDeniedException"), "NonRetryable.Rejected"),
            (500, Some("ServerException"), "Retryable.Unavailable"),
            (429, None, "Retryable.Throttled"),
            (502, None, "Retryable.Unavailable"),
            (503, None, "Retryable.Unavailable"),
            (403, None, "NonRetryable.Rejected"),
        ];
        for (status, code, class) in cases {
            assert_eq!(
                service_error(status, code).error_type(),
                class,
                "{status} {code:?}"
            );
        }
        assert!(service_error(503, None).to_string().contains("HTTP 503"));
    }
}
