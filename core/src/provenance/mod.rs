//! Provenance: what a rule requires an image to carry (a signature, an SBOM, an attestation),
//! what was found with it (referrers, cosign's tag-scheme objects, ECR managed signing), and
//! the verdict. Pure: the adapters gather the [`Evidence`], the caller passes `now`.

pub mod verify;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;
use verify::{Certificate, PublicKey};

/// What a rule can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// A signature of the image (Notation, cosign, or ECR managed signing).
    Signature,
    /// A software bill of materials (SPDX or CycloneDX), attached or attested.
    Sbom,
    /// A signed in-toto attestation (SLSA provenance, an SBOM, …).
    Attestation,
}

impl Requirement {
    /// The name as the policy writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Sbom => "sbom",
            Self::Attestation => "attestation",
        }
    }
}

/// Where a signature or attestation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// ECR managed signing (`DescribeImageSigningStatus`).
    EcrManaged,
    /// Notation signatures, AWS Signer's among them (OCI referrers).
    Notation,
    /// cosign signatures and attestations (tag scheme `sha256-<hex>.sig`/`.att`, referrers).
    Cosign,
}

impl Scheme {
    /// The name as the policy writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcrManaged => "ecr-managed",
            Self::Notation => "notation",
            Self::Cosign => "cosign",
        }
    }
}

/// Which images of a multi-platform image must carry it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every platform image of an index (a single-platform image: itself).
    #[default]
    Platforms,
    /// The index itself (what `notation sign` and `cosign sign` without `--recursive` sign).
    Index,
}

/// Which tags of a rule's repositories need provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagSelector {
    /// `semver`: release tags, as the rule's SemVer checks read them.
    Semver,
    /// A wildcard pattern: `*` any characters, `?` one.
    Pattern(String),
}

impl TagSelector {
    fn matches(&self, tag: &str) -> bool {
        match self {
            Self::Semver => crate::semver::parse(tag.strip_prefix('v').unwrap_or(tag)).is_some(),
            Self::Pattern(pattern) => crate::glob::matches_from(pattern.as_bytes(), tag.as_bytes()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Semver => "semver",
            Self::Pattern(pattern) => pattern,
        }
    }
}

/// A rule's `provenance` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawProvenance")]
pub struct ProvenanceRules {
    /// The tags that need it.
    pub tags: Vec<TagSelector>,
    /// What they need; never empty.
    pub require: Vec<Requirement>,
    /// Which images of an index.
    pub scope: Scope,
    /// Which signature schemes count.
    pub schemes: Vec<Scheme>,
    /// cosign keys a signature or attestation must verify with.
    pub cosign_keys: Vec<PublicKey>,
    /// Certificates a Notation signature's chain must lead to.
    pub trust_store: Vec<Certificate>,
    /// AWS Signer signing profiles (ARNs) that may have signed: ECR managed signing, and
    /// Notation signatures by AWS Signer (with its root in `trust_store`).
    pub signing_profiles: Vec<String>,
    /// How long after the push a missing requirement is still awaited, not a violation.
    pub grace_seconds: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvenance {
    #[serde(default)]
    tags: Option<Vec<String>>,
    require: Vec<Requirement>,
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    schemes: Option<Vec<Scheme>>,
    #[serde(default)]
    cosign_keys: Vec<String>,
    #[serde(default)]
    trust_store: Vec<String>,
    #[serde(default)]
    signing_profiles: Vec<String>,
    #[serde(default)]
    grace: Option<String>,
}

/// The longest grace period: a day.
pub const MAX_GRACE_SECONDS: i64 = 86_400;

/// Reads `30s`, `10m`, `2h` (a whole number and a unit).
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number: i64 = text[..text.len() - unit.len_utf8()].trim().parse().ok()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        _ => return None,
    };
    number.checked_mul(scale).filter(|s| *s >= 0)
}

impl TryFrom<RawProvenance> for ProvenanceRules {
    type Error = String;

