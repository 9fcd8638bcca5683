//! A registry for `ecr-steward audit` to audit: 56 repositories and about 2,000 images in
//! us-east-1 and eu-west-1, with one violation of every kind planted, each where a test can
//! name it ([`PLANTED`]); everything else complies with [`POLICY`]. The integration test
//! and the benchmark (`bench/audit`) audit the same registry.

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType,
};
use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};

use crate::{push_bulk, BulkImage, Stack};

/// The policy the registry is audited against.
pub const POLICY: &str = r#"version: 1
rules:
  - name: services
    repositories: ["svc/**"]
    tags:
      semver: {}
      git_sha: { prefixes: ["sha-"] }
      literals: { deny: [latest] }
    labels:
      required: [org.opencontainers.image.source, org.opencontainers.image.revision]
      consistency: { revision: false }
    repository:
      tag_mutability:
        allow: [IMMUTABLE, IMMUTABLE_WITH_EXCLUSION]
        exclusion_filters: ["sha-*"]
      scanning: on_push
      encryption: { type: KMS, key: "arn:aws:kms:*:123456789012:key/*" }
      require_lifecycle_policy: true
      forbid_public_policy: true
replication:
  - name: releases-to-europe
    repositories: ["svc/app-0*"]
    tags: { semver: { prerelease: false } }
    destinations: [{ region: eu-west-1 }]
"#;

pub const US: &str = "us-east-1";
pub const EU: &str = "eu-west-1";
/// The repository whose reads are denied (through the fault proxy).
pub const DENIED: &str = "svc/locked";

/// Repositories `svc/app-00` … in us-east-1, and images in each.
pub const US_REPOSITORIES: usize = 30;
pub const US_IMAGES: usize = 40;
/// Of those, `svc/app-00` … `svc/app-09` are replicated to eu-west-1.
pub const REPLICATED: usize = 10;
/// Repositories `svc/eu-00` … in eu-west-1 only, and images in each.
pub const EU_REPOSITORIES: usize = 14;
pub const EU_IMAGES: usize = 30;

/// Every planted finding: (region, repository, check, tag). The audit must find exactly these.
pub const PLANTED: [(&str, &str, &str, Option<&str>); 16] = [
    (US, "svc/app-05", "replication.missing", Some("1.5.7")),
    (US, "svc/app-06", "replication.mismatch", Some("1.6.3")),
    (US, "svc/app-11", "tag.literals.deny", Some("latest")),
    (US, "svc/app-12", "tag.kinds", Some("feature-x")),
    (US, "svc/app-13", "labels.required", Some("5.0.0")),
    (
        US,
        "svc/app-14",
        "labels.consistency.version",
        Some("6.0.0"),
    ),
    (US, "svc/app-15", "labels.required", Some("7.0.0")),
    (US, "svc/app-15", "labels.required", Some("7.0.0")),
    (US, "svc/app-20", "repository.tag_mutability", None),
    (
        US,
        "svc/app-21",
        "repository.tag_mutability.exclusion_filters",
        None,
    ),
    (US, "svc/app-22", "repository.scanning", None),
    (US, "svc/app-23", "repository.encryption", None),
    (US, "svc/app-24", "repository.encryption.key", None),
    (US, "svc/app-25", "repository.lifecycle_policy", None),
    (US, "svc/app-26", "repository.policy.public", None),
    (US, DENIED, "access.denied", None),
];

const LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"description":"expire untagged","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;

/// What was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    /// Repositories in both regions.
    pub repositories: usize,
    /// Tagged images in both regions (index children not counted).
    pub images: usize,
}

