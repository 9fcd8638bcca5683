//! Any bytes as an EventBridge event: typed by `detail-type`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_core::events::{repository_from_arn, StewardEvent};
use steward_core::scan::{ScanEvent, ScanKind};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(event) = StewardEvent::from_value(value) else {
        return;
    };
    let _ = event.detail_type();
    // What the functions do next with a typed event: the scan model and repository names.
    match &event {
        StewardEvent::ImageScan(scan) => {
            let _ = ScanEvent::from_event(ScanKind::Basic, scan);
        }
        StewardEvent::Inspector2Scan(scan) => {
            let _ = scan.detail.repository();
            let _ = ScanEvent::from_event(ScanKind::Enhanced, scan);
        }
        StewardEvent::ImageAction(action) => {
            let _ = repository_from_arn(&action.detail.repository_name);
        }
        StewardEvent::ReplicationAction(action) => {
            let _ = repository_from_arn(&action.detail.repository_name);
        }
        _ => {}
    }
});
