//! The ECR registries of each region (and account), authenticated with ECR tokens, and the
//! replicator that copies between them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use tokio::sync::Mutex;

use super::classify::classify;
use super::ecr::{Ecr, RegistryCredentials};
use crate::error::{AwsErrorCode, Service, StewardError};
use crate::image::{ImageRef, PlatformLabels};
use crate::oci::copy::{copy_image, CopyOptions, Endpoint};
use crate::oci::registry::RegistryClient;
use crate::policy::Target;
use crate::ports::{ImageReader, Replicator};
use crate::replication::CopyStats;

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
        let RegistryCredentials {
            authorization,
            endpoint,
        } = Ecr::in_region(&self.sdk, region)
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
    /// The SDK configuration; the destination region is set per copy.
    pub sdk: SdkConfig,
    /// The registry clients, by region.
    pub registries: Registries,
    /// How the copies run (parallelism, retries).
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
            Err(StewardError::Rejected {
                code: Some(AwsErrorCode::RepositoryAlreadyExists),
                ..
            }) => Ok(false),
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
