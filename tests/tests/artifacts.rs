//! Every artifact shape users push, replicated by the copy engine on both registry flavors
//! (docker-registry 2.8 without the referrers API, and the test bed's front that serves it as
//! ECR does): the destination holds every manifest byte for byte under the same digest and
//! content type, every blob with its size, every tag on the same digest, and no foreign layer;
//! the image's tag is written after all its referrers; a second run writes nothing.
//!
//! The shapes come from `scripts/testbed/push_artifacts.py`, laid out as buildx, cosign,
//! Notation, ORAS and Helm write them (the script names the source it follows for each).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

use std::collections::BTreeMap;
use std::process::Command;

use replicator::ReplicatorFunction;
use steward::aws::{EventBus, Registries, RegistryReplicator, Sns, Sqs};
use steward::harness::Invoke;
use steward::oci::copy::{copy_image, CopyOptions, Endpoint};
use steward::oci::registry::RegistryClient;
use steward::policy::{Policy, SourceFormat};
use steward::retry::RetryPolicy;
use testbed::{
    function_binary, push_artifacts, push_event, Artifact, Flavor, ProxiedRequest, PushedImage,
    Stack,
};

const SOURCE: &str = "us-east-1";
const DESTINATION: &str = "eu-west-1";

fn options() -> CopyOptions {
    CopyOptions {
        retry: RetryPolicy {
            attempts: 3,
            base: std::time::Duration::from_millis(10),
            cap: std::time::Duration::from_millis(50),
        },
        ..CopyOptions::default()
    }
}

fn writes(requests: &[ProxiedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| !matches!(r.method.as_str(), "GET" | "HEAD"))
        .map(|r| format!("{} {}", r.method, r.target))
        .collect()
}

/// The destination has everything `artifact` put at the source, byte for byte.
async fn assert_identical(
    source: &RegistryClient,
    destination: &RegistryClient,
    artifact: &Artifact,
) {
    let repository = artifact.repository.as_str();
    for manifest in &artifact.manifests {
        let at_source = source
            .manifest(repository, &manifest.digest)
            .await
            .unwrap_or_else(|e| panic!("{}: source {}: {e}", artifact.shape, manifest.digest));
        let copied = destination
            .manifest(repository, &manifest.digest)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {} missing at the destination: {e}",
                    artifact.shape, manifest.digest
                )
            });
        assert_eq!(
            copied.bytes, at_source.bytes,
            "{}: {}",
            artifact.shape, manifest.digest
        );
        assert_eq!(copied.media_type, manifest.media_type, "{}", artifact.shape);
        if let Some(tag) = &manifest.tag {
            assert_eq!(
                destination
                    .head_manifest(repository, tag)
                    .await
                    .unwrap()
                    .as_deref(),
                Some(manifest.digest.as_str()),
                "{}: tag {tag}",
                artifact.shape
            );
        }
    }
    assert_eq!(
        destination
            .head_manifest(repository, &artifact.tag)
            .await
            .unwrap()
            .as_deref(),
        Some(artifact.digest.as_str()),
        "{}: the image's tag",
        artifact.shape
    );
    for blob in &artifact.blobs {
        assert!(
            destination
                .has_blob(repository, &blob.digest)
                .await
                .unwrap(),
            "{}: blob {} missing",
            artifact.shape,
            blob.digest
        );
        let bytes = destination
            .get_blob(repository, &blob.digest)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            bytes.len() as u64,
            blob.size,
            "{}: {}",
            artifact.shape,
            blob.digest
        );
    }
    for foreign in &artifact.foreign {
        assert!(
            !destination.has_blob(repository, foreign).await.unwrap(),
            "{}: the foreign layer {foreign} was uploaded",
            artifact.shape
        );
    }
}

