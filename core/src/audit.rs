//! `ecr-steward audit`'s domain: what a registry that already exists breaks of the policy.
//! Each tag against its rule (labels of every platform included), each repository's settings
//! against the rule's `repository` section, each replica the replication rules promise; then
//! the findings per repository, the totals and the worst offenders. The reads are elsewhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::image::{ImageRef, PlatformLabels, TaggedImage};
use crate::policy::{Policy, RepositorySettings, Target};
use crate::push::{is_quarantine_tag, judge, quarantine_tag};

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A tag breaks the tag rules (`tag.*` checks).
    Tag,
    /// The image a tag names breaks the label rules (`labels.*` checks).
    Labels,
    /// The repository is set up against the rule's `repository` section.
    Setting,
    /// A replica that a replication rule promises is not at its destination.
    ReplicaMissing,
    /// The destination's tag names another image than the source's.
    ReplicaMismatch,
    /// ECR denied a read, so the repository (or destination) could not be audited.
    AccessDenied,
    /// A rule's scan ignore that no longer serves: expired, or matching no finding of any of
    /// the rule's scanned images.
    ScanIgnore,
    /// An image lacks the signature, SBOM or attestation its rule's `provenance` requires.
    Provenance,
}

impl FindingKind {
    /// The kind's name in reports: `tag`, `labels`, `setting`, `replica-missing`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tag => "tag",
            Self::Labels => "labels",
            Self::Setting => "setting",
            Self::ReplicaMissing => "replica-missing",
            Self::ReplicaMismatch => "replica-mismatch",
            Self::AccessDenied => "access-denied",
            Self::ScanIgnore => "scan-ignore",
            Self::Provenance => "provenance",
        }
    }
}

/// One finding of an audit. The field names are the contract of `audit --format json` and
/// of the CSV columns; absent values are `null` (empty in CSV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFinding {
    /// The region of the repository audited.
    pub region: String,
    /// The repository audited.
    pub repository: String,
    /// What the finding is about.
    pub kind: FindingKind,
    /// The check: `tag.literals.deny`, `labels.required`, `repository.scanning`,
    /// `replication.missing`, `replication.mismatch`, `access.denied`, …
    pub check: &'static str,
    /// The policy rule (or replication rule) that applied.
    pub rule: Option<String>,
    /// The tag, for tag, label and replica findings.
    pub tag: Option<String>,
    /// The image's digest, for tag, label and replica findings.
    pub digest: Option<String>,
    /// A replica's destination: `region/repository`, or `account/region/repository`.
    pub destination: Option<String>,
    /// What the destination's tag names instead (`replica-mismatch`).
    pub found_digest: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl AuditFinding {
    fn about(region: &str, repository: &str, kind: FindingKind, check: &'static str) -> Self {
        Self {
            region: region.into(),
            repository: repository.into(),
            kind,
            check,
            rule: None,
            tag: None,
            digest: None,
            destination: None,
            found_digest: None,
            message: String::new(),
        }
    }
}

/// One image judged: its tags counted, and what breaks the policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageAudit {
    /// Tags judged (the image's own quarantine tag is not).
    pub tags: usize,
    /// Tags with no violation.
    pub compliant_tags: usize,
    /// The violations, one finding each.
    pub findings: Vec<AuditFinding>,
}

