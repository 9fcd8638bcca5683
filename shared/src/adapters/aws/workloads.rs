//! What runs images (Workloads), for retention's `in_use` sources, with the SDK clients:
//! - Lambda: every function of package type Image, `$LATEST` and each published version
//!   (an alias can point at an old one), by GetFunction's `ResolvedImageUri` (the digest it
//!   runs) and `ImageUri` (the tag it was deployed from);
//! - ECS: in every cluster, each service's task definitions (its current one and those of
//!   its deployments and task sets, whatever the desired count) and each running task's
//!   containers (the digest they run);
//! - Inspector: ListCoverage of ECR images with an in-use count of at least 1.

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use aws_sdk_inspector2::types::{
    CoverageFilterCriteria, CoverageNumberFilter, CoverageStringComparison, CoverageStringFilter,
};

use super::classify::classify;
use crate::error::{Service, StewardError};
use crate::ports::Workloads;
use crate::retention::{RunningImage, Usage, UsageSource};
use crate::timestamp::Timestamp;

/// Lambda, ECS and Inspector clients on one SDK configuration.
#[derive(Clone, Debug)]
pub struct AwsWorkloads {
    lambda: aws_sdk_lambda::Client,
    ecs: aws_sdk_ecs::Client,
    inspector: aws_sdk_inspector2::Client,
}

impl AwsWorkloads {
    /// The three clients, on `config`.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            lambda: aws_sdk_lambda::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            inspector: aws_sdk_inspector2::Client::new(config),
        }
    }
}

impl Workloads for AwsWorkloads {
    async fn running_images(&self, source: UsageSource) -> Result<Vec<RunningImage>, StewardError> {
        match source {
            UsageSource::Lambda => self.lambda_images().await,
            UsageSource::Ecs => self.ecs_images().await,
            UsageSource::Inspector => self.inspector_images().await,
        }
    }
}

/// `…@sha256:<hex>` → the digest; anything else (moto answers `…@sha256@sha256:<hex>`) → None.
fn resolved_digest(uri: &str) -> Option<String> {
    let (name, digest) = uri.rsplit_once('@')?;
    if name.contains('@') {
        return None;
    }
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| digest.to_string())
}

fn ecs_error<E>(
    error: aws_sdk_ecs::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> StewardError
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    classify(Service::Ecs, error)
}

