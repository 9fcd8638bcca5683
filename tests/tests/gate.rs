//! `ecr-steward gate` as a user runs it: the built binary (`cargo build --workspace` first),
//! with the stack's env and nothing else, against moto's ECR (scan results scripted through
//! moto's API) and the stack's OCI registry (labels). Each test starts its own stack.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testbed::{function_binary, PushSpec, PushedImage, ScanResult, Stack};

const REGION: &str = "us-east-1";
const REPOSITORY: &str = "team/app";
/// How long any gate run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The labels the built-in policy requires, consistent with each other and with `version`.
fn labelled(spec: PushSpec, version: &str) -> PushSpec {
    spec.labels(steward::labels::samples::COMPLIANT)
        .label("org.opencontainers.image.version", version)
}

/// A scan with the xz backdoor (CRITICAL) and two HIGH findings.
fn critical_scan(image: &PushedImage) -> ScanResult {
    ScanResult::complete(image)
        .finding("CVE-2024-3094", "CRITICAL", "xz-utils", "5.6.0")
        .finding("CVE-2023-4911", "HIGH", "glibc", "2.36-9")
        .finding("CVE-2023-38545", "HIGH", "curl", "7.88.1")
}

/// One run of the gate.
#[derive(Debug)]
struct Run {
    /// `None` when killed by a signal.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    /// stdout as JSON (`--format json`).
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Asserts the exit code, showing the whole run when it differs.
    #[track_caller]
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{self:#?}");
        self
    }
}

/// A gate running in the background; its output goes to two anonymous files.
struct Running {
    child: Child,
    stdout: File,
    stderr: File,
    started: Instant,
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        let stdout = tempfile::tempfile().expect("a file for stdout");
        let stderr = tempfile::tempfile().expect("a file for stderr");
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout.try_clone().expect("clone"))
            .stderr(stderr.try_clone().expect("clone"))
            .spawn()
            .expect("run ecr-steward");
        Self {
            child,
            stdout,
            stderr,
            started,
        }
    }

    /// Waits for the exit (killing the gate after [`RUN_LIMIT`]).
    fn finish(mut self) -> Run {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for ecr-steward") {
                break status;
            }
            if self.started.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "ecr-steward ran longer than {RUN_LIMIT:?}; stderr:\n{}",
                    read_all(&mut self.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code(),
            elapsed: self.started.elapsed(),
            stdout: read_all(&mut self.stdout),
            stderr: read_all(&mut self.stderr),
        }
    }
}

fn read_all(file: &mut File) -> String {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).expect("rewind");
    file.read_to_string(&mut text).expect("UTF-8 output");
    text
}

/// A stack, and a directory for policy files.
struct Bed {
    stack: Stack,
    dir: tempfile::TempDir,
}

impl Bed {
    fn start() -> Self {
        Self {
            stack: Stack::start(),
            dir: tempfile::tempdir().expect("a directory for policies"),
        }
    }

    /// Pushes a labelled image (compliant with the built-in policy under a SemVer `tag`) to
    /// `repository`, which is created first with scan-on-push on or off when it is new.
    async fn push(&self, repository: &str, tag: &str, scan_on_push: Option<bool>) -> PushedImage {
        if let Some(scan_on_push) = scan_on_push {
            self.stack
                .create_repository(REGION, repository, scan_on_push)
                .await;
        }
        let version = tag.strip_prefix('v').unwrap_or(tag);
        self.stack.push_image(&labelled(
            PushSpec::new(REGION, repository).tag(tag),
            version,
        ))
    }

    /// Writes a policy file; returns its path.
    fn policy(&self, name: &str, yaml: &str) -> String {
        let path: PathBuf = self.dir.path().join(name);
        std::fs::write(&path, yaml).expect("write the policy");
        path.to_string_lossy().into_owned()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.stack.command(function_binary("ecr-steward"));
        command.arg("gate").args(args);
        command
    }

    fn gate(&self, args: &[&str]) -> Run {
        Running::spawn(self.command(args)).finish()
    }
}

fn breached_severities(report: &Value) -> Vec<&str> {
    report["scan"]["verdict"]["breaches"]
        .as_array()
        .unwrap_or_else(|| panic!("no breaches in {report:#}"))
        .iter()
        .filter_map(|b| b["severity"].as_str())
        .collect()
}

