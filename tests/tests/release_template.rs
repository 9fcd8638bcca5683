//! The release template (scripts/release-template, run by .github/workflows/release.yml): the
//! repository's template.yaml as it deploys from the released arm64 zips, without Rust. Run here
//! on a fake version with dummy zips:
//! - every AWS::Serverless::Function's CodeUri names its zip, beside the template; no build
//!   metadata is left; nothing else of template.yaml changed;
//! - its AWS::ServerlessRepo::Application metadata has the version, the license of Cargo.toml
//!   and the LICENSE and README.md it names, copied beside it;
//! - cfn-lint passes it, and so does `scripts/check-template --lint-only` (sam validate --lint
//!   and the metadata as `sam publish` takes it, cfn-lint, the SAM transform), offline; its
//!   resources being template.yaml's, `make test` runs checkov, Control Tower's controls and
//!   the IAM lint on them already;
//! - a missing zip, or a version that is not a semantic version, fails it with the reason.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_yaml::Value;
use testbed::workspace_root;

const VERSION: &str = "9.8.7";
const FUNCTIONS: [&str; 4] = ["push-guard", "scan-alert", "replicator", "retention"];

fn zip_name(function: &str) -> String {
    format!("ecr-steward-{VERSION}-{function}-arm64.zip")
}

/// A directory with the four functions' zips as the release's lambda job names them (each an
/// empty zip archive: the checks never open them).
fn release_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    // The end-of-central-directory record alone: a valid zip with no entries.
    let empty_zip = [b"PK\x05\x06".as_slice(), &[0u8; 18]].concat();
    for function in FUNCTIONS {
        std::fs::write(dir.path().join(zip_name(function)), &empty_zip).expect("write a zip");
    }
    dir
}

