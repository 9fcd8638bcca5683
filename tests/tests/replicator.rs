//! The replicator against the local test bed: two real registries stand for us-east-1 (the
//! source) and eu-west-1 (the destination), moto is ECR, SNS and SQS. Each test starts its own
//! stack.
//!
//! - `copy_image` between the registries: byte-identical manifests and blobs, re-runs that only
//!   read, and faults injected by a [`FaultProxy`] (a destination cut off mid-upload, a burst of
//!   503s, a source that serves corrupted blobs);
//! - skopeo reading the copy back;
//! - the replicator function (`ReplicatorFunction` on the real adapters): tag filters,
//!   notifications through SNS into SQS, a destination that is down;
//! - the `ecr-steward replicate` binary (`cargo build --workspace` first), and its fan-out:
//!   copy jobs on a moto queue, handed to the replicator binary as Lambda's SQS event source
//!   mapping would ([`testbed::EventSource`]);
//! - a connection cut mid-blob, at either end,
//!   is retried and retryable;
//! - tag-scoped delete replication (`replicate_deletes`) through the replicator binary, with
//!   duplicate and late deliveries, checked against every destination repository's listing.
//!
//! skopeo comes from `scripts/testbed/ensure-skopeo` (apt-get, once).
//!
//! A copy writes to the destination's registry only: moto's eu-west-1 ECR learns of no image.
//! So the assertions read the destination registry, directly (not through the proxy).

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use replicator::ReplicatorFunction;
use serde_json::Value;
use steward::aws::{EventBus, Registries, RegistryReplicator, Sns, Sqs};
use steward::error::StewardError;
use steward::harness::Invoke;
use steward::oci::copy::{copy_image, CopyOptions, Endpoint};
use steward::oci::registry::{sha256_digest, RegistryClient};
use steward::policy::{Policy, SourceFormat};
use steward::replication::CopyStats;
use steward::retry::RetryPolicy;
use testbed::{
    function_binary, push_event, push_image_with, workspace_root, Fault, FaultProxy, PushSpec,
    PushedImage, Stack,
};

const SOURCE: &str = "us-east-1";
const DESTINATION: &str = "eu-west-1";
const REPOSITORY: &str = "team/app";
/// How long a notification may take to arrive.
const ARRIVAL: Duration = Duration::from_secs(10);

/// Every tag of `team/*` goes to eu-west-1, which is created when missing.
const REPLICATE_TEAM: &str = "version: 1
rules:
  - tags: { semver: {} }
replication:
  - name: team
    repositories: [\"team/*\"]
    destinations: [{ region: eu-west-1 }]
    create_repository: true
";

/// Releases only: no pre-releases.
const RELEASES_ONLY: &str = "version: 1
rules:
  - tags: { semver: {} }
replication:
  - name: releases
    repositories: [\"team/*\"]
    tags: { semver: { prerelease: false } }
    destinations: [{ region: eu-west-1 }]
    create_repository: true
";

/// The default attempts, with short waits: the tests that exhaust them stay fast.
fn quick_retries() -> CopyOptions {
    CopyOptions {
        retry: RetryPolicy {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(40),
            ..RetryPolicy::default()
        },
        ..CopyOptions::default()
    }
}

fn policy(text: &str) -> Policy {
    Policy::from_text(text, "policy.yaml", SourceFormat::Yaml).expect("a valid policy")
}

/// A stack with a fault proxy in front of the destination registry.
struct Bed {
    stack: Stack,
    /// In front of the destination (eu-west-1) registry.
    proxy: FaultProxy,
    source: RegistryClient,
    /// The destination registry itself: what the assertions read.
    destination: RegistryClient,
    /// The destination registry through the proxy: what the copies write to.
    proxied: RegistryClient,
}

impl Bed {
    /// On the ECR-like data plane: HTTPS, Basic authentication, blob reads redirected to S3.
    fn start() -> Self {
        Self::on(Stack::start())
    }

    /// On the plain data plane, where blob bodies come from the registry itself, for a
    /// proxy that must see them (on the ECR-like one they come from S3, past the proxy).
    fn start_plain() -> Self {
        Self::on(Stack::start_plain())
    }

    fn on(stack: Stack) -> Self {
        let proxy = stack.proxy(stack.registry(DESTINATION));
        Self {
            source: stack.registry_client(stack.registry(SOURCE)),
            destination: stack.registry_client(stack.registry(DESTINATION)),
            proxied: stack.registry_client(&proxy.url()),
            proxy,
            stack,
        }
    }

    fn registry(&self, url: &str) -> RegistryClient {
        self.stack.registry_client(url)
    }

    /// Pushes to the source registry only (not to moto's ECR): `push_image.py ARGS`.
    fn push(&self, args: &[&str]) -> PushedImage {
        let mut all = vec!["--region", SOURCE, "--repository", REPOSITORY, "--no-ecr"];
        all.extend_from_slice(args);
        push_image_with(&self.stack, &all)
    }

    /// The replicator function on the real adapters; the destination registry is reached
    /// through the proxy.
    fn function(
        &self,
        policy_text: &str,
        topic: &str,
    ) -> ReplicatorFunction<Registries, RegistryReplicator, Sns, Sqs, EventBus> {
        let overrides = BTreeMap::from([
            (SOURCE.to_string(), self.stack.registry(SOURCE).to_string()),
            (DESTINATION.to_string(), self.proxy.url()),
        ]);
        self.function_in(SOURCE, overrides, policy_text, topic)
    }

    /// The replicator as deployed in `home`, reaching each region's registry at `overrides`.
    fn function_in(
        &self,
        home: &str,
        overrides: BTreeMap<String, String>,
        policy_text: &str,
        topic: &str,
    ) -> ReplicatorFunction<Registries, RegistryReplicator, Sns, Sqs, EventBus> {
        let sdk = self.stack.sdk_config(home);
        let registries = Registries::new(&sdk, self.stack.http(), overrides);
        ReplicatorFunction {
            policy: policy(policy_text).into(),
            mode_override: None,
            notify_already_replicated: false,
            images: registries.clone(),
            replicator: RegistryReplicator {
                registries,
                sdk: sdk.clone(),
                options: quick_retries(),
                create_repositories: true,
            },
            notifier: Sns::new(&sdk, topic),
            dead_letters: None,
            events: None,
        }
    }

    /// The digest `reference` resolves to at the destination (HEAD, `Docker-Content-Digest`).
    async fn at_destination(&self, reference: &str) -> Option<String> {
        self.destination
            .head_manifest(REPOSITORY, reference)
            .await
            .unwrap_or_else(|e| panic!("HEAD {reference} at the destination: {e}"))
    }

    /// The repositories of moto's ECR in `region`.
    async fn ecr_repositories(&self, region: &str) -> Vec<String> {
        let output = self
            .stack
            .ecr(region)
            .describe_repositories()
            .send()
            .await
            .expect("DescribeRepositories");
        output
            .repositories()
            .iter()
            .filter_map(|r| r.repository_name())
            .map(str::to_string)
            .collect()
    }
}

/// `copy_image` of a pushed image (digest and tag), same repository name at both ends.
async fn copy(
    from: &RegistryClient,
    to: &RegistryClient,
    image: &PushedImage,
    options: &CopyOptions,
) -> Result<CopyStats, StewardError> {
    let tags: Vec<String> = image.tag.iter().cloned().collect();
    copy_image(
        Endpoint {
            registry: from,
            repository: &image.repository,
        },
        Endpoint {
            registry: to,
            repository: &image.repository,
        },
        &image.digest,
        &tags,
        options,
    )
    .await
}

/// The blobs (config and layers, `(digest, size)`) of an image and of its children, read from
/// `registry`.
async fn blobs_of(registry: &RegistryClient, repository: &str, digest: &str) -> Vec<(String, u64)> {
    let mut manifests = vec![digest.to_string()];
    let mut blobs = Vec::new();
    while let Some(digest) = manifests.pop() {
        let manifest = registry
            .manifest(repository, &digest)
            .await
            .unwrap_or_else(|e| panic!("GET manifest {digest}: {e}"));
        let document = manifest.parse().expect("manifest JSON");
        manifests.extend(document.manifests.iter().map(|c| c.digest.clone()));
        blobs.extend(
            document
                .config
                .iter()
                .chain(&document.layers)
                .map(|d| (d.digest.clone(), d.size)),
        );
    }
    blobs
}

/// Asserts that the destination holds the image exactly as the source does: every manifest
/// (the index and each child) GET by digest has the source's bytes and hashes to its digest,
/// every blob GET by digest hashes to its digest and has its size, and the tag resolves to the
/// digest. Returns the blobs, `(digest, size)`.
async fn assert_identical(
    source: &RegistryClient,
    destination: &RegistryClient,
    image: &PushedImage,
) -> Vec<(String, u64)> {
    let repository = &image.repository;
    let mut manifests = vec![image.digest.clone()];
    let mut blobs = Vec::new();
    while let Some(digest) = manifests.pop() {
        let original = source
            .manifest(repository, &digest)
            .await
            .unwrap_or_else(|e| panic!("source manifest {digest}: {e}"));
        // `manifest` verifies the bytes against the digest; check again, in plain sight.
        let copied = destination
            .manifest(repository, &digest)
            .await
            .unwrap_or_else(|e| panic!("destination manifest {digest}: {e}"));
        assert_eq!(sha256_digest(&copied.bytes), digest);
        assert!(
            copied.bytes == original.bytes,
            "manifest {digest}: other bytes"
        );
        assert_eq!(copied.media_type, original.media_type, "manifest {digest}");
        let document = copied.parse().expect("manifest JSON");
        manifests.extend(document.manifests.iter().map(|c| c.digest.clone()));
        for blob in document.config.iter().chain(&document.layers) {
            let bytes = destination
                .get_blob(repository, &blob.digest)
                .await
                .unwrap_or_else(|e| panic!("GET blob {} at the destination: {e}", blob.digest))
                .bytes()
                .await
                .expect("the blob's body");
            assert_eq!(sha256_digest(&bytes), blob.digest, "blob content");
            assert_eq!(bytes.len() as u64, blob.size, "blob {} size", blob.digest);
            blobs.push((blob.digest.clone(), blob.size));
        }
    }
    if let Some(tag) = &image.tag {
        let resolved = destination
            .head_manifest(repository, tag)
            .await
            .expect("HEAD the tag");
        assert_eq!(
            resolved.as_deref(),
            Some(image.digest.as_str()),
            "tag {tag}"
        );
    }
    blobs
}

fn total(blobs: &[(String, u64)]) -> u64 {
    blobs.iter().map(|(_, size)| size).sum()
}

fn count(requests: &[testbed::ProxiedRequest], method: &str) -> usize {
    requests.iter().filter(|r| r.method == method).count()
}

fn listing(requests: &[testbed::ProxiedRequest]) -> String {
    requests
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that a re-run sent the destination only reads: HEADs, and GETs of manifests.
fn assert_only_reads(requests: &[testbed::ProxiedRequest]) {
    assert!(
        !requests.is_empty(),
        "the re-run asked the destination nothing"
    );
    for request in requests {
        assert!(
            request.is_lookup(),
            "a re-run sent {request}; all:\n{}",
            listing(requests)
        );
    }
}

/// A message attribute of an SNS envelope.
fn attribute<'a>(envelope: &'a Value, name: &str) -> &'a str {
    envelope["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_default()
}

/// The chat notification's description inside an SNS envelope.
fn description(envelope: &Value) -> String {
    let message = envelope["Message"].as_str().expect("Message is a string");
    let message: Value = serde_json::from_str(message).expect("the chat notification JSON");
    message["content"]["description"]
        .as_str()
        .expect("a description")
        .to_string()
}

#[tokio::test]
async fn a_single_platform_image_arrives_byte_for_byte_and_a_rerun_only_reads() {
    let bed = Bed::start();
    let image = bed.push(&["--tag", "1.0.0", "--layers", "3", "--layer-size", "65536"]);

    let stats = copy(&bed.source, &bed.proxied, &image, &quick_retries())
        .await
        .expect("copied");

    let blobs = assert_identical(&bed.source, &bed.destination, &image).await;
    assert_eq!(blobs.len(), 4, "a config and 3 layers");
    assert_eq!(
        stats,
        CopyStats {
            bytes_copied: total(&blobs),
            blobs_copied: 4,
            blobs_skipped: 0,
            manifests_copied: 1,
            manifests_skipped: 0,
            tags_set: 1,
            tags_moved_on: 0,
            ..CopyStats::default()
        }
    );
    // Each blob went once: one upload started, sent and committed; no retry was needed.
    let first = bed.proxy.take_requests();
    assert_eq!(
        (
            count(&first, "POST"),
            count(&first, "PATCH"),
            count(&first, "PUT")
        ),
        (4, 0, 4 + 1),
        "4 blob uploads, each sent and committed in one PUT, and the manifest once, by its tag:\n{}",
        listing(&first)
    );
    assert!(
        first.iter().all(|r| r.status.is_some_and(|s| s < 500)),
        "{}",
        listing(&first)
    );

    let again = copy(&bed.source, &bed.proxied, &image, &quick_retries())
        .await
        .expect("copied again");

    assert_eq!(
        again,
        CopyStats {
            manifests_skipped: 1,
            ..CopyStats::default()
        }
    );
    let requests = bed.proxy.take_requests();
    assert_only_reads(&requests);
    // At the destination: the tag, and the image by digest (a signature added since would be
    // looked up at the source and written); nothing else.
    let mut targets: Vec<String> = requests.iter().map(|r| r.target.clone()).collect();
    targets.sort_unstable();
    assert_eq!(
        targets,
        [
            "/v2/team/app/manifests/1.0.0".to_string(),
            format!("/v2/team/app/manifests/{}", image.digest)
        ],
        "{}",
        listing(&requests)
    );
}

#[tokio::test]
async fn a_multi_arch_index_arrives_with_every_platform_and_a_rerun_only_reads() {
    let bed = Bed::start();
    let image = bed.push(&[
        "--tag",
        "2.0.0",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64/v8",
        "--layers",
        "2",
        "--layer-size",
        "32768",
    ]);
    assert_eq!(image.children.len(), 2);

    let stats = copy(&bed.source, &bed.proxied, &image, &quick_retries())
        .await
        .expect("copied");

    let blobs = assert_identical(&bed.source, &bed.destination, &image).await;
    assert_eq!(blobs.len(), 6, "a config and 2 layers per platform");
    for child in &image.children {
        assert_eq!(
            bed.at_destination(child).await.as_deref(),
            Some(child.as_str())
        );
    }
    assert_eq!(
        stats,
        CopyStats {
            bytes_copied: total(&blobs),
            blobs_copied: 6,
            blobs_skipped: 0,
            manifests_copied: 3,
            manifests_skipped: 0,
            tags_set: 1,
            tags_moved_on: 0,
            ..CopyStats::default()
        }
    );
    bed.proxy.take_requests();

    let again = copy(&bed.source, &bed.proxied, &image, &quick_retries())
        .await
        .expect("copied again");

    assert_eq!(again.bytes_copied, 0);
    assert_eq!(again.blobs_copied, 0);
    assert_eq!(again.manifests_copied, 0);
    assert_only_reads(&bed.proxy.take_requests());
}

#[tokio::test]
async fn pre_releases_are_not_replicated() {
    let bed = Bed::start();
    let (topic, queue) = bed.stack.topic_with_queue(SOURCE).await;
    let function = bed.function(RELEASES_ONLY, &topic);
    let release = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, REPOSITORY).tag("1.0.0"));
    let candidate = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, REPOSITORY).tag("1.1.0-rc.1"));

    let replicated = function
        .invoke(push_event(&release))
        .await
        .expect("handled");
    let skipped = function
        .invoke(push_event(&candidate))
        .await
        .expect("handled");

    assert_eq!(
        skipped,
        serde_json::json!({ "outcome": "skipped", "reason": "no replication rule matches the repository and tag" })
    );
    assert_eq!(
        replicated["tags"],
        serde_json::json!(["1.0.0"]),
        "{replicated:#}"
    );
    assert_eq!(replicated["outcomes"][0]["ok"], true, "{replicated:#}");
    assert_identical(&bed.source, &bed.destination, &release).await;
    assert_eq!(bed.at_destination("1.1.0-rc.1").await, None);
    assert_eq!(bed.at_destination(&candidate.digest).await, None);
    assert_eq!(bed.ecr_repositories(DESTINATION).await, [REPOSITORY]);
    // One notification, for the release; the pre-release is skipped silently.
    let envelopes = bed
        .stack
        .receive_notifications(&queue, 2, Duration::from_secs(3))
        .await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert!(description(&envelopes[0]).contains("`1.0.0`"));
}

