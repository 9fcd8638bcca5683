//! Verdicts as EventBridge events: every function announces what it decided, one typed event
//! per verdict (source [`EVENT_SOURCE`], a [`DetailType`] per kind of function), including the
//! verdicts no notification is sent for (a compliant push, a clean scan), so that a deploy
//! pipeline, a ticketing rule or Security Hub can wait for or react to them.
//!
//! The detail is flat, plain text (no markdown) and stable: `schema/<detail-type>.v1.schema.json`
//! describes each (`push-verdict.v1.schema.json`, …), and docs/events.md documents them. Each
//! function's report says what it announces ([`Announced`]); the Lambda harness puts the
//! verdicts on the bus after the handler acted (`steward::lambda::run`), so every function
//! announces, in one place.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::metrics::Function;
use crate::notify::{is_invisible_format, EventType, ImageRef, Outcome, Severity};
use crate::push::{GuardAction, GuardReport};
use crate::replication::{NativeReport, RegionStatus, ReplicationReport, ReplicatorReport};
use crate::retention::RetentionResult;
use crate::scan::ScanReport;

pub use crate::replication::EVENT_SOURCE;

/// The detail's `version`: changes only with a change that is not backwards compatible.
pub const VERSION: &str = "1";

/// Longest untrusted value in a detail (a tag, a repository, a fact's text, a rule name).
pub const MAX_VALUE_CHARS: usize = crate::notify::MAX_UNTRUSTED_CHARS;
/// Longest sentence in a detail (the title, a reason).
pub const MAX_TEXT_CHARS: usize = 500;
/// Most tags a detail lists (`facts.image-tags-total` counts them all when there are more).
pub const MAX_TAGS: usize = 100;
/// Most reasons a detail lists (`facts.reasons-total` counts them all when there are more).
pub const MAX_REASONS: usize = 20;
/// Most facts a detail carries.
pub const MAX_FACTS: usize = 40;

/// An event's `detail-type`: one per kind of function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DetailType {
    /// push-guard judged a pushed tag: compliant or a violation, and what was done about it.
    Push,
    /// scan-alert judged a finished scan (or saw one ECR could not complete).
    Scan,
    /// The replicator copied an image (or failed to), or reported ECR's own replication.
    Replication,
    /// The retention function planned or pruned one repository.
    Retention,
    /// A function read a new version of its policy and rejected it; the last good one stays.
    Policy,
}

impl DetailType {
    /// Every detail type, in order.
    pub const ALL: [DetailType; 5] = [
        Self::Push,
        Self::Scan,
        Self::Replication,
        Self::Retention,
        Self::Policy,
    ];

    /// The `detail-type`, such as `Push Verdict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "Push Verdict",
            Self::Scan => "Scan Verdict",
            Self::Replication => "Replication Verdict",
            Self::Retention => "Retention Verdict",
            Self::Policy => "Policy Verdict",
        }
    }

    /// Its JSON Schema's file in `schema/`, such as `push-verdict.v1.schema.json`.
    pub fn schema_file(self) -> String {
        format!(
            "{}.v{VERSION}.schema.json",
            self.as_str().to_lowercase().replace(' ', "-")
        )
    }

    /// The kinds (`kind`) a verdict of this type can have.
    pub fn kinds(self) -> &'static [EventType] {
        match self {
            Self::Push => &[EventType::PushGuardViolation],
            Self::Scan => &[EventType::ScanAlertResult, EventType::ScanAlertScanFailed],
            Self::Replication => &[
                EventType::ReplicatorCopy,
                EventType::ReplicatorNative,
                EventType::ReplicatorDelete,
            ],
            Self::Retention => &[EventType::RetentionRun],
            Self::Policy => &[EventType::PolicyUpdate],
        }
    }

    /// The outcomes a verdict of this type can have.
    pub fn outcomes(self) -> &'static [Outcome] {
        match self {
            Self::Push => &[
                Outcome::Compliant,
                Outcome::Audited,
                Outcome::TagRemoved,
                Outcome::Quarantined,
                Outcome::KeptLastTag,
                Outcome::ImageDeleted,
                Outcome::AlreadyRemoved,
                Outcome::TagMovedOn,
                Outcome::Refused,
                Outcome::NewerImageDeleted,
            ],
            Self::Scan => &[Outcome::Passed, Outcome::Failed, Outcome::ScanFailed],
            Self::Replication => &[
                Outcome::Replicated,
                Outcome::ReplicationFailed,
                Outcome::AlreadyReplicated,
                Outcome::TagMovedOn,
                Outcome::DeleteReplicated,
                Outcome::DeleteKept,
                Outcome::DeleteAlreadyReplicated,
                Outcome::DeleteReplicationFailed,
            ],
            Self::Retention => &[Outcome::PrunePlanned, Outcome::Pruned, Outcome::PruneFailed],
            Self::Policy => &[Outcome::PolicyRejected],
        }
    }
}

