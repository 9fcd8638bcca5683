//! The OCI Distribution API client: manifests and blobs by digest, verified.
//!
//! Real ECR answers blob GETs with a redirect to a pre-signed S3 URL; the redirect is followed
//! here, without the Authorization header.

use std::collections::BTreeMap;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::Response;

pub use super::window::{Action, Windows};
use crate::error::{with_causes, Service, StewardError};
use crate::image::{Digest, DigestAlgorithm, PlatformLabels};
use crate::labels::Labels;
pub use crate::manifest::{
    sha256_digest, Descriptor, ManifestDoc, Platform, RawManifest, DOCKER_LIST, DOCKER_MANIFEST,
    OCI_INDEX, OCI_MANIFEST,
};

const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// Config blobs are small; anything larger is not a config.
const MAX_CONFIG_BYTES: usize = 4 << 20;
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// One registry endpoint, with the credentials for it.
#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
    /// Until when the registry is taken to have no referrers API, after it answered the
    /// endpoint with the 404 the distribution spec gives for that (docker-registry 2.8 has
    /// none; ECR has one). Remembered for [`NO_REFERRERS_API_FOR`] only, never on other errors.
    no_referrers_api_until: std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// How many requests of each kind the registry is sent at once, learned from its throttling.
    windows: Windows,
    /// Clients with connections of their own, for the bodies of uploads (see
    /// [`RegistryClient::with_upload_lanes`]); empty: every request on `http`.
    lanes: std::sync::Arc<[Lane]>,
    /// When the lanes were last opened ([`RegistryClient::warm_upload_lanes`]).
    lanes_warmed: std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// An upload lane: a client with a connection of its own, and the bytes sent over it now.
struct Lane {
    client: reqwest::Client,
    in_flight: std::sync::atomic::AtomicU64,
}

/// Bytes counted against a lane while its upload runs.
struct LaneLoad<'a> {
    lane: &'a Lane,
    bytes: u64,
}

