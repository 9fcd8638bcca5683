//! The action's install step (scripts/action/install) against a local HTTP server standing in
//! for the release host, serving a release built by scripts/action/package from the binary
//! this test run built: a verified install with no compile; the cache reused only after its
//! archive matches the release's SHA256SUMS fetched afresh; a wrong checksum refused with
//! nothing installed; cargo's fallback only when the version has no release, and a failing
//! host that is an error rather than a fallback. And the attestation check, through a stub
//! `gh` on PATH that records its arguments and passes or fails: verified; gh absent or not
//! authenticated, a fallback to the checksum that says why; require-attestation turning that
//! into an error; a failed verification an error either way.

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

/// The GitHub CLI the install finds.
#[derive(Clone, Copy, PartialEq)]
enum Gh {
    /// None: STEWARD_GH names a file that does not exist (a real gh on PATH is never used).
    Absent,
    /// The stub, authenticated by GH_TOKEN; `attestation verify` passes.
    Verifies,
    /// The stub, authenticated; `attestation verify` fails as gh does for an archive that no
    /// attestation of the release workflow covers.
    Fails,
    /// The stub, with no token and `gh auth status` failing.
    Unauthenticated,
    /// The stub, authenticated; `attestation verify` cannot reach GitHub's API.
    Unreachable,
}

/// A stand-in for gh: logs each call's arguments (and, for `attestation verify FILE`, the
/// token it got and FILE's sha256) to $GH_STUB_LOG; `auth status` answers $GH_STUB_AUTH,
/// `attestation verify --help` shows the flag the install looks for, and `attestation verify`
/// answers $GH_STUB_VERIFY.
const GH_STUB: &str = r#"#!/bin/sh
printf '%s\n' "$*" >> "$GH_STUB_LOG"
case "$1 $2" in
  "auth status") [ "$GH_STUB_AUTH" = ok ]; exit $? ;;
  "attestation verify")
    case " $* " in *" --help "*) echo "      --signer-workflow string   Workflow that signed attestation"; exit 0 ;; esac
    echo "token=${GH_TOKEN:-none}" >> "$GH_STUB_LOG"
    (sha256sum "$3" 2>/dev/null || shasum -a 256 "$3") | cut -d' ' -f1 | sed 's/^/digest=/' >> "$GH_STUB_LOG"
    if [ "$GH_STUB_VERIFY" = pass ]; then echo "Verification succeeded!"; exit 0; fi
    if [ "$GH_STUB_VERIFY" = unreachable ]; then
      echo "Error: failed to fetch attestations from ecr-steward/ecr-steward: HTTP 502 (https://api.github.com/...)" >&2
      exit 1
    fi
    echo "Error: verifying with issuer \"sigstore.dev\": no attestations found for subject" >&2
    exit 1 ;;
esac
echo "gh stub: unexpected call: $*" >&2
exit 1
"#;

struct Install {
    root: tempfile::TempDir,
    marker: PathBuf,
    github_path: PathBuf,
    stub_dir: PathBuf,
    gh_log: PathBuf,
}

