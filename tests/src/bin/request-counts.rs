//! `request-counts`: the requests each function makes per event, on the ECR-like test bed,
//! cold (the first event of a process) and warm (the same event again, same process), with
//! the sequential round trips among them (requests that waited on each other; requests sent
//! at once count once). A counting proxy stands in front of moto (the AWS APIs) and of each
//! region's registry; the function binaries run under the Runtime API emulator.
//!
//! ```sh
//! cargo build --workspace && target/debug/request-counts
//! ```
//!
//! Prints one line per function and case; `bench/requests` runs it.

// A test-bed tool, not production code: a failed step should stop it loudly, so it may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use serde_json::{json, Value};
use testbed::{
    basic_scan_event, function_binary, push_event, sequential_round_trips, Answer, FaultProxy,
    ProxiedRequest, PushSpec, RuntimeApi, ScanResult, Stack,
};

const SOURCE: &str = "us-east-1";
const DESTINATION: &str = "eu-west-1";

const POLICY: &str = r#"{"version": 1, "rules": [{"name": "all", "repositories": ["**"],
  "tags": {"semver": {}}}],
  "replication": [{"name": "out", "repositories": ["**"], "tags": {"semver": {}},
    "destinations": [{"region": "eu-west-1"}], "create_repository": true}]}"#;

/// The proxies the functions reach everything through.
struct Counted {
    aws: FaultProxy,
    source: FaultProxy,
    destination: FaultProxy,
}

impl Counted {
    fn take(&self) -> [Vec<ProxiedRequest>; 3] {
        [
            self.aws.take_requests(),
            self.source.take_requests(),
            self.destination.take_requests(),
        ]
    }
}

/// What one event cost: requests to the AWS APIs, to each registry, and the round trips.
#[derive(Debug, Default, Clone)]
struct Cost {
    aws: usize,
    source: usize,
    destination: usize,
    round_trips: usize,
    listing: String,
}

impl Cost {
    fn of(requests: [Vec<ProxiedRequest>; 3]) -> Self {
        let [aws, source, destination] = requests;
        let all: Vec<ProxiedRequest> = aws
            .iter()
            .chain(&source)
            .chain(&destination)
            .cloned()
            .collect();
        let mut sorted = all.clone();
        sorted.sort_by_key(|r| r.started);
        let name = |r: &ProxiedRequest| {
            let side = if aws.contains(r) {
                "aws"
            } else if source.contains(r) {
                "src"
            } else {
                "dst"
            };
            format!("{side}:{} {}", r.method, short(r.path()))
        };
        Self {
            aws: aws.len(),
            source: source.len(),
            destination: destination.len(),
            round_trips: sequential_round_trips(&all),
            listing: sorted.iter().map(name).collect::<Vec<_>>().join(", "),
        }
    }

    fn total(&self) -> usize {
        self.aws + self.source + self.destination
    }
}

/// `/v2/repo/manifests/sha256:abcdef…` → `/v2/repo/manifests/sha256:abcdef`.
fn short(path: &str) -> String {
    match path.find("sha256:") {
        Some(at) => format!("{}…", &path[..(at + 13).min(path.len())]),
        None => path.to_string(),
    }
}

/// Runs `function` on `event` twice in one process: (cold, warm).
fn measure(
    stack: &Stack,
    counted: &Counted,
    topic: &str,
    function: &str,
    event: &Value,
) -> (Cost, Cost) {
    let (aws, source, destination) = (
        counted.aws.url(),
        counted.source.url(),
        counted.destination.url(),
    );
    let env = stack.function_env(
        topic,
        &[
            ("AWS_ENDPOINT_URL", &aws),
            ("STEWARD_REGISTRY_US_EAST_1", &source),
            ("STEWARD_REGISTRY_EU_WEST_1", &destination),
            ("STEWARD_POLICY", POLICY),
            ("STEWARD_NOTIFY_CLEAN", "true"),
        ],
    );
    counted.take();
    let costs = Mutex::new(Vec::new());
    let (answers, _) = RuntimeApi::invoke_binary_observed(
        &function_binary(function),
        &env,
        vec![event.clone(), event.clone()],
        |_, _| costs.lock().unwrap().push(Cost::of(counted.take())),
    )
    .expect("the function starts");
    for answer in &answers {
        assert!(
            matches!(answer, Answer::Response(_)),
            "{function}: {:#}",
            answer.to_json()
        );
    }
    let costs = costs.into_inner().unwrap();
    (costs[0].clone(), costs[1].clone())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let stack = Stack::start();
    let counted = Counted {
        aws: stack.proxy(stack.endpoint()),
        source: stack.proxy(stack.registry(SOURCE)),
        destination: stack.proxy(stack.registry(DESTINATION)),
    };
    let (topic, _queue) = stack.topic_with_queue(SOURCE).await;

    let single = stack.push_image(&PushSpec::new(SOURCE, "counts/single").tag("1.0.0"));
    let multi = stack.push_image(
        &PushSpec::new(SOURCE, "counts/multi")
            .tag("1.0.0")
            .platform("linux/amd64")
            .platform("linux/arm64"),
    );
    stack
        .scan(&ScanResult::complete(&single).finding("CVE-2023-0001", "HIGH", "openssl", "3.0.1"))
        .await;

    let mut rows = Vec::new();
    let mut row = |function: &str, case: &str, event: Value| {
        let (cold, warm) = measure(&stack, &counted, &topic, function, &event);
        rows.push((function.to_string(), case.to_string(), cold, warm));
    };
    row("push-guard", "single-arch push", push_event(&single));
    row(
        "push-guard",
        "multi-arch push (2 platforms)",
        push_event(&multi),
    );
    row(
        "scan-alert",
        "basic scan, 1 finding",
        basic_scan_event(&single, "COMPLETE", json!({ "HIGH": 1 })),
    );
    // The first run copies the image; the measured runs find it at the destination.
    row("replicator", "first copy, single-arch", push_event(&single));
    row("replicator", "image already there", push_event(&single));

    println!(
        "{:<11} {:<30} {:>5} {:>5} {:>5} {:>6} | {:>5} {:>5} {:>5} {:>6}",
        "function", "case", "cold", "aws", "reg", "serial", "warm", "aws", "reg", "serial"
    );
    for (function, case, cold, warm) in &rows {
        println!(
            "{function:<11} {case:<30} {:>5} {:>5} {:>5} {:>6} | {:>5} {:>5} {:>5} {:>6}",
            cold.total(),
            cold.aws,
            cold.source + cold.destination,
            cold.round_trips,
            warm.total(),
            warm.aws,
            warm.source + warm.destination,
            warm.round_trips,
        );
    }
    println!();
    for (function, case, _, warm) in &rows {
        println!("warm {function} / {case}: {}", warm.listing);
    }
}
