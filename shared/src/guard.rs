//! push-guard's domain: which pushes to check, the verdict over every platform of the image,
//! and the notification that reports it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::StewardError;
use crate::events::{ActionResult, ActionType, EventBridgeEvent, ImageAction};
use crate::notify::{untrusted, ImageRef, Notification, Severity};
use crate::policy::{Mode, Policy, TagVerdict};
use crate::ports::{PlatformLabels, TagRemoval};

/// A successful, tagged push: what push-guard checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedTag {
    pub image: ImageRef,
    pub tag: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage {
    Check(PushedTag),
    /// Not push-guard's business; the reason is logged.
    Skip(&'static str),
}

pub fn triage(event: &EventBridgeEvent<ImageAction>) -> Result<Triage, StewardError> {
    let detail = &event.detail;
    if detail.action_type != ActionType::Push {
        return Ok(Triage::Skip("not a push"));
    }
    if detail.result != ActionResult::Success {
        return Ok(Triage::Skip("the push failed"));
    }
    let Some(tag) = detail.image_tag.clone().filter(|t| !t.is_empty()) else {
        return Ok(Triage::Skip("an untagged push"));
    };
    let digest = detail
        .image_digest
        .clone()
        .filter(|d| d.starts_with("sha256:") || d.starts_with("sha512:"))
        .ok_or_else(|| {
            StewardError::MalformedEvent("a PUSH event without a valid image-digest".into())
        })?;
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

/// What push-guard did about one push; also the function's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardReport {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub mode: Mode,
    pub compliant: bool,
    /// `none`, `notified`, `tag-removed`, `already-removed`, `tag-moved-on`.
    pub action: &'static str,
    pub platforms: usize,
    pub verdict: TagVerdict,
}

impl GuardReport {
    pub fn new(
        pushed: &PushedTag,
        mode: Mode,
        platforms: usize,
        verdict: TagVerdict,
        removal: Option<TagRemoval>,
    ) -> Self {
        let action = match (verdict.compliant, removal) {
            (true, _) => "none",
            (false, None) => "notified",
            (false, Some(TagRemoval::Removed)) => "tag-removed",
            (false, Some(TagRemoval::AlreadyGone)) => "already-removed",
            (false, Some(TagRemoval::MovedOn)) => "tag-moved-on",
        };
        Self {
            repository: pushed.image.repository.clone(),
            tag: pushed.tag.clone(),
            digest: pushed.image.digest.clone(),
            mode,
            compliant: verdict.compliant,
            action,
            platforms,
            verdict,
        }
    }

    /// The notification for a non-compliant push; `None` for a compliant one. A repeated
    /// delivery whose tag is already gone notifies again: the first delivery may have removed
    /// the tag and then failed to publish, and a notification must not be lost.
    pub fn notification(&self, image: &ImageRef) -> Option<Notification> {
        if self.compliant {
            return None;
        }
        let tag = untrusted(&self.tag);
        let removed = matches!(self.action, "tag-removed" | "already-removed");
        let (severity, outcome, title) = if removed {
            (
                Severity::Critical,
                "tag-removed",
                format!("Tag removed from {}: {}", self.repository, self.tag),
            )
        } else {
            (
                Severity::Warning,
                "audited",
                format!("Policy violation in {}: {}", self.repository, self.tag),
            )
        };
        let mut description = format!(
            "Tag `{tag}` of *{}* (`{}`) breaks rule *{}* of the tag policy:\n",
            untrusted(&self.repository),
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
        match self.action {
            "tag-removed" => description.push_str(
                "\nThe tag was removed (enforce mode); the image and its other tags remain.",
            ),
            "already-removed" => description.push_str(
                "\nThe tag had already been removed (enforce mode); the image and its other tags remain.",
            ),
            "tag-moved-on" => {
                description.push_str("\nThe tag already names another image, so it was left alone.")
            }
            _ => description.push_str("\nAudit mode: nothing was changed."),
        }
        let mut next_steps = vec![
            "Push the image again with a tag the policy allows (`ecr-steward check` shows which)."
                .to_string(),
        ];
        if self
            .verdict
            .violations
            .iter()
            .any(|v| v.check.starts_with("labels."))
        {
            next_steps
                .push("Set the OCI labels in the build, e.g. with docker/metadata-action.".into());
        }
        Some(Notification {
            event_type: "push-guard.violation".into(),
            severity,
            outcome: outcome.into(),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StewardEvent;
    use crate::labels::Labels;

    fn push_event(patch: impl FnOnce(&mut serde_json::Value)) -> EventBridgeEvent<ImageAction> {
        let path = format!(
            "{}/../events/image-push-semver.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json");
        patch(&mut value);
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
        let audit = GuardReport::new(&pushed, Mode::Audit, 1, verdict.clone(), None);
        let message = audit.notification(&pushed.image).expect("notifies");
        assert_eq!(
            (message.outcome.as_str(), message.severity),
            ("audited", Severity::Warning)
        );
        assert!(message.description.contains("tag.literals.deny"));

        let enforced = GuardReport::new(
            &pushed,
            Mode::Enforce,
            1,
            verdict.clone(),
            Some(TagRemoval::Removed),
        );
        let message = enforced.notification(&pushed.image).expect("notifies");
        assert_eq!(
            (message.outcome.as_str(), enforced.action),
            ("tag-removed", "tag-removed")
        );

        let repeated = GuardReport::new(
            &pushed,
            Mode::Enforce,
            1,
            verdict,
            Some(TagRemoval::AlreadyGone),
        );
        let message = repeated
            .notification(&pushed.image)
            .expect("still notifies");
        assert_eq!(message.outcome, "tag-removed");
        assert!(message.description.contains("had already been removed"));

        let fine = judge(&Policy::builtin(), "team/app", "1.2.3", &[]);
        assert_eq!(
            GuardReport::new(&pushed, Mode::Audit, 1, fine, None).notification(&pushed.image),
            None
        );
    }
}