/// Judges every tag of an image of `repository` in `region` as push-guard would, on the
/// labels of every platform (read once for the digest).
pub fn judge_image(
    policy: &Policy,
    region: &str,
    repository: &str,
    image: &TaggedImage,
    platforms: &[PlatformLabels],
) -> ImageAudit {
    let own_quarantine = quarantine_tag(&image.digest);
    let mut audit = ImageAudit::default();
    // cosign's `sha256-<hex>.sig` and the referrers tag schema's tags are not release tags.
    for tag in image
        .tags
        .iter()
        .filter(|t| **t != own_quarantine && crate::push::artifact_tag_subject(t).is_none())
    {
        let verdict = judge(policy, repository, tag, platforms);
        audit.tags += 1;
        if verdict.compliant {
            audit.compliant_tags += 1;
        }
        for violation in verdict.violations {
            let kind = if violation.check.starts_with("labels.") {
                FindingKind::Labels
            } else {
                FindingKind::Tag
            };
            let mut finding = AuditFinding::about(region, repository, kind, violation.check);
            finding.rule = verdict.rule.clone();
            finding.tag = Some(tag.clone());
            finding.digest = Some(image.digest.clone());
            finding.message = violation.message;
            audit.findings.push(finding);
        }
    }
    audit
}

/// The finding for an image whose provenance the rule requires and `verdict` finds missing
/// (none when it is satisfied, or awaited: ECR managed signing under way). `tag`: a tag of the
/// image the rule's `provenance` covers.
pub fn provenance_finding(
    region: &str,
    repository: &str,
    rule: &str,
    tag: &str,
    digest: &str,
    verdict: &crate::provenance::ProvenanceVerdict,
) -> Option<AuditFinding> {
    if verdict.state != crate::provenance::ProvenanceState::Missing {
        return None;
    }
    let mut finding = AuditFinding::about(
        region,
        repository,
        FindingKind::Provenance,
        "provenance.missing",
    );
    finding.rule = Some(rule.into());
    finding.tag = Some(tag.into());
    finding.digest = Some(digest.into());
    finding.message = verdict.reasons().join("; ");
    Some(finding)
}

/// The settings of a repository that break its rule's `repository` section; none when the
/// rule has no such section or no rule governs the repository.
pub fn judge_settings(
    policy: &Policy,
    region: &str,
    repository: &str,
    settings: &RepositorySettings,
) -> Vec<AuditFinding> {
    let Some(rule) = policy.rule_for(Some(repository)) else {
        return Vec::new();
    };
    let Some(rules) = &rule.repository else {
        return Vec::new();
    };
    rules
        .judge(repository, settings)
        .into_iter()
        .map(|setting| {
            let mut finding =
                AuditFinding::about(region, repository, FindingKind::Setting, setting.check);
            finding.rule = Some(rule.name.clone());
            finding.message = setting.message;
            finding
        })
        .collect()
}

/// One replica a replication rule promises: this tag, naming this digest, at this target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedReplica {
    /// The source tag.
    pub tag: String,
    /// The digest it names at the source.
    pub digest: String,
    /// Where it must be.
    pub target: Target,
}

/// Every replica the replication rules promise for the images of a repository: each tag a
/// rule admits, at each of its destinations (never the image's own place). ecr-steward's own
/// quarantine tags are not replicated, so none is expected.
pub fn expected_replicas(
    policy: &Policy,
    region: &str,
    repository: &str,
    images: &[TaggedImage],
) -> Vec<ExpectedReplica> {
    let mut expected = Vec::new();
    for image in images {
        let source = ImageRef {
            account: None,
            region: region.into(),
            repository: repository.into(),
            digest: image.digest.clone(),
        };
        for tag in image.tags.iter().filter(|t| !is_quarantine_tag(t)) {
            for target in crate::replication::replication_targets(policy, &source, tag) {
                expected.push(ExpectedReplica {
                    tag: tag.clone(),
                    digest: image.digest.clone(),
                    target,
                });
            }
        }
    }
    expected
}

/// A destination as reports name it: `region/repository`, or `account/region/repository`.
pub fn destination_name(target: &Target) -> String {
    match &target.account {
        Some(account) => format!("{account}/{}/{}", target.region, target.repository),
        None => format!("{}/{}", target.region, target.repository),
    }
}

