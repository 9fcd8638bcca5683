//! The policy kept in S3 and in SSM Parameter Store (`STEWARD_POLICY_LOCATION`), on moto: the
//! built `push-guard` binary reads a policy far over Lambda's 4 KB of environment at init,
//! picks up a change without a restart, keeps the last good policy when a new version is
//! invalid and notifies that once; `ecr-steward policy validate` reads the same locations.
//! (`cargo build --workspace` first.)

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;
use testbed::{
    event_from_sample, function_binary, Answer, NotifiedStack, PushSpec, PushedImage, RuntimeApi,
};

const REGION: &str = "us-east-1";
const REPOSITORY: &str = "team/app";
const BUCKET: &str = "platform-config";
const KEY: &str = "ecr-steward/policy.yaml";
/// The refresh interval the functions run with here, and a wait a little longer than it.
const REFRESH_SECONDS: &str = "1";
const PAST_THE_INTERVAL: Duration = Duration::from_millis(1_300);

/// A policy of `services` rules with long deny and scan-ignore lists, for repositories
/// `svc-NNNN/**`, then the rule for `team/**`, which allows or denies `latest`.
fn large_policy(services: usize, latest: &str) -> String {
    let mut text = String::from("version: 1\nmode: audit\nrules:\n");
    for n in 0..services {
        let denied: Vec<String> = (0..8).map(|i| format!("dev-{n:04}-{i}")).collect();
        text.push_str(&format!(
            "  - name: svc-{n:04}\n    repositories: [\"svc-{n:04}/**\"]\n    tags:\n      semver: {{}}\n      literals: {{ deny: [latest, {}] }}\n    scan:\n      thresholds: {{ CRITICAL: 0, HIGH: 3 }}\n      ignore:\n        - {{ id: CVE-2024-{:05}, reason: \"not reachable from the service's code\", until: 2030-12-31 }}\n",
            denied.join(", "),
            10_000 + n
        ));
    }
    text.push_str(&format!(
        "  - name: team\n    repositories: [\"team/**\"]\n    tags:\n      semver: {{}}\n      literals: {{ {latest}: [latest] }}\n"
    ));
    text
}

/// The rule for `team/**` lets `latest` through.
fn allowing_latest(services: usize) -> String {
    large_policy(services, "allow")
}

/// The rule for `team/**` denies `latest`.
fn denying_latest(services: usize) -> String {
    large_policy(services, "deny")
}

/// Valid YAML, but a rule with an unknown key: refused with its position.
fn invalid(services: usize) -> String {
    denying_latest(services).replace(
        "    repositories: [\"team/**\"]\n",
        "    repositories: [\"team/**\"]\n    colour: blue\n",
    )
}

struct Bed {
    notified: NotifiedStack,
    runtime: tokio::runtime::Runtime,
    image: PushedImage,
}

