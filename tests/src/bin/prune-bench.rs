//! `prune-bench`: `ecr-steward prune` over a registry of 200 repositories and 50,000 images
//! (issue 22): wall time, the CLI's CPU time, and requests per image, counted by a fault
//! proxy in front of moto, for a dry run and for `--apply`. The images are put straight into
//! moto's ECR (PutImage of Docker v2 manifests, plus a few OCI indexes per repository, which
//! retention reads), pushed 400 days ago on the test bed's clock.
//!
//! ```sh
//! bench/prune        # builds the release CLI, then runs this
//! prune-bench --cli target/release/ecr-steward --repositories 200 --images 250
//! ```

// A benchmark tool, not production code: a failure should stop it loudly, so it may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{stream, StreamExt};
use steward::manifest::sha256_digest;
use testbed::Stack;

const REGION: &str = "us-east-1";
const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

const POLICY: &str = r#"
version: 1
rules:
  - repositories: ["**"]
    tags: { semver: { floating_aliases: true }, git_sha: { prefixes: ["sha-"] } }
    retention:
      semver: { keep_per_major: 2, keep_per_minor: 1 }
      git_sha: { keep_newest: 10 }
      untagged: { max_age_days: 7 }
      in_use: { lambda: true, ecs: true }
"#;

#[derive(Debug, Parser)]
#[command(about = "ecr-steward prune over a large registry: time and requests per image")]
struct Args {
    /// The ecr-steward binary to run.
    #[arg(long, value_name = "PATH")]
    cli: PathBuf,
    /// Repositories.
    #[arg(long, default_value_t = 200)]
    repositories: usize,
    /// Images per repository.
    #[arg(long, default_value_t = 250)]
    images: usize,
}

fn manifest(seed: &str) -> String {
    let config = sha256_digest(seed.as_bytes());
    let layer = sha256_digest(format!("{seed}/layer").as_bytes());
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_V2,
        "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 1000 },
        "layers": [{ "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": 30_000_000 }]
    })
    .to_string()
}

/// Image `n` of a repository: releases on several lines, commit tags, untagged images, and
/// every 25th an OCI index of the two images before it.
fn image(
    repository: usize,
    n: usize,
    children: &[(String, usize)],
) -> (String, &'static str, Vec<String>) {
    let seed = format!("r{repository}/i{n}");
    if n % 25 == 24 {
        let manifests: Vec<serde_json::Value> = children
            .iter()
            .map(|(digest, size)| serde_json::json!({ "mediaType": DOCKER_V2, "digest": digest, "size": size, "platform": { "os": "linux", "architecture": "amd64" } }))
            .collect();
        let index = serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests }).to_string();
        return (index, OCI_INDEX, vec![format!("{}.{}.{}", 9, n % 7, n)]);
    }
    let tags = match n % 5 {
        0 | 1 => vec![format!("{}.{}.{}", n % 4, (n / 4) % 6, n)],
        2 => vec![format!("sha-{:07x}", repository * 10_000 + n)],
        3 => vec![
            format!("{}.{}.{}", n % 3, n % 5, n),
            format!("sha-{:07x}", repository * 10_000 + n),
        ],
        _ => vec![],
    };
    (manifest(&seed), DOCKER_V2, tags)
}

async fn seed(stack: &Stack, args: &Args) -> usize {
    let ecr = stack.ecr(REGION);
    let mut jobs = Vec::new();
    for repository in 0..args.repositories {
        let name = format!("fleet/service-{repository:03}");
        ecr.create_repository()
            .repository_name(&name)
            .send()
            .await
            .unwrap();
        let mut recent: Vec<(String, usize)> = Vec::new();
        for n in 0..args.images {
            let (text, media_type, tags) =
                image(repository, n, &recent[recent.len().saturating_sub(2)..]);
            recent.push((sha256_digest(text.as_bytes()), text.len()));
            jobs.push((name.clone(), text, media_type, tags));
        }
    }
    let total = jobs.len();
    // An index after its children: the order within a repository is kept per 25 images, and
    // repositories go at once.
    stream::iter(jobs)
        .map(|(name, text, media_type, tags)| {
            let ecr = ecr.clone();
            async move {
                let digest = sha256_digest(text.as_bytes());
                let put = |tag: Option<String>| {
                    let mut request = ecr
                        .put_image()
                        .repository_name(&name)
                        .image_manifest(&text)
                        .image_manifest_media_type(media_type)
                        .image_digest(&digest);
                    if let Some(tag) = tag {
                        request = request.image_tag(tag);
                    }
                    request.send()
                };
                if tags.is_empty() {
                    put(None).await.unwrap();
                }
                for tag in tags {
                    put(Some(tag)).await.unwrap();
                }
            }
        })
        .buffered(16)
        .collect::<Vec<()>>()
        .await;
    total
}

fn run(
    stack: &Stack,
    proxy: &testbed::FaultProxy,
    cli: &PathBuf,
    policy: &std::path::Path,
    apply: bool,
) -> (f64, f64, usize, String) {
    proxy.take_requests();
    let started = Instant::now();
    let mut command = stack.command("/usr/bin/time");
    command
        .args(["-f", "cpu %U %S"])
        .arg(cli)
        .env("AWS_ENDPOINT_URL", proxy.url())
        .args(["prune", "--format", "json", "--policy"])
        .arg(policy);
    if apply {
        command.arg("--apply");
    }
    let output = command.output().expect("run ecr-steward prune");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::thread::sleep(Duration::from_millis(200));
    let requests = proxy.take_requests();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let cpu: f64 = stderr
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("cpu "))
        .map(|t| {
            t.split_whitespace()
                .filter_map(|v| v.parse::<f64>().ok())
                .sum()
        })
        .expect("/usr/bin/time's line");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let repositories = report["repositories"].as_array().unwrap();
    let count = |key: &str| -> usize {
        repositories
            .iter()
            .map(|r| r["pruning"][key].as_array().map_or(0, Vec::len))
            .sum()
    };
    let mut by_target: std::collections::BTreeMap<String, usize> = Default::default();
    for request in &requests {
        let target = request
            .operation
            .clone()
            .unwrap_or_else(|| format!("{} {}", request.method, request.path()));
        *by_target.entry(target).or_default() += 1;
    }
    let summary = format!(
        "expired {}, deleted {}; requests: {}",
        count("expired"),
        count("deleted"),
        by_target
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    (seconds, cpu, requests.len(), summary)
}

fn main() {
    let args = Args::parse();
    let stack = Stack::start_plain();
    stack.push_ago(400 * 86_400);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let images = runtime.block_on(seed(&stack, &args));
    stack.push_ago(0);
    println!(
        "registry: {} repositories, {images} images (seeded in {:.0} s)",
        args.repositories,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let proxy = stack.proxy(stack.endpoint());
    for (name, apply) in [("dry run", false), ("--apply", true)] {
        let (seconds, cpu, requests, summary) = run(&stack, &proxy, &args.cli, &policy, apply);
        println!(
            "{name:>8}: {seconds:.1} s ({:.0} images/s), CLI CPU {cpu:.2} s, {requests} requests = {:.3} per image; {summary}",
            images as f64 / seconds,
            requests as f64 / images as f64
        );
    }
}