impl Drop for LaneLoad<'_> {
    fn drop(&mut self) {
        self.lane
            .in_flight
            .fetch_sub(self.bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Lanes opened within this long are taken to be open still (reqwest keeps an idle
/// connection for 90 s).
const LANES_STAY_OPEN: std::time::Duration = std::time::Duration::from_secs(60);

/// How an upload began: the blob mounted from another repository of the registry (nothing to
/// send), or a session to send it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadStart {
    /// The registry linked the blob from the repository named in the mount: it is there.
    Mounted,
    /// The URL to send the blob to.
    Session(String),
}

/// How long a registry's "no referrers API" answer is believed before it is asked again.
pub const NO_REFERRERS_API_FOR: std::time::Duration = std::time::Duration::from_secs(300);
/// Pages of one referrers listing followed at most (a registry that links to itself forever
/// must not hold a copy).
const MAX_REFERRER_PAGES: usize = 100;

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A request that got no answer. Its URL is named without the query: a pre-signed storage
/// URL's query is its credential.
pub(crate) fn network(error: reqwest::Error) -> StewardError {
    let url = error.url().map(|url| {
        let mut url = url.clone();
        url.set_query(None);
        url
    });
    let message = match url {
        Some(url) => format!("{} ({url})", with_causes(&error.without_url())),
        None => with_causes(&error),
    };
    StewardError::Unavailable {
        service: Service::Registry,
        message: redact(&message),
    }
}

/// `text` without the secrets a registry or its storage may echo: the query of any URL (a
/// pre-signed URL's `X-Amz-Signature`, `X-Amz-Credential`, …) and S3's signature diagnostics
/// (`<StringToSign>`, `<CanonicalRequest>`, `<SignatureProvided>`).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, url) = rest.split_at(start);
        out.push_str(before);
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
            .unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        match url.split_once('?') {
            Some((path, _)) => {
                out.push_str(path);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    for element in [
        "StringToSign",
        "StringToSignBytes",
        "CanonicalRequest",
        "CanonicalRequestBytes",
        "SignatureProvided",
        "AWSAccessKeyId",
    ] {
        let (open, close) = (format!("<{element}>"), format!("</{element}>"));
        let mut from = 0;
        while let Some(at) = out[from..].find(&open).map(|i| from + i + open.len()) {
            let Some(end) = out[at..].find(&close).map(|i| at + i) else {
                out.truncate(at);
                out.push_str("<redacted>");
                break;
            };
            out.replace_range(at..end, "<redacted>");
            from = at + "<redacted>".len() + close.len();
        }
    }
    out
}

impl RegistryClient {
    /// `base` is `https://<account>.dkr.ecr.<region>.amazonaws.com` or a local registry URL;
    /// `authorization` a whole header value, e.g. `Basic <token>`.
    pub fn new(http: reqwest::Client, base: &str, authorization: Option<String>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            authorization,
            no_referrers_api_until: std::sync::Arc::default(),
            windows: Windows::default(),
            lanes: std::sync::Arc::from(Vec::new()),
            lanes_warmed: std::sync::Arc::default(),
        }
    }

    /// Sends the bodies of uploads over `lanes`, clients built apart from the main one (each
    /// its own connection), each upload on the lane with the fewest bytes under way. One
    /// HTTP/2 connection carries only as many bytes per round trip as the registry's
    /// flow-control window allows (1 MiB on the test bed's registry): far from the registry,
    /// uploads on one connection wait on the window, not on the network.
    pub fn with_upload_lanes(mut self, lanes: Vec<reqwest::Client>) -> Self {
        self.lanes = lanes
            .into_iter()
            .map(|client| Lane {
                client,
                in_flight: std::sync::atomic::AtomicU64::new(0),
            })
            .collect();
        self
    }

    /// The registry's request windows (see [`Windows`]).
    pub fn windows(&self) -> &Windows {
        &self.windows
    }

    /// Sends `request` within `action`'s window; a `429` narrows the window.
    async fn send(
        &self,
        action: Action,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, StewardError> {
        let permit = self.windows.acquire(action).await;
        let response = request.send().await.map_err(network)?;
        permit.settle(response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS);
        Ok(response)
    }

    /// The client the body of an upload of `size` bytes goes over: the lane with the fewest
    /// bytes under way (counted until the load is dropped), or the main client.
    fn upload_client(&self, size: u64) -> (&reqwest::Client, Option<LaneLoad<'_>>) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(lane) = self.lanes.iter().min_by_key(|l| l.in_flight.load(Relaxed)) else {
            return (&self.http, None);
        };
        lane.in_flight.fetch_add(size, Relaxed);
        (&lane.client, Some(LaneLoad { lane, bytes: size }))
    }

    /// Opens the upload lanes' connections (a cheap `GET /v2/` on each) unless they were
    /// opened within a minute, so that the uploads do not wait on their handshakes; best
    /// effort.
    pub async fn warm_upload_lanes(&self) {
        let now = std::time::Instant::now();
        if let Ok(mut warmed) = self.lanes_warmed.lock() {
            if warmed.is_some_and(|at| now.duration_since(at) < LANES_STAY_OPEN) {
                return;
            }
            *warmed = Some(now);
        }
        let url = format!("{}/v2/", self.base);
        futures_util::future::join_all(
            self.lanes
                .iter()
                .map(|lane| async { lane.client.get(&url).send().await.map(drop) }),
        )
        .await;
    }

    /// The registry's base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.authorized(
            self.http
                .request(method, format!("{}/v2/{path}", self.base)),
        )
    }

    /// A manifest or index by digest, verified against it.
    pub async fn manifest(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<RawManifest, StewardError> {
        let what = format!("manifest {repository}@{digest}");
        let response = self
            .send(
                Action::ReadManifest,
                self.request(
                    reqwest::Method::GET,
                    &format!("{repository}/manifests/{digest}"),
                )
                .header(ACCEPT, ACCEPT_MANIFESTS),
            )
            .await?;
        let response = check(response, &what).await?;
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .unwrap_or_default();
        let bytes = read_capped(response, MAX_MANIFEST_BYTES, &what).await?;
        verify(&bytes, digest, &what)?;
        let media_type = if media_type.is_empty() || media_type == "application/json" {
            // Fall back to the mediaType field the manifest declares.
            serde_json::from_slice::<ManifestDoc>(&bytes)
                .ok()
                .and_then(|doc| doc.media_type)
                .unwrap_or_default()
        } else {
            media_type
        };
        Ok(RawManifest {
            bytes,
            media_type,
            digest: digest.into(),
        })
    }

    /// A small blob (an image config), verified against its digest.
    pub async fn small_blob(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<u8>, StewardError> {
        let what = format!("blob {repository}@{digest}");
        let response = self.get_blob(repository, digest).await?;
        let bytes = read_capped(response, MAX_CONFIG_BYTES, &what).await?;
        verify(&bytes, digest, &what)?;
        Ok(bytes)
    }

    /// The labels of every platform image of `digest`: config labels merged with the
    /// manifest's and the index's annotations (labels first). Attestation manifests, whose
    /// platform is `unknown/unknown`, are not images and are left out.
    pub async fn platform_labels(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<PlatformLabels>, StewardError> {
        let top = self.manifest(repository, digest).await?;
        let doc = top.parse()?;
        if !top.is_index() {
            let labels = self
                .image_labels(repository, &doc, &BTreeMap::new())
                .await?;
            return Ok(vec![PlatformLabels {
                platform: None,
                digest: digest.into(),
                labels,
            }]);
        }
        // The platforms are read at once: each child's manifest, then its config.
        let children = doc.manifests.iter().filter_map(|child| {
            let platform = child.platform.as_ref().map(Platform::name);
            (platform.as_deref() != Some("unknown/unknown")).then_some((child, platform))
        });
        futures_util::future::try_join_all(children.map(|(child, platform)| async {
            let manifest = self.manifest(repository, &child.digest).await?;
            let child_doc = manifest.parse()?;
            let labels = self
                .image_labels(repository, &child_doc, &doc.annotations)
                .await?;
            Ok::<_, StewardError>(PlatformLabels {
                platform,
                digest: child.digest.clone(),
                labels,
            })
        }))
        .await
    }

    async fn image_labels(
        &self,
        repository: &str,
        manifest: &ManifestDoc,
        index_annotations: &BTreeMap<String, String>,
    ) -> Result<Labels, StewardError> {
        let mut labels = Labels::new();
        if let Some(config) = &manifest.config {
            let bytes = self.small_blob(repository, &config.digest).await?;
            let value: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|error| StewardError::InvalidResponse {
                    service: Service::Registry,
                    message: format!("config {} is not JSON: {error}", config.digest),
                })?;
            if let Some(found) = value.pointer("/config/Labels").and_then(|l| l.as_object()) {
                for (key, value) in found {
                    if let Some(value) = value.as_str() {
                        labels.insert(key.clone(), value.to_string());
                    }
                }
            }
        }
        for (key, value) in manifest.annotations.iter().chain(index_annotations) {
            labels.entry(key.clone()).or_insert_with(|| value.clone());
        }
        Ok(labels)
    }
}

impl RegistryClient {
    /// The digest a manifest reference resolves to, or `None` when there is no such manifest.
    pub async fn head_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<String>, StewardError> {
        let response = self
            .send(
                Action::ReadManifest,
                self.request(
                    reqwest::Method::HEAD,
                    &format!("{repository}/manifests/{reference}"),
                )
                .header(ACCEPT, ACCEPT_MANIFESTS),
            )
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check(response, &format!("manifest {repository}:{reference}")).await?;
        Ok(response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string))
    }

    /// True when the repository has the blob (a HEAD request); `false` on 404.
    pub async fn has_blob(&self, repository: &str, digest: &str) -> Result<bool, StewardError> {
        let response = self
            .send(
                Action::CheckBlob,
                self.request(
                    reqwest::Method::HEAD,
                    &format!("{repository}/blobs/{digest}"),
                ),
            )
            .await?;
        match response.status() {
            status if status.is_success() || status.is_redirection() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            _ => check(response, &format!("blob {repository}@{digest}"))
                .await
                .map(|_| true),
        }
    }

    /// Streams a blob: the response to read from, redirects to storage followed.
    pub async fn get_blob(&self, repository: &str, digest: &str) -> Result<Response, StewardError> {
        let what = format!("blob {repository}@{digest}");
        let response = self
            .send(
                Action::ReadBlob,
                self.request(
                    reqwest::Method::GET,
                    &format!("{repository}/blobs/{digest}"),
                ),
            )
            .await?;
        let response = if response.status().is_redirection() {
            let location = self.location(&response, &what)?;
            // A pre-signed URL: no Authorization header.
            self.http.get(location).send().await.map_err(network)?
        } else {
            response
        };
        check(response, &what).await
    }

    /// Starts a blob upload; the URL to send its data to.
    pub async fn start_upload(&self, repository: &str) -> Result<String, StewardError> {
        match self.start_upload_or_mount(repository, None).await? {
            UploadStart::Session(location) => Ok(location),
            UploadStart::Mounted => Err(StewardError::InvalidResponse {
                service: Service::Registry,
                message: format!("upload to {repository}: a mount answered to a plain upload"),
            }),
        }
    }

    /// Starts a blob upload, or with `mount` (`(digest, repository)`) asks the registry to
    /// link the blob from that repository of its own instead. A registry that cannot mount it
    /// (another encryption, mounting off: ECR's `BLOB_MOUNTING` setting) opens an upload, as
    /// the distribution spec says.
    pub async fn start_upload_or_mount(
        &self,
        repository: &str,
        mount: Option<(&str, &str)>,
    ) -> Result<UploadStart, StewardError> {
        let what = format!("upload to {repository}");
        let query = mount
            .map(|(digest, from)| format!("?mount={digest}&from={from}"))
            .unwrap_or_default();
        let response = self
            .send(
                Action::StartUpload,
                self.request(
                    reqwest::Method::POST,
                    &format!("{repository}/blobs/uploads/{query}"),
                )
                .header(reqwest::header::CONTENT_LENGTH, "0"),
            )
            .await?;
        let mounted = mount.is_some() && response.status() == reqwest::StatusCode::CREATED;
        let response = check(response, &what).await?;
        if mounted {
            return Ok(UploadStart::Mounted);
        }
        self.location(&response, &what).map(UploadStart::Session)
    }

    /// Sends an upload's data as one streamed request; the URL to finish it at.
    pub async fn send_upload_data(
        &self,
        location: &str,
        body: reqwest::Body,
    ) -> Result<String, StewardError> {
        self.send_upload_part(location, body, 0).await
    }

    /// Sends `size` bytes of an upload's data (0: not known) as one streamed request, over an
    /// upload lane when there are lanes; the URL to finish it at.
    pub async fn send_upload_part(
        &self,
        location: &str,
        body: reqwest::Body,
        size: u64,
    ) -> Result<String, StewardError> {
        let (client, load) = self.upload_client(size);
        let response = self
            .send(
                Action::SendUpload,
                self.authorized(client.patch(location))
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body),
            )
            .await?;
        let response = check(response, "blob upload").await?;
        drop(load);
        self.location(&response, "blob upload")
    }

    /// Commits an upload under its digest; the registry checks the digest too.
    pub async fn finish_upload(&self, location: &str, digest: &str) -> Result<(), StewardError> {
        self.put_upload(location, digest, None, 0).await
    }

    /// Sends a whole blob of `size` bytes and commits it in one request (the distribution
    /// spec's monolithic upload: `PUT <location>?digest=` with the body, as containerd pushes);
    /// the registry checks the digest. Large bodies go over an upload lane.
    pub async fn put_upload(
        &self,
        location: &str,
        digest: &str,
        body: Option<reqwest::Body>,
        size: u64,
    ) -> Result<(), StewardError> {
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest={digest}");
        let mut lane_load = None;
        let request = match body {
            Some(body) => {
                let (client, load) = self.upload_client(size);
                lane_load = load;
                let request = self
                    .authorized(client.put(url))
                    .header(CONTENT_TYPE, "application/octet-stream");
                let request = if size > 0 {
                    request.header(reqwest::header::CONTENT_LENGTH, size)
                } else {
                    request
                };
                request.body(body)
            }
            None => self
                .authorized(self.http.put(url))
                .header(reqwest::header::CONTENT_LENGTH, "0"),
        };
        let response = self.send(Action::CommitUpload, request).await?;
        let committed = check(response, &format!("commit of blob {digest}"))
            .await
            .map(drop);
        drop(lane_load);
        committed
    }

    /// Abandons an upload; best effort.
    pub async fn cancel_upload(&self, location: &str) {
        let _ = self.authorized(self.http.delete(location)).send().await;
    }

    /// Uploads a manifest's exact bytes under `reference` (a tag or its digest).
    pub async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        manifest: &RawManifest,
    ) -> Result<(), StewardError> {
        let response = self
            .send(
                Action::PutManifest,
                self.request(
                    reqwest::Method::PUT,
                    &format!("{repository}/manifests/{reference}"),
                )
                .header(CONTENT_TYPE, &manifest.media_type)
                .body(manifest.bytes.clone()),
            )
            .await?;
        check(response, &format!("manifest {repository}:{reference}"))
            .await
            .map(drop)
    }

    /// Manifests that name `digest` as their subject (signatures, SBOMs, attestations), by the
    /// referrers API, every page; `None` when the registry answers that it has no such API.
    pub async fn referrers(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<Vec<Descriptor>>, StewardError> {
        let now = std::time::Instant::now();
        if let Ok(until) = self.no_referrers_api_until.lock() {
            if until.is_some_and(|until| now < until) {
                return Ok(None);
            }
        }
        let what = format!("referrers of {repository}@{digest}");
        let mut found = Vec::new();
        let mut url = format!("{}/v2/{repository}/referrers/{digest}", self.base);
        for _ in 0..MAX_REFERRER_PAGES {
            let response = self
                .send(
                    Action::Referrers,
                    self.authorized(self.http.get(&url))
                        .header(ACCEPT, OCI_INDEX),
                )
                .await?;
            if response.status() == reqwest::StatusCode::NOT_FOUND {
                let body = response.text().await.unwrap_or_default();
                // A registry with the API answers 200 for any digest, with an empty index when
                // nothing refers to it (OCI Distribution 1.1); a 404 says it has no API,
                // unless it is about the repository itself.
                if !body.contains("NAME_UNKNOWN") {
                    if let Ok(mut until) = self.no_referrers_api_until.lock() {
                        *until = Some(now + NO_REFERRERS_API_FOR);
                    }
                }
                return Ok(if found.is_empty() { None } else { Some(found) });
            }
            let response = check(response, &what).await?;
            let next = next_page(&response, &self.base);
            let bytes = read_capped(response, MAX_MANIFEST_BYTES, &what).await?;
            let index: ManifestDoc =
                serde_json::from_slice(&bytes).map_err(|error| StewardError::InvalidResponse {
                    service: Service::Registry,
                    message: format!("{what}: {error}"),
                })?;
            found.extend(index.manifests);
            match next {
                Some(next) => url = next,
                None => return Ok(Some(found)),
            }
        }
        Err(StewardError::InvalidResponse {
            service: Service::Registry,
            message: format!("{what}: more than {MAX_REFERRER_PAGES} pages"),
        })
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.authorization {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        }
    }

    fn location(&self, response: &Response, what: &str) -> Result<String, StewardError> {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| StewardError::InvalidResponse {
                service: Service::Registry,
                message: format!("{what}: no Location in the answer"),
            })?;
        Ok(if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        })
    }
}

