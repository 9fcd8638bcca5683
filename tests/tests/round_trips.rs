//! The copy engine's fast paths, asserted on the wire: each registry (and moto, for the
//! replicator) sits behind a [`FaultProxy`] that delays every request by 100 ms, as a registry
//! that far away would, and records when each request started and was answered. The tests
//! count the round trips that waited on each other and check what was in flight together, so a
//! later change cannot silently lose an optimization. Timings are not asserted: benchmarks
//! measure them (`bench/copy/rtt`, BENCHMARKS.md).

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use steward::aws::{Registries, RegistryReplicator};
use steward::image::ImageRef;
use steward::oci::copy::{copy_image, CopyOptions, Endpoint};
use steward::oci::registry::{Action, RegistryClient};
use steward::oci::window::MAX_WINDOW;
use steward::policy::Target;
use steward::ports::Replicator;
use testbed::{
    push_image_with, sequential_round_trips, FaultProxy, ProxiedRequest, PushedImage, RateLimit,
    Stack,
};

const SOURCE: &str = "us-east-1";
const DESTINATION: &str = "eu-west-1";
/// Longer than a busy machine's own delays, so that a request slowed by the machine cannot
/// look like one that waited on another.
const DELAY: Duration = Duration::from_millis(100);

/// The tests run one at a time: a busy machine makes some requests slow, and a slow request
/// can look like one that waited on another.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The source and destination registries, each behind a delaying proxy.
struct Bed {
    stack: Stack,
    source_proxy: FaultProxy,
    destination_proxy: FaultProxy,
    source: RegistryClient,
    destination: RegistryClient,
}

impl Bed {
    /// On the ECR-like data plane (HTTPS, tokens, blob reads redirected to S3).
    fn start() -> Self {
        Self::on(Stack::start())
    }

    /// On the plain data plane: no TLS between the proxies and the registries (no handshake
    /// to slow a request down), and blob reads through the source's proxy.
    fn start_plain() -> Self {
        Self::on(Stack::start_plain())
    }

    fn on(stack: Stack) -> Self {
        let source_proxy = stack.proxy(stack.registry(SOURCE));
        let destination_proxy = stack.proxy(stack.registry(DESTINATION));
        source_proxy.set_delay(DELAY);
        destination_proxy.set_delay(DELAY);
        Self {
            source: stack.registry_client(&source_proxy.url()),
            destination: stack.registry_client(&destination_proxy.url()),
            source_proxy,
            destination_proxy,
            stack,
        }
    }

    /// Pushes at the source: `push_image.py --region us-east-1 ARGS`.
    fn push(&self, args: &[&str]) -> PushedImage {
        let mut all = vec!["--region", SOURCE];
        all.extend_from_slice(args);
        push_image_with(&self.stack, &all)
    }

    /// Both proxies' requests, taken.
    fn take(&self) -> (Vec<ProxiedRequest>, Vec<ProxiedRequest>) {
        (
            self.source_proxy.take_requests(),
            self.destination_proxy.take_requests(),
        )
    }
}

async fn copy_to(
    bed: &Bed,
    image: &PushedImage,
    repository: &str,
    options: &CopyOptions,
) -> steward::replication::CopyStats {
    let tags: Vec<String> = image.tag.iter().cloned().collect();
    copy_image(
        Endpoint {
            registry: &bed.source,
            repository: &image.repository,
        },
        Endpoint {
            registry: &bed.destination,
            repository,
        },
        &image.digest,
        &tags,
        options,
    )
    .await
    .unwrap_or_else(|e| panic!("copy of {} to {repository}: {e}", image.repository))
}