fn ignore_ids<'a>(report: &'a Value, list: &str) -> Vec<&'a str> {
    report["scan"]["verdict"][list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {report:#}"))
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect()
}

#[tokio::test]
async fn a_scan_under_the_bar_passes_the_gate() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", None).await;
    bed.stack
        .scan(
            &ScanResult::complete(&image)
                .finding("CVE-2023-4911", "HIGH", "glibc", "2.36-9")
                .finding("CVE-2023-38545", "HIGH", "curl", "7.88.1")
                .finding("CVE-2023-0001", "LOW", "zlib", "1.2.13"),
        )
        .await;

    let run = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--format",
        "json",
    ]);

    run.expect_code(0);
    let report = run.json();
    assert_eq!(report["compliant"], true, "{report:#}");
    assert_eq!(report["labels_checked"], true, "{report:#}");
    assert_eq!(report["results"][0]["tag"], "1.2.3");
    assert_eq!(report["results"][0]["compliant"], true, "{report:#}");
    assert_eq!(report["image"]["digest"], image.digest.as_str());
    assert_eq!(report["image"]["tags"], serde_json::json!(["1.2.3"]));
    let scan = &report["scan"];
    assert_eq!(scan["passed"], true, "{report:#}");
    assert_eq!(scan["state"], "complete");
    assert_eq!(scan["verdict"]["findings_known"], true);
    assert_eq!(scan["verdict"]["reported"]["HIGH"], 2, "{report:#}");
    assert_eq!(scan["verdict"]["counted"]["HIGH"], 2, "{report:#}");
    assert!(scan["verdict"]["reported"].get("CRITICAL").is_none());
    assert_eq!(breached_severities(&report), Vec::<&str>::new());
    let findings = scan["verdict"]["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 3, "{report:#}");
    let glibc = findings
        .iter()
        .find(|f| f["id"] == "CVE-2023-4911")
        .expect("the glibc finding");
    assert_eq!(glibc["package"], "glibc");
    assert_eq!(glibc["installed_version"], "2.36-9");
    assert_eq!(glibc["severity"], "HIGH");

    // The same image, as text: one line for the tag, one for the scan, and the summary.
    let text = bed.gate(&["--repository", REPOSITORY, "--tag", "1.2.3"]);
    text.expect_code(0);
    assert!(text.stdout.contains("ok   scan"), "{text:#?}");
    assert!(
        text.stdout.contains("HIGH      CVE-2023-4911 glibc 2.36-9"),
        "{text:#?}"
    );
    assert!(
        text.stdout
            .contains("1 tag checked against the built-in policy: 1 compliant, 0 not; scan passed"),
        "{text:#?}"
    );
}

#[tokio::test]
async fn a_critical_finding_fails_the_gate() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", None).await;
    bed.stack.scan(&critical_scan(&image)).await;

    let run = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--digest",
        &image.digest,
        "--format",
        "json",
    ]);

    run.expect_code(1);
    let report = run.json();
    assert_eq!(report["compliant"], false, "{report:#}");
    assert_eq!(report["results"][0]["compliant"], true, "the tag is fine");
    assert_eq!(report["scan"]["passed"], false, "{report:#}");
    assert_eq!(breached_severities(&report), ["CRITICAL"], "{report:#}");
    let breach = &report["scan"]["verdict"]["breaches"][0];
    assert_eq!(
        (breach["count"].as_u64(), breach["limit"].as_u64()),
        (Some(1), Some(0))
    );
    let first = &report["scan"]["verdict"]["findings"][0];
    assert_eq!(
        first["id"], "CVE-2024-3094",
        "most severe first: {report:#}"
    );
    assert_eq!(first["package"], "xz-utils");
    assert_eq!(first["installed_version"], "5.6.0");
    assert_eq!(first["fixable"], Value::Null, "basic scans do not say");

    let text = bed.gate(&["--repository", REPOSITORY, "--tag", "1.2.3"]);
    text.expect_code(1);
    assert!(text.stdout.contains("FAIL scan"), "{text:#?}");
    assert!(
        text.stdout
            .contains("scan.thresholds: CRITICAL 1 findings, 0 allowed"),
        "{text:#?}"
    );
    assert!(
        text.stdout
            .contains("CRITICAL  CVE-2024-3094 xz-utils 5.6.0"),
        "{text:#?}"
    );
    assert!(text.stdout.contains("; scan failed"), "{text:#?}");
}

