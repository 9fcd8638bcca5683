//! The shell completions and man pages as a user gets them: `ecr-steward completions bash`
//! sourced into a real bash and asked to complete, `ecr-steward man` against the shipped pages.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn steward() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("ecr-steward").expect("the binary");
    command.env_remove("STEWARD_POLICY_FILE");
    command
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What bash offers for the words typed so far (the last is the word being completed).
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\n_ecr__steward ecr-steward '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words[cword],
        words[cword.saturating_sub(1)],
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_the_flags_of_subcommands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("ecr-steward.bash");
    let printed = steward()
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert_eq!(printed.status.code(), Some(0));
    std::fs::write(&script, &printed.stdout).expect("write");
    let shipped = std::fs::read(repo_root().join("docs/completions/ecr-steward.bash"))
        .expect("the shipped script");
    assert_eq!(
        printed.stdout, shipped,
        "the shipped script is the printed one"
    );

    for (words, expected) in [
        (&["ecr-steward", "ch"][..], "check"),
        (&["ecr-steward", "audit", "--st"], "--strict"),
        (&["ecr-steward", "gate", "--"], "--wait"),
        (&["ecr-steward", "policy", "validate", "--"], "--strict"),
        (
            &["ecr-steward", "policy", "parameter", "--format", ""],
            "sam",
        ),
        (&["ecr-steward", "replicate", "--"], "--dry-run"),
    ] {
        let offered = bash_completes(&script, words);
        assert!(
            offered.iter().any(|o| o == expected),
            "{words:?}: {offered:?} lacks {expected}"
        );
    }
}

#[test]
fn man_prints_the_shipped_pages() {
    for (words, page) in [
        (&[][..], "ecr-steward.1"),
        (&["gate"], "ecr-steward-gate.1"),
        (&["policy", "validate"], "ecr-steward-policy-validate.1"),
    ] {
        let printed = steward().arg("man").args(words).output().expect("runs");
        assert_eq!(printed.status.code(), Some(0), "{words:?}");
        let shipped = std::fs::read(repo_root().join("docs/man").join(page)).expect(page);
        assert_eq!(printed.stdout, shipped, "{page}");
    }
    steward()
        .args(["man", "policy", "nope"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "no command `nope`; commands here: validate, parameter, show-default",
        ));
}

/// A reader that closes the pipe early (`| head`) ends the command quietly, not with a panic.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecr-steward"))
        .args(["policy", "show-default"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // Closed before the process has started to write.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        output.status.code(),
        Some(141),
        "as a shell reports SIGPIPE: {stderr}"
    );
}
