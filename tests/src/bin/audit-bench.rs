//! `audit-bench`: how fast `ecr-steward audit` goes over the audit test registry
//! (`testbed::audit_registry`, about 2,000 images in two regions), at several concurrencies
//! in the same run, with the sequential one (`--concurrency 1`) as the baseline. Fault
//! proxies in front of moto and of both registries count every request.
//!
//! ```sh
//! bench/audit                  # builds the release CLI, then runs this
//! audit-bench --cli target/release/ecr-steward --reps 3 --concurrency 1,8,32
//! ```

// A benchmark tool, not production code: a failure should stop it loudly, so it may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use testbed::audit_registry::{self, EU, POLICY, US};
use testbed::{FaultProxy, Stack};

#[derive(Debug, Parser)]
#[command(about = "Images audited per second by ecr-steward audit, against a sequential baseline")]
struct Args {
    /// The ecr-steward binary to run.
    #[arg(long, value_name = "PATH")]
    cli: PathBuf,
    /// Runs of each concurrency (they take turns).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// The concurrencies to compare; the first is the baseline.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<usize>,
}

struct Proxies {
    moto: FaultProxy,
    us: FaultProxy,
    eu: FaultProxy,
}

impl Proxies {
    fn take(&self) -> (usize, usize) {
        let ecr = self.moto.take_requests().len();
        let registry = self.us.take_requests().len() + self.eu.take_requests().len();
        (ecr, registry)
    }
}

fn run(
    args: &Args,
    stack: &Stack,
    proxies: &Proxies,
    policy: &std::path::Path,
    concurrency: usize,
) -> (Duration, usize, usize, usize) {
    proxies.take();
    let started = Instant::now();
    let output = stack
        .command(&args.cli)
        .env("AWS_ENDPOINT_URL", proxies.moto.url())
        .env("STEWARD_REGISTRY_US_EAST_1", proxies.us.url())
        .env("STEWARD_REGISTRY_EU_WEST_1", proxies.eu.url())
        .arg("audit")
        .arg("--policy")
        .arg(policy)
        .args(["--region", US, "--region", EU, "--format", "json"])
        .args(["--concurrency", &concurrency.to_string()])
        .output()
        .expect("run ecr-steward audit");
    let elapsed = started.elapsed();
    assert!(
        output.status.code() == Some(1),
        "the audit should report the planted findings: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let images = report["totals"]["images"].as_u64().unwrap() as usize;
    assert_eq!(
        report["totals"]["findings"].as_u64(),
        Some(audit_registry::PLANTED.len() as u64 - 1),
        "every planted finding but the denied repository's (no proxy denies here)"
    );
    // A request is recorded just after its answer is sent: let the last ones land.
    std::thread::sleep(Duration::from_millis(200));
    let (ecr, registry) = proxies.take();
    (elapsed, images, ecr, registry)
}

fn main() {
    let args = Args::parse();
    let stack = Stack::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let seeded = runtime.block_on(audit_registry::seed(&stack));
    println!(
        "registry: {} repositories, {} images in us-east-1 and eu-west-1 (seeded in {:.1} s)",
        seeded.repositories,
        seeded.images,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let proxies = Proxies {
        moto: FaultProxy::start(stack.endpoint()).unwrap(),
        us: FaultProxy::start(stack.registry(US)).unwrap(),
        eu: FaultProxy::start(stack.registry(EU)).unwrap(),
    };
    // One warm-up run (page cache, moto's first answers).
    run(&args, &stack, &proxies, &policy, args.concurrency[0].max(8));

    let mut times: Vec<Vec<f64>> = vec![Vec::new(); args.concurrency.len()];
    let mut counts = vec![(0usize, 0usize, 0usize); args.concurrency.len()];
    for _ in 0..args.reps {
        for (slot, &concurrency) in args.concurrency.iter().enumerate() {
            let (elapsed, images, ecr, registry) =
                run(&args, &stack, &proxies, &policy, concurrency);
            times[slot].push(elapsed.as_secs_f64());
            counts[slot] = (images, ecr, registry);
        }
    }
    println!(
        "{:>11} {:>10} {:>12} {:>9} {:>13} {:>18} {:>16}",
        "concurrency",
        "median s",
        "images/s",
        "vs seq",
        "ECR requests",
        "registry requests",
        "requests/image"
    );
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let baseline = median(&times[0]);
    for (slot, &concurrency) in args.concurrency.iter().enumerate() {
        let seconds = median(&times[slot]);
        let (images, ecr, registry) = counts[slot];
        println!(
            "{:>11} {:>10.2} {:>12.0} {:>8.2}x {:>13} {:>18} {:>16.2}",
            concurrency,
            seconds,
            images as f64 / seconds,
            baseline / seconds,
            ecr,
            registry,
            (ecr + registry) as f64 / images as f64
        );
    }
}
