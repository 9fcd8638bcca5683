//! The CI plugin's files, checked offline: actionlint (with shellcheck) on every workflow and,
//! through ci.yml's `uses: ./`, on action.yml; the recipes parse and wire their JUnit reports;
//! zizmor finds nothing of medium severity or above in the workflows, the action, the example
//! and the Dependabot configuration (scripts/check-ci does the work; see its header). And the IAM policy that
//! `ecr-steward iam pipeline` prints, inside a minimal CloudFormation template, through
//! cfn-lint, which knows every IAM action and the policy grammar.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use testbed::{function_binary, workspace_root};

fn check_ci(args: &[&str]) -> std::process::Output {
    Command::new(workspace_root().join("scripts/check-ci"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("scripts/check-ci runs")
}

#[test]
fn the_workflows_the_action_and_the_recipes_pass_their_checks() {
    let output = check_ci(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for check in [
        "ok   actionlint .github/workflows/ci.yml .github/workflows/release.yml examples/github-workflow.yml",
        "ok   shellcheck scripts/action/*",
        "ok   action.yml: metadata and shellcheck of its run: scripts",
        "ok   recipes: YAML and their JUnit reports",
        "ok   zizmor --offline --min-severity medium action.yml .github/workflows/ examples/github-workflow.yml .github/dependabot.yml",
        "ok   zizmor: every ignore comment says why",
    ] {
        assert!(stderr.contains(check), "{check:?} missing:\n{stderr}");
    }
}

/// The venv's bin directory, with cfn-lint.
fn tools() -> PathBuf {
    let output = check_ci(&["--install"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn pipeline_policy(args: &[&str]) -> Value {
    let output = Command::new(function_binary("ecr-steward"))
        .args(["iam", "pipeline"])
        .args(args)
        .output()
        .expect("ecr-steward runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("the policy is JSON")
}

/// cfn-lint on a template that holds `policy` as a managed policy: (passed with no error and
/// no warning, its output).
fn cfn_lint(tools: &std::path::Path, policy: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let template = dir.path().join("pipeline-policy.json");
    let document = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "PipelinePolicy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": { "PolicyDocument": policy }
            }
        }
    });
    std::fs::write(
        &template,
        serde_json::to_vec_pretty(&document).expect("JSON"),
    )
    .expect("write the template");
    let output = Command::new(tools.join("cfn-lint"))
        .arg(&template)
        .output()
        .expect("cfn-lint runs");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn the_pipeline_policy_passes_cfn_lint_and_a_wrong_action_does_not() {
    let tools = tools();
    let push = pipeline_policy(&["--repository", "team/web"]);
    let gate = pipeline_policy(&[
        "--repository",
        "team/**",
        "--repository",
        "base/app-?",
        "--gate",
        "--account",
        "123456789012",
        "--region",
        "eu-west-1",
    ]);
    assert_eq!(push["Statement"].as_array().map(Vec::len), Some(2));
    assert_eq!(gate["Statement"].as_array().map(Vec::len), Some(4));
    for policy in [&push, &gate] {
        let (passed, output) = cfn_lint(&tools, policy);
        assert!(passed, "{output}\n{policy:#}");
    }

    // The check can fail: a misspelt action is caught.
    let wrong: Value = serde_json::from_str(
        &gate
            .to_string()
            .replace("\"ecr:PutImage\"", "\"ecr:PutImages\""),
    )
    .expect("JSON");
    let (passed, output) = cfn_lint(&tools, &wrong);
    assert!(!passed, "cfn-lint passed ecr:PutImages:\n{output}");
    // W3037: cfn-lint names the unknown action, lowercased.
    assert!(
        output.contains("W3037 'putimages' is not one of"),
        "{output}"
    );
}