impl Bed {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let notified = runtime.block_on(NotifiedStack::start(REGION));
        let image = notified.stack.push_image(
            &PushSpec::new(REGION, REPOSITORY)
                .tag("latest")
                .labels(steward::labels::samples::COMPLIANT),
        );
        Self {
            notified,
            runtime,
            image,
        }
    }

    /// Runs `code` with boto3 on the stack's python, `input` on its stdin; its stdout.
    fn boto3(&self, code: &str, input: &str) -> String {
        use std::io::Write;
        let stack = &self.notified.stack;
        let mut child = stack
            .command(stack.python())
            .args(["-c", &format!("import boto3, sys\n{code}")])
            .env("AWS_REGION", REGION)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "boto3: {code}");
        String::from_utf8(output.stdout).unwrap()
    }

    fn put_object(&self, text: &str) {
        self.boto3(
            &format!("boto3.client('s3').put_object(Bucket='{BUCKET}', Key='{KEY}', Body=sys.stdin.buffer.read())"),
            text,
        );
    }

    fn create_bucket(&self) {
        self.boto3(
            &format!("boto3.client('s3').create_bucket(Bucket='{BUCKET}')"),
            "",
        );
    }

    fn put_parameter(&self, name: &str, text: &str) {
        self.boto3(
            &format!("boto3.client('ssm').put_parameter(Name='{name}', Value=sys.stdin.read(), Type='String', Tier='Advanced', Overwrite=True)"),
            text,
        );
    }

    fn env(&self, location: &str) -> Vec<(String, String)> {
        self.notified.stack.function_env(
            &self.notified.topic,
            &[
                ("STEWARD_POLICY_LOCATION", location),
                ("STEWARD_POLICY_REFRESH_SECONDS", REFRESH_SECONDS),
            ],
        )
    }

    fn push_event(&self) -> Value {
        event_from_sample("image-push-semver.json", |event| {
            event["detail"]["repository-name"] = REPOSITORY.into();
            event["detail"]["image-digest"] = self.image.digest.as_str().into();
            event["detail"]["image-tag"] = "latest".into();
            event["region"] = REGION.into();
        })
    }

    /// push-guard on `events` pushes of `team/app:latest`, calling `between(n)` after the
    /// answer to push `n`; the outcome of each, and the function's log.
    fn run(
        &self,
        location: &str,
        events: usize,
        mut between: impl FnMut(usize),
    ) -> (Vec<String>, String) {
        let (answers, log) = RuntimeApi::invoke_binary_observed(
            &function_binary("push-guard"),
            &self.env(location),
            (0..events).map(|_| self.push_event()).collect(),
            |n, _| between(n),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let outcomes = answers
            .iter()
            .map(|answer| match answer {
                Answer::Response(report) => report["outcome"].as_str().unwrap_or("?").to_string(),
                Answer::Error { error_type, .. } => error_type.clone(),
            })
            .collect();
        (outcomes, log)
    }

    /// The `event_type` of each notification, once `expected` arrived.
    fn notified_event_types(&self, expected: usize) -> Vec<(String, Value)> {
        self.runtime
            .block_on(self.notified.notifications(expected))
            .into_iter()
            .map(|envelope| {
                let event_type = envelope["MessageAttributes"]["event_type"]["Value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let message: Value =
                    serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
                (event_type, message)
            })
            .collect()
    }

    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let output = self
            .notified
            .stack
            .command(function_binary("ecr-steward"))
            .args(args)
            .output()
            .expect("run ecr-steward");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

#[test]
fn a_policy_of_30_kb_in_s3_is_read_at_init_and_changed_without_a_restart() {
    let bed = Bed::start();
    bed.create_bucket();
    let first = allowing_latest(80);
    assert!(first.len() > 25_000, "{} bytes", first.len());
    bed.put_object(&first);
    let location = format!("s3://{BUCKET}/{KEY}");
    // The store's unchanged answer: moto, like S3, answers a GetObject whose If-None-Match is
    // the object's ETag with 304 Not Modified, and the adapter reads that as unchanged.
    let store = steward::aws::AwsPolicyStore::new(&bed.notified.stack.sdk_config(REGION));
    let stored = steward::policy_source::PolicyLocation::parse(&location).unwrap();
    let etag = bed.boto3(
        &format!(
            "import botocore.exceptions\n\
             s3 = boto3.client('s3')\n\
             etag = s3.head_object(Bucket='{BUCKET}', Key='{KEY}')['ETag']\n\
             try:\n    s3.get_object(Bucket='{BUCKET}', Key='{KEY}', IfNoneMatch=etag); print(200)\n\
             except botocore.exceptions.ClientError as e:\n    print(e.response['ResponseMetadata']['HTTPStatusCode'])\n\
             print(etag)"
        ),
        "",
    );
    let (status, etag) = etag.trim().split_once('\n').unwrap();
    assert_eq!(
        status, "304",
        "moto answers a matching If-None-Match with 304"
    );
    let unchanged = bed.runtime.block_on(steward::ports::PolicyStore::fetch(
        &store,
        &stored,
        Some(etag),
    ));
    assert_eq!(unchanged.unwrap(), steward::ports::PolicyFetch::Unchanged);

    let (outcomes, log) = bed.run(&location, 4, |n| {
        match n {
            0 => bed.put_object(&denying_latest(80)),
            1 => bed.put_object(&invalid(80)),
            _ => {}
        }
        std::thread::sleep(PAST_THE_INTERVAL);
    });

    assert_eq!(
        outcomes,
        ["compliant", "audited", "audited", "audited"],
        "the first policy, then the second; the invalid third is not taken"
    );
    assert!(
        log.contains("a new version of the policy is in force"),
        "{log}"
    );
    assert!(
        log.contains("the new version of the policy is invalid"),
        "{log}"
    );
    let notified = bed.notified_event_types(4);
    let rejected: Vec<&Value> = notified
        .iter()
        .filter(|(event_type, _)| event_type == "policy.update")
        .map(|(_, message)| message)
        .collect();
    assert_eq!(
        rejected.len(),
        1,
        "one notification of the bad version: {notified:#?}"
    );
    let context = &rejected[0]["metadata"]["additionalContext"];
    assert_eq!(context["outcome"], "policy-rejected");
    assert_eq!(context["location"], location.as_str());
    let description = rejected[0]["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("s3://platform-config/ecr-steward/policy.yaml:"),
        "positioned: {description}"
    );
    assert_eq!(
        notified
            .iter()
            .filter(|(event_type, _)| event_type == "push-guard.violation")
            .count(),
        3
    );
    assert!(bed.notified_event_types(0).is_empty(), "nothing more");
}

#[test]
fn a_policy_of_7_kb_in_an_advanced_ssm_parameter_is_read_and_changed() {
    let bed = Bed::start();
    let name = "/ecr-steward/policy";
    let first = allowing_latest(18);
    assert!(
        (6_000..8_192).contains(&first.len()),
        "{} bytes",
        first.len()
    );
    bed.put_parameter(name, &first);

    let (outcomes, _) = bed.run(&format!("ssm:{name}"), 3, |n| {
        if n == 0 {
            bed.put_parameter(name, &denying_latest(18));
        }
        std::thread::sleep(PAST_THE_INTERVAL);
    });

    assert_eq!(outcomes, ["compliant", "audited", "audited"]);
}

#[test]
fn an_invalid_or_missing_policy_fails_the_init_with_its_location() {
    let bed = Bed::start();
    bed.create_bucket();
    bed.put_object(&invalid(80));
    let fails = |location: &str| {
        RuntimeApi::invoke_binary(
            &function_binary("push-guard"),
            &bed.env(location),
            vec![bed.push_event()],
        )
        .expect_err("the init fails")
        .to_string()
    };

    let invalid = fails(&format!("s3://{BUCKET}/{KEY}"));
    assert!(
        invalid.contains("the policy is invalid: s3://platform-config/ecr-steward/policy.yaml:"),
        "{invalid}"
    );
    let missing = fails("ssm:/ecr-steward/none");
    assert!(
        missing.contains("the policy at ssm:/ecr-steward/none cannot be read"),
        "{missing}"
    );
}

#[test]
fn policy_validate_reads_s3_and_ssm() {
    let bed = Bed::start();
    bed.create_bucket();
    bed.put_object(&allowing_latest(80));
    bed.put_parameter("/ecr-steward/policy", &invalid(18));

    let (code, stdout, stderr) = bed.cli(&["policy", "validate", &format!("s3://{BUCKET}/{KEY}")]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "s3://platform-config/ecr-steward/policy.yaml: valid, 81 rules, mode audit"
    );

    let (code, _, stderr) = bed.cli(&["policy", "validate", "ssm:/ecr-steward/policy"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("ssm:/ecr-steward/policy:"), "{stderr}");

    let (code, stdout, stderr) = bed.cli(&[
        "check",
        "--policy",
        &format!("s3://{BUCKET}/{KEY}"),
        "--repository",
        REPOSITORY,
        "--tag",
        "latest",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}
