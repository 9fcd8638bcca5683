//! Pushes many small images quickly, for tests and benchmarks over a whole registry: tiny
//! configs (one per label set and repository) and one shared layer blob, manifests PUT by
//! digest to the region's registry and recorded in moto's ECR with every tag, many at once.
//! Each image gets a unique annotation, so every manifest (and digest) is its own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures_util::{stream, StreamExt};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::Stack;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The one layer every image shares (the registry does not look inside it).
const LAYER_BYTES: &[u8] = b"ecr-steward test bed layer";

/// One image to push: where, its tags, and its platforms' labels (one platform: an image
/// manifest; several: an index, whose children are pushed untagged first).
#[derive(Debug, Clone)]
pub struct BulkImage {
    pub region: String,
    pub repository: String,
    pub tags: Vec<String>,
    /// `(os/arch, labels)` for each platform.
    pub platforms: Vec<(String, Vec<(String, String)>)>,
    /// Makes the manifest unique; images with the same seed and content have one digest.
    pub seed: String,
}

impl BulkImage {
    /// A single-platform (linux/amd64) image with these labels.
    pub fn new(region: &str, repository: &str, tags: &[&str], labels: &[(&str, &str)]) -> Self {
        Self {
            region: region.into(),
            repository: repository.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            platforms: vec![("linux/amd64".into(), owned(labels))],
            seed: format!("{region}/{repository}:{}", tags.join(",")),
        }
    }

    /// Another platform; two or more make an index.
    pub fn platform(mut self, platform: &str, labels: &[(&str, &str)]) -> Self {
        self.platforms.push((platform.into(), owned(labels)));
        self
    }

    /// The same manifest bytes (and digest) as another image with this seed.
    pub fn seed(mut self, seed: &str) -> Self {
        self.seed = seed.into();
        self
    }
}

