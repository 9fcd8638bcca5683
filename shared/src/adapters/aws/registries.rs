//! The ECR registries of each region (and account), authenticated with ECR tokens, and the
//! replicator that copies between them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_ecr::types::{EncryptionConfiguration, EncryptionType};
use tokio::sync::Mutex;

use super::classify::classify;
use super::ecr::{Ecr, RegistryCredentials};
use crate::error::{AwsErrorCode, Service, StewardError};
use crate::image::{ImageRef, PlatformLabels};
use crate::oci::copy::{copy_image_when, CopyOptions, Endpoint};
use crate::oci::registry::RegistryClient;
use crate::policy::Target;
use crate::ports::{ImageReader, Replicator};
use crate::replication::{replica_encryption, CopyStats};

/// ECR's registry tokens are valid for 12 hours: the longest a token is reused.
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// A token is given up this long before it expires, so that no request carries a stale one.
const TOKEN_MARGIN: Duration = Duration::from_secs(10 * 60);

/// How long a token obtained `now` that ECR says expires at `expires_at` may be reused: until
/// shortly before it expires, at most 12 hours. An `expiresAt` that is not in the future (moto
/// answers one from 2015) is not believed; the 12 hours are.
fn token_reuse(expires_at: Option<SystemTime>, now: SystemTime) -> Duration {
    let lifetime = expires_at
        .and_then(|at| at.duration_since(now).ok())
        .filter(|left| !left.is_zero())
        .map_or(TOKEN_LIFETIME, |left| left.min(TOKEN_LIFETIME));
    lifetime.saturating_sub(TOKEN_MARGIN)
}

/// A registry's client and until when its token is reused, once fetched.
type Slot = Arc<Mutex<Option<(RegistryClient, Instant)>>>;

/// Registry clients per region, authenticated with ECR tokens, created on first use and
/// reused while their token is fresh. An endpoint override (for local registries) replaces
/// the token's proxy endpoint.
#[derive(Clone)]
pub struct Registries {
    sdk: SdkConfig,
    http: reqwest::Client,
    overrides: BTreeMap<String, String>,
    /// Region/account → the client and until when its token is reused.
    cache: Arc<Mutex<BTreeMap<String, Slot>>>,
    /// Destination repositories (region/account/name) known to exist: a warm copy does not ask
    /// ECR again. Forgotten when a copy finds one missing.
    known_repositories: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Clients with connections of their own for large uploads
    /// ([`RegistryClient::with_upload_lanes`]).
    lanes: Arc<[reqwest::Client]>,
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
            known_repositories: Arc::default(),
            lanes: Arc::from(Vec::new()),
        }
    }

    /// Large uploads go over `lanes` ([`RegistryClient::with_upload_lanes`]).
    pub fn with_upload_lanes(mut self, lanes: Vec<reqwest::Client>) -> Self {
        self.lanes = Arc::from(lanes);
        self
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
        // One slot per region and account, held while its token is fetched: requests for the
        // same registry wait for that one token (and share one client, its windows and lanes);
        // other registries' tokens are asked at once.
        let slot = self.cache.lock().await.entry(key).or_default().clone();
        let mut slot = slot.lock().await;
        if let Some((client, until)) = slot.as_ref() {
            if Instant::now() < *until {
                return Ok(client.clone());
            }
        }
        let RegistryCredentials {
            authorization,
            endpoint,
            expires_at,
        } = Ecr::in_region(&self.sdk, region)
            .registry_credentials()
            .await?;
        let endpoint = match (self.overrides.get(region), account) {
            (Some(local), _) => local.clone(),
            (None, Some(account)) => registry_of_account(&endpoint, account),
            (None, None) => endpoint,
        };
        let client = RegistryClient::new(self.http.clone(), &endpoint, Some(authorization))
            .with_upload_lanes(self.lanes.to_vec());
        let until = Instant::now() + token_reuse(expires_at, SystemTime::now());
        *slot = Some((client.clone(), until));
        Ok(client)
    }
}

/// The registry of `account` beside the caller's (`https://CALLER.dkr.ecr.REGION.SUFFIX`, as
/// ECR's token names it): the same host with the account swapped, so the partition's suffix
/// (`amazonaws.com.cn` in China) and any FIPS or dual-stack name are kept.
fn registry_of_account(caller: &str, account: &str) -> String {
    let (scheme, host) = caller.split_once("://").unwrap_or(("https", caller));
    let rest = host.split_once('.').map_or(host, |(_, rest)| rest);
    format!("{scheme}://{account}.{rest}")
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
    /// False when this deployment may not create repositories, whatever a rule says.
    pub create_repositories: bool,
}