async fn every_shape_replicates(flavor: Flavor) {
    // Pages of two make a listing of three referrers take two requests.
    let stack = Stack::start_flavored(flavor, &[("TESTBED_REFERRERS_PAGE_SIZE", "2")]);
    let proxy = stack.proxy(stack.registry(DESTINATION));
    let source = stack.registry_client(stack.registry(SOURCE));
    let destination = stack.registry_client(stack.registry(DESTINATION));
    let proxied = stack.registry_client(&proxy.url());
    let artifacts = push_artifacts(&stack, &["--region", SOURCE, "--shape", "all", "--no-ecr"]);
    assert!(artifacts.len() >= 10, "{artifacts:?}");

    // Every shape at once (each in its own repository); the proxy's record is read per
    // repository.
    let copy_all = || {
        futures_util::future::join_all(artifacts.iter().map(|artifact| {
            let repository = artifact.repository.as_str();
            let (source, proxied) = (&source, &proxied);
            async move {
                let tags = [artifact.tag.clone()];
                copy_image(
                    Endpoint {
                        registry: source,
                        repository,
                    },
                    Endpoint {
                        registry: proxied,
                        repository,
                    },
                    &artifact.digest,
                    &tags,
                    &options(),
                )
                .await
                .unwrap_or_else(|e| panic!("{} ({flavor:?}): {e}", artifact.shape))
            }
        }))
    };
    let first_stats = copy_all().await;
    let first = proxy.take_requests();
    let again_stats = copy_all().await;
    let second = proxy.take_requests();
    let of = |requests: &[ProxiedRequest], repository: &str| -> Vec<ProxiedRequest> {
        let prefix = format!("/v2/{repository}/");
        requests
            .iter()
            .filter(|r| r.target.starts_with(&prefix))
            .cloned()
            .collect()
    };

    for ((artifact, stats), again) in artifacts.iter().zip(&first_stats).zip(&again_stats) {
        let repository = artifact.repository.as_str();
        assert_identical(&source, &destination, artifact).await;
        assert_eq!(stats.tags_set, 1, "{}", artifact.shape);
        let mut foreign = artifact.foreign.clone();
        foreign.sort_unstable();
        assert_eq!(
            stats.external_blobs, foreign,
            "{}: the report names the layers left external",
            artifact.shape
        );

        // The image's tag is the last write: every referrer (and its tag) is there before it.
        let written = writes(&of(&first, repository));
        assert_eq!(
            written.last(),
            Some(&format!("PUT /v2/{repository}/manifests/{}", artifact.tag)),
            "{}: {written:#?}",
            artifact.shape
        );

        // A second run writes nothing and finds the same referrers.
        assert_eq!(
            writes(&of(&second, repository)),
            Vec::<String>::new(),
            "{}",
            artifact.shape
        );
        assert_eq!(
            (again.manifests_copied, again.blobs_copied, again.tags_set),
            (0, 0, 0),
            "{}",
            artifact.shape
        );
        assert_eq!(again.referrers, stats.referrers, "{}", artifact.shape);
    }

    if flavor == Flavor::Oci11 {
        // The destination lists every OCI 1.1 referrer under its subject, as the source does.
        for artifact in &artifacts {
            for manifest in artifact.manifests.iter().filter(|m| m.subject.is_some()) {
                let subject = manifest.subject.as_deref().unwrap();
                let listed = destination
                    .referrers(&artifact.repository, subject)
                    .await
                    .unwrap()
                    .expect("the front serves the referrers API");
                assert!(
                    listed.iter().any(|d| d.digest == manifest.digest),
                    "{}: {} not listed under {subject}",
                    artifact.shape,
                    manifest.digest
                );
            }
        }
    }
}

#[tokio::test]
async fn every_shape_replicates_from_a_registry_without_the_referrers_api() {
    every_shape_replicates(Flavor::Distribution).await;
}

#[tokio::test]
async fn every_shape_replicates_from_a_registry_with_the_referrers_api() {
    every_shape_replicates(Flavor::Oci11).await;
}

