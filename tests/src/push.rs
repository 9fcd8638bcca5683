//! Pushes with any `push_image.py` options, for what [`PushSpec`](crate::PushSpec) does not
//! cover (`--layers`, `--layer-size`, `--registry`, `--no-ecr`, `--media`).

use std::process::Command;

use crate::{workspace_root, PushedImage, Stack};

/// Runs `push_image.py ARGS` with the stack's environment and returns its JSON line.
///
/// # Panics
/// When the script fails; the message has its output.
pub fn push_image_with(stack: &Stack, args: &[&str]) -> PushedImage {
    let stdout = run_script(stack, "push_image.py", args);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("push_image.py printed {stdout:?}, not its JSON line: {e}"))
}

/// Runs `scripts/testbed/SCRIPT ARGS` with the stack's python and environment (and `PATH`
/// only from this process); its standard output.
fn run_script(stack: &Stack, script: &str, args: &[&str]) -> String {
    let output = Command::new(stack.python())
        .arg(workspace_root().join("scripts/testbed").join(script))
        .args(args)
        .env_clear()
        .envs(stack.env().iter().map(|(k, v)| (k, v)))
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Creates workloads on moto that run images (`run_workloads.py`): `--lambda NAME=URI[,URI]`,
/// `--ecs-service CLUSTER/NAME=IMAGE`.
///
/// # Panics
/// When the script fails.
pub fn run_workloads(stack: &Stack, args: &[&str]) {
    run_script(stack, "run_workloads.py", args);
}

/// One artifact shape as `push_artifacts.py` pushed it: everything it put in the registry.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Artifact {
    /// The shape's name, such as `cosign-recursive`.
    pub shape: String,
    /// The repository it went to.
    pub repository: String,
    /// The top image's tag.
    pub tag: String,
    /// The top image's digest.
    pub digest: String,
    /// Every manifest: the top one, children, referrers, tag-scheme objects.
    pub manifests: Vec<ArtifactManifest>,
    /// Every blob pushed.
    pub blobs: Vec<ArtifactBlob>,
    /// Digests of the layers no registry holds (foreign layers).
    #[serde(default)]
    pub foreign: Vec<String>,
}

/// A manifest of an [`Artifact`].
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ArtifactManifest {
    /// Its digest.
    pub digest: String,
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The tag it carries, if any.
    #[serde(default)]
    pub tag: Option<String>,
    /// Its subject's digest, for an OCI 1.1 referrer.
    #[serde(default)]
    pub subject: Option<String>,
}

/// A blob of an [`Artifact`].
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ArtifactBlob {
    /// Its digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
}

/// Runs `push_artifacts.py ARGS` with the stack's environment: one [`Artifact`] per shape.
///
/// # Panics
/// When the script fails; the message has its output.
pub fn push_artifacts(stack: &Stack, args: &[&str]) -> Vec<Artifact> {
    run_script(stack, "push_artifacts.py", args)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("push_artifacts.py printed {line:?}: {e}"))
        })
        .collect()
}

/// Signs (or attaches an SBOM to) an already pushed image with `sign_image.py ARGS`, with the
/// fixtures' real keys (tests/fixtures/provenance): `--scheme cosign-sig|cosign-att|
/// cosign-referrer|notation|sbom-spdx|sbom-cyclonedx`, `--key`, `--cert-chain`, `--tamper`.
/// Returns its JSON line.
///
/// # Panics
/// When the script fails.
pub fn sign_image(stack: &Stack, args: &[&str]) -> serde_json::Value {
    let stdout = run_script(stack, "sign_image.py", args);
    let line = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("sign_image.py printed {stdout:?}, not its JSON line: {e}"))
}

/// A file of tests/fixtures/provenance, by path.
pub fn provenance_fixture(name: &str) -> String {
    workspace_root()
        .join("tests/fixtures/provenance")
        .join(name)
        .to_string_lossy()
        .into_owned()
}
