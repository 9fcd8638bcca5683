//! Any text as a labels document (every format `labels::parse` detects), then the built-in
//! policy's label checks (required labels and consistency with the tag) on what it read.
//! The first line is the tag; the rest is the labels document.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use steward_core::labels;
use steward_core::policy::Policy;

fn builtin() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(Policy::builtin)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The whole input as a document, too: a document's first line is often `{`.
    let _ = labels::parse(text);
    let (tag, document) = text.split_once('\n').unwrap_or((text, ""));
    let Ok((labels, _format)) = labels::parse(document) else {
        return;
    };
    for value in labels.values() {
        let _ = labels::is_rfc3339(value);
        let _ = labels::is_url(value);
        let _ = labels::is_full_sha(value);
    }
    let _ = builtin().evaluate(Some("team/app"), tag, Some(&labels));
});
