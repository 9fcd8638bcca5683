//! One local AWS test bed (`scripts/stack`) per test: moto, and an OCI registry per region.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::{ImageIdentifier, ImageScanningConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Deserialize;
use serde_json::{json, Value};
use steward::http::{SdkHttpClient, TrustRoots};

use crate::workspace_root;

/// The registries' data plane (`STEWARD_DATA_PLANE` of `scripts/stack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataPlane {
    /// HTTPS (HTTP/2) with the stack's CA, Basic authentication, blobs on moto's S3 behind
    /// redirects: as ECR's.
    EcrLike,
    /// Plain HTTP, no authentication, blobs served by the registry.
    Plain,
}

impl DataPlane {
    fn name(self) -> &'static str {
        match self {
            DataPlane::EcrLike => "ecr",
            DataPlane::Plain => "plain",
        }
    }
}

/// What answers on each registry's port (`TESTBED_REGISTRY_FLAVOR` of `scripts/stack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// docker-registry 2.8 alone: no referrers API (the endpoint answers 404).
    Distribution,
    /// docker-registry behind the test bed's referrers front: the OCI 1.1 referrers API, as
    /// ECR serves it (HTTP/1.1 only).
    Oci11,
}

impl Flavor {
    /// Both, for tests that run on each.
    pub const ALL: [Flavor; 2] = [Flavor::Distribution, Flavor::Oci11];

    fn name(self) -> &'static str {
        match self {
            Flavor::Distribution => "distribution",
            Flavor::Oci11 => "oci11",
        }
    }
}