#[tokio::test]
async fn a_destination_cut_off_mid_upload_gets_no_manifest_and_a_rerun_completes() {
    let bed = Bed::start();
    let image = bed.push(&["--tag", "3.0.0", "--layers", "4", "--layer-size", "2000000"]);
    // Every upload's body is cut after 1 MiB: each layer upload dies half-way, every attempt.
    // Here the blobs go as a PATCH of the data and an empty PUT (the monolithic PUT is cut in
    // the next test).
    bed.proxy
        .set_fault(Fault::DropUploadsAfter { bytes: 1 << 20 });
    let chunked = CopyOptions {
        monolithic: false,
        ..quick_retries()
    };

    let error = copy(&bed.source, &bed.proxied, &image, &chunked)
        .await
        .expect_err("the destination went away");

    let requests = bed.proxy.take_requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "PATCH" && r.status.is_none()),
        "no upload was cut:\n{}",
        listing(&requests)
    );
    eprintln!("the copy failed with: {error}");
    assert_eq!(bed.at_destination(&image.digest).await, None, "no manifest");
    assert_eq!(bed.at_destination("3.0.0").await, None, "no tag");
    for (digest, size) in blobs_of(&bed.source, REPOSITORY, &image.digest).await {
        if size > 1 << 20 {
            let present = bed.destination.has_blob(REPOSITORY, &digest).await;
            assert!(!present.expect("HEAD blob"), "a cut upload was committed");
        }
    }

    bed.proxy.set_fault(Fault::PassThrough);
    let stats = copy(&bed.source, &bed.proxied, &image, &quick_retries())
        .await
        .expect("the re-run completes");

    let blobs = assert_identical(&bed.source, &bed.destination, &image).await;
    assert_eq!(blobs.len(), 5);
    // The layers go again; the small config may have made it the first time.
    assert!(stats.blobs_copied >= 4, "{stats:?}");
    assert_eq!(stats.blobs_copied + stats.blobs_skipped, 5, "{stats:?}");
    assert_eq!(stats.manifests_copied, 1);
}

#[tokio::test]
async fn corrupted_source_bytes_fail_the_copy_and_push_nothing() {
    let bed = Bed::start_plain();
    let image = bed.push(&["--tag", "4.0.0", "--layers", "2", "--layer-size", "300000"]);
    let corrupting = bed.stack.proxy(bed.stack.registry(SOURCE));
    corrupting.set_fault(Fault::CorruptBlobs);

    let error = copy(
        &bed.registry(&corrupting.url()),
        &bed.destination,
        &image,
        &quick_retries(),
    )
    .await
    .expect_err("the source's bytes do not match their digest");

    let message = error.to_string();
    assert!(
        matches!(error, StewardError::InvalidResponse { .. }) && !error.is_retryable(),
        "{error:?}"
    );
    assert!(
        message.contains("expected") && message.contains("nothing was pushed"),
        "{message}"
    );
    assert!(
        corrupting.requests().iter().any(|r| r.injected),
        "no blob was corrupted"
    );
    assert_eq!(bed.at_destination(&image.digest).await, None, "no manifest");
    for (digest, _) in blobs_of(&bed.source, REPOSITORY, &image.digest).await {
        let present = bed.destination.has_blob(REPOSITORY, &digest).await;
        assert!(!present.expect("HEAD blob"), "blob {digest} was committed");
    }
}