fn listing(requests: &[ProxiedRequest]) -> String {
    let mut sorted: Vec<&ProxiedRequest> = requests.iter().collect();
    sorted.sort_by_key(|r| r.started);
    let first = sorted.first().map(|r| r.started);
    sorted
        .iter()
        .map(|r| {
            let at = first.map_or(0, |f| r.started.duration_since(f).as_millis());
            let took = r.finished.duration_since(r.started).as_millis();
            format!("{at:>5} ms +{took:>3} ms  {r}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// True when every request in `requests` had started before any of them was answered.
fn all_in_flight_together(requests: &[&ProxiedRequest]) -> bool {
    let last_start = requests.iter().map(|r| r.started).max();
    let first_end = requests.iter().map(|r| r.finished).min();
    matches!((last_start, first_end), (Some(start), Some(end)) if start < end)
}

fn is_upload(request: &ProxiedRequest) -> bool {
    request.path().contains("/blobs/uploads/")
}

#[tokio::test]
async fn a_two_platform_index_is_copied_in_seven_destination_round_trips_and_re_copied_in_two() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let bed = Bed::start_plain();
    // The source is in the replicator's own region: its answers come at once, so that a slow
    // one cannot look like a destination round trip.
    bed.source_proxy.set_delay(Duration::ZERO);
    let image = bed.push(&[
        "--repository",
        "rt/app",
        "--tag",
        "1.0.0",
        "--no-ecr",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        "--layers",
        "4",
        "--layer-size",
        "4096",
    ]);
    assert_eq!(image.children.len(), 2);
    bed.take();

    let stats = copy_to(&bed, &image, "rt/app", &CopyOptions::default()).await;
    let (source, destination) = bed.take();
    let shown = format!(
        "source:\n{}\ndestination:\n{}",
        listing(&source),
        listing(&destination)
    );
    assert_eq!(
        (stats.blobs_copied, stats.manifests_copied, stats.tags_set),
        (10, 3, 1),
        "{stats:?}"
    );

    // Every blob of both platforms in one wave: all looked up at once, then each POST (beside
    // the source's GET) and one PUT with the body that commits it. No PATCH.
    let blob = |method: &str| -> Vec<&ProxiedRequest> {
        destination
            .iter()
            .filter(|r| r.method == method && r.path().contains("/blobs/"))
            .collect()
    };
    let (lookups, starts, commits) = (blob("HEAD"), blob("POST"), blob("PUT"));
    assert_eq!(
        (lookups.len(), starts.len(), commits.len()),
        (10, 10, 10),
        "{shown}"
    );
    assert!(commits.iter().all(|r| is_upload(r)), "{shown}");
    assert!(destination.iter().all(|r| r.method != "PATCH"), "{shown}");
    assert!(
        all_in_flight_together(&lookups),
        "the blobs were not all started at once:\n{shown}"
    );

    // Both platforms' manifests at once; the index once, by its tag.
    let children: Vec<&ProxiedRequest> = destination
        .iter()
        .filter(|r| {
            r.method == "PUT"
                && image
                    .children
                    .iter()
                    .any(|child| r.path().ends_with(&format!("/manifests/{child}")))
        })
        .collect();
    assert_eq!(children.len(), 2, "{shown}");
    assert!(all_in_flight_together(&children), "{shown}");
    let index_writes: Vec<&ProxiedRequest> = destination
        .iter()
        .filter(|r| {
            r.method == "PUT"
                && r.path().contains("/manifests/")
                && !image
                    .children
                    .iter()
                    .any(|child| r.path().ends_with(child.as_str()))
        })
        .collect();
    assert_eq!(index_writes.len(), 1, "{shown}");
    assert!(
        index_writes[0].path().ends_with("/manifests/1.0.0"),
        "{shown}"
    );

    // At the destination: the index and both children, each level at once (2); the blobs'
    // HEAD, POST and PUT (3); the children (1); the index by tag (1). (At the source, one more
    // before the last: its tag, read again just before the tag moves.)
    let at_destination = sequential_round_trips(&destination);
    assert!(
        at_destination <= 7,
        "{at_destination} serial round trips:\n{shown}"
    );

    // A re-copy only reads: the tag and the index, then the children (for their referrers).
    let again = copy_to(&bed, &image, "rt/app", &CopyOptions::default()).await;
    assert_eq!((again.blobs_copied, again.manifests_copied), (0, 0));
    let (source, destination) = bed.take();
    let all: Vec<ProxiedRequest> = source.iter().chain(&destination).cloned().collect();
    assert!(
        all.iter()
            .all(|r| matches!(r.method.as_str(), "GET" | "HEAD")),
        "{}",
        listing(&all)
    );
    let round_trips = sequential_round_trips(&destination);
    assert!(
        round_trips <= 2,
        "{round_trips} serial round trips:\n{}",
        listing(&all)
    );
}

#[tokio::test]
async fn a_blob_goes_once_per_run_and_is_mounted_where_another_repository_has_it() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let bed = Bed::start();
    // The same seed makes the same layers; the label makes another config.
    let first = bed.push(&[
        "--repository",
        "rt/first",
        "--tag",
        "1.0.0",
        "--no-ecr",
        "--seed",
        "shared",
        "--layers",
        "2",
    ]);
    let second = bed.push(&[
        "--repository",
        "rt/second",
        "--tag",
        "1.0.0",
        "--no-ecr",
        "--seed",
        "shared",
        "--layers",
        "2",
        "--label",
        "variant=second",
    ]);
    let options = CopyOptions::default();
    copy_to(&bed, &first, "rt/first", &options).await;
    bed.take();

    // Into another repository of the same registry: the shared layers are mounted.
    let stats = copy_to(&bed, &second, "rt/second", &options).await;
    let (_, destination) = bed.take();
    let shown = listing(&destination);
    assert_eq!(
        (stats.blobs_mounted, stats.blobs_copied),
        (2, 1),
        "{stats:?}\n{shown}"
    );
    let mounts: Vec<&ProxiedRequest> = destination
        .iter()
        .filter(|r| {
            r.method == "POST" && r.target.contains("mount=") && r.target.contains("from=rt/first")
        })
        .collect();
    assert_eq!(mounts.len(), 2, "{shown}");
    assert!(mounts.iter().all(|r| r.status == Some(201)), "{shown}");
    let layer_puts = destination
        .iter()
        .filter(|r| r.method == "PUT" && is_upload(r))
        .count();
    assert_eq!(layer_puts, 1, "only the config is sent:\n{shown}");
    assert!(bed
        .destination
        .head_manifest("rt/second", "1.0.0")
        .await
        .unwrap()
        .is_some_and(|d| d == second.digest));

    // The same run, into a repository it filled: the blobs it sent are not even looked up.
    copy_to(&bed, &second, "rt/first", &options).await;
    let (_, destination) = bed.take();
    let blob_lookups = destination
        .iter()
        .filter(|r| r.method == "HEAD" && r.path().contains("/blobs/"))
        .count();
    assert_eq!(
        blob_lookups,
        1,
        "only the second config:\n{}",
        listing(&destination)
    );
}

#[tokio::test]
async fn manifest_writes_throttled_at_ten_a_second_narrow_the_window_and_every_copy_lands() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let bed = Bed::start();
    bed.destination_proxy.set_delay(Duration::ZERO);
    bed.source_proxy.set_delay(Duration::ZERO);
    let image = bed.push(&["--repository", "rt/one", "--tag", "1.0.0", "--no-ecr"]);
    bed.destination_proxy.limit_rate(RateLimit {
        method: "PUT",
        path: "/manifests/",
        per_second: 10.0,
    });
    bed.take();

    let options = CopyOptions::default();
    let copies = (0..40).map(|i| {
        let repository = format!("rt/many-{i}");
        let (bed, image, options) = (&bed, &image, &options);
        async move { copy_to(bed, image, &repository, options).await }
    });
    let copied = futures_util::future::join_all(copies).await;
    assert_eq!(copied.len(), 40);
    assert!(copied.iter().all(|stats| stats.tags_set == 1));

    let (_, destination) = bed.take();
    let throttled = destination.iter().filter(|r| r.status == Some(429)).count();
    let window = bed.destination.windows().state(Action::PutManifest);
    assert!(throttled > 0, "the proxy throttled nothing");
    assert!(
        window.decreases > 0 && window.limit < MAX_WINDOW,
        "{throttled} throttled, and the window is {window:?}"
    );
}

#[tokio::test]
async fn a_cold_replication_asks_for_both_tokens_at_once_and_creates_without_describing_first() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let bed = Bed::start();
    let aws = FaultProxy::start(bed.stack.endpoint()).expect("a proxy in front of moto");
    aws.set_delay(DELAY);
    let image = bed.push(&["--repository", "rt/cold", "--tag", "1.0.0"]);
    let sdk = bed
        .stack
        .sdk_config(SOURCE)
        .to_builder()
        .endpoint_url(aws.url())
        .build();
    let overrides = BTreeMap::from([
        (SOURCE.to_string(), bed.source_proxy.url()),
        (DESTINATION.to_string(), bed.destination_proxy.url()),
    ]);
    let replicator = RegistryReplicator {
        registries: Registries::new(&sdk, bed.stack.http(), overrides),
        sdk: sdk.clone(),
        options: CopyOptions::default(),
        create_repositories: true,
    };
    let target = Target {
        rule: "out".into(),
        region: DESTINATION.into(),
        account: None,
        repository: "rt/cold".into(),
        create_repository: true,
        encryption: None,
    };
    let source = ImageRef {
        region: SOURCE.into(),
        repository: "rt/cold".into(),
        digest: image.digest.clone(),
        account: None,
    };
    bed.take();
    // The repository exists already: ECR's answer to CreateRepository says so.
    bed.stack
        .create_repository(DESTINATION, "rt/cold", false)
        .await;
    aws.take_requests();

    let stats = replicator
        .replicate(&source, &["1.0.0".to_string()], &target)
        .await
        .expect("replicated");
    assert_eq!(stats.tags_set, 1);
    let calls = aws.take_requests();
    let operations: Vec<&str> = calls
        .iter()
        .filter_map(|r| r.operation.as_deref())
        .collect();
    let describes = calls
        .iter()
        .filter(|r| r.operation.as_deref() == Some("DescribeRepositories"))
        .count();
    assert_eq!(describes, 1, "only the source's settings: {operations:?}");
    assert!(operations.contains(&"CreateRepository"), "{operations:?}");
    let tokens: Vec<&ProxiedRequest> = calls
        .iter()
        .filter(|r| r.operation.as_deref() == Some("GetAuthorizationToken"))
        .collect();
    assert_eq!(tokens.len(), 2, "{operations:?}");
    assert!(all_in_flight_together(&tokens), "{}", listing(&calls));
    // The repository is made sure of beside the tokens and the reads: moto's calls wait on
    // each other at most twice (the source's settings, then the creation).
    assert!(sequential_round_trips(&calls) <= 2, "{}", listing(&calls));
}

