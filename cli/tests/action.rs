//! The GitHub Action (action.yml) runs its step script as a runner would: the inputs as
//! INPUT_* variables, RUNNER_TEMP and GITHUB_OUTPUT set, ecr-steward on PATH.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn run_step(inputs: &[(&str, &str)]) -> (i32, String, String) {
    run_step_with(inputs, None)
}

/// Runs the step; with `summary`, GITHUB_STEP_SUMMARY names that file as on a runner.
fn run_step_with(inputs: &[(&str, &str)], summary: Option<&Path>) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let action: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("action.yml")).expect("action.yml"),
    )
    .expect("YAML");
    let steps = action["runs"]["steps"].as_sequence().expect("steps");
    let step = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("run"))
        .expect("the run step");
    let script = step["run"].as_str().expect("script");
    let temp = tempfile::tempdir().expect("tempdir");
    let output_file = temp.path().join("github_output");
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_ecr-steward"));
    let path = format!(
        "{}:{}",
        binary.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .args(["-e", "-c", script])
        .env("PATH", path)
        .env("RUNNER_TEMP", temp.path())
        .env("GITHUB_OUTPUT", &output_file)
        .env_remove("ECR_STEWARD_POLICY")
        .env_remove("STEWARD_POLICY_FILE");
    let defaults = [
        ("COMMAND", "check"),
        ("FORMAT", "github"),
        ("TAGS", ""),
        ("LABELS", ""),
        ("REPOSITORY", ""),
        ("TAG", ""),
        ("POLICY", ""),
        ("WAIT", ""),
        ("REGIONS", ""),
        ("SUMMARY", "true"),
    ];
    for (name, value) in defaults {
        command.env(format!("INPUT_{name}"), value);
    }
    for (name, value) in inputs {
        command.env(format!("INPUT_{name}"), value);
    }
    command.env_remove("GITHUB_STEP_SUMMARY");
    if let Some(summary) = summary {
        command.env("GITHUB_STEP_SUMMARY", summary);
    }
    let output = command.output().expect("bash runs");
    let outputs = std::fs::read_to_string(&output_file).unwrap_or_default();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        outputs,
    )
}

#[test]
fn check_passes_metadata_action_outputs() {
    let (code, stdout, outputs) = run_step(&[
        ("TAGS", "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web:1.4.2\n123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web:sha-4f9c2e1"),
        ("LABELS", "org.opencontainers.image.source=https://github.com/example/web\norg.opencontainers.image.revision=4f9c2e1d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d\norg.opencontainers.image.created=2026-11-20T09:41:07Z"),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("ecr-steward: 2 of 2 tags compliant"),
        "{stdout}"
    );
    assert_eq!(outputs.trim(), "exit-code=0");
}

#[test]
fn check_fails_with_annotations_and_reports_the_exit_code() {
    let (code, stdout, outputs) = run_step(&[("TAGS", "team/web:latest")]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("::error title=ecr-steward%3A tag latest::"),
        "{stdout}"
    );
    assert!(
        stdout.contains("::notice title=ecr-steward::labels were not checked"),
        "{stdout}"
    );
    assert_eq!(outputs.trim(), "exit-code=1");
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let (code, stdout, _) = run_step(&[("COMMAND", "deploy")]);
    assert_eq!(code, 2);
    assert!(
        stdout.contains("::error::command must be check, gate or wait"),
        "{stdout}"
    );
}

#[test]
fn one_run_annotates_and_writes_the_job_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("step_summary.md");
    let (code, stdout, outputs) = run_step_with(
        &[("TAGS", "team/web:latest\nteam/web:1.4.2")],
        Some(&summary),
    );
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(outputs.trim(), "exit-code=1");
    assert!(
        stdout.contains("::error title=ecr-steward%3A tag latest::tag.literals.deny"),
        "{stdout}"
    );
    let markdown = std::fs::read_to_string(&summary).expect("the job summary");
    assert!(
        markdown.starts_with("### ❌ ecr-steward check: 1 of 2 tags compliant"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| ❌ | latest | team/web | literal | default | **tag.literals.deny**: tag \\`latest\\` is denied by rule \\`default\\` |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| ✅ | 1.4.2 | team/web | semver | default |  |"),
        "{markdown}"
    );

    // summary: false leaves the job summary alone.
    let untouched = dir.path().join("untouched.md");
    let (code, _, _) = run_step_with(
        &[("TAGS", "team/web:1.4.2"), ("SUMMARY", "false")],
        Some(&untouched),
    );
    assert_eq!(code, 0);
    assert!(!untouched.exists());
}