/// On a registry with the referrers API, cosign's tag-scheme signatures (no `subject`, never
/// listed by the API) are found too, for the index and for each platform image.
#[tokio::test]
async fn cosign_signatures_of_an_index_and_its_children_arrive_beside_the_referrers_api() {
    let stack = Stack::start_flavored(Flavor::Oci11, &[]);
    let source = stack.registry_client(stack.registry(SOURCE));
    let destination = stack.registry_client(stack.registry(DESTINATION));
    let artifact = push_artifacts(
        &stack,
        &[
            "--region",
            SOURCE,
            "--shape",
            "cosign-recursive",
            "--no-ecr",
        ],
    )
    .remove(0);
    let signatures: Vec<_> = artifact
        .manifests
        .iter()
        .filter(|m| m.tag.as_deref().is_some_and(|t| t.ends_with(".sig")))
        .collect();
    assert!(
        signatures.len() >= 3,
        "the index and each child: {signatures:?}"
    );
    let repository = artifact.repository.as_str();
    let stats = copy_image(
        Endpoint {
            registry: &source,
            repository,
        },
        Endpoint {
            registry: &destination,
            repository,
        },
        &artifact.digest,
        std::slice::from_ref(&artifact.tag),
        &options(),
    )
    .await
    .unwrap();
    assert!(stats.referrers >= signatures.len() as u64, "{stats:?}");
    for signature in signatures {
        let tag = signature.tag.as_deref().unwrap();
        assert_eq!(
            destination
                .head_manifest(repository, tag)
                .await
                .unwrap()
                .as_deref(),
            Some(signature.digest.as_str()),
            "{tag}"
        );
    }
}

/// Releases of `team/*` go to eu-west-1, created when missing.
const REPLICATE_TEAM: &str = "version: 1
rules:
  - tags: { semver: {} }