/// What the destination has under the replica's tag: `None` when the tag (or the whole
/// repository) is not there.
pub fn judge_replica(
    region: &str,
    repository: &str,
    expected: &ExpectedReplica,
    found: Option<&str>,
) -> Option<AuditFinding> {
    let destination = destination_name(&expected.target);
    let (kind, check, message) = match found {
        Some(digest) if digest == expected.digest => return None,
        Some(digest) => (
            FindingKind::ReplicaMismatch,
            "replication.mismatch",
            format!(
                "{destination}:{} names {digest}, not {} as at the source; `ecr-steward replicate` copies what is missing but never moves a destination tag: check which is right",
                expected.tag, expected.digest
            ),
        ),
        None => (
            FindingKind::ReplicaMissing,
            "replication.missing",
            format!(
                "{region}/{repository}:{} is not at {destination}; backfill with ecr-steward replicate --repository {repository} --policy …",
                expected.tag
            ),
        ),
    };
    let mut finding = AuditFinding::about(region, repository, kind, check);
    finding.rule = Some(expected.target.rule.clone());
    finding.tag = Some(expected.tag.clone());
    finding.digest = Some(expected.digest.clone());
    finding.destination = Some(destination);
    finding.found_digest = found.map(str::to_string);
    finding.message = message;
    Some(finding)
}

/// ECR denied a read of the repository (or of a replica's destination), so what it holds is
/// not known: a finding about the repository, not the end of the audit.
pub fn access_denied(
    region: &str,
    repository: &str,
    destination: Option<&Target>,
    message: &str,
) -> AuditFinding {
    let mut finding = AuditFinding::about(
        region,
        repository,
        FindingKind::AccessDenied,
        "access.denied",
    );
    finding.destination = destination.map(destination_name);
    finding.rule = destination.map(|t| t.rule.clone());
    finding.message = match destination {
        Some(target) => format!(
            "cannot read replica destination {}: {message}; grant ecr:DescribeImages on it to audit its replicas",
            destination_name(target)
        ),
        None => format!(
            "cannot audit repository `{repository}`: {message}; grant the audit's read permissions (ecr:DescribeRepositories, ecr:DescribeImages, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:GetLifecyclePolicy, ecr:GetRepositoryPolicy, ecr:BatchGetRepositoryScanningConfiguration) on it"
        ),
    };
    finding
}

/// What the audit of one repository found, before it is summed up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepositoryAudit {
    /// The region.
    pub region: String,
    /// The repository.
    pub repository: String,
    /// The policy rule that governs it; `None` when none does (its tags are not judged).
    pub rule: Option<String>,
    /// Tagged images judged.
    pub images: usize,
    /// Tagged images left out by `--max-images`.
    pub images_skipped: usize,
    /// Tagged images left out because they are archived (they cannot be pulled).
    pub images_archived: usize,
    /// Tags judged.
    pub tags: usize,
    /// Tags with no violation.
    pub compliant_tags: usize,
    /// Everything found, in the order found.
    pub findings: Vec<AuditFinding>,
}

/// One row of the per-repository table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositorySummary {
    /// The region.
    pub region: String,
    /// The repository.
    pub repository: String,
    /// The policy rule that governs it; `null` when none does.
    pub rule: Option<String>,
    /// Tagged images judged.
    pub images: usize,
    /// Tagged images left out by `--max-images`.
    pub images_skipped: usize,
    /// Tagged images left out because they are archived (they cannot be pulled).
    pub images_archived: usize,
    /// Tags judged.
    pub tags: usize,
    /// Tags with no violation.
    pub compliant_tags: usize,
    /// Tag and label violations, by check.
    pub violations: BTreeMap<&'static str, usize>,
    /// Settings findings.
    pub settings: usize,
    /// Missing replicas.
    pub replicas_missing: usize,
    /// Replicas whose tag names another image.
    pub replicas_mismatched: usize,
    /// True when a read of the repository was denied.
    pub access_denied: bool,
    /// All findings about the repository.
    pub findings: usize,
}

