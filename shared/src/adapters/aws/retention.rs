//! ECR for retention (RetentionStore): DescribeImages for the images and their times,
//! BatchGetImage only for the manifests whose references DescribeImages does not give, and
//! BatchDeleteImage by digest.

use std::collections::BTreeSet;

use aws_sdk_ecr::types::{
    DescribeImagesFilter, ImageIdentifier, ImageStatusFilter, TargetStorageClass,
};

use super::classify::classify;
use super::ecr::Ecr;
use crate::error::{Service, StewardError};
use crate::manifest::{ManifestDoc, DOCKER_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::ports::{ArchiveAnswer, DeleteAnswer, RetentionStore, MAX_DELETE_BATCH};
use crate::retention::{DeleteFailure, ImageRecord, ImageStatus};
use crate::timestamp::Timestamp;

/// Image config media types: an image with one of these as its `artifactMediaType` is an
/// image, not a referrer (signatures and SBOMs carry their own artifact types).
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// Most images one BatchGetImage returns.
const GET_BATCH: usize = 100;

fn timestamp(time: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    time.map(|t| Timestamp(t.secs()))
}

/// True when the manifest must be read to know its references: an index (its children), or
/// an OCI manifest that may be a referrer and whose subject ECR did not report. Real ECR
/// reports `artifactMediaType` and `subjectManifestDigest`, so only indexes are read there;
/// moto reports neither, so there every OCI manifest is read (100 a request).
fn needs_manifest(detail: &aws_sdk_ecr::types::ImageDetail) -> bool {
    // An archived or restoring image cannot be read (the planner keeps what an unread index
    // may list).
    if detail
        .image_status()
        .is_some_and(|status| *status != aws_sdk_ecr::types::ImageStatus::Active)
    {
        return false;
    }
    match detail.image_manifest_media_type() {
        Some(OCI_INDEX | DOCKER_LIST) => true,
        Some(OCI_MANIFEST) | None => {
            detail.subject_manifest_digest().is_none()
                && detail
                    .artifact_media_type()
                    .is_none_or(|artifact| !IMAGE_CONFIGS.contains(&artifact))
        }
        Some(_) => false,
    }
}

/// Manifests read, by digest, and the digests gone since they were listed.
type ReadManifests = (Vec<(String, ManifestDoc)>, BTreeSet<String>);

/// The manifests of one BatchGetImage, each parsed, and the digests ECR says are gone since
/// they were listed. Retention fails closed: a manifest that was asked for and cannot be read
/// (a failure other than `ImageNotFound`, no answer, or bytes that are not a manifest) could
/// reference images the plan would otherwise expire, so it fails the repository's plan for
/// this run, with the digest and why.
fn read_manifests<'a>(
    repository: &str,
    asked: &[String],
    answered: impl Iterator<Item = (&'a str, &'a str)>,
    failed: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> Result<ReadManifests, StewardError> {
    let unreadable = |digest: &str, why: String| {
        StewardError::InvalidResponse {
        service: Service::Ecr,
        message: format!(
            "the manifest of {repository}@{digest} cannot be read ({why}): it may reference images, so nothing in {repository} expires this run"
        ),
    }
    };
    let mut docs = Vec::new();
    for (digest, manifest) in answered {
        let doc = serde_json::from_str::<ManifestDoc>(manifest)
            .map_err(|e| unreadable(digest, format!("not a manifest: {e}")))?;
        docs.push((digest.to_string(), doc));
    }
    let mut gone = BTreeSet::new();
    for (digest, code, reason) in failed {
        if code == "ImageNotFound" {
            gone.insert(digest.to_string());
        } else {
            return Err(unreadable(digest, format!("{code}: {reason}")));
        }
    }
    if let Some(missing) = asked
        .iter()
        .find(|d| !gone.contains(*d) && !docs.iter().any(|(read, _)| read == *d))
    {
        return Err(unreadable(
            missing,
            "BatchGetImage did not return it".into(),
        ));
    }
    Ok((docs, gone))
}

impl RetentionStore for Ecr {
    async fn retention_images(&self, repository: &str) -> Result<Vec<ImageRecord>, StewardError> {
        // Every image, archived ones too: DescribeImages lists only active ones unless asked.
        let mut pages = self
            .client
            .describe_images()
            .repository_name(repository)
            .filter(
                DescribeImagesFilter::builder()
                    .image_status(ImageStatusFilter::Any)
                    .build(),
            )
            .max_results(1000)
            .into_paginator()
            .send();
        let mut images = Vec::new();
        let mut to_read = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(Service::Ecr, e))?;
            for detail in page.image_details() {
                let Some(digest) = detail.image_digest() else {
                    continue;
                };
                if needs_manifest(detail) {
                    to_read.push(digest.to_string());
                }
                images.push(ImageRecord {
                    digest: digest.to_string(),
                    tags: detail.image_tags().to_vec(),
                    pushed_at: timestamp(detail.image_pushed_at()).unwrap_or(Timestamp(0)),
                    last_pulled: timestamp(detail.last_recorded_pull_time()),
                    media_type: detail.image_manifest_media_type().map(str::to_string),
                    size_bytes: detail
                        .image_size_in_bytes()
                        .and_then(|size| u64::try_from(size).ok()),
                    children: Vec::new(),
                    subject: detail.subject_manifest_digest().map(str::to_string),
                    in_use: vec![],
                    status: match detail.image_status() {
                        Some(aws_sdk_ecr::types::ImageStatus::Archived) => ImageStatus::Archived,
                        Some(aws_sdk_ecr::types::ImageStatus::Activating) => {
                            ImageStatus::Activating
                        }
                        _ => ImageStatus::Active,
                    },
                    archived_at: timestamp(detail.last_archived_at()),
                });
            }
        }
        for chunk in to_read.chunks(GET_BATCH) {
            let mut request = self.client.batch_get_image().repository_name(repository);
            for digest in chunk {
                request =
                    request.image_ids(ImageIdentifier::builder().image_digest(digest).build());
            }
            for media_type in [
                OCI_MANIFEST,
                OCI_INDEX,
                DOCKER_LIST,
                crate::manifest::DOCKER_MANIFEST,
            ] {
                request = request.accepted_media_types(media_type);
            }
            let output = request
                .send()
                .await
                .map_err(|e| classify(Service::Ecr, e))?;
            let answered = output.images().iter().filter_map(|image| {
                Some((image.image_id()?.image_digest()?, image.image_manifest()?))
            });
            let failed = output.failures().iter().map(|failure| {
                (
                    failure
                        .image_id()
                        .and_then(|id| id.image_digest())
                        .unwrap_or_default(),
                    failure.failure_code().map_or("", |c| c.as_str()),
                    failure.failure_reason().unwrap_or_default(),
                )
            });
            let (docs, gone) = read_manifests(repository, chunk, answered, failed)?;
            images.retain(|record| !gone.contains(&record.digest));
            for (digest, doc) in docs {
                if let Some(record) = images.iter_mut().find(|r| r.digest == digest) {
                    record.children = doc.manifests.into_iter().map(|d| d.digest).collect();
                    if record.subject.is_none() {
                        record.subject = doc.subject.map(|d| d.digest);
                    }
                }
            }
        }
        Ok(images)
    }

    async fn delete_images(
        &self,
        repository: &str,
        digests: &[String],
    ) -> Result<DeleteAnswer, StewardError> {
        if digests.len() > MAX_DELETE_BATCH {
            return Err(StewardError::Internal(format!(
                "{} digests in one BatchDeleteImage; ECR takes at most {MAX_DELETE_BATCH}",
                digests.len()
            )));
        }
        if digests.is_empty() {
            return Ok(DeleteAnswer::default());
        }
        let mut request = self.client.batch_delete_image().repository_name(repository);
        for digest in digests {
            request = request.image_ids(ImageIdentifier::builder().image_digest(digest).build());
        }
        let output = request
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?;
        let mut answer = DeleteAnswer::default();
        let asked: BTreeSet<&str> = digests.iter().map(String::as_str).collect();
        let mut deleted = BTreeSet::new();
        for id in output.image_ids() {
            if let Some(digest) = id.image_digest().filter(|d| asked.contains(d)) {
                deleted.insert(digest.to_string());
            }
        }
        for failure in output.failures() {
            let digest = failure
                .image_id()
                .and_then(|id| id.image_digest())
                .unwrap_or_default()
                .to_string();
            let code = failure
                .failure_code()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default();
            if code == "ImageNotFound" {
                answer.gone.push(digest);
            } else {
                answer.failed.push(DeleteFailure {
                    digest,
                    code,
                    message: failure.failure_reason().unwrap_or_default().to_string(),
                });
            }
        }
        // ECR names every deleted image in `imageIds`; moto names only tagged ones (once a
        // tag). A digest reported neither way is looked up: gone means deleted.
        let unreported: Vec<&String> = digests
            .iter()
            .filter(|d| {
                !deleted.contains(d.as_str())
                    && !answer.gone.contains(d)
                    && !answer.failed.iter().any(|f| &f.digest == *d)
            })
            .collect();
        if !unreported.is_empty() {
            let mut request = self.client.describe_images().repository_name(repository);
            for digest in &unreported {
                request =
                    request.image_ids(ImageIdentifier::builder().image_digest(*digest).build());
            }
            let still: BTreeSet<String> = match request.send().await {
                Ok(output) => output
                    .image_details()
                    .iter()
                    .filter_map(|d| d.image_digest().map(str::to_string))
                    .collect(),
                // DescribeImages fails as a whole when an asked image is missing.
                Err(_) => self
                    .retention_images(repository)
                    .await?
                    .into_iter()
                    .map(|image| image.digest)
                    .collect(),
            };
            for digest in unreported {
                if still.contains(digest) {
                    answer.failed.push(DeleteFailure {
                        digest: digest.clone(),
                        code: "NotReported".into(),
                        message: "BatchDeleteImage neither deleted it nor named a failure".into(),
                    });
                } else {
                    deleted.insert(digest.clone());
                }
            }
        }
        answer.deleted = deleted.into_iter().collect();
        Ok(answer)
    }

    async fn repository_names(&self) -> Result<Vec<String>, StewardError> {
        crate::ports::ImageCatalog::repositories(self).await
    }

    async fn archive_images(
        &self,
        repository: &str,
        digests: &[String],
    ) -> Result<ArchiveAnswer, StewardError> {
        let mut answer = ArchiveAnswer::default();
        for digest in digests {
            let sent = self
                .client
                .update_image_storage_class()
                .repository_name(repository)
                .image_id(ImageIdentifier::builder().image_digest(digest).build())
                .target_storage_class(TargetStorageClass::Archive)
                .send()
                .await;
            match sent {
                Ok(_) => answer.archived.push(digest.clone()),
                Err(error) => {
                    let code = error
                        .as_service_error()
                        .and_then(aws_sdk_ecr::error::ProvideErrorMetadata::code)
                        .unwrap_or_default()
                        .to_string();
                    match code.as_str() {
                        "ImageNotFoundException" => answer.gone.push(digest.clone()),
                        // Throttling and outages stop the repository's run: the next run
                        // carries on. A refusal of this image is reported and the rest go on.
                        "" | "ThrottlingException" | "ServerException" => {
                            return Err(classify(Service::Ecr, error))
                        }
                        _ => answer.failed.push(DeleteFailure {
                            digest: digest.clone(),
                            code,
                            message: classify(Service::Ecr, error).to_string(),
                        }),
                    }
                }
            }
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:c1","size":1}]}"#;

    fn asked() -> Vec<String> {
        vec!["sha256:a".into(), "sha256:b".into()]
    }

    #[test]
    fn manifests_read_and_images_gone_since_the_listing_are_told_apart() {
        let (docs, gone) = read_manifests(
            "team/app",
            &asked(),
            [("sha256:a", INDEX)].into_iter(),
            [("sha256:b", "ImageNotFound", "gone")].into_iter(),
        )
        .expect("readable");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].1.manifests[0].digest, "sha256:c1");
        assert!(gone.contains("sha256:b"));
    }

    #[test]
    fn a_manifest_that_cannot_be_read_fails_the_repository_closed() {
        let failure = read_manifests(
            "team/app",
            &asked(),
            [("sha256:a", INDEX)].into_iter(),
            [("sha256:b", "KmsError", "the key is disabled")].into_iter(),
        )
        .expect_err("an unreadable manifest");
        let message = failure.to_string();
        assert!(
            message.contains("team/app@sha256:b")
                && message.contains("KmsError")
                && message.contains("nothing in team/app expires this run"),
            "{message}"
        );
        let garbled = read_manifests(
            "team/app",
            &asked(),
            [("sha256:a", INDEX), ("sha256:b", "not json")].into_iter(),
            std::iter::empty(),
        )
        .expect_err("bytes that are not a manifest");
        assert!(garbled.to_string().contains("not a manifest"), "{garbled}");
        let unanswered = read_manifests(
            "team/app",
            &asked(),
            [("sha256:a", INDEX)].into_iter(),
            std::iter::empty(),
        )
        .expect_err("no answer for one");
        assert!(
            unanswered.to_string().contains("did not return it"),
            "{unanswered}"
        );
    }

    /// moto has no archive tier: the requests are checked here against a local server that
    /// answers as ECR's API model says (awsJson1_1).
    #[tokio::test(flavor = "current_thread")]
    async fn archived_images_are_listed_and_archiving_is_one_request_an_image() {
        let digest = |n: u8| format!("sha256:{}", format!("{n:02x}").repeat(32));
        let server = crate::testing::AnsweringServer::start_with(vec![
            (
                200,
                serde_json::json!({ "imageDetails": [
                { "repositoryName": "team/app", "imageDigest": digest(1), "imageTags": ["1.0.0"],
                  "imagePushedAt": 1700000000, "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
                  "imageStatus": "ARCHIVED", "lastArchivedAt": 1760000000 },
                { "repositoryName": "team/app", "imageDigest": digest(2), "imageTags": ["1.1.0"],
                  "imagePushedAt": 1700000100, "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
                  "imageStatus": "ACTIVATING" }
            ] }),
            ),
            (
                200,
                serde_json::json!({ "registryId": "123456789012", "repositoryName": "team/app",
                "imageId": { "imageDigest": digest(3) }, "imageStatus": "ARCHIVED" }),
            ),
            (
                400,
                serde_json::json!({ "__type": "ImageNotFoundException", "message": "gone" }),
            ),
            (
                400,
                serde_json::json!({ "__type": "InvalidParameterException", "message": "an index's child" }),
            ),
        ]);
        let ecr = Ecr::new(&server.sdk_config());
        let images = ecr.retention_images("team/app").await.expect("listed");
        assert_eq!(images[0].status, ImageStatus::Archived);
        assert_eq!(images[0].archived_at, Some(Timestamp(1760000000)));
        assert_eq!(images[1].status, ImageStatus::Activating);
        let answer = ecr
            .archive_images("team/app", &[digest(3), digest(4), digest(5)])
            .await
            .expect("answered");
        assert_eq!(answer.archived, [digest(3)]);
        assert_eq!(answer.gone, [digest(4)]);
        assert_eq!(answer.failed[0].code, "InvalidParameterException");
        let requests = server.requests();
        let target = |head: &str| {
            head.lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("x-amz-target:")
                        .map(|v| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        assert_eq!(
            target(&requests[0].0),
            "amazonec2containerregistry_v20150921.describeimages"
        );
        let listing: serde_json::Value = serde_json::from_str(&requests[0].1).expect("JSON");
        assert_eq!(
            listing["filter"],
            serde_json::json!({ "imageStatus": "ANY" })
        );
        for (n, (head, body)) in requests[1..].iter().enumerate() {
            assert_eq!(
                target(head),
                "amazonec2containerregistry_v20150921.updateimagestorageclass"
            );
            let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
            assert_eq!(
                body,
                serde_json::json!({ "repositoryName": "team/app",
                    "imageId": { "imageDigest": digest(n as u8 + 3) }, "targetStorageClass": "ARCHIVE" })
            );
        }
    }
}