impl Install {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("install root");
        let marker = root.path().join("fallback-ran");
        let github_path = root.path().join("github_path");
        let stub_dir = root.path().join("stub-bin");
        std::fs::create_dir(&stub_dir).expect("stub dir");
        let stub = stub_dir.join("gh");
        std::fs::write(&stub, GH_STUB).expect("write the gh stub");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755))
                .expect("chmod the gh stub");
        }
        let gh_log = root.path().join("gh.log");
        Self {
            root,
            marker,
            github_path,
            stub_dir,
            gh_log,
        }
    }

    fn plan(&self) -> HashMap<String, String> {
        plan(&[("STEWARD_INSTALL_ROOT", self.root.path())])
    }

    /// Runs the install against `url` with no gh.
    fn run(&self, url: &str) -> Output {
        self.run_with(url, Gh::Absent, &[])
    }

    /// Runs the install against `url`, with `gh` and `env`; the fallback records that it ran
    /// (and the GH_TOKEN it saw), and "builds" by copying the test's binary, so no test
    /// compiles anything.
    fn run_with(&self, url: &str, gh: Gh, env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(root().join("scripts/action/install"));
        command
            .env("STEWARD_RELEASE_URL", url)
            .env("STEWARD_INSTALL_ROOT", self.root.path())
            .env("GITHUB_PATH", &self.github_path)
            .env("STEWARD_DOWNLOAD_RETRIES", "0")
            .env(
                "STEWARD_FALLBACK",
                format!(
                    "echo \"$STEWARD_SOURCE\" > '{0}' && echo \"${{GH_TOKEN:-unset}}\" > '{0}.token' && mkdir -p \"$STEWARD_DIR/bin\" && cp '{1}' \"$STEWARD_DIR/bin/ecr-steward\"",
                    self.marker.display(),
                    env!("CARGO_BIN_EXE_ecr-steward")
                ),
            )
            .env("GH_STUB_LOG", &self.gh_log)
            .env_remove("STEWARD_VERSION")
            .env_remove("STEWARD_REQUIRE_ATTESTATION")
            .env_remove("STEWARD_ATTESTATION_REPO")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_SERVER_URL")
            .env_remove("GH_TOKEN")
            .env_remove("GITHUB_TOKEN");
        if gh == Gh::Absent {
            command.env("STEWARD_GH", self.root.path().join("no-gh-here"));
        } else {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![self.stub_dir.clone()];
            dirs.extend(std::env::split_paths(&path));
            command
                .env("PATH", std::env::join_paths(dirs).expect("PATH"))
                .env_remove("STEWARD_GH")
                .env(
                    "GH_STUB_VERIFY",
                    match gh {
                        Gh::Fails => "fail",
                        Gh::Unreachable => "unreachable",
                        _ => "pass",
                    },
                );
            if gh == Gh::Unauthenticated {
                command.env("GH_STUB_AUTH", "fail");
            } else {
                command
                    .env("GH_STUB_AUTH", "ok")
                    .env("GH_TOKEN", "test-token");
            }
        }
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("install runs")
    }

    /// The stub's log: one line per call, and what `attestation verify` saw.
    fn gh_calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.gh_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
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
        stderr(&first).contains(&format!(
            "installed v{version} ({target}, sha256 verified against the release's SHA256SUMS, \
             attestation not verified)"
        )),
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

    // Again: the cached archive is checked against the release's SHA256SUMS, fetched afresh,
    // and the binary extracted from it again; the archive is not downloaded twice.
    let sums = format!("/v{version}/SHA256SUMS");
    let archive = format!("/v{version}/ecr-steward-{version}-{target}.tar.gz");
    let second = install.run(&host.url);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!(
            "reused the cached v{version} ({target}, sha256 verified against the release's SHA256SUMS"
        )),
        "{}",
        stderr(&second)
    );
    assert_eq!(&host.requests()[2..], std::slice::from_ref(&sums));

    // Nothing stored beside the cached binary is trusted: a changed binary is replaced by the
    // one in the checked archive...
    std::fs::write(install.binary(), b"#!/bin/sh\necho tampered\n").expect("tamper");
    let third = install.run(&host.url);
    assert!(third.status.success(), "{}", stderr(&third));
    let version_output = Command::new(install.binary())
        .arg("--version")
        .output()
        .expect("the reinstalled binary runs");
    assert_eq!(
        String::from_utf8_lossy(&version_output.stdout).trim(),
        format!("ecr-steward {version}")
    );
    assert_eq!(&host.requests()[3..], std::slice::from_ref(&sums));

    // ... and a changed archive that no longer matches SHA256SUMS is downloaded again.
    let cached_archive =
        PathBuf::from(&plan["dir"]).join(format!("ecr-steward-{version}-{target}.tar.gz"));
    std::fs::write(&cached_archive, b"not the release's archive").expect("tamper");
    let fourth = install.run(&host.url);
    assert!(fourth.status.success(), "{}", stderr(&fourth));
    assert!(
        stderr(&fourth).contains("does not match the release's SHA256SUMS: downloading"),
        "{}",
        stderr(&fourth)
    );
    assert_eq!(host.requests()[4..], [sums, archive]);

    // With the host gone, the cache cannot be checked, so it is not used.
    drop(host);
    let before = std::fs::read_to_string(&install.github_path).expect("GITHUB_PATH");
    let fifth = install.run("http://127.0.0.1:9");
    assert_eq!(fifth.status.code(), Some(1), "{}", stderr(&fifth));
    assert!(
        stderr(&fifth).contains("cannot download"),
        "{}",
        stderr(&fifth)
    );
    assert_eq!(
        std::fs::read_to_string(&install.github_path).expect("GITHUB_PATH"),
        before,
        "PATH was changed"
    );
}