/// A running test bed. Dropping it stops the servers and removes their files.
pub struct Stack {
    /// Holds the stack's directory (`<tempdir>/stack`) until drop.
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    env: Vec<(String, String)>,
    /// Queue URL → region: moto's queue URLs do not name the region, and its SQS is regional.
    queues: Mutex<BTreeMap<String, String>>,
    names: AtomicUsize,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn stack_script() -> PathBuf {
    workspace_root().join("scripts/stack")
}

fn output_text(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

impl Stack {
    /// Starts a test bed in a new temporary directory (`scripts/stack up`, about 1.2 s).
    ///
    /// # Panics
    /// When the stack does not start; the message has the script's output.
    pub fn start() -> Self {
        Self::start_on(DataPlane::EcrLike)
    }

    /// Starts a test bed on the plain data plane (HTTP, no authentication, blobs served by
    /// the registry itself), for tests whose fault proxy must see blob bodies.
    pub fn start_plain() -> Self {
        Self::start_on(DataPlane::Plain)
    }

    /// Starts a test bed on the ECR-like data plane with registries of `flavor`, with
    /// `settings` (such as `TESTBED_REFERRERS_PAGE_SIZE`) for `scripts/stack up`.
    pub fn start_flavored(flavor: Flavor, settings: &[(&str, &str)]) -> Self {
        let mut all = vec![("TESTBED_REGISTRY_FLAVOR", flavor.name())];
        all.extend_from_slice(settings);
        Self::start_with(DataPlane::EcrLike, &all)
    }

    fn start_on(plane: DataPlane) -> Self {
        Self::start_with(plane, &[])
    }

    fn start_with(plane: DataPlane, settings: &[(&str, &str)]) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("steward-stack-")
            .tempdir()
            .expect("create a temporary directory");
        let dir = tmp.path().join("stack");
        let output = Command::new(stack_script())
            .arg("up")
            .arg(&dir)
            .env("STEWARD_DATA_PLANE", plane.name())
            .envs(settings.iter().copied())
            .output()
            .expect("run scripts/stack up");
        let mut stack = Self {
            env: Vec::new(),
            dir,
            _tmp: tmp,
            queues: Mutex::default(),
            names: AtomicUsize::new(0),
        };
        // From here on, drop runs `down`, also when the start failed half-way.
        assert!(
            output.status.success(),
            "scripts/stack up failed: {}",
            output_text(&output)
        );
        stack.env = crate::read_env_file(&stack.dir.join("env"))
            .unwrap_or_else(|e| panic!("cannot read the stack's env file: {e}"));
        stack
    }

    /// The `KEY=VALUE` pairs of `DIR/env`, to pass to child processes.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// What a function binary runs with here: the stack's `DIR/env`, the topic it notifies
    /// (`STEWARD_TOPIC_ARN`) and `settings`, each replacing a value set before it.
    pub fn function_env(&self, topic: &str, settings: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        for (key, value) in [("STEWARD_TOPIC_ARN", topic)].iter().chain(settings) {
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value.to_string()));
        }
        env
    }

    /// One value of `DIR/env`.
    ///
    /// # Panics
    /// When the key is missing.
    pub fn var(&self, key: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key} is not in the stack's env file"))
    }

    /// moto's URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        self.var("AWS_ENDPOINT_URL")
    }

    /// The OCI registry that stands for `region`'s ECR registry.
    pub fn registry(&self, region: &str) -> &str {
        self.var(&format!(
            "STEWARD_REGISTRY_{}",
            region.to_uppercase().replace('-', "_")
        ))
    }

    /// Stamps moto's ECR pushes from now on `seconds` in the past (0: the real clock again;
    /// scripts/testbed/moto_clock.py): how a test makes an image old.
    ///
    /// # Panics
    /// When the clock file cannot be written.
    pub fn push_ago(&self, seconds: i64) {
        let text = if seconds == 0 {
            String::new()
        } else {
            seconds.to_string()
        };
        std::fs::write(self.var("TESTBED_CLOCK_FILE"), text).expect("write the push clock");
    }

    /// The venv's python, which has boto3.
    pub fn python(&self) -> &str {
        self.var("STEWARD_PYTHON")
    }

    /// An SDK configuration for moto in `region`: static test credentials, the same HTTP
    /// client as the functions (`steward::http`), and nothing from the process's environment
    /// or profile files.
    pub fn sdk_config(&self, region: &str) -> SdkConfig {
        let http = SdkHttpClient::shared(self.http());
        let credentials = Credentials::new("testing", "testing", None, None, "testbed");
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(steward::aws::retry_config())
            .timeout_config(steward::aws::timeout_config())
            .endpoint_url(self.endpoint())
            .region(Region::new(region.to_string()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build()
    }

    /// The functions' HTTP client (bundled roots, and the stack's CA on the ECR-like data
    /// plane), for the SDK and the registries alike.
    pub fn http(&self) -> reqwest::Client {
        match self.ca_file() {
            None => steward::http::client(TrustRoots::Bundled).expect("an HTTP client"),
            Some(ca) => {
                use rustls::pki_types::{pem::PemObject, CertificateDer};
                let roots = CertificateDer::pem_file_iter(&ca)
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .unwrap_or_else(|e| panic!("{}: {e}", ca.display()));
                steward::http::client_trusting(roots).expect("an HTTP client")
            }
        }
    }

    /// The stack's CA (`SSL_CERT_FILE` of its env file) on the ECR-like data plane.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.env
            .iter()
            .find(|(k, _)| k == "SSL_CERT_FILE")
            .map(|(_, v)| PathBuf::from(v))
    }

    /// `(user, password)` the registries take (what GetAuthorizationToken gives, `AWS` and
    /// moto's password); `None` on the plain data plane.
    pub fn registry_credentials(&self) -> Option<(&str, &str)> {
        self.env
            .iter()
            .find(|(k, _)| k == "TESTBED_REGISTRY_CREDENTIALS")
            .and_then(|(_, value)| value.split_once(':'))
    }

    /// The `Authorization` header value the registries take, as an ECR client sends it
    /// (`Basic` and base64 of `user:password`); `None` on the plain data plane.
    pub fn registry_authorization(&self) -> Option<String> {
        self.registry_credentials().map(|(user, password)| {
            let token = aws_smithy_types::base64::encode(format!("{user}:{password}"));
            format!("Basic {token}")
        })
    }

    /// A registry client for `url` (a region's registry, or a proxy in front of one), with
    /// the stack's CA and credentials.
    pub fn registry_client(&self, url: &str) -> steward::oci::registry::RegistryClient {
        steward::oci::registry::RegistryClient::new(self.http(), url, self.registry_authorization())
    }

    /// A fault proxy in front of `upstream` (a registry of this stack, or moto), speaking TLS
    /// to it when it is `https://`.
    pub fn proxy(&self, upstream: &str) -> crate::FaultProxy {
        let started = match (upstream.starts_with("https://"), self.ca_file()) {
            (true, Some(ca)) => crate::FaultProxy::start_trusting(upstream, &ca),
            _ => crate::FaultProxy::start(upstream),
        };
        started.unwrap_or_else(|e| panic!("a fault proxy in front of {upstream}: {e}"))
    }

    pub fn ecr(&self, region: &str) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.sdk_config(region))
    }

    /// Pushes an image to the region's registry and to moto's ECR (`push_image.py`).
    ///
    /// # Panics
    /// When the script fails; the message has its output.
    pub fn push_image(&self, spec: &PushSpec) -> PushedImage {
        let script = workspace_root().join("scripts/testbed/push_image.py");
        let output = Command::new(self.python())
            .arg(&script)
            .args(spec.args())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
            .output()
            .expect("run push_image.py");
        assert!(
            output.status.success(),
            "push_image.py {:?} failed: {}",
            spec.args(),
            output_text(&output)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("push_image.py printed {stdout:?}, not its JSON line: {e}"))
    }

    /// The tags of an image in moto's ECR, sorted; `None` when the image does not exist.
    ///
    /// # Panics
    /// On any other ECR error.
    pub async fn image_tags(
        &self,
        region: &str,
        repository: &str,
        digest: &str,
    ) -> Option<Vec<String>> {
        let found = self
            .ecr(region)
            .describe_images()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await;
        match found {
            Ok(output) => {
                let detail = output.image_details().first()?;
                let mut tags = detail.image_tags().to_vec();
                tags.sort();
                Some(tags)
            }
            Err(error) if error.code() == Some("ImageNotFoundException") => None,
            Err(error) => panic!(
                "DescribeImages {repository}@{digest}: {}",
                aws_sdk_ecr::error::DisplayErrorContext(&error)
            ),
        }
    }

    /// A command for `program` with the stack's env (and `PATH`, `RUST_BACKTRACE` when set) and
    /// nothing else from this process: no other `AWS_*` variable, no `HOME` and so no profile
    /// files, no `ECR_STEWARD_POLICY`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .envs(
                ["PATH", "RUST_BACKTRACE"]
                    .into_iter()
                    .filter_map(|key| std::env::var_os(key).map(|value| (key, value))),
            )
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Creates a repository in moto's ECR with scan-on-push on or off. Call it before
    /// [`Stack::push_image`], which creates a missing repository with scan-on-push off.
    ///
    /// # Panics
    /// On any AWS error.
    pub async fn create_repository(&self, region: &str, repository: &str, scan_on_push: bool) {
        self.ecr(region)
            .create_repository()
            .repository_name(repository)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(scan_on_push)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateRepository {repository}: {}",
                    aws_sdk_ecr::error::DisplayErrorContext(&e)
                )
            });
    }

    /// Queues `result` in moto (`POST /moto-api/static/ecr/scan-finding-results`). moto hands
    /// it out only once the image has a scan ([`Stack::start_image_scan`]): the first
    /// DescribeImageScanFindings for the image binds the next queued result to the `imageId`
    /// the caller sent, and every later call with that `imageId` returns the same result.
    ///
    /// # Panics
    /// When moto does not accept it.
    pub fn script_scan(&self, result: &ScanResult) {
        let body = json!({ "results": [result.to_json()], "region": result.region });
        let (status, answer) =
            self.moto_api_post("/moto-api/static/ecr/scan-finding-results", &body);
        assert_eq!(status, 201, "moto refused the scan result: {answer}");
    }

    /// `StartImageScan`: from now on the image has a scan, and DescribeImageScanFindings returns
    /// the result scripted for it (or moto's built-in result, one HIGH `CVE-9999-9999`, when
    /// none was). moto allows one scan per image and day.
    ///
    /// # Panics
    /// On any AWS error.
    pub async fn start_image_scan(&self, region: &str, repository: &str, digest: &str) {
        self.ecr(region)
            .start_image_scan()
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "StartImageScan {repository}@{digest}: {}",
                    aws_sdk_ecr::error::DisplayErrorContext(&e)
                )
            });
    }

    /// The image's scan ends with `result`: [`Stack::script_scan`], then
    /// [`Stack::start_image_scan`] (in that order, so that no caller sees moto's built-in
    /// result in between).
    pub async fn scan(&self, result: &ScanResult) {
        self.script_scan(result);
        self.start_image_scan(&result.region, &result.repository, &result.digest)
            .await;
    }

    /// A JSON POST to moto's own API; returns the status and the body.
    fn moto_api_post(&self, path: &str, body: &Value) -> (u16, String) {
        let endpoint = self.endpoint();
        let authority = endpoint
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("moto's endpoint {endpoint} is not http://"))
            .trim_end_matches('/');
        let body = body.to_string();
        let mut stream =
            TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect to {endpoint}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set a read timeout");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("POST {endpoint}{path}: {e}"));
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .unwrap_or_else(|e| panic!("POST {endpoint}{path}: {e}"));
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("POST {endpoint}{path}: not HTTP: {response:?}"));
        let answer = response
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
            .to_string();
        (status, answer)
    }

    fn unique(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.names.fetch_add(1, Ordering::Relaxed))
    }

    /// A new SNS topic with a new SQS queue subscribed to it (not raw: the queue receives the
    /// SNS envelope, with `MessageAttributes`). Returns `(topic_arn, queue_url)`.
    ///
    /// # Panics
    /// On any AWS error.
    pub async fn topic_with_queue(&self, region: &str) -> (String, String) {
        let sdk = self.sdk_config(region);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let topic_arn = sns
            .create_topic()
            .name(self.unique("steward-notifications"))
            .send()
            .await
            .expect("CreateTopic")
            .topic_arn
            .expect("a topic ARN");
        let (queue_url, queue_arn) = create_queue(&sqs, &self.unique("steward-inbox")).await;
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "false")
            .send()
            .await
            .expect("Subscribe");
        self.queues
            .lock()
            .expect("queues")
            .insert(queue_url.clone(), region.to_string());
        (topic_arn, queue_url)
    }

    /// Polls the queue until `expected` messages have arrived (at least one when `expected` is
    /// 0, so that an unexpected message shows) or `timeout` passes (give or take the last 1 s
    /// long poll), deleting what it receives.
    /// Returns the SNS envelopes, parsed; the caller asserts on their number.
    ///
    /// # Panics
    /// On any AWS error, or a message that is not JSON.
    pub async fn receive_notifications(
        &self,
        queue_url: &str,
        expected: usize,
        timeout: Duration,
    ) -> Vec<Value> {
        let region = self
            .queues
            .lock()
            .expect("queues")
            .get(queue_url)
            .cloned()
            .unwrap_or_else(|| "us-east-1".into());
        let sqs = aws_sdk_sqs::Client::new(&self.sdk_config(&region));
        let deadline = Instant::now() + timeout;
        let mut received = Vec::new();
        while received.len() < expected.max(1) && Instant::now() < deadline {
            // Long polls of 1 s: the timeout is kept to within a second.
            let output = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("ReceiveMessage");
            let messages = output.messages.unwrap_or_default();
            for message in messages {
                let body = message.body().unwrap_or_default();
                let envelope: Value = serde_json::from_str(body)
                    .unwrap_or_else(|e| panic!("SQS message {body:?} is not JSON: {e}"));
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("DeleteMessage");
                }
                received.push(envelope);
            }
        }
        received
    }
}

