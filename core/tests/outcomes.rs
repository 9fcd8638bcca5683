//! The outcome names are the contract of SNS subscription filters: the README lists every one.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use steward_core::notify::Outcome;

#[test]
fn the_readme_lists_every_outcome() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    for outcome in Outcome::ALL {
        assert!(
            readme.contains(&format!("`{}`", outcome.as_str())),
            "README.md does not name the outcome `{outcome}`"
        );
        let serialized = serde_json::to_value(outcome).expect("json");
        assert_eq!(serialized, outcome.as_str());
    }
}
