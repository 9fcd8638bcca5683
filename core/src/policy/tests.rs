//! Unit tests of the policy: loading, its error messages, and the verdicts of its rules.

use super::*;
use crate::labels::{CREATED, REVISION, SOURCE, VERSION};

fn yaml(text: &str) -> Policy {
    Policy::from_text(text, "test.yaml", SourceFormat::Yaml).expect("valid policy")
}

fn yaml_error(text: &str) -> String {
    Policy::from_text(text, "test.yaml", SourceFormat::Yaml)
        .expect_err("invalid policy")
        .to_string()
}

fn verdict(policy: &Policy, tag: &str) -> TagVerdict {
    policy.evaluate(Some("team/app"), tag, None)
}

fn checks(verdict: &TagVerdict) -> Vec<&'static str> {
    verdict.violations.iter().map(|f| f.check).collect()
}

fn good_labels() -> Labels {
    [
        (SOURCE, "https://github.com/org/app"),
        (REVISION, "0123456789abcdef0123456789abcdef01234567"),
        (CREATED, "2024-05-01T12:00:00Z"),
        (VERSION, "1.2.3"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn builtin_policy_accepts_what_it_documents() {
    let policy = Policy::builtin();
    assert_eq!(policy.mode, Mode::Audit);
    for (tag, kind) in [
        ("1.2.3", TagKind::Semver),
        ("v1.2.3", TagKind::Semver),
        ("1.2.3-rc.1", TagKind::Semver),
        ("0a1b2c3", TagKind::GitSha),
        ("sha-0a1b2c3", TagKind::GitSha),
        ("0123456789abcdef0123456789abcdef01234567", TagKind::GitSha),
    ] {
        let verdict = verdict(&policy, tag);
        assert!(verdict.compliant, "{tag}: {:?}", verdict.violations);
        assert_eq!(verdict.kind, kind, "{tag}");
    }
}

#[test]
fn builtin_policy_refuses_what_it_documents() {
    let policy = Policy::builtin();
    for (tag, kind, check) in [
        ("latest", TagKind::Literal, "tag.literals.deny"),
        ("main", TagKind::Unmatched, "tag.kinds"),
        ("pr-12", TagKind::Unmatched, "tag.kinds"),
        ("1.2", TagKind::Semver, "tag.semver.floating_aliases"),
        ("1", TagKind::Semver, "tag.semver.floating_aliases"),
        ("V1.2.3", TagKind::Semver, "tag.semver.prefix_v"),
        ("0A1B2C3", TagKind::GitSha, "tag.git_sha.case"),
        ("01.2.3", TagKind::Unmatched, "tag.kinds"),
        ("abc123", TagKind::Unmatched, "tag.kinds"),
        ("-bad", TagKind::Invalid, "tag.grammar"),
    ] {
        let verdict = verdict(&policy, tag);
        assert!(!verdict.compliant, "{tag} should violate");
        assert_eq!(
            (verdict.kind, checks(&verdict)),
            (kind, vec![check]),
            "{tag}"
        );
    }
}

#[test]
fn warns_on_major_version_zero() {
    let verdict = verdict(&Policy::builtin(), "0.4.1");
    assert!(verdict.compliant);
    assert_eq!(verdict.warnings[0].check, "tag.semver.major_zero");
}

#[test]
fn semver_settings() {
    let policy = yaml(
        r#"
version: 1
rules:
  - name: strict
    repositories: ["strict/*"]
    tags:
      semver: { prefix_v: required, prerelease: false, warn_major_zero: false }
  - name: plain
    repositories: ["plain/*"]
    tags:
      semver: { prefix_v: forbidden, floating_aliases: true }
"#,
    );
    let strict = |tag| policy.evaluate(Some("strict/x"), tag, None);
    assert!(strict("v1.2.3").compliant);
    assert_eq!(checks(&strict("1.2.3")), ["tag.semver.prefix_v"]);
    assert_eq!(checks(&strict("v1.2.3-rc.1")), ["tag.semver.prerelease"]);
    assert!(strict("v0.1.0").warnings.is_empty());
    assert_eq!(checks(&strict("0a1b2c3")), ["tag.kinds"]);

    let plain = |tag| policy.evaluate(Some("plain/x"), tag, None);
    assert!(plain("1.2.3").compliant);
    assert!(plain("1.2").compliant);
    assert!(plain("7").compliant);
    assert_eq!(checks(&plain("v1.2.3")), ["tag.semver.prefix_v"]);
    assert_eq!(checks(&plain("v1")), ["tag.semver.prefix_v"]);
}

#[test]
fn git_sha_settings() {
    let policy = yaml(
        r#"
version: 1
rules:
  - tags:
      git_sha: { min_length: 12, max_length: 12, prefixes: ["sha-"] }
"#,
    );
    assert!(verdict(&policy, "sha-0123456789ab").compliant);
    assert_eq!(
        checks(&verdict(&policy, "0123456789ab")),
        ["tag.git_sha.prefixes"]
    );
    assert_eq!(checks(&verdict(&policy, "sha-0123456")), ["tag.kinds"]);
    let unmatched = verdict(&policy, "sha-0123456");
    assert!(unmatched.violations[0]
        .message
        .contains("git SHA (12 to 12 lowercase hex, `sha-`)"));
}

#[test]
fn literals_and_patterns() {
    let policy = yaml(
        r#"
version: 1
rules:
  - tags:
      semver: { prerelease: false }
      literals: { allow: [stable, latest], deny: [latest] }
      patterns: ['pr-[0-9]+', '.*-rc\.[0-9]+']
"#,
    );
    assert_eq!(verdict(&policy, "stable").kind, TagKind::Literal);
    assert!(verdict(&policy, "stable").compliant);
    // Deny wins over allow.
    assert!(!verdict(&policy, "latest").compliant);
    let pr = verdict(&policy, "pr-42");
    assert!(pr.compliant);
    assert_eq!(pr.kind, TagKind::Pattern);
    // Patterns are anchored.
    assert!(!verdict(&policy, "xpr-42").compliant);
    assert!(!verdict(&policy, "pr-42x").compliant);
    // A pattern admits what a kind's own settings refuse.
    let rc = verdict(&policy, "1.2.3-rc.1");
    assert_eq!((rc.kind, rc.compliant), (TagKind::Pattern, true));
    assert!(!verdict(&policy, "1.2.3-beta").compliant);
}

#[test]
fn repository_picks_the_first_matching_rule() {
    let policy = yaml(
        r#"
version: 1
mode: enforce
rules:
  - name: legacy
    repositories: ["legacy/**", "old-*"]
    mode: audit
    tags: { literals: { allow: [latest] } }
  - name: everything-else
    tags: { semver: {} }
"#,
    );
    let rule = |name| policy.rule_for(Some(name)).map(|r| r.name.as_str());
    assert_eq!(rule("legacy/a/b"), Some("legacy"));
    assert_eq!(rule("old-app"), Some("legacy"));
    assert_eq!(rule("team/app"), Some("everything-else"));
    assert_eq!(
        rule("team/app"),
        policy.rule_for(None).map(|r| r.name.as_str())
    );
    let legacy = policy.rule_for(Some("old-app")).expect("rule");
    assert_eq!(policy.mode_for(legacy), Mode::Audit);
    let other = policy.rule_for(Some("x")).expect("rule");
    assert_eq!(policy.mode_for(other), Mode::Enforce);
    assert_eq!(policy.mode_in("old-app", None), Mode::Audit);
    assert_eq!(policy.mode_in("x", None), Mode::Enforce);
    assert_eq!(
        policy.mode_in("old-app", Some(Mode::Enforce)),
        Mode::Enforce
    );
}

#[test]
fn an_ungoverned_repository_is_not_checked_but_says_so() {
    let policy = yaml("version: 1\nrules:\n  - repositories: [team/*]\n    tags: {}\n");
    let verdict = policy.evaluate(Some("other/app"), "anything", None);
    assert!(verdict.compliant);
    assert_eq!(verdict.rule, None);
    assert!(verdict.warnings[0].message.contains("no rule"));
    assert!(policy.rule_for(None).is_none());
}

#[test]
fn labels_required_and_consistent() {
    let policy = Policy::builtin();
    let labels = good_labels();
    let ok = policy.evaluate(Some("a"), "v1.2.3", Some(&labels));
    assert!(ok.compliant, "{:?}", ok.violations);
    let sha = policy.evaluate(Some("a"), "sha-0123456", Some(&labels));
    assert!(sha.compliant, "{:?}", sha.violations);

    let wrong_commit = policy.evaluate(Some("a"), "sha-7654321", Some(&labels));
    assert_eq!(checks(&wrong_commit), ["labels.consistency.revision"]);
    let wrong_version = policy.evaluate(Some("a"), "1.2.4", Some(&labels));
    assert_eq!(checks(&wrong_version), ["labels.consistency.version"]);

    let mut bad = good_labels();
    bad.remove(SOURCE);
    bad.insert(REVISION.into(), "0123456".into());
    bad.insert(CREATED.into(), "yesterday".into());
    let verdict = policy.evaluate(Some("a"), "1.2.3", Some(&bad));
    assert_eq!(
        checks(&verdict),
        [
            "labels.required",
            "labels.consistency.revision",
            "labels.consistency.created"
        ]
    );
    bad.insert(SOURCE.into(), "git@github.com:org/app".into());
    let verdict = policy.evaluate(Some("a"), "1.2.3", Some(&bad));
    assert!(checks(&verdict).contains(&"labels.consistency.source"));
}

#[test]
fn version_label_of_an_alias_names_a_release_it_covers() {
    let policy = yaml("version: 1\nrules:\n  - tags: { semver: { floating_aliases: true } }\n");
    let labels = good_labels();
    assert!(policy.evaluate(None, "1.2", Some(&labels)).compliant);
    assert!(policy.evaluate(None, "1", Some(&labels)).compliant);
    assert!(!policy.evaluate(None, "1.3", Some(&labels)).compliant);
    assert!(!policy.evaluate(None, "2", Some(&labels)).compliant);
}

#[test]
fn consistency_checks_can_be_switched_off_and_values_matched() {
    let policy = yaml(
        r#"
version: 1
rules:
  - tags: { semver: {} }
    labels:
      consistency: { version: false }
      values: { org.opencontainers.image.licenses: 'MIT|Apache-2\.0' }
"#,
    );
    let mut labels = good_labels();
    labels.insert("org.opencontainers.image.licenses".into(), "GPL-3.0".into());
    let verdict = policy.evaluate(None, "9.9.9", Some(&labels));
    assert_eq!(checks(&verdict), ["labels.values"]);
}

#[test]
fn json_policies_read_the_same() {
    let policy = Policy::from_text(
        r#"{"version": 1, "rules": [{"tags": {"literals": {"allow": ["edge"]}}}]}"#,
        "p.json",
        SourceFormat::Json,
    )
    .expect("valid");
    assert!(verdict(&policy, "edge").compliant);
    let error = Policy::from_text(
        r#"{"version": 1, "rules": [{"tags": {"semvr": {}}}]}"#,
        "p.json",
        SourceFormat::Json,
    )
    .expect_err("unknown key")
    .to_string();
    assert!(error.starts_with("p.json:1:"), "{error}");
    assert!(error.contains("did you mean `semver`?"), "{error}");
}

#[test]
fn errors_name_line_column_and_a_hint() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "version: 1\nrules:\n  - tags:\n      semvr: {}\n",
            "test.yaml:4:7",
            &["unknown field `semvr`", "did you mean `semver`?"],
        ),
        (
            "version: 1\nrules:\n  - tags:\n      semver: { prerelease: yes }\n",
            "test.yaml:4:",
            &["expected a boolean", "true or false"],
        ),
        (
            "version: 2\nrules: []\n",
            "test.yaml:1:10",
            &["version 2 is not supported", "version: 1"],
        ),
        (
            "version: 1\nrules: []\n",
            "test.yaml:2:8",
            &["no rules", "at least one rule"],
        ),
        (
            "version: 1\nrules:\n  - tags:\n      patterns: ['(unclosed']\n",
            "test.yaml:4:",
            &["invalid regular expression \"(unclosed\"", "anchored"],
        ),
        (
            "version: 1\nrules:\n  - repositories: ['Team/*']\n    tags: {}\n",
            "test.yaml:3:",
            &["'T'", "lowercase"],
        ),
        (
            "version: 1\nrules:\n  - tags:\n      git_sha: { min_length: 9, max_length: 8 }\n",
            "test.yaml:4:",
            &["9..8", "min_length <= max_length"],
        ),
        (
            "version: 1\nmode: strict\nrules: []\n",
            "test.yaml:2:7",
            &[
                "unknown variant `strict`",
                "allowed values here: audit, enforce",
            ],
        ),
        (
            "rules:\n  - tags: {}\n",
            "test.yaml",
            &["missing field `version`", "add `version`"],
        ),
        ("", "test.yaml", &["empty"]),
        (
            "version: 1\nrules:\n  - tags:\n      semver: { prefix_v: maybe }\n",
            "test.yaml:4:",
            &["unknown variant `maybe`", "optional, required, forbidden"],
        ),
    ];
    for (text, location, fragments) in cases {
        let error = yaml_error(text);
        assert!(error.starts_with(location), "{text:?}\n=> {error}");
        assert!(error.contains("\n  hint: "), "{error}");
        for fragment in *fragments {
            assert!(
                error.contains(fragment),
                "{text:?}\n=> {error}\nmissing {fragment:?}"
            );
        }
    }
}