/// The audit's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AuditTotals {
    /// Repositories audited.
    pub repositories: usize,
    /// Tagged images judged.
    pub images: usize,
    /// Tagged images left out by `--max-images`.
    pub images_skipped: usize,
    /// Tagged images left out because they are archived (they cannot be pulled).
    pub images_archived: usize,
    /// Tags judged (of governed repositories).
    pub tags: usize,
    /// Tags with no violation (of governed repositories).
    pub compliant_tags: usize,
    /// Repositories no rule governs: nothing in them is judged.
    pub ungoverned_repositories: usize,
    /// The tags of those repositories, counted apart: neither compliant nor not.
    pub ungoverned_tags: usize,
    /// Findings, all kinds.
    pub findings: usize,
    /// Findings by kind.
    pub by_kind: BTreeMap<FindingKind, usize>,
    /// Findings by check (`tag.literals.deny`, `labels.required`, …).
    pub by_check: BTreeMap<&'static str, usize>,
}

/// A repository among the worst offenders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offender {
    /// The region.
    pub region: String,
    /// The repository.
    pub repository: String,
    /// Its findings, all kinds.
    pub findings: usize,
}

/// How many repositories the worst-offenders list names.
pub const WORST_OFFENDERS: usize = 5;

/// An audit's report: `audit --format json` prints it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// The policy used: a path, or `the built-in policy`.
    pub policy: String,
    /// The regions audited.
    pub regions: Vec<String>,
    /// True when nothing was found.
    pub clean: bool,
    /// The totals.
    pub totals: AuditTotals,
    /// One row per repository, by region and name.
    pub repositories: Vec<RepositorySummary>,
    /// The repositories with the most findings (at most [`WORST_OFFENDERS`]), most first.
    pub worst_offenders: Vec<Offender>,
    /// Every finding, by region, repository, kind, tag and check.
    pub findings: Vec<AuditFinding>,
    /// What the audit could not judge: a pattern that matched nothing, repositories no rule
    /// governs, rules that govern none of the repositories audited.
    pub warnings: Vec<String>,
}

/// What the scans of a rule's images in one region found, for judging its ignores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleScans {
    /// Images whose scan is complete.
    pub scanned: usize,
    /// Every finding id of those scans, upper-cased, with how many images have it.
    pub ids: BTreeMap<String, usize>,
}

/// A rule's scan ignores against every scan of its images in the regions audited (`region`
/// names them): an ignore past its date (the finding counts again wherever it is), and, when
/// the audit saw `whole_rule`, an active one that matches no finding of any scanned image
/// (nothing needs it). Judged across the rule, never one image at a time: an ignore one image
/// does not need may serve another.
pub fn judge_ignores(
    rule: &crate::policy::Rule,
    region: &str,
    scans: &RuleScans,
    today: crate::date::Date,
    whole_rule: bool,
) -> Vec<AuditFinding> {
    let globs: Vec<&str> = rule.repositories.iter().map(|g| g.as_str()).collect();
    let mut found = Vec::new();
    for entry in &rule.scan.ignore {
        let images = scans
            .ids
            .get(&entry.id.to_ascii_uppercase())
            .copied()
            .unwrap_or(0);
        let (check, message) = match entry.until {
            Some(until) if until < today => (
                "scan.ignore.expired",
                format!(
                    "the ignore of {} expired on {until}{}; renew its until date if it still does not apply, or remove it",
                    entry.id,
                    if images == 0 {
                        String::new()
                    } else {
                        format!(", and {images} of the rule's images have the finding, which counts again")
                    }
                ),
            ),
            _ if whole_rule && images == 0 && scans.scanned > 0 => (
                "scan.ignore.stale",
                format!(
                    "the ignore of {} matches no finding of the rule's {} scanned images in {region}; remove it from the policy",
                    entry.id, scans.scanned
                ),
            ),
            _ => continue,
        };
        let mut finding =
            AuditFinding::about(region, &globs.join(","), FindingKind::ScanIgnore, check);
        finding.rule = Some(rule.name.clone());
        finding.message = message;
        found.push(finding);
    }
    found
}

