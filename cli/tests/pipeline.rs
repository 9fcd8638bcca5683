//! What the CI plugin adds to the CLI, run as a pipeline runs it: `check --format markdown`,
//! `--summary FILE` beside another format in one run, and `iam pipeline`.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn steward() -> Command {
    let mut command = Command::cargo_bin("ecr-steward").expect("the binary is built");
    command
        .env_remove("ECR_STEWARD_POLICY")
        .env_remove("STEWARD_POLICY_FILE")
        .env_remove("NO_COLOR");
    command
}

#[test]
fn check_renders_a_markdown_table_of_tags_kinds_verdicts_and_violations() {
    let output = steward()
        .args([
            "check",
            "--repository",
            "team/web",
            "--tag",
            "1.2.3",
            "--tag",
            "latest",
        ])
        .args(["--format", "markdown"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let markdown = String::from_utf8(output.stdout).expect("UTF-8");
    assert_eq!(
        markdown.lines().take(7).collect::<Vec<_>>(),
        [
            "### ❌ ecr-steward check: 1 of 2 tags compliant",
            "",
            "Policy: the built-in policy. Labels were not checked (pass `--labels` to check them).",
            "",
            "| | tag | repository | kind | rule | findings |",
            "|---|---|---|---|---|---|",
            "| ✅ | 1.2.3 | team/web | semver | default |  |",
        ]
    );
    assert!(
        markdown.contains("| ❌ | latest | team/web | literal | default | **tag.literals.deny**: "),
        "{markdown}"
    );
}

#[test]
fn markdown_escapes_what_comes_from_the_input() {
    // Not a valid tag, so it is reported as written: its table and HTML syntax is escaped.
    let output = steward()
        .args(["check", "--tag", "a|b<img src=x>", "--format", "markdown"])
        .output()
        .expect("runs");
    let markdown = String::from_utf8(output.stdout).expect("UTF-8");
    let row = markdown
        .lines()
        .find(|line| line.contains("invalid"))
        .unwrap_or_else(|| panic!("no row: {markdown}"));
    assert!(
        row.starts_with("| ❌ | a\\|b\\<img src=x\\> |  | invalid |"),
        "{row}"
    );
    let unescaped = markdown
        .match_indices('<')
        .filter(|(at, _)| !markdown[..*at].ends_with('\\'))
        .count();
    assert_eq!(unescaped, 0, "an HTML tag would render: {markdown}");
}

#[test]
fn summary_appends_markdown_while_the_format_asked_for_goes_to_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "# Build\n").expect("an earlier summary");
    let output = steward()
        .args(["check", "--tag", "latest", "--format", "json", "--summary"])
        .arg(&summary)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&output.stdout).expect("stdout is the JSON report");
    assert_eq!(json["compliant"], false);
    let markdown = std::fs::read_to_string(&summary).expect("summary");
    assert!(
        markdown.starts_with("# Build\n### ❌ ecr-steward check: 0 of 1 tag compliant"),
        "{markdown}"
    );

    // A summary that cannot be written is an error (exit 2) that names it.
    steward()
        .args(["check", "--tag", "1.2.3", "--summary"])
        .arg(dir.path().join("missing-dir/summary.md"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot open --summary"));
}

#[test]
fn iam_pipeline_prints_a_policy_document_and_says_what_it_widened() {
    let output = steward()
        .args(["iam", "pipeline", "--repository", "team/*", "--gate"])
        .args(["--account", "123456789012", "--region", "eu-west-1"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let policy: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert_eq!(
        sids,
        [
            "EcrAuthorizationToken",
            "PushImages",
            "GateReadImagesAndScans",
            "GateReadScanSettings"
        ]
    );
    assert_eq!(
        policy["Statement"][1]["Resource"][0],
        "arn:aws:ecr:eu-west-1:123456789012:repository/team/*"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`team/*`: IAM's `*` and `?` also match `/`"),
        "{stderr}"
    );
    assert!(!stderr.contains("no --account"), "{stderr}");

    // Without --account: any account, and a note that says so.
    steward()
        .args(["iam", "pipeline", "--repository", "team/web"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "arn:aws:ecr:*:*:repository/team/web",
        ))
        .stderr(predicate::str::contains("no --account"));
}

#[test]
fn iam_pipeline_refuses_bad_input_with_usage_errors() {
    steward()
        .args(["iam", "pipeline"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--repository <GLOB>"));
    steward()
        .args([
            "iam",
            "pipeline",
            "--repository",
            "team/web",
            "--account",
            "12345",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a 12-digit AWS account id"));
    steward()
        .args(["iam", "pipeline", "--repository", "Team/Web"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "repository glob \"Team/Web\" has 'T'",
        ));
}
