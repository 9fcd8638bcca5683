//! `audit`: how far a registry is from the policy. Every repository the glob matches in each
//! region, each repository's settings, every tagged image (its labels read once per digest,
//! every platform), and every replica the replication rules promise; the registry reads run
//! `concurrency` at a time and the ECR API calls at most [`MAX_API_CONCURRENCY`], each
//! retried with backoff when throttled. The judging is the
//! domain's (`steward_core::audit`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{stream, StreamExt};

use crate::audit::{
    access_denied, expected_replicas, judge_ignores, judge_image, judge_replica, judge_settings,
    AuditReport, ExpectedReplica, RepositoryAudit, RuleScans,
};
use crate::date::Date;
use crate::error::{AwsErrorCode, Service, StewardError};
use crate::glob::Glob;
use crate::image::TaggedImage;
use crate::policy::Policy;
use crate::ports::{ImageCatalog, ImageReader, ProvenanceReader, RepositoryInspector, ScanReader};
use crate::retry::RetryPolicy;
use crate::scan::ScanState;

/// The registry reads at once when none is asked for: enough to hide an 80 ms round trip
/// (BENCHMARKS.md, "Audit over a registry"), well within ECR's rates for them (BatchGetImage
/// 2,000 a second, GetDownloadUrlForLayer 3,000); a registry that throttles narrows its own
/// window ([`crate::oci::window`]).
pub const DEFAULT_CONCURRENCY: usize = 128;

/// The ECR API calls at once (repository settings, replica listings), whatever the
/// concurrency: these actions have ECR's default rates, far below the registry's.
pub const MAX_API_CONCURRENCY: usize = 16;

/// What to audit.
#[derive(Debug, Clone)]
pub struct AuditRequest {
    /// The regions whose repositories are audited, in order.
    pub regions: Vec<String>,
    /// The repositories audited (in every region).
    pub repositories: Glob,
    /// Judge at most this many images in all (by region, repository and digest); the rest
    /// are counted as skipped.
    pub max_images: Option<usize>,
    /// Reads at once; at least 1.
    pub concurrency: usize,
    /// Retries of a read that is throttled or fails for a while.
    pub retry: RetryPolicy,
    /// Today, for scan ignores that expire.
    pub today: Date,
    /// The time signatures and certificates are judged at (`provenance`).
    pub now: crate::timestamp::Timestamp,
}

/// How far the audit is, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Repositories whose settings and image lists are read.
    Repositories {
        /// Read so far.
        done: usize,
        /// In all.
        total: usize,
    },
    /// Images whose labels are read and whose tags are judged.
    Images {
        /// Judged so far.
        done: usize,
        /// In all.
        total: usize,
    },
    /// Replica destinations read.
    Replicas {
        /// Read so far.
        done: usize,
        /// In all.
        total: usize,
    },
}

/// Why the audit could not be made (an error about one repository is a finding instead).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No ECR client was given for a region the audit needs.
    #[error("no ECR client for region {0}")]
    NoClient(String),
    /// The repositories of a region could not be listed.
    #[error("cannot list the repositories of {region}: {source}")]
    Listing {
        /// The region.
        region: String,
        /// Why.
        source: StewardError,
    },
    /// A read failed for another reason than a denial, after its retries.
    #[error("{what}: {source}")]
    Read {
        /// What was read.
        what: String,
        /// Why it failed.
        source: StewardError,
    },
}

fn is_denied(error: &StewardError) -> bool {
    match error {
        StewardError::Rejected {
            code: Some(AwsErrorCode::AccessDenied),
            ..
        } => true,
        // The registry's answer to a pull the credentials may not make.
        StewardError::Rejected {
            service: Service::Registry,
            code: None,
            message,
        } => message.starts_with("HTTP 401:") || message.starts_with("HTTP 403:"),
        _ => false,
    }
}

/// The same error again, for a report: a destination's read answers every replica there.
fn clone_error(error: &StewardError) -> StewardError {
    match error {
        StewardError::Throttled { service, message } => StewardError::Throttled {
            service: *service,
            message: message.clone(),
        },
        StewardError::Unavailable { service, message } => StewardError::Unavailable {
            service: *service,
            message: message.clone(),
        },
        other => StewardError::Internal(other.to_string()),
    }
}