/// Creates the queue `name`; its URL and ARN.
///
/// # Panics
/// On any AWS error.
pub(crate) async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue URL");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("a queue ARN");
    (url, arn)
}

impl Drop for Stack {
    fn drop(&mut self) {
        match Command::new(stack_script())
            .arg("down")
            .arg(&self.dir)
            .output()
        {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!("scripts/stack down failed: {}", output_text(&output)),
            Err(error) => eprintln!("cannot run scripts/stack down: {error}"),
        }
    }
}

/// What to push with `push_image.py`; a builder.
#[derive(Debug, Clone, Default)]
pub struct PushSpec {
    pub region: String,
    pub repository: String,
    pub tag: Option<String>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub platforms: Vec<String>,
    pub child_label_omit: Vec<String>,
    pub seed: Option<String>,
}

impl PushSpec {
    /// An untagged, single-platform image with no labels and random content.
    pub fn new(region: &str, repository: &str) -> Self {
        Self {
            region: region.into(),
            repository: repository.into(),
            ..Self::default()
        }
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// A `config.Labels` entry.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    pub fn labels<'a>(mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.labels
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// A manifest annotation (on the index too, for a multi-platform image).
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.push((key.into(), value.into()));
        self
    }

    /// `os/arch[/variant]`; two or more push an index.
    pub fn platform(mut self, platform: &str) -> Self {
        self.platforms.push(platform.into());
        self
    }

