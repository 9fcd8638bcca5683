//! Any string as a tag: the grammar check, SemVer and alias parsing, image references, and the
//! verdicts of the built-in policy and of a policy with every other tag setting.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use steward_core::policy::{Policy, SourceFormat};
use steward_core::{reference, semver, tag};

/// The other settings of each tag kind: a required `v`, floating aliases, SHA prefixes only,
/// allowed literals, patterns; and a second rule with the `v` forbidden and no pre-releases.
const TEAM_POLICY: &str = r#"
version: 1
rules:
  - name: services
    repositories: ["team/*"]
    tags:
      semver: { prefix_v: required, prerelease: true, floating_aliases: true, warn_major_zero: false }
      git_sha: { min_length: 8, max_length: 64, prefixes: ["sha-", "git-"] }
      literals: { allow: [stable, edge], deny: [latest] }
      patterns: ['pr-[0-9]+', 'nightly-\d{8}']
  - name: strict
    repositories: ["**"]
    tags:
      semver: { prefix_v: forbidden, prerelease: false }
"#;

fn policies() -> &'static [Policy; 2] {
    static POLICIES: OnceLock<[Policy; 2]> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let team = Policy::from_text(TEAM_POLICY, "tags target", SourceFormat::Yaml)
            .expect("the target's policy is valid");
        [Policy::builtin(), team]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let violation = tag::grammar_violation(text);
    let _ = tag::is_valid_fragment(text);
    if let Some(version) = semver::parse(text) {
        let _ = version.is_major_zero();
    }
    if let Some(alias) = semver::parse_alias(text) {
        let _ = alias.is_major_zero();
    }
    let _ = reference::parse(text);
    for policy in policies() {
        for repository in [Some("team/app"), Some("other"), None] {
            let verdict = policy.evaluate(repository, text, None);
            // A string the grammar refuses is never a compliant tag.
            assert!(violation.is_none() || !verdict.compliant, "{text:?}");
        }
    }
});