#[tokio::test]
async fn a_burst_of_503s_is_retried_through() {
    let bed = Bed::start();
    let image = bed.push(&["--tag", "5.0.0", "--layers", "2", "--layer-size", "100000"]);
    bed.proxy.set_fault(Fault::Unavailable { requests: 3 });

    // The default retry policy, as the function and the CLI use it.
    let stats = copy(&bed.source, &bed.proxied, &image, &CopyOptions::default())
        .await
        .expect("retried through");

    let requests = bed.proxy.take_requests();
    let injected: Vec<_> = requests.iter().filter(|r| r.injected).collect();
    assert_eq!(injected.len(), 3, "{}", listing(&requests));
    assert!(injected.iter().all(|r| r.status == Some(503)));
    let blobs = assert_identical(&bed.source, &bed.destination, &image).await;
    assert_eq!(stats.blobs_copied, 3);
    assert_eq!(stats.bytes_copied, total(&blobs));
}

/// Runs `scripts/testbed/ensure-skopeo` (installs it from Debian when missing).
fn skopeo() -> String {
    let script = workspace_root().join("scripts/testbed/ensure-skopeo");
    let output = Command::new(&script).output().expect("run ensure-skopeo");
    assert!(
        output.status.success(),
        "ensure-skopeo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or("skopeo")
        .trim()
        .to_string()
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("run the command");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `sha256:<hex>` of a file.
fn file_digest(path: &Path) -> String {
    sha256_digest(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[tokio::test]
async fn skopeo_reads_the_copy() {
    let skopeo = skopeo();
    let bed = Bed::start();
    let single = bed.push(&["--tag", "6.0.0", "--layers", "2", "--layer-size", "50000"]);
    let multi = bed.push(&[
        "--tag",
        "6.1.0",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
    ]);
    for image in [&single, &multi] {
        copy(&bed.source, &bed.destination, image, &quick_retries())
            .await
            .expect("copied");
    }
    let host = bed
        .destination
        .base()
        .trim_start_matches("https://")
        .to_string();
    let reference = |tag: &str| format!("docker://{host}/{REPOSITORY}:{tag}");
    let scratch = tempfile::tempdir().expect("a temporary directory");
    // skopeo verifies the registry's certificate against the stack's CA (a --cert-dir holds
    // it as ca.crt) and logs in with the credentials GetAuthorizationToken gives.
    let certs = scratch.path().join("certs");
    std::fs::create_dir(&certs).expect("a cert dir");
    std::fs::copy(
        bed.stack.ca_file().expect("the ECR-like data plane"),
        certs.join("ca.crt"),
    )
    .expect("the CA in the cert dir");
    let (user, password) = bed.stack.registry_credentials().expect("credentials");
    let credentials = format!("{user}:{password}");
    let certs = certs.display().to_string();
    let skopeo = |args: &[&str]| {
        let (command, rest) = args.split_first().expect("a skopeo command");
        let access: &[&str] = if *command == "copy" {
            &["--src-cert-dir", &certs, "--src-creds", &credentials]
        } else {
            &["--cert-dir", &certs, "--creds", &credentials]
        };
        run(Command::new(&skopeo)
            .arg(command)
            .args(access)
            .args(rest)
            .env("TMPDIR", scratch.path())
            .env("HOME", scratch.path()))
    };

    let inspected = skopeo(&["inspect", &reference("6.0.0")]);
    let inspected: Value = serde_json::from_slice(&inspected.stdout).expect("skopeo's JSON");
    assert_eq!(inspected["Digest"], single.digest.as_str(), "{inspected:#}");
    assert_eq!(inspected["Layers"].as_array().map(Vec::len), Some(2));
    let raw = skopeo(&["inspect", "--raw", &reference("6.1.0")]);
    assert_eq!(
        sha256_digest(&raw.stdout),
        multi.digest,
        "the index's bytes"
    );

    let out = scratch.path().join("single");
    let dir = format!("dir:{}", out.display());
    skopeo(&["copy", &reference("6.0.0"), &dir]);
    assert_eq!(file_digest(&out.join("manifest.json")), single.digest);
    for (digest, size) in blobs_of(&bed.destination, REPOSITORY, &single.digest).await {
        let hex = digest.trim_start_matches("sha256:");
        let blob = out.join(hex);
        assert_eq!(file_digest(&blob), digest);
        assert_eq!(std::fs::metadata(&blob).map(|m| m.len()).ok(), Some(size));
    }

    let out = scratch.path().join("multi");
    let dir = format!("dir:{}", out.display());
    skopeo(&["copy", "--all", &reference("6.1.0"), &dir]);
    assert_eq!(file_digest(&out.join("manifest.json")), multi.digest);
    for child in &multi.children {
        let hex = child.trim_start_matches("sha256:");
        assert_eq!(
            file_digest(&out.join(format!("{hex}.manifest.json"))),
            *child
        );
    }
}

#[tokio::test]
async fn the_function_replicates_a_push_and_notifies_with_a_line_per_region() {
    let bed = Bed::start();
    let (topic, queue) = bed.stack.topic_with_queue(SOURCE).await;
    let function = bed.function(REPLICATE_TEAM, &topic);
    let image = bed.stack.push_image(
        &PushSpec::new(SOURCE, REPOSITORY)
            .tag("7.0.0")
            .platform("linux/amd64")
            .platform("linux/arm64"),
    );
    assert!(bed.ecr_repositories(DESTINATION).await.is_empty());

    let report = function
        .invoke(push_event(&image))
        .await
        .expect("replicated");

    let outcomes = report["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 1, "{report:#}");
    assert_eq!(outcomes[0]["region"], DESTINATION);
    assert_eq!(outcomes[0]["ok"], true, "{report:#}");
    assert_eq!(outcomes[0]["stats"]["manifests_copied"], 3, "{report:#}");
    let blobs = assert_identical(&bed.source, &bed.destination, &image).await;
    assert_eq!(outcomes[0]["stats"]["bytes_copied"], total(&blobs));
    assert_eq!(
        bed.ecr_repositories(DESTINATION).await,
        [REPOSITORY],
        "the rule creates the destination repository"
    );

    let envelopes = bed.stack.receive_notifications(&queue, 1, ARRIVAL).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert_eq!(attribute(&envelopes[0], "outcome"), "replicated");
    assert_eq!(attribute(&envelopes[0], "event_type"), "replicator.copy");
    assert_eq!(attribute(&envelopes[0], "region"), SOURCE);
    let text = description(&envelopes[0]);
    let line = format!(
        "• {DESTINATION}/{REPOSITORY}: copied {} bytes in {} blobs, 0 blobs already there",
        total(&blobs),
        blobs.len()
    );
    assert!(text.contains(&line), "{text}");
}

#[tokio::test]
async fn a_destination_that_answers_503_fails_retryably_and_is_notified() {
    let bed = Bed::start();
    let (topic, queue) = bed.stack.topic_with_queue(SOURCE).await;
    let function = bed.function(REPLICATE_TEAM, &topic);
    let image = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, REPOSITORY).tag("8.0.0"));
    bed.proxy.set_fault(Fault::AlwaysUnavailable);

    let error = function
        .invoke(push_event(&image))
        .await
        .expect_err("eu-west-1 is down");

    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(error.error_type(), "Retryable.Unavailable");
    assert!(error.to_string().contains(DESTINATION), "{error}");
    let requests = bed.proxy.requests();
    assert!(
        requests.len() >= 5 && requests.iter().all(|r| r.status == Some(503)),
        "every attempt met the 503:\n{}",
        listing(&requests)
    );
    assert_eq!(bed.at_destination(&image.digest).await, None);

    let envelopes = bed.stack.receive_notifications(&queue, 1, ARRIVAL).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert_eq!(attribute(&envelopes[0], "outcome"), "replication-failed");
    assert_eq!(attribute(&envelopes[0], "severity"), "CRITICAL");
    let text = description(&envelopes[0]);
    assert!(
        text.contains(&format!("• {DESTINATION}/{REPOSITORY}: FAILED: ")),
        "{text}"
    );
}

/// Runs the built `ecr-steward replicate ARGS` with the stack's environment, the destination
/// registry at `destination`; nothing else from this process's environment but `PATH`.
fn replicate(bed: &Bed, destination: &str, args: &[&str]) -> Output {
    let binary = function_binary("ecr-steward");
    Command::new(binary)
        .arg("replicate")
        .args(args)
        .env_clear()
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .envs(bed.stack.env().iter().map(|(k, v)| (k, v)))
        .env("STEWARD_REGISTRY_EU_WEST_1", destination)
        .output()
        .expect("run ecr-steward replicate")
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test]
async fn the_cli_lists_copies_and_fails_when_a_destination_does() {
    let bed = Bed::start();
    let first = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, REPOSITORY).tag("9.0.0"));
    let second = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, "team/api").tag("9.1.0"));
    let proxy = bed.proxy.url();
    let to_eu = [
        "--repository",
        "team/*",
        "--to",
        DESTINATION,
        "--create-repository",
    ];

    // A dry run checks what the real run needs: without --create-repository, the missing
    // destination repositories make it fail (exit 1), each named with the right fix.
    let output = replicate(
        &bed,
        &proxy,
        &["--repository", "team/*", "--to", DESTINATION, "--dry-run"],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains(&format!(
            "would fail: {DESTINATION}/team/api does not exist; pass --create-repository to have it created, or create it"
        )),
        "{said}"
    );
    assert!(
        said.contains("2 copies would be made, 2 of them would fail"),
        "{said}"
    );

    // --dry-run: the plan, and nothing copied or created.
    let mut args = to_eu.to_vec();
    args.extend(["--dry-run", "--format", "json"]);
    let output = replicate(&bed, &proxy, &args);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let plan = stdout_json(&output);
    assert_eq!(plan["dry_run"], true);
    let copies = plan["copies"].as_array().expect("copies");
    let planned: Vec<(&str, &str)> = copies
        .iter()
        .map(|c| {
            (
                c["repository"].as_str().unwrap_or_default(),
                c["digest"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        [
            ("team/api", second.digest.as_str()),
            (REPOSITORY, first.digest.as_str())
        ]
    );
    assert_eq!(copies[1]["tags"], serde_json::json!(["9.0.0"]));
    assert_eq!(copies[1]["target"]["region"], DESTINATION);
    let mut args = to_eu.to_vec();
    args.push("--dry-run");
    let text = replicate(&bed, &proxy, &args);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("2 copies would be made (dry run: nothing was copied)"),
        "{text}"
    );
    assert!(
        bed.proxy.requests().is_empty(),
        "a dry run reached the registry"
    );
    assert!(bed.ecr_repositories(DESTINATION).await.is_empty());

    // A real run copies both.
    let mut args = to_eu.to_vec();
    args.extend(["--format", "json"]);
    let output = replicate(&bed, &proxy, &args);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let summary = stdout_json(&output);
    assert_eq!(summary["failed"], 0, "{summary:#}");
    assert_identical(&bed.source, &bed.destination, &first).await;
    let api = bed.registry(bed.stack.registry(DESTINATION));
    assert_eq!(
        api.head_manifest("team/api", "9.1.0").await.expect("HEAD"),
        Some(second.digest.clone())
    );
    let mut created = bed.ecr_repositories(DESTINATION).await;
    created.sort();
    assert_eq!(created, ["team/api", REPOSITORY]);

    // A destination that fails: exit 1, and the error in the summary.
    let third = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, REPOSITORY).tag("9.2.0"));
    bed.proxy.set_fault(Fault::AlwaysUnavailable);
    let mut args = to_eu.to_vec();
    args.extend(["--tag-pattern", r"9\.2\.0", "--format", "json"]);
    let output = replicate(&bed, &proxy, &args);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let summary = stdout_json(&output);
    assert_eq!(summary["failed"], 1, "{summary:#}");
    assert_eq!(summary["copies"][0]["digest"], third.digest.as_str());
    let error = summary["copies"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("unavailable"), "{error}");
    assert_eq!(bed.at_destination("9.2.0").await, None);
}