    /// That platform's image gets no labels and no annotations.
    pub fn child_label_omit(mut self, platform: &str) -> Self {
        self.child_label_omit.push(platform.into());
        self
    }

    /// Same seed, same bytes, same digests.
    pub fn seed(mut self, seed: &str) -> Self {
        self.seed = Some(seed.into());
        self
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--region".to_string(),
            self.region.clone(),
            "--repository".into(),
            self.repository.clone(),
        ];
        let mut add = |flag: &str, value: String| {
            args.push(flag.into());
            args.push(value);
        };
        if let Some(tag) = &self.tag {
            add("--tag", tag.clone());
        }
        for (key, value) in &self.labels {
            add("--label", format!("{key}={value}"));
        }
        for (key, value) in &self.annotations {
            add("--annotation", format!("{key}={value}"));
        }
        for platform in &self.platforms {
            add("--platform", platform.clone());
        }
        for platform in &self.child_label_omit {
            add("--child-label-omit", platform.clone());
        }
        if let Some(seed) = &self.seed {
            add("--seed", seed.clone());
        }
        args
    }
}

/// `push_image.py`'s output line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushedImage {
    pub repository: String,
    pub region: String,
    pub tag: Option<String>,
    pub digest: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The platform images' digests, for an index.
    pub children: Vec<String>,
}