#[test]
fn unreadable_file_is_a_read_error() {
    let error =
        Policy::from_file(std::path::Path::new("/nonexistent/policy.yaml")).expect_err("missing");
    assert!(matches!(error, PolicyError::Read { .. }));
    assert!(error.to_string().contains("/nonexistent/policy.yaml"));
}

const UPSTREAM: &str = "version: 1\nrules:\n  - repositories: [\"**\"]\n    tags:\n      semver: {}\n      upstream: { revision: 'c[0-9]+' }\n";

#[test]
fn upstream_revision_tags_are_their_own_kind_where_declared() {
    let policy = yaml(UPSTREAM);
    for tag in ["8.0.12-c15", "1.25-c1", "2023.1-c7"] {
        let verdict = verdict(&policy, tag);
        assert_eq!(verdict.kind, TagKind::Upstream, "{tag}");
        assert!(verdict.compliant, "{tag}: {:?}", verdict.violations);
    }
    // A pre-release stays a pre-release; a revision the pattern refuses is not this kind.
    assert_eq!(verdict(&policy, "8.0.12-rc.1").kind, TagKind::Semver);
    assert_eq!(verdict(&policy, "8.0.12-r15").kind, TagKind::Semver);
    // Without the kind declared, 8.0.12-c15 reads as a SemVer pre-release, as before.
    assert_eq!(
        verdict(&Policy::builtin(), "8.0.12-c15").kind,
        TagKind::Semver
    );
    assert!(policy.rules[0]
        .allowed
        .contains("8.0.12-<revision /c[0-9]+/>"));
}

