//! push-guard's domain: which pushes to check, the verdict over every platform of the image,
//! and the notification that reports it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::StewardError;
use crate::events::{ActionResult, ActionType, EventBridgeEvent, ImageAction};
use crate::image::{Digest, PlatformLabels, TaggedImage};
use crate::notify::{untrusted, EventType, ImageRef, Notification, Outcome, Severity};
use crate::policy::{LastTag, Mode, Policy, TagVerdict};

/// A successful, tagged push: what push-guard checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedTag {
    /// The image pushed.
    pub image: ImageRef,
    /// The tag pushed.
    pub tag: String,
}

/// A signature, SBOM or attestation pushed for an image: push-guard judges that image's
/// provenance again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrerPush {
    /// The artifact pushed (its own digest).
    pub image: ImageRef,
    /// The image it is about, when the event says it (cosign's `sha256-<hex>.sig` tags); else
    /// the artifact's `subject` says it.
    pub subject: Option<String>,
}

/// The image a cosign or referrers-tag-schema tag (`sha256-<hex>`, `.sig`, `.att`, `.sbom`) is
/// about; `None` for any other tag.
pub fn artifact_tag_subject(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("sha256-")?;
    let hex = [".sig", ".att", ".sbom"]
        .iter()
        .find_map(|suffix| rest.strip_suffix(suffix))
        .unwrap_or(rest);
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| format!("sha256:{hex}"))
}

/// Config media types of images (a push of one of these untagged is a platform image of an
/// index, not an artifact).
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
];

/// A push whose provenance is awaited (a grace period, or ECR managed signing under way):
/// push-guard judges it again after a delay, through its re-check queue. The message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Recheck {
    /// The image's region.
    pub region: String,
    /// The image's account, when the push event named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The image's repository.
    pub repository: String,
    /// The image's digest.
    pub digest: String,
    /// The tag judged.
    pub tag: String,
    /// When the image was pushed (RFC 3339), for the grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_at: Option<String>,
    /// How many re-checks came before this one.
    pub attempt: u32,
}

/// The most re-checks of one push: enough for a day's grace period at 15 minutes each; past
/// them (ECR managed signing that never ends), an awaited signature is no longer awaited.
pub const MAX_RECHECKS: u32 = 100;

/// SQS delays a message 15 minutes at most; a longer grace period takes several re-checks.
pub const MAX_RECHECK_DELAY: u32 = 900;

/// How long until a pending verdict is worth judging again: just past the end of the grace
/// period (at most [`MAX_RECHECK_DELAY`]), or a minute while ECR is still signing.
pub fn recheck_delay(
    verdict: &crate::provenance::ProvenanceVerdict,
    now: crate::timestamp::Timestamp,
) -> u32 {
    let until = verdict
        .awaited_until
        .as_deref()
        .and_then(crate::timestamp::Timestamp::parse_rfc3339);
    match until {
        Some(until) if until.0 > now.0 => u32::try_from(until.0 - now.0 + 1)
            .map_or(MAX_RECHECK_DELAY, |s| s.min(MAX_RECHECK_DELAY)),
        _ => 60,
    }
}

impl Recheck {
    /// Reads a re-check message; anything else is a [`StewardError::MalformedEvent`].
    pub fn from_message(body: &str) -> Result<Self, StewardError> {
        serde_json::from_str(body)
            .map_err(|error| StewardError::MalformedEvent(format!("a re-check message: {error}")))
    }

    /// The push it re-checks.
    pub fn pushed(&self) -> PushedTag {
        PushedTag {
            image: ImageRef {
                account: self.account.clone(),
                region: self.region.clone(),
                repository: self.repository.clone(),
                digest: self.digest.clone(),
            },
            tag: self.tag.clone(),
        }
    }
}

/// Whether push-guard checks an `ECR Image Action` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage {
    /// A tagged push to check.
    Check(PushedTag),
    /// A signature, SBOM or attestation arrived: the image it is about is judged again.
    Referrer(ReferrerPush),
    /// Not push-guard's business; the reason is logged.
    Skip(&'static str),
}