/// The last part of an ARN (`…:task/prod/0f1e…` → `0f1e…`).
fn arn_name(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

impl AwsWorkloads {
    async fn lambda_images(&self) -> Result<Vec<RunningImage>, StewardError> {
        let mut functions = Vec::new();
        let mut pages = self.lambda.list_functions().into_paginator().send();
        while let Some(page) = pages.next().await {
            for function in page.map_err(|e| classify(Service::Lambda, e))?.functions() {
                if function.package_type() == Some(&aws_sdk_lambda::types::PackageType::Image) {
                    if let Some(name) = function.function_name() {
                        functions.push(name.to_string());
                    }
                }
            }
        }
        let mut running = Vec::new();
        for name in functions {
            let mut versions = Vec::new();
            let mut pages = self
                .lambda
                .list_versions_by_function()
                .function_name(&name)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for version in page.map_err(|e| classify(Service::Lambda, e))?.versions() {
                    if let Some(version) = version.version() {
                        versions.push(version.to_string());
                    }
                }
            }
            if !versions.iter().any(|v| v == "$LATEST") {
                versions.push("$LATEST".into());
            }
            for version in versions {
                let function = self
                    .lambda
                    .get_function()
                    .function_name(&name)
                    .qualifier(&version)
                    .send()
                    .await
                    .map_err(|e| classify(Service::Lambda, e))?;
                let Some(code) = function.code() else {
                    continue;
                };
                let Some(reference) = code.image_uri() else {
                    continue;
                };
                let what = if version == "$LATEST" {
                    format!("Lambda function {name}")
                } else {
                    format!("Lambda function {name} (version {version})")
                };
                running.push(RunningImage {
                    reference: reference.to_string(),
                    digest: code.resolved_image_uri().and_then(resolved_digest),
                    usage: Usage {
                        source: UsageSource::Lambda,
                        what,
                        last_seen: None,
                    },
                });
            }
        }
        Ok(running)
    }

    async fn ecs_images(&self) -> Result<Vec<RunningImage>, StewardError> {
        let mut clusters = Vec::new();
        let mut pages = self.ecs.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            clusters.extend(page.map_err(ecs_error)?.cluster_arns().iter().cloned());
        }
        let mut running = Vec::new();
        for cluster in &clusters {
            let cluster_name = arn_name(cluster);
            // Services: the task definitions they run or roll to, whatever the desired count.
            let mut services = Vec::new();
            let mut pages = self
                .ecs
                .list_services()
                .cluster(cluster)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                services.extend(page.map_err(ecs_error)?.service_arns().iter().cloned());
            }
            let mut definitions: Vec<(String, String)> = Vec::new();
            for chunk in services.chunks(10) {
                let described = self
                    .ecs
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(ecs_error)?;
                for service in described.services() {
                    let name = service.service_name().unwrap_or_default();
                    let what = format!("ECS service {name} of cluster {cluster_name}");
                    let mut arns: BTreeSet<&str> = service.task_definition().into_iter().collect();
                    arns.extend(
                        service
                            .deployments()
                            .iter()
                            .filter_map(|d| d.task_definition()),
                    );
                    // Blue/green (CODE_DEPLOY, EXTERNAL): each task set, a scaled-down one
                    // kept for a rollback too.
                    arns.extend(
                        service
                            .task_sets()
                            .iter()
                            .filter_map(|t| t.task_definition()),
                    );
                    definitions.extend(arns.into_iter().map(|arn| (arn.to_string(), what.clone())));
                }
            }
            for (arn, what) in definitions {
                let described = self
                    .ecs
                    .describe_task_definition()
                    .task_definition(&arn)
                    .send()
                    .await
                    .map_err(ecs_error)?;
                let containers = described
                    .task_definition()
                    .map(|d| d.container_definitions())
                    .unwrap_or_default();
                for container in containers {
                    if let Some(image) = container.image() {
                        running.push(RunningImage {
                            reference: image.to_string(),
                            digest: None,
                            usage: Usage {
                                source: UsageSource::Ecs,
                                what: what.clone(),
                                last_seen: None,
                            },
                        });
                    }
                }
            }
            // Running tasks: the digest each container runs.
            let mut tasks = Vec::new();
            let mut pages = self
                .ecs
                .list_tasks()
                .cluster(cluster)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                tasks.extend(page.map_err(ecs_error)?.task_arns().iter().cloned());
            }
            for chunk in tasks.chunks(100) {
                let described = self
                    .ecs
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(ecs_error)?;
                for task in described.tasks() {
                    let id = arn_name(task.task_arn().unwrap_or_default());
                    for container in task.containers() {
                        let Some(image) = container.image() else {
                            continue;
                        };
                        running.push(RunningImage {
                            reference: image.to_string(),
                            digest: container.image_digest().map(str::to_string),
                            usage: Usage {
                                source: UsageSource::Ecs,
                                what: format!("ECS task {id} of cluster {cluster_name}"),
                                last_seen: None,
                            },
                        });
                    }
                }
            }
        }
        Ok(running)
    }

    async fn inspector_images(&self) -> Result<Vec<RunningImage>, StewardError> {
        let equals = |value: &str| {
            CoverageStringFilter::builder()
                .comparison(CoverageStringComparison::Equals)
                .value(value)
                .build()
                .map_err(|e| StewardError::Internal(format!("a coverage filter: {e}")))
        };
        let criteria = CoverageFilterCriteria::builder()
            .resource_type(equals("AWS_ECR_CONTAINER_IMAGE")?)
            .ecr_image_in_use_count(CoverageNumberFilter::builder().lower_inclusive(1).build())
            .build();
        let mut pages = self
            .inspector
            .list_coverage()
            .filter_criteria(criteria)
            .into_paginator()
            .send();
        let mut running = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(Service::Inspector, e))?;
            for resource in page.covered_resources() {
                let metadata = resource.resource_metadata();
                let repository = metadata
                    .and_then(|m| m.ecr_repository())
                    .and_then(|r| r.name());
                let image = metadata.and_then(|m| m.ecr_image());
                // An ECR image's resource ID ends with its digest.
                let digest = resource
                    .resource_id()
                    .rfind("sha256:")
                    .map(|at| resource.resource_id()[at..].to_string());
                let (Some(repository), Some(digest)) = (repository, digest) else {
                    continue;
                };
                let count = image.and_then(|i| i.in_use_count()).unwrap_or(1);
                running.push(RunningImage {
                    // With a registry host, so that a repository named `acme.io/app` is not
                    // read as host `acme.io`.
                    reference: format!(
                        "{}.dkr.ecr.amazonaws.com/{repository}@{digest}",
                        resource.account_id()
                    ),
                    digest: Some(digest),
                    usage: Usage {
                        source: UsageSource::Inspector,
                        what: format!(
                            "{count} ECS task{} or EKS pod{} (Inspector)",
                            if count == 1 { "" } else { "s" },
                            if count == 1 { "" } else { "s" }
                        ),
                        last_seen: image
                            .and_then(|i| i.last_in_use_at())
                            .map(|t| Timestamp(t.secs())),
                    },
                });
            }
        }
        Ok(running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_read_only_from_well_formed_uris() {
        let hex = "0".repeat(64);
        assert_eq!(
            resolved_digest(&format!("1.dkr.ecr.r.amazonaws.com/app@sha256:{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(resolved_digest(&format!("app@sha256@sha256:{hex}")), None);
        assert_eq!(resolved_digest("app:1.0"), None);
        assert_eq!(arn_name("arn:aws:ecs:r:1:task/prod/0f1e"), "0f1e");
        assert_eq!(arn_name("arn:aws:ecs:r:1:cluster/prod"), "prod");
    }

    /// Inspector's ListCoverage is not served by moto: its requests are checked here against a
    /// local server that answers as the API model says (restJson1, `POST /coverage/list`,
    /// epoch-second timestamps), two pages by `nextToken`.
    #[tokio::test(flavor = "current_thread")]
    async fn inspector_asks_for_in_use_ecr_images_and_reads_every_page() {
        let hex = "ab".repeat(32);
        let resource = |repository: &str, count: i64| {
            serde_json::json!({
                "resourceType": "AWS_ECR_CONTAINER_IMAGE",
                "resourceId": format!("arn:aws:ecr:us-east-1:123456789012:repository/{repository}/sha256:{hex}"),
                "accountId": "123456789012",
                "scanType": "PACKAGE",
                "resourceMetadata": {
                    "ecrRepository": { "name": repository, "scanFrequency": "CONTINUOUS_SCAN" },
                    "ecrImage": { "tags": ["1.0.0"], "inUseCount": count, "lastInUseAt": 1764800000 }
                }
            })
        };
        let server = crate::testing::AnsweringServer::start(vec![
            serde_json::json!({ "coveredResources": [resource("team/app", 3)], "nextToken": "page-2" }),
            serde_json::json!({ "coveredResources": [resource("team/web", 1)] }),
        ]);
        let config = server.sdk_config();
        let running = AwsWorkloads::new(&config)
            .running_images(UsageSource::Inspector)
            .await
            .expect("read");
        let seen = server.requests();
        assert_eq!(seen.len(), 2);
        assert!(
            seen[0].0.starts_with("POST /coverage/list HTTP/1.1"),
            "{}",
            seen[0].0
        );
        let first: serde_json::Value = serde_json::from_str(&seen[0].1).expect("JSON");
        assert_eq!(
            first["filterCriteria"],
            serde_json::json!({
                "resourceType": [{ "comparison": "EQUALS", "value": "AWS_ECR_CONTAINER_IMAGE" }],
                "ecrImageInUseCount": [{ "lowerInclusive": 1 }]
            })
        );
        let second: serde_json::Value = serde_json::from_str(&seen[1].1).expect("JSON");
        assert_eq!(second["nextToken"], "page-2");
        let digest = format!("sha256:{hex}");
        assert_eq!(
            running,
            [
                RunningImage {
                    reference: format!("123456789012.dkr.ecr.amazonaws.com/team/app@{digest}"),
                    digest: Some(digest.clone()),
                    usage: Usage {
                        source: UsageSource::Inspector,
                        what: "3 ECS tasks or EKS pods (Inspector)".into(),
                        last_seen: Some(Timestamp(1764800000)),
                    },
                },
                RunningImage {
                    reference: format!("123456789012.dkr.ecr.amazonaws.com/team/web@{digest}"),
                    digest: Some(digest.clone()),
                    usage: Usage {
                        source: UsageSource::Inspector,
                        what: "1 ECS task or EKS pod (Inspector)".into(),
                        last_seen: Some(Timestamp(1764800000)),
                    },
                },
            ]
        );
    }
}
