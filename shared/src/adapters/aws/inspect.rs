//! ECR's repository settings and a destination's tags (RepositoryInspector), for `audit`.

use std::collections::BTreeMap;

use super::classify::classify;
use super::ecr::Ecr;
use crate::error::{Service, StewardError};
use crate::policy::{RepositoryRules, RepositorySettings, ScanningRequirement, TagMutability};
use crate::ports::RepositoryInspector;

impl RepositoryInspector for Ecr {
    async fn repository_settings(
        &self,
        repository: &str,
        rules: &RepositoryRules,
    ) -> Result<RepositorySettings, StewardError> {
        let described = self
            .client
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?;
        let found = described
            .repositories()
            .first()
            .ok_or_else(|| StewardError::NotFound {
                service: Service::Ecr,
                what: format!("repository {repository}"),
            })?;
        let encryption = found.encryption_configuration();
        let mut settings = RepositorySettings {
            tag_mutability: found
                .image_tag_mutability()
                .and_then(|m| TagMutability::from_name(m.as_str())),
            exclusion_filters: found
                .image_tag_mutability_exclusion_filters()
                .iter()
                .map(|f| f.filter().to_string())
                .collect(),
            scan_on_push: found
                .image_scanning_configuration()
                .is_some_and(|c| c.scan_on_push()),
            encryption_type: encryption.map(|e| e.encryption_type().as_str().to_string()),
            kms_key: encryption.and_then(|e| e.kms_key()).map(str::to_string),
            ..RepositorySettings::default()
        };
        if let Some(required) = rules.scanning {
            // The effective setting: the registry's rules applied to this repository.
            let effective = self
                .client
                .batch_get_repository_scanning_configuration()
                .repository_names(repository)
                .send()
                .await
                .map_err(|e| classify(Service::Ecr, e))?;
            let config = effective.scanning_configurations().first();
            settings.scan_frequency = config
                .and_then(|c| c.scan_frequency())
                .map(|f| f.as_str().to_string());
            // AWS reports the repository's own flag here too; moto always says false (and
            // MANUAL), so DescribeRepositories' flag above is kept either way.
            settings.scan_on_push |= config.is_some_and(|c| c.scan_on_push());
            if required == ScanningRequirement::Enhanced {
                settings.registry_scan_type = self
                    .client
                    .get_registry_scanning_configuration()
                    .send()
                    .await
                    .map_err(|e| classify(Service::Ecr, e))?
                    .scanning_configuration()
                    .and_then(|c| c.scan_type())
                    .map(|t| t.as_str().to_string());
            }
        }
        if rules.require_lifecycle_policy {
            let lifecycle = self
                .client
                .get_lifecycle_policy()
                .repository_name(repository)
                .send()
                .await
                .map_err(|e| classify(Service::Ecr, e));
            settings.lifecycle_policy = Some(match lifecycle {
                Ok(output) => output
                    .lifecycle_policy_text()
                    .is_some_and(|t| !t.is_empty()),
                // LifecyclePolicyNotFoundException: none is set.
                Err(StewardError::NotFound { .. }) => false,
                Err(other) => return Err(other),
            });
        }
        if rules.forbid_public_policy {
            let policy = self
                .client
                .get_repository_policy()
                .repository_name(repository)
                .send()
                .await
                .map_err(|e| classify(Service::Ecr, e));
            settings.repository_policy = Some(match policy {
                Ok(output) => output.policy_text().map(str::to_string),
                // RepositoryPolicyNotFoundException: none is set.
                Err(StewardError::NotFound { .. }) => None,
                Err(other) => return Err(other),
            });
        }
        Ok(settings)
    }

    async fn tag_digests(
        &self,
        account: Option<&str>,
        repository: &str,
    ) -> Result<Option<BTreeMap<String, String>>, StewardError> {
        let mut pages = self
            .client
            .describe_images()
            .repository_name(repository)
            .set_registry_id(account.map(str::to_string))
            .into_paginator()
            .send();
        let mut tags = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = match page.map_err(|e| classify(Service::Ecr, e)) {
                Ok(page) => page,
                // RepositoryNotFoundException: nothing was replicated there yet.
                Err(StewardError::NotFound { .. }) => return Ok(None),
                Err(other) => return Err(other),
            };
            for detail in page.image_details() {
                let Some(digest) = detail.image_digest() else {
                    continue;
                };
                for tag in detail.image_tags() {
                    tags.insert(tag.clone(), digest.to_string());
                }
            }
        }
        Ok(Some(tags))
    }
}
