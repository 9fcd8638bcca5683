//! Vulnerability scans: one model for basic (`ECR Image Scan`) and enhanced (`Inspector2 Scan`)
//! results, and the verdict of a rule's scan bar on them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::events::{EventBridgeEvent, ScanDetail, SeverityCounts};
use crate::notify::{untrusted, EventType, ImageRef, Notification, Outcome, Severity};

/// Finding severities, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VulnSeverity {
    /// `CRITICAL`.
    Critical,
    /// `HIGH`.
    High,
    /// `MEDIUM`.
    Medium,
    /// `LOW`.
    Low,
    /// `INFORMATIONAL`.
    Informational,
    /// `UNDEFINED` (Inspector's `UNTRIAGED` too): the scanner gave no severity.
    Undefined,
}

impl VulnSeverity {
    /// Every severity, most severe first.
    pub const ALL: [VulnSeverity; 6] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Informational,
        Self::Undefined,
    ];

    /// ECR's and Inspector's names; `UNTRIAGED` is Inspector's word for undefined.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "CRITICAL" => Self::Critical,
            "HIGH" => Self::High,
            "MEDIUM" => Self::Medium,
            "LOW" => Self::Low,
            "INFORMATIONAL" => Self::Informational,
            "UNDEFINED" | "UNTRIAGED" => Self::Undefined,
            _ => return None,
        })
    }

    /// The name as ECR writes it, such as `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
            Self::Informational => "INFORMATIONAL",
            Self::Undefined => "UNDEFINED",
        }
    }
}

/// Severity counts without Inspector's `TOTAL`. Names that differ only in case add up,
/// saturating: a sum past `u64::MAX` stays over every bar instead of wrapping to a small count.
pub fn normalize_counts(counts: &SeverityCounts) -> BTreeMap<VulnSeverity, u64> {
    let mut normalized = BTreeMap::new();
    for (name, count) in counts {
        if let Some(severity) = VulnSeverity::from_name(name) {
            let total: &mut u64 = normalized.entry(severity).or_default();
            *total = total.saturating_add(*count);
        }
    }
    normalized
}

/// Which scanner produced the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanKind {
    /// ECR's basic scanning (`ECR Image Scan`).
    Basic,
    /// Amazon Inspector's enhanced scanning (`Inspector2 Scan`).
    Enhanced,
}

/// Where a scan stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ScanState {
    /// The scan finished; its findings can be judged.
    Complete,
    /// The scan has not finished yet.
    InProgress,
    /// Failed, unsupported image, and the like: the status and ECR's description.
    Failed {
        /// The scanner's status word, such as `UNSUPPORTED_IMAGE`.
        status: String,
        /// The scanner's description of the failure; empty when it gave none.
        reason: String,
    },
}

impl ScanState {
    /// From ECR's and Inspector's status words.
    pub fn from_status(status: &str, description: Option<&str>) -> Self {
        match status {
            "COMPLETE" | "ACTIVE" | "INITIAL_SCAN_COMPLETE" | "SCAN_COMPLETE" => Self::Complete,
            "IN_PROGRESS" | "PENDING" => Self::InProgress,
            other => Self::Failed {
                status: other.to_string(),
                reason: description.unwrap_or_default().to_string(),
            },
        }
    }
}

/// One finding, from DescribeImageScanFindings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VulnFinding {
    /// The finding's id, usually a CVE, such as `CVE-2024-3094`.
    pub id: String,
    /// How severe the scanner rates it.
    pub severity: VulnSeverity,
    /// The affected package, when known.
    pub package: Option<String>,
    /// The package version in the image, when known.
    pub installed_version: Option<String>,
    /// The version that fixes it, when known.
    pub fixed_in: Option<String>,
    /// `None` when the scanner does not say (basic scans).
    pub fixable: Option<bool>,
    /// A link to the vulnerability's description, when given.
    pub uri: Option<String>,
}