/// A connection cut in the middle of a large blob, at either end, is a network failure: the
/// engine retries it, and reports it as retryable. Small blobs hide the difference: the
/// kernel's socket buffers take a 2 MB body whole before the cut shows.
#[tokio::test]
async fn a_connection_cut_mid_blob_is_retried_and_retryable() {
    // The source proxy cuts a blob's body, which on the ECR-like data plane comes from S3.
    let bed = Bed::start_plain();
    let image = bed.push(&[
        "--tag",
        "10.0.0",
        "--layers",
        "1",
        "--layer-size",
        "24000000",
    ]);
    let source_proxy = bed.stack.proxy(bed.stack.registry(SOURCE));
    let attempts = quick_retries().retry.attempts as usize;

    bed.proxy
        .set_fault(Fault::DropUploadsAfter { bytes: 1 << 20 });
    let error = copy(&bed.source, &bed.proxied, &image, &quick_retries())
        .await
        .expect_err("the destination goes away mid-upload");
    let requests = bed.proxy.take_requests();
    assert!(error.is_retryable(), "destination cut: {error:?}");
    let cut = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path().contains("/blobs/uploads/") && r.status.is_none())
        .count();
    assert_eq!(
        cut,
        attempts,
        "one cut per attempt:\n{}",
        listing(&requests)
    );

    bed.proxy.set_fault(Fault::PassThrough);
    source_proxy.set_fault(Fault::DropDownloadsAfter { bytes: 1 << 20 });
    let error = copy(
        &bed.registry(&source_proxy.url()),
        &bed.proxied,
        &image,
        &quick_retries(),
    )
    .await
    .expect_err("the source goes away mid-download");
    assert!(error.is_retryable(), "source cut: {error:?}");
    let requests = source_proxy.requests();
    let cut = requests.iter().filter(|r| r.status.is_none()).count();
    assert_eq!(
        cut,
        attempts,
        "one cut per attempt:\n{}",
        listing(&requests)
    );
}

