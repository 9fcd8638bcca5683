//! `audit-bench`: how fast `ecr-steward audit` goes over the audit test registry
//! (`testbed::audit_registry`, about 2,000 images in two regions), at several concurrencies
//! in the same run, with the sequential one (`--concurrency 1`) as the baseline. Fault
//! proxies in front of moto and of both registries count every request. On the plain data
//! plane, as the audit test: on the ECR-like one moto's S3 behind the registries bounds it.
//!
//! ```sh
//! bench/audit                  # builds the release CLI, then runs this
//! audit-bench --cli target/release/ecr-steward --reps 3 --concurrency 1,8,32
//! audit-bench --cli target/release/ecr-steward --concurrency 8,32 --delays 0,80
//! ```
//!
//! `--delays`: each request waits that many milliseconds at its proxy before it goes on (a
//! round trip to a server that far away); every concurrency runs at every delay, and each
//! row says its time against the same concurrency's at the first delay.

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
    /// Straight to moto and the registries, without the counting proxies (no request
    /// counts), to see what the proxies cost.
    #[arg(long)]
    direct: bool,
    /// Round trips to every server, in milliseconds (each request waits that long at its
    /// proxy); the first is the baseline each concurrency is compared with.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    delays: Vec<u64>,
}

struct Proxies {
    moto: FaultProxy,
    us: FaultProxy,
    eu: FaultProxy,
}

impl Proxies {
    fn delay(&self, milliseconds: u64) {
        for proxy in [&self.moto, &self.us, &self.eu] {
            proxy.set_delay(Duration::from_millis(milliseconds));
        }
    }

    fn take(&self) -> (usize, usize) {
        let ecr = self.moto.take_requests().len();
        let registry = self.us.take_requests().len() + self.eu.take_requests().len();
        (ecr, registry)
    }
}

/// One run's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    seconds: f64,
    /// The CLI's own CPU time (user + system), from /usr/bin/time.
    cpu_seconds: f64,
    images: usize,
    ecr: usize,
    registry: usize,
}

fn run(
    args: &Args,
    stack: &Stack,
    proxies: &Proxies,
    policy: &std::path::Path,
    concurrency: usize,
) -> Figures {
    proxies.take();
    let started = Instant::now();
    let output = stack
        .command("/usr/bin/time")
        .args(["-f", "cpu %U %S"])
        .arg(&args.cli)
        .envs(if args.direct {
            vec![]
        } else {
            vec![
                ("AWS_ENDPOINT_URL", proxies.moto.url()),
                ("STEWARD_REGISTRY_US_EAST_1", proxies.us.url()),
                ("STEWARD_REGISTRY_EU_WEST_1", proxies.eu.url()),
            ]
        })
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
    let stderr = String::from_utf8_lossy(&output.stderr);
    let cpu_seconds = stderr
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("cpu "))
        .map(|times| {
            times
                .split_whitespace()
                .filter_map(|t| t.parse::<f64>().ok())
                .sum()
        })
        .expect("/usr/bin/time's line");
    Figures {
        seconds: elapsed.as_secs_f64(),
        cpu_seconds,
        images,
        ecr,
        registry,
    }
}

fn main() {
    let args = Args::parse();
    let stack = Stack::start_plain();
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
        moto: stack.proxy(stack.endpoint()),
        us: stack.proxy(stack.registry(US)),
        eu: stack.proxy(stack.registry(EU)),
    };
    // One warm-up run (page cache, moto's first answers).
    run(&args, &stack, &proxies, &policy, args.concurrency[0].max(8));

    let cases: Vec<(u64, usize)> = args
        .delays
        .iter()
        .flat_map(|&delay| args.concurrency.iter().map(move |&c| (delay, c)))
        .collect();
    let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); cases.len()];
    for _ in 0..args.reps {
        for (slot, &(delay, concurrency)) in cases.iter().enumerate() {
            proxies.delay(delay);
            runs[slot].push(run(&args, &stack, &proxies, &policy, concurrency));
        }
    }
    println!(
        "{:>8} {:>11} {:>9} {:>9} {:>7} {:>9} {:>10} {:>8} {:>22}",
        "RTT ms",
        "concurrency",
        "median s",
        "images/s",
        "vs seq",
        "vs RTT 0",
        "CLI CPU s",
        "CLI CPU",
        "requests/image (ECR + registry)"
    );
    let median = |figures: &[Figures]| {
        let mut sorted = figures.to_vec();
        sorted.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        sorted[sorted.len() / 2]
    };
    let at = |delay: u64, concurrency: usize| {
        cases
            .iter()
            .position(|&case| case == (delay, concurrency))
            .map(|slot| median(&runs[slot]).seconds)
    };
    for (slot, &(delay, concurrency)) in cases.iter().enumerate() {
        let figures = median(&runs[slot]);
        let baseline = at(delay, args.concurrency[0]).unwrap_or(figures.seconds);
        let first = at(args.delays[0], concurrency).unwrap_or(figures.seconds);
        println!(
            "{:>8} {:>11} {:>9.2} {:>9.0} {:>6.2}x {:>8.2}x {:>10.2} {:>7.0}% {:>22}",
            delay,
            concurrency,
            figures.seconds,
            figures.images as f64 / figures.seconds,
            baseline / figures.seconds,
            figures.seconds / first,
            figures.cpu_seconds,
            100.0 * figures.cpu_seconds / figures.seconds,
            format!(
                "{:.2} ({} + {})",
                (figures.ecr + figures.registry) as f64 / figures.images as f64,
                figures.ecr,
                figures.registry
            ),
        );
    }
    println!("vs seq: against the first concurrency at the same RTT; vs RTT 0: the time against the same concurrency's at the first RTT");
    println!("CLI CPU: the CLI's user + system time, and its share of the wall time; the rest is waiting for moto and the registries");
}