/// A completed (or failed) scan of one image, from either kind of event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEvent {
    /// Basic or enhanced.
    pub kind: ScanKind,
    /// Whether the scan completed.
    pub state: ScanState,
    /// The scanned image.
    pub image: ImageRef,
    /// The image's tags; may be empty.
    pub tags: Vec<String>,
    /// Findings per severity, from the event (without Inspector's `TOTAL`).
    pub counts: BTreeMap<VulnSeverity, u64>,
}

impl ScanEvent {
    /// Reads a scan event; a missing region is left empty.
    pub fn from_event(kind: ScanKind, event: &EventBridgeEvent<ScanDetail>) -> Self {
        let detail = &event.detail;
        Self {
            kind,
            state: ScanState::from_status(&detail.scan_status, None),
            image: ImageRef {
                account: event.account.clone(),
                region: event.region.clone().unwrap_or_default(),
                repository: detail.repository().into(),
                digest: detail.image_digest.clone(),
            },
            tags: detail.image_tags.clone(),
            counts: normalize_counts(&detail.finding_severity_counts),
        }
    }
}

/// The `scan` section of a policy rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanRules {
    /// Most findings allowed per severity; a severity that is absent is not limited.
    #[serde(default = "default_thresholds")]
    pub thresholds: BTreeMap<VulnSeverity, u64>,
    /// Count only findings that have a fix. Findings whose fix status is unknown still count.
    #[serde(default)]
    pub fixable_only: bool,
    /// Findings not counted, each with its reason and optional expiry.
    #[serde(default)]
    pub ignore: Vec<IgnoreEntry>,
}

impl Default for ScanRules {
    fn default() -> Self {
        Self {
            thresholds: default_thresholds(),
            fixable_only: false,
            ignore: Vec::new(),
        }
    }
}

fn default_thresholds() -> BTreeMap<VulnSeverity, u64> {
    BTreeMap::from([(VulnSeverity::Critical, 0), (VulnSeverity::High, 5)])
}

/// One finding a rule does not count, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    /// The finding's id, e.g. `CVE-2024-3094`.
    pub id: String,
    /// Why it does not matter here; never empty.
    #[serde(deserialize_with = "non_empty_reason")]
    pub reason: String,
    /// The last day the ignore applies.
    #[serde(default)]
    pub until: Option<Date>,
}

fn non_empty_reason<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let reason = String::deserialize(deserializer)?;
    if reason.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "an ignore needs a reason; hint: say why the finding does not matter here, for the next reader",
        ));
    }
    Ok(reason)
}

/// A severity over its threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    /// The severity.
    pub severity: VulnSeverity,
    /// How many findings of it counted.
    pub count: u64,
    /// The most the rule allows.
    pub limit: u64,
}

/// A finding as reported: with the reason it is ignored, if it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedFinding {
    /// The finding.
    #[serde(flatten)]
    pub finding: VulnFinding,
    /// The reason of the ignore that matched it; `None` when it counted.
    pub ignored: Option<String>,
    /// Not counted because `fixable_only` is set and the finding has no fix.
    pub unfixable: bool,
}

/// scan-alert's response: what it made of a finished scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ScanReport {
    /// ECR could not scan the image (`FAILED`, `UNSUPPORTED_IMAGE`, …); notified as such.
    ScanFailed {
        /// The repository.
        repository: String,
        /// The image's manifest digest.
        digest: String,
        /// The scanner's status word.
        status: String,
    },
    /// Within the bar.
    Passed(JudgedScan),
    /// Over the bar.
    Failed(JudgedScan),
}

/// A completed scan judged against a rule's bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JudgedScan {
    /// The repository.
    pub repository: String,
    /// The image's manifest digest.
    pub digest: String,
    /// The image's tags.
    pub tags: Vec<String>,
    /// Basic or enhanced.
    pub kind: ScanKind,
    /// The policy rule whose bar applied.
    pub rule: String,
    /// True when a notification was sent about it.
    pub notified: bool,
    /// The verdict.
    pub verdict: ScanVerdict,
}