#[tokio::test]
async fn fixable_only_counts_enhanced_findings_that_have_a_fix() {
    let bed = Bed::start();
    let policy = bed.policy(
        "fixable.yaml",
        "version: 1\nrules:\n  - name: patched\n    repositories: ['team/**']\n    tags:\n      semver: {}\n    scan:\n      thresholds: { HIGH: 0 }\n      fixable_only: true\n",
    );
    let unfixable = bed.push(REPOSITORY, "1.0.0", None).await;
    let fixable = bed.push(REPOSITORY, "1.0.1", None).await;
    assert_ne!(unfixable.digest, fixable.digest);
    bed.stack
        .scan(&ScanResult::complete(&unfixable).enhanced_finding(
            "CVE-2025-0001",
            "HIGH",
            "openssl",
            None,
        ))
        .await;
    bed.stack
        .scan(&ScanResult::complete(&fixable).enhanced_finding(
            "CVE-2025-0002",
            "HIGH",
            "openssl",
            Some("3.0.2"),
        ))
        .await;

    let gate = |tag: &str| {
        bed.gate(&[
            "--repository",
            REPOSITORY,
            "--tag",
            tag,
            "--policy",
            &policy,
            "--format",
            "json",
        ])
    };

    let run = gate("1.0.0");
    run.expect_code(0);
    let report = run.json();
    assert_eq!(report["scan"]["passed"], true, "{report:#}");
    assert_eq!(report["results"][0]["rule"], "patched", "{report:#}");
    let verdict = &report["scan"]["verdict"];
    assert_eq!(verdict["reported"]["HIGH"], 1, "{report:#}");
    assert!(verdict["counted"].get("HIGH").is_none(), "{report:#}");
    let finding = &verdict["findings"][0];
    assert_eq!(finding["id"], "CVE-2025-0001", "{report:#}");
    assert_eq!(finding["fixable"], false, "fixAvailable NO: {report:#}");
    assert_eq!(finding["unfixable"], true, "{report:#}");
    assert_eq!(finding["package"], "openssl");
    assert_eq!(finding["installed_version"], "1.0.0");
    assert_eq!(finding["fixed_in"], Value::Null);

    let run = gate("1.0.1");
    run.expect_code(1);
    let report = run.json();
    assert_eq!(breached_severities(&report), ["HIGH"], "{report:#}");
    let finding = &report["scan"]["verdict"]["findings"][0];
    assert_eq!(finding["id"], "CVE-2025-0002", "{report:#}");
    assert_eq!(finding["fixable"], true, "fixAvailable YES: {report:#}");
    assert_eq!(finding["unfixable"], false);
    assert_eq!(finding["fixed_in"], "3.0.2");
    assert_eq!(
        finding["uri"],
        "https://nvd.nist.gov/vuln/detail/CVE-2025-0002"
    );
}

#[tokio::test]
async fn ignores_apply_until_they_expire_and_stale_ones_are_reported() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", None).await;
    bed.stack.scan(&critical_scan(&image)).await;
    let policy = |name: &str, ignore: &str| {
        bed.policy(
            name,
            &format!("version: 1\nrules:\n  - name: ignoring\n    tags:\n      semver: {{}}\n    scan:\n      thresholds: {{ CRITICAL: 0, HIGH: 5 }}\n      ignore:\n{ignore}"),
        )
    };
    const XZ: &str =
        "        - { id: CVE-2024-3094, reason: 'the backdoor needs sshd', until: 2099-12-31 }\n";
    let active = policy("active.yaml", XZ);
    let expired = policy(
        "expired.yaml",
        "        - { id: CVE-2024-3094, reason: 'the backdoor needs sshd', until: 2020-01-01 }\n",
    );
    let stale = policy(
        "stale.yaml",
        &format!("{XZ}        - {{ id: CVE-2014-0160, reason: 'heartbleed, long fixed' }}\n"),
    );
    let gate = |policy: &str, format: &str| {
        bed.gate(&[
            "--repository",
            REPOSITORY,
            "--tag",
            "1.2.3",
            "--policy",
            policy,
            "--format",
            format,
        ])
    };

    // Active: the CRITICAL finding is listed, marked, and not counted.
    let run = gate(&active, "json");
    run.expect_code(0);
    let report = run.json();
    let verdict = &report["scan"]["verdict"];
    assert_eq!(report["scan"]["passed"], true, "{report:#}");
    assert_eq!(verdict["reported"]["CRITICAL"], 1, "{report:#}");
    assert!(verdict["counted"].get("CRITICAL").is_none(), "{report:#}");
    let xz = verdict["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["id"] == "CVE-2024-3094")
        .expect("the ignored finding stays visible");
    assert_eq!(xz["ignored"], "the backdoor needs sshd");
    assert_eq!(ignore_ids(&report, "stale_ignores"), Vec::<&str>::new());
    assert_eq!(ignore_ids(&report, "expired_ignores"), Vec::<&str>::new());
    let text = gate(&active, "text");
    text.expect_code(0);
    assert!(
        text.stdout
            .contains("CVE-2024-3094 xz-utils 5.6.0 [ignored: the backdoor needs sshd]"),
        "{text:#?}"
    );

    // Expired: it counts again, and the output says why.
    let run = gate(&expired, "json");
    run.expect_code(1);
    let report = run.json();
    assert_eq!(breached_severities(&report), ["CRITICAL"], "{report:#}");
    assert_eq!(ignore_ids(&report, "expired_ignores"), ["CVE-2024-3094"]);
    assert_eq!(
        report["scan"]["verdict"]["expired_ignores"][0]["until"],
        "2020-01-01"
    );
    let text = gate(&expired, "text");
    text.expect_code(1);
    assert!(
        text.stdout.contains(
            "warning: scan.ignore: the ignore of CVE-2024-3094 expired and no longer applies"
        ),
        "{text:#?}"
    );

    // Stale: an ignore that matches no finding passes, with a warning to tidy up.
    let run = gate(&stale, "json");
    run.expect_code(0);
    let report = run.json();
    assert_eq!(
        ignore_ids(&report, "stale_ignores"),
        ["CVE-2014-0160"],
        "{report:#}"
    );
    let text = gate(&stale, "text");
    text.expect_code(0);
    assert!(
        text.stdout.contains(
            "warning: scan.ignore: the ignore of CVE-2014-0160 matches no finding of this image"
        ),
        "{text:#?}"
    );
    let github = gate(&stale, "github");
    github.expect_code(0);
    assert!(
        github.stdout.contains(
            "::warning title=ecr-steward%3A scan::scan.ignore: the ignore of CVE-2014-0160 matches no finding of this image"
        ),
        "{github:#?}"
    );
}