/// The requests that change a registry; a replication that finds nothing to do sends none.
fn writes(requests: &[testbed::ProxiedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| !matches!(r.method.as_str(), "GET" | "HEAD"))
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn a_late_event_for_an_older_push_leaves_the_destination_tag_on_the_newer_image() {
    let bed = Bed::start();
    let (topic, queue) = bed.stack.topic_with_queue(SOURCE).await;
    let function = bed.function(REPLICATE_TEAM, &topic);
    let spec = PushSpec::new(SOURCE, REPOSITORY).tag("1.0.0");
    let first = bed.stack.push_image(&spec.clone().seed("first"));
    function
        .invoke(push_event(&first))
        .await
        .expect("first push replicated");
    let second = bed.stack.push_image(&spec.seed("second"));
    assert_ne!(first.digest, second.digest);
    function
        .invoke(push_event(&second))
        .await
        .expect("second push replicated");
    assert_eq!(
        bed.at_destination("1.0.0").await,
        Some(second.digest.clone())
    );
    assert_eq!(
        bed.stack
            .receive_notifications(&queue, 2, ARRIVAL)
            .await
            .len(),
        2
    );
    bed.proxy.take_requests();

    // The first push's event again, late: its tag names the second image at the source now.
    let report = function
        .invoke(push_event(&first))
        .await
        .expect("late event handled");

    assert_eq!(report["outcome"], "tag-moved-on", "{report:#}");
    assert_eq!(
        report["outcomes"][0]["status"], "tag-moved-on",
        "{report:#}"
    );
    assert_eq!(
        bed.at_destination("1.0.0").await,
        Some(second.digest.clone())
    );
    assert!(
        bed.proxy.take_requests().is_empty(),
        "nothing was sent to the destination"
    );
    assert!(
        bed.stack
            .receive_notifications(&queue, 0, Duration::from_secs(1))
            .await
            .is_empty(),
        "a moved-on tag is not notified"
    );

    // And the second push's event delivered again: everything is there, nothing is written.
    let repeat = function
        .invoke(push_event(&second))
        .await
        .expect("repeat handled");
    assert_eq!(repeat["outcome"], "already-replicated", "{repeat:#}");
    assert_eq!(writes(&bed.proxy.take_requests()), Vec::<String>::new());
    assert!(bed
        .stack
        .receive_notifications(&queue, 0, Duration::from_secs(1))
        .await
        .is_empty());
}

/// Each region copies to the other.
const TWO_WAY: &str = "version: 1
rules:
  - tags: { semver: {} }
replication:
  - name: both-ways
    repositories: [\"team/*\"]
    destinations: [{ region: us-east-1 }, { region: eu-west-1 }]
    create_repository: true
";

#[tokio::test]
async fn a_two_way_rule_set_deployed_in_both_regions_copies_once_and_never_onto_itself() {
    let bed = Bed::start();
    let (topic, queue) = bed.stack.topic_with_queue(SOURCE).await;
    let source_proxy = bed.stack.proxy(bed.stack.registry(SOURCE));
    let in_us = bed.function(TWO_WAY, &topic);
    let in_eu = bed.function_in(
        DESTINATION,
        BTreeMap::from([
            (SOURCE.to_string(), source_proxy.url()),
            (DESTINATION.to_string(), bed.proxy.url()),
        ]),
        TWO_WAY,
        &topic,
    );
    let image = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, REPOSITORY).tag("2.0.0"));

    let report = in_us.invoke(push_event(&image)).await.expect("replicated");
    let regions: Vec<&str> = report["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .filter_map(|o| o["region"].as_str())
        .collect();
    assert_eq!(regions, [DESTINATION], "no copy onto itself: {report:#}");
    assert_eq!(report["outcome"], "replicated");
    assert_eq!(
        bed.at_destination("2.0.0").await,
        Some(image.digest.clone())
    );
    let envelopes = bed.stack.receive_notifications(&queue, 1, ARRIVAL).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    source_proxy.take_requests();
    bed.proxy.take_requests();

    // ECR emits a PUSH in eu-west-1 for the copy; the stack there receives it.
    let mut copy_pushed = push_event(&image);
    copy_pushed["region"] = DESTINATION.into();
    let report = in_eu
        .invoke(copy_pushed)
        .await
        .expect("handled in eu-west-1");

    assert_eq!(report["outcome"], "already-replicated", "{report:#}");
    let regions: Vec<&str> = report["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .filter_map(|o| o["region"].as_str())
        .collect();
    assert_eq!(regions, [SOURCE], "{report:#}");
    assert_eq!(
        writes(&source_proxy.take_requests()),
        Vec::<String>::new(),
        "no ping-pong"
    );
    assert_eq!(
        writes(&bed.proxy.take_requests()),
        Vec::<String>::new(),
        "no self-copy"
    );
    assert!(
        bed.stack
            .receive_notifications(&queue, 0, Duration::from_secs(1))
            .await
            .is_empty(),
        "the copy's own PUSH is not notified"
    );
}

/// Each backfill repository goes to its own region: `backfill/api` to eu-west-1, and
/// `backfill/worker` to ap-south-1, whose registry the test serves through the fault proxy
/// (in front of the eu-west-1 registry) so that it can be taken down and brought back.
const BACKFILL_RULES: &str = "version: 1
rules:
  - tags: { semver: {} }
replication:
  - name: api-to-eu
    repositories: [\"backfill/api\"]
    destinations: [{ region: eu-west-1 }]
    create_repository: true
  - name: worker-to-ap
    repositories: [\"backfill/worker\"]
    destinations: [{ region: ap-south-1 }]
    create_repository: true
";

/// `replicate --fan-out` plans and queues a job per image; the replicator binary (through the
/// Runtime API emulator) takes the batch from the queue as Lambda's event source mapping
/// hands it over; the job whose region is down is the only one named in `batchItemFailures`,
/// comes back alone, and copies once the region is back.
#[tokio::test]
async fn a_fan_out_backfill_copies_through_the_job_queue_and_retries_only_the_failed_job() {
    let bed = Bed::start();
    let (topic, notifications) = bed.stack.topic_with_queue(SOURCE).await;
    let jobs = testbed::EventSource::create(&bed.stack, SOURCE, "copy-jobs").await;
    let api = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, "backfill/api").tag("1.0.0"));
    let worker = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, "backfill/worker").tag("2.0.0"));
    let dir = tempfile::tempdir().expect("tempdir");
    let policy_file = dir.path().join("policy.yaml");
    std::fs::write(&policy_file, BACKFILL_RULES).expect("write the policy");

    let output = Command::new(function_binary("ecr-steward"))
        .args([
            "replicate",
            "--repository",
            "backfill/*",
            "--format",
            "json",
        ])
        .arg("--policy")
        .arg(&policy_file)
        .args(["--fan-out", &jobs.url])
        .env_clear()
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .envs(bed.stack.env().iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run ecr-steward replicate --fan-out");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let sent = stdout_json(&output);
    assert_eq!(sent["queued"], 2, "{sent:#}");
    assert!(
        bed.proxy.requests().is_empty(),
        "a fan-out copies nothing itself"
    );

    let proxy = bed.proxy.url();
    let env = bed.stack.function_env(
        &topic,
        &[
            ("STEWARD_POLICY", BACKFILL_RULES),
            ("STEWARD_REGISTRY_AP_SOUTH_1", &proxy),
        ],
    );
    let run = |event: Value| {
        let answers =
            testbed::RuntimeApi::invoke_binary(&function_binary("replicator"), &env, vec![event])
                .unwrap_or_else(|e| panic!("{e}"));
        answers[0].response().cloned().unwrap_or_else(|| {
            panic!(
                "an error instead of a partial batch response: {:?}",
                answers[0]
            )
        })
    };

    // ap-south-1 is down: the worker's job fails, the api's is done.
    bed.proxy.set_fault(Fault::AlwaysUnavailable);
    let batch = jobs.receive().await;
    assert_eq!(batch.message_ids().len(), 2, "{:#}", batch.event);
    let job_of = |id: &str| -> Value {
        let record = batch.event["Records"]
            .as_array()
            .expect("records")
            .iter()
            .find(|r| r["messageId"] == id)
            .expect("the record")
            .clone();
        serde_json::from_str(record["body"].as_str().expect("a body")).expect("a JSON job")
    };
    let worker_message = batch
        .message_ids()
        .into_iter()
        .find(|id| job_of(id)["source"]["repository"] == "backfill/worker")
        .expect("the worker's job");
    let job = job_of(&worker_message);
    assert_eq!(job["kind"], "ecr-steward/copy-job");
    assert_eq!(job["version"], 1);
    assert_eq!(job["source"]["digest"], worker.digest.as_str());
    assert_eq!(job["destinations"][0]["region"], "ap-south-1");
    assert_eq!(job["destinations"][0]["tags"], serde_json::json!(["2.0.0"]));

    let response = run(batch.event.clone());
    assert_eq!(
        response,
        serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": worker_message }] })
    );
    assert_eq!(
        jobs.settle(&batch, &response).await,
        std::slice::from_ref(&worker_message)
    );
    let eu = bed.registry(bed.stack.registry(DESTINATION));
    assert_eq!(
        eu.head_manifest("backfill/api", "1.0.0")
            .await
            .expect("HEAD"),
        Some(api.digest.clone())
    );
    assert_eq!(
        eu.head_manifest("backfill/worker", "2.0.0")
            .await
            .expect("HEAD"),
        None
    );

    // The region is back: the failed job, and only it, comes again, and copies.
    bed.proxy.set_fault(Fault::PassThrough);
    let retry = jobs.receive().await;
    assert_eq!(retry.message_ids(), std::slice::from_ref(&worker_message));
    assert_eq!(
        retry.event["Records"][0]["attributes"]["ApproximateReceiveCount"], "2",
        "{:#}",
        retry.event
    );
    let response = run(retry.event.clone());
    assert_eq!(response, serde_json::json!({ "batchItemFailures": [] }));
    assert!(jobs.settle(&retry, &response).await.is_empty());
    assert_eq!(
        eu.head_manifest("backfill/worker", "2.0.0")
            .await
            .expect("HEAD"),
        Some(worker.digest.clone())
    );
    assert!(
        jobs.receive().await.message_ids().is_empty(),
        "the queue is empty"
    );

    // One notification per image and attempt.
    let envelopes = bed
        .stack
        .receive_notifications(&notifications, 3, ARRIVAL)
        .await;
    let mut seen: Vec<String> = envelopes
        .iter()
        .map(|e| format!("{} {}", attribute(e, "outcome"), attribute(e, "repository")))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "replicated backfill/api",
            "replicated backfill/worker",
            "replication-failed backfill/worker"
        ]
    );
}

