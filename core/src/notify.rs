//! Notifications: one model, rendered as the custom-notification JSON that AWS's chat
//! integrations (Slack, Microsoft Teams, Chime) display, plus SNS message attributes for
//! subscription filter policies.

use std::collections::BTreeMap;

use serde_json::{json, Value};

pub use crate::image::ImageRef;

/// How loud a notification is; also a message attribute, so subscribers can filter on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing wrong: a report of what was done.
    Info,
    /// Something to look at: a violation in audit mode, a scan over a warning bar.
    Warning,
    /// Something acted on or failing: a tag removed, a scan over the bar, a failed copy.
    Critical,
}

impl Severity {
    /// The attribute value: `INFO`, `WARNING` or `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }

    fn emoji(self) -> &'static str {
        match self {
            Severity::Info => ":white_check_mark:",
            Severity::Warning => ":warning:",
            Severity::Critical => ":rotating_light:",
        }
    }
}

/// What a notification is about, for filter policies: the `event_type` message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum EventType {
    /// push-guard found a tag or labels against the policy.
    #[serde(rename = "push-guard.violation")]
    PushGuardViolation,
    /// scan-alert judged a finished scan.
    #[serde(rename = "scan-alert.result")]
    ScanAlertResult,
    /// scan-alert saw a scan that ECR could not complete.
    #[serde(rename = "scan-alert.scan-failed")]
    ScanAlertScanFailed,
    /// The replicator copied (or failed to copy) an image.
    #[serde(rename = "replicator.copy")]
    ReplicatorCopy,
    /// ECR's own replication reported a result.
    #[serde(rename = "replicator.native")]
    ReplicatorNative,
    /// The replicator followed a deletion at the source to the destinations
    /// (`replicate_deletes`).
    #[serde(rename = "replicator.delete")]
    ReplicatorDelete,
    /// The retention function planned or pruned a repository.
    #[serde(rename = "retention.run")]
    RetentionRun,
    /// A function read a new version of its policy (`STEWARD_POLICY_LOCATION`) and kept the
    /// last good one.
    #[serde(rename = "policy.update")]
    PolicyUpdate,
}

impl EventType {
    /// The attribute value, such as `push-guard.violation`; the same as its serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PushGuardViolation => "push-guard.violation",
            Self::ScanAlertResult => "scan-alert.result",
            Self::ScanAlertScanFailed => "scan-alert.scan-failed",
            Self::ReplicatorCopy => "replicator.copy",
            Self::ReplicatorNative => "replicator.native",
            Self::ReplicatorDelete => "replicator.delete",
            Self::RetentionRun => "retention.run",
            Self::PolicyUpdate => "policy.update",
        }
    }
}

/// What was done, or found: the `outcome` message attribute, and the `outcome` of the
/// functions' responses. The names are the contract of SNS subscription filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// push-guard: nothing against the policy; not notified, announced as a verdict only.
    Compliant,
    /// push-guard, audit mode: reported, nothing changed.
    Audited,
    /// push-guard: the tag was removed; the image keeps its other tags.
    TagRemoved,
    /// push-guard: the image's last tag was removed after a quarantine tag was put on it.
    Quarantined,
    /// push-guard: the image's last tag was left in place (`last_tag: keep`).
    KeptLastTag,
    /// push-guard: the last tag was removed and the image with it (`last_tag: delete`).
    ImageDeleted,
    /// push-guard: a repeat; the tag was gone already.
    AlreadyRemoved,
    /// push-guard and replicator: the tag names another image now; left alone.
    TagMovedOn,
    /// push-guard: ECR refused a change (immutable tags); not retried.
    Refused,
    /// push-guard: a tag pushed again during its removal took the newer image with it.
    NewerImageDeleted,
    /// scan-alert: within the bar.
    Passed,
    /// scan-alert: over the bar.
    Failed,
    /// scan-alert: ECR could not scan the image.
    ScanFailed,
    /// replicator: copied to every destination (or ECR's own replication succeeded).
    Replicated,
    /// replicator: a destination failed (or ECR's own replication did).
    ReplicationFailed,
    /// replicator: every destination had the image already.
    AlreadyReplicated,
    /// replicator, `replicate_deletes`: a tag deleted at the source was removed at a
    /// destination (or the image there with it); none failed.
    DeleteReplicated,
    /// replicator, `replicate_deletes`: nothing was removed, and something was kept on purpose
    /// (the tag names another image there, it is the image's last, …).
    DeleteKept,
    /// replicator, `replicate_deletes`: every destination had it gone already (a repeat).
    DeleteAlreadyReplicated,
    /// replicator, `replicate_deletes`: a destination failed.
    DeleteReplicationFailed,
    /// retention, dry run: what a run would delete in a repository; nothing deleted.
    PrunePlanned,
    /// retention: the repository's expired images were deleted.
    Pruned,
    /// retention: some expired images could not be deleted.
    PruneFailed,
    /// any function: a new version of the policy is invalid; the last good one stays.
    PolicyRejected,
}