#[tokio::test]
async fn a_tag_the_policy_denies_fails_the_gate_despite_a_clean_scan() {
    let bed = Bed::start();
    // One image under 1.2.3 and latest (same seed, same digest).
    let spec = labelled(
        PushSpec::new(REGION, REPOSITORY).seed("gate-latest"),
        "1.2.3",
    );
    let release = bed.stack.push_image(&spec.clone().tag("1.2.3"));
    let latest = bed.stack.push_image(&spec.tag("latest"));
    assert_eq!(release.digest, latest.digest);
    bed.stack.scan(&ScanResult::complete(&latest)).await;

    let run = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "latest",
        "--format",
        "json",
    ]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(report["compliant"], false, "{report:#}");
    assert_eq!(report["scan"]["passed"], true, "{report:#}");
    assert_eq!(report["results"].as_array().map(Vec::len), Some(1));
    let result = &report["results"][0];
    assert_eq!(result["tag"], "latest");
    assert_eq!(result["compliant"], false);
    assert_eq!(
        result["violations"][0]["rule"], "tag.literals.deny",
        "{report:#}"
    );

    // The compliant tag of the same image passes; by digest, every tag is judged.
    bed.gate(&["--repository", REPOSITORY, "--tag", "1.2.3"])
        .expect_code(0);
    let run = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--digest",
        &latest.digest,
        "--format",
        "json",
    ]);
    run.expect_code(1);
    let report = run.json();
    let mut judged: Vec<(&str, bool)> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["tag"].as_str().unwrap_or(""), r["compliant"] == true))
        .collect();
    judged.sort_unstable();
    assert_eq!(judged, [("1.2.3", true), ("latest", false)], "{report:#}");
}

#[tokio::test]
async fn gate_waits_for_a_scan_that_completes() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", Some(true)).await;

    let running = Running::spawn(bed.command(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--wait",
        "40s",
        "--format",
        "json",
    ]));
    tokio::time::sleep(Duration::from_secs(2)).await;
    bed.stack.scan(&critical_scan(&image)).await;
    let run = running.finish();

    run.expect_code(1);
    assert!(
        run.elapsed < Duration::from_secs(20),
        "the gate should see the result at its next poll: {run:#?}"
    );
    assert!(
        run.elapsed >= Duration::from_secs(2),
        "the gate cannot finish before the scan: {run:#?}"
    );
    let report = run.json();
    assert_eq!(report["scan"]["state"], "complete", "{report:#}");
    assert_eq!(breached_severities(&report), ["CRITICAL"], "{report:#}");
}

#[tokio::test]
async fn gate_times_out_on_a_scan_that_never_completes() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", Some(true)).await;

    // Scan on push, but no scan yet: the gate keeps waiting, then gives up.
    let run = bed.gate(&["--repository", REPOSITORY, "--tag", "1.2.3", "--wait", "3s"]);
    run.expect_code(3);
    // It says what it waits for, in what unit, and that it is still waiting.
    assert!(
        run.stderr.contains(&format!(
            "gate: waiting up to 3s for the scan of {REPOSITORY}:1.2.3"
        )),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("is still in progress,") && run.stderr.contains("waited of 3s"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains(&format!(
            "error: the scan of {REPOSITORY}@{}: did not complete within 3s",
            image.digest
        )),
        "{run:#?}"
    );
    // The report is printed all the same, in the format asked for; a scan not yet complete
    // is neither passed nor failed.
    assert!(run.stdout.contains("WAIT scan"), "{run:#?}");
    assert!(
        run.stdout.contains("1 compliant, 0 not; scan not complete"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("scan: the scan did not complete within 3s"),
        "{run:#?}"
    );
    assert!(
        run.elapsed >= Duration::from_secs(3) && run.elapsed < Duration::from_secs(20),
        "{run:#?}"
    );

    // A scan that stays in progress: the same, and at once without --wait.
    bed.stack
        .scan(&ScanResult::complete(&image).status("IN_PROGRESS", "The scan is in progress."))
        .await;
    let run = bed.gate(&["--repository", REPOSITORY, "--tag", "1.2.3", "--wait", "2s"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("did not complete within 2s"),
        "{run:#?}"
    );
    assert!(run.elapsed >= Duration::from_secs(2), "{run:#?}");
    let run = bed.gate(&["--repository", REPOSITORY, "--tag", "1.2.3"]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("did not complete yet; pass --wait 10m to wait for it"),
        "{run:#?}"
    );
    let json = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--format",
        "json",
    ]);
    json.expect_code(3);
    let report = json.json();
    assert_eq!(report["compliant"], false, "{report:#}");
    assert_eq!(report["scan"]["state"], "in-progress", "{report:#}");
    assert!(
        report["scan"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("did not complete yet")),
        "{report:#}"
    );
}