/// A DescribeImageScanFindings response for moto to return ([`Stack::scan`]); a builder.
/// `findingSeverityCounts` is counted from the findings.
#[derive(Debug, Clone)]
pub struct ScanResult {
    pub region: String,
    pub repository: String,
    pub digest: String,
    /// `COMPLETE`, `IN_PROGRESS`, `FAILED`, `UNSUPPORTED_IMAGE`, …
    pub status: String,
    pub description: String,
    /// Basic scan findings, as ECR returns them.
    pub findings: Vec<Value>,
    /// Enhanced (Inspector) findings, as ECR returns them.
    pub enhanced_findings: Vec<Value>,
}

/// The account moto uses.
const ACCOUNT: &str = "123456789012";

impl ScanResult {
    /// A complete scan of `image` with no findings.
    pub fn complete(image: &PushedImage) -> Self {
        Self {
            region: image.region.clone(),
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            status: "COMPLETE".into(),
            description: "The scan was completed successfully.".into(),
            findings: Vec::new(),
            enhanced_findings: Vec::new(),
        }
    }

    /// Another status; a scan that is not `COMPLETE` has no `imageScanFindings`.
    pub fn status(mut self, status: &str, description: &str) -> Self {
        self.status = status.into();
        self.description = description.into();
        self
    }

    /// A basic finding: `CVE-…`, `CRITICAL`, the package and its version.
    pub fn finding(mut self, id: &str, severity: &str, package: &str, version: &str) -> Self {
        self.findings.push(json!({
            "name": id,
            "uri": format!("https://security-tracker.debian.org/tracker/{id}"),
            "severity": severity,
            "attributes": [
                { "key": "package_name", "value": package },
                { "key": "package_version", "value": version },
                { "key": "CVSS2_SCORE", "value": "7.5" },
            ],
        }));
        self
    }

    /// An enhanced finding in `package` 1.0.0: `fixAvailable` is `YES` with `fixed_in`, else
    /// `NO`.
    pub fn enhanced_finding(
        mut self,
        id: &str,
        severity: &str,
        package: &str,
        fixed_in: Option<&str>,
    ) -> Self {
        // Timestamps as epoch seconds: the JSON protocol's form, which moto passes through.
        let observed = 1_763_600_000;
        let mut vulnerable = json!({ "name": package, "version": "1.0.0", "packageManager": "OS" });
        if let Some(fixed) = fixed_in {
            vulnerable["fixedInVersion"] = fixed.into();
        }
        self.enhanced_findings.push(json!({
            "awsAccountId": ACCOUNT,
            "description": format!("{id} in {package}"),
            "findingArn": format!("arn:aws:inspector2:{}:{ACCOUNT}:finding/{}", self.region, id.to_lowercase()),
            "firstObservedAt": observed,
            "lastObservedAt": observed,
            "packageVulnerabilityDetails": {
                "vulnerabilityId": id,
                "vulnerablePackages": [vulnerable],
                "source": "NVD",
                "sourceUrl": format!("https://nvd.nist.gov/vuln/detail/{id}"),
            },
            "severity": severity,
            "fixAvailable": if fixed_in.is_some() { "YES" } else { "NO" },
            "status": "ACTIVE",
            "title": format!("{id} - {package}"),
            "type": "PACKAGE_VULNERABILITY",
            "updatedAt": observed,
        }));
        self
    }

    /// The response moto is to return.
    pub fn to_json(&self) -> Value {
        let mut result = json!({
            "registryId": ACCOUNT,
            "repositoryName": self.repository,
            "imageId": { "imageDigest": self.digest },
            "imageScanStatus": { "status": self.status, "description": self.description },
        });
        if self.status == "COMPLETE" {
            let mut counts = BTreeMap::<String, u64>::new();
            for finding in self.findings.iter().chain(&self.enhanced_findings) {
                let severity = finding["severity"].as_str().unwrap_or("UNDEFINED");
                *counts.entry(severity.to_string()).or_default() += 1;
            }
            let mut findings = json!({ "findingSeverityCounts": counts });
            if !self.findings.is_empty() || self.enhanced_findings.is_empty() {
                findings["findings"] = self.findings.clone().into();
            }
            if !self.enhanced_findings.is_empty() {
                findings["enhancedFindings"] = self.enhanced_findings.clone().into();
            }
            result["imageScanFindings"] = findings;
        }
        result
    }
}