impl Outcome {
    /// Every outcome, in order; for documentation and tests.
    pub const ALL: [Outcome; 24] = [
        Self::Compliant,
        Self::Audited,
        Self::TagRemoved,
        Self::Quarantined,
        Self::KeptLastTag,
        Self::ImageDeleted,
        Self::AlreadyRemoved,
        Self::TagMovedOn,
        Self::Refused,
        Self::NewerImageDeleted,
        Self::Passed,
        Self::Failed,
        Self::ScanFailed,
        Self::Replicated,
        Self::ReplicationFailed,
        Self::AlreadyReplicated,
        Self::DeleteReplicated,
        Self::DeleteKept,
        Self::DeleteAlreadyReplicated,
        Self::DeleteReplicationFailed,
        Self::PrunePlanned,
        Self::Pruned,
        Self::PruneFailed,
        Self::PolicyRejected,
    ];

    /// The attribute value, such as `tag-removed`; the same as its serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "compliant",
            Self::Audited => "audited",
            Self::TagRemoved => "tag-removed",
            Self::Quarantined => "quarantined",
            Self::KeptLastTag => "kept-last-tag",
            Self::ImageDeleted => "image-deleted",
            Self::AlreadyRemoved => "already-removed",
            Self::TagMovedOn => "tag-moved-on",
            Self::Refused => "refused",
            Self::NewerImageDeleted => "newer-image-deleted",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::ScanFailed => "scan-failed",
            Self::Replicated => "replicated",
            Self::ReplicationFailed => "replication-failed",
            Self::AlreadyReplicated => "already-replicated",
            Self::DeleteReplicated => "delete-replicated",
            Self::DeleteKept => "delete-kept",
            Self::DeleteAlreadyReplicated => "delete-already-replicated",
            Self::DeleteReplicationFailed => "delete-replication-failed",
            Self::PrunePlanned => "prune-planned",
            Self::Pruned => "pruned",
            Self::PruneFailed => "prune-failed",
            Self::PolicyRejected => "policy-rejected",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Outcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<&str> for EventType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One notification, before rendering: [`Notification::chat_message`] is its body,
/// [`Notification::subject`] its SNS subject, [`Notification::attributes`] its message attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Which function and kind of event it reports.
    pub event_type: EventType,
    /// How loud it is.
    pub severity: Severity,
    /// What was done or found.
    pub outcome: Outcome,
    /// The image it is about; no digest: about a whole repository (retention); no repository
    /// either: about the stack's own configuration (its policy), which the message then
    /// names in `context`, and `link` leads to.
    pub image: ImageRef,
    /// Plain text; rendered with the severity's emoji in front.
    pub title: String,
    /// client-markdown; untrusted values must go through [`untrusted`].
    pub description: String,
    /// What the reader can do, one client-markdown line each; a console link is added.
    pub next_steps: Vec<String>,
    /// Short tags the chat client shows (the repository, the rule, …).
    pub keywords: Vec<String>,
    /// The image's page in the ECR console.
    pub link: String,
    /// Extra key/value facts shown with the message; the repository, digest, region and outcome are
    /// added.
    pub context: BTreeMap<String, String>,
}

/// Longest untrusted value (a tag, a label value) shown in a notification.
pub const MAX_UNTRUSTED_CHARS: usize = 200;

/// Unicode bidirectional controls and invisible format characters: text that reorders or
/// hides what a reader sees (a right-to-left override makes `gpj.exe` read `exe.jpg`).
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
            | '\u{061C}' | '\u{2060}'..='\u{2064}'
    )
}

