//! The CLI contract of `ecr-steward check` and `ecr-steward policy`, run as a user runs it.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

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

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

fn json_of(output: &[u8]) -> Value {
    serde_json::from_slice(output).expect("stdout is one JSON document")
}

fn run_json(args: &[&str]) -> (i32, Value) {
    let output = steward()
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    (output.status.code().unwrap_or(-1), json_of(&output.stdout))
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

#[test]
fn compliant_tags_exit_zero() {
    steward()
        .args(["check", "--tag", "1.2.3", "--tag", "sha-0a1b2c3"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "2 tags checked against the built-in policy: 2 compliant, 0 not",
        ))
        .stdout(predicate::str::contains("labels were not checked"));
}

#[test]
fn a_violating_tag_exits_one() {
    steward()
        .args(["check", "--tag", "1.2.3", "--tag", "latest"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL latest"))
        .stdout(predicate::str::contains(
            "tag.literals.deny: tag `latest` is denied",
        ));
}

#[test]
fn text_has_no_colour_when_not_a_terminal() {
    steward()
        .args(["check", "--tag", "latest"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\x1b[").not());
}

#[test]
fn json_output_follows_the_contract() {
    let (code, report) = run_json(&[
        "check", "--tag", "v1.2.3", "--tag", "main", "--tag", "0.9.0", "--tag", "a/b",
    ]);
    assert_eq!(code, 1);
    assert_eq!(report["compliant"], false);
    assert_eq!(report["labels_checked"], false);
    let results = report["results"].as_array().expect("results");
    let summary: Vec<(&str, &str, bool)> = results
        .iter()
        .map(|r| {
            (
                r["tag"].as_str().unwrap_or_default(),
                r["kind"].as_str().unwrap_or_default(),
                r["compliant"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("v1.2.3", "semver", true),
            ("main", "unmatched", false),
            ("0.9.0", "semver", true),
            ("a/b", "invalid", false)
        ]
    );
    assert_eq!(results[1]["violations"][0]["rule"], "tag.kinds");
    assert!(results[1]["violations"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("main"));
    assert_eq!(results[2]["warnings"][0]["rule"], "tag.semver.major_zero");
    assert_eq!(results[3]["violations"][0]["rule"], "tag.grammar");
}

#[test]
fn git_sha_kind_is_reported_as_git_sha() {
    let (code, report) = run_json(&["check", "--tag", "0123456789abcdef0123456789abcdef01234567"]);
    assert_eq!(
        (code, report["results"][0]["kind"].as_str()),
        (0, Some("git-sha"))
    );
}

#[test]
fn tags_file_reads_metadata_action_references_and_their_repository() {
    let policy = example("policy.yaml");
    let (code, report) = run_json(&[
        "check",
        "--policy",
        policy.to_str().unwrap_or_default(),
        "--tags-file",
        example("tags-bad.txt").to_str().unwrap_or_default(),
    ]);
    assert_eq!(code, 1);
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    assert!(results
        .iter()
        .all(|r| r["repository"] == "team/web" && r["rule"] == "services"));
    let failing: Vec<&str> = results
        .iter()
        .filter(|r| r["compliant"] == false)
        .filter_map(|r| r["tag"].as_str())
        .collect();
    assert_eq!(failing, ["latest", "main"]);
}

/// The same four tags as users hand them over: metadata-action's `tags` output, its `json`
/// output, with `sep-tags: ,`, a JSON list, and `--tag a,b`. Each is read as the same four.
#[test]
fn tags_are_read_in_every_form_metadata_action_and_people_write_them() {
    let policy = example("policy.yaml");
    let policy = policy.to_str().unwrap_or_default();
    let lines = std::fs::read_to_string(example("tags.txt")).expect("tags.txt");
    let tags: Vec<&str> = lines.lines().collect();
    let checked = |extra: &[&str], stdin: Option<String>| {
        let mut command = steward();
        command
            .args(["check", "--format", "json", "--policy", policy])
            .args(extra);
        if let Some(stdin) = stdin {
            command.write_stdin(stdin);
        }
        let output = command.output().expect("runs");
        let report = json_of(&output.stdout);
        let found: Vec<(String, String)> = report["results"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|r| {
                        (
                            r["repository"].as_str().unwrap_or_default().to_string(),
                            r["tag"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        (output.status.code(), found)
    };
    let expected = checked(&["--tags-file", "-"], Some(lines.clone()));
    assert_eq!(expected.0, Some(0));
    assert_eq!(expected.1.len(), 4, "{expected:?}");
    assert!(expected
        .1
        .iter()
        .all(|(repository, _)| repository == "team/web"));
    let json = example("metadata.json");
    let forms = [
        checked(&["--tags-file", json.to_str().unwrap_or_default()], None),
        checked(&["--tags-file", "-"], Some(tags.join(","))),
        checked(
            &["--tags-file", "-"],
            Some(format!("{}\n", tags.join(", "))),
        ),
        checked(
            &["--tags-file", "-"],
            Some(serde_json::to_string(&tags).unwrap_or_default()),
        ),
    ];
    for form in &forms {
        assert_eq!(form, &expected);
    }
    let bare = checked(
        &[
            "--repository",
            "team/web",
            "--tag",
            "v1.4.2,v1.4",
            "--tag",
            "v1,sha-4f9c2e1",
        ],
        None,
    );
    assert_eq!(bare, expected);

    // Another tool's file in the wrong option: the error names the right one.
    steward()
        .args(["check", "--policy", policy, "--tags-file"])
        .arg(example("labels.env"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("labels go to --labels"));
    steward()
        .args(["check", "--policy", policy, "--tags-file"])
        .arg(example("docker-inspect.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "these are labels: pass the file to --labels",
        ));
    steward()
        .args(["check", "--policy", policy, "--tag", "v1.4.2", "--labels"])
        .arg(example("tags.txt"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "these are tags: pass the file to --tags-file",
        ));
}

/// An env file as `export` lines with quoted values gives the same labels as plain lines.
#[test]
fn labels_from_an_env_file_with_export_and_quotes() {
    let policy = example("policy.yaml");
    let plain = std::fs::read_to_string(example("labels.env")).expect("labels.env");
    let exported: String = plain
        .lines()
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            format!("export {key}=\"{value}\"\n")
        })
        .collect();
    let run = |text: String| {
        let output = steward()
            .args([
                "check",
                "--format",
                "json",
                "--tag",
                "v1.4.2",
                "--repository",
                "team/web",
            ])
            .args([
                "--policy",
                policy.to_str().unwrap_or_default(),
                "--labels",
                "-",
            ])
            .write_stdin(text)
            .output()
            .expect("runs");
        (
            output.status.code(),
            json_of(&output.stdout)["results"].clone(),
        )
    };
    let (code, results) = run(plain);
    assert_eq!(run(exported), (code, results.clone()));
    assert!(
        results.to_string().contains("yesterday"),
        "the labels were read and judged: {results}"
    );
}

#[test]
fn tags_file_from_stdin_and_repository_override() {
    let policy = example("policy.yaml");
    let output = steward()
        .args([
            "check",
            "--format",
            "json",
            "--tags-file",
            "-",
            "--repository",
            "legacy/old",
        ])
        .args(["--policy", policy.to_str().unwrap_or_default()])
        .write_stdin("ghcr.io/team/web:latest\n\n# a comment\nv2.0.0\n")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let report = json_of(&output.stdout);
    assert_eq!(report["results"][0]["rule"], "legacy");
    assert_eq!(report["results"][0]["repository"], "legacy/old");
    assert_eq!(report["results"].as_array().map(Vec::len), Some(2));
}

#[test]
fn repository_picks_the_rule() {
    let policy = example("policy.yaml");
    let policy = policy.to_str().unwrap_or_default();
    steward()
        .args([
            "check",
            "--policy",
            policy,
            "--repository",
            "legacy/a",
            "--tag",
            "latest",
        ])
        .assert()
        .code(0);
    steward()
        .args([
            "check",
            "--policy",
            policy,
            "--repository",
            "team/a",
            "--tag",
            "latest",
        ])
        .assert()
        .code(1);
}

#[test]
fn policy_from_the_environment() {
    steward()
        .env("STEWARD_POLICY_FILE", example("policy.yaml"))
        .args(["check", "--repository", "legacy/a", "--tag", "latest"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("rule legacy"))
        .stderr(predicate::str::contains("deprecated").not());
}

#[test]
fn the_old_policy_variable_still_works_and_says_it_is_deprecated() {
    steward()
        .env("ECR_STEWARD_POLICY", example("policy.yaml"))
        .args(["check", "--repository", "legacy/a", "--tag", "latest"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("rule legacy"))
        .stderr(predicate::str::contains(
            "ECR_STEWARD_POLICY is deprecated; set STEWARD_POLICY_FILE instead",
        ));
}

#[test]
fn labels_in_every_format_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_values = write(
        &dir,
        "labels.env",
        "org.opencontainers.image.source=https://github.com/example/web\norg.opencontainers.image.revision=4f9c2e1d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d\norg.opencontainers.image.created=2026-11-20T09:41:07Z\n",
    );
    let sources = [
        example("metadata.json"),
        example("oci-config.json"),
        key_values,
    ];
    for source in &sources {
        let (code, report) = run_json(&[
            "check",
            "--tag",
            "sha-4f9c2e1",
            "--labels",
            source.to_str().unwrap_or_default(),
        ]);
        assert_eq!(code, 0, "{}: {report:#}", source.display());
        assert_eq!(report["labels_checked"], true);
    }
    // docker inspect output carries no `created` label here: the required check must say so.
    let (code, report) = run_json(&[
        "check",
        "--tag",
        "sha-4f9c2e1",
        "--labels",
        example("docker-inspect.json").to_str().unwrap_or_default(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        report["results"][0]["violations"][0]["rule"],
        "labels.required"
    );
    assert!(report["results"][0]["violations"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("org.opencontainers.image.created"));
}

#[test]
fn labels_from_stdin_are_checked_for_consistency() {
    let output = steward()
        .args(["check", "--tag", "sha-7777777", "--labels", "-", "--format", "json"])
        .write_stdin(
            "org.opencontainers.image.source=https://x.example/a\norg.opencontainers.image.revision=4f9c2e1d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d\norg.opencontainers.image.created=2026-11-20T09:41:07Z\n",
        )
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let report = json_of(&output.stdout);
    assert_eq!(
        report["results"][0]["violations"][0]["rule"],
        "labels.consistency.revision"
    );
}

#[test]
fn text_and_github_output_drop_bidirectional_controls_from_label_values() {
    let labels = "org.opencontainers.image.source=https://x.example/a\norg.opencontainers.image.revision=4f9c2e1d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d\norg.opencontainers.image.created=2026-11-20T09:41:07Z\norg.opencontainers.image.version=1.2.4\u{202E}\u{200B}\n";
    for format in ["text", "github"] {
        let output = steward()
            .args([
                "check", "--tag", "1.2.3", "--labels", "-", "--format", format,
            ])
            .write_stdin(labels)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(1), "{format}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("1.2.4"), "{format}: {stdout}");
        assert!(
            !stdout.contains('\u{202E}') && !stdout.contains('\u{200B}'),
            "{format}: {stdout:?}"
        );
    }
}

#[test]
fn github_format_prints_workflow_commands() {
    steward()
        .args([
            "check", "--tag", "latest", "--tag", "0.1.0", "--format", "github",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "::error title=ecr-steward%3A tag latest::tag.literals.deny: tag `latest` is denied",
        ))
        .stdout(predicate::str::contains(
            "::warning title=ecr-steward%3A tag 0.1.0::tag.semver.major_zero",
        ))
        .stdout(predicate::str::contains(
            "::notice title=ecr-steward::labels were not checked",
        ));
}

/// The labels are the image's: a problem with them is one annotation naming every tag it
/// touches, not one per tag.
#[test]
fn github_format_annotates_each_distinct_problem_once() {
    let output = steward()
        .args(["check", "--format", "github", "--repository", "team/web"])
        .args([
            "--policy",
            example("policy.yaml").to_str().unwrap_or_default(),
        ])
        .args([
            "--tag", "v1.4.2", "--tag", "v1.4", "--tag", "v1", "--tag", "latest",
        ])
        .args([
            "--labels",
            example("labels.env").to_str().unwrap_or_default(),
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    let distinct: std::collections::BTreeSet<&str> = annotations
        .iter()
        .filter_map(|l| {
            l.split_once("::")
                .and_then(|(_, rest)| rest.split_once("::"))
        })
        .map(|(_, message)| message)
        .collect();
    assert_eq!(distinct.len(), annotations.len(), "{stdout}");
    assert!(
        annotations.iter().any(
            |l| l.contains("title=ecr-steward%3A tags v1.4.2%2C v1.4%2C v1%2C latest::labels.")
        ),
        "{stdout}"
    );
    assert!(
        annotations
            .iter()
            .any(|l| l.starts_with("::error title=ecr-steward%3A tag latest::tag.literals.deny")),
        "{stdout}"
    );
}

#[test]
fn junit_format_is_xml_with_one_case_per_tag() {
    let output = steward()
        .args([
            "check", "--tag", "1.2.3", "--tag", "<bad>", "--format", "junit",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let xml = String::from_utf8(output.stdout).expect("utf-8");
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains("<testsuite name=\"ecr-steward check\" tests=\"2\" failures=\"1\""));
    assert!(xml.contains("<testcase classname=\"tags\" name=\"1.2.3\"/>"));
    assert!(xml.contains("<testcase classname=\"tags\" name=\"&lt;bad&gt;\">"));
    assert!(xml.contains("<failure type=\"tag.grammar\""));
    assert_eq!(xml.matches("<testcase").count(), 2);
    assert_eq!(xml.matches("</testsuites>").count(), 1);
}

#[test]
fn usage_errors_exit_two_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let digest_refs = write(&dir, "tags.txt", "1.2.3\nghcr.io/org/app@sha256:0123\n");
    let bad_labels = write(&dir, "labels.txt", "a=1\njust words\n");
    let odd_json = write(&dir, "labels.json", "{\"nested\": {\"a\": 1}}");
    let only_team = write(
        &dir,
        "policy.yaml",
        "version: 1\nrules:\n  - repositories: [team/*]\n    tags: { semver: {} }\n",
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["check"], "no tags to check"),
        (
            vec!["check", "--tag", "1.2.3", "--policy", "/nonexistent.yaml"],
            "cannot read policy file /nonexistent.yaml",
        ),
        (
            vec!["check", "--tags-file", "/nonexistent.txt"],
            "cannot read --tags-file",
        ),
        (
            vec![
                "check",
                "--tags-file",
                digest_refs.to_str().unwrap_or_default(),
            ],
            "tags.txt:2: not a tag or image reference",
        ),
        (
            vec![
                "check",
                "--tag",
                "1.2.3",
                "--labels",
                bad_labels.to_str().unwrap_or_default(),
            ],
            "line 2: \"just words\" is not a key=value line",
        ),
        (
            vec![
                "check",
                "--tag",
                "1.2.3",
                "--labels",
                odd_json.to_str().unwrap_or_default(),
            ],
            "JSON labels must be",
        ),
        (
            vec!["check", "--tag", "1.2.3", "--labels", "/nonexistent.json"],
            "cannot read --labels",
        ),
        (
            vec![
                "check",
                "--tag",
                "1.2.3",
                "--policy",
                only_team.to_str().unwrap_or_default(),
            ],
            "pass --repository NAME",
        ),
        (
            vec!["check", "--tags-file", "-", "--labels", "-"],
            "cannot both read standard input",
        ),
        (
            vec!["check", "--tag", "1.2.3", "--format", "yaml"],
            "invalid value 'yaml' for '--format",
        ),
        (
            vec!["check", "--no-such-flag"],
            "unexpected argument '--no-such-flag'",
        ),
        (vec!["policy", "validate"], "required"),
    ];
    for (args, message) in cases {
        steward()
            .args(&args)
            .write_stdin("")
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(message));
    }
}

#[test]
fn every_bad_policy_fixture_gets_its_message() {
    let fixtures = repo_root().join("cli/tests/fixtures/bad-policies");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "expect") {
            continue;
        }
        let expect_file = PathBuf::from(format!("{}.expect", path.display()));
        let source = std::fs::read_to_string(if expect_file.exists() {
            &expect_file
        } else {
            &path
        })
        .expect("read");
        let expected: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} names no expected message",
            path.display()
        );
        for command in [
            vec!["policy", "validate", path.to_str().unwrap_or_default()],
            vec![
                "check",
                "--tag",
                "1.2.3",
                "--policy",
                path.to_str().unwrap_or_default(),
            ],
        ] {
            let output = steward().args(&command).output().expect("runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{}: {stderr}",
                path.display()
            );
            for line in &expected {
                assert!(
                    stderr.contains(line),
                    "{}:\n{stderr}\nshould contain: {line}",
                    path.display()
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures");
}

#[test]
fn no_bad_policy_message_names_a_type_of_the_program() {
    let fixtures = repo_root().join("cli/tests/fixtures/bad-policies");
    let rust_words = [
        "struct", "enum", "u8", "u16", "u32", "u64", "usize", "i64", "f64", "Option", "Vec",
    ];
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "expect") {
            continue;
        }
        let output = steward()
            .args(["policy", "validate"])
            .arg(&path)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let words: Vec<&str> = stderr.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        for word in &rust_words {
            assert!(
                !words.contains(word),
                "{}: `{word}` in {stderr}",
                path.display()
            );
        }
    }
}

/// Policies that load but would not do what their author meant: each names the lines
/// `policy validate` prints, with their positions; errors exit 1, warnings only with --strict.
#[test]
fn every_mistaken_policy_fixture_is_found_where_it_is() {
    let fixtures = repo_root().join("cli/tests/fixtures/mistaken-policies");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "expect") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let expect_file = PathBuf::from(format!("{}.expect", path.display()));
        let source = std::fs::read_to_string(if expect_file.exists() {
            &expect_file
        } else {
            &path
        })
        .expect("read");
        let expected: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        let has_errors = expected.iter().any(|l| l.contains(": error: "));
        for (strict, code) in [(false, i32::from(has_errors)), (true, 1)] {
            let mut command = steward();
            command
                .current_dir(&fixtures)
                .args(["policy", "validate", name]);
            if strict {
                command.arg("--strict");
            }
            let output = command.output().expect("runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(
                output.status.code(),
                Some(code),
                "{name} strict={strict}: {stdout}"
            );
            for line in &expected {
                assert!(
                    stdout.contains(line),
                    "{name}:\n{stdout}\nshould contain: {line}"
                );
            }
        }
        // A policy with errors is not turned into a deploy parameter.
        let parameter = steward()
            .current_dir(&fixtures)
            .args(["policy", "parameter", name])
            .output()
            .expect("runs");
        assert_eq!(
            parameter.status.code(),
            Some(if has_errors { 2 } else { 0 }),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} fixtures");
}

/// A repository no rule governs is a warning; --strict makes it a failure.
#[test]
fn strict_fails_a_repository_no_rule_governs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = write(
        &dir,
        "team.yaml",
        "version: 1\nrules:\n  - repositories: [\"team/*\"]\n    tags: { semver: {} }\n",
    );
    let policy = policy.to_str().unwrap_or_default();
    let args = [
        "check",
        "--policy",
        policy,
        "--repository",
        "other/app",
        "--tag",
        "1.2.3",
    ];
    steward()
        .args(args)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "no rule of the policy matches repository `other/app`",
        ));
    steward().args(args).arg("--strict").assert().code(1);
    steward()
        .args([
            "check",
            "--policy",
            policy,
            "--repository",
            "team/app",
            "--tag",
            "1.2.3",
            "--strict",
        ])
        .assert()
        .code(0);
}

#[test]
fn a_byte_order_mark_is_read_past() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "windows.yaml",
        "\u{feff}version: 1\r\nrules:\r\n  - tags: { semver: {} }\r\n",
    );
    steward()
        .args(["policy", "validate"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("valid, 1 rule, mode audit"));
    let (code, _) = run_json(&[
        "check",
        "--tag",
        "1.2.3",
        "--policy",
        path.to_str().unwrap_or_default(),
    ]);
    assert_eq!(code, 0);
}

/// `policy parameter` prints what the PolicyDocument parameter takes: the same policy, as one
/// line of JSON (a date in a scan ignore stays a date), refused when too large to be inline.
#[test]
fn policy_parameter_is_the_same_policy_on_one_line() {
    let output = steward()
        .args(["policy", "parameter"])
        .arg(example("policy.yaml"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let value = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(value.trim_end().lines().count(), 1, "{value}");
    let dir = tempfile::tempdir().expect("tempdir");
    let json = write(&dir, "policy.json", value.trim_end());
    steward()
        .args(["policy", "validate"])
        .arg(&json)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("valid, 4 rules, mode audit"));
    for tag in ["1.2.3", "latest", "sha-0a1b2c3"] {
        let from_yaml = run_json(&[
            "check",
            "--tag",
            tag,
            "--policy",
            example("policy.yaml").to_str().unwrap_or_default(),
        ]);
        let from_json = run_json(&[
            "check",
            "--tag",
            tag,
            "--policy",
            json.to_str().unwrap_or_default(),
        ]);
        assert_eq!(from_yaml.0, from_json.0, "{tag}");
    }

    let sam = steward()
        .args(["policy", "parameter", "--format", "sam"])
        .arg(example("policy.yaml"))
        .output()
        .expect("runs");
    let file: Value = serde_json::from_slice(&sam.stdout).expect("JSON");
    assert_eq!(file["PolicyDocument"].as_str(), Some(value.trim_end()));

    let mut large = String::from("version: 1\nrules:\n");
    for index in 0..60 {
        large.push_str(&format!("  - name: team-{index:02}\n    repositories: [\"team-{index:02}/**\"]\n    tags: {{ semver: {{}} }}\n"));
    }
    let large = write(&dir, "large.yaml", &large);
    steward()
        .args(["policy", "parameter"])
        .arg(&large)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "over the 3072 an inline PolicyDocument may take",
        ))
        .stderr(predicate::str::contains(
            "keep the policy in S3 (PolicyBucket, PolicyObjectKey) or SSM",
        ));
}

#[test]
fn policy_validate_accepts_good_files_and_show_default_round_trips() {
    steward()
        .args(["policy", "validate"])
        .arg(example("policy.yaml"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("valid, 4 rules, mode audit"));

    let shown = steward()
        .args(["policy", "show-default"])
        .output()
        .expect("runs");
    assert_eq!(shown.status.code(), Some(0));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "default.yaml",
        &String::from_utf8_lossy(&shown.stdout),
    );
    steward()
        .args(["policy", "validate"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("valid, 1 rule, mode audit"));
    // The shown default is the policy in force without --policy: same verdicts.
    for tag in ["1.2.3", "latest", "sha-0a1b2c3", "1.2"] {
        let (builtin_code, _) = run_json(&["check", "--tag", tag]);
        let (file_code, _) = run_json(&[
            "check",
            "--tag",
            tag,
            "--policy",
            path.to_str().unwrap_or_default(),
        ]);
        assert_eq!(builtin_code, file_code, "{tag}");
    }
}

#[test]
fn an_unreachable_aws_endpoint_is_reported_as_a_sentence_not_a_debug_dump() {
    let output = steward()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .args(["gate", "--repository", "team/app", "--tag", "1.2.3"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: ECR is unavailable: "),
        "{stderr}"
    );
    for dump in ["DispatchFailure(", "ConnectorError {", "source:"] {
        assert!(!stderr.contains(dump), "{dump} in {stderr}");
    }
}

#[test]
fn replicate_accepts_only_the_formats_it_renders_and_create_repository_needs_to() {
    for format in ["github", "junit"] {
        steward()
            .args([
                "replicate",
                "--repository",
                "team/*",
                "--to",
                "eu-west-1",
                "--format",
                format,
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("invalid value"));
    }
    steward()
        .args(["replicate", "--repository", "team/*", "--create-repository"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--create-repository goes with --to REGION",
        ));
}
