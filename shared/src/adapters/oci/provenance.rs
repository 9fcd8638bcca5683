//! What an image carries for its provenance, read from its registry: the artifacts that
//! refer to it (the referrers API, or the referrers tag schema where a registry has no API)
//! and cosign's tag-scheme objects (`sha256-<hex>.sig`, `.att`, `.sbom`, which even a
//! registry with the API never lists), for the image and each platform image of an index,
//! with buildx's attestation manifests. Signature layers are read; SBOM documents are not.

use futures_util::future::try_join_all;

use super::registry::RegistryClient;
use crate::error::StewardError;
use crate::manifest::ManifestDoc;
use crate::provenance::{media, Artifact, ArtifactLayer, Evidence, ImageEvidence};

/// The tag suffixes cosign files its objects under, beside `sha256-<hex>`.
const COSIGN_TAGS: [&str; 3] = [".sig", ".att", ".sbom"];

/// Artifacts read per image at most; a flood of referrers is not read to its end.
pub const MAX_ARTIFACTS: usize = 64;

/// buildx's annotation of an index entry that is an attestation manifest, and of the platform
/// image it is about.
const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
const REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";

impl RegistryClient {
    /// The evidence for `digest` in `repository`: its own, and each platform image's.
    pub async fn provenance_evidence(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<ImageEvidence, StewardError> {
        let top = self.manifest(repository, digest).await?;
        let doc = top.parse()?;
        let mut platforms = Vec::new();
        let mut attestations = Vec::new();
        if top.is_index() {
            for child in &doc.manifests {
                match child.annotations.get(REFERENCE_TYPE).map(String::as_str) {
                    Some("attestation-manifest") => attestations.push(child.clone()),
                    _ if child.platform.as_ref().is_some_and(|p| p.os == "unknown") => {}
                    _ => platforms.push(Evidence {
                        digest: child.digest.clone(),
                        platform: child.platform.as_ref().map(|p| p.name()),
                        ..Evidence::default()
                    }),
                }
            }
        }
        let image = Evidence {
            digest: digest.to_string(),
            ..Evidence::default()
        };
        let mut subjects: Vec<Evidence> = std::iter::once(image).chain(platforms).collect();
        let found = try_join_all(
            subjects
                .iter()
                .map(|subject| self.artifacts_of(repository, &subject.digest)),
        )
        .await?;
        for (subject, artifacts) in subjects.iter_mut().zip(found) {
            subject.artifacts = artifacts;
        }
        let attached = try_join_all(attestations.iter().map(|descriptor| async move {
            let raw = self.manifest(repository, &descriptor.digest).await?;
            let about = descriptor.annotations.get(REFERENCE_DIGEST).cloned();
            Ok::<_, StewardError>((about, artifact(&descriptor.digest, None, &raw.parse()?)))
        }))
        .await?;
        for (about, artifact) in attached {
            if let Some(subject) = subjects
                .iter_mut()
                .find(|s| about.as_deref() == Some(s.digest.as_str()))
            {
                subject.artifacts.push(artifact);
            }
        }
        let mut subjects = subjects.into_iter();
        let image = subjects.next().unwrap_or_default();
        Ok(ImageEvidence {
            image,
            platforms: subjects.collect(),
        })
    }

    /// The artifacts that refer to `digest`, with their signature layers read.
    async fn artifacts_of(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<Artifact>, StewardError> {
        let base = digest.replacen(':', "-", 1);
        let tags: Vec<String> = COSIGN_TAGS.iter().map(|s| format!("{base}{s}")).collect();
        let (listed, tagged) = futures_util::future::try_join(
            self.referrers(repository, digest),
            try_join_all(tags.iter().map(|tag| self.head_manifest(repository, tag))),
        )
        .await?;
        let listed = match listed {
            Some(listed) => listed,
            // No referrers API: the referrers tag schema's index, as oras and notation keep it.
            None => match self.head_manifest(repository, &base).await? {
                Some(index) => self.manifest(repository, &index).await?.parse()?.manifests,
                None => Vec::new(),
            },
        };
        let mut wanted: Vec<(String, Option<String>)> = tags
            .into_iter()
            .zip(tagged)
            .filter_map(|(tag, found)| found.map(|digest| (digest, Some(tag))))
            .collect();
        for descriptor in listed {
            if !wanted
                .iter()
                .any(|(digest, _)| *digest == descriptor.digest)
            {
                wanted.push((descriptor.digest, None));
            }
        }
        wanted.truncate(MAX_ARTIFACTS);
        try_join_all(wanted.iter().map(|(digest, tag)| async move {
            let doc = self.manifest(repository, digest).await?.parse()?;
            let mut artifact = artifact(digest, tag.clone(), &doc);
            for (layer, descriptor) in artifact.layers.iter_mut().zip(&doc.layers) {
                if media::needs_body(&layer.media_type) {
                    layer.body = Some(self.small_blob(repository, &descriptor.digest).await?);
                }
            }
            Ok::<_, StewardError>(artifact)
        }))
        .await
    }
}

fn artifact(digest: &str, tag: Option<String>, doc: &ManifestDoc) -> Artifact {
    Artifact {
        digest: digest.to_string(),
        tag,
        artifact_type: doc
            .artifact_type
            .clone()
            .or_else(|| doc.config.as_ref().and_then(|c| c.media_type.clone()))
            .unwrap_or_default(),
        layers: doc
            .layers
            .iter()
            .map(|layer| ArtifactLayer {
                media_type: layer.media_type.clone().unwrap_or_default(),
                annotations: layer.annotations.clone(),
                body: None,
            })
            .collect(),
    }
}