/// Decides whether an image action is a push to check: a successful push with a tag that is not
/// ecr-steward's own quarantine tag. A push to check without a valid digest or region is a
/// [`StewardError::MalformedEvent`].
pub fn triage(event: &EventBridgeEvent<ImageAction>) -> Result<Triage, StewardError> {
    let detail = &event.detail;
    if detail.action_type != ActionType::Push {
        return Ok(Triage::Skip("not a push"));
    }
    if detail.result != ActionResult::Success {
        return Ok(Triage::Skip("the push failed"));
    }
    let tag = detail.image_tag.clone().filter(|t| !t.is_empty());
    let subject = tag.as_deref().and_then(artifact_tag_subject);
    let is_artifact = detail
        .artifact_media_type
        .as_deref()
        .is_some_and(|media| !media.is_empty() && !IMAGE_CONFIGS.contains(&media));
    let Some(tag) = tag.filter(|_| subject.is_none()) else {
        if subject.is_none() && !is_artifact {
            return Ok(Triage::Skip("an untagged push"));
        }
        let (Some(digest), Some(region)) = (
            detail
                .image_digest
                .as_deref()
                .and_then(|d| Digest::parse(d).ok()),
            event.region.clone(),
        ) else {
            return Err(StewardError::MalformedEvent(
                "a PUSH event without a valid image-digest or region".into(),
            ));
        };
        return Ok(Triage::Referrer(ReferrerPush {
            image: ImageRef {
                account: event.account.clone(),
                region,
                repository: detail.repository_name.clone(),
                digest: digest.into(),
            },
            subject,
        }));
    };
    let digest: String = detail
        .image_digest
        .as_deref()
        .and_then(|d| Digest::parse(d).ok())
        .ok_or_else(|| {
            StewardError::MalformedEvent("a PUSH event without a valid image-digest".into())
        })?
        .into();
    // Only the image's own quarantine tag is ecr-steward's; one shaped like it on another
    // image is judged like any tag.
    if tag == quarantine_tag(&digest) {
        return Ok(Triage::Skip("ecr-steward's own quarantine tag"));
    }
    let region = event
        .region
        .clone()
        .ok_or_else(|| StewardError::MalformedEvent("the event has no region".into()))?;
    Ok(Triage::Check(PushedTag {
        image: ImageRef {
            account: event.account.clone(),
            region,
            repository: detail.repository_name.clone(),
            digest,
        },
        tag,
    }))
}

/// The verdict on a pushed tag: the tag rules once, the label rules on every platform image.
pub fn judge(
    policy: &Policy,
    repository: &str,
    tag: &str,
    platforms: &[PlatformLabels],
) -> TagVerdict {
    let mut verdict = policy.evaluate(Some(repository), tag, None);
    if verdict.rule.is_none() {
        return verdict;
    }
    for platform in platforms {
        let with_labels = policy.evaluate(Some(repository), tag, Some(&platform.labels));
        for mut finding in with_labels
            .violations
            .into_iter()
            .filter(|f| f.check.starts_with("labels."))
        {
            if let Some(name) = &platform.platform {
                finding.message = format!("{name}: {}", finding.message);
            }
            verdict.compliant = false;
            verdict.violations.push(finding);
        }
    }
    verdict
}

/// The tag enforce mode gives an image before it removes the image's last tag:
/// `quarantine-` and the first 12 hex digits of the digest.
pub fn quarantine_tag(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    format!(
        "{QUARANTINE_PREFIX}{}",
        &hex[..hex.len().min(QUARANTINE_HEX)]
    )
}

