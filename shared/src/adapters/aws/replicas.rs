//! Delete replication's reads and writes on ECR's API, in any region and account
//! ([`ReplicaStore`]): DescribeImages for an image with all its tags, BatchDeleteImage by tag
//! (never by tag and digest together: AWS documents no meaning for it, and moto deletes the
//! whole image) or, for an image with no tags, by digest.

use aws_sdk_ecr::types::ImageIdentifier;

use super::classify::classify;
use super::ecr::Ecr;
use super::registries::RegistryReplicator;
use crate::error::{Service, StewardError};
use crate::image::{ImageSelector, TaggedImage};
use crate::ports::ReplicaStore;

impl ReplicaStore for RegistryReplicator {
    async fn image_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        selector: &ImageSelector,
    ) -> Result<Option<TaggedImage>, StewardError> {
        let id = match selector {
            ImageSelector::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
            ImageSelector::Digest(digest) => {
                ImageIdentifier::builder().image_digest(digest).build()
            }
        };
        let described = Ecr::in_region(&self.sdk, region)
            .client
            .describe_images()
            .repository_name(repository)
            .set_registry_id(account.map(str::to_string))
            .image_ids(id)
            .send()
            .await;
        match described.map_err(|e| classify(Service::Ecr, e)) {
            Ok(output) => Ok(output.image_details().first().and_then(|detail| {
                Some(TaggedImage {
                    digest: detail.image_digest()?.to_string(),
                    tags: detail.image_tags().to_vec(),
                    archived: detail
                        .image_status()
                        .is_some_and(|s| *s != aws_sdk_ecr::types::ImageStatus::Active),
                })
            })),
            Err(StewardError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn remove_tag_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, StewardError> {
        let id = ImageIdentifier::builder().image_tag(tag).build();
        let removed = batch_delete(self, region, account, repository, id).await?;
        removed
            .map(|digest| {
                digest.ok_or_else(|| StewardError::InvalidResponse {
                    service: Service::Ecr,
                    message: format!("BatchDeleteImage removed {tag} but named no digest"),
                })
            })
            .transpose()
    }

    async fn delete_image_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        digest: &str,
    ) -> Result<bool, StewardError> {
        let id = ImageIdentifier::builder().image_digest(digest).build();
        Ok(batch_delete(self, region, account, repository, id)
            .await?
            .is_some())
    }
}

/// One BatchDeleteImage of one image id: `None` when it was not there; else the digest ECR's
/// answer names, if any.
async fn batch_delete(
    replicator: &RegistryReplicator,
    region: &str,
    account: Option<&str>,
    repository: &str,
    id: ImageIdentifier,
) -> Result<Option<Option<String>>, StewardError> {
    Ecr::in_region(&replicator.sdk, region)
        .batch_delete_one(account, repository, id)
        .await
}
