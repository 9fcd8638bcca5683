//! The outcome names are the contract of SNS subscription filters: the "Notifications" section
//! of docs/functions.md lists every one.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use steward_core::notify::Outcome;

#[test]
fn the_docs_list_every_outcome() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/functions.md"))
            .expect("docs/functions.md");
    let notifications = &docs[docs
        .find("## Notifications")
        .expect("its Notifications section")..];
    for outcome in Outcome::ALL {
        assert!(
            notifications.contains(&format!("`{}`", outcome.as_str())),
            "docs/functions.md (Notifications) does not name the outcome `{outcome}`"
        );
        let serialized = serde_json::to_value(outcome).expect("json");
        assert_eq!(serialized, outcome.as_str());
    }
}