#[tokio::test]
async fn gate_stops_at_once_when_scanning_is_off_and_still_reports_the_tags() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", Some(false)).await;

    let run = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--wait",
        "30s",
    ]);

    // The tag passes, the scan cannot be judged: exit 2, with the whole report.
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "error: the scan of {REPOSITORY}@{}: scanning is off: scan-on-push is disabled for {REPOSITORY} and the image was never scanned",
            image.digest
        )),
        "{run:#?}"
    );
    assert!(run.stderr.contains("start-image-scan"), "{run:#?}");
    assert!(run.stdout.contains("ok   1.2.3"), "{run:#?}");
    assert!(run.elapsed < Duration::from_secs(10), "no wait: {run:#?}");

    // A denied tag is a failure whatever the scan: exit 1, and the tag's verdict is there.
    bed.push(REPOSITORY, "latest", None).await;
    let run = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "latest",
        "--format",
        "json",
    ]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(report["results"][0]["tag"], "latest", "{report:#}");
    assert_eq!(report["results"][0]["compliant"], false, "{report:#}");
    assert_eq!(report["scan"]["status"], "SCANNING_OFF", "{report:#}");
}

#[tokio::test]
async fn gate_failed_scans_fail_the_gate() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", None).await;
    bed.stack
        .scan(&ScanResult::complete(&image).status(
            "UNSUPPORTED_IMAGE",
            "The operating system and/or package manager are not supported.",
        ))
        .await;

    let run = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--format",
        "json",
    ]);

    run.expect_code(1);
    let report = run.json();
    assert_eq!(report["scan"]["passed"], false, "{report:#}");
    assert_eq!(report["scan"]["state"], "failed", "{report:#}");
    assert_eq!(report["scan"]["status"], "UNSUPPORTED_IMAGE", "{report:#}");
    assert!(report["scan"].get("verdict").is_none(), "{report:#}");
    let text = bed.gate(&["--repository", REPOSITORY, "--tag", "1.2.3"]);
    text.expect_code(1);
    assert!(
        text.stdout.contains(
            "scan.state: the scan ended with UNSUPPORTED_IMAGE: The operating system and/or package manager are not supported."
        ),
        "{text:#?}"
    );
}

#[test]
fn gate_needs_a_tag_or_a_digest() {
    // No stack: the arguments are refused before any AWS call.
    let run = Running::spawn({
        let mut command = Command::new(function_binary("ecr-steward"));
        command
            .env_clear()
            .args(["gate", "--repository", REPOSITORY]);
        command
    })
    .finish();
    run.expect_code(2);
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert!(run.stderr.contains("--tag"), "{run:#?}");
    assert!(run.stderr.contains("--digest"), "{run:#?}");

    let run = Running::spawn({
        let mut command = Command::new(function_binary("ecr-steward"));
        command.env_clear().args([
            "gate",
            "--repository",
            REPOSITORY,
            "--tag",
            "1.2.3",
            "--wait",
            "soon",
        ]);
        command
    })
    .finish();
    run.expect_code(2);
    assert!(run.stderr.contains("is not a duration"), "{run:#?}");
}

#[tokio::test]
async fn a_missing_image_is_a_usage_error() {
    let bed = Bed::start();
    bed.push(REPOSITORY, "1.2.3", None).await;

    let run = bed.gate(&["--repository", REPOSITORY, "--tag", "9.9.9"]);
    run.expect_code(2);
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("error: {REPOSITORY}:9.9.9 not found in ECR")),
        "{run:#?}"
    );

    let run = bed.gate(&["--repository", "team/nothing", "--tag", "1.2.3"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("error: team/nothing:1.2.3 not found in ECR"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn github_and_junit_formats_report_the_scan() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", None).await;
    bed.stack.scan(&critical_scan(&image)).await;

    let github = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--format",
        "github",
    ]);
    github.expect_code(1);
    let errors: Vec<&str> = github
        .stdout
        .lines()
        .filter(|line| line.starts_with("::error "))
        .collect();
    assert_eq!(
        errors,
        ["::error title=ecr-steward%3A scan::scan.thresholds: CRITICAL 1 findings, 0 allowed"],
        "{github:#?}"
    );
    assert!(
        github
            .stdout
            .contains("ecr-steward: 1 of 1 tags compliant; scan failed"),
        "{github:#?}"
    );

    let junit = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--format",
        "junit",
    ]);
    junit.expect_code(1);
    let xml = &junit.stdout;
    assert!(xml.starts_with("<?xml"), "{junit:#?}");
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{junit:#?}");
    assert!(
        xml.contains("<testcase classname=\"team/app\" name=\"1.2.3\"/>"),
        "{junit:#?}"
    );
    let scan_case = xml
        .split("<testcase ")
        .find(|case| case.contains("name=\"scan\""))
        .unwrap_or_else(|| panic!("no testcase named scan: {junit:#?}"));
    assert!(
        scan_case.starts_with("classname=\"team/app\""),
        "{scan_case}"
    );
    assert!(
        scan_case.contains(
            "<failure type=\"scan\" message=\"scan.thresholds: CRITICAL 1 findings, 0 allowed\">"
        ),
        "{scan_case}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"), "{junit:#?}");
}