/// A created destination repository is set up like its source: tag mutability with its
/// exclusion filters, and the KMS key the rule names for that region. A KMS-encrypted source
/// whose rule names no key there gets no AES256 replica: the copy fails once, not retried.
#[tokio::test]
async fn a_created_destination_is_set_up_like_its_source_and_a_kms_source_needs_a_key() {
    use aws_sdk_ecr::types::{
        EncryptionConfiguration, EncryptionType, ImageTagMutability,
        ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType,
    };
    let bed = Bed::start();
    let (topic, _queue) = bed.stack.topic_with_queue(SOURCE).await;
    let key = "arn:aws:kms:eu-west-1:123456789012:key/0b1f6a2e-2c8f-4c5e-9d0e-5a7b3c9d1e2f";
    let policy = format!(
        "version: 1
rules:
  - tags: {{ semver: {{}} }}
replication:
  - name: keyed
    repositories: [\"team/keyed\"]
    destinations: [{{ region: eu-west-1, encryption: {{ type: KMS, key: \"{key}\" }} }}]
    create_repository: true
  - name: unkeyed
    repositories: [\"team/unkeyed\"]
    destinations: [{{ region: eu-west-1 }}]
    create_repository: true
"
    );
    let function = bed.function(&policy, &topic);
    let source_ecr = bed.stack.ecr(SOURCE);
    for repository in ["team/keyed", "team/unkeyed"] {
        source_ecr
            .create_repository()
            .repository_name(repository)
            .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
            .image_tag_mutability_exclusion_filters(
                ImageTagMutabilityExclusionFilter::builder()
                    .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                    .filter("latest*")
                    .build()
                    .unwrap(),
            )
            .encryption_configuration(
                EncryptionConfiguration::builder()
                    .encryption_type(EncryptionType::Kms)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }

    let keyed = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, "team/keyed").tag("1.0.0"));
    let report = function.invoke(push_event(&keyed)).await.unwrap();
    assert_eq!(report["outcome"], "replicated", "{report:#}");
    let created = bed
        .stack
        .ecr(DESTINATION)
        .describe_repositories()
        .repository_names("team/keyed")
        .send()
        .await
        .unwrap();
    let created = &created.repositories()[0];
    assert_eq!(
        created.image_tag_mutability(),
        Some(&ImageTagMutability::ImmutableWithExclusion)
    );
    let filters: Vec<&str> = created
        .image_tag_mutability_exclusion_filters()
        .iter()
        .map(|f| f.filter())
        .collect();
    assert_eq!(filters, ["latest*"]);
    let encryption = created.encryption_configuration().unwrap();
    assert_eq!(encryption.encryption_type(), &EncryptionType::Kms);
    assert_eq!(encryption.kms_key(), Some(key));

    let unkeyed = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, "team/unkeyed").tag("1.0.0"));
    let report = function
        .invoke(push_event(&unkeyed))
        .await
        .expect("a failure no retry can mend ends the invocation without an error");
    assert_eq!(report["outcome"], "replication-failed", "{report:#}");
    let outcome = &report["outcomes"][0];
    assert_eq!(outcome["retryable"], false, "{report:#}");
    let error = outcome["error"].as_str().unwrap();
    assert!(error.contains("encrypted with KMS"), "{error}");
    assert!(
        bed.ecr_repositories(DESTINATION)
            .await
            .iter()
            .all(|r| r != "team/unkeyed"),
        "no AES256 replica of a KMS source"
    );
}

/// A deployment whose role may not create repositories (`CreateDestinationRepositories=false`,
/// `STEWARD_CREATE_REPOSITORIES=false`) does not try, whatever the rule says, and says which
/// parameter to change.
#[tokio::test]
async fn a_deployment_that_may_not_create_repositories_says_so_instead_of_trying() {
    let bed = Bed::start();
    let (topic, _queue) = bed.stack.topic_with_queue(SOURCE).await;
    let mut function = bed.function(
        "version: 1
rules:
  - tags: { semver: {} }
replication:
  - name: created
    repositories: [\"team/*\"]
    destinations: [{ region: eu-west-1 }]
    create_repository: true
",
        &topic,
    );
    function.replicator.create_repositories = false;
    let image = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, "team/uncreated").tag("1.0.0"));

    let report = function.invoke(push_event(&image)).await.unwrap();

    assert_eq!(report["outcome"], "replication-failed", "{report:#}");
    let outcome = &report["outcomes"][0];
    assert_eq!(outcome["retryable"], false, "{report:#}");
    let error = outcome["error"].as_str().unwrap();
    assert!(error.contains("CreateDestinationRepositories"), "{error}");
    assert!(
        bed.ecr_repositories(DESTINATION)
            .await
            .iter()
            .all(|r| r != "team/uncreated"),
        "not created"
    );
}

/// A copy job no retry can mend goes to the dead-letter queue on its first receive, as it
/// was received, with its reason as a message attribute; the batch answers no failure.
#[tokio::test]
async fn a_copy_job_that_cannot_succeed_goes_to_the_dead_letter_queue_at_once() {
    let bed = Bed::start();
    let (topic, _notifications) = bed.stack.topic_with_queue(SOURCE).await;
    let jobs = testbed::EventSource::create(&bed.stack, SOURCE, "copy-jobs").await;
    let dead = testbed::EventSource::create(&bed.stack, SOURCE, "copy-jobs-dead").await;
    let not_a_job = r#"{"kind":"ecr-steward/copy-job","version":9}"#;
    aws_sdk_sqs::Client::new(&bed.stack.sdk_config(SOURCE))
        .send_message()
        .queue_url(&jobs.url)
        .message_body(not_a_job)
        .send()
        .await
        .expect("SendMessage");
    let env = bed.stack.function_env(
        &topic,
        &[
            ("STEWARD_POLICY", BACKFILL_RULES),
            ("STEWARD_DEAD_LETTER_QUEUE_URL", &dead.url),
        ],
    );

    let batch = jobs.receive().await;
    assert_eq!(batch.message_ids().len(), 1);
    let answers = testbed::RuntimeApi::invoke_binary(
        &function_binary("replicator"),
        &env,
        vec![batch.event.clone()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let response = answers[0].response().cloned().expect("a batch response");
    assert_eq!(response, serde_json::json!({ "batchItemFailures": [] }));
    assert!(jobs.settle(&batch, &response).await.is_empty());

    let buried = dead.receive().await;
    let records = buried.event["Records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{:#}", buried.event);
    assert_eq!(records[0]["body"], not_a_job);
    let reason = records[0]["messageAttributes"]["reason"]["stringValue"]
        .as_str()
        .expect("a reason");
    assert!(
        reason.starts_with("NonRetryable.MalformedEvent: "),
        "{reason}"
    );
    assert!(
        jobs.receive().await.message_ids().is_empty(),
        "nothing comes back"
    );
}

/// Once every destination holds a pushed image, the replicator puts one `Image Replicated`
/// event on the bus (moto's EventBridge, a rule on `source: ecr-steward` to a queue); its
/// detail is what `schema/image-replicated.v1.schema.json` describes.
#[tokio::test]
async fn an_image_in_every_destination_is_announced_on_the_event_bus() {
    let bed = Bed::start();
    let (topic, _notifications) = bed.stack.topic_with_queue(SOURCE).await;
    let events = testbed::EventSource::create(&bed.stack, SOURCE, "replicas").await;
    let rule = bed
        .stack
        .command(bed.stack.python())
        .args([
            "-c",
            "import sys, boto3; e = boto3.client('events', region_name='us-east-1'); \
             e.put_rule(Name='replicas', EventPattern='{\"source\": [\"ecr-steward\"], \"detail-type\": [\"Image Replicated\"]}'); \
             e.put_targets(Rule='replicas', Targets=[{'Id': 'queue', 'Arn': sys.argv[1]}])",
            &events.arn,
        ])
        .output()
        .expect("python");
    assert!(rule.status.success(), "{rule:?}");
    let mut function = bed.function(REPLICATE_TEAM, &topic);
    let sdk = bed.stack.sdk_config(SOURCE);
    function.events = Some(EventBus::new(&sdk, "default"));
    let image = bed.stack.push_image(
        &PushSpec::new(SOURCE, REPOSITORY)
            .tag("9.1.0")
            .platform("linux/amd64")
            .platform("linux/arm64"),
    );

    let report = function
        .invoke(push_event(&image))
        .await
        .expect("replicated");
    assert_eq!(report["outcome"], "replicated", "{report:#}");

    let received = events.receive().await;
    let records = received.event["Records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{:#}", received.event);
    let event: Value = serde_json::from_str(records[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["source"], "ecr-steward");
    assert_eq!(event["detail-type"], "Image Replicated");
    let detail = &event["detail"];
    assert_eq!(detail["image-digest"], image.digest.as_str());
    assert_eq!(detail["image-tags"], serde_json::json!(["9.1.0"]));
    assert_eq!(detail["destinations"][0]["region"], DESTINATION);
    assert_eq!(detail["destinations"][0]["status"], "copied");
    assert!(detail["lag-seconds"].is_u64(), "{detail:#}");

    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("schema/image-replicated.v1.schema.json"))
            .unwrap(),
    )
    .unwrap();
    assert_matches_schema(detail, &schema);
    assert_matches_schema(
        &detail["destinations"][0],
        &schema["properties"]["destinations"]["items"],
    );
}

/// Every key of `value` is a property of `schema`, and every required one is there.
fn assert_matches_schema(value: &Value, schema: &Value) {
    let keys: Vec<&String> = value.as_object().expect("an object").keys().collect();
    let properties = schema["properties"].as_object().expect("properties");
    for key in &keys {
        assert!(properties.contains_key(*key), "{key} is not in the schema");
    }
    for required in schema["required"].as_array().expect("required") {
        let required = required.as_str().unwrap();
        assert!(
            keys.iter().any(|k| k.as_str() == required),
            "{required} is missing from {value:#}"
        );
    }
}

/// An immutable destination refuses every tag PUT (ECR's `TAG_INVALID`): a tag that already
/// names the image there is in place, one that names another image is a conflict, reported
/// once and not retried.
#[tokio::test]
async fn an_immutable_destination_tag_is_looked_up_before_it_is_believed() {
    let bed = Bed::start();
    let image = bed.push(&["--tag", "4.0.0", "--seed", "immutable-a"]);
    let other = bed.push(&["--tag", "4.0.0-other", "--seed", "immutable-b"]);
    // The destination already has the image under its tag, and another image under 4.0.1.
    copy(&bed.source, &bed.destination, &image, &quick_retries())
        .await
        .expect("first copy");
    let other_source = Endpoint {
        registry: &bed.source,
        repository: REPOSITORY,
    };
    copy_image(
        other_source,
        Endpoint {
            registry: &bed.destination,
            repository: REPOSITORY,
        },
        &other.digest,
        &["4.0.0-other".to_string()],
        &quick_retries(),
    )
    .await
    .expect("the other image");
    let manifest = bed
        .source
        .manifest(REPOSITORY, &other.digest)
        .await
        .unwrap();
    bed.destination
        .put_manifest(REPOSITORY, "4.0.1", &manifest)
        .await
        .unwrap();
    bed.source
        .put_manifest(
            REPOSITORY,
            "4.0.1",
            &bed.source
                .manifest(REPOSITORY, &image.digest)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    bed.proxy.set_fault(Fault::ImmutableTags);

    // Same digest: in place, no PUT at all (ECR would refuse even that one), no error.
    let again = copy(&bed.source, &bed.proxied, &image, &quick_retries())
        .await
        .expect("the tag names the image already");
    assert_eq!(again.tags_set, 0);

    // 4.0.1 names the other image there: a conflict, tried once.
    bed.proxy.take_requests();
    let error = copy_image(
        other_source,
        Endpoint {
            registry: &bed.proxied,
            repository: REPOSITORY,
        },
        &image.digest,
        &["4.0.1".to_string()],
        &quick_retries(),
    )
    .await
    .expect_err("an immutable tag on another image");
    assert!(matches!(error, StewardError::Conflict { .. }), "{error:?}");
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(
        message.contains(&other.digest) && message.contains("immutable"),
        "{message}"
    );
    let tag_puts = bed
        .proxy
        .take_requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.target.ends_with("/manifests/4.0.1"))
        .count();
    assert_eq!(tag_puts, 1, "not retried");

    // An image not there yet goes by its tag; refused so, it still arrives, untagged, as
    // ECR's own replication leaves it, and the conflict is reported.
    let third = bed.push(&["--tag", "4.0.1", "--seed", "immutable-c"]);
    let error = copy(&bed.source, &bed.proxied, &third, &quick_retries())
        .await
        .expect_err("an immutable tag on another image");
    assert!(matches!(error, StewardError::Conflict { .. }), "{error:?}");
    assert_eq!(
        bed.at_destination(&third.digest).await.as_deref(),
        Some(third.digest.as_str()),
        "the image arrives untagged"
    );
    assert_eq!(
        bed.at_destination("4.0.1").await,
        Some(other.digest.clone())
    );
}

// ---------------------------------------------------------------- deletions at the source

/// Releases of `team/*` go to eu-west-1, and their deletions follow (`replicate_deletes: MODE`);
/// pre-releases are not replicated, so neither are their deletions.
fn deleting_releases(mode: &str) -> String {
    format!(
        "version: 1
rules:
  - tags: {{ semver: {{}} }}
replication:
  - name: releases
    repositories: [\"team/*\"]
    tags: {{ semver: {{ prerelease: false }} }}
    destinations: [{{ region: eu-west-1 }}]
    replicate_deletes: {mode}
"
    )
}

/// Repository → tag → digest (an untagged image as `@DIGEST`): everything DescribeImages says
/// moto's ECR holds in `region`.
type Listing = BTreeMap<String, BTreeMap<String, String>>;

/// The `ECR Image Action` DELETE of `tag` (from `image-delete.json`), which named `digest`
/// in the source's `team/app`.
fn delete_event(tag: &str, digest: &str) -> Value {
    testbed::event_from_sample("image-delete.json", |event| {
        event["region"] = SOURCE.into();
        let detail = &mut event["detail"];
        detail["repository-name"] = REPOSITORY.into();
        detail["image-digest"] = digest.into();
        detail["image-tag"] = tag.into();
    })
}

/// The test bed for delete replication: images in moto's ECR in both regions (delete
/// replication reads and removes tags through ECR's API), the replicator binary reaching moto
/// through a proxy that records each call's operation.
struct Deletes {
    stack: Stack,
    /// In front of moto: the replicator's AWS calls.
    moto: FaultProxy,
    topic: String,
    queue: String,
}

impl Deletes {
    async fn start() -> Self {
        let stack = Stack::start();
        let (topic, queue) = stack.topic_with_queue(SOURCE).await;
        Self {
            moto: stack.proxy(stack.endpoint()),
            stack,
            topic,
            queue,
        }
    }

    /// Pushes the image of `seed` (same seed, same digest, in either region) under `tag` to
    /// `region`'s registry and to moto's ECR there; its digest.
    fn push(&self, region: &str, repository: &str, seed: &str, tag: &str) -> String {
        self.stack
            .push_image(&PushSpec::new(region, repository).tag(tag).seed(seed))
            .digest
    }

    /// Deletes `tag` in the source's `team/app` (BatchDeleteImage by tag, as `aws ecr
    /// batch-delete-image` does; the image goes with its last tag, in moto as in ECR).
    async fn delete_at_source(&self, tag: &str) {
        let output = self
            .stack
            .ecr(SOURCE)
            .batch_delete_image()
            .repository_name(REPOSITORY)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(tag)
                    .build(),
            )
            .send()
            .await
            .expect("BatchDeleteImage");
        assert!(output.failures().is_empty(), "{output:?}");
        assert_eq!(output.image_ids().len(), 1, "{output:?}");
    }

    /// Deletes the image `digest` in the source's `team/app`, with every tag it has
    /// (BatchDeleteImage by digest).
    async fn delete_image_at_source(&self, digest: &str) {
        let output = self
            .stack
            .ecr(SOURCE)
            .batch_delete_image()
            .repository_name(REPOSITORY)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(digest)
                    .build(),
            )
            .send()
            .await
            .expect("BatchDeleteImage");
        assert!(output.failures().is_empty(), "{output:?}");
    }

    /// Everything moto's ECR holds in `region`, repository by repository.
    async fn listing(&self, region: &str) -> Listing {
        let ecr = self.stack.ecr(region);
        let repositories = ecr
            .describe_repositories()
            .send()
            .await
            .expect("DescribeRepositories");
        let mut listing = Listing::new();
        for repository in repositories.repositories() {
            let name = repository.repository_name().expect("a name").to_string();
            let mut images = BTreeMap::new();
            let mut next = None;
            loop {
                let page = ecr
                    .describe_images()
                    .repository_name(&name)
                    .set_next_token(next)
                    .send()
                    .await
                    .expect("DescribeImages");
                for image in page.image_details() {
                    let digest = image.image_digest().expect("a digest").to_string();
                    if image.image_tags().is_empty() {
                        images.insert(format!("@{digest}"), digest.clone());
                    }
                    for tag in image.image_tags() {
                        images.insert(tag.clone(), digest.clone());
                    }
                }
                next = page.next_token().map(str::to_string);
                if next.is_none() {
                    break;
                }
            }
            listing.insert(name, images);
        }
        listing
    }

    /// Delivers `event` to the built replicator binary (through the Runtime API emulator),
    /// with `policy`; returns its answer (its response, or Lambda's error object) and the AWS
    /// operations it called, in order.
    fn deliver(&self, policy: &str, event: Value) -> (Value, Vec<String>) {
        let env = self.stack.function_env(
            &self.topic,
            &[
                ("STEWARD_POLICY", policy),
                ("AWS_ENDPOINT_URL", &self.moto.url()),
            ],
        );
        self.moto.take_requests();
        let answers =
            testbed::RuntimeApi::invoke_binary(&function_binary("replicator"), &env, vec![event])
                .unwrap_or_else(|e| panic!("{e}"));
        let operations = self
            .moto
            .take_requests()
            .into_iter()
            .filter_map(|r| r.operation)
            .collect();
        (answers[0].to_json(), operations)
    }

    /// Delivers `event` and checks that of everything in moto's ECR in both regions, exactly
    /// `removed` (tags of the destination's `team/app`) went; returns the answer and how many
    /// BatchDeleteImage calls it made.
    async fn deliver_removing(
        &self,
        policy: &str,
        event: Value,
        removed: &[&str],
    ) -> (Value, usize) {
        let source = self.listing(SOURCE).await;
        let destination = self.listing(DESTINATION).await;
        let (answer, operations) = self.deliver(policy, event);
        let mut expected = destination.clone();
        let app = expected
            .get_mut(REPOSITORY)
            .expect("team/app at the destination");
        for tag in removed {
            assert!(app.remove(*tag).is_some(), "{tag} was not there to remove");
        }
        assert_eq!(
            self.listing(DESTINATION).await,
            expected,
            "the destination changed otherwise; the answer: {answer:#}"
        );
        assert_eq!(
            self.listing(SOURCE).await,
            source,
            "the source is only read: {operations:?}"
        );
        let writes: Vec<&String> = operations
            .iter()
            .filter(|op| !(op.starts_with("Describe") || op.starts_with("Get")))
            .filter(|op| op.as_str() != "Publish")
            .collect();
        assert!(
            writes.iter().all(|op| op.as_str() == "BatchDeleteImage"),
            "{operations:?}"
        );
        (answer, writes.len())
    }
}

/// The `ECR Image Action` DELETE of the image `digest` in the source's `team/app`, by digest
/// (no `image-tag`).
fn delete_image_event(digest: &str) -> Value {
    let mut event = delete_event("", digest);
    if let Some(detail) = event["detail"].as_object_mut() {
        detail.remove("image-tag");
    }
    event
}

/// What one destination reported: `(region, status, removed, kept)`.
fn replica_delete(answer: &Value) -> (String, String, Value, Value) {
    let deletes = answer["deletes"].as_array().expect("deletes");
    assert_eq!(deletes.len(), 1, "one destination: {answer:#}");
    let delete = &deletes[0];
    (
        delete["region"].as_str().unwrap_or_default().to_string(),
        delete["status"].as_str().unwrap_or_default().to_string(),
        delete.get("removed").cloned().unwrap_or(Value::Null),
        delete.get("kept").cloned().unwrap_or(Value::Null),
    )
}

/// Tag-scoped delete replication through the replicator binary: a tag deleted at the source
/// goes at the destination only where it names the same image, and nothing else there changes
/// (every destination repository's full listing, before and after each delivery); a repeated
/// delivery finds it gone and writes nothing; a late one finds the tag pushed again and
/// leaves it; a last tag stays with `tags` and takes the image with `images`; a pre-release
/// (not replicated) is not touched; and a DELETE delivered before its tag's late PUSH leaves
/// that PUSH nothing to copy.
#[tokio::test]
async fn a_tag_deleted_at_the_source_goes_from_the_replicas_and_nothing_else_does() {
    let bed = Deletes::start().await;
    // The source: A under 1.0.0, 1.0.1 and 1.0.0-rc.1; B under 2.0.0; C under 3.0.0.
    // eu-west-1: the same A and B (as a copy leaves them), D under 3.0.0, and, in another
    // repository, A under 1.0.0 too.
    let mut a = String::new();
    for tag in ["1.0.0", "1.0.1", "1.0.0-rc.1"] {
        a = bed.push(SOURCE, REPOSITORY, "a", tag);
        assert_eq!(bed.push(DESTINATION, REPOSITORY, "a", tag), a);
    }
    let b = bed.push(SOURCE, REPOSITORY, "b", "2.0.0");
    assert_eq!(bed.push(DESTINATION, REPOSITORY, "b", "2.0.0"), b);
    let c = bed.push(SOURCE, REPOSITORY, "c", "3.0.0");
    let d = bed.push(DESTINATION, REPOSITORY, "d", "3.0.0");
    assert_ne!(c, d);
    assert_eq!(bed.push(DESTINATION, "team/other", "a", "1.0.0"), a);
    let tags = deleting_releases("tags");
    let images = deleting_releases("images");

    // 1.0.0 deleted at the source: removed at the destination's team/app, and only there.
    bed.delete_at_source("1.0.0").await;
    let (answer, writes) = bed
        .deliver_removing(&tags, delete_event("1.0.0", &a), &["1.0.0"])
        .await;
    assert_eq!(answer["outcome"], "delete-replicated", "{answer:#}");
    assert_eq!(
        replica_delete(&answer),
        (
            DESTINATION.into(),
            "tag-removed".into(),
            serde_json::json!(["1.0.0"]),
            serde_json::json!(["1.0.0-rc.1", "1.0.1"])
        )
    );
    assert_eq!(writes, 1, "one BatchDeleteImage, by tag");

    // The same DELETE again: already gone, nothing written.
    let (answer, writes) = bed
        .deliver_removing(&tags, delete_event("1.0.0", &a), &[])
        .await;
    assert_eq!(answer["outcome"], "delete-already-replicated", "{answer:#}");
    assert_eq!(replica_delete(&answer).1, "already-gone");
    assert_eq!(writes, 0);

    // A pre-release: its deletion is not replicated, and its tag there is not even looked up.
    bed.delete_at_source("1.0.0-rc.1").await;
    let before = bed.listing(DESTINATION).await;
    let (answer, operations) = bed.deliver(&tags, delete_event("1.0.0-rc.1", &a));
    assert_eq!(answer["outcome"], "skipped", "{answer:#}");
    assert!(
        !operations
            .iter()
            .any(|op| op == "DescribeImages" || op == "BatchDeleteImage"),
        "{operations:?}"
    );
    assert_eq!(bed.listing(DESTINATION).await, before);

    // 3.0.0 names another image at the destination: kept.
    bed.delete_at_source("3.0.0").await;
    let (answer, writes) = bed
        .deliver_removing(&tags, delete_event("3.0.0", &c), &[])
        .await;
    assert_eq!(answer["outcome"], "delete-kept", "{answer:#}");
    assert_eq!(replica_delete(&answer).1, "kept-digest-differs");
    assert!(
        answer["deletes"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&d),
        "{answer:#}"
    );
    assert_eq!(writes, 0);

    // 1.0.1 deleted, then pushed again (to another image) before its DELETE arrives: left
    // alone; its push replicates it.
    bed.delete_at_source("1.0.1").await;
    let e = bed.push(SOURCE, REPOSITORY, "e", "1.0.1");
    assert_ne!(e, a);
    let (answer, writes) = bed
        .deliver_removing(&tags, delete_event("1.0.1", &a), &[])
        .await;
    assert_eq!(answer["outcome"], "delete-kept", "{answer:#}");
    assert_eq!(replica_delete(&answer).1, "kept-re-pushed");
    assert_eq!(writes, 0);

    // 2.0.0, B's last tag: kept with `tags`; with `images`, the image goes with it; and a
    // repeat finds both gone.
    bed.delete_at_source("2.0.0").await;
    let (answer, writes) = bed
        .deliver_removing(&tags, delete_event("2.0.0", &b), &[])
        .await;
    assert_eq!(answer["outcome"], "delete-kept", "{answer:#}");
    assert_eq!(
        replica_delete(&answer),
        (
            DESTINATION.into(),
            "kept-last-tag".into(),
            Value::Null,
            serde_json::json!(["2.0.0"])
        )
    );
    assert_eq!(writes, 0);
    let (answer, writes) = bed
        .deliver_removing(&images, delete_event("2.0.0", &b), &["2.0.0"])
        .await;
    assert_eq!(answer["outcome"], "delete-replicated", "{answer:#}");
    assert_eq!(
        replica_delete(&answer),
        (
            DESTINATION.into(),
            "image-deleted".into(),
            serde_json::json!(["2.0.0"]),
            Value::Null
        )
    );
    assert_eq!(writes, 1, "by tag, never by digest");
    assert!(
        !bed.listing(DESTINATION).await[REPOSITORY]
            .values()
            .any(|digest| *digest == b),
        "B is gone at the destination"
    );
    let (answer, writes) = bed
        .deliver_removing(&images, delete_event("2.0.0", &b), &[])
        .await;
    assert_eq!(answer["outcome"], "delete-already-replicated", "{answer:#}");
    assert_eq!(writes, 0);

    // 4.0.0 pushed and deleted at the source before its PUSH event is handled: the DELETE
    // comes first and finds nothing at the destination; the late PUSH then finds no tag at the
    // source and copies nothing. (The source's registry never gets the tag: moto's
    // BatchDeleteImage does not reach the registry, as ECR's does.)
    let f = bed
        .stack
        .push_image(&PushSpec::new(SOURCE, REPOSITORY).seed("f"));
    let manifest = bed
        .stack
        .registry_client(bed.stack.registry(SOURCE))
        .manifest(REPOSITORY, &f.digest)
        .await
        .expect("F's manifest");
    bed.stack
        .ecr(SOURCE)
        .put_image()
        .repository_name(REPOSITORY)
        .image_manifest(String::from_utf8(manifest.bytes.to_vec()).expect("UTF-8"))
        .image_manifest_media_type(&f.media_type)
        .image_digest(&f.digest)
        .image_tag("4.0.0")
        .send()
        .await
        .expect("PutImage 4.0.0");
    bed.delete_at_source("4.0.0").await;
    let (answer, writes) = bed
        .deliver_removing(&images, delete_event("4.0.0", &f.digest), &[])
        .await;
    assert_eq!(answer["outcome"], "delete-already-replicated", "{answer:#}");
    assert_eq!(writes, 0);
    let destination = bed.listing(DESTINATION).await;
    let late_push = push_event(&PushedImage {
        tag: Some("4.0.0".into()),
        ..f.clone()
    });
    let (answer, _) = bed.deliver(&images, late_push);
    assert_eq!(
        answer,
        serde_json::json!({ "outcome": "skipped", "reason": "the tag no longer exists at the source" })
    );
    assert_eq!(bed.listing(DESTINATION).await, destination);
    let registry = bed.stack.registry_client(bed.stack.registry(DESTINATION));
    for reference in ["4.0.0", f.digest.as_str()] {
        assert_eq!(
            registry
                .head_manifest(REPOSITORY, reference)
                .await
                .expect("HEAD"),
            None,
            "{reference} at the destination"
        );
    }

    // Notified: what was removed, and what was kept for a reason a reader should know;
    // repeats, a pre-release and a tag pushed again are not.
    let envelopes = bed
        .stack
        .receive_notifications(&bed.queue, 4, ARRIVAL)
        .await;
    let mut seen: Vec<String> = envelopes
        .iter()
        .map(|e| {
            assert_eq!(attribute(e, "event_type"), "replicator.delete");
            let text = description(e);
            let line = text
                .lines()
                .find(|l| l.starts_with("• "))
                .unwrap_or_default()
                .to_string();
            format!("{} {line}", attribute(e, "outcome"))
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            r"delete-kept • eu-west-1/team/app: kept: it is the image's last tag there (replicate\_deletes: images would delete the image with it)".to_string(),
            format!("delete-kept • eu-west-1/team/app: kept: the tag there names another image (the tag names {d} there)"),
            "delete-replicated • eu-west-1/team/app: removed tag(s) 1.0.0".to_string(),
            "delete-replicated • eu-west-1/team/app: removed tag(s) 2.0.0, and the image with its last tag".to_string(),
        ]
    );
    assert!(
        bed.stack
            .receive_notifications(&bed.queue, 0, Duration::from_secs(1))
            .await
            .is_empty(),
        "nothing more"
    );
}

/// An image deleted at the source by digest (a DELETE with no `image-tag`): at the
/// destination the image loses the tags the rule replicates and the source lost, by tag; a tag
/// the rule does not replicate keeps it there; an untagged replica goes by digest, and only
/// with `images`. Each delivery changes nothing else at the destination.
#[tokio::test]
async fn an_image_deleted_by_digest_takes_only_its_replicated_tags_from_the_replicas() {
    let bed = Deletes::start().await;
    // G under 5.0.0 and 5.0.1 at both ends, and under 5.0.0-rc.1 at the destination; H
    // untagged at both ends; K under 6.0.0 at both ends, untouched throughout.
    let mut g = String::new();
    for tag in ["5.0.0", "5.0.1"] {
        g = bed.push(SOURCE, REPOSITORY, "g", tag);
        assert_eq!(bed.push(DESTINATION, REPOSITORY, "g", tag), g);
    }
    assert_eq!(bed.push(DESTINATION, REPOSITORY, "g", "5.0.0-rc.1"), g);
    let untagged = |region: &str| {
        bed.stack
            .push_image(&PushSpec::new(region, REPOSITORY).seed("h"))
            .digest
    };
    let h = untagged(SOURCE);
    assert_eq!(untagged(DESTINATION), h);
    let k = bed.push(SOURCE, REPOSITORY, "k", "6.0.0");
    assert_eq!(bed.push(DESTINATION, REPOSITORY, "k", "6.0.0"), k);
    let tags = deleting_releases("tags");
    let images = deleting_releases("images");

    bed.delete_image_at_source(&g).await;
    let (answer, writes) = bed
        .deliver_removing(&images, delete_image_event(&g), &["5.0.0", "5.0.1"])
        .await;
    assert_eq!(answer["outcome"], "delete-replicated", "{answer:#}");
    assert_eq!(
        replica_delete(&answer),
        (
            DESTINATION.into(),
            "tag-removed".into(),
            serde_json::json!(["5.0.0", "5.0.1"]),
            serde_json::json!(["5.0.0-rc.1"])
        )
    );
    assert_eq!(writes, 2, "tag by tag");
    // Again: the pre-release keeps the image; nothing is written.
    let (answer, writes) = bed
        .deliver_removing(&images, delete_image_event(&g), &[])
        .await;
    assert_eq!(answer["outcome"], "delete-kept", "{answer:#}");
    assert_eq!(replica_delete(&answer).1, "kept-still-tagged");
    assert_eq!(writes, 0);

    // H, untagged: kept with `tags`, deleted by digest with `images`, then gone.
    bed.delete_image_at_source(&h).await;
    let (answer, writes) = bed
        .deliver_removing(&tags, delete_image_event(&h), &[])
        .await;
    assert_eq!(replica_delete(&answer).1, "kept-image", "{answer:#}");
    assert_eq!(writes, 0);
    let (answer, writes) = bed
        .deliver_removing(&images, delete_image_event(&h), &[&format!("@{h}")])
        .await;
    assert_eq!(answer["outcome"], "delete-replicated", "{answer:#}");
    assert_eq!(replica_delete(&answer).1, "image-deleted");
    assert_eq!(writes, 1);
    let (answer, writes) = bed
        .deliver_removing(&images, delete_image_event(&h), &[])
        .await;
    assert_eq!(answer["outcome"], "delete-already-replicated", "{answer:#}");
    assert_eq!(writes, 0);
}
