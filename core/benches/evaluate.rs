//! Verdicts per second: tag classification plus policy evaluation, on one core.
//! Peer in the same run: classification by the regular expressions a script would use
//! (semver.org's SemVer regex and a git-SHA regex), which does less work than a verdict.
//!
//! Run: `cargo bench -p ecr-steward-shared --bench evaluate`

// A bench: a failed setup step should stop the run loudly, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use steward_core::labels::Labels;
use steward_core::policy::Policy;

const SEMVER_ORG_REGEX: &str = r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$";
const GIT_SHA_REGEX: &str = r"^(sha-)?[0-9a-f]{7,40}$";

/// A push stream as CI produces it: releases, pre-releases, commit tags, and mistakes.
fn corpus() -> Vec<String> {
    let mut tags = Vec::new();
    for i in 0..125u32 {
        tags.push(format!("{}.{}.{}", i % 7, i % 13, i));
        tags.push(format!("v{}.{}.{}-rc.{}", i % 5, i % 11, i, i % 3));
        tags.push(format!("{:07x}", i.wrapping_mul(2_654_435_761) >> 4));
        tags.push(format!(
            "sha-{:040x}",
            u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834)
        ));
        tags.push(["latest", "main", "edge", "stable"][i as usize % 4].to_string());
        tags.push(format!("pr-{i}"));
        tags.push(format!("{}.{}", i % 3, i % 9));
        tags.push(format!("bad/tag:{i}"));
    }
    tags
}

fn labels() -> Labels {
    [
        (
            "org.opencontainers.image.source",
            "https://github.com/example/web",
        ),
        (
            "org.opencontainers.image.revision",
            "4f9c2e1d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d",
        ),
        ("org.opencontainers.image.created", "2026-11-20T09:41:07Z"),
        ("org.opencontainers.image.version", "1.4.2"),
        ("org.opencontainers.image.licenses", "Apache-2.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn verdicts(c: &mut Criterion) {
    let tags = corpus();
    let builtin = Policy::builtin();
    let example_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.yaml");
    let example = Policy::from_file(&example_path).expect("examples/policy.yaml is valid");
    let labels = labels();
    let semver_regex = regex::Regex::new(SEMVER_ORG_REGEX).expect("compiles");
    let sha_regex = regex::Regex::new(GIT_SHA_REGEX).expect("compiles");

    let mut group = c.benchmark_group("verdicts");
    group.throughput(Throughput::Elements(tags.len() as u64));
    group.bench_function("ecr-steward, built-in policy, tags only", |b| {
        b.iter(|| {
            tags.iter()
                .filter(|tag| builtin.evaluate(Some("team/web"), tag, None).compliant)
                .count()
        })
    });
    group.bench_function("ecr-steward, example policy, tags + labels", |b| {
        b.iter(|| {
            tags.iter()
                .filter(|tag| {
                    example
                        .evaluate(Some("team/web"), tag, Some(&labels))
                        .compliant
                })
                .count()
        })
    });
    group.bench_function(
        "peer: semver.org + git-sha regexes, classification only",
        |b| {
            b.iter(|| {
                tags.iter()
                    .filter(|tag| {
                        semver_regex.is_match(black_box(tag)) || sha_regex.is_match(black_box(tag))
                    })
                    .count()
            })
        },
    );
    group.finish();
}

criterion_group!(benches, verdicts);
criterion_main!(benches);