/// The next page's URL from a `Link: <url>; rel="next"` header (RFC 8288, as the
/// distribution spec pages listings), made absolute against `base`.
fn next_page(response: &Response, base: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let is_next = params.split(';').any(|param| {
                let param = param.trim().replace(' ', "");
                param == "rel=\"next\"" || param == "rel=next"
            });
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| {
                if target.starts_with('/') {
                    format!("{base}{target}")
                } else {
                    target.to_string()
                }
            })
        })
}

async fn check(response: Response, what: &str) -> Result<Response, StewardError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = redact(&response.text().await.unwrap_or_default());
    let message: String = body.chars().take(300).collect();
    if body.contains("TOOMANYREQUESTS") {
        return Err(StewardError::Throttled {
            service: Service::Registry,
            message: format!("HTTP {}: {message}", status.as_u16()),
        });
    }
    Err(StewardError::from_status(
        Service::Registry,
        status.as_u16(),
        what,
        &message,
    ))
}

pub(crate) async fn read_capped(
    mut response: Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, StewardError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(network)? {
        if bytes.len() + chunk.len() > limit {
            return Err(StewardError::InvalidResponse {
                service: Service::Registry,
                message: format!("{what} is larger than {limit} bytes"),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

pub(crate) fn verify(bytes: &[u8], digest: &str, what: &str) -> Result<(), StewardError> {
    let sha256 = Digest::parse(digest).is_ok_and(|d| d.algorithm() == DigestAlgorithm::Sha256);
    if !sha256 {
        return Err(StewardError::InvalidResponse {
            service: Service::Registry,
            message: format!("{what}: only sha256 digests are supported"),
        });
    }
    let actual = sha256_digest(bytes);
    if actual != digest {
        return Err(StewardError::InvalidResponse {
            service: Service::Registry,
            message: format!("{what}: content has digest {actual}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_upload_takes_the_lane_with_the_fewest_bytes_under_way() {
        let client = || crate::http::client(crate::http::TrustRoots::Bundled).expect("a client");
        let registry = RegistryClient::new(client(), "https://registry.example", None)
            .with_upload_lanes(vec![client(), client(), client()]);
        let lane_of = |load: &Option<LaneLoad<'_>>| {
            let lane = load.as_ref().expect("a lane").lane;
            registry
                .lanes
                .iter()
                .position(|l| std::ptr::eq(l, lane))
                .expect("one of the lanes")
        };
        let (_, big) = registry.upload_client(50 << 20);
        let (_, small) = registry.upload_client(1 << 20);
        let (_, third) = registry.upload_client(2 << 20);
        let used = [lane_of(&big), lane_of(&small), lane_of(&third)];
        assert_eq!(
            used.iter().collect::<std::collections::BTreeSet<_>>().len(),
            3,
            "{used:?}"
        );
        // The next goes beside the smallest load, and a finished upload frees its lane.
        let (_, fourth) = registry.upload_client(1 << 20);
        assert_eq!(lane_of(&fourth), lane_of(&small));
        let big_lane = lane_of(&big);
        drop((big, fourth));
        let (_, fifth) = registry.upload_client(1 << 20);
        assert_eq!(lane_of(&fifth), big_lane);
        // Without lanes, the main client.
        let plain = RegistryClient::new(client(), "https://registry.example", None);
        assert!(plain.upload_client(1 << 20).1.is_none());
    }

    #[test]
    fn sha256_digests() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn pre_signed_queries_and_signature_diagnostics_are_redacted() {
        let error = "HTTP 403: error sending request for url (https://bucket.s3.amazonaws.com/docker/blobs/data?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261204&X-Amz-Signature=deadbeef): <Error><Code>SignatureDoesNotMatch</Code><AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 secret-scope</StringToSign><SignatureProvided>deadbeef</SignatureProvided><CanonicalRequest>GET /x X-Amz-Credential=AKIAEXAMPLE</CanonicalRequest></Error>";
        let redacted = redact(error);
        for secret in [
            "deadbeef",
            "AKIAEXAMPLE",
            "secret-scope",
            "X-Amz-Credential",
        ] {
            assert!(!redacted.contains(secret), "{secret} in {redacted}");
        }
        assert!(redacted.contains("https://bucket.s3.amazonaws.com/docker/blobs/data?<redacted>"));
        assert!(redacted.contains("<Code>SignatureDoesNotMatch</Code>"));
        assert_eq!(redact("no url here: HTTP 500"), "no url here: HTTP 500");
        assert_eq!(redact("<StringToSign>cut off"), "<StringToSign><redacted>");
    }

    #[tokio::test]
    async fn a_failed_request_to_a_pre_signed_url_names_it_without_its_query() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = closed.local_addr().expect("its address").port();
        drop(closed);
        let error = crate::http::client(crate::http::TrustRoots::Bundled)
            .expect("a client")
            .get(format!(
                "http://127.0.0.1:{port}/blob?X-Amz-Signature=topsecret"
            ))
            .send()
            .await
            .expect_err("nothing listens there");
        let message = network(error).to_string();
        assert!(!message.contains("topsecret"), "{message}");
        assert!(
            message.contains(&format!("127.0.0.1:{port}/blob")),
            "{message}"
        );
    }

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let response = |link: &str| {
            Response::from(
                http::Response::builder()
                    .header("link", link)
                    .body(Vec::<u8>::new())
                    .expect("a response"),
            )
        };
        assert_eq!(
            next_page(
                &response("</v2/a/referrers/sha256:1?n=2&last=sha256:9>; rel=\"next\""),
                "https://r"
            )
            .as_deref(),
            Some("https://r/v2/a/referrers/sha256:1?n=2&last=sha256:9")
        );
        assert_eq!(
            next_page(
                &response("<https://o/x>; rel=\"prev\", <https://o/y>; rel=next"),
                "https://r"
            )
            .as_deref(),
            Some("https://o/y")
        );
        assert_eq!(
            next_page(&response("<https://o/x>; rel=\"prev\""), "https://r"),
            None
        );
    }

    #[test]
    fn platform_names() {
        let platform = Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into()),
        };
        assert_eq!(platform.name(), "linux/arm64/v8");
    }
}