fn release_template(version: &str, dir: &Path) -> Output {
    Command::new(workspace_root().join("scripts/release-template"))
        .arg(version)
        .arg(dir)
        .current_dir(workspace_root())
        .output()
        .expect("scripts/release-template runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes the release template into a fresh release directory: (the directory, the template).
fn written() -> (tempfile::TempDir, PathBuf) {
    let dir = release_dir();
    let output = release_template(VERSION, dir.path());
    assert!(output.status.success(), "{}", text(&output));
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert_eq!(
        path,
        dir.path()
            .join(format!("ecr-steward-{VERSION}-template.yaml")),
        "{}",
        text(&output)
    );
    (dir, path)
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read the template");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Cargo.toml's `[workspace.package] license`.
fn workspace_license() -> String {
    let cargo = std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("Cargo.toml");
    let package = &cargo[cargo
        .find("[workspace.package]")
        .expect("[workspace.package]")..];
    package
        .lines()
        .find_map(|line| line.strip_prefix("license = "))
        .expect("a license")
        .trim_matches('"')
        .to_string()
}

#[test]
fn every_function_deploys_its_released_zip_and_nothing_else_changed() {
    let (dir, path) = written();
    let release = yaml(&path);
    let text = std::fs::read_to_string(&path).expect("the template");
    assert!(!text.contains("rust-cargolambda"), "{text}");

    let resources = release["Resources"].as_mapping().expect("Resources");
    let mut zips = Vec::new();
    for (name, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let name = name.as_str().expect("a logical id");
        let code = resource["Properties"]["CodeUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: CodeUri is not a path"));
        assert!(dir.path().join(code).is_file(), "{name}: no file {code}");
        for build in ["BuildMethod", "BuildProperties"] {
            assert!(
                resource["Metadata"].get(build).is_none(),
                "{name}: {build} is left"
            );
        }
        // The checks' own metadata stays.
        assert!(resource["Metadata"].get("checkov").is_some(), "{name}");
        zips.push(code.to_string());
    }
    zips.sort();
    let mut expected: Vec<String> = FUNCTIONS.iter().map(|f| zip_name(f)).collect();
    expected.sort();
    assert_eq!(zips, expected);

    // template.yaml with exactly those changes is the release template.
    let mut original = yaml(&workspace_root().join("template.yaml"));
    let mut changed = 0;
    for (_, resource) in original
        .get_mut("Resources")
        .and_then(Value::as_mapping_mut)
        .expect("Resources")
    {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("BuildProperties.Binary")
            .to_string();
        let metadata = resource
            .get_mut("Metadata")
            .and_then(Value::as_mapping_mut)
            .expect("Metadata");
        metadata.remove("BuildMethod");
        metadata.remove("BuildProperties");
        let properties = resource
            .get_mut("Properties")
            .and_then(Value::as_mapping_mut)
            .expect("Properties");
        properties.insert("CodeUri".into(), zip_name(&binary).into());
        changed += 1;
    }
    assert_eq!(changed, FUNCTIONS.len());
    let mut release_without_metadata = release.clone();
    let metadata = release_without_metadata
        .as_mapping_mut()
        .expect("a mapping")
        .remove("Metadata")
        .expect("the top-level Metadata");
    assert_eq!(
        metadata.as_mapping().map(|m| m.len()),
        Some(1),
        "only the application's: {metadata:?}"
    );
    assert!(
        release_without_metadata == original,
        "the release template differs from template.yaml in more than CodeUri and the build \
         metadata"
    );
}

#[test]
fn the_application_metadata_names_the_version_the_license_and_the_readme() {
    let (dir, path) = written();
    let release = yaml(&path);
    let application = &release["Metadata"]["AWS::ServerlessRepo::Application"];
    assert_eq!(application["SemanticVersion"], VERSION, "{application:?}");
    assert_eq!(application["Name"], "ecr-steward");
    assert_eq!(
        application["SpdxLicenseId"].as_str(),
        Some(workspace_license().as_str())
    );
    let source = application["SourceCodeUrl"]
        .as_str()
        .expect("SourceCodeUrl");
    assert!(source.ends_with(&format!("/tree/v{VERSION}")), "{source}");
    assert!(
        application["Description"]
            .as_str()
            .is_some_and(|d| !d.is_empty() && d.len() <= 256),
        "{application:?}"
    );
    // LicenseUrl and ReadmeUrl are files beside the template, the repository's own.
    for (key, file) in [("LicenseUrl", "LICENSE"), ("ReadmeUrl", "README.md")] {
        assert_eq!(application[key], file, "{key}");
        assert_eq!(
            std::fs::read(dir.path().join(file)).expect("copied beside the template"),
            std::fs::read(workspace_root().join(file)).expect("the repository's"),
            "{file}"
        );
    }
}

/// The venv's bin directory with cfn-lint (scripts/check-ci installs it).
fn ci_tools() -> PathBuf {
    let output = Command::new(workspace_root().join("scripts/check-ci"))
        .arg("--install")
        .current_dir(workspace_root())
        .output()
        .expect("scripts/check-ci runs");
    assert!(output.status.success(), "{}", text(&output));
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

#[test]
fn the_release_template_passes_the_templates_checks() {
    let (_dir, path) = written();

    let lint = Command::new(ci_tools().join("cfn-lint"))
        .arg(&path)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("cfn-lint runs");
    assert!(lint.status.success(), "cfn-lint:\n{}", text(&lint));

    // SAM's and cfn-lint's checks, on the release template instead of template.yaml. Its
    // resources are template.yaml's (the test above), which `make test` puts through
    // checkov, the Control Tower controls and the IAM lint already.
    let checks = Command::new(workspace_root().join("scripts/check-template"))
        .arg("--lint-only")
        .env("STEWARD_TEMPLATE", &path)
        .current_dir(workspace_root())
        .output()
        .expect("scripts/check-template runs");
    let said = text(&checks);
    assert!(
        checks.status.success(),
        "check-template --lint-only:\n{said}"
    );
    for step in [
        "== sam validate --lint",
        &format!("AWS::ServerlessRepo::Application ecr-steward {VERSION}: valid for sam publish"),
        "== SAM transform + cfn-lint",
        "check-template: ok",
    ] {
        assert!(said.contains(step), "{step:?} missing:\n{said}");
    }
}

#[test]
fn a_missing_zip_or_a_version_that_is_not_semantic_fails() {
    let dir = release_dir();
    std::fs::remove_file(dir.path().join(zip_name("retention"))).expect("remove a zip");
    let output = release_template(VERSION, dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("{} is missing", zip_name("retention"))),
        "{}",
        text(&output)
    );
    assert!(
        !dir.path()
            .join(format!("ecr-steward-{VERSION}-template.yaml"))
            .exists(),
        "a template was written all the same"
    );

    let dir = release_dir();
    let output = release_template("9.8", dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("is not a semantic version"),
        "{}",
        text(&output)
    );

    // A tag's `v` is taken off: v9.8.7 is version 9.8.7.
    let dir = release_dir();
    let output = release_template(&format!("v{VERSION}"), dir.path());
    assert!(output.status.success(), "{}", text(&output));
}