    fn try_from(raw: RawProvenance) -> Result<Self, String> {
        if raw.require.is_empty() {
            return Err("`provenance.require` is empty; hint: list what the images need: signature, sbom, attestation".into());
        }
        let tags = match raw.tags {
            None => vec![TagSelector::Pattern("*".into())],
            Some(tags) if tags.is_empty() => {
                return Err("`provenance.tags` is empty; hint: leave it out for every tag, or list patterns such as \"v*\" or semver".into())
            }
            Some(tags) => tags
                .into_iter()
                .map(|tag| {
                    if tag == "semver" {
                        Ok(TagSelector::Semver)
                    } else if !tag.is_empty()
                        && tag.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '*' | '?')
                        })
                    {
                        Ok(TagSelector::Pattern(tag))
                    } else {
                        Err(format!("`provenance.tags` has {tag:?}, which no tag can match; hint: tags use letters, digits, '.', '_' and '-', with '*' and '?' as wildcards, or the word semver"))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let schemes = match raw.schemes {
            None => vec![Scheme::EcrManaged, Scheme::Notation, Scheme::Cosign],
            Some(schemes) if schemes.is_empty() => {
                return Err("`provenance.schemes` is empty; hint: leave it out to count ecr-managed, notation and cosign".into())
            }
            Some(schemes) => schemes,
        };
        let cosign_keys = raw
            .cosign_keys
            .iter()
            .enumerate()
            .map(|(i, pem)| {
                PublicKey::from_pem(pem).map_err(|e| format!("`provenance.cosign_keys[{i}]`: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let mut trust_store = Vec::new();
        for (i, pem) in raw.trust_store.iter().enumerate() {
            trust_store.extend(
                Certificate::all_from_pem(pem)
                    .map_err(|e| format!("`provenance.trust_store[{i}]`: {e}"))?,
            );
        }
        for arn in &raw.signing_profiles {
            if !(arn.starts_with("arn:aws")
                && arn.contains(":signer:")
                && arn.contains("/signing-profiles/"))
            {
                return Err(format!("`provenance.signing_profiles` has {arn:?}; hint: a signing profile ARN reads arn:aws:signer:<region>:<account>:/signing-profiles/<name>"));
            }
        }
        let grace_seconds = match raw.grace.as_deref() {
            None => 0,
            Some(text) => parse_duration(text)
                .filter(|s| *s <= MAX_GRACE_SECONDS)
                .ok_or_else(|| format!("`provenance.grace` is {text:?}; hint: a duration up to a day, such as \"90s\", \"10m\" or \"2h\""))?,
        };
        Ok(Self {
            tags,
            require: raw.require,
            scope: raw.scope,
            schemes,
            cosign_keys,
            trust_store,
            signing_profiles: raw.signing_profiles,
            grace_seconds,
        })
    }
}

impl ProvenanceRules {
    /// What `gate --require-provenance` asks of a repository whose rule has no `provenance`:
    /// a signature, by any scheme, checked against no signer.
    pub fn any_signature() -> Self {
        Self {
            tags: vec![TagSelector::Pattern("*".into())],
            require: vec![Requirement::Signature],
            scope: Scope::Platforms,
            schemes: vec![Scheme::EcrManaged, Scheme::Notation, Scheme::Cosign],
            cosign_keys: Vec::new(),
            trust_store: Vec::new(),
            signing_profiles: Vec::new(),
            grace_seconds: 0,
        }
    }

    /// True when an image tagged `tag` needs provenance; never for the tags signatures and
    /// referrers are kept under (`sha256-<hex>.sig`), which are not images.
    pub fn applies_to(&self, tag: &str) -> bool {
        crate::push::artifact_tag_subject(tag).is_none()
            && self.tags.iter().any(|selector| selector.matches(tag))
    }

    /// True when the rule names who must have signed: then only verified signatures count.
    pub fn names_signers(&self) -> bool {
        !self.cosign_keys.is_empty()
            || !self.trust_store.is_empty()
            || !self.signing_profiles.is_empty()
    }

    /// The tags it applies to, as written.
    pub fn tags_text(&self) -> String {
        self.tags
            .iter()
            .map(TagSelector::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn profile_allowed(&self, arn: &str) -> bool {
        self.signing_profiles.iter().any(|profile| {
            arn == profile
                || arn
                    .strip_prefix(profile.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// Media types and artifact types ecr-steward reads as provenance.
pub mod media {
    /// cosign's simple-signing payload layer.
    pub const COSIGN_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
    /// A DSSE envelope layer (cosign attestations).
    pub const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
    /// A Notation signature in JWS.
    pub const JWS: &str = "application/jose+json";
    /// A Notation signature in COSE.
    pub const COSE: &str = "application/cose";
    /// Notation's artifact type.
    pub const NOTATION_SIGNATURE: &str = "application/vnd.cncf.notary.signature";
    /// A sigstore bundle (cosign 3's default signature format).
    pub const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
    /// An unsigned in-toto statement (buildx's attestation manifests).
    pub const IN_TOTO: &str = "application/vnd.in-toto+json";
    /// The annotation cosign puts the signature in.
    pub const COSIGN_SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
    /// buildx's annotation of an in-toto layer's predicate type.
    pub const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";
    /// Artifact and media types of SBOM documents (SPDX, CycloneDX).
    pub const SBOM_TYPES: [&str; 7] = [
        "application/spdx+json",
        "text/spdx",
        "text/spdx+json",
        "application/vnd.cyclonedx+json",
        "application/vnd.cyclonedx+xml",
        "application/vnd.cyclonedx",
        "application/vnd.syft+json",
    ];

    /// True for a layer whose bytes the verdict reads (signatures and attestations); an SBOM's
    /// document is not fetched.
    pub fn needs_body(media_type: &str) -> bool {
        media_type == COSIGN_SIMPLE_SIGNING
            || media_type == DSSE
            || media_type == JWS
            || media_type.starts_with(SIGSTORE_BUNDLE_PREFIX)
    }

    /// True for an SBOM's artifact or media type.
    pub fn is_sbom(media_type: &str) -> bool {
        SBOM_TYPES.contains(&media_type)
    }

    /// True for an in-toto predicate type that is an SBOM.
    pub fn is_sbom_predicate(predicate: &str) -> bool {
        predicate.starts_with("https://spdx.dev/Document")
            || predicate.starts_with("https://cyclonedx.org/")
            || predicate == "cyclonedx"
            || predicate == "spdx"
    }

    /// The in-toto predicate cosign 3 signs an image with (in a sigstore bundle).
    pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
}

/// One layer of an [`Artifact`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactLayer {
    /// Its media type.
    pub media_type: String,
    /// Its annotations (cosign's signature, buildx's predicate type).
    pub annotations: BTreeMap<String, String>,
    /// Its bytes, for the layers [`media::needs_body`] names.
    pub body: Option<Vec<u8>>,
}

/// A manifest that refers to an image: a signature, an SBOM, an attestation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifact {
    /// Its manifest's digest.
    pub digest: String,
    /// The tag it was found by (cosign's `sha256-<hex>.sig`), or none (a referrer).
    pub tag: Option<String>,
    /// Its `artifactType`, else its config's media type.
    pub artifact_type: String,
    /// Its layers.
    pub layers: Vec<ArtifactLayer>,
}

/// ECR managed signing's state for one signing profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningState {
    /// Signing has not finished.
    InProgress,
    /// Signed.
    Complete,
    /// Signing failed.
    Failed,
}

/// One entry of `DescribeImageSigningStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedSigning {
    /// The signing profile's ARN.
    pub profile: String,
    /// Where signing stands.
    pub state: SigningState,
    /// Why it failed, as ECR says.
    pub reason: Option<String>,
}

/// What was found for one image (a manifest or an index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The image's digest.
    pub digest: String,
    /// Its platform (`linux/amd64`), for a platform image of an index.
    pub platform: Option<String>,
    /// The artifacts that refer to it.
    pub artifacts: Vec<Artifact>,
    /// ECR managed signing's statuses.
    pub managed: Vec<ManagedSigning>,
}

/// An image's evidence, with its platform images' for an index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageEvidence {
    /// The image itself (an index, or a single-platform manifest).
    pub image: Evidence,
    /// An index's platform images (attestation manifests left out); empty for a manifest.
    pub platforms: Vec<Evidence>,
}

/// How one found item was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "check", content = "by")]
pub enum Check {
    /// Verified against a key, certificate or signing profile of the rule.
    Verified(String),
    /// Well formed and names the image; not checked against a signer (the rule names none).
    Intact,
    /// Carries no signature (an attached SBOM, buildx's attestations).
    Unsigned,
    /// ECR managed signing has not finished.
    InProgress,
    /// Does not count: why.
    Invalid(String),
}

/// One signature, SBOM or attestation found, and how it was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// What it can satisfy.
    pub kinds: Vec<Requirement>,
    /// Where it comes from; `None` for an SBOM or unsigned statement, which need no scheme.
    pub scheme: Option<Scheme>,
    /// What it is, for a report: `cosign signature (sha256-….sig)`.
    pub what: String,
    /// How it was judged.
    #[serde(flatten)]
    pub check: Check,
}

/// Judges every signature, SBOM and attestation of `evidence` against `rules`.
pub fn examine(evidence: &Evidence, rules: &ProvenanceRules, now: Timestamp) -> Vec<Found> {
    let mut found = Vec::new();
    for artifact in &evidence.artifacts {
        examine_artifact(artifact, &evidence.digest, rules, now, &mut found);
    }
    for managed in &evidence.managed {
        let check = match managed.state {
            SigningState::InProgress => Check::InProgress,
            SigningState::Failed => Check::Invalid(format!(
                "ECR managed signing failed: {}",
                managed.reason.as_deref().unwrap_or("no reason given")
            )),
            SigningState::Complete if rules.profile_allowed(&managed.profile) => {
                Check::Verified(managed.profile.clone())
            }
            SigningState::Complete if rules.names_signers() => Check::Invalid(format!(
                "signed by the signing profile {}, which the rule does not name",
                managed.profile
            )),
            SigningState::Complete => Check::Intact,
        };
        found.push(Found {
            kinds: vec![Requirement::Signature],
            scheme: Some(Scheme::EcrManaged),
            what: format!("ECR managed signing ({})", managed.profile),
            check,
        });
    }
    found
}

fn where_found(artifact: &Artifact) -> String {
    match &artifact.tag {
        Some(tag) => tag.clone(),
        None => format!("referrer {}", short(&artifact.digest)),
    }
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

fn examine_artifact(
    artifact: &Artifact,
    subject: &str,
    rules: &ProvenanceRules,
    now: Timestamp,
    found: &mut Vec<Found>,
) {
    let place = where_found(artifact);
    if media::is_sbom(&artifact.artifact_type) {
        found.push(Found {
            kinds: vec![Requirement::Sbom],
            scheme: None,
            what: format!("SBOM {} ({place})", artifact.artifact_type),
            check: Check::Unsigned,
        });
        return;
    }
    for layer in &artifact.layers {
        let body = layer.body.as_deref().unwrap_or_default();
        let media_type = layer.media_type.as_str();
        if media_type == media::COSIGN_SIMPLE_SIGNING {
            let signature = layer
                .annotations
                .get(media::COSIGN_SIGNATURE_ANNOTATION)
                .map(String::as_str)
                .unwrap_or_default();
            let check = if layer
                .annotations
                .contains_key("dev.sigstore.cosign/certificate")
                && rules.cosign_keys.is_empty()
                && rules.names_signers()
            {
                Check::Invalid("a keyless cosign signature; the rule names keys or certificates it cannot be checked against".into())
            } else {
                judged(verify::cosign_simple_signing(
                    body,
                    signature,
                    subject,
                    &rules.cosign_keys,
                ))
            };
            found.push(Found {
                kinds: vec![Requirement::Signature],
                scheme: Some(Scheme::Cosign),
                what: format!("cosign signature ({place})"),
                check,
            });
        } else if media_type == media::DSSE {
            found.push(dsse_found(
                verify::dsse_attestation(body, subject, &rules.cosign_keys),
                format!("cosign attestation ({place})"),
            ));
        } else if media_type.starts_with(media::SIGSTORE_BUNDLE_PREFIX) {
            found.push(bundle_found(body, subject, rules, &place));
        } else if media_type == media::JWS {
            let result = verify::notation_jws(body, subject, &rules.trust_store, now);
            let check = match result {
                Ok(signed) => match (&signed.verified_by, &signed.signing_profile) {
                    (Some(_), Some(profile)) if !rules.signing_profiles.is_empty() => {
                        if rules.profile_allowed(profile) {
                            Check::Verified(profile.clone())
                        } else {
                            Check::Invalid(format!(
                                "signed by the signing profile {profile}, which the rule does not name"
                            ))
                        }
                    }
                    (Some(_), None)
                        if !rules.signing_profiles.is_empty() && rules.trust_store.is_empty() =>
                    {
                        Check::Invalid("names no signing profile".into())
                    }
                    (Some(subject), _) => Check::Verified(subject.clone()),
                    (None, _) if rules.names_signers() => Check::Invalid(
                        "a Notation signature needs the rule's trust_store to be checked".into(),
                    ),
                    (None, _) => Check::Intact,
                },
                Err(why) => Check::Invalid(why),
            };
            found.push(Found {
                kinds: vec![Requirement::Signature],
                scheme: Some(Scheme::Notation),
                what: format!("Notation signature ({place})"),
                check,
            });
        } else if media_type == media::COSE {
            found.push(Found {
                kinds: vec![Requirement::Signature],
                scheme: Some(Scheme::Notation),
                what: format!("Notation signature ({place})"),
                check: Check::Invalid(
                    "a COSE envelope, which ecr-steward does not verify yet; hint: sign with --signature-format jws".into(),
                ),
            });
        } else if media_type == media::IN_TOTO {
            if let Some(predicate) = layer.annotations.get(media::PREDICATE_TYPE_ANNOTATION) {
                let mut kinds = vec![Requirement::Attestation];
                if media::is_sbom_predicate(predicate) {
                    kinds.push(Requirement::Sbom);
                }
                found.push(Found {
                    kinds,
                    scheme: None,
                    what: format!("unsigned attestation {predicate} ({place})"),
                    check: Check::Unsigned,
                });
            }
        } else if media::is_sbom(media_type) {
            found.push(Found {
                kinds: vec![Requirement::Sbom],
                scheme: None,
                what: format!("SBOM {media_type} ({place})"),
                check: Check::Unsigned,
            });
        }
    }
}

fn judged(result: Result<verify::Signed, String>) -> Check {
    match result {
        Ok(signed) => match signed.verified_by {
            Some(by) => Check::Verified(by),
            None => Check::Intact,
        },
        Err(why) => Check::Invalid(why),
    }
}

fn dsse_found(result: Result<verify::Signed, String>, what: String) -> Found {
    let predicate = result
        .as_ref()
        .ok()
        .and_then(|signed| signed.predicate_type.clone())
        .unwrap_or_default();
    let mut kinds = vec![Requirement::Attestation];
    if media::is_sbom_predicate(&predicate) {
        kinds.push(Requirement::Sbom);
    }
    let what = if predicate.is_empty() {
        what
    } else {
        format!("{what}, {predicate}")
    };
    Found {
        kinds,
        scheme: Some(Scheme::Cosign),
        what,
        check: judged(result),
    }
}

/// A sigstore bundle (cosign 3): its DSSE envelope is checked as an attestation's; one whose
/// predicate is cosign's signing predicate is a signature.
fn bundle_found(body: &[u8], subject: &str, rules: &ProvenanceRules, place: &str) -> Found {
    let bundle: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(envelope) = bundle.get("dsseEnvelope") else {
        return Found {
            kinds: vec![Requirement::Signature],
            scheme: Some(Scheme::Cosign),
            what: format!("sigstore bundle ({place})"),
            check: Check::Invalid(
                "a sigstore bundle without a DSSE envelope, which ecr-steward does not verify yet"
                    .into(),
            ),
        };
    };
    let envelope = serde_json::to_vec(envelope).unwrap_or_default();
    let mut found = dsse_found(
        verify::dsse_attestation(&envelope, subject, &rules.cosign_keys),
        format!("cosign bundle ({place})"),
    );
    if found.what.ends_with(media::COSIGN_SIGN_PREDICATE) {
        found.kinds = vec![Requirement::Signature];
    }
    found
}

/// True when `found` satisfies `requirement` under `rules`.
fn satisfies(found: &Found, requirement: Requirement, rules: &ProvenanceRules) -> bool {
    if !found.kinds.contains(&requirement) {
        return false;
    }
    if let Some(scheme) = found.scheme {
        if !rules.schemes.contains(&scheme) {
            return false;
        }
    }
    match (&found.check, requirement) {
        (Check::Verified(_), _) => true,
        (Check::Intact, _) => !rules.names_signers() || requirement == Requirement::Sbom,
        (Check::Unsigned, Requirement::Sbom) => true,
        (Check::Unsigned, _) => !rules.names_signers(),
        (Check::InProgress | Check::Invalid(_), _) => false,
    }
}

/// The verdict on one image (an index, or one of its platform images).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectVerdict {
    /// The image's digest.
    pub digest: String,
    /// Its platform, for a platform image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Each requirement met, and by what.
    pub satisfied: BTreeMap<Requirement, String>,
    /// The requirements not met.
    pub missing: Vec<Requirement>,
    /// What was found and did not count, with why.
    pub rejected: Vec<String>,
    /// ECR managed signing is still under way for it.
    pub in_progress: bool,
}

impl SubjectVerdict {
    /// The image and, for a platform image, its platform: `sha256:…` or `linux/arm64 (sha256:…)`.
    pub fn name(&self) -> String {
        match &self.platform {
            Some(platform) => format!("{platform} ({})", short(&self.digest)),
            None => short(&self.digest).to_string(),
        }
    }
}

/// Where an image stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProvenanceState {
    /// Everything required is there.
    Satisfied,
    /// Something is missing, but awaited: within the grace period, or ECR is still signing.
    Pending,
    /// Something is missing: a violation.
    Missing,
}

/// The verdict on an image's provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvenanceVerdict {
    /// Where it stands.
    pub state: ProvenanceState,
    /// Each image judged: the image, or each platform image of an index.
    pub images: Vec<SubjectVerdict>,
    /// Until when a missing requirement is awaited (the push plus the grace period).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaited_until: Option<String>,
}

impl ProvenanceVerdict {
    /// Stops waiting: a pending verdict becomes missing, `why` added to each image's
    /// reasons (push-guard, after its last re-check).
    pub fn stop_waiting(&mut self, why: &str) {
        if self.state == ProvenanceState::Pending {
            self.state = ProvenanceState::Missing;
            for image in self.images.iter_mut().filter(|i| !i.missing.is_empty()) {
                image.rejected.push(why.to_string());
            }
        }
    }

    /// One line per image that misses something: what, and what was found that did not count.
    pub fn reasons(&self) -> Vec<String> {
        self.images
            .iter()
            .filter(|image| !image.missing.is_empty())
            .map(|image| {
                let missing: Vec<&str> = image.missing.iter().map(|r| r.as_str()).collect();
                let mut line = format!("{} has no valid {}", image.name(), missing.join(" or "));
                if image.in_progress {
                    line.push_str(" yet (ECR managed signing in progress)");
                }
                if !image.rejected.is_empty() {
                    line.push_str(": ");
                    line.push_str(&image.rejected.join("; "));
                }
                line
            })
            .collect()
    }
}

/// Judges an image's provenance. `pushed_at`: when the image was pushed, for the grace
/// period (unknown: no grace); `now`: the verdict's time.
pub fn judge(
    evidence: &ImageEvidence,
    rules: &ProvenanceRules,
    pushed_at: Option<Timestamp>,
    now: Timestamp,
) -> ProvenanceVerdict {
    let subjects: Vec<&Evidence> = match rules.scope {
        Scope::Platforms if !evidence.platforms.is_empty() => evidence.platforms.iter().collect(),
        _ => vec![&evidence.image],
    };
    let images: Vec<SubjectVerdict> = subjects
        .into_iter()
        .map(|subject| judge_one(subject, rules, now))
        .collect();
    let complete = images.iter().all(|image| image.missing.is_empty());
    let until = pushed_at.map(|at| Timestamp(at.0 + rules.grace_seconds));
    let awaited = until.is_some_and(|until| now < until);
    let in_progress = images.iter().any(|image| image.in_progress);
    let state = if complete {
        ProvenanceState::Satisfied
    } else if awaited || in_progress {
        ProvenanceState::Pending
    } else {
        ProvenanceState::Missing
    };
    ProvenanceVerdict {
        state,
        images,
        awaited_until: until
            .filter(|_| rules.grace_seconds > 0 && !complete)
            .map(|until| until.to_string()),
    }
}

fn judge_one(evidence: &Evidence, rules: &ProvenanceRules, now: Timestamp) -> SubjectVerdict {
    let found = examine(evidence, rules, now);
    let mut satisfied = BTreeMap::new();
    let mut missing = Vec::new();
    for requirement in &rules.require {
        match found.iter().find(|f| satisfies(f, *requirement, rules)) {
            Some(by) => {
                let by = match &by.check {
                    Check::Verified(who) => format!("{}, verified: {who}", by.what),
                    _ => by.what.clone(),
                };
                satisfied.insert(*requirement, by);
            }
            None => missing.push(*requirement),
        }
    }
    let rejected = found
        .iter()
        .filter_map(|f| match &f.check {
            Check::Invalid(why) => Some(format!("{}: {why}", f.what)),
            _ => None,
        })
        .collect();
    let in_progress = missing.contains(&Requirement::Signature)
        && rules.schemes.contains(&Scheme::EcrManaged)
        && found.iter().any(|f| f.check == Check::InProgress);
    SubjectVerdict {
        digest: evidence.digest.clone(),
        platform: evidence.platform.clone(),
        satisfied,
        missing,
        rejected,
        in_progress,
    }
}

#[cfg(test)]
mod tests;