/// `text` without [`is_invisible_format`] characters, for every text shown to a person.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_invisible_format) {
        text.chars().filter(|c| !is_invisible_format(*c)).collect()
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Escapes text from an image or event for client-markdown, drops invisible and
/// bidirectional controls, and caps its length.
pub fn untrusted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_UNTRUSTED_CHARS) + 8);
    for (count, c) in text.chars().enumerate() {
        if count == MAX_UNTRUSTED_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '|' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() || is_invisible_format(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Removes invisible and bidirectional controls from every string in a JSON document.
fn drop_invisible(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(clean) = visible(text) {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_invisible),
        Value::Object(map) => map.values_mut().for_each(drop_invisible),
        _ => {}
    }
}

impl Notification {
    /// The SNS message body: the chat integrations' custom-notification format.
    pub fn chat_message(&self) -> Value {
        let mut context = self.context.clone();
        // A notification about the configuration (no repository) has a thread of its kind; one
        // about a whole repository (retention, no digest) the repository's.
        let thread = if self.image.repository.is_empty() {
            self.event_type.as_str().to_string()
        } else if self.image.digest.is_empty() {
            context.insert("repository".into(), self.image.repository.clone());
            format!("{}:{}", self.event_type.as_str(), self.image.repository)
        } else {
            context.insert("repository".into(), self.image.repository.clone());
            context.insert("digest".into(), self.image.digest.clone());
            self.image.digest.clone()
        };
        context.insert("region".into(), self.image.region.clone());
        context.insert("outcome".into(), self.outcome.as_str().into());
        let mut next_steps = self.next_steps.clone();
        let related: Vec<String> = if self.image.repository.is_empty() {
            next_steps.push(format!("<{}|Open it in the AWS console>", self.link));
            Vec::new()
        } else {
            next_steps.push(format!("<{}|Open the image in the ECR console>", self.link));
            vec![self.repository_arn()]
        };
        let mut message = json!({
            "version": "1.0",
            "source": "custom",
            "id": if self.image.digest.is_empty() {
                thread.clone()
            } else {
                format!("{}:{}", self.event_type.as_str(), thread)
            },
            "content": {
                "textType": "client-markdown",
                "title": format!("{} {}", self.severity.emoji(), self.title),
                "description": self.description,
                "nextSteps": next_steps,
                "keywords": self.keywords,
            },
            "metadata": {
                "threadId": thread,
                "summary": self.title,
                "eventType": self.event_type,
                "relatedResources": related,
                "additionalContext": context,
            }
        });
        drop_invisible(&mut message);
        message
    }

    /// SNS subjects must be shorter than 100 characters.
    pub fn subject(&self) -> String {
        let mut subject: String = self
            .title
            .chars()
            .filter(|c| !c.is_control() && !is_invisible_format(*c))
            .take(99)
            .collect();
        if self.title.chars().count() > 99 {
            subject.pop();
            subject.push('…');
        }
        subject
    }

    /// Message attributes for subscription filter policies (String type; at most 10, so that
    /// raw delivery to SQS keeps them all). SNS refuses an empty value: a notification about
    /// no repository has no `repository` attribute.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let mut attributes = vec![
            ("event_type", self.event_type.as_str().into()),
            ("severity", self.severity.as_str().into()),
            ("repository", self.image.repository.clone()),
            ("outcome", self.outcome.as_str().into()),
            ("region", self.image.region.clone()),
        ];
        attributes.retain(|(_, value)| !value.is_empty());
        attributes
    }

    fn repository_arn(&self) -> String {
        format!(
            "arn:{}:ecr:{}:{}:repository/{}",
            crate::image::partition_of(&self.image.region),
            self.image.region,
            self.image.account.as_deref().unwrap_or(""),
            self.image.repository
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> Notification {
        let image = ImageRef {
            account: Some("123456789012".into()),
            region: "us-east-1".into(),
            repository: "team/web".into(),
            digest: "sha256:abc".into(),
        };
        Notification {
            event_type: EventType::PushGuardViolation,
            severity: Severity::Warning,
            outcome: Outcome::Audited,
            link: image.console_link("details"),
            image,
            title: "Tag latest violates the policy".into(),
            description: "*latest* is denied".into(),
            next_steps: vec!["Push a SemVer tag".into()],
            keywords: vec!["ecr-steward".into()],
            context: BTreeMap::from([("tag".into(), "latest".into())]),
        }
    }

    #[test]
    fn renders_the_custom_notification_format() {
        let message = notification().chat_message();
        assert_eq!(message["version"], "1.0");
        assert_eq!(message["source"], "custom");
        assert_eq!(message["content"]["textType"], "client-markdown");
        assert_eq!(
            message["content"]["title"],
            ":warning: Tag latest violates the policy"
        );
        assert_eq!(message["metadata"]["threadId"], "sha256:abc");
        assert_eq!(message["metadata"]["eventType"], "push-guard.violation");
        assert_eq!(
            message["metadata"]["relatedResources"][0],
            "arn:aws:ecr:us-east-1:123456789012:repository/team/web"
        );
        assert_eq!(message["metadata"]["additionalContext"]["tag"], "latest");
        let steps = message["content"]["nextSteps"].as_array().expect("steps");
        assert_eq!(
            steps.last().and_then(Value::as_str),
            Some("<https://us-east-1.console.aws.amazon.com/ecr/repositories/private/123456789012/team/web/_/image/sha256:abc/details?region=us-east-1|Open the image in the ECR console>")
        );
    }

    #[test]
    fn attributes_for_filter_policies() {
        let attributes = notification().attributes();
        let names: Vec<&str> = attributes.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            ["event_type", "severity", "repository", "outcome", "region"]
        );
        assert_eq!(attributes[1].1, "WARNING");
    }

    #[test]
    fn untrusted_text_is_escaped_and_capped() {
        assert_eq!(
            untrusted("a*b_[x](http://evil)\n<@here>"),
            "a\\*b\\_\\[x\\]\\(http://evil\\) \\<@here\\>"
        );
        let long = "x".repeat(1000);
        let capped = untrusted(&long);
        assert_eq!(capped.chars().count(), MAX_UNTRUSTED_CHARS + 1);
        assert!(capped.ends_with('…'));
    }

    #[test]
    fn bidirectional_and_invisible_controls_never_reach_a_reader() {
        let label = "1.2.3\u{202E}gpj.exe\u{200B}\u{2066}x\u{2069}\u{FEFF}";
        assert_eq!(untrusted(label), "1.2.3gpj.exex");
        assert_eq!(visible(label), "1.2.3gpj.exex");
        assert!(matches!(
            visible("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
        let mut message = notification();
        message.title = format!("Tag {label}");
        message.description = format!("raw {label}");
        message.context.insert("label".into(), label.into());
        let rendered = message.chat_message().to_string();
        for c in ['\u{202E}', '\u{200B}', '\u{2066}', '\u{2069}', '\u{FEFF}'] {
            assert!(!rendered.contains(c), "{c:?} in {rendered}");
            assert!(!message.subject().contains(c));
        }
        assert!(rendered.contains("1.2.3gpj.exex"));
    }

    #[test]
    fn a_notification_about_the_configuration_names_no_repository() {
        let mut about_the_policy = notification();
        about_the_policy.event_type = EventType::PolicyUpdate;
        about_the_policy.outcome = Outcome::PolicyRejected;
        about_the_policy.image.repository.clear();
        about_the_policy.image.digest.clear();
        about_the_policy.link =
            "https://console.aws.amazon.com/s3/object/bucket?prefix=policy.yaml".into();
        let names: Vec<&str> = about_the_policy
            .attributes()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["event_type", "severity", "outcome", "region"]);
        let message = about_the_policy.chat_message();
        assert_eq!(message["metadata"]["threadId"], "policy.update");
        assert_eq!(message["metadata"]["relatedResources"], json!([]));
        let context = &message["metadata"]["additionalContext"];
        assert!(context.get("repository").is_none() && context.get("digest").is_none());
        assert_eq!(context["outcome"], "policy-rejected");
        let steps = message["content"]["nextSteps"].as_array().expect("steps");
        assert_eq!(
            steps.last().and_then(Value::as_str),
            Some("<https://console.aws.amazon.com/s3/object/bucket?prefix=policy.yaml|Open it in the AWS console>")
        );
    }

    #[test]
    fn subjects_fit_sns() {
        let mut long = notification();
        long.title = "t".repeat(300);
        assert_eq!(long.subject().chars().count(), 99);
        assert_eq!(notification().subject(), "Tag latest violates the policy");
    }
}