/// Registry-level basic scanning (`PutRegistryScanningConfiguration` with a `SCAN_ON_PUSH`
/// filter) scans the repository on push even though its own, legacy `scanOnPush` is off.
#[tokio::test]
async fn registry_level_scan_on_push_is_waited_for() {
    use aws_sdk_ecr::types::{
        RegistryScanningRule, ScanFrequency, ScanType, ScanningRepositoryFilter,
        ScanningRepositoryFilterType,
    };
    let bed = Bed::start();
    let filter = ScanningRepositoryFilter::builder()
        .filter("team/*")
        .filter_type(ScanningRepositoryFilterType::Wildcard)
        .build()
        .expect("a filter");
    let rule = RegistryScanningRule::builder()
        .scan_frequency(ScanFrequency::ScanOnPush)
        .repository_filters(filter)
        .build()
        .expect("a rule");
    bed.stack
        .ecr(REGION)
        .put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .rules(rule)
        .send()
        .await
        .expect("PutRegistryScanningConfiguration");
    let image = bed.push(REPOSITORY, "1.2.3", Some(false)).await;

    let running = Running::spawn(bed.command(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--wait",
        "40s",
    ]));
    tokio::time::sleep(Duration::from_secs(2)).await;
    bed.stack.scan(&critical_scan(&image)).await;
    let run = running.finish();

    run.expect_code(1);
    assert!(
        run.stdout
            .contains("scan.thresholds: CRITICAL 1 findings, 0 allowed"),
        "{run:#?}"
    );
}

/// The GitHub Action's run: annotations on stdout and the job summary in markdown, from one
/// gate (`--format github --summary FILE`): the tags, the counts against the bar, the top
/// findings.
#[tokio::test]
async fn one_run_gives_annotations_and_a_markdown_job_summary() {
    let bed = Bed::start();
    let image = bed.push(REPOSITORY, "1.2.3", None).await;
    bed.stack.scan(&critical_scan(&image)).await;
    let summary = bed.dir.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").expect("an earlier step's summary");

    let run = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--format",
        "github",
        "--summary",
        summary.to_str().expect("utf-8 path"),
    ]);
    run.expect_code(1);
    assert!(
        run.stdout.contains(
            "::error title=ecr-steward%3A scan::scan.thresholds: CRITICAL 1 findings, 0 allowed"
        ),
        "{run:#?}"
    );
    let markdown = std::fs::read_to_string(&summary).expect("the summary");
    assert!(
        markdown.starts_with("earlier step\n"),
        "appended: {markdown}"
    );
    for expected in [
        "### ❌ ecr-steward gate team/app: 1 of 1 tag compliant, scan failed",
        "| ✅ | 1.2.3 | team/app | semver | default |  |",
        "#### ❌ Scan: failed",
        "| CRITICAL | 1 | 1 | ❌ 0 allowed |",
        "| HIGH | 2 | 2 |  |",
        "- ❌ scan.thresholds: CRITICAL 1 findings, 0 allowed",
        "| CRITICAL | [CVE-2024-3094](https://security-tracker.debian.org/tracker/CVE-2024-3094) | xz-utils | 5.6.0 |",
    ] {
        assert!(
            markdown.contains(expected),
            "{expected:?} missing:\n{markdown}"
        );
    }
    assert_eq!(
        markdown.matches(image.digest.as_str()).count(),
        1,
        "the digest once: {markdown}"
    );

    // --format markdown alone prints the same document.
    let alone = bed.gate(&[
        "--repository",
        REPOSITORY,
        "--tag",
        "1.2.3",
        "--format",
        "markdown",
    ]);
    alone.expect_code(1);
    assert_eq!(
        alone.stdout.trim(),
        markdown.trim_start_matches("earlier step\n").trim()
    );
}

/// A repository no rule governs passes unjudged, with a warning; --strict fails it.
#[tokio::test]
async fn strict_fails_a_repository_no_rule_governs() {
    let bed = Bed::start();
    let image = bed.push("other/app", "1.2.3", Some(true)).await;
    bed.stack.scan(&ScanResult::complete(&image)).await;
    let policy = bed.policy(
        "team.yaml",
        "version: 1\nrules:\n  - repositories: [\"team/*\"]\n    tags: { semver: {} }\n",
    );
    let args = [
        "--repository",
        "other/app",
        "--tag",
        "1.2.3",
        "--policy",
        policy.as_str(),
    ];
    let run = bed.gate(&args);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("no rule of the policy matches repository `other/app`"),
        "{run:#?}"
    );
    let mut strict = args.to_vec();
    strict.push("--strict");
    bed.gate(&strict).expect_code(1);
}