impl AuditReport {
    /// Adds findings about the policy's rules rather than one repository (a rule's scan
    /// ignores); they count in the totals, not in the per-repository table.
    pub fn add_rule_findings(&mut self, findings: Vec<AuditFinding>) {
        for finding in findings {
            *self.totals.by_kind.entry(finding.kind).or_default() += 1;
            *self.totals.by_check.entry(finding.check).or_default() += 1;
            self.totals.findings += 1;
            self.clean = false;
            self.findings.push(finding);
        }
    }

    /// Adds the warnings about coverage: `pattern` (the repositories asked for) matching
    /// nothing, repositories no rule governs, and, when `pattern` is the whole registry (`**`),
    /// rules that govern none of the repositories audited.
    pub fn with_coverage(mut self, policy: &Policy, pattern: &str) -> Self {
        if self.repositories.is_empty() {
            self.warnings.push(format!(
                "no repository matches `{pattern}` in {}",
                self.regions.join(", ")
            ));
        }
        let ungoverned: Vec<String> = self
            .repositories
            .iter()
            .filter(|r| r.rule.is_none())
            .map(|r| format!("{}/{}", r.region, r.repository))
            .collect();
        if !ungoverned.is_empty() {
            const NAMED: usize = 10;
            let mut names = ungoverned
                .iter()
                .take(NAMED)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if ungoverned.len() > NAMED {
                let _ = write!(names, " and {} more", ungoverned.len() - NAMED);
            }
            self.warnings.push(format!(
                "no rule governs {} repositor{} ({names}): {} tags not judged, counted apart from the compliant ones; add a rule for them, or a last rule with `repositories: [\"**\"]`",
                ungoverned.len(),
                if ungoverned.len() == 1 { "y" } else { "ies" },
                self.totals.ungoverned_tags,
            ));
        }
        if pattern == "**" && !self.repositories.is_empty() {
            for rule in &policy.rules {
                if !self
                    .repositories
                    .iter()
                    .any(|r| r.rule.as_deref() == Some(rule.name.as_str()))
                {
                    let globs: Vec<String> =
                        rule.repositories.iter().map(|g| format!("`{g}`")).collect();
                    self.warnings.push(format!(
                        "rule `{}` ({}) governs none of the {} repositories audited",
                        rule.name,
                        globs.join(", "),
                        self.repositories.len()
                    ));
                }
            }
        }
        self
    }

