//! The OCI Distribution API client: manifests and blobs by digest, verified.
//!
//! Real ECR answers blob GETs with a redirect to a pre-signed S3 URL; the redirect is followed
//! here, without the Authorization header.

use std::collections::BTreeMap;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::Response;

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
    /// Set once the registry has answered that it has no referrers API (docker-registry 2.8
    /// has none; ECR has one): later lookups go straight to the fallback tags.
    no_referrers_api: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

pub(crate) fn network(error: reqwest::Error) -> StewardError {
    StewardError::Unavailable {
        service: Service::Registry,
        message: with_causes(&error),
    }
}

impl RegistryClient {
    /// `base` is `https://<account>.dkr.ecr.<region>.amazonaws.com` or a local registry URL;
    /// `authorization` a whole header value, e.g. `Basic <token>`.
    pub fn new(http: reqwest::Client, base: &str, authorization: Option<String>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            authorization,
            no_referrers_api: std::sync::Arc::default(),
        }
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
            .request(
                reqwest::Method::GET,
                &format!("{repository}/manifests/{digest}"),
            )
            .header(ACCEPT, ACCEPT_MANIFESTS)
            .send()
            .await
            .map_err(network)?;
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
            .request(
                reqwest::Method::HEAD,
                &format!("{repository}/manifests/{reference}"),
            )
            .header(ACCEPT, ACCEPT_MANIFESTS)
            .send()
            .await
            .map_err(network)?;
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
            .request(
                reqwest::Method::HEAD,
                &format!("{repository}/blobs/{digest}"),
            )
            .send()
            .await
            .map_err(network)?;
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
            .request(
                reqwest::Method::GET,
                &format!("{repository}/blobs/{digest}"),
            )
            .send()
            .await
            .map_err(network)?;
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
        let what = format!("upload to {repository}");
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("{repository}/blobs/uploads/"),
            )
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(network)?;
        let response = check(response, &what).await?;
        self.location(&response, &what)
    }

    /// Sends an upload's data as one streamed request; the URL to finish it at.
    pub async fn send_upload_data(
        &self,
        location: &str,
        body: reqwest::Body,
    ) -> Result<String, StewardError> {
        let response = self
            .authorized(self.http.patch(location))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(network)?;
        let response = check(response, "blob upload").await?;
        self.location(&response, "blob upload")
    }

    /// Commits an upload under its digest; the registry checks the digest too.
    pub async fn finish_upload(&self, location: &str, digest: &str) -> Result<(), StewardError> {
        let separator = if location.contains('?') { '&' } else { '?' };
        let response = self
            .authorized(
                self.http
                    .put(format!("{location}{separator}digest={digest}")),
            )
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(network)?;
        check(response, &format!("commit of blob {digest}"))
            .await
            .map(drop)
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
            .request(
                reqwest::Method::PUT,
                &format!("{repository}/manifests/{reference}"),
            )
            .header(CONTENT_TYPE, &manifest.media_type)
            .body(manifest.bytes.clone())
            .send()
            .await
            .map_err(network)?;
        check(response, &format!("manifest {repository}:{reference}"))
            .await
            .map(drop)
    }

    /// Manifests that name `digest` as their subject (signatures, SBOMs, attestations), by the
    /// referrers API; `None` when the registry does not offer it.
    pub async fn referrers(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<Vec<Descriptor>>, StewardError> {
        use std::sync::atomic::Ordering;
        if self.no_referrers_api.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let response = self
            .request(
                reqwest::Method::GET,
                &format!("{repository}/referrers/{digest}"),
            )
            .header(ACCEPT, OCI_INDEX)
            .send()
            .await
            .map_err(network)?;
        // A registry with the API answers 200 for any digest, with an empty index when
        // nothing refers to it (OCI Distribution 1.1); these mean it has no such API.
        if matches!(response.status().as_u16(), 404 | 405 | 400) {
            self.no_referrers_api.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        let what = format!("referrers of {repository}@{digest}");
        let response = check(response, &what).await?;
        let bytes = read_capped(response, MAX_MANIFEST_BYTES, &what).await?;
        let index: ManifestDoc =
            serde_json::from_slice(&bytes).map_err(|error| StewardError::InvalidResponse {
                service: Service::Registry,
                message: format!("{what}: {error}"),
            })?;
        Ok(Some(index.manifests))
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

async fn check(response: Response, what: &str) -> Result<Response, StewardError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let message: String = body.chars().take(300).collect();
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
    fn sha256_digests() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
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
