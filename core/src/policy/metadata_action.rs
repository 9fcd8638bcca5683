//! The version label as docker/metadata-action writes it, against the tags it generates.
//!
//! metadata-action sets `org.opencontainers.image.version` to the first tag it generates (the
//! tag of highest priority: schedule 1000, semver 900, ref 600, raw 200, sha 100), exactly as
//! the tag is written. Each case below is a documented output of its README: the git ref or
//! event, the `tags` entries, and the tags they give, in order. Every tag of the list must be
//! consistent with the label it gets.

use super::*;
use crate::labels::VERSION;

/// A rule that admits every tag kind metadata-action produces, so only the label check speaks.
fn policy() -> Policy {
    Policy::from_text(
        r#"
version: 1
rules:
  - tags:
      semver: { prefix_v: optional, prerelease: true, floating_aliases: true, warn_major_zero: false }
      git_sha: { prefixes: ["", "sha-"] }
      patterns: ['.+']
"#,
        "metadata-action.yaml",
        SourceFormat::Yaml,
    )
    .expect("valid policy")
}

fn version_check(policy: &Policy, tag: &str, version: &str) -> Option<String> {
    let labels: Labels = [(VERSION.to_string(), version.to_string())].into();
    let verdict = policy.evaluate(None, tag, Some(&labels));
    verdict
        .violations
        .iter()
        .find(|f| f.check == "labels.consistency.version")
        .map(|f| f.message.clone())
}

/// (what generates them, the tags in metadata-action's order)
const DOCUMENTED: &[(&str, &[&str])] = &[
    // type=semver on refs/tags/v1.2.3
    (
        "semver {{version}}, {{major}}.{{minor}}, {{major}}",
        &["1.2.3", "1.2", "1"],
    ),
    ("semver {{raw}}", &["v1.2.3"]),
    ("semver {{raw}}, {{major}}.{{minor}}", &["v1.2.3", "1.2"]),
    ("semver {{major}}.{{minor}} alone", &["1.2"]),
    ("semver v{{major}} alone", &["v1"]),
    (
        "semver {{major}}.{{minor}}, {{major}} (refs/tags/v2.0.0)",
        &["2.0", "2"],
    ),
    ("semver {{version}}, v{{major}}", &["1.2.3", "v1"]),
    // type=semver on refs/tags/v2.0.8-beta.67: a pre-release extends only {{version}}/{{raw}}
    (
        "semver {{version}}, {{major}}.{{minor}} on a pre-release",
        &["2.0.8-beta.67"],
    ),
    ("semver {{raw}} on a pre-release", &["v2.0.8-beta.67"]),
    // major version zero, refs/tags/v0.1.2
    (
        "semver {{version}}, {{major}}.{{minor}} on v0.1.2",
        &["0.1.2", "0.1"],
    ),
    // type=ref
    ("ref event=tag, refs/tags/v1.2.3", &["v1.2.3"]),
    (
        "ref event=tag, refs/tags/v2.0.8-beta.67",
        &["v2.0.8-beta.67"],
    ),
    ("ref event=branch, refs/heads/master", &["master"]),
    ("ref event=branch, refs/heads/my/branch", &["my-branch"]),
    ("ref event=pr, refs/pull/2/merge", &["pr-2"]),
    // semver and ref event=tag together on refs/tags/v1.2.3 (semver first: priority 900 > 600)
    (
        "semver {{version}}, {{major}}.{{minor}} + ref event=tag",
        &["1.2.3", "1.2", "v1.2.3"],
    ),
    // type=raw
    ("raw foo, raw bar", &["foo", "bar"]),
    // type=sha
    ("sha", &["sha-860c190"]),
    (
        "sha format=long",
        &["sha-860c19015c2e8f0c0f6d1d73b1d9c2ad4e96d4b7"],
    ),
    // type=schedule
    ("schedule (nightly)", &["nightly"]),
    ("schedule {{date 'YYYYMMDD'}}", &["20200110"]),
    (
        "schedule {{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
        &["20200110-093000"],
    ),
    // the README's usual set on each event: schedule, semver x3, ref branch, ref pr, sha;
    // flavor latest=auto adds `latest` on a tag push
    (
        "usual set on refs/tags/v1.2.3",
        &["1.2.3", "1.2", "1", "sha-860c190", "latest"],
    ),
    ("usual set on refs/heads/master", &["master", "sha-860c190"]),
    ("usual set on refs/pull/2/merge", &["pr-2", "sha-860c190"]),
    ("usual set on schedule", &["nightly", "sha-860c190"]),
];

#[test]
fn every_documented_metadata_action_output_is_consistent() {
    let policy = policy();
    for (generator, tags) in DOCUMENTED {
        let version = tags[0];
        for tag in *tags {
            assert_eq!(
                version_check(&policy, tag, version),
                None,
                "{generator}: tag `{tag}` with version label `{version}`"
            );
        }
    }
}

#[test]
fn real_disagreement_is_still_refused() {
    let policy = policy();
    for (tag, version) in [
        ("1.2.4", "1.2.3"),
        ("v1.2.4", "v1.2.3"),
        ("v1.2.4", "1.2.3"),
        ("1.2.3", "1.2.3-rc.1"),
        ("1.2.3-rc.1", "1.2.3"),
        ("1.2.3", "master"),
        ("1.3", "1.2.3"),
        ("v1.3", "v1.2.3"),
        ("2", "1.2.3"),
        ("1.2", "1.3"),
        // an alias label less precise than the tag names no release of it
        ("1.2", "1"),
        ("1", "2.0"),
    ] {
        let message = version_check(&policy, tag, version)
            .unwrap_or_else(|| panic!("tag `{tag}` with version label `{version}` passed"));
        assert!(message.contains(&format!("`{version}`")), "{message}");
    }
}

#[test]
fn the_issues_two_examples() {
    let policy = policy();
    // `label … is v1.1.1, but tag v1.1.1 says 1.1.1`
    assert_eq!(version_check(&policy, "v1.1.1", "v1.1.1"), None);
    // `label … is 2.0, but tag 2.0 says 2.0`
    assert_eq!(version_check(&policy, "2.0", "2.0"), None);
}
