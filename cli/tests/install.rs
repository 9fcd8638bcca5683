//! The action's install step (scripts/action/install) against a local HTTP server standing in
//! for the release host, serving a release built by scripts/action/package from the binary
//! this test run built: a verified install with no compile, the cache reused without a
//! request, a wrong checksum refused with nothing installed, cargo's fallback only when the
//! version has no release, and a failing host that is an error rather than a fallback.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A release host on 127.0.0.1: serves `files` by path, answers `status` for `failing` paths
/// and 404 for the rest, and records each path asked for.
struct Host {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Host {
    fn start(files: HashMap<String, Vec<u8>>, failing: Option<(String, u16)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // the headers, up to the blank line
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                seen.lock().expect("lock").push(path.clone());
                let (status, body) = match (&failing, files.get(&path)) {
                    (Some((failing, status)), _) if *failing == path => (*status, Vec::new()),
                    (_, Some(body)) => (200, body.clone()),
                    (_, None) => (404, b"Not Found".to_vec()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

/// What the install script says it will do: `key`, `dir`, `version`, `target`.
fn plan(env: &[(&str, &Path)]) -> HashMap<String, String> {
    let mut command = Command::new(root().join("scripts/action/install"));
    command.arg("plan");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("install plan runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A release of the locally built binary, as the release workflow lays it out, made once per
/// test run. The binary is stripped first (as the release profile strips it): the debug
/// binary is some 200 MB, and gzipping that would be most of the test's time.
fn release(version: &str, target: &str) -> HashMap<String, Vec<u8>> {
    static RELEASE: OnceLock<HashMap<String, Vec<u8>>> = OnceLock::new();
    RELEASE
        .get_or_init(|| {
            let out = tempfile::tempdir().expect("tempdir");
            let built = env!("CARGO_BIN_EXE_ecr-steward");
            let stripped = out.path().join("stripped");
            let strip = Command::new("strip")
                .arg("-o")
                .arg(&stripped)
                .arg(built)
                .status();
            let binary = if strip.is_ok_and(|s| s.success()) {
                stripped.clone()
            } else {
                PathBuf::from(built)
            };
            let assets = out.path().join("assets");
            let package = root().join("scripts/action/package");
            let output = Command::new(&package)
                .arg(&binary)
                .args([version, target])
                .arg(&assets)
                .output()
                .expect("package runs");
            assert!(output.status.success(), "{output:?}");
            let output = Command::new(&package)
                .arg("--sums")
                .arg(&assets)
                .output()
                .expect("package --sums runs");
            assert!(output.status.success(), "{output:?}");
            std::fs::read_dir(&assets)
                .expect("read release")
                .map(|entry| {
                    let entry = entry.expect("entry");
                    (
                        format!("/v{version}/{}", entry.file_name().to_string_lossy()),
                        std::fs::read(entry.path()).expect("read asset"),
                    )
                })
                .collect()
        })
        .clone()
}

struct Install {
    root: tempfile::TempDir,
    marker: PathBuf,
    github_path: PathBuf,
}

impl Install {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("install root");
        let marker = root.path().join("fallback-ran");
        let github_path = root.path().join("github_path");
        Self {
            root,
            marker,
            github_path,
        }
    }

    fn plan(&self) -> HashMap<String, String> {
        plan(&[("STEWARD_INSTALL_ROOT", self.root.path())])
    }

    /// Runs the install against `url`; the fallback records that it ran, and "builds" by
    /// copying the test's binary, so no test compiles anything.
    fn run(&self, url: &str) -> Output {
        Command::new(root().join("scripts/action/install"))
            .env("STEWARD_RELEASE_URL", url)
            .env("STEWARD_INSTALL_ROOT", self.root.path())
            .env("GITHUB_PATH", &self.github_path)
            .env("STEWARD_DOWNLOAD_RETRIES", "0")
            .env(
                "STEWARD_FALLBACK",
                format!(
                    "echo \"$STEWARD_SOURCE\" > '{}' && mkdir -p \"$STEWARD_DIR/bin\" && cp '{}' \"$STEWARD_DIR/bin/ecr-steward\"",
                    self.marker.display(),
                    env!("CARGO_BIN_EXE_ecr-steward")
                ),
            )
            .env_remove("STEWARD_VERSION")
            .output()
            .expect("install runs")
    }

    fn binary(&self) -> PathBuf {
        PathBuf::from(&self.plan()["dir"]).join("bin/ecr-steward")
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_release_binary_is_verified_installed_and_then_reused_from_the_cache() {
    let install = Install::new();
    let plan = install.plan();
    let (version, target) = (&plan["version"], &plan["target"]);
    assert!(plan["key"].starts_with(&format!("ecr-steward-{version}-{target}-")));
    let host = Host::start(release(version, target), None);

    let first = install.run(&host.url);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains(&format!("installed v{version} ({target}, sha256 verified)")),
        "{}",
        stderr(&first)
    );
    assert!(!install.marker.exists(), "the fallback ran");
    assert_eq!(
        host.requests(),
        [
            format!("/v{version}/SHA256SUMS"),
            format!("/v{version}/ecr-steward-{version}-{target}.tar.gz")
        ]
    );
    let version_output = Command::new(install.binary())
        .arg("--version")
        .output()
        .expect("the installed binary runs");
    assert_eq!(
        String::from_utf8_lossy(&version_output.stdout).trim(),
        format!("ecr-steward {version}")
    );
    let on_path = std::fs::read_to_string(&install.github_path).expect("GITHUB_PATH");
    assert_eq!(on_path.trim(), format!("{}/bin", plan["dir"]));

    // Again, with the host gone: the cached install is checked against its digest and reused.
    drop(host);
    let second = install.run("http://127.0.0.1:9");
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).contains("reused"), "{}", stderr(&second));

    // A cached binary that no longer matches its recorded digest is not reused.
    std::fs::write(install.binary(), b"#!/bin/sh\necho tampered\n").expect("tamper");
    let third = install.run("http://127.0.0.1:9");
    assert_eq!(third.status.code(), Some(1), "{}", stderr(&third));
    assert!(
        stderr(&third).contains("cannot download"),
        "{}",
        stderr(&third)
    );
}

#[test]
fn a_wrong_checksum_is_refused_and_nothing_is_installed() {
    let install = Install::new();
    let plan = install.plan();
    let (version, target) = (&plan["version"], &plan["target"]);
    let mut files = release(version, target);
    let sums = format!("/v{version}/SHA256SUMS");
    let wrong = String::from_utf8(files[&sums].clone())
        .expect("text")
        .lines()
        .map(|line| format!("{}{}\n", "0".repeat(64), &line[64..]))
        .collect::<String>();
    files.insert(sums, wrong.into_bytes());
    let host = Host::start(files, None);

    let output = install.run(&host.url);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "checksum mismatch for ecr-steward-{version}-{target}.tar.gz: SHA256SUMS says {}",
            "0".repeat(64)
        )),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("nothing was installed"));
    assert!(!install.binary().exists(), "a binary was installed");
    assert!(!install.marker.exists(), "the fallback ran");
    assert!(!install.github_path.exists(), "PATH was changed");
}

#[test]
fn only_a_missing_release_falls_back_to_cargo_install() {
    let install = Install::new();
    let plan = install.plan();
    let host = Host::start(HashMap::new(), None);

    let output = install.run(&host.url);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "no release v{} at {}: building from source with cargo install --locked",
            plan["version"], host.url
        )),
        "{}",
        stderr(&output)
    );
    let source = std::fs::read_to_string(&install.marker).expect("the fallback ran");
    assert_eq!(
        Path::new(source.trim()).canonicalize().expect("source"),
        root().canonicalize().expect("root")
    );
    assert!(install.binary().exists());

    // A host that fails is an error, not a reason to compile for minutes.
    let install = Install::new();
    let plan = install.plan();
    let failing = format!("/v{}/SHA256SUMS", plan["version"]);
    let host = Host::start(HashMap::new(), Some((failing, 503)));
    let output = install.run(&host.url);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("HTTP 503"), "{}", stderr(&output));
    assert!(!install.marker.exists(), "the fallback ran");
}
