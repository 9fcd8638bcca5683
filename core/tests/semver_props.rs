//! Property tests: versions generated from the SemVer 2.0.0 grammar are accepted, as tags
//! too; mutations that break the grammar are rejected; and the parser agrees with the
//! regular expression that semver.org publishes.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use steward_core::policy::{Policy, TagKind};
use steward_core::semver;

/// semver.org's suggested regular expression (numbered-group variant).
const SEMVER_ORG_REGEX: &str = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$";

fn numeric() -> impl Strategy<Value = String> {
    prop_oneof![Just("0".to_string()), "[1-9][0-9]{0,8}"]
}

fn pre_release_identifier() -> impl Strategy<Value = String> {
    prop_oneof![numeric(), "[0-9]{0,3}[a-zA-Z-][0-9a-zA-Z-]{0,6}"]
}

fn build_identifier() -> impl Strategy<Value = String> {
    "[0-9a-zA-Z-]{1,8}"
}

fn dotted(item: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop::collection::vec(item, 1..4).prop_map(|parts| parts.join("."))
}

prop_compose! {
    fn version()(
        major in numeric(), minor in numeric(), patch in numeric(),
        pre in prop::option::of(dotted(pre_release_identifier())),
        build in prop::option::of(dotted(build_identifier())),
    ) -> (String, bool) {
        let mut text = format!("{major}.{minor}.{patch}");
        if let Some(pre) = &pre {
            text.push('-');
            text.push_str(pre);
        }
        let has_build = build.is_some();
        if let Some(build) = build {
            text.push('+');
            text.push_str(&build);
        }
        (text, has_build)
    }
}

/// Ways to break a valid version, each of which the grammar forbids.
#[derive(Debug, Clone)]
enum Mutation {
    LeadingZero(usize),
    DropPart(usize),
    ExtraPart,
    EmptyIdentifier,
    BadCharacter(char),
    DanglingSeparator(char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0usize..3).prop_map(Mutation::LeadingZero),
        (0usize..3).prop_map(Mutation::DropPart),
        Just(Mutation::ExtraPart),
        Just(Mutation::EmptyIdentifier),
        prop::sample::select(vec!['_', '!', ' ', '/', '~', 'é']).prop_map(Mutation::BadCharacter),
        prop::sample::select(vec!['-', '+', '.']).prop_map(Mutation::DanglingSeparator),
    ]
}

fn mutate(major: &str, minor: &str, patch: &str, pre: &str, mutation: &Mutation) -> String {
    let mut core = vec![major.to_string(), minor.to_string(), patch.to_string()];
    let pre = format!("-{pre}");
    match mutation {
        Mutation::LeadingZero(index) => {
            core[*index] = format!("0{}", core[*index]);
            format!("{}{pre}", core.join("."))
        }
        Mutation::DropPart(index) => {
            core.remove(*index);
            format!("{}{pre}", core.join("."))
        }
        Mutation::ExtraPart => format!("{}.7{pre}", core.join(".")),
        Mutation::EmptyIdentifier => format!("{}{pre}..x", core.join(".")),
        Mutation::BadCharacter(c) => format!("{}{pre}{c}x", core.join(".")),
        Mutation::DanglingSeparator(c) => format!("{}{c}", core.join(".")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn generated_versions_are_accepted((text, has_build) in version()) {
        prop_assert!(semver::parse(&text).is_some(), "{} rejected", text);
        // Tags cannot carry `+`, so only versions without build metadata can be tags.
        if !has_build {
            let policy = Policy::builtin();
            for tag in [text.clone(), format!("v{text}")] {
                let verdict = policy.evaluate(Some("team/app"), &tag, None);
                prop_assert_eq!(verdict.kind, TagKind::Semver, "{}", tag);
                prop_assert!(verdict.compliant, "{}: {:?}", tag, verdict.violations);
            }
        }
    }

    #[test]
    fn mutated_versions_are_rejected(
        major in numeric(), minor in numeric(), patch in numeric(),
        pre in dotted(pre_release_identifier()),
        mutation in mutation(),
    ) {
        let text = mutate(&major, &minor, &patch, &pre, &mutation);
        prop_assert!(semver::parse(&text).is_none(), "{} accepted after {:?}", text, mutation);
        let verdict = Policy::builtin().evaluate(Some("team/app"), &text, None);
        prop_assert!(!verdict.compliant, "{} compliant after {:?}", text, mutation);
    }

    #[test]
    fn agrees_with_the_semver_org_regex(text in "[0-9v.+a-zA-Z-]{0,14}") {
        let reference = regex::Regex::new(SEMVER_ORG_REGEX).expect("the published regex compiles");
        prop_assert_eq!(semver::parse(&text).is_some(), reference.is_match(&text), "{}", text);
    }
}