impl RegistryReplicator {
    /// True when the repository had to be created: with the source's tag mutability and its
    /// exclusion filters, its scan-on-push, and the encryption [`replica_encryption`] decides.
    /// Where it may be created, it is created without a look first: ECR's answer says when it
    /// exists (one round trip fewer on every cold copy).
    pub async fn ensure_repository(
        &self,
        source: &ImageRef,
        target: &Target,
    ) -> Result<bool, StewardError> {
        if target.create_repository && self.create_repositories {
            return match self.create_repository(source, target).await {
                // Not created (the source unreadable, no key for its encryption, denied): a
                // repository made by hand is still good to copy into.
                Err(error) if matches!(self.destination_found(target).await, Ok(true)) => {
                    tracing::debug!(%error, "not created, but the repository exists");
                    Ok(false)
                }
                created => created,
            };
        }
        let why = if target.create_repository {
            "the rule says create_repository, but this deployment may not create repositories: set the template parameter CreateDestinationRepositories to true, or create it".to_string()
        } else {
            format!("{} to have it created, or create it", how_to_create(target))
        };
        match self.destination_found(target).await? {
            true => Ok(false),
            false => Err(StewardError::NotFound {
                service: Service::Ecr,
                what: format!(
                    "repository {} in {} ({why})",
                    target.repository, target.region
                ),
            }),
        }
    }