impl std::fmt::Display for DetailType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value of a verdict's `facts`: text, a whole number or a flag (EventBridge patterns
/// match each: `"mode": ["enforce"]`, `"violations": [{"numeric": [">", 0]}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Fact {
    /// Plain text, capped at [`MAX_VALUE_CHARS`].
    Text(String),
    /// A count, a size, a duration.
    Number(u64),
    /// Yes or no.
    Flag(bool),
}

impl From<&str> for Fact {
    fn from(text: &str) -> Self {
        Self::Text(text.into())
    }
}

impl From<String> for Fact {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<u64> for Fact {
    fn from(number: u64) -> Self {
        Self::Number(number)
    }
}

impl From<usize> for Fact {
    fn from(number: usize) -> Self {
        Self::Number(u64::try_from(number).unwrap_or(u64::MAX))
    }
}

impl From<bool> for Fact {
    fn from(flag: bool) -> Self {
        Self::Flag(flag)
    }
}

/// A verdict's `facts`, by kebab-case name: what else a consumer may filter on or show.
pub type Facts = BTreeMap<String, Fact>;

/// Where the event a verdict answers came from: its region and account (the envelope's), for
/// the verdicts whose report does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The region, such as `us-east-1`; the function's own when the event named none.
    pub region: String,
    /// The account, when the event named it.
    pub account: Option<String>,
}

impl Origin {
    /// The origin of a raw event, as Lambda gives it: an EventBridge envelope's `region` and
    /// `account`, or an SQS batch's first record's `awsRegion` and its queue's account.
    pub fn of(event: &serde_json::Value) -> Self {
        let text = |value: &serde_json::Value| {
            value
                .as_str()
                .filter(|text| !text.is_empty())
                .map(str::to_string)
        };
        match event.get("Records").and_then(|r| r.get(0)) {
            Some(record) => Origin {
                region: text(&record["awsRegion"]).unwrap_or_default(),
                account: record["eventSourceARN"]
                    .as_str()
                    .and_then(|arn| arn.split(':').nth(4))
                    .filter(|account| !account.is_empty())
                    .map(str::to_string),
            },
            None => Origin {
                region: text(&event["region"]).unwrap_or_default(),
                account: text(&event["account"]),
            },
        }
    }

    /// This origin, with `region` when it has none.
    pub fn or_region(mut self, region: &str) -> Self {
        if self.region.is_empty() {
            self.region = region.into();
        }
        self
    }
}