impl ScanReport {
    /// `Passed` or `Failed`, as the verdict says.
    pub fn judged(scan: JudgedScan) -> Self {
        if scan.verdict.passed {
            Self::Passed(scan)
        } else {
            Self::Failed(scan)
        }
    }
}

/// What a rule's scan bar says of one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanVerdict {
    /// True when no severity is over its threshold.
    pub passed: bool,
    /// What counted against the thresholds.
    pub counted: BTreeMap<VulnSeverity, u64>,
    /// What the scanner reported.
    pub reported: BTreeMap<VulnSeverity, u64>,
    /// The severities over their thresholds.
    pub breaches: Vec<Breach>,
    /// Every finding, most severe first, marked when ignored or not counted.
    pub findings: Vec<ReportedFinding>,
    /// Ignores past their `until` date; they no longer apply.
    pub expired_ignores: Vec<IgnoreEntry>,
    /// Ignores that match no finding of this image.
    pub stale_ignores: Vec<IgnoreEntry>,
    /// False when only the counts were known: ignores and `fixable_only` could not apply.
    pub findings_known: bool,
}

/// Judges a scan against a rule's bar. `findings` is `None` when only the counts are known.
pub fn evaluate(
    rules: &ScanRules,
    reported: &BTreeMap<VulnSeverity, u64>,
    findings: Option<&[VulnFinding]>,
    today: Date,
) -> ScanVerdict {
    let (active, expired): (Vec<&IgnoreEntry>, Vec<&IgnoreEntry>) = rules
        .ignore
        .iter()
        .partition(|entry| entry.until.is_none_or(|until| today <= until));
    let mut counted = BTreeMap::new();
    let mut reported_findings = Vec::new();
    let mut stale_ignores = Vec::new();
    match findings {
        None => counted.clone_from(reported),
        Some(findings) => {
            for finding in findings {
                let ignored = active
                    .iter()
                    .find(|entry| entry.id.eq_ignore_ascii_case(&finding.id));
                let unfixable = rules.fixable_only && finding.fixable == Some(false);
                if ignored.is_none() && !unfixable {
                    *counted.entry(finding.severity).or_default() += 1;
                }
                reported_findings.push(ReportedFinding {
                    finding: finding.clone(),
                    ignored: ignored.map(|entry| entry.reason.clone()),
                    unfixable,
                });
            }
            reported_findings.sort_by(|a, b| {
                (a.ignored.is_some(), a.finding.severity, &a.finding.id).cmp(&(
                    b.ignored.is_some(),
                    b.finding.severity,
                    &b.finding.id,
                ))
            });
            stale_ignores = active
                .iter()
                .filter(|entry| {
                    !findings
                        .iter()
                        .any(|f| f.id.eq_ignore_ascii_case(&entry.id))
                })
                .map(|entry| (*entry).clone())
                .collect();
        }
    }
    let breaches: Vec<Breach> = rules
        .thresholds
        .iter()
        .filter_map(|(severity, limit)| {
            let count = counted.get(severity).copied().unwrap_or(0);
            (count > *limit).then_some(Breach {
                severity: *severity,
                count,
                limit: *limit,
            })
        })
        .collect();
    ScanVerdict {
        passed: breaches.is_empty(),
        counted,
        reported: reported.clone(),
        breaches,
        findings: reported_findings,
        expired_ignores: expired.into_iter().cloned().collect(),
        stale_ignores,
        findings_known: findings.is_some(),
    }
}

/// How many findings a notification lists.
pub const TOP_FINDINGS: usize = 5;