/// One repository between the reads.
struct Audited {
    audit: RepositoryAudit,
    images: Vec<TaggedImage>,
}

/// Audits the registry: `catalogs` has an ECR client for each region audited and each region
/// a replication rule sends copies to; `registry` reads images' labels. `progress` hears how
/// far it is. `origin` names the policy in the report.
pub async fn audit<C, R>(
    policy: &Policy,
    origin: &str,
    catalogs: &BTreeMap<String, C>,
    registry: &R,
    request: &AuditRequest,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AuditReport, AuditError>
where
    C: ImageCatalog + RepositoryInspector + ScanReader,
    R: ImageReader + ProvenanceReader,
{
    let concurrency = request.concurrency.max(1);
    let api_concurrency = concurrency.min(MAX_API_CONCURRENCY);
    let retry = &request.retry;
    let client = |region: &str| {
        catalogs
            .get(region)
            .ok_or_else(|| AuditError::NoClient(region.into()))
    };

    // The repositories, region by region (a few paginated calls each).
    let mut names = Vec::new();
    for region in &request.regions {
        let ecr = client(region)?;
        let listed =
            retry
                .run(|| ecr.repositories())
                .await
                .map_err(|source| AuditError::Listing {
                    region: region.clone(),
                    source,
                })?;
        names.extend(
            listed
                .into_iter()
                .filter(|name| request.repositories.matches(name))
                .map(|name| (region.clone(), name)),
        );
    }

    // Each repository's settings and images.
    let total = names.len();
    let done = AtomicUsize::new(0);
    let mut repositories: Vec<Audited> = stream::iter(names.into_iter().map(|(region, name)| {
        let done = &done;
        async move {
            let ecr = client(&region)?;
            let audited = read_repository(policy, ecr, retry, &region, &name).await;
            progress(Progress::Repositories {
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total,
            });
            audited
        }
    }))
    .buffer_unordered(api_concurrency)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<Result<_, _>>()?;
    repositories.sort_by(|a, b| {
        (&a.audit.region, &a.audit.repository).cmp(&(&b.audit.region, &b.audit.repository))
    });

    // --max-images: the first images in order are judged, the others counted.
    let mut budget = request.max_images.unwrap_or(usize::MAX);
    for repository in &mut repositories {
        let keep = repository.images.len().min(budget);
        budget -= keep;
        repository.audit.images_skipped = repository.images.len() - keep;
        repository.images.truncate(keep);
        repository.audit.images = keep;
    }

    // Every image: its labels once per digest, then each of its tags.
    let work: Vec<(usize, &TaggedImage)> = repositories
        .iter()
        .enumerate()
        .flat_map(|(index, r)| r.images.iter().map(move |image| (index, image)))
        .collect();
    let total = work.len();
    let done = AtomicUsize::new(0);
    let judged = stream::iter(work.into_iter().map(|(index, image)| {
        let audit = &repositories[index].audit;
        let done = &done;
        async move {
            let result = if audit.rule.is_none() {
                // Not governed: nothing to judge, so nothing to read.
                Ok(judge_image(
                    policy,
                    &audit.region,
                    &audit.repository,
                    image,
                    &[],
                ))
            } else {
                let judged = retry
                    .run(|| {
                        registry.platform_labels(&audit.region, &audit.repository, &image.digest)
                    })
                    .await
                    .map(|platforms| {
                        judge_image(policy, &audit.region, &audit.repository, image, &platforms)
                    });
                match judged {
                    Ok(mut judged) => match provenance_of(
                        policy,
                        registry,
                        retry,
                        &audit.region,
                        &audit.repository,
                        image,
                        request.now,
                    )
                    .await
                    {
                        Ok(finding) => {
                            judged.findings.extend(finding);
                            Ok(judged)
                        }
                        // The image's tags and labels stay judged; what could not be read is
                        // said as such.
                        Err(error) if is_denied(&error) => {
                            judged.findings.push(access_denied(
                                &audit.region,
                                &audit.repository,
                                None,
                                &format!("the provenance of {}: {error}", image.digest),
                            ));
                            Ok(judged)
                        }
                        Err(error) => Err(error),
                    },
                    Err(error) => Err(error),
                }
            };
            progress(Progress::Images {
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total,
            });
            (index, image, result)
        }
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let mut denied_labels: BTreeMap<usize, String> = BTreeMap::new();
    let mut judged_images: Vec<Vec<crate::audit::ImageAudit>> =
        repositories.iter().map(|_| Vec::new()).collect();
    for (index, image, result) in judged {
        match result {
            Ok(image_audit) => judged_images[index].push(image_audit),
            Err(error) if is_denied(&error) => {
                denied_labels
                    .entry(index)
                    .or_insert_with(|| error.to_string());
            }
            Err(source) => {
                let audit = &repositories[index].audit;
                return Err(AuditError::Read {
                    what: format!(
                        "the labels or provenance of {}/{}@{}",
                        audit.region, audit.repository, image.digest
                    ),
                    source,
                });
            }
        }
    }
    for (index, image_audits) in judged_images.into_iter().enumerate() {
        let audit = &mut repositories[index].audit;
        for image_audit in image_audits {
            audit.tags += image_audit.tags;
            audit.compliant_tags += image_audit.compliant_tags;
            audit.findings.extend(image_audit.findings);
        }
        if let Some(message) = denied_labels.get(&index) {
            let finding = access_denied(&audit.region, &audit.repository, None, message);
            audit.findings.push(finding);
        }
    }

    // Every promised replica, each destination repository read once.
    let mut expected: Vec<(usize, ExpectedReplica)> = Vec::new();
    for (index, repository) in repositories.iter().enumerate() {
        let audit = &repository.audit;
        expected.extend(
            expected_replicas(policy, &audit.region, &audit.repository, &repository.images)
                .into_iter()
                .map(|replica| (index, replica)),
        );
    }
    let mut places: Vec<(String, Option<String>, String)> = expected
        .iter()
        .map(|(_, r)| {
            (
                r.target.region.clone(),
                r.target.account.clone(),
                r.target.repository.clone(),
            )
        })
        .collect();
    places.sort();
    places.dedup();
    for place in &places {
        client(&place.0)?;
    }
    let total = places.len();
    let done = AtomicUsize::new(0);
    let destinations: BTreeMap<_, _> = stream::iter(places.into_iter().map(|place| {
        let done = &done;
        async move {
            let read = match client(&place.0) {
                Ok(ecr) => {
                    retry
                        .run(|| ecr.tag_digests(place.1.as_deref(), &place.2))
                        .await
                }
                Err(error) => Err(StewardError::Internal(error.to_string())),
            };
            progress(Progress::Replicas {
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total,
            });
            (place, read)
        }
    }))
    .buffer_unordered(api_concurrency)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect();
    let mut denied_places = std::collections::BTreeSet::new();
    for (index, replica) in expected {
        let place = (
            replica.target.region.clone(),
            replica.target.account.clone(),
            replica.target.repository.clone(),
        );
        let audit = &mut repositories[index].audit;
        match destinations.get(&place) {
            Some(Ok(tags)) => {
                let found = tags
                    .as_ref()
                    .and_then(|tags| tags.get(&replica.tag))
                    .map(String::as_str);
                audit.findings.extend(judge_replica(
                    &audit.region,
                    &audit.repository,
                    &replica,
                    found,
                ));
            }
            Some(Err(error)) if is_denied(error) => {
                // One finding a destination, not one a tag.
                if !denied_places.insert((index, place)) {
                    continue;
                }
                let finding = access_denied(
                    &audit.region,
                    &audit.repository,
                    Some(&replica.target),
                    &error.to_string(),
                );
                audit.findings.push(finding);
            }
            Some(Err(error)) => {
                return Err(AuditError::Read {
                    what: format!(
                        "the replica destination {}",
                        crate::audit::destination_name(&replica.target)
                    ),
                    source: clone_error(error),
                })
            }
            None => {}
        }
    }

    let ignores =
        judge_rule_ignores(policy, &repositories, request, api_concurrency, &client).await?;
    let mut report = AuditReport::new(
        origin,
        &request.regions,
        repositories.into_iter().map(|r| r.audit).collect(),
    );
    report.add_rule_findings(ignores);
    Ok(report)
}

/// The scan ignores of every rule that has some, judged against the scans of all the rule's
/// judged images in each region (one scan read an image; only for such rules).
async fn judge_rule_ignores<'a, C, F>(
    policy: &Policy,
    repositories: &[Audited],
    request: &AuditRequest,
    api_concurrency: usize,
    client: &F,
) -> Result<Vec<crate::audit::AuditFinding>, AuditError>
where
    C: ScanReader + 'a,
    F: Fn(&str) -> Result<&'a C, AuditError>,
{
    let with_ignores = |name: &Option<String>| {
        policy
            .rules
            .iter()
            .find(|rule| Some(&rule.name) == name.as_ref() && !rule.scan.ignore.is_empty())
    };
    let mut reads = Vec::new();
    for repository in repositories {
        let audit = &repository.audit;
        if with_ignores(&audit.rule).is_none() {
            continue;
        }
        let ecr = client(&audit.region)?;
        for image in &repository.images {
            reads.push((audit, ecr, image.digest.as_str()));
        }
    }
    let retry = &request.retry;
    let scans = stream::iter(reads.into_iter().map(|(audit, ecr, digest)| async move {
        let read = retry
            .run(|| ecr.scan_findings(&audit.repository, digest))
            .await;
        (audit, digest, read)
    }))
    .buffer_unordered(api_concurrency)
    .collect::<Vec<_>>()
    .await;
    // Across the regions audited: a finding anywhere is a reason for the ignore.
    let mut by_rule: BTreeMap<String, RuleScans> = BTreeMap::new();
    for (audit, digest, read) in scans {
        let Some(rule) = audit.rule.clone() else {
            continue;
        };
        let seen = by_rule.entry(rule).or_default();
        match read {
            Ok(found) if found.state == ScanState::Complete => {
                seen.scanned += 1;
                let ids: std::collections::BTreeSet<String> = found
                    .findings
                    .iter()
                    .map(|f| f.id.to_ascii_uppercase())
                    .collect();
                for id in ids {
                    *seen.ids.entry(id).or_default() += 1;
                }
            }
            // Not scanned (yet), or not readable: that image says nothing either way.
            Ok(_) | Err(StewardError::NotFound { .. }) => {}
            Err(error) if is_denied(&error) => {}
            Err(source) => {
                return Err(AuditError::Read {
                    what: format!("the scan of {}/{}@{digest}", audit.region, audit.repository),
                    source,
                })
            }
        }
    }
    let regions = request.regions.join(",");
    let mut findings = Vec::new();
    for (name, scans) in &by_rule {
        if let Some(rule) = policy.rules.iter().find(|rule| &rule.name == name) {
            // "Nothing needs it" holds only when every image of the rule was looked at.
            let whole_rule = request.max_images.is_none()
                && rule
                    .repositories
                    .iter()
                    .all(|glob| glob.is_covered_by(&request.repositories));
            findings.extend(judge_ignores(
                rule,
                &regions,
                scans,
                request.today,
                whole_rule,
            ));
        }
    }
    Ok(findings)
}

/// A repository's rule, settings findings and tagged images; a denied read is a finding.
/// The image's provenance, where its rule's `provenance` covers one of its tags: the finding
/// when something required is missing.
async fn provenance_of<R: ProvenanceReader>(
    policy: &Policy,
    registry: &R,
    retry: &RetryPolicy,
    region: &str,
    repository: &str,
    image: &TaggedImage,
    now: crate::timestamp::Timestamp,
) -> Result<Option<crate::audit::AuditFinding>, StewardError> {
    let Some(rule) = policy.rule_for(Some(repository)) else {
        return Ok(None);
    };
    let Some(section) = rule.provenance.as_ref() else {
        return Ok(None);
    };
    let Some(tag) = image.tags.iter().find(|tag| section.applies_to(tag)) else {
        return Ok(None);
    };
    let managed = section
        .schemes
        .contains(&crate::provenance::Scheme::EcrManaged);
    let evidence = retry
        .run(|| registry.provenance(region, repository, &image.digest, managed))
        .await?;
    let verdict = crate::provenance::judge(&evidence, section, None, now);
    Ok(crate::audit::provenance_finding(
        region,
        repository,
        &rule.name,
        tag,
        &image.digest,
        &verdict,
    ))
}

async fn read_repository<C: ImageCatalog + RepositoryInspector>(
    policy: &Policy,
    ecr: &C,
    retry: &RetryPolicy,
    region: &str,
    repository: &str,
) -> Result<Audited, AuditError> {
    let rule = policy.rule_for(Some(repository));
    let mut audit = RepositoryAudit {
        region: region.into(),
        repository: repository.into(),
        rule: rule.map(|r| r.name.clone()),
        ..RepositoryAudit::default()
    };
    let denied = |audit: &mut RepositoryAudit, error: &StewardError| {
        let finding = access_denied(region, repository, None, &error.to_string());
        audit.findings.push(finding);
    };
    if let Some(rules) = rule
        .and_then(|r| r.repository.as_ref())
        .filter(|r| !r.is_empty())
    {
        match retry
            .run(|| ecr.repository_settings(repository, rules))
            .await
        {
            Ok(settings) => audit
                .findings
                .extend(judge_settings(policy, region, repository, &settings)),
            Err(error) if is_denied(&error) => {
                denied(&mut audit, &error);
                return Ok(Audited {
                    audit,
                    images: Vec::new(),
                });
            }
            Err(source) => {
                return Err(AuditError::Read {
                    what: format!("the settings of {region}/{repository}"),
                    source,
                })
            }
        }
    }
    let images = match retry.run(|| ecr.tagged_images(repository)).await {
        // An archived image cannot be pulled: its labels cannot be read, nor copied.
        Ok(images) => {
            let (archived, active): (Vec<_>, Vec<_>) =
                images.into_iter().partition(|image| image.archived);
            audit.images_archived = archived.len();
            active
        }
        Err(error) if is_denied(&error) => {
            denied(&mut audit, &error);
            Vec::new()
        }
        Err(source) => {
            return Err(AuditError::Read {
                what: format!("the images of {region}/{repository}"),
                source,
            })
        }
    };
    Ok(Audited { audit, images })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::audit::FindingKind;
    use crate::labels::samples::compliant;
    use crate::policy::{RepositorySettings, SourceFormat, TagMutability};
    use crate::testing::{MemoryCatalog, MemoryImages, MemoryInspector};

    fn digest(n: u32) -> String {
        format!("sha256:{n:064x}")
    }

    fn policy() -> Policy {
        Policy::from_text(
            "version: 1\nrules:\n  - name: team\n    repositories: [\"team/*\"]\n    tags: { semver: {} }\n    labels: { required: [org.opencontainers.image.source] }\n    repository:\n      tag_mutability: { allow: [IMMUTABLE] }\nreplication:\n  - name: releases\n    repositories: [\"team/app\"]\n    tags: { semver: { prerelease: false } }\n    destinations: [{ region: eu-west-1 }]\n",
            "test",
            SourceFormat::Yaml,
        )
        .expect("policy")
    }

    fn request(max_images: Option<usize>, concurrency: usize) -> AuditRequest {
        AuditRequest {
            regions: vec!["us-east-1".into()],
            repositories: Glob::new("**").expect("glob"),
            max_images,
            concurrency,
            retry: RetryPolicy {
                attempts: 2,
                base: Duration::from_millis(1),
                cap: Duration::from_millis(1),
            },
            today: Date::parse("2026-12-01").expect("date"),
            now: crate::timestamp::Timestamp::parse_rfc3339("2026-12-01T12:00:00Z").expect("time"),
        }
    }

    fn registry() -> (BTreeMap<String, MemoryInspector>, MemoryImages) {
        let immutable = RepositorySettings {
            tag_mutability: Some(TagMutability::Immutable),
            ..RepositorySettings::default()
        };
        let source = MemoryInspector::new(
            MemoryCatalog::default()
                .with_image("team/app", &digest(1), &["1.0.0", "2.0.0"])
                .with_image("team/app", &digest(2), &["latest"])
                .with_image("team/web", &digest(3), &["1.0.0"])
                .with_archived_image("team/web", &digest(5), &["0.9.0"])
                .with_image("other/app", &digest(4), &["whatever"]),
        )
        .with_settings("team/app", immutable.clone())
        .with_settings("team/web", RepositorySettings::default())
        .denied("team/secret");
        let destination = MemoryInspector::new(MemoryCatalog::default().with_image(
            "team/app",
            &digest(9),
            &["2.0.0"],
        ));
        let labels = MemoryImages::default()
            .with("a", &digest(1), compliant())
            .with("b", &digest(2), compliant())
            .with("c", &digest(3), crate::labels::Labels::default())
            .with("d", &digest(4), crate::labels::Labels::default());
        (
            BTreeMap::from([
                ("us-east-1".into(), source),
                ("eu-west-1".into(), destination),
            ]),
            labels,
        )
    }

    fn summary(report: &AuditReport) -> Vec<String> {
        report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {}",
                    f.repository,
                    f.check,
                    f.tag.as_deref().unwrap_or("-"),
                    f.destination.as_deref().unwrap_or("-")
                )
            })
            .collect()
    }

    /// A rule's ignores are judged across all its images: one image without the finding does
    /// not make an ignore stale while another image has it; one no image has is stale; one
    /// past its date is expired (and its finding counts again).
    #[tokio::test(flavor = "current_thread")]
    async fn scan_ignores_are_judged_across_the_rule_not_per_image() {
        let policy = Policy::from_text(
            "version: 1\nrules:\n  - name: team\n    repositories: [\"team/*\"]\n    tags: { semver: {} }\n    scan:\n      ignore:\n        - { id: CVE-2024-0001, reason: only in app }\n        - { id: CVE-2024-0002, reason: nowhere }\n        - { id: CVE-2024-0003, reason: lapsed, until: 2026-06-30 }\n",
            "test",
            SourceFormat::Yaml,
        )
        .expect("policy");
        let scanned = |ids: &[&str]| crate::ports::ScanFindings {
            state: crate::scan::ScanState::Complete,
            counts: BTreeMap::new(),
            findings: ids
                .iter()
                .map(|id| crate::scan::VulnFinding {
                    id: (*id).into(),
                    severity: crate::scan::VulnSeverity::High,
                    package: None,
                    installed_version: None,
                    fixed_in: None,
                    fixable: None,
                    uri: None,
                })
                .collect(),
        };
        let catalog = MemoryCatalog::default()
            .with_image("team/app", &digest(1), &["1.0.0"])
            .with_image("team/web", &digest(2), &["1.0.0"])
            .with_scan(&digest(1), scanned(&["cve-2024-0001", "CVE-2024-0003"]))
            .with_scan(&digest(2), scanned(&[]));
        let catalogs = BTreeMap::from([("us-east-1".to_string(), MemoryInspector::new(catalog))]);
        let labels = MemoryImages::default()
            .with("a", &digest(1), compliant())
            .with("b", &digest(2), compliant());
        let report = audit(
            &policy,
            "test",
            &catalogs,
            &labels,
            &request(None, 4),
            &|_| {},
        )
        .await
        .expect("audited");
        let ignores: Vec<(&str, &str)> = report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::ScanIgnore)
            .map(|f| (f.check, f.message.as_str()))
            .collect();
        assert_eq!(ignores.len(), 2, "{ignores:#?}");
        assert_eq!(ignores[0].0, "scan.ignore.stale");
        assert!(ignores[0].1.starts_with("the ignore of CVE-2024-0002 matches no finding of the rule's 2 scanned images in us-east-1"), "{}", ignores[0].1);
        assert_eq!(ignores[1].0, "scan.ignore.expired");
        assert!(ignores[1].1.contains("expired on 2026-06-30, and 1 of the rule's images have the finding, which counts again"), "{}", ignores[1].1);
        assert_eq!(report.totals.by_check.get("scan.ignore.stale"), Some(&1));
        assert!(!report.clean);
        // Part of the rule only: nothing can be called unneeded, only expired.
        let mut part = request(None, 4);
        part.repositories = Glob::new("team/web").expect("glob");
        let report = audit(&policy, "test", &catalogs, &labels, &part, &|_| {})
            .await
            .expect("audited");
        let checks: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::ScanIgnore)
            .map(|f| f.check)
            .collect();
        assert_eq!(checks, ["scan.ignore.expired"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn every_kind_of_finding_is_reported_and_a_denial_does_not_stop_the_audit() {
        let (catalogs, labels) = registry();
        for concurrency in [1, 8] {
            let report = audit(
                &policy(),
                "test",
                &catalogs,
                &labels,
                &request(None, concurrency),
                &|_| {},
            )
            .await
            .expect("audited");
            assert_eq!(
                summary(&report),
                [
                    "team/app tag.kinds latest -",
                    "team/app replication.missing 1.0.0 eu-west-1/team/app",
                    "team/app replication.mismatch 2.0.0 eu-west-1/team/app",
                    "team/secret access.denied - -",
                    "team/web labels.required 1.0.0 -",
                    "team/web repository.tag_mutability - -",
                ],
                "concurrency {concurrency}"
            );
            let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
            assert!(kinds.contains(&FindingKind::ReplicaMismatch));
            let other = &report.repositories[0];
            assert_eq!(
                (other.repository.as_str(), other.rule.as_deref(), other.tags),
                ("other/app", None, 1)
            );
            assert_eq!(report.totals.images, 4);
            // other/app's tag is counted apart: no rule governs it.
            assert_eq!(report.totals.tags, 4);
            assert_eq!(
                (
                    report.totals.ungoverned_repositories,
                    report.totals.ungoverned_tags
                ),
                (1, 1)
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn max_images_judges_the_first_and_counts_the_rest() {
        let (catalogs, labels) = registry();
        let report = audit(
            &policy(),
            "test",
            &catalogs,
            &labels,
            &request(Some(2), 4),
            &|_| {},
        )
        .await
        .expect("audited");
        assert_eq!(report.totals.images, 2);
        assert_eq!(report.totals.images_skipped, 2);
        assert_eq!(
            report.totals.images_archived, 1,
            "not judged: it cannot be pulled"
        );
        let app = report
            .repositories
            .iter()
            .find(|r| r.repository == "team/app")
            .expect("team/app");
        assert_eq!((app.images, app.images_skipped), (1, 1));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn throttled_reads_are_retried_and_a_read_that_keeps_failing_stops_the_audit() {
        let (mut catalogs, labels) = registry();
        let throttled = catalogs
            .remove("us-east-1")
            .expect("source")
            .throttle_next(3);
        catalogs.insert("us-east-1".into(), throttled);
        let mut patient = request(None, 1);
        patient.retry.attempts = 5;
        let report = audit(&policy(), "test", &catalogs, &labels, &patient, &|_| {})
            .await
            .expect("audited after the retries");
        assert_eq!(report.findings.len(), 6);
        assert!(catalogs["us-east-1"].reads() > 3);

        let (mut catalogs, labels) = registry();
        let throttled = catalogs
            .remove("us-east-1")
            .expect("source")
            .throttle_next(100);
        catalogs.insert("us-east-1".into(), throttled);
        let error = audit(
            &policy(),
            "test",
            &catalogs,
            &labels,
            &request(None, 1),
            &|_| {},
        )
        .await
        .expect_err("still throttled after 2 attempts");
        assert!(error.to_string().contains("throttled"), "{error}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_region_without_a_client_is_an_error() {
        let (mut catalogs, labels) = registry();
        catalogs.remove("eu-west-1");
        let error = audit(
            &policy(),
            "test",
            &catalogs,
            &labels,
            &request(None, 2),
            &|_| {},
        )
        .await
        .expect_err("no client for the destination");
        assert!(error.to_string().contains("eu-west-1"), "{error}");
    }
}