#[test]
fn upstream_version_label_names_the_upstream_version_or_the_tag() {
    let policy = yaml(UPSTREAM);
    let with_version = |version: &str| {
        let mut labels = good_labels();
        labels.insert(VERSION.into(), version.into());
        policy.evaluate(Some("team/app"), "8.0.12-c15", Some(&labels))
    };
    assert!(with_version("8.0.12").compliant);
    assert!(with_version("8.0.12-c15").compliant);
    let wrong = with_version("8.0.11");
    assert_eq!(checks(&wrong), vec!["labels.consistency.version"]);
}

#[test]
fn retention_sections_are_validated_with_positions() {
    let base = "version: 1\nrules:\n  - tags: { semver: {} }\n    retention:\n";
    let policy = yaml(&format!(
        "{base}      semver: {{ keep_per_major: 3, prerelease: {{ until_released: true }} }}\n      protect: [stable, 'lts-*']\n"
    ));
    let retention = policy.rules[0].retention.as_ref().expect("retention");
    assert_eq!(
        retention.semver.as_ref().and_then(|s| s.keep_per_major),
        Some(Count(3))
    );
    assert!(retention.protect[1].matches("lts-2026"));
    assert!(policy.rules[0].retention.is_some());
    assert!(yaml("version: 1\nrules:\n  - tags: {}\n").rules[0]
        .retention
        .is_none());
    for (text, line, expected) in [
        ("      semver: { keep_per_major: 0 }\n", 5, "a count of 0"),
        ("      git_sha: { max_age_days: 0 }\n", 5, "0 days"),
        ("      untagged: {}\n", 5, "missing field `max_age_days`"),
        ("      protect: ['a/b']\n", 5, "cannot match a tag"),
        (
            "      semver: { keep_per_patch: 1 }\n",
            5,
            "unknown field `keep_per_patch`",
        ),
    ] {
        let error = yaml_error(&format!("{base}{text}"));
        assert!(error.contains(expected), "{text}: {error}");
        assert!(
            error.contains(&format!("test.yaml:{line}:")),
            "{text}: {error}"
        );
        assert!(error.contains("hint:"), "{error}");
    }
}