fn counts_line(counts: &BTreeMap<VulnSeverity, u64>) -> String {
    if counts.values().all(|c| *c == 0) {
        return "none".into();
    }
    counts
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(severity, count)| format!("{} {count}", severity.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The notification of a judged scan.
pub fn scan_notification(
    scan: &ScanEvent,
    verdict: &ScanVerdict,
    rule: Option<&str>,
) -> Notification {
    let repository = &scan.image.repository;
    let tags = if scan.tags.is_empty() {
        "untagged".to_string()
    } else {
        scan.tags
            .iter()
            .map(|t| untrusted(t))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (severity, outcome, title) = if verdict.passed {
        (
            Severity::Info,
            Outcome::Passed,
            format!("Scan passed: {repository} ({tags})"),
        )
    } else {
        (
            Severity::Critical,
            Outcome::Failed,
            format!("Vulnerabilities over the bar: {repository} ({tags})"),
        )
    };
    let mut description = format!(
        "*{}* scan of `{}`\nFindings: {}\nCounted against the bar: {}\n",
        match scan.kind {
            ScanKind::Basic => "Basic",
            ScanKind::Enhanced => "Enhanced",
        },
        scan.image.digest,
        counts_line(&verdict.reported),
        counts_line(&verdict.counted),
    );
    for breach in &verdict.breaches {
        let _ = writeln!(
            description,
            "• {} {} > {} allowed",
            breach.severity.as_str(),
            breach.count,
            breach.limit
        );
    }
    if !verdict.findings.is_empty() {
        description.push_str("\nTop findings:\n");
    }
    for reported in verdict.findings.iter().take(TOP_FINDINGS) {
        let finding = &reported.finding;
        let _ = write!(
            description,
            "• {} `{}` {} {}",
            finding.severity.as_str(),
            untrusted(&finding.id),
            untrusted(finding.package.as_deref().unwrap_or("?")),
            untrusted(finding.installed_version.as_deref().unwrap_or("")),
        );
        if let Some(fixed) = &finding.fixed_in {
            let _ = write!(description, " (fixed in {})", untrusted(fixed));
        }
        if let Some(reason) = &reported.ignored {
            let _ = write!(description, " _ignored: {}_", untrusted(reason));
        }
        description.push('\n');
    }
    let lapsed: Vec<&IgnoreEntry> = verdict
        .expired_ignores
        .iter()
        .filter(|entry| {
            verdict
                .findings
                .iter()
                .any(|f| f.finding.id.eq_ignore_ascii_case(&entry.id))
        })
        .collect();
    for entry in &lapsed {
        let until = entry.until.map(|d| d.to_string()).unwrap_or_default();
        let _ = writeln!(
            description,
            "The ignore of {} expired on {until}, so it counts again.",
            untrusted(&entry.id)
        );
    }
    let mut next_steps = Vec::new();
    if !verdict.passed {
        next_steps
            .push("Rebuild on a patched base image, or upgrade the listed packages.".to_string());
        next_steps.push("If a finding does not apply, add it to the rule's scan.ignore with a reason and an until date.".into());
    }
    if !lapsed.is_empty() {
        next_steps.push(
            "Renew the expired ignore with a new until date if it still applies; `ecr-steward audit` lists the rule's expired and unused ignores."
                .into(),
        );
    }
    let mut context = BTreeMap::from([
        (
            "scan".to_string(),
            format!("{:?}", scan.kind).to_lowercase(),
        ),
        ("tags".to_string(), tags),
    ]);
    if let Some(rule) = rule {
        context.insert("rule".into(), rule.into());
    }
    for (severity, count) in &verdict.reported {
        context.insert(severity.as_str().to_lowercase(), count.to_string());
    }
    Notification {
        event_type: EventType::ScanAlertResult,
        severity,
        outcome,
        link: scan.image.console_link("scan-results"),
        image: scan.image.clone(),
        title,
        description,
        next_steps,
        keywords: vec![
            "ecr-steward".into(),
            "scan-alert".into(),
            format!("{:?}", scan.kind).to_lowercase(),
        ],
        context,
    }
}

/// The notification of a scan that could not complete.
pub fn failed_scan_notification(scan: &ScanEvent) -> Notification {
    let (status, reason) = match &scan.state {
        ScanState::Failed { status, reason } => (status.as_str(), reason.as_str()),
        _ => ("UNKNOWN", ""),
    };
    let repository = &scan.image.repository;
    Notification {
        event_type: EventType::ScanAlertScanFailed,
        severity: Severity::Warning,
        outcome: Outcome::ScanFailed,
        link: scan.image.console_link("scan-results"),
        image: scan.image.clone(),
        title: format!("Scan did not complete: {repository} ({status})"),
        description: format!(
            "The scan of `{}` ended with status *{}*{}. Its vulnerabilities are unknown.",
            scan.image.digest,
            untrusted(status),
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {}", untrusted(reason))
            }
        ),
        next_steps: vec![
            "Check that the image's OS and packages are supported by the scanner.".into(),
        ],
        keywords: vec!["ecr-steward".into(), "scan-alert".into()],
        context: BTreeMap::from([("status".to_string(), status.to_string())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, severity: VulnSeverity, fixable: Option<bool>) -> VulnFinding {
        VulnFinding {
            id: id.into(),
            severity,
            package: Some("openssl".into()),
            installed_version: Some("3.0.1".into()),
            fixed_in: fixable.filter(|f| *f).map(|_| "3.0.2".into()),
            fixable,
            uri: None,
        }
    }

    fn rules(yaml: &str) -> ScanRules {
        serde_yaml::from_str(yaml).expect("valid scan rules")
    }

    fn date(text: &str) -> Date {
        Date::parse(text).expect("date")
    }

    fn counts(pairs: &[(VulnSeverity, u64)]) -> BTreeMap<VulnSeverity, u64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn thresholds_pass_and_fail() {
        let rules = rules("thresholds: { CRITICAL: 0, HIGH: 2 }");
        let today = date("2026-11-23");
        let ok = evaluate(
            &rules,
            &counts(&[(VulnSeverity::High, 2), (VulnSeverity::Low, 50)]),
            None,
            today,
        );
        assert!(ok.passed);
        assert!(!ok.findings_known);
        let bad = evaluate(
            &rules,
            &counts(&[(VulnSeverity::Critical, 1), (VulnSeverity::High, 3)]),
            None,
            today,
        );
        assert_eq!(
            bad.breaches,
            [
                Breach {
                    severity: VulnSeverity::Critical,
                    count: 1,
                    limit: 0
                },
                Breach {
                    severity: VulnSeverity::High,
                    count: 3,
                    limit: 2
                }
            ]
        );
    }

    #[test]
    fn fixable_only_counts_what_has_a_fix_or_may_have() {
        let rules = rules("thresholds: { HIGH: 1 }\nfixable_only: true");
        let findings = [
            finding("CVE-1", VulnSeverity::High, Some(false)),
            finding("CVE-2", VulnSeverity::High, Some(false)),
            finding("CVE-3", VulnSeverity::High, Some(true)),
        ];
        let verdict = evaluate(
            &rules,
            &counts(&[(VulnSeverity::High, 3)]),
            Some(&findings),
            date("2026-01-01"),
        );
        assert!(verdict.passed);
        assert_eq!(verdict.counted, counts(&[(VulnSeverity::High, 1)]));
        assert_eq!(verdict.findings.iter().filter(|f| f.unfixable).count(), 2);
        let unknown = [
            finding("CVE-4", VulnSeverity::High, None),
            finding("CVE-5", VulnSeverity::High, None),
        ];
        assert!(!evaluate(&rules, &BTreeMap::new(), Some(&unknown), date("2026-01-01")).passed);
    }

    #[test]
    fn ignores_active_expired_and_stale() {
        let rules = rules(
            r#"
thresholds: { CRITICAL: 0 }
ignore:
  - { id: CVE-2024-1, reason: "not reachable", until: 2026-12-31 }
  - { id: CVE-2024-2, reason: "accepted risk", until: 2026-01-31 }
  - { id: CVE-2024-9, reason: "fixed long ago" }
"#,
        );
        let findings = [
            finding("CVE-2024-1", VulnSeverity::Critical, None),
            finding("CVE-2024-2", VulnSeverity::Critical, None),
        ];
        let verdict = evaluate(
            &rules,
            &counts(&[(VulnSeverity::Critical, 2)]),
            Some(&findings),
            date("2026-11-23"),
        );
        assert!(!verdict.passed, "the expired ignore no longer applies");
        assert_eq!(verdict.counted, counts(&[(VulnSeverity::Critical, 1)]));
        assert_eq!(
            verdict
                .expired_ignores
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["CVE-2024-2"]
        );
        assert_eq!(
            verdict
                .stale_ignores
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["CVE-2024-9"]
        );
        let ignored: Vec<_> = verdict
            .findings
            .iter()
            .filter(|f| f.ignored.is_some())
            .map(|f| f.finding.id.as_str())
            .collect();
        assert_eq!(ignored, ["CVE-2024-1"], "ignored findings stay visible");
        // On its last day an ignore still applies.
        assert!(
            evaluate(
                &rules,
                &BTreeMap::new(),
                Some(&findings[..1]),
                date("2026-12-31")
            )
            .passed
        );
    }

    #[test]
    fn bad_scan_rules_are_rejected() {
        let error = serde_yaml::from_str::<ScanRules>("thresholds: { SEVERE: 1 }")
            .expect_err("unknown severity");
        assert!(
            error.to_string().contains("unknown variant `SEVERE`"),
            "{error}"
        );
        let error = serde_yaml::from_str::<ScanRules>("ignore: [{ id: CVE-1, reason: '' }]")
            .expect_err("no reason");
        assert!(error.to_string().contains("needs a reason"), "{error}");
        let error = serde_yaml::from_str::<ScanRules>(
            "ignore: [{ id: CVE-1, reason: x, until: tomorrow }]",
        )
        .expect_err("bad date");
        assert!(error.to_string().contains("YYYY-MM-DD"), "{error}");
    }

    #[test]
    fn counts_from_both_kinds_of_event() {
        let inspector: SeverityCounts = [
            ("CRITICAL", 1),
            ("HIGH", 12),
            ("TOTAL", 13),
            ("UNTRIAGED", 2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(
            normalize_counts(&inspector),
            counts(&[
                (VulnSeverity::Critical, 1),
                (VulnSeverity::High, 12),
                (VulnSeverity::Undefined, 2)
            ])
        );
    }

    #[test]
    fn counts_that_differ_in_case_add_up_without_overflowing() {
        // `CRITICAL` u64::MAX and `critical` 1 overflowed (a panic, or a wrap to 0 in release);
        // fuzz/corpus/events/regression-scan-count-overflow.json replays it.
        let counts: SeverityCounts = [("CRITICAL", u64::MAX), ("critical", 1), ("High", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(
            normalize_counts(&counts),
            BTreeMap::from([(VulnSeverity::Critical, u64::MAX), (VulnSeverity::High, 2)])
        );
    }

    #[test]
    fn notifications_list_top_findings_and_ignores() {
        let scan = ScanEvent {
            kind: ScanKind::Enhanced,
            state: ScanState::Complete,
            image: ImageRef {
                account: Some("1".into()),
                region: "us-east-1".into(),
                repository: "team/app".into(),
                digest: "sha256:d".into(),
            },
            tags: vec!["1.2.3".into()],
            counts: counts(&[(VulnSeverity::Critical, 1)]),
        };
        let rules = rules("ignore: [{ id: CVE-OLD, reason: gone }]");
        let findings = [finding("CVE-2024-3094", VulnSeverity::Critical, Some(true))];
        let verdict = evaluate(&rules, &scan.counts, Some(&findings), date("2026-11-23"));
        let message = scan_notification(&scan, &verdict, Some("default"));
        assert_eq!(
            (message.severity, message.outcome.as_str()),
            (Severity::Critical, "failed")
        );
        assert!(
            message
                .description
                .contains("CRITICAL `CVE-2024-3094` openssl 3.0.1 (fixed in 3.0.2)"),
            "{}",
            message.description
        );
        assert!(
            !message.description.contains("CVE-OLD"),
            "an ignore another image of the rule may need is not this scan's business"
        );
        assert_eq!(message.link, "https://us-east-1.console.aws.amazon.com/ecr/repositories/private/1/team/app/_/image/sha256:d/scan-results?region=us-east-1");
        assert_eq!(message.image.digest, "sha256:d");
    }
}
