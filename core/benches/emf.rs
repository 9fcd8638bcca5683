//! What the metrics cost per event: an invocation's measurements taken from its report and
//! rendered as EMF lines (what the Lambda harness does before each answer), next to a peer in
//! the same run: serializing the same report as the function's JSON response, which the
//! harness does for every event anyway.
//!
//! Run: `cargo bench -p steward-core --bench emf -- --warm-up-time 1 --measurement-time 3`

// A bench: a failed setup step should stop the run loudly, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde::Serialize;
use steward_core::image::PlatformLabels;
use steward_core::labels::Labels;
use steward_core::metrics::{Function, Measured, Measurements, Namespace};
use steward_core::notify::ImageRef;
use steward_core::policy::{Mode, Policy, Target};
use steward_core::push::{judge, GuardAction, GuardReport, PushedTag};
use steward_core::replication::{CopyStats, RegionOutcome, ReplicationReport, ReplicatorReport};

const DIGEST: &str = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd";
const NOW_MS: u64 = 1_764_633_600_123;

fn image() -> ImageRef {
    ImageRef {
        account: Some("123456789012".into()),
        region: "us-east-1".into(),
        repository: "team/web".into(),
        digest: DIGEST.into(),
    }
}

/// push-guard in audit mode on `latest`, a single-platform image without labels: 4
/// violations of 2 checks, so 2 EMF lines.
fn audited() -> GuardReport {
    let policy = Policy::builtin();
    let platform = PlatformLabels {
        platform: None,
        digest: DIGEST.into(),
        labels: Labels::new(),
    };
    let verdict = judge(&policy, "team/web", "latest", &[platform]);
    let pushed = PushedTag {
        image: image(),
        tag: "latest".into(),
    };
    GuardReport::new(&pushed, Mode::Audit, 0, verdict, GuardAction::Audited)
}

/// The replicator's copy to two regions.
fn replicated() -> ReplicatorReport {
    let target = |region: &str| Target {
        rule: "releases".into(),
        region: region.into(),
        account: None,
        repository: "team/web".into(),
        create_repository: true,
        encryption: None,
    };
    let stats = CopyStats {
        bytes_copied: 52_428_800,
        blobs_copied: 4,
        manifests_copied: 1,
        tags_set: 1,
        ..CopyStats::default()
    };
    ReplicatorReport::Copy(ReplicationReport::new(
        &image(),
        &["1.4.2".to_string()],
        vec![
            RegionOutcome::new(&target("eu-west-1"), Ok(stats.clone()), 2_310),
            RegionOutcome::new(&target("ap-south-1"), Ok(stats), 4_022),
        ],
    ))
}

fn emf_lines(function: Function, report: &impl Measured, namespace: &Namespace) -> String {
    let measurements = Measurements::of_report(function, report);
    let mut text = String::new();
    for document in measurements.emf(namespace, NOW_MS) {
        text.push_str(&document.to_string());
        text.push('\n');
    }
    text
}

fn response(report: &impl Serialize) -> String {
    serde_json::to_value(report)
        .expect("serializes")
        .to_string()
}

fn per_event(c: &mut Criterion) {
    let namespace = Namespace::default();
    let guard = audited();
    let copy = replicated();
    let lines = emf_lines(Function::PushGuard, &guard, &namespace);
    println!(
        "push-guard, audited: {} EMF lines, {} bytes; response {} bytes",
        lines.lines().count(),
        lines.len(),
        response(&guard).len()
    );
    let lines = emf_lines(Function::Replicator, &copy, &namespace);
    println!(
        "replicator, 2 regions: {} EMF lines, {} bytes; response {} bytes",
        lines.lines().count(),
        lines.len(),
        response(&copy).len()
    );

    let mut group = c.benchmark_group("per event");
    group.bench_function("push-guard audited: EMF lines", |b| {
        b.iter(|| emf_lines(Function::PushGuard, black_box(&guard), &namespace))
    });
    group.bench_function("push-guard audited: peer, the JSON response", |b| {
        b.iter(|| response(black_box(&guard)))
    });
    group.bench_function("replicator, 2 regions: EMF lines", |b| {
        b.iter(|| emf_lines(Function::Replicator, black_box(&copy), &namespace))
    });
    group.bench_function("replicator, 2 regions: peer, the JSON response", |b| {
        b.iter(|| response(black_box(&copy)))
    });
    group.finish();
}

criterion_group!(benches, per_event);
criterion_main!(benches);
