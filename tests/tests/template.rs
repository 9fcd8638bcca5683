//! The template's EventBridge patterns, loaded into moto's EventBridge with an SQS target per
//! function: every sample event in events/ reaches exactly the functions meant for it
//! (scripts/testbed/check_patterns.py does the work; see its header).

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use testbed::{workspace_root, Stack};

#[test]
fn every_sample_event_reaches_exactly_its_functions() {
    let stack = Stack::start();
    let output = stack
        .command(stack.python())
        .arg(workspace_root().join("scripts/testbed/check_patterns.py"))
        .current_dir(workspace_root())
        .output()
        .expect("check_patterns.py runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for function in [
        "PushGuardFunction",
        "ScanAlertFunction",
        "ReplicatorFunction",
    ] {
        assert!(
            stdout.contains(function),
            "{function} not checked:\n{stdout}"
        );
    }
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}