/// True for a tag of the form [`quarantine_tag`] makes: ecr-steward's own, never judged.
pub fn is_quarantine_tag(tag: &str) -> bool {
    tag.strip_prefix(QUARANTINE_PREFIX).is_some_and(|hex| {
        hex.len() == QUARANTINE_HEX && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

const QUARANTINE_PREFIX: &str = "quarantine-";
const QUARANTINE_HEX: usize = 12;

/// The first step of enforcing the policy on a tag, decided from what ECR says the tag
/// names just before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnforcementStep {
    /// The tag does not exist any more: a repeated delivery, or removed by hand.
    AlreadyGone,
    /// The tag names another image now; that push has its own event.
    MovedOn,
    /// Remove the tag; the image keeps these other tags.
    Remove {
        /// The image's tags other than this one.
        other_tags: Vec<String>,
    },
    /// The image's last tag: give it this quarantine tag first, then remove the tag.
    Quarantine(String),
    /// The image's last tag, left in place (`last_tag: keep`).
    Keep,
    /// The image's last tag, removed, and the image with it (`last_tag: delete`).
    DeleteImage,
}

impl EnforcementStep {
    /// True when the step changes tags (and so must run to its end once started).
    pub fn changes_tags(&self) -> bool {
        matches!(
            self,
            Self::Remove { .. } | Self::Quarantine(_) | Self::DeleteImage
        )
    }
}

/// What to do about `tag`, judged on `digest`, given the image the tag names now.
///
/// `stays` says whether another tag of the image will stay on it: one the policy admits, or the
/// image's own quarantine tag. Tags that break the policy too are being removed by their own
/// events, perhaps at this very moment, so they do not keep the image: an image whose other
/// tags all break the policy is treated as if this were its last tag (otherwise two deliveries
/// for `latest` and `dev` of one push would each remove a tag, and the second would delete the
/// image).
pub fn plan_enforcement(
    digest: &str,
    tag: &str,
    current: Option<&TaggedImage>,
    last_tag: LastTag,
    stays: impl Fn(&str) -> bool,
) -> EnforcementStep {
    let Some(current) = current else {
        return EnforcementStep::AlreadyGone;
    };
    if current.digest != digest {
        return EnforcementStep::MovedOn;
    }
    let other_tags: Vec<String> = current.tags.iter().filter(|t| *t != tag).cloned().collect();
    let own_quarantine_tag = quarantine_tag(digest);
    let kept_by_another = other_tags
        .iter()
        .any(|t| *t == own_quarantine_tag || stays(t));
    if kept_by_another {
        return EnforcementStep::Remove { other_tags };
    }
    match last_tag {
        LastTag::Quarantine => EnforcementStep::Quarantine(own_quarantine_tag),
        LastTag::Keep => EnforcementStep::Keep,
        LastTag::Delete if other_tags.is_empty() => EnforcementStep::DeleteImage,
        LastTag::Delete => EnforcementStep::Remove { other_tags },
    }
}

/// What push-guard did about a push. The names are the `outcome` of the function's response
/// and of the notification's message attribute (the contract of SNS subscription filters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum GuardAction {
    /// The push is compliant; nothing is notified.
    Compliant,
    /// Audit mode: reported, nothing changed.
    Audited,
    /// The tag was removed; the image keeps its other tags.
    TagRemoved {
        /// The tags the image still has.
        other_tags: Vec<String>,
    },
    /// The tag was the image's last: the image got `quarantine_tag`, then lost the tag.
    Quarantined {
        /// The quarantine tag the image now has.
        quarantine_tag: String,
    },
    /// The tag was the image's last and stays (`last_tag: keep`).
    KeptLastTag,
    /// The tag was the image's last; removing it deleted the image (`last_tag: delete`).
    ImageDeleted,
    /// The tag was already gone; nothing changed now.
    AlreadyRemoved,
    /// The tag names another image now and was left there. `restored_to` is set when the tag
    /// moved while it was being removed: it was put straight back on that image.
    TagMovedOn {
        /// The digest the tag was put back on, when it moved during the removal.
        #[serde(skip_serializing_if = "Option::is_none")]
        restored_to: Option<String>,
    },
    /// The tag was pushed again on a newer image during its removal, and ECR's removal took it
    /// from that image; as it was that image's only tag, ECR deleted the newer image.
    NewerImageDeleted {
        /// The newer image's digest; push it again.
        newer_digest: String,
    },
    /// ECR refused a change (immutable tags); what was done before it is said in `reason`.
    Refused {
        /// ECR's refusal, and what had been done before it.
        reason: String,
    },
}

impl GuardAction {
    /// The outcome it is notified as; `None` for a compliant push, which is not notified.
    pub fn outcome(&self) -> Option<Outcome> {
        Some(match self {
            Self::Compliant => return None,
            Self::Audited => Outcome::Audited,
            Self::TagRemoved { .. } => Outcome::TagRemoved,
            Self::Quarantined { .. } => Outcome::Quarantined,
            Self::KeptLastTag => Outcome::KeptLastTag,
            Self::ImageDeleted => Outcome::ImageDeleted,
            Self::AlreadyRemoved => Outcome::AlreadyRemoved,
            Self::TagMovedOn { .. } => Outcome::TagMovedOn,
            Self::NewerImageDeleted { .. } => Outcome::NewerImageDeleted,
            Self::Refused { .. } => Outcome::Refused,
        })
    }
}

/// What push-guard did about one push; also the function's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardReport {
    /// The repository pushed to.
    pub repository: String,
    /// The tag pushed.
    pub tag: String,
    /// The image's manifest digest.
    pub digest: String,
    /// The mode that applied.
    pub mode: Mode,
    /// True when the verdict found no violation.
    pub compliant: bool,
    /// What was done; serialized flat, as `outcome` and its fields.
    #[serde(flatten)]
    pub action: GuardAction,
    /// How many platform images were checked for labels.
    pub platforms: usize,
    /// The verdict on the tag and labels.
    pub verdict: TagVerdict,
    /// The verdict on the image's signatures, SBOMs and attestations, where the rule's
    /// `provenance` asks for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::provenance::ProvenanceVerdict>,
    /// What started the judgement: the tag's push, or a signature's or SBOM's (its digest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// Provenance awaited: in how many seconds push-guard judges the push again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recheck_in_seconds: Option<u32>,
    /// Which re-check this judgement was (0: the push itself).
    #[serde(skip_serializing_if = "is_zero")]
    pub recheck: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl GuardReport {
    /// Assembles the report of one push.
    pub fn new(
        pushed: &PushedTag,
        mode: Mode,
        platforms: usize,
        verdict: TagVerdict,
        action: GuardAction,
    ) -> Self {
        Self {
            repository: pushed.image.repository.clone(),
            tag: pushed.tag.clone(),
            digest: pushed.image.digest.clone(),
            mode,
            compliant: verdict.compliant,
            action,
            platforms,
            verdict,
            provenance: None,
            referrer: None,
            recheck_in_seconds: None,
            recheck: 0,
        }
    }

    /// The report with the provenance verdict: a missing requirement makes the push
    /// non-compliant (a pending one does not).
    pub fn with_provenance(
        mut self,
        provenance: Option<crate::provenance::ProvenanceVerdict>,
    ) -> Self {
        if provenance
            .as_ref()
            .is_some_and(|p| p.state == crate::provenance::ProvenanceState::Missing)
        {
            self.compliant = false;
        }
        self.provenance = provenance;
        self
    }

    /// The notification for a non-compliant push; `None` for a compliant one. A repeated
    /// delivery whose tag is already gone notifies again, as `already-removed`: the first
    /// delivery may have removed the tag and then failed to publish.
    pub fn notification(&self, image: &ImageRef) -> Option<Notification> {
        let outcome = self.action.outcome()?;
        let tag = untrusted(&self.tag);
        let repository = &self.repository;
        let (severity, title) = match &self.action {
            GuardAction::Compliant | GuardAction::Audited => (
                Severity::Warning,
                format!("Policy violation in {repository}: {}", self.tag),
            ),
            GuardAction::TagRemoved { .. } => (
                Severity::Critical,
                format!("Tag removed from {repository}: {}", self.tag),
            ),
            GuardAction::Quarantined { .. } => (
                Severity::Critical,
                format!("Image quarantined in {repository}: {}", self.tag),
            ),
            GuardAction::ImageDeleted => (
                Severity::Critical,
                format!("Image deleted from {repository}: {}", self.tag),
            ),
            GuardAction::KeptLastTag => (
                Severity::Warning,
                format!("Policy violation kept in {repository}: {}", self.tag),
            ),
            GuardAction::AlreadyRemoved => (
                Severity::Info,
                format!("Tag already removed from {repository}: {}", self.tag),
            ),
            GuardAction::TagMovedOn { .. } => (
                Severity::Info,
                format!("Tag moved on in {repository}: {}", self.tag),
            ),
            GuardAction::NewerImageDeleted { .. } => (
                Severity::Critical,
                format!("Newer image deleted in {repository}: {}", self.tag),
            ),
            GuardAction::Refused { .. } => (
                Severity::Critical,
                format!("ECR refused enforcement in {repository}: {}", self.tag),
            ),
        };
        let mut description = format!(
            "Tag `{tag}` of *{}* (`{}`) breaks rule *{}* of the policy:\n",
            untrusted(repository),
            self.digest,
            untrusted(self.verdict.rule.as_deref().unwrap_or("-"))
        );
        for violation in &self.verdict.violations {
            let _ = writeln!(
                description,
                "• `{}` {}",
                violation.check,
                untrusted(&violation.message)
            );
        }
        let provenance_missing = self
            .provenance
            .as_ref()
            .filter(|p| p.state == crate::provenance::ProvenanceState::Missing);
        for reason in provenance_missing.iter().flat_map(|p| p.reasons()) {
            let _ = writeln!(description, "• `provenance` {}", untrusted(&reason));
        }
        description.push('\n');
        description.push_str(&self.what_was_done(&tag));
        let mut next_steps = Vec::new();
        if !self.verdict.violations.is_empty() {
            next_steps.push(
                "Push the image again with a tag the policy allows (`ecr-steward check` shows which)."
                    .to_string(),
            );
        }
        if self
            .verdict
            .violations
            .iter()
            .any(|v| v.check.starts_with("labels."))
        {
            next_steps
                .push("Set the OCI labels in the build, e.g. with docker/metadata-action.".into());
        }
        if provenance_missing.is_some() {
            next_steps.push("Sign the image (and attach its SBOM) as the rule's `provenance` says; `ecr-steward gate --require-provenance` shows what is found.".into());
        }
        if let GuardAction::Quarantined { quarantine_tag } = &self.action {
            next_steps.push(format!(
                "The image is still there as `{quarantine_tag}`: delete it when it is not needed."
            ));
        }
        Some(Notification {
            event_type: EventType::PushGuardViolation,
            severity,
            outcome,
            link: image.console_link("details"),
            image: image.clone(),
            title,
            description,
            next_steps,
            keywords: vec![
                "ecr-steward".into(),
                "push-guard".into(),
                self.verdict.kind.as_str().into(),
            ],
            context: BTreeMap::from([
                ("tag".into(), tag),
                ("mode".into(), format!("{:?}", self.mode).to_lowercase()),
                (
                    "violations".into(),
                    self.verdict.violations.len().to_string(),
                ),
            ]),
        })
    }

    /// The `facts` of this push's verdict event (`Push Verdict`, core/src/verdict.rs), by
    /// kebab-case name; what the report adds (provenance, …) goes here too, and in
    /// schema/push-verdict.v1.schema.json and docs/events.md.
    pub fn verdict_facts(&self) -> crate::verdict::Facts {
        let mut facts = crate::verdict::Facts::from([
            (
                "mode".to_string(),
                format!("{:?}", self.mode).to_lowercase().into(),
            ),
            ("compliant".to_string(), self.compliant.into()),
            ("tag-kind".to_string(), self.verdict.kind.as_str().into()),
            ("platforms".to_string(), self.platforms.into()),
            (
                "violations".to_string(),
                self.verdict.violations.len().into(),
            ),
        ]);
        if let Some(provenance) = &self.provenance {
            let state = match provenance.state {
                crate::provenance::ProvenanceState::Satisfied => "satisfied",
                crate::provenance::ProvenanceState::Pending => "pending",
                crate::provenance::ProvenanceState::Missing => "missing",
            };
            facts.insert("provenance".into(), state.into());
        }
        if let Some(seconds) = self.recheck_in_seconds {
            facts.insert("recheck-in-seconds".into(), u64::from(seconds).into());
        }
        if self.recheck > 0 {
            facts.insert("recheck".into(), u64::from(self.recheck).into());
        }
        if let Some(referrer) = &self.referrer {
            facts.insert("referrer".into(), referrer.as_str().into());
        }
        let checks: Vec<&str> = self.verdict.violations.iter().map(|v| v.check).collect();
        if !checks.is_empty() {
            facts.insert("checks".into(), checks.join(",").into());
        }
        match &self.action {
            GuardAction::Quarantined { quarantine_tag } => {
                facts.insert("quarantine-tag".into(), quarantine_tag.as_str().into());
            }
            GuardAction::NewerImageDeleted { newer_digest } => {
                facts.insert("newer-digest".into(), newer_digest.as_str().into());
            }
            GuardAction::Refused { reason } => {
                facts.insert("refused".into(), reason.as_str().into());
            }
            _ => {}
        }
        facts
    }

    /// One sentence on what happened to the image and its tags.
    fn what_was_done(&self, tag: &str) -> String {
        match &self.action {
            GuardAction::Compliant | GuardAction::Audited => {
                "Audit mode: nothing was changed.".into()
            }
            GuardAction::TagRemoved { other_tags } => format!(
                "Enforce mode: the tag was removed. The image remains, with its other tags: {}.",
                other_tags
                    .iter()
                    .map(|t| format!("`{}`", untrusted(t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            GuardAction::Quarantined { quarantine_tag } => format!(
                "Enforce mode: `{tag}` was the image's only tag, so the image was first tagged `{quarantine_tag}` (same digest), then `{tag}` was removed. The image remains reachable (enforce.last_tag: quarantine)."
            ),
            GuardAction::KeptLastTag => format!(
                "Enforce mode: `{tag}` is the image's only tag, and removing it would delete the image, so it was left in place (enforce.last_tag: keep). Nothing was changed."
            ),
            GuardAction::ImageDeleted => format!(
                "Enforce mode: `{tag}` was the image's only tag; it was removed, and ECR deleted the image with it (enforce.last_tag: delete)."
            ),
            GuardAction::AlreadyRemoved => {
                "Enforce mode: the tag had already been removed (a repeated delivery, or by hand). Nothing was changed now.".into()
            }
            GuardAction::TagMovedOn { restored_to: None } => {
                "Enforce mode: the tag names another image now (a newer push, which is judged on its own), so nothing was changed.".into()
            }
            GuardAction::TagMovedOn {
                restored_to: Some(digest),
            } => format!(
                "Enforce mode: the tag was pushed again while it was being removed; ECR removed it from the new image `{digest}`, and ecr-steward put it straight back there. This image was not changed."
            ),
            GuardAction::NewerImageDeleted { newer_digest } => format!(
                "Enforce mode: `{tag}` was pushed again as `{newer_digest}` while it was being removed. ECR removed it from that newer image, and as it was that image's only tag, ECR deleted the image, so it could not be put back. Push `{newer_digest}` again. This image was not changed."
            ),
            GuardAction::Refused { reason } => format!(
                "Enforce mode: ECR refused a change: {}. It is not retried.",
                untrusted(reason)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StewardEvent;
    use crate::labels::Labels;

    fn push_event(patch: impl FnOnce(&mut serde_json::Value)) -> EventBridgeEvent<ImageAction> {
        let value = crate::events::samples::patched_sample("image-push-semver.json", patch);
        match StewardEvent::from_value(value).expect("typed") {
            StewardEvent::ImageAction(event) => event,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn triage_checks_tagged_successful_pushes_only() {
        let Triage::Check(pushed) = triage(&push_event(|_| {})).expect("valid") else {
            panic!("should be checked");
        };
        assert_eq!(
            (pushed.tag.as_str(), pushed.image.repository.as_str()),
            ("1.4.2", "team-a/api")
        );
        assert_eq!(
            triage(&push_event(|v| v["detail"]["action-type"] = "DELETE".into())).expect("valid"),
            Triage::Skip("not a push")
        );
        assert_eq!(
            triage(&push_event(|v| v["detail"]["result"] = "FAILURE".into())).expect("valid"),
            Triage::Skip("the push failed")
        );
        let untagged = push_event(|v| {
            v["detail"]
                .as_object_mut()
                .expect("object")
                .remove("image-tag");
        });
        assert_eq!(
            triage(&untagged).expect("valid"),
            Triage::Skip("an untagged push")
        );
        let no_digest = push_event(|v| v["detail"]["image-digest"] = "latest".into());
        assert!(matches!(
            triage(&no_digest),
            Err(StewardError::MalformedEvent(_))
        ));
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn judges_labels_on_every_platform() {
        let good = labels(&[
            ("org.opencontainers.image.source", "https://github.com/o/a"),
            (
                "org.opencontainers.image.revision",
                "0123456789abcdef0123456789abcdef01234567",
            ),
            ("org.opencontainers.image.created", "2026-01-01T00:00:00Z"),
        ]);
        let platforms = vec![
            PlatformLabels {
                platform: Some("linux/amd64".into()),
                digest: "sha256:a".into(),
                labels: good.clone(),
            },
            PlatformLabels {
                platform: Some("linux/arm64".into()),
                digest: "sha256:b".into(),
                labels: Labels::new(),
            },
        ];
        let verdict = judge(&Policy::builtin(), "team/app", "1.2.3", &platforms);
        assert!(!verdict.compliant);
        assert_eq!(verdict.violations.len(), 3);
        assert!(verdict
            .violations
            .iter()
            .all(|v| v.message.starts_with("linux/arm64: ")));
        assert!(judge(&Policy::builtin(), "team/app", "1.2.3", &platforms[..1]).compliant);
    }

    #[test]
    fn notifications_say_what_was_done() {
        let pushed = PushedTag {
            image: ImageRef {
                account: Some("1".into()),
                region: "us-east-1".into(),
                repository: "team/app".into(),
                digest: "sha256:d".into(),
            },
            tag: "latest".into(),
        };
        let verdict = judge(&Policy::builtin(), "team/app", "latest", &[]);
        let report = |action| GuardReport::new(&pushed, Mode::Enforce, 1, verdict.clone(), action);
        let audit = GuardReport::new(
            &pushed,
            Mode::Audit,
            1,
            verdict.clone(),
            GuardAction::Audited,
        );
        let message = audit.notification(&pushed.image).expect("notifies");
        assert_eq!(
            (message.outcome.as_str(), message.severity),
            ("audited", Severity::Warning)
        );
        assert!(message.description.contains("tag.literals.deny"));
        assert!(message
            .description
            .contains("Audit mode: nothing was changed."));

        let cases = [
            (
                GuardAction::TagRemoved {
                    other_tags: vec!["1.2.3".into()],
                },
                "tag-removed",
                "The image remains, with its other tags: `1.2.3`.",
            ),
            (
                GuardAction::Quarantined {
                    quarantine_tag: "quarantine-0123456789ab".into(),
                },
                "quarantined",
                "first tagged `quarantine-0123456789ab`",
            ),
            (GuardAction::KeptLastTag, "kept-last-tag", "left in place"),
            (
                GuardAction::ImageDeleted,
                "image-deleted",
                "ECR deleted the image",
            ),
            (
                GuardAction::AlreadyRemoved,
                "already-removed",
                "had already been removed",
            ),
            (
                GuardAction::TagMovedOn { restored_to: None },
                "tag-moved-on",
                "names another image now",
            ),
            (
                GuardAction::TagMovedOn {
                    restored_to: Some("sha256:e".into()),
                },
                "tag-moved-on",
                "put it straight back",
            ),
        ];
        for (action, outcome, says) in cases {
            let message = report(action)
                .notification(&pushed.image)
                .expect("notifies");
            assert_eq!(message.outcome, outcome);
            assert!(
                message.description.contains(says),
                "{}",
                message.description
            );
            assert!(!message.description.contains("Audit mode"));
        }

        let fine = judge(&Policy::builtin(), "team/app", "1.2.3", &[]);
        assert_eq!(
            GuardReport::new(&pushed, Mode::Audit, 1, fine, GuardAction::Compliant)
                .notification(&pushed.image),
            None
        );
    }

    #[test]
    fn the_response_names_the_outcome_the_notification_carries() {
        let actions = [
            GuardAction::Audited,
            GuardAction::TagRemoved { other_tags: vec![] },
            GuardAction::Quarantined {
                quarantine_tag: "q".into(),
            },
            GuardAction::KeptLastTag,
            GuardAction::ImageDeleted,
            GuardAction::AlreadyRemoved,
            GuardAction::TagMovedOn { restored_to: None },
            GuardAction::Refused { reason: "r".into() },
        ];
        for action in actions {
            let json = serde_json::to_value(&action).expect("json");
            let outcome = action.outcome().expect("notified");
            assert_eq!(json["outcome"], outcome.as_str());
        }
        assert_eq!(GuardAction::Compliant.outcome(), None);
    }

    #[test]
    fn quarantine_tags_are_recognised_and_the_last_tag_is_never_removed_by_default() {
        let digest = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd";
        assert_eq!(quarantine_tag(digest), "quarantine-7f5b2640fe6f");
        assert!(is_quarantine_tag("quarantine-7f5b2640fe6f"));
        for other in [
            "quarantine-7f5b",
            "quarantine-7F5B2640FE6F",
            "quarantine-7f5b2640fe6fa",
            "latest",
        ] {
            assert!(!is_quarantine_tag(other), "{other}");
        }
        let image = |tags: &[&str]| TaggedImage {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            archived: false,
        };
        let plan = |current: Option<&TaggedImage>, last| {
            plan_enforcement(digest, "latest", current, last, |t| t == "1.2.3")
        };
        assert_eq!(plan(None, LastTag::Delete), EnforcementStep::AlreadyGone);
        let moved = TaggedImage {
            digest: "sha256:other".into(),
            tags: vec!["latest".into()],
            archived: false,
        };
        assert_eq!(
            plan(Some(&moved), LastTag::Delete),
            EnforcementStep::MovedOn
        );
        assert_eq!(
            plan(Some(&image(&["latest", "1.2.3"])), LastTag::Delete),
            EnforcementStep::Remove {
                other_tags: vec!["1.2.3".into()]
            }
        );
        assert_eq!(
            plan(Some(&image(&["latest"])), LastTag::default()),
            EnforcementStep::Quarantine("quarantine-7f5b2640fe6f".into())
        );
        assert_eq!(
            plan(Some(&image(&["latest"])), LastTag::Keep),
            EnforcementStep::Keep
        );
        assert_eq!(
            plan(Some(&image(&["latest"])), LastTag::Delete),
            EnforcementStep::DeleteImage
        );
        let quarantined = image(&["latest", "quarantine-7f5b2640fe6f"]);
        assert!(matches!(
            plan(Some(&quarantined), LastTag::Quarantine),
            EnforcementStep::Remove { .. }
        ));
        // Other tags that break the policy too do not keep the image: their own deliveries
        // remove them, maybe at the same time.
        let all_offending = image(&["latest", "dev", "quarantine-000000000000"]);
        assert_eq!(
            plan(Some(&all_offending), LastTag::Quarantine),
            EnforcementStep::Quarantine("quarantine-7f5b2640fe6f".into())
        );
        assert_eq!(
            plan(Some(&all_offending), LastTag::Keep),
            EnforcementStep::Keep
        );
    }
}