/// A policy whose release tags need what `provenance` (YAML lines under `provenance:`) says,
/// with the fixtures' cosign key and Notation root as the named signers. Not ECR managed
/// signing: moto has no DescribeImageSigningStatus (it answers 500); the port's fake covers it.
fn provenance_policy(bed: &Bed, name: &str, provenance: &str) -> String {
    let indent = |file: &str| -> String {
        std::fs::read_to_string(testbed::provenance_fixture(file))
            .expect("fixture")
            .lines()
            .map(|l| format!("          {l}\n"))
            .collect()
    };
    bed.policy(
        name,
        &format!(
            "version: 1\nrules:\n  - name: releases\n    repositories: ['team/**']\n    tags:\n      semver: {{}}\n    provenance:\n      tags: [semver]\n      schemes: [notation, cosign]\n{provenance}      cosign_keys:\n        - |\n{}      trust_store:\n        - |\n{}",
            indent("cosign.pub"),
            indent("notation-root.crt")
        ),
    )
}

fn gate_json(bed: &Bed, policy: &str, image: &PushedImage) -> Run {
    bed.gate(&[
        "--repository",
        &image.repository,
        "--digest",
        &image.digest,
        "--policy",
        policy,
        "--format",
        "json",
    ])
}

fn sign(bed: &Bed, image: &str, digest: &str, scheme: &str, extra: &[&str]) {
    let mut args = vec![
        "--region",
        REGION,
        "--repository",
        image,
        "--digest",
        digest,
        "--scheme",
        scheme,
    ];
    args.extend_from_slice(extra);
    testbed::sign_image(&bed.stack, &args);
}

/// A release signed with cosign by the configured key passes; unsigned, signed by a stranger,
/// or tampered with after signing, it fails, and the report says why. Real P-256 keys, cosign's
/// tag scheme (`sha256-<hex>.sig`), on the registry without the referrers API and on the one
/// with it.
#[tokio::test]
async fn a_release_passes_only_with_a_valid_signature_by_the_configured_key() {
    for flavor in testbed::Flavor::ALL {
        let bed = Bed {
            stack: Stack::start_flavored(flavor, &[]),
            dir: tempfile::tempdir().expect("a directory for policies"),
        };
        let policy = provenance_policy(&bed, "signed.yaml", "      require: [signature]\n");
        let image = bed.push(REPOSITORY, "2.0.0", None).await;
        bed.stack.scan(&ScanResult::complete(&image)).await;

        let unsigned = gate_json(&bed, &policy, &image);
        unsigned.expect_code(1);
        let report = unsigned.json();
        assert_eq!(report["provenance"]["state"], "missing", "{report:#}");
        assert_eq!(
            report["scan"]["passed"], true,
            "only provenance fails: {report:#}"
        );

        let stranger = testbed::provenance_fixture("stranger.key");
        sign(
            &bed,
            REPOSITORY,
            &image.digest,
            "cosign-sig",
            &["--key", &stranger],
        );
        let by_stranger = gate_json(&bed, &policy, &image);
        by_stranger.expect_code(1);
        let text = by_stranger.stdout.clone();
        assert!(
            text.contains("does not verify with any key of the rule"),
            "{flavor:?}: {text}"
        );
        // As the GitHub Action reports it (its default format): an annotation that says why.
        let annotated = bed.gate(&[
            "--repository",
            REPOSITORY,
            "--digest",
            &image.digest,
            "--policy",
            &policy,
            "--format",
            "github",
        ]);
        annotated.expect_code(1);
        assert!(
            annotated
                .stdout
                .contains("::error title=ecr-steward%3A provenance::")
                && annotated.stdout.contains("; provenance failed"),
            "{annotated:#?}"
        );

        sign(&bed, REPOSITORY, &image.digest, "cosign-sig", &[]);
        let signed = gate_json(&bed, &policy, &image);
        signed.expect_code(0);
        let report = signed.json();
        assert_eq!(report["provenance"]["state"], "satisfied", "{report:#}");
        let by = report["provenance"]["images"][0]["satisfied"]["signature"]
            .as_str()
            .unwrap_or_default();
        assert!(
            by.starts_with("cosign signature (sha256-") && by.contains("verified: sha256:"),
            "{by}"
        );

        // An SBOM attestation (DSSE, in-toto, SPDX predicate) by the key: an attestation and
        // an SBOM both; the stranger's does not count.
        let attested = provenance_policy(
            &bed,
            "attested.yaml",
            "      require: [attestation, sbom]\n",
        );
        sign(
            &bed,
            REPOSITORY,
            &image.digest,
            "cosign-att",
            &["--key", &stranger, "--predicate-type", "spdx"],
        );
        gate_json(&bed, &attested, &image).expect_code(1);
        sign(
            &bed,
            REPOSITORY,
            &image.digest,
            "cosign-att",
            &["--predicate-type", "spdx"],
        );
        let run = gate_json(&bed, &attested, &image);
        run.expect_code(0);
        let report = run.json();
        let by = report["provenance"]["images"][0]["satisfied"]["attestation"]
            .as_str()
            .unwrap_or_default();
        assert!(
            by.starts_with("cosign attestation (sha256-") && by.contains("spdx"),
            "{report:#}"
        );

        let other = bed.push(REPOSITORY, "2.0.1", None).await;
        bed.stack.scan(&ScanResult::complete(&other)).await;
        sign(&bed, REPOSITORY, &other.digest, "cosign-sig", &["--tamper"]);
        let tampered = bed.gate(&[
            "--repository",
            REPOSITORY,
            "--tag",
            "2.0.1",
            "--policy",
            &policy,
        ]);
        tampered.expect_code(1);
        assert!(tampered.stdout.contains("FAIL provenance"), "{tampered:#?}");
    }
}