replication:
  - name: team
    repositories: [\"team/*\"]
    destinations: [{ region: eu-west-1 }]
    create_repository: true
";

/// The replicator function (on its real adapters) and `ecr-steward replicate` carry a signed
/// multi-arch image and an image with an SBOM signed by Notation, with every referrer, on
/// both registry flavors.
#[tokio::test]
async fn the_function_and_the_cli_carry_every_signature_on_both_flavors() {
    for flavor in Flavor::ALL {
        let stack = Stack::start_flavored(flavor, &[]);
        let signed = push_artifacts(
            &stack,
            &[
                "--region",
                SOURCE,
                "--shape",
                "cosign-recursive",
                "--repository",
                "team/signed",
                "--tag",
                "2.1.0",
            ],
        )
        .remove(0);
        let sbom = push_artifacts(
            &stack,
            &[
                "--region",
                SOURCE,
                "--shape",
                "oci-referrers",
                "--repository",
                "team/sbom",
                "--tag",
                "3.0.0",
            ],
        )
        .remove(0);
        let source = stack.registry_client(stack.registry(SOURCE));
        let destination = stack.registry_client(stack.registry(DESTINATION));

        let sdk = stack.sdk_config(SOURCE);
        let overrides = BTreeMap::from([
            (SOURCE.to_string(), stack.registry(SOURCE).to_string()),
            (
                DESTINATION.to_string(),
                stack.registry(DESTINATION).to_string(),
            ),
        ]);
        let registries = Registries::new(&sdk, stack.http(), overrides);
        let (topic, _queue) = stack.topic_with_queue(SOURCE).await;
        let function = ReplicatorFunction {
            policy: Policy::from_text(REPLICATE_TEAM, "policy.yaml", SourceFormat::Yaml)
                .unwrap()
                .into(),
            mode_override: None,
            notify_already_replicated: false,
            images: registries.clone(),
            replicator: RegistryReplicator {
                registries,
                sdk: sdk.clone(),
                options: options(),
                create_repositories: true,
            },
            notifier: Sns::new(&sdk, &topic),
            dead_letters: None::<Sqs>,
            events: None::<EventBus>,
        };
        let pushed = PushedImage {
            repository: signed.repository.clone(),
            region: SOURCE.into(),
            tag: Some(signed.tag.clone()),
            digest: signed.digest.clone(),
            media_type: signed.manifests[0].media_type.clone(),
            children: Vec::new(),
        };
        let report = function.invoke(push_event(&pushed)).await.unwrap();
        assert_eq!(report["outcome"], "replicated", "{flavor:?}: {report:#}");
        let stats = &report["outcomes"][0]["stats"];
        assert_eq!(
            stats["referrers"].as_u64(),
            Some(signed.manifests.iter().filter(|m| is_referrer(m)).count() as u64),
            "{flavor:?}: {report:#}"
        );
        assert_identical(&source, &destination, &signed).await;

        let scratch = tempfile::tempdir().unwrap();
        let policy = scratch.path().join("policy.yaml");
        std::fs::write(&policy, REPLICATE_TEAM).unwrap();
        let output = Command::new(function_binary("ecr-steward"))
            .args(["replicate", "--policy"])
            .arg(&policy)
            .args(["--repository", "team/sbom", "--format", "json"])
            .env_clear()
            .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
            .envs(stack.env().iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{flavor:?}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_identical(&source, &destination, &sbom).await;
    }
}

/// A signature, attestation, SBOM or fallback index: anything but the image and its children.
fn is_referrer(manifest: &testbed::ArtifactManifest) -> bool {
    manifest.subject.is_some()
        || manifest
            .tag
            .as_deref()
            .is_some_and(|t| t.starts_with("sha256-"))
}

/// A destination that refuses a referrer whose subject is an index (as ECR was reported to,
/// with a 405: aws/containers-roadmap#2783): the refusal is reported, not retried, and the
/// image with its other referrers still arrives, its tag last.
#[tokio::test]
async fn a_referrer_the_destination_refuses_is_reported_and_the_image_still_arrives() {
    use steward::oci::registry::{sha256_digest, RawManifest, OCI_INDEX, OCI_MANIFEST};
    let stack = Stack::start_flavored(
        Flavor::Oci11,
        &[("TESTBED_REFUSE_INDEX_SUBJECTS", DESTINATION)],
    );
    let source = stack.registry_client(stack.registry(SOURCE));
    let destination = stack.registry_client(stack.registry(DESTINATION));
    let repository = "team/attested";
    let index = push_artifacts(
        &stack,
        &[
            "--region",
            SOURCE,
            "--shape",
            "buildx",
            "--repository",
            repository,
            "--no-ecr",
        ],
    )
    .remove(0);
    let index_size = source
        .manifest(repository, &index.digest)
        .await
        .unwrap()
        .bytes
        .len();

    // An SBOM attached to the index itself, as `oras attach` does: the empty config.
    let empty = sha256_digest(b"{}");
    let upload = source.start_upload(repository).await.unwrap();
    let commit = source
        .send_upload_data(&upload, reqwest::Body::from(b"{}".to_vec()))
        .await
        .unwrap();
    source.finish_upload(&commit, &empty).await.unwrap();
    let sbom = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
        "layers": [{ "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 }],
        "subject": { "mediaType": OCI_INDEX, "digest": index.digest, "size": index_size }
    }))
    .unwrap();
    let sbom = RawManifest {
        digest: sha256_digest(&sbom),
        bytes: sbom,
        media_type: OCI_MANIFEST.into(),
    };
    source
        .put_manifest(repository, &sbom.digest, &sbom)
        .await
        .unwrap();

    let proxy = stack.proxy(stack.registry(DESTINATION));
    let proxied = stack.registry_client(&proxy.url());
    let endpoints = (
        Endpoint {
            registry: &source,
            repository,
        },
        Endpoint {
            registry: &proxied,
            repository,
        },
    );
    let tags = [index.tag.clone()];
    let stats = copy_image(endpoints.0, endpoints.1, &index.digest, &tags, &options())
        .await
        .expect("the image is copied all the same");
    assert_eq!(stats.refused_referrers.len(), 1, "{stats:?}");
    assert!(
        stats.refused_referrers[0].starts_with(&sbom.digest)
            && stats.refused_referrers[0].contains("405"),
        "{stats:?}"
    );
    let requests = proxy.take_requests();
    let refused_puts = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.target.ends_with(&sbom.digest))
        .count();
    assert_eq!(refused_puts, 1, "refused once, not retried");
    assert_identical(&source, &destination, &index).await;
    assert_eq!(
        destination
            .head_manifest(repository, &sbom.digest)
            .await
            .unwrap(),
        None
    );
}