fn owned(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256:");
    for byte in hash {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// What was pushed: the image and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub region: String,
    pub repository: String,
    pub tags: Vec<String>,
    pub digest: String,
}

/// Pushes `images`, `concurrency` at a time; repositories that do not exist yet in moto are
/// created with default settings (create them first for others). Returns the digests in
/// the order of `images`.
///
/// # Panics
/// On any registry or ECR error.
pub async fn push_bulk(stack: &Stack, images: &[BulkImage], concurrency: usize) -> Vec<Pushed> {
    let pusher = Pusher {
        stack,
        http: stack.http(),
        blobs: Mutex::default(),
        uploading: Mutex::default(),
        repositories: Mutex::default(),
    };
    let mut pushed: Vec<(usize, Pushed)> = stream::iter(images.iter().enumerate())
        .map(|(index, image)| {
            let pusher = &pusher;
            async move { (index, pusher.push(image).await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    pushed.sort_by_key(|(index, _)| *index);
    pushed.into_iter().map(|(_, p)| p).collect()
}

/// (registry, repository, digest).
type BlobKey = (String, String, String);

struct Pusher<'a> {
    stack: &'a Stack,
    http: reqwest::Client,
    /// (registry, repository, digest) uploaded already.
    blobs: Mutex<BTreeSet<BlobKey>>,
    /// One upload of a blob at a time: the registry's filesystem storage rewrites a blob's
    /// link when the same blob is committed twice, and a manifest PUT in between finds none.
    uploading: Mutex<BTreeMap<BlobKey, Arc<futures_util::lock::Mutex<()>>>>,
    /// (region, repository) known to exist in moto.
    repositories: Mutex<BTreeSet<(String, String)>>,
}

impl Pusher<'_> {
    async fn push(&self, image: &BulkImage) -> Pushed {
        let registry = self.stack.registry(&image.region).to_string();
        let repository = &image.repository;
        self.ensure_repository(&image.region, repository).await;
        let layer = self.blob(&registry, repository, LAYER_BYTES).await;
        let mut children = Vec::new();
        for (platform, labels) in &image.platforms {
            let (os, architecture) = platform.split_once('/').unwrap_or(("linux", platform));
            let labels: serde_json::Map<String, Value> = labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            let config = serde_json::to_vec(&json!({
                "architecture": architecture,
                "os": os,
                "config": { "Labels": labels },
                "rootfs": { "type": "layers", "diff_ids": [sha256(LAYER_BYTES)] },
            }))
            .unwrap();
            let config_digest = self.blob(&registry, repository, &config).await;
            let manifest = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": { "mediaType": CONFIG, "digest": config_digest, "size": config.len() },
                "layers": [{ "mediaType": LAYER, "digest": layer, "size": LAYER_BYTES.len() }],
                "annotations": { "dev.ecr-steward.testbed.seed": format!("{}#{platform}", image.seed) },
            }))
            .unwrap();
            children.push((platform.clone(), manifest));
        }
        let (bytes, media_type) = if children.len() == 1 {
            (children.pop().map(|(_, m)| m).unwrap(), MANIFEST)
        } else {
            let mut entries = Vec::new();
            for (platform, manifest) in &children {
                let digest = self
                    .manifest(
                        &image.region,
                        &registry,
                        repository,
                        manifest,
                        MANIFEST,
                        None,
                    )
                    .await;
                let (os, architecture) = platform.split_once('/').unwrap_or(("linux", platform));
                entries.push(json!({
                    "mediaType": MANIFEST, "digest": digest, "size": manifest.len(),
                    "platform": { "os": os, "architecture": architecture },
                }));
            }
            let index = serde_json::to_vec(&json!({
                "schemaVersion": 2, "mediaType": INDEX, "manifests": entries,
            }))
            .unwrap();
            (index, INDEX)
        };
        let digest = self
            .manifest(
                &image.region,
                &registry,
                repository,
                &bytes,
                media_type,
                Some(&image.tags),
            )
            .await;
        Pushed {
            region: image.region.clone(),
            repository: repository.clone(),
            tags: image.tags.clone(),
            digest,
        }
    }

    async fn ensure_repository(&self, region: &str, repository: &str) {
        let key = (region.to_string(), repository.to_string());
        if self.repositories.lock().unwrap().contains(&key) {
            return;
        }
        let ecr = self.stack.ecr(region);
        let exists = ecr
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .is_ok();
        if !exists {
            // Another push may create it at the same moment.
            let _ = ecr
                .create_repository()
                .repository_name(repository)
                .send()
                .await;
        }
        self.repositories.lock().unwrap().insert(key);
    }

    /// The registries' credentials (on the ECR-like data plane), as a header map.
    fn authorization(&self) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(value) = self.stack.registry_authorization() {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                value.parse().expect("a header value"),
            );
        }
        headers
    }

    async fn blob(&self, registry: &str, repository: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let key = (registry.to_string(), repository.to_string(), digest.clone());
        let gate = Arc::clone(
            self.uploading
                .lock()
                .unwrap()
                .entry(key.clone())
                .or_default(),
        );
        let _uploading = gate.lock().await;
        if self.blobs.lock().unwrap().contains(&key) {
            return digest;
        }
        let started = self
            .http
            .post(format!("{registry}/v2/{repository}/blobs/uploads/"))
            .headers(self.authorization())
            .send()
            .await
            .unwrap();
        assert_eq!(
            started.status().as_u16(),
            202,
            "start an upload to {repository}"
        );
        let location = started
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap()
            .to_string();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{registry}{location}")
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = self
            .http
            .put(format!("{location}{separator}digest={digest}"))
            .headers(self.authorization())
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.status().as_u16(),
            201,
            "upload {digest} to {repository}"
        );
        self.blobs.lock().unwrap().insert(key);
        digest
    }

    /// PUTs the manifest by digest to the registry, and records it in moto with each tag
    /// (untagged when `tags` is `None`).
    async fn manifest(
        &self,
        region: &str,
        registry: &str,
        repository: &str,
        bytes: &[u8],
        media_type: &str,
        tags: Option<&[String]>,
    ) -> String {
        let digest = sha256(bytes);
        let put = self
            .http
            .put(format!("{registry}/v2/{repository}/manifests/{digest}"))
            .headers(self.authorization())
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.status().as_u16(),
            201,
            "PUT manifest {digest} to {repository}: {}",
            put.text().await.unwrap_or_default()
        );
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let ecr = self.stack.ecr(region);
        let untagged = [None];
        let tags: Vec<Option<&String>> = match tags {
            Some(tags) if !tags.is_empty() => tags.iter().map(Some).collect(),
            _ => untagged.to_vec(),
        };
        for tag in tags {
            let result = ecr
                .put_image()
                .repository_name(repository)
                .image_manifest(&text)
                .image_manifest_media_type(media_type)
                .image_digest(&digest)
                .set_image_tag(tag.cloned())
                .send()
                .await;
            if let Err(error) = result {
                let code = aws_sdk_ecr::error::ProvideErrorMetadata::code(&error);
                assert_eq!(
                    code,
                    Some("ImageAlreadyExistsException"),
                    "PutImage {repository}:{tag:?}: {}",
                    aws_sdk_ecr::error::DisplayErrorContext(&error)
                );
            }
        }
        digest
    }
}