    /// Sums up the repositories' audits.
    pub fn new(policy: &str, regions: &[String], mut audits: Vec<RepositoryAudit>) -> Self {
        audits.sort_by(|a, b| (&a.region, &a.repository).cmp(&(&b.region, &b.repository)));
        let mut totals = AuditTotals {
            repositories: audits.len(),
            ..AuditTotals::default()
        };
        let mut repositories = Vec::with_capacity(audits.len());
        let mut findings = Vec::new();
        for audit in audits {
            let mut summary = RepositorySummary {
                region: audit.region,
                repository: audit.repository,
                rule: audit.rule,
                images: audit.images,
                images_skipped: audit.images_skipped,
                images_archived: audit.images_archived,
                tags: audit.tags,
                compliant_tags: audit.compliant_tags,
                violations: BTreeMap::new(),
                settings: 0,
                replicas_missing: 0,
                replicas_mismatched: 0,
                access_denied: false,
                findings: audit.findings.len(),
            };
            for finding in &audit.findings {
                *totals.by_kind.entry(finding.kind).or_default() += 1;
                *totals.by_check.entry(finding.check).or_default() += 1;
                match finding.kind {
                    FindingKind::Tag | FindingKind::Labels | FindingKind::Provenance => {
                        *summary.violations.entry(finding.check).or_default() += 1;
                    }
                    FindingKind::Setting | FindingKind::ScanIgnore => summary.settings += 1,
                    FindingKind::ReplicaMissing => summary.replicas_missing += 1,
                    FindingKind::ReplicaMismatch => summary.replicas_mismatched += 1,
                    FindingKind::AccessDenied => summary.access_denied = true,
                }
            }
            totals.images += summary.images;
            totals.images_skipped += summary.images_skipped;
            totals.images_archived += summary.images_archived;
            if summary.rule.is_some() {
                totals.tags += summary.tags;
                totals.compliant_tags += summary.compliant_tags;
            } else {
                totals.ungoverned_repositories += 1;
                totals.ungoverned_tags += summary.tags;
            }
            totals.findings += summary.findings;
            findings.extend(audit.findings);
            repositories.push(summary);
        }
        findings.sort_by(|a, b| {
            (
                &a.region,
                &a.repository,
                a.kind,
                &a.tag,
                a.check,
                &a.destination,
            )
                .cmp(&(
                    &b.region,
                    &b.repository,
                    b.kind,
                    &b.tag,
                    b.check,
                    &b.destination,
                ))
        });
        let mut worst: Vec<Offender> = repositories
            .iter()
            .filter(|r| r.findings > 0)
            .map(|r| Offender {
                region: r.region.clone(),
                repository: r.repository.clone(),
                findings: r.findings,
            })
            .collect();
        worst.sort_by(|a, b| {
            b.findings
                .cmp(&a.findings)
                .then_with(|| (&a.region, &a.repository).cmp(&(&b.region, &b.repository)))
        });
        worst.truncate(WORST_OFFENDERS);
        Self {
            policy: policy.into(),
            regions: regions.to_vec(),
            clean: findings.is_empty(),
            totals,
            repositories,
            worst_offenders: worst,
            findings,
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::samples::compliant;
    use crate::policy::{RepositorySettings, SourceFormat, TagMutability};

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn policy() -> Policy {
        Policy::from_text(
            "version: 1\nrules:\n  - name: team\n    repositories: [\"team/*\"]\n    tags: { semver: {} }\n    labels: { required: [org.opencontainers.image.source] }\n    repository:\n      tag_mutability: { allow: [IMMUTABLE] }\nreplication:\n  - name: releases\n    repositories: [\"team/*\"]\n    tags: { semver: { prerelease: false } }\n    destinations: [{ region: eu-west-1 }, { region: us-east-1 }]\n",
            "test",
            SourceFormat::Yaml,
        )
        .expect("policy")
    }

    fn image(digest: &str, tags: &[&str]) -> TaggedImage {
        TaggedImage {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            archived: false,
        }
    }

    fn platform(labels: crate::labels::Labels) -> Vec<PlatformLabels> {
        vec![PlatformLabels {
            platform: None,
            digest: A.into(),
            labels,
        }]
    }

    #[test]
    fn every_tag_is_judged_on_the_labels_read_once() {
        let quarantine = quarantine_tag(A);
        let audit = judge_image(
            &policy(),
            "us-east-1",
            "team/app",
            &image(A, &["1.0.0", "latest", &quarantine]),
            &platform(crate::labels::Labels::default()),
        );
        assert_eq!((audit.tags, audit.compliant_tags), (2, 0));
        let found: Vec<(FindingKind, &str, Option<&str>)> = audit
            .findings
            .iter()
            .map(|f| (f.kind, f.check, f.tag.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                (FindingKind::Labels, "labels.required", Some("1.0.0")),
                (FindingKind::Tag, "tag.kinds", Some("latest")),
                (FindingKind::Labels, "labels.required", Some("latest")),
            ]
        );
        let clean = judge_image(
            &policy(),
            "us-east-1",
            "team/app",
            &image(A, &["1.0.0"]),
            &platform(compliant()),
        );
        assert_eq!((clean.tags, clean.compliant_tags), (1, 1));
        assert!(clean.findings.is_empty());
    }

    #[test]
    fn settings_are_judged_only_where_a_rule_asks() {
        let settings = RepositorySettings {
            tag_mutability: Some(TagMutability::Mutable),
            ..RepositorySettings::default()
        };
        let found = judge_settings(&policy(), "us-east-1", "team/app", &settings);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].check, "repository.tag_mutability");
        assert_eq!(found[0].rule.as_deref(), Some("team"));
        assert!(judge_settings(&policy(), "us-east-1", "other/app", &settings).is_empty());
    }