/// One verdict, as it is put on the bus: its `detail-type` and its `detail`
/// ([`Verdict::detail`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The `detail-type`.
    pub detail_type: DetailType,
    /// The function that reached it.
    pub function: Function,
    /// What kind of verdict it is (the notifications' `event_type`).
    pub kind: EventType,
    /// What was found or done (the notifications' `outcome`).
    pub outcome: Outcome,
    /// How loud it is: `INFO` is nothing wrong.
    pub severity: Severity,
    /// The region of the image (of the repository, of the function).
    pub region: String,
    /// The image's account, when known.
    pub account: Option<String>,
    /// The repository; `None` for a verdict about no repository (a policy).
    pub repository: Option<String>,
    /// The image's digest; `None` for a verdict about a whole repository (retention).
    pub digest: Option<String>,
    /// The image's tags the verdict is about (the pushed tag, the scanned image's tags, the
    /// tags copied).
    pub tags: Vec<String>,
    /// The policy rule that applied, when one did.
    pub rule: Option<String>,
    /// One plain sentence.
    pub title: String,
    /// Why, one plain sentence each: violations, breaches, failed destinations, expirations.
    pub reasons: Vec<String>,
    /// Everything else worth filtering on.
    pub facts: Facts,
    /// What tells this verdict from another about the same subject with the same outcome
    /// (a retention run's time, a policy's version); part of `verdict-id` only.
    pub occasion: Option<String>,
}

/// The serialized detail: kebab-case, flat, plain text.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Detail<'a> {
    version: &'static str,
    verdict_id: String,
    function: &'static str,
    kind: EventType,
    outcome: Outcome,
    severity: &'static str,
    region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repository_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_digest: Option<String>,
    image_tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
    title: String,
    reasons: Vec<String>,
    facts: &'a Facts,
}