#[tokio::test]
async fn a_blob_the_run_wrongly_believes_in_is_looked_up_again() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let bed = Bed::start_plain();
    bed.source_proxy.set_delay(Duration::ZERO);
    bed.destination_proxy.set_delay(Duration::ZERO);
    let image = bed.push(&["--repository", "rt/stale", "--tag", "1.0.0", "--no-ecr"]);
    let manifest = bed
        .source
        .manifest("rt/stale", &image.digest)
        .await
        .unwrap()
        .parse()
        .unwrap();
    let layer = manifest.layers[0].digest.clone();
    // The run believes the destination holds the layer (it did once; deleted since).
    let options = CopyOptions::default();
    let destination = Endpoint {
        registry: &bed.destination,
        repository: "rt/stale",
    };
    options.ledger.record(destination, &layer);
    bed.take();

    let stats = copy_to(&bed, &image, "rt/stale", &options).await;
    assert_eq!(stats.tags_set, 1);
    let (_, requests) = bed.take();
    let refused = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path().contains("/manifests/") && r.status == Some(400))
        .count();
    assert_eq!(refused, 1, "{}", listing(&requests));
    assert!(
        requests
            .iter()
            .any(|r| r.method == "HEAD" && r.path().ends_with(&format!("/blobs/{layer}"))),
        "looked up again:\n{}",
        listing(&requests)
    );
    assert!(bed.destination.has_blob("rt/stale", &layer).await.unwrap());
}