/// A release archive carries the binary, the shell completions and the man pages.
#[test]
fn the_release_archive_carries_completions_and_man_pages() {
    let plan = Install::new().plan();
    let (version, target) = (&plan["version"], &plan["target"]);
    let files = release(version, target);
    let archive = &files[&format!("/v{version}/ecr-steward-{version}-{target}.tar.gz")];
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("release.tar.gz");
    std::fs::write(&path, archive).expect("write");
    let listed = Command::new("tar")
        .arg("-tzf")
        .arg(&path)
        .output()
        .expect("tar runs");
    let entries = String::from_utf8_lossy(&listed.stdout);
    for entry in [
        "ecr-steward",
        "completions/ecr-steward.bash",
        "completions/_ecr-steward",
        "completions/ecr-steward.fish",
        "man/ecr-steward.1",
        "man/ecr-steward-gate.1",
        "man/ecr-steward-policy-validate.1",
    ] {
        assert!(
            entries.lines().any(|l| l == entry),
            "{entry} missing: {entries}"
        );
    }
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

    // The same build again, from the cache; with gh and a token, which the build never sees,
    // and no attestation to verify.
    std::fs::remove_file(&install.marker).expect("reset the marker");
    let again = install.run_with(&host.url, Gh::Verifies, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("reused the build from source"),
        "{}",
        stderr(&again)
    );
    assert!(!install.marker.exists(), "the fallback ran again");
    assert!(install.gh_calls().is_empty(), "{:?}", install.gh_calls());
    std::fs::remove_file(install.binary()).expect("remove the build");
    let rebuilt = install.run_with(&host.url, Gh::Verifies, &[]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    let token = std::fs::read_to_string(format!("{}.token", install.marker.display()))
        .expect("the fallback ran");
    assert_eq!(token.trim(), "unset", "the build saw GH_TOKEN");

    // require-attestation: a version with no release has no attestation, so no build either.
    let install = Install::new();
    let output = install.run_with(
        &host.url,
        Gh::Verifies,
        &[("STEWARD_REQUIRE_ATTESTATION", "true")],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("require-attestation is true, but v"),
        "{}",
        stderr(&output)
    );
    assert!(!install.marker.exists(), "the fallback ran");
    assert!(!install.binary().exists());

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

/// The release's sha256 of this runner's archive, as SHA256SUMS says.
fn release_digest(files: &HashMap<String, Vec<u8>>, version: &str, target: &str) -> String {
    let sums = String::from_utf8(files[&format!("/v{version}/SHA256SUMS")].clone()).expect("text");
    let asset = format!("ecr-steward-{version}-{target}.tar.gz");
    sums.lines()
        .find(|line| line.ends_with(&asset))
        .and_then(|line| line.split_whitespace().next())
        .expect("the archive in SHA256SUMS")
        .to_string()
}

#[test]
fn the_archive_is_verified_with_gh_attestation_verify_when_gh_can() {
    let install = Install::new();
    let plan = install.plan();
    let (version, target) = (&plan["version"], &plan["target"]);
    let files = release(version, target);
    let digest = release_digest(&files, version, target);
    let host = Host::start(files, None);

    let output = install.run_with(&host.url, Gh::Verifies, &[("GITHUB_ACTIONS", "true")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains(&format!(
            "attestation verified: ecr-steward-{version}-{target}.tar.gz was built by \
             ecr-steward/ecr-steward/.github/workflows/release.yml"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "installed v{version} ({target}, sha256 verified against the release's SHA256SUMS, attestation verified)"
        )),
        "{said}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("::notice"));
    let calls = install.gh_calls();
    let verify = calls
        .iter()
        .find(|call| call.starts_with("attestation verify /"))
        .unwrap_or_else(|| panic!("no attestation verify in {calls:?}"));
    let archive = verify.split_whitespace().nth(2).expect("the archive");
    assert!(
        archive.ends_with(&format!("/ecr-steward-{version}-{target}.tar.gz")),
        "{verify}"
    );
    assert!(
        verify.ends_with(
            " --repo ecr-steward/ecr-steward \
             --signer-workflow ecr-steward/ecr-steward/.github/workflows/release.yml \
             --predicate-type https://slsa.dev/provenance/v1 --deny-self-hosted-runners"
        ),
        "{verify}"
    );
    // gh got the token, and the very archive that matched SHA256SUMS.
    assert!(calls.contains(&"token=test-token".to_string()), "{calls:?}");
    assert!(calls.contains(&format!("digest={digest}")), "{calls:?}");
    assert!(install.binary().exists());

    // A cached archive is verified too.
    let again = install.run_with(&host.url, Gh::Verifies, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("reused the cached"),
        "{}",
        stderr(&again)
    );
    let verifications = install
        .gh_calls()
        .iter()
        .filter(|call| call.starts_with("attestation verify /"))
        .count();
    assert_eq!(verifications, 2);
}

#[test]
fn without_a_usable_gh_the_install_says_so_and_relies_on_the_checksum() {
    let install = Install::new();
    let plan = install.plan();
    let (version, target) = (&plan["version"], &plan["target"]);
    let host = Host::start(release(version, target), None);

    // No gh: installed, with a notice that says why only the checksum was checked.
    let output = install.run_with(&host.url, Gh::Absent, &[("GITHUB_ACTIONS", "true")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let notice = format!(
        "ecr-steward-{version}-{target}.tar.gz: checked against the release's SHA256SUMS only, \
         not its attestation, because the GitHub CLI"
    );
    assert!(stderr(&output).contains(&notice), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is not installed"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("attestation not verified)"),
        "{}",
        stderr(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("::notice title=ecr-steward install::{notice}")),
        "{stdout}"
    );
    assert!(install.binary().exists());

    // gh without a token, and `gh auth status` failing: the same fallback, for that reason,
    // and gh is not asked to verify.
    let output = install.run_with(&host.url, Gh::Unauthenticated, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("because gh is not authenticated"),
        "{}",
        stderr(&output)
    );
    let calls = install.gh_calls();
    assert!(calls.contains(&"auth status".to_string()), "{calls:?}");
    assert!(
        !calls
            .iter()
            .any(|call| call.starts_with("attestation verify /")),
        "{calls:?}"
    );
}

#[test]
fn require_attestation_makes_a_missing_verification_an_error() {
    let install = Install::new();
    let plan = install.plan();
    let (version, target) = (&plan["version"], &plan["target"]);
    let host = Host::start(release(version, target), None);

    for gh in [Gh::Absent, Gh::Unauthenticated] {
        let output = install.run_with(
            &host.url,
            gh,
            &[
                ("STEWARD_REQUIRE_ATTESTATION", "true"),
                ("GITHUB_ACTIONS", "true"),
            ],
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!(
                "error: require-attestation is true, but the attestation of ecr-steward-{version}-{target}.tar.gz cannot be verified"
            )),
            "{}",
            stderr(&output)
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("::error title=ecr-steward install::"),
            "{output:?}"
        );
        assert!(!install.binary().exists(), "a binary was installed");
        assert!(!install.github_path.exists(), "PATH was changed");
    }

    // With gh able to verify, the same requirement is met.
    let output = install.run_with(
        &host.url,
        Gh::Verifies,
        &[("STEWARD_REQUIRE_ATTESTATION", "true")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(install.binary().exists());

    // Anything but true or false is a usage error.
    let output = install.run_with(
        &host.url,
        Gh::Verifies,
        &[("STEWARD_REQUIRE_ATTESTATION", "yes")],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

/// gh that cannot ask GitHub (its API down, a rate limit) is a verification that could not
/// run: a warning and the checksum alone, or an error under require-attestation. A runner of
/// another GitHub server (Enterprise) does not ask at all: its token is not github.com's.
#[test]
fn a_verification_that_cannot_run_falls_back_unless_required() {
    let install = Install::new();
    let plan = install.plan();
    let (version, target) = (&plan["version"], &plan["target"]);
    let host = Host::start(release(version, target), None);

    let output = install.run_with(&host.url, Gh::Unreachable, &[("GITHUB_ACTIONS", "true")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::warning title=ecr-steward install::"),
        "{stdout}"
    );
    assert!(
        said.contains("gh could not check its attestation"),
        "{said}"
    );
    assert!(said.contains("HTTP 502"), "{said}");
    assert!(install.binary().exists());

    let output = install.run_with(
        &host.url,
        Gh::Unreachable,
        &[("STEWARD_REQUIRE_ATTESTATION", "true")],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("gh could not check the attestation"),
        "{}",
        stderr(&output)
    );
    assert!(!install.binary().exists(), "an unverified binary was left");

    let _ = std::fs::remove_file(&install.gh_log);
    let output = install.run_with(
        &host.url,
        Gh::Verifies,
        &[("GITHUB_SERVER_URL", "https://github.example.com")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains("the release's attestations are on github.com"),
        "{said}"
    );
    assert!(
        !install
            .gh_calls()
            .iter()
            .any(|call| call.starts_with("attestation verify /")),
        "gh was asked with another server's token"
    );
}

#[test]
fn a_failed_verification_is_an_error_even_when_not_required() {
    let install = Install::new();
    let plan = install.plan();
    let (version, target) = (&plan["version"], &plan["target"]);
    let host = Host::start(release(version, target), None);

    let output = install.run_with(&host.url, Gh::Fails, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains(&format!(
            "error: the attestation of ecr-steward-{version}-{target}.tar.gz did not verify, so nothing was installed"
        )),
        "{said}"
    );
    assert!(said.contains("no attestations found for subject"), "{said}");
    assert!(!install.binary().exists(), "a binary was installed");
    assert!(!install.github_path.exists(), "PATH was changed");
    assert!(!install.marker.exists(), "the fallback ran");

    // A cached install whose archive no longer verifies is removed, not left for a later step.
    let output = install.run_with(&host.url, Gh::Verifies, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(install.binary().exists());
    let output = install.run_with(&host.url, Gh::Fails, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        !install.binary().exists(),
        "the unverified binary was left in place"
    );
}
