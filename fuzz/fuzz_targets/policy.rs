//! Any text as a policy file, in YAML and in JSON: a policy or an error, never a panic; a
//! policy that loads then judges tags and plans replication without a panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_core::policy::{Policy, SourceFormat};

const REPOSITORIES: [&str; 3] = ["team/app", "legacy/a/b/c", "x"];
const TAGS: [&str; 6] = ["1.2.3", "v1.2", "sha-0123abc", "latest", "pr-12", "-bad"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [SourceFormat::Yaml, SourceFormat::Json] {
        match Policy::from_text(text, "fuzz", format) {
            Ok(policy) => exercise(&policy),
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
});

fn exercise(policy: &Policy) {
    for repository in REPOSITORIES {
        if let Some(rule) = policy.rule_for(Some(repository)) {
            let _ = policy.mode_for(rule);
        }
        for tag in TAGS {
            let _ = policy.evaluate(Some(repository), tag, None);
            let _ = policy.replication_targets(repository, tag);
        }
    }
    let _ = policy.evaluate(None, "1.2.3", None);
}
