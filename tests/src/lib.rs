//! The test bed for ecr-steward's integration tests:
//!
//! - [`Stack`]: the local AWS test bed (`scripts/stack`: moto for ECR/SNS/SQS/EventBridge, and
//!   one OCI registry per region), one per test, with SDK configurations, image pushes and
//!   SNS → SQS notification capture;
//! - [`RuntimeApi`]: a Lambda Runtime API emulator that runs a function binary on events;
//! - [`FaultProxy`]: an HTTP/1.1 proxy to put in front of a registry, which records every
//!   request and injects faults (cut uploads, 503s, corrupted blobs) on demand;
//! - [`EventSource`]: an SQS queue polled as Lambda's event source mapping polls it;
//! - helpers to find the built function binaries and to load the sample events.

// Test support for the integration tests: a failed setup step fails the test, so it may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;

pub mod audit_registry;
mod bulk;
mod event_source;
mod fault_proxy;
mod notified;
mod push;
mod runtime_api;
mod stack;

pub use bulk::{push_bulk, BulkImage, Pushed};
pub use event_source::{Batch, EventSource};
pub use fault_proxy::{
    sequential_round_trips, Fault, FaultProxy, RateLimit, Request as ProxiedRequest,
};
pub use notified::{NotifiedStack, ARRIVAL, QUIET};
pub use push::{
    provenance_fixture, push_artifacts, push_image_with, run_workloads, sign_image, Artifact,
    ArtifactBlob, ArtifactManifest,
};
pub use runtime_api::{Answer, InitError, RuntimeApi};
pub use stack::{Flavor, PushSpec, PushedImage, ScanResult, Stack};

/// The workspace root (the directory of the root `Cargo.toml`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace root),
/// else the one this executable was built in, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return workspace_root().join(dir);
    }
    // Test executables live in <target>/debug/deps, binaries in <target>/debug; cargo marks
    // <target> with CACHEDIR.TAG.
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .skip(1)
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
            .map(Path::to_path_buf)
    });
    from_exe.unwrap_or_else(|| workspace_root().join("target"))
}

/// The built binary of a workspace function, `<target>/debug/<name>`. Tests never run cargo:
/// the test script builds the workspace first.
///
/// # Panics
/// When the binary is missing.
pub fn function_binary(name: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// A sample event from `events/` (e.g. `image-push-semver.json`), patched by the caller.
///
/// # Panics
/// When the sample is missing or not JSON.
pub use steward::testing::patched_sample as event_from_sample;

/// The `ECR Image Action` PUSH event that ECR sends for `image` (from
/// `image-push-semver.json`; no `image-tag` for an untagged push).
pub fn push_event(image: &PushedImage) -> Value {
    event_from_sample("image-push-semver.json", |event| {
        event["region"] = image.region.as_str().into();
        let detail = &mut event["detail"];
        detail["repository-name"] = image.repository.as_str().into();
        detail["image-digest"] = image.digest.as_str().into();
        detail["manifest-media-type"] = image.media_type.as_str().into();
        match &image.tag {
            Some(tag) => detail["image-tag"] = tag.as_str().into(),
            None => {
                if let Some(detail) = detail.as_object_mut() {
                    detail.remove("image-tag");
                }
            }
        }
    })
}

/// The `ECR Image Scan` event of a basic scan of `image` that ended in `status`
/// (`COMPLETE`, `FAILED`) with these severity counts (from `image-scan-basic.json`).
pub fn basic_scan_event(image: &PushedImage, status: &str, counts: Value) -> Value {
    event_from_sample("image-scan-basic.json", |event| {
        event["region"] = image.region.as_str().into();
        event["resources"] = serde_json::json!([format!(
            "arn:aws:ecr:{}:123456789012:repository/{}",
            image.region, image.repository
        )]);
        let detail = &mut event["detail"];
        detail["scan-status"] = status.into();
        detail["repository-name"] = image.repository.as_str().into();
        detail["image-digest"] = image.digest.as_str().into();
        detail["image-tags"] = serde_json::json!(image.tag.iter().collect::<Vec<_>>());
        detail["finding-severity-counts"] = counts;
    })
}

/// Reads a `KEY=VALUE` file such as the stack's `DIR/env`. Blank lines and `#` comments are
/// skipped; a value quoted by the shell (`'…'`, `"…"`, or backslash escapes) is unquoted.
pub fn read_env_file(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)?;
    let mut pairs = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}:{}: expected KEY=VALUE", path.display(), number + 1),
            ));
        };
        pairs.push((key.trim().to_string(), unquote(value)));
    }
    Ok(pairs)
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_unquoted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("env");
        std::fs::write(
            &path,
            "A=1\n# comment\n\nB=/tmp/with\\ space\nC='x y'\nD=\"q\"\nE=a=b\n",
        )
        .expect("write");
        let pairs = read_env_file(&path).expect("parses");
        let expected = [
            ("A", "1"),
            ("B", "/tmp/with space"),
            ("C", "x y"),
            ("D", "q"),
            ("E", "a=b"),
        ];
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(pairs, expected);
        std::fs::write(&path, "oops\n").expect("write");
        assert!(read_env_file(&path).is_err());
    }

    #[test]
    fn scan_results_count_their_findings() {
        let image = PushedImage {
            repository: "team/app".into(),
            region: "us-east-1".into(),
            tag: Some("1.2.3".into()),
            digest: format!("sha256:{}", "b".repeat(64)),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            children: vec![],
        };
        let result = ScanResult::complete(&image)
            .finding("CVE-1", "CRITICAL", "xz-utils", "5.6.0")
            .finding("CVE-2", "HIGH", "curl", "7.88.1")
            .enhanced_finding("CVE-3", "HIGH", "openssl", Some("3.0.2"))
            .to_json();
        assert_eq!(result["repositoryName"], "team/app");
        assert_eq!(
            result["imageId"],
            serde_json::json!({ "imageDigest": image.digest })
        );
        assert_eq!(result["imageScanStatus"]["status"], "COMPLETE");
        let findings = &result["imageScanFindings"];
        assert_eq!(
            findings["findingSeverityCounts"],
            serde_json::json!({ "CRITICAL": 1, "HIGH": 2 })
        );
        assert_eq!(findings["findings"].as_array().map(Vec::len), Some(2));
        let enhanced = &findings["enhancedFindings"][0];
        assert_eq!(enhanced["fixAvailable"], "YES");
        assert_eq!(
            enhanced["packageVulnerabilityDetails"]["vulnerablePackages"][0]["fixedInVersion"],
            "3.0.2"
        );
        let pending = ScanResult::complete(&image)
            .status("IN_PROGRESS", "")
            .to_json();
        assert!(pending.get("imageScanFindings").is_none());
    }

    #[test]
    fn push_events_carry_the_image() {
        let image = PushedImage {
            repository: "team/app".into(),
            region: "eu-west-1".into(),
            tag: None,
            digest: format!("sha256:{}", "a".repeat(64)),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            children: vec![],
        };
        let event = push_event(&image);
        assert_eq!(event["region"], "eu-west-1");
        assert_eq!(event["detail"]["repository-name"], "team/app");
        assert_eq!(event["detail"]["image-digest"], image.digest.as_str());
        assert!(event["detail"].get("image-tag").is_none());
    }
}
