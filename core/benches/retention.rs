//! The retention planner on one repository of 100,000 images (issue 22's goal: at most 1 s
//! of CPU): releases over many lines, commit tags (some on releases too, as
//! docker/metadata-action tags them), pre-releases, untagged images, multi-arch indexes with
//! their platform images, signatures (`subject`) and images in use.
//! Peer in the same run: what ECR's native lifecycle does for one rule (`imageCountMoreThan`
//! on a tag prefix: sort by push time, keep the newest N), which decides far less.
//!
//! Run: `cargo bench -p steward-core --bench retention`

// A bench: a failed setup step should stop the run loudly, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use steward_core::policy::{Policy, SourceFormat};
use steward_core::retention::{plan, ImageRecord, ImageStatus, Usage, UsageSource};
use steward_core::timestamp::{Timestamp, DAY};

const NOW: i64 = 1_800_000_000;
const IMAGES: usize = 100_000;

const POLICY: &str = r#"
version: 1
rules:
  - repositories: ["**"]
    tags: { semver: { floating_aliases: true }, git_sha: { prefixes: ["sha-"] } }
    retention:
      semver: { keep_per_major: 3, keep_per_minor: 2, prerelease: { max_age_days: 30, until_released: true } }
      git_sha: { keep_newest: 50, max_age_days: 14 }
      untagged: { max_age_days: 7 }
      protect: [stable]
      keep_pulled_within_days: 30
      archive: { delete_after_days: 90 }
"#;

fn digest(n: usize) -> String {
    format!("sha256:{n:064x}")
}

/// A deterministic repository: image `n` was pushed `n` minutes before the newest.
pub fn repository(count: usize) -> Vec<ImageRecord> {
    let mut images = Vec::with_capacity(count);
    for n in 0..count {
        let mut tags = Vec::new();
        let mut children = Vec::new();
        let mut subject = None;
        match n % 20 {
            0..=3 => tags.push(format!("{}.{}.{}", n % 17, (n / 17) % 29, n / 493)),
            4 => {
                tags.push(format!("{}.{}.{}", n % 11, (n / 11) % 7, n / 77));
                tags.push(format!("sha-{:07x}", n));
            }
            5 => tags.push(format!("{}.{}.{}-rc.{}", n % 13, n % 5, n / 65, n % 3)),
            6..=12 => tags.push(format!("sha-{:07x}", n)),
            13 if n + 2 < count => {
                tags.push(format!("{}.{}.{}", n % 19, n % 23, n / 437));
                children = vec![digest(n + 1), digest(n + 2)];
            }
            14 | 15 => {}
            16 if n >= 20 => subject = Some(digest(n - 19)),
            17 => tags.push(["stable", "1", "2.3"][n % 3].to_string()),
            _ => {}
        }
        let minutes = n as i64;
        images.push(ImageRecord {
            digest: digest(n),
            tags,
            pushed_at: Timestamp(NOW - minutes * 60 - DAY),
            last_pulled: (n % 50 == 0).then(|| Timestamp(NOW - (n as i64 % 60) * DAY)),
            media_type: None,
            size_bytes: Some(50_000_000),
            children,
            subject,
            in_use: if n % 997 == 0 {
                vec![Usage {
                    source: UsageSource::Ecs,
                    what: format!("ECS service s{n} of cluster prod"),
                    last_seen: None,
                }]
            } else {
                vec![]
            },
            status: if n % 31 == 0 {
                ImageStatus::Archived
            } else {
                ImageStatus::Active
            },
            archived_at: (n % 31 == 0).then(|| Timestamp(NOW - (n as i64 % 200) * DAY)),
        });
    }
    images
}

/// ECR's own lifecycle for one rule: tag prefix `sha-`, keep the newest 50 by push time.
fn ecr_count_rule(images: &[ImageRecord]) -> Vec<&str> {
    let mut selected: Vec<&ImageRecord> = images
        .iter()
        .filter(|i| i.tags.iter().any(|t| t.starts_with("sha-")))
        .collect();
    selected.sort_by_key(|i| std::cmp::Reverse(i.pushed_at));
    selected
        .iter()
        .skip(50)
        .map(|i| i.digest.as_str())
        .collect()
}

fn bench(c: &mut Criterion) {
    let policy = Policy::from_text(POLICY, "bench.yaml", SourceFormat::Yaml).unwrap();
    let rule = &policy.rules[0];
    let retention = rule.retention.as_ref().unwrap();
    let images = repository(IMAGES);
    let sample = plan("bench", rule, retention, &images, Timestamp(NOW));
    eprintln!(
        "{} images: {} kept, {} to archive, {} expire",
        sample.images.len(),
        sample.kept_count(),
        sample.to_archive().count(),
        sample.expired().count()
    );
    let mut group = c.benchmark_group("retention-100k");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("ecr-steward plan", |b| {
        b.iter(|| plan("bench", rule, retention, black_box(&images), Timestamp(NOW)))
    });
    group.bench_function("peer: ECR count rule on sha-", |b| {
        b.iter(|| ecr_count_rule(black_box(&images)).len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