    #[test]
    fn replicas_are_expected_for_admitted_tags_and_judged_by_digest() {
        let expected = expected_replicas(
            &policy(),
            "us-east-1",
            "team/app",
            &[image(A, &["1.0.0", "1.1.0-rc.1"]), image(B, &["2.0.0"])],
        );
        let places: Vec<String> = expected
            .iter()
            .map(|e| format!("{}->{}", e.tag, destination_name(&e.target)))
            .collect();
        assert_eq!(
            places,
            ["1.0.0->eu-west-1/team/app", "2.0.0->eu-west-1/team/app"],
            "no pre-release, never the image's own place"
        );
        assert_eq!(
            judge_replica("us-east-1", "team/app", &expected[0], Some(A)),
            None
        );
        let missing = judge_replica("us-east-1", "team/app", &expected[0], None).expect("missing");
        assert_eq!(
            (missing.kind, missing.check),
            (FindingKind::ReplicaMissing, "replication.missing")
        );
        let moved =
            judge_replica("us-east-1", "team/app", &expected[0], Some(B)).expect("mismatch");
        assert_eq!(moved.kind, FindingKind::ReplicaMismatch);
        assert_eq!(moved.found_digest.as_deref(), Some(B));
        assert_eq!(moved.rule.as_deref(), Some("releases"));
    }

    #[test]
    fn the_report_sums_up_by_repository_and_names_the_worst() {
        let mut app = RepositoryAudit {
            region: "us-east-1".into(),
            repository: "team/app".into(),
            rule: Some("team".into()),
            images: 2,
            tags: 3,
            compliant_tags: 1,
            ..RepositoryAudit::default()
        };
        let judged = judge_image(
            &policy(),
            "us-east-1",
            "team/app",
            &image(A, &["latest", "dev"]),
            &platform(compliant()),
        );
        app.findings.extend(judged.findings);
        let denied = RepositoryAudit {
            region: "eu-west-1".into(),
            repository: "team/secret".into(),
            findings: vec![access_denied(
                "eu-west-1",
                "team/secret",
                None,
                "AccessDeniedException",
            )],
            ..RepositoryAudit::default()
        };
        let clean = RepositoryAudit {
            region: "us-east-1".into(),
            repository: "team/clean".into(),
            images: 1,
            tags: 1,
            compliant_tags: 1,
            ..RepositoryAudit::default()
        };
        let report = AuditReport::new(
            "test",
            &["us-east-1".into(), "eu-west-1".into()],
            vec![app, denied, clean],
        );
        assert!(!report.clean);
        let order: Vec<&str> = report
            .repositories
            .iter()
            .map(|r| r.repository.as_str())
            .collect();
        assert_eq!(order, ["team/secret", "team/app", "team/clean"]);
        assert_eq!(report.repositories[1].violations.get("tag.kinds"), Some(&2));
        assert!(report.repositories[0].access_denied);
        assert_eq!(report.totals.findings, 3);
        assert_eq!(report.totals.by_kind.get(&FindingKind::Tag), Some(&2));
        let worst: Vec<(&str, usize)> = report
            .worst_offenders
            .iter()
            .map(|o| (o.repository.as_str(), o.findings))
            .collect();
        assert_eq!(worst, [("team/app", 2), ("team/secret", 1)]);
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["findings"][0]["kind"], "access-denied");
        assert_eq!(json["totals"]["by_kind"]["tag"], 2);
    }
}