/// A 40-hex revision for an image, from its seed.
fn revision(seed: &str) -> String {
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn labels(seed: &str) -> Vec<(String, String)> {
    vec![
        (
            "org.opencontainers.image.source".into(),
            "https://github.com/example/app".into(),
        ),
        ("org.opencontainers.image.revision".into(), revision(seed)),
        (
            "org.opencontainers.image.created".into(),
            "2026-11-30T12:00:00Z".into(),
        ),
    ]
}

fn image(region: &str, repository: &str, tags: Vec<String>, seed: &str) -> BulkImage {
    BulkImage {
        region: region.into(),
        repository: repository.into(),
        tags,
        platforms: vec![("linux/amd64".into(), labels(repository))],
        seed: seed.into(),
    }
}

/// A compliant image `index` of `svc/app-NN`: `1.NN.index`, and for every eighth image a
/// `sha-` tag too.
fn release(region: &str, number: usize, index: usize) -> BulkImage {
    let repository = format!("svc/app-{number:02}");
    let seed = format!("{repository}#{index}");
    let mut tags = vec![format!("1.{number}.{index}")];
    if index % 8 == 0 {
        tags.push(format!("sha-{}", &revision(&seed)[..7]));
    }
    image(region, &repository, tags, &seed)
}

/// The settings every `svc/` repository complies with, but for the planted ones.
///
/// How moto differs from AWS here: its BatchGetRepositoryScanningConfiguration answers
/// `scanOnPush: false, scanFrequency: MANUAL` for a repository created with scan-on-push on
/// (AWS reports the flag), so only DescribeRepositories shows it; the adapter reads both, as
/// AWS documents both. moto stores tag-mutability exclusion filters, KMS keys it does not
/// check, lifecycle policies (validated) and repository policies (validated as IAM
/// documents), and answers GetLifecyclePolicy and GetRepositoryPolicy with the
/// `*NotFoundException` AWS uses when none is set.
async fn create_service_repository(stack: &Stack, region: &str, repository: &str) {
    let ecr = stack.ecr(region);
    let mut mutability = ImageTagMutability::Immutable;
    let mut filters = Vec::new();
    let mut scan_on_push = true;
    let mut encryption = EncryptionConfiguration::builder()
        .encryption_type(EncryptionType::Kms)
        .kms_key(format!(
            "arn:aws:kms:{region}:123456789012:key/steward-test"
        ));
    let mut lifecycle = true;
    let mut policy = None;
    let filter = |text: &str| {
        ImageTagMutabilityExclusionFilter::builder()
            .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
            .filter(text)
            .build()
            .unwrap()
    };
    match (region, repository) {
        (US, "svc/app-20") => mutability = ImageTagMutability::Mutable,
        (US, "svc/app-21") => {
            mutability = ImageTagMutability::ImmutableWithExclusion;
            filters = vec![filter("dev-*")];
        }
        (US, "svc/app-22") => scan_on_push = false,
        (US, "svc/app-23") => {
            encryption = EncryptionConfiguration::builder().encryption_type(EncryptionType::Aes256)
        }
        (US, "svc/app-24") => {
            encryption = EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Kms)
                .kms_key("arn:aws:kms:us-east-1:999999999999:key/someone-else")
        }
        (US, "svc/app-25") => lifecycle = false,
        (US, "svc/app-26") => {
            policy = Some(
                r#"{"Version":"2012-10-17","Statement":[{"Sid":"AnyonePulls","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#,
            )
        }
        // A grant to "*" with a Condition: not public, not a finding.
        (US, "svc/app-27") => {
            policy = Some(
                r#"{"Version":"2012-10-17","Statement":[{"Sid":"OrgPulls","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage"],"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-exampleorg"}}}]}"#,
            )
        }
        // An exclusion filter the policy allows: not a finding.
        (US, "svc/app-28") => {
            mutability = ImageTagMutability::ImmutableWithExclusion;
            filters = vec![filter("sha-*")];
        }
        _ => {}
    }
    let created = ecr
        .create_repository()
        .repository_name(repository)
        .image_tag_mutability(mutability)
        .set_image_tag_mutability_exclusion_filters((!filters.is_empty()).then_some(filters))
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(scan_on_push)
                .build(),
        )
        .encryption_configuration(encryption.build().unwrap())
        .send()
        .await;
    // A first attempt that moto answered too late for the SDK is retried, and the retry finds
    // the repository made: that is the seeding done, not a failure.
    if let Err(error) = created {
        let exists = error
            .as_service_error()
            .is_some_and(|e| e.is_repository_already_exists_exception());
        assert!(exists, "CreateRepository {repository}: {error:?}");
    }
    if lifecycle {
        ecr.put_lifecycle_policy()
            .repository_name(repository)
            .lifecycle_policy_text(LIFECYCLE)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutLifecyclePolicy {repository}: {e:?}"));
    }
    if let Some(policy) = policy {
        ecr.set_repository_policy()
            .repository_name(repository)
            .policy_text(policy)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SetRepositoryPolicy {repository}: {e:?}"));
    }
}