    /// Whether the destination repository is there (`--dry-run` asks before promising a copy).
    pub async fn destination_found(&self, target: &Target) -> Result<bool, StewardError> {
        let found = Ecr::in_region(&self.sdk, &target.region)
            .client
            .describe_repositories()
            .repository_names(&target.repository)
            .set_registry_id(target.account.clone())
            .send()
            .await;
        match found.map_err(|e| classify(Service::Ecr, e)) {
            Ok(_) => Ok(true),
            Err(StewardError::NotFound { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Creates the destination repository like its source; false when it exists.
    async fn create_repository(
        &self,
        source: &ImageRef,
        target: &Target,
    ) -> Result<bool, StewardError> {
        let origin = Ecr::in_region(&self.sdk, &source.region)
            .client
            .describe_repositories()
            .repository_names(&source.repository)
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?;
        let origin = origin.repositories().first();
        let encryption = replica_encryption(
            origin
                .and_then(|r| r.encryption_configuration())
                .map(|e| e.encryption_type().as_str()),
            target.encryption.as_ref(),
            &target.region,
        )
        .map_err(|message| StewardError::Rejected {
            service: Service::Ecr,
            code: None,
            message: format!(
                "repository {} in {} not created: {message}",
                target.repository, target.region
            ),
        })?;
        let encryption = EncryptionConfiguration::builder()
            .encryption_type(EncryptionType::from(encryption.kind.as_str()))
            .set_kms_key(encryption.key)
            .build()
            .map_err(|e| StewardError::Internal(e.to_string()))?;
        let exclusions = origin
            .map(|r| r.image_tag_mutability_exclusion_filters().to_vec())
            .filter(|filters| !filters.is_empty());
        let created = Ecr::in_region(&self.sdk, &target.region)
            .client
            .create_repository()
            .repository_name(&target.repository)
            .set_registry_id(target.account.clone())
            .set_image_tag_mutability(origin.and_then(|r| r.image_tag_mutability()).cloned())
            .set_image_tag_mutability_exclusion_filters(exclusions)
            .set_image_scanning_configuration(
                origin
                    .and_then(|r| r.image_scanning_configuration())
                    .cloned(),
            )
            .encryption_configuration(encryption)
            .send()
            .await;
        match created.map_err(|e| classify(Service::Ecr, e)) {
            Ok(_) => Ok(true),
            // It exists (made earlier, or by a concurrent delivery).
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
        let known = known_key(target);
        let checked = self
            .registries
            .known_repositories
            .lock()
            .await
            .contains(&known);
        // The destination repository is made sure of beside both tokens and the reads; the
        // copy writes nothing before it is.
        let ready = async {
            if !checked {
                self.ensure_repository(source, target).await?;
                self.registries
                    .known_repositories
                    .lock()
                    .await
                    .insert(known.clone());
            }
            Ok(())
        };
        let tokens = futures_util::future::try_join(
            self.registries.client(&source.region),
            self.registries
                .client_for(&target.region, target.account.as_deref()),
        );
        let (done, gate) = tokio::sync::oneshot::channel();
        let prepare = async {
            let _ = done.send(ready.await);
        };
        let copy = async {
            let (from, to) = tokens.await?;
            copy_image_when(
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
                async {
                    gate.await.unwrap_or_else(|_| {
                        Err(StewardError::Internal(
                            "the destination repository's check went away".into(),
                        ))
                    })
                },
            )
            .await
        };
        let ((), copied) = futures_util::future::join(prepare, copy).await;
        if let Err(StewardError::NotFound { .. }) = &copied {
            // Deleted since it was checked: the next copy checks (and creates) it again.
            self.registries
                .known_repositories
                .lock()
                .await
                .remove(&known);
        }
        copied
    }
}

fn known_key(target: &Target) -> String {
    format!(
        "{}/{}/{}",
        target.region,
        target.account.as_deref().unwrap_or_default(),
        target.repository
    )
}

impl crate::ports::ProvenanceReader for Registries {
    async fn subject_of(
        &self,
        region: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Option<String>, StewardError> {
        let manifest = self
            .client(region)
            .await?
            .manifest(repository, digest)
            .await?;
        Ok(manifest.parse()?.subject.map(|subject| subject.digest))
    }

    async fn provenance(
        &self,
        region: &str,
        repository: &str,
        digest: &str,
        managed: bool,
    ) -> Result<crate::provenance::ImageEvidence, StewardError> {
        use crate::ports::SigningStatusReader;
        let registry = self.client(region).await?;
        let mut evidence = registry.provenance_evidence(repository, digest).await?;
        if managed {
            let ecr = Ecr::in_region(&self.sdk, region);
            evidence.image.managed = ecr.signing_statuses(repository, digest).await?;
            for platform in &mut evidence.platforms {
                platform.managed = ecr.signing_statuses(repository, &platform.digest).await?;
            }
        }
        Ok(evidence)
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

/// How the copy to `target` could create its repository: the CLI's `--to` copies by
/// `--create-repository`, a replication rule by its `create_repository`.
pub fn how_to_create(target: &Target) -> String {
    if target.rule == "--to" {
        "pass --create-repository".into()
    } else {
        format!(
            "set create_repository: true in replication rule `{}`",
            target.rule
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn another_accounts_registry_keeps_the_partitions_host() {
        assert_eq!(
            registry_of_account(
                "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com",
                "444455556666"
            ),
            "https://444455556666.dkr.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            registry_of_account(
                "https://111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn",
                "444455556666"
            ),
            "https://444455556666.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            registry_of_account(
                "https://111122223333.dkr-ecr-fips.us-gov-west-1.on.aws",
                "444455556666"
            ),
            "https://444455556666.dkr-ecr-fips.us-gov-west-1.on.aws"
        );
    }

    #[test]
    fn a_token_is_reused_until_shortly_before_it_expires_and_never_past_twelve_hours() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            token_reuse(Some(now + 12 * HOUR), now),
            12 * HOUR - TOKEN_MARGIN
        );
        assert_eq!(token_reuse(Some(now + HOUR), now), HOUR - TOKEN_MARGIN);
        assert_eq!(
            token_reuse(Some(now + 48 * HOUR), now),
            12 * HOUR - TOKEN_MARGIN
        );
        assert_eq!(
            token_reuse(Some(now + Duration::from_secs(60)), now),
            Duration::ZERO
        );
    }

    #[test]
    fn an_expiry_in_the_past_or_none_is_not_believed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // moto's tokens say they expired in 2015.
        let moto = SystemTime::UNIX_EPOCH + Duration::from_secs(1_420_070_400);
        assert_eq!(token_reuse(Some(moto), now), 12 * HOUR - TOKEN_MARGIN);
        assert_eq!(token_reuse(Some(now), now), 12 * HOUR - TOKEN_MARGIN);
        assert_eq!(token_reuse(None, now), 12 * HOUR - TOKEN_MARGIN);
    }
}