/// `text` as plain text for a detail: no control characters (line breaks become spaces), no
/// invisible or bidirectional format characters, at most `max` characters (then `…`).
pub fn plain(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 3);
    for (count, c) in text
        .chars()
        .filter(|c| !is_invisible_format(*c))
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .filter(|c| !c.is_control())
        .enumerate()
    {
        if count == max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

impl Verdict {
    /// A verdict of `function` on `image` (an empty repository or digest: none), with no
    /// tags, rule, reasons or facts yet.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        detail_type: DetailType,
        function: Function,
        kind: EventType,
        outcome: Outcome,
        severity: Severity,
        image: &ImageRef,
        title: impl Into<String>,
    ) -> Self {
        let some = |text: &str| (!text.is_empty()).then(|| text.to_string());
        Self {
            detail_type,
            function,
            kind,
            outcome,
            severity,
            region: image.region.clone(),
            account: image.account.clone(),
            repository: some(&image.repository),
            digest: some(&image.digest),
            tags: Vec::new(),
            rule: None,
            title: title.into(),
            reasons: Vec::new(),
            facts: Facts::new(),
            occasion: None,
        }
    }

    /// The same verdict about `tags`.
    pub fn with_tags(mut self, tags: &[String]) -> Self {
        self.tags = tags.to_vec();
        self
    }

    /// The same verdict under `rule`.
    pub fn with_rule(mut self, rule: Option<&str>) -> Self {
        self.rule = rule.map(str::to_string);
        self
    }

    /// The same verdict, with `reasons`.
    pub fn with_reasons(mut self, reasons: Vec<String>) -> Self {
        self.reasons = reasons;
        self
    }

    /// The same verdict, with `facts` added.
    pub fn with_facts(mut self, facts: Facts) -> Self {
        self.facts.extend(facts);
        self
    }

    /// A stable identifier of what the verdict says: the same for a repeated delivery that
    /// reaches the same verdict on the same subject (consumers dedupe on it); another for
    /// another outcome, image, tag, rule, run or policy version. 32 hex digits.
    pub fn id(&self) -> String {
        let mut hash = Sha256::new();
        for part in [
            self.detail_type.as_str(),
            self.function.as_str(),
            self.kind.as_str(),
            self.outcome.as_str(),
            &self.region,
            self.account.as_deref().unwrap_or(""),
            self.repository.as_deref().unwrap_or(""),
            self.digest.as_deref().unwrap_or(""),
            &self.tags.join(","),
            self.rule.as_deref().unwrap_or(""),
            self.occasion.as_deref().unwrap_or(""),
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The event's `detail`: every untrusted string plain and capped, the lists capped (their
    /// totals in the facts), at most [`MAX_FACTS`] facts.
    pub fn detail(&self) -> serde_json::Value {
        let value = |text: &str| plain(text, MAX_VALUE_CHARS);
        let mut facts: Facts = Facts::new();
        if self.tags.len() > MAX_TAGS {
            facts.insert("image-tags-total".into(), self.tags.len().into());
        }
        if self.reasons.len() > MAX_REASONS {
            facts.insert("reasons-total".into(), self.reasons.len().into());
        }
        for (name, fact) in &self.facts {
            if facts.len() >= MAX_FACTS {
                break;
            }
            let fact = match fact {
                Fact::Text(text) => Fact::Text(value(text)),
                other => other.clone(),
            };
            facts.entry(plain(name, 64)).or_insert(fact);
        }
        let detail = Detail {
            version: VERSION,
            verdict_id: self.id(),
            function: self.function.as_str(),
            kind: self.kind,
            outcome: self.outcome,
            severity: self.severity.as_str(),
            region: value(&self.region),
            account: self.account.as_deref().map(value),
            repository_name: self.repository.as_deref().map(value),
            image_digest: self.digest.as_deref().map(value),
            image_tags: self.tags.iter().take(MAX_TAGS).map(|t| value(t)).collect(),
            rule: self.rule.as_deref().map(value),
            title: plain(&self.title, MAX_TEXT_CHARS),
            reasons: self
                .reasons
                .iter()
                .take(MAX_REASONS)
                .map(|r| plain(r, MAX_TEXT_CHARS))
                .collect(),
            facts: &facts,
        };
        serde_json::to_value(detail).unwrap_or_default()
    }

    /// The verdict on a new version of the policy at `location` that does not load: the last
    /// good one stays.
    pub fn policy_rejected(
        function: Function,
        region: &str,
        location: &str,
        version: &str,
        error: &str,
    ) -> Self {
        let place = ImageRef {
            account: None,
            region: region.into(),
            repository: String::new(),
            digest: String::new(),
        };
        let mut verdict = Self::new(
            DetailType::Policy,
            function,
            EventType::PolicyUpdate,
            Outcome::PolicyRejected,
            Severity::Warning,
            &place,
            "A new version of the policy is invalid; the last good one stays",
        )
        .with_reasons(vec![error.to_string()])
        .with_facts(Facts::from([
            ("location".to_string(), location.into()),
            ("version".to_string(), version.into()),
        ]));
        verdict.occasion = Some(format!("{location}@{version}"));
        verdict
    }
}

/// What a function's report announces: its verdicts, put on the bus after the handler acted.
/// `origin` is where the event came from, for the reports that do not carry their region.
pub trait Announced {
    /// The verdicts of this report; empty when it reached none.
    fn verdicts(&self, origin: &Origin) -> Vec<Verdict>;
}

// ------------------------------------------------------------- what each report announces

/// One Push Verdict per push judged, compliant or not.
impl Announced for GuardReport {
    fn verdicts(&self, origin: &Origin) -> Vec<Verdict> {
        let image = ImageRef {
            account: origin.account.clone(),
            region: origin.region.clone(),
            repository: self.repository.clone(),
            digest: self.digest.clone(),
        };
        let (outcome, severity, title) = match self.notification(&image) {
            Some(notification) => (
                notification.outcome,
                notification.severity,
                notification.title,
            ),
            None => (
                match self.action {
                    GuardAction::Compliant => Outcome::Compliant,
                    _ => self.action.outcome().unwrap_or(Outcome::Compliant),
                },
                Severity::Info,
                if self
                    .provenance
                    .as_ref()
                    .is_some_and(|p| p.state == crate::provenance::ProvenanceState::Pending)
                {
                    format!(
                        "Push awaits its provenance in {}: {}",
                        self.repository, self.tag
                    )
                } else {
                    format!("Push compliant in {}: {}", self.repository, self.tag)
                },
            ),
        };
        let reasons = self
            .verdict
            .violations
            .iter()
            .map(|v| format!("{}: {}", v.check, v.message))
            .chain(
                self.provenance
                    .iter()
                    .flat_map(|p| p.reasons())
                    .map(|reason| format!("provenance: {reason}")),
            )
            .collect();
        vec![Verdict::new(
            DetailType::Push,
            Function::PushGuard,
            EventType::PushGuardViolation,
            outcome,
            severity,
            &image,
            title,
        )
        .with_tags(std::slice::from_ref(&self.tag))
        .with_rule(self.verdict.rule.as_deref())
        .with_reasons(reasons)
        .with_facts(self.verdict_facts())]
    }
}

/// One Scan Verdict per scan judged or failed.
impl Announced for ScanReport {
    fn verdicts(&self, origin: &Origin) -> Vec<Verdict> {
        let image = |repository: &str, digest: &str| ImageRef {
            account: origin.account.clone(),
            region: origin.region.clone(),
            repository: repository.into(),
            digest: digest.into(),
        };
        let verdict = match self {
            Self::ScanFailed {
                repository,
                digest,
                status,
            } => Verdict::new(
                DetailType::Scan,
                Function::ScanAlert,
                EventType::ScanAlertScanFailed,
                Outcome::ScanFailed,
                Severity::Warning,
                &image(repository, digest),
                format!("ECR could not scan an image in {repository}"),
            )
            .with_reasons(vec![format!("scan status {status}")])
            .with_facts(Facts::from([(
                "status".to_string(),
                status.as_str().into(),
            )])),
            Self::Passed(scan) | Self::Failed(scan) => {
                let tags = if scan.tags.is_empty() {
                    "untagged".to_string()
                } else {
                    scan.tags.join(", ")
                };
                let (outcome, severity, title) = if scan.verdict.passed {
                    (
                        Outcome::Passed,
                        Severity::Info,
                        format!("Scan passed: {} ({tags})", scan.repository),
                    )
                } else {
                    (
                        Outcome::Failed,
                        Severity::Critical,
                        format!("Vulnerabilities over the bar: {} ({tags})", scan.repository),
                    )
                };
                let mut facts = Facts::from([
                    (
                        "scan-kind".to_string(),
                        match scan.kind {
                            crate::scan::ScanKind::Basic => "basic",
                            crate::scan::ScanKind::Enhanced => "enhanced",
                        }
                        .into(),
                    ),
                    ("notified".to_string(), scan.notified.into()),
                    (
                        "findings-known".to_string(),
                        scan.verdict.findings_known.into(),
                    ),
                ]);
                for (severity, count) in &scan.verdict.counted {
                    facts.insert(
                        format!("counted-{}", severity.as_str().to_lowercase()),
                        (*count).into(),
                    );
                }
                Verdict::new(
                    DetailType::Scan,
                    Function::ScanAlert,
                    EventType::ScanAlertResult,
                    outcome,
                    severity,
                    &image(&scan.repository, &scan.digest),
                    title,
                )
                .with_tags(&scan.tags)
                .with_rule(Some(&scan.rule))
                .with_reasons(
                    scan.verdict
                        .breaches
                        .iter()
                        .map(|b| {
                            format!("{} {} > {} allowed", b.severity.as_str(), b.count, b.limit)
                        })
                        .collect(),
                )
                .with_facts(facts)
            }
        };
        vec![verdict]
    }
}

/// One Replication Verdict per copy (each job of a batch that got as far as copying), or per
/// native replication event.
impl Announced for ReplicatorReport {
    fn verdicts(&self, origin: &Origin) -> Vec<Verdict> {
        match self {
            Self::Copy(report) => vec![copy_verdict(report, origin)],
            Self::Native(report) => vec![native_verdict(report, origin)],
            Self::Batch(batch) => batch
                .jobs
                .iter()
                .filter_map(|job| job.report.as_ref())
                .map(|report| {
                    let mut verdict = copy_verdict(report, origin);
                    verdict.facts.insert("backfill".into(), true.into());
                    verdict
                })
                .collect(),
            // A deletion followed to the replicas (`replicate_deletes`).
            Self::Delete(report) => {
                let image = ImageRef {
                    account: origin.account.clone(),
                    region: origin.region.clone(),
                    repository: report.repository.clone(),
                    digest: report.digest.clone(),
                };
                let notification = report.notification(&image);
                vec![Verdict::new(
                    DetailType::Replication,
                    Function::Replicator,
                    EventType::ReplicatorDelete,
                    notification.outcome,
                    notification.severity,
                    &image,
                    notification.title,
                )
                .with_tags(&report.tag.iter().cloned().collect::<Vec<_>>())
                .with_reasons(
                    report
                        .failed_regions()
                        .iter()
                        .map(|region| format!("{region}: failed"))
                        .collect(),
                )
                .with_facts(Facts::from([
                    ("destinations".to_string(), report.deletes.len().into()),
                    ("delete".to_string(), true.into()),
                ]))]
            }
        }
    }
}

fn copy_verdict(report: &ReplicationReport, origin: &Origin) -> Verdict {
    let image = ImageRef {
        account: report.source_account.clone().or(origin.account.clone()),
        region: if report.source_region.is_empty() {
            origin.region.clone()
        } else {
            report.source_region.clone()
        },
        repository: report.repository.clone(),
        digest: report.digest.clone(),
    };
    let notification = report.notification(&image);
    let reasons = report
        .outcomes
        .iter()
        .map(|o| {
            let place = match &o.account {
                Some(account) => format!("{} ({account}) {}", o.region, o.repository),
                None => format!("{} {}", o.region, o.repository),
            };
            match &o.run.error {
                Some(error) => format!("{place}: {}: {error}", o.run.status.as_str()),
                None => format!("{place}: {}", o.run.status.as_str()),
            }
        })
        .collect();
    let regions = |status: RegionStatus| {
        report
            .outcomes
            .iter()
            .filter(|o| o.run.status == status)
            .map(|o| o.region.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut facts = Facts::from([
        ("destinations".to_string(), report.outcomes.len().into()),
        ("everywhere".to_string(), report.everywhere().into()),
        (
            "bytes-copied".to_string(),
            report
                .outcomes
                .iter()
                .map(|o| o.run.stats.bytes_copied)
                .sum::<u64>()
                .into(),
        ),
    ]);
    for (name, status) in [
        ("copied-to", RegionStatus::Copied),
        ("already-in", RegionStatus::AlreadyReplicated),
        ("failed-in", RegionStatus::Failed),
    ] {
        let list = regions(status);
        if !list.is_empty() {
            facts.insert(name.into(), list.into());
        }
    }
    if let Some(lag) = report.lag_seconds {
        facts.insert("lag-seconds".into(), lag.into());
    }
    let mut rules: Vec<&str> = report.outcomes.iter().map(|o| o.rule.as_str()).collect();
    rules.dedup();
    Verdict::new(
        DetailType::Replication,
        Function::Replicator,
        EventType::ReplicatorCopy,
        notification.outcome,
        notification.severity,
        &image,
        notification.title,
    )
    .with_tags(&report.tags)
    .with_rule((rules.len() == 1).then(|| rules[0]))
    .with_reasons(reasons)
    .with_facts(facts)
}

fn native_verdict(report: &NativeReport, origin: &Origin) -> Verdict {
    let image = ImageRef {
        account: origin.account.clone(),
        region: origin.region.clone(),
        repository: report.repository.clone(),
        digest: report.digest.clone(),
    };
    let tag = report.tag.as_deref().unwrap_or("untagged");
    let (severity, title) = if report.outcome == Outcome::Replicated {
        (
            Severity::Info,
            format!(
                "ECR replicated {}:{tag} to {}",
                report.repository, origin.region
            ),
        )
    } else {
        (
            Severity::Critical,
            format!(
                "ECR replication of {}:{tag} to {} failed",
                report.repository, origin.region
            ),
        )
    };
    let mut facts = Facts::from([("native".to_string(), true.into())]);
    if let Some(source) = &report.source_region {
        facts.insert("source-region".into(), source.as_str().into());
    }
    Verdict::new(
        DetailType::Replication,
        Function::Replicator,
        EventType::ReplicatorNative,
        report.outcome,
        severity,
        &image,
        title,
    )
    .with_tags(&report.tag.iter().cloned().collect::<Vec<_>>())
    .with_facts(facts)
}

/// The Retention Verdict of one repository of a run at `run` (RFC 3339).
pub fn retention_verdict(result: &RetentionResult, origin: &Origin, run: &str) -> Verdict {
    let notification = result.notification(&origin.region, origin.account.as_deref());
    let reasons = result
        .failed
        .iter()
        .map(|f| format!("{} not deleted: {}: {}", f.digest, f.code, f.message))
        .chain(result.expired.iter().map(|image| {
            let tags = if image.tags.is_empty() {
                "untagged".to_string()
            } else {
                image.tags.join(", ")
            };
            let why = image
                .reasons
                .first()
                .map(|r| format!("{}: {}", r.clause.as_str(), r.detail))
                .unwrap_or_default();
            format!("{} ({tags}) expires: {why}", image.digest)
        }))
        .collect();
    let image = ImageRef {
        account: origin.account.clone(),
        region: origin.region.clone(),
        repository: result.repository.clone(),
        digest: String::new(),
    };
    let mut verdict = Verdict::new(
        DetailType::Retention,
        Function::Retention,
        EventType::RetentionRun,
        result.outcome(),
        notification.severity,
        &image,
        notification.title,
    )
    .with_rule(Some(&result.rule))
    .with_reasons(reasons)
    .with_facts(Facts::from([
        ("run".to_string(), run.into()),
        ("applied".to_string(), result.applied.into()),
        ("kept".to_string(), result.kept.into()),
        ("expired".to_string(), result.expired.len().into()),
        ("expired-bytes".to_string(), result.expired_bytes.into()),
        ("deleted".to_string(), result.deleted.len().into()),
        ("failed".to_string(), result.failed.len().into()),
        (
            "kept-on-recheck".to_string(),
            result.kept_on_recheck.len().into(),
        ),
        ("to-archive".to_string(), result.to_archive.len().into()),
        ("archived".to_string(), result.archived.len().into()),
        ("unfinished".to_string(), result.unfinished.into()),
    ]));
    verdict.occasion = Some(run.into());
    verdict
}

/// The Retention Verdict of a repository a run at `run` could not prune (`error_type`,
/// `message`).
pub fn retention_error_verdict(
    repository: &str,
    error_type: &str,
    message: &str,
    origin: &Origin,
    run: &str,
) -> Verdict {
    let image = ImageRef {
        account: origin.account.clone(),
        region: origin.region.clone(),
        repository: repository.into(),
        digest: String::new(),
    };
    let mut verdict = Verdict::new(
        DetailType::Retention,
        Function::Retention,
        EventType::RetentionRun,
        Outcome::PruneFailed,
        Severity::Critical,
        &image,
        format!("Retention could not prune {repository}"),
    )
    .with_reasons(vec![format!("{error_type}: {message}")])
    .with_facts(Facts::from([
        ("run".to_string(), run.into()),
        ("error-type".to_string(), error_type.into()),
    ]));
    verdict.occasion = Some(run.into());
    verdict
}

#[cfg(any(test, feature = "testing"))]
pub mod schema_check;

#[cfg(test)]
mod tests;
