//! `ecr-steward wait` against the test bed: a pipeline waits for the replica of a signed
//! multi-arch image (with every signature) before it deploys the second region.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

use std::process::{Command, Output, Stdio};

use serde_json::Value;
use steward::oci::copy::{copy_image, CopyOptions, Endpoint};
use testbed::{function_binary, push_artifacts, Flavor, Stack};

const SOURCE: &str = "us-east-1";
const DESTINATION: &str = "eu-west-1";

fn wait_command(stack: &Stack, args: &[&str]) -> Command {
    let mut command = Command::new(function_binary("ecr-steward"));
    command
        .arg("wait")
        .args(args)
        .env_clear()
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .envs(stack.env().iter().map(|(k, v)| (k, v)));
    command
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test]
async fn a_pipeline_waits_until_the_replica_and_its_signatures_are_there() {
    let stack = Stack::start_flavored(Flavor::Oci11, &[]);
    let signed = push_artifacts(
        &stack,
        &[
            "--region",
            SOURCE,
            "--shape",
            "cosign-recursive",
            "--repository",
            "team/web",
            "--tag",
            "1.4.2",
            "--no-ecr",
        ],
    )
    .remove(0);
    let args = [
        "--repository",
        "team/web",
        "--tag",
        "1.4.2",
        "--to",
        DESTINATION,
        "--format",
        "json",
    ];

    // Nothing there yet: one look, exit 3, and what is missing.
    let output = wait_command(&stack, &args)
        .args(["--timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let report = json(&output);
    assert_eq!(report["complete"], false);
    assert_eq!(report["digest"], signed.digest.as_str());
    let replica = &report["replicas"][0];
    assert_eq!(replica["region"], DESTINATION);
    assert_eq!(
        replica["gaps"]["missing"].as_array().unwrap().len(),
        signed.manifests.len(),
        "{report:#}"
    );

    // A wait started before the copy ends when the copy is complete.
    let waiting = wait_command(&stack, &args)
        .args(["--timeout", "60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let source = stack.registry_client(stack.registry(SOURCE));
    let destination = stack.registry_client(stack.registry(DESTINATION));
    copy_image(
        Endpoint {
            registry: &source,
            repository: "team/web",
        },
        Endpoint {
            registry: &destination,
            repository: "team/web",
        },
        &signed.digest,
        &["1.4.2".to_string()],
        &CopyOptions::default(),
    )
    .await
    .unwrap();
    let output = waiting.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report = json(&output);
    assert_eq!(report["complete"], true, "{report:#}");
    assert!(report["replicas"][0]["complete_after_ms"].as_u64().unwrap() >= 1000);

    // The GitHub Action's step, as a runner runs it, with `command: wait`.
    let (code, stdout, outputs) = action_wait(&stack, "team/web", "1.4.2", "eu-west-1");
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("is complete in 1 of 1 destination(s)"),
        "{stdout}"
    );
    assert_eq!(outputs.trim(), "exit-code=0");

    // A digest the tag does not name at the destination: the wait runs out.
    let output = wait_command(
        &stack,
        &[
            "--repository",
            "team/web",
            "--tag",
            "1.4.2",
            "--to",
            DESTINATION,
            "--digest",
            signed.manifests[1].digest.as_str(),
            "--timeout",
            "2s",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("tag 1.4.2 names"), "{text}");
    assert!(text.contains("the wait ran out"), "{text}");

    // A tag the source does not have is an error, not a wait.
    let output = wait_command(
        &stack,
        &[
            "--repository",
            "team/web",
            "--tag",
            "9.9.9",
            "--to",
            DESTINATION,
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not in us-east-1"),
        "{output:?}"
    );
}

/// Runs action.yml's `run` step with `command: wait`, the stack's environment, and the built
/// `ecr-steward` first on PATH: the exit code, stdout and the step's outputs.
fn action_wait(stack: &Stack, repository: &str, tag: &str, regions: &str) -> (i32, String, String) {
    let action: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(testbed::workspace_root().join("action.yml")).unwrap(),
    )
    .unwrap();
    let script = action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some("run"))
        .and_then(|s| s["run"].as_str())
        .unwrap()
        .to_string();
    let temp = tempfile::tempdir().unwrap();
    let outputs = temp.path().join("github_output");
    let binary = function_binary("ecr-steward");
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["-e", "-c", &script])
        .env_clear()
        .envs(stack.env().iter().map(|(k, v)| (k, v)))
        .env("PATH", path)
        .env("RUNNER_TEMP", temp.path())
        .env("GITHUB_OUTPUT", &outputs)
        .envs([
            ("INPUT_COMMAND", "wait"),
            ("INPUT_FORMAT", "github"),
            ("INPUT_TAGS", ""),
            ("INPUT_LABELS", ""),
            ("INPUT_REPOSITORY", repository),
            ("INPUT_TAG", tag),
            ("INPUT_POLICY", ""),
            ("INPUT_WAIT", "30s"),
            ("INPUT_REGIONS", regions),
            ("INPUT_SUMMARY", "true"),
        ])
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        std::fs::read_to_string(&outputs).unwrap_or_default(),
    )
}