/// Makes the registry in `stack` (about 2,000 images; a few seconds).
///
/// # Panics
/// On any ECR or registry error.
pub async fn seed(stack: &Stack) -> Seeded {
    let mut services: Vec<(&str, String)> = Vec::new();
    services.extend((0..US_REPOSITORIES).map(|n| (US, format!("svc/app-{n:02}"))));
    services.extend((0..REPLICATED).map(|n| (EU, format!("svc/app-{n:02}"))));
    services.extend((0..EU_REPOSITORIES).map(|n| (EU, format!("svc/eu-{n:02}"))));
    services.push((US, DENIED.into()));
    // 16 at a time, as the images: moto is one Python process, and ECR's first calls to it
    // load the service.
    futures_util::stream::iter(&services)
        .for_each_concurrent(16, |(region, repository)| {
            create_service_repository(stack, region, repository)
        })
        .await;

    let mut images = Vec::new();
    for number in 0..US_REPOSITORIES {
        images.extend((0..US_IMAGES).map(|index| release(US, number, index)));
    }
    for number in 0..REPLICATED {
        for index in 0..US_IMAGES {
            match (number, index) {
                // Never replicated.
                (5, 7) => {}
                // Replicated, but the tag names another image there.
                (6, 3) => images.push(image(EU, "svc/app-06", vec!["1.6.3".into()], "other")),
                _ => images.push(release(EU, number, index)),
            }
        }
    }
    for number in 0..EU_REPOSITORIES {
        let repository = format!("svc/eu-{number:02}");
        images.extend((0..EU_IMAGES).map(|index| {
            let seed = format!("{repository}#{index}");
            image(EU, &repository, vec![format!("2.{number}.{index}")], &seed)
        }));
    }
    // Not governed by any rule: not judged.
    images.push(image(EU, "misc/tools", vec!["whatever".into()], "misc"));
    images.extend((0..3).map(|index| {
        image(
            US,
            DENIED,
            vec![format!("1.0.{index}")],
            &format!("locked#{index}"),
        )
    }));
    // The planted tag and label violations.
    images.push(image(US, "svc/app-11", vec!["latest".into()], "latest"));
    images.push(image(US, "svc/app-12", vec!["feature-x".into()], "feature"));
    let mut unrevised = image(US, "svc/app-13", vec!["5.0.0".into()], "unrevised");
    unrevised.platforms[0]
        .1
        .retain(|(k, _)| k != "org.opencontainers.image.revision");
    images.push(unrevised);
    let mut inconsistent = image(US, "svc/app-14", vec!["6.0.0".into()], "inconsistent");
    inconsistent.platforms[0]
        .1
        .push(("org.opencontainers.image.version".into(), "6.0.1".into()));
    images.push(inconsistent);
    let mut index = image(US, "svc/app-15", vec!["7.0.0".into()], "index");
    index.platforms.push(("linux/arm64".into(), Vec::new()));
    images.push(index);
    // A pre-release is not replicated, so its absence in eu-west-1 is no finding.
    images.push(image(US, "svc/app-07", vec!["1.7.99-rc.1".into()], "rc"));

    let pushed = push_bulk(stack, &images, 16).await;
    Seeded {
        repositories: services.len() + 1,
        images: pushed.len(),
    }
}