/// A multi-platform release signed with Notation (a real certificate chain to the trust
/// store's root): signing the index alone does not satisfy `scope: platforms`, each platform
/// signed does; `scope: index` takes the index's signature. An SBOM attached as oras does is
/// found per platform; an untrusted chain does not count.
#[tokio::test]
async fn notation_signatures_per_platform_of_an_index() {
    let bed = Bed {
        stack: Stack::start_flavored(testbed::Flavor::Oci11, &[]),
        dir: tempfile::tempdir().expect("a directory for policies"),
    };
    let each = provenance_policy(&bed, "each.yaml", "      require: [signature, sbom]\n");
    let index_only = provenance_policy(
        &bed,
        "index.yaml",
        "      require: [signature]\n      scope: index\n",
    );
    let image = bed.stack.push_image(&labelled(
        PushSpec::new(REGION, REPOSITORY)
            .tag("3.0.0")
            .platform("linux/amd64")
            .platform("linux/arm64"),
        "3.0.0",
    ));
    assert_eq!(image.children.len(), 2, "{image:?}");
    bed.stack.scan(&ScanResult::complete(&image)).await;
    let leaf = testbed::provenance_fixture("notation-leaf.key");
    let chain = [
        testbed::provenance_fixture("notation-leaf.crt"),
        testbed::provenance_fixture("notation-root.crt"),
    ];
    let notation = |digest: &str| {
        sign(
            &bed,
            REPOSITORY,
            digest,
            "notation",
            &[
                "--key",
                &leaf,
                "--cert-chain",
                &chain[0],
                "--cert-chain",
                &chain[1],
            ],
        );
    };
    notation(&image.digest);
    gate_json(&bed, &index_only, &image).expect_code(0);
    let index_signed = gate_json(&bed, &each, &image);
    index_signed.expect_code(1);
    let report = index_signed.json();
    assert_eq!(
        report["provenance"]["images"].as_array().map(Vec::len),
        Some(2),
        "{report:#}"
    );

    // An untrusted chain on a platform image does not count.
    let untrusted = [
        testbed::provenance_fixture("untrusted-leaf.key"),
        testbed::provenance_fixture("untrusted-leaf.crt"),
        testbed::provenance_fixture("untrusted-root.crt"),
    ];
    for child in &image.children {
        sign(
            &bed,
            REPOSITORY,
            child,
            "notation",
            &[
                "--key",
                &untrusted[0],
                "--cert-chain",
                &untrusted[1],
                "--cert-chain",
                &untrusted[2],
            ],
        );
        sign(&bed, REPOSITORY, child, "sbom-spdx", &[]);
    }
    let untrusted_run = gate_json(&bed, &each, &image);
    untrusted_run.expect_code(1);
    assert!(
        untrusted_run
            .stdout
            .contains("no certificate of the trust store"),
        "{untrusted_run:#?}"
    );

    for child in &image.children {
        notation(child);
    }
    let run = gate_json(&bed, &each, &image);
    run.expect_code(0);
    let report = run.json();
    for platform in report["provenance"]["images"].as_array().expect("images") {
        assert!(
            platform["platform"]
                .as_str()
                .is_some_and(|p| p.starts_with("linux/")),
            "{report:#}"
        );
        assert!(
            platform["satisfied"]["sbom"]
                .as_str()
                .is_some_and(|s| s.contains("application/spdx+json")),
            "{report:#}"
        );
        assert!(
            platform["satisfied"]["signature"]
                .as_str()
                .is_some_and(|s| s.contains("test notation leaf")),
            "{report:#}"
        );
    }

    // --require-provenance where the rule's provenance does not ask for this tag.
    let plain = bed.policy(
        "plain.yaml",
        "version: 1\nrules:\n  - name: any\n    tags:\n      semver: {}\n    provenance:\n      tags: ['release-*']\n      require: [signature]\n      schemes: [notation]\n",
    );
    let args = [
        "--repository",
        REPOSITORY,
        "--tag",
        "3.0.0",
        "--policy",
        &plain,
        "--format",
        "json",
    ];
    let run = bed.gate(&args);
    run.expect_code(0);
    assert!(run.json().get("provenance").is_none(), "{run:#?}");
    let mut required = args.to_vec();
    required.push("--require-provenance");
    let run = bed.gate(&required);
    run.expect_code(0);
    assert_eq!(run.json()["provenance"]["state"], "satisfied");
}
