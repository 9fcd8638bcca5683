//! `gate`: may a pushed image be deployed? Its tags and labels against the policy (as
//! push-guard judges them), and its scan against the rule's bar (as scan-alert judges it).

use std::time::{Duration, Instant};

use crate::date::Date;
use crate::error::StewardError;
use crate::image::{ImageSelector, TaggedImage};
use crate::policy::{Policy, ScanJudgement, TagVerdict};
use crate::ports::{ImageCatalog, ImageReader, ProvenanceReader, ScanReader};
use crate::provenance::{self, ProvenanceRules, ProvenanceState, ProvenanceVerdict};
use crate::push::judge;
use crate::scan::ScanState;
use crate::timestamp::Timestamp;

/// The longest pause between two looks at the scan status.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// What to gate.
#[derive(Debug, Clone)]
pub struct GateRequest {
    /// The image's region.
    pub region: String,
    /// The image's repository.
    pub repository: String,
    /// By tag, only that tag is judged; by digest, every tag of the image.
    pub image: ImageSelector,
    /// How long to wait for the scan to complete; `None` looks once.
    pub wait: Option<Duration>,
    /// Today, for scan ignores that expire.
    pub today: Date,
    /// Judge the image's provenance even where the rule's `provenance` does not ask for it
    /// (a signature, by any scheme, where the rule has no `provenance`).
    pub require_provenance: bool,
    /// The time signatures and certificates are judged at.
    pub now: Timestamp,
}

/// The gate's findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// The image's repository.
    pub repository: String,
    /// The image, with all its tags.
    pub image: TaggedImage,
    /// One verdict per judged tag.
    pub results: Vec<TagVerdict>,
    /// The scan half.
    pub scan: GateScan,
    /// The provenance half, where the rule (or `require_provenance`) asks for it.
    pub provenance: Option<ProvenanceVerdict>,
}

/// The scan half of a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateScan {
    /// The scan completed and was judged (or the repository is not governed).
    Judged(ScanJudgement),
    /// The scan ended without findings (`FAILED`, `UNSUPPORTED_IMAGE`, …).
    Incomplete(ScanState),
    /// The scan was still running when the wait ran out.
    TimedOut {
        /// How long the gate waited.
        waited: Duration,
    },
    /// The image was never scanned and the repository does not scan on push.
    Off,
}

impl Gate {
    /// True when every tag is compliant and the scan is within the bar (or not governed).
    pub fn passed(&self) -> bool {
        let scan_passed = match &self.scan {
            GateScan::Judged(ScanJudgement::Ungoverned) => true,
            GateScan::Judged(ScanJudgement::Judged { verdict, .. }) => verdict.passed,
            GateScan::Incomplete(_) | GateScan::TimedOut { .. } | GateScan::Off => false,
        };
        let provenance_passed = self
            .provenance
            .as_ref()
            .is_none_or(|p| p.state == ProvenanceState::Satisfied);
        scan_passed && provenance_passed && self.results.iter().all(|r| r.compliant)
    }
}

/// Why there is no gate to report.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// ECR has no such image.
    #[error("{repository}{image} not found in ECR")]
    ImageNotFound {
        /// The repository looked in.
        repository: String,
        /// The image looked for.
        image: ImageSelector,
    },
    /// The registry could not give the image's labels.
    #[error("cannot read the labels of {repository}@{digest} from the registry: {source}")]
    Labels {
        /// The image's repository.
        repository: String,
        /// The image.
        digest: String,
        /// Why.
        source: StewardError,
    },
    /// A digest given in part, too short to name one image but by chance.
    #[error("{given} is too short to name an image: give at least 12 hex digits (sha256:0123456789ab, as the tables print it), or the whole digest")]
    DigestTooShort {
        /// The digest as given.
        given: String,
    },
    /// A digest given in part matches no tagged image of the repository, or several.
    #[error("{given} is not a whole digest, and it is the start of {} of {repository}'s tagged images{}; give the whole digest (sha256: and 64 hex digits), as `aws ecr describe-images --repository-name {repository} --query 'imageDetails[].imageDigest'` lists them", if .matches.is_empty() { "none".to_string() } else { .matches.len().to_string() }, if .matches.is_empty() { String::new() } else { format!(" ({})", .matches.join(", ")) })]
    ShortDigest {
        /// The repository looked in.
        repository: String,
        /// The digest as given.
        given: String,
        /// The digests it is the start of.
        matches: Vec<String>,
    },
    /// ECR failed otherwise.
    #[error(transparent)]
    Service(#[from] StewardError),
}

/// What the scan was doing at one look while the gate waits: its state, and how long the
/// gate has waited so far.
pub type WaitProgress<'a> = &'a (dyn Fn(&ScanState, Duration) + Sync);

/// Gates one image: finds it, judges its tags on every platform's labels, waits for its scan
/// (polling with backoff up to [`MAX_POLL_INTERVAL`], telling `progress` at every look) and
/// judges that.
pub async fn gate<C, R>(
    policy: &Policy,
    ecr: &C,
    registry: &R,
    request: &GateRequest,
    progress: WaitProgress<'_>,
) -> Result<Gate, GateError>
where
    C: ImageCatalog + ScanReader,
    R: ImageReader + ProvenanceReader,
{
    let repository = &request.repository;
    let selector = resolve_short_digest(ecr, repository, &request.image).await?;
    let image = ecr
        .find_image(repository, &selector)
        .await?
        .ok_or_else(|| GateError::ImageNotFound {
            repository: repository.clone(),
            image: request.image.clone(),
        })?;
    let platforms = registry
        .platform_labels(&request.region, repository, &image.digest)
        .await
        .map_err(|source| GateError::Labels {
            repository: repository.clone(),
            digest: image.digest.clone(),
            source,
        })?;
    let tags = match &request.image {
        ImageSelector::Tag(tag) => vec![tag.clone()],
        ImageSelector::Digest(_) => image.tags.clone(),
    };
    let results = tags
        .iter()
        .map(|tag| judge(policy, repository, tag, &platforms))
        .collect();
    let section = policy
        .rule_for(Some(repository.as_str()))
        .and_then(|rule| rule.provenance.as_ref())
        .filter(|section| tags.iter().any(|tag| section.applies_to(tag)));
    let provenance_rules = match section {
        Some(section) => Some(section.clone()),
        None if request.require_provenance => Some(
            policy
                .rule_for(Some(repository.as_str()))
                .and_then(|rule| rule.provenance.clone())
                .unwrap_or_else(ProvenanceRules::any_signature),
        ),
        None => None,
    };
    let provenance = match provenance_rules {
        Some(rules) => {
            let evidence = registry
                .provenance(
                    &request.region,
                    repository,
                    &image.digest,
                    rules.schemes.contains(&provenance::Scheme::EcrManaged),
                )
                .await?;
            Some(provenance::judge(&evidence, &rules, None, request.now))
        }
        None => None,
    };
    let scan = match wait_for_scan(ecr, repository, &image.digest, request.wait, progress).await? {
        Waited::Out => GateScan::TimedOut {
            waited: request.wait.unwrap_or_default(),
        },
        Waited::ScanningOff => GateScan::Off,
        Waited::Done(findings) => match findings.state {
            ScanState::Complete => GateScan::Judged(policy.judge_scan(
                repository,
                &findings.counts,
                Some(&findings.findings),
                request.today,
            )),
            state => GateScan::Incomplete(state),
        },
    };
    Ok(Gate {
        repository: repository.clone(),
        image,
        results,
        scan,
        provenance,
    })
}

/// A digest given in part (`sha256:0123456789ab`, as the CLI's tables print them, with or
/// without `sha256:`) stands for the one tagged image whose digest starts so.
async fn resolve_short_digest<C: ImageCatalog>(
    ecr: &C,
    repository: &str,
    selector: &ImageSelector,
) -> Result<ImageSelector, GateError> {
    const WHOLE: usize = "sha256:".len() + 64;
    // As the tables print it: fewer digits would name an image by chance.
    const SHORTEST: usize = 12;
    let ImageSelector::Digest(given) = selector else {
        return Ok(selector.clone());
    };
    let hex = given.strip_prefix("sha256:").unwrap_or(given);
    let is_hex = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if given.len() == WHOLE || !is_hex {
        return Ok(selector.clone());
    }
    if hex.len() == 64 {
        return Ok(ImageSelector::Digest(format!("sha256:{hex}")));
    }
    if hex.len() < SHORTEST {
        return Err(GateError::DigestTooShort {
            given: given.clone(),
        });
    }
    let prefix = format!("sha256:{hex}");
    let matches: Vec<String> = ecr
        .tagged_images(repository)
        .await?
        .into_iter()
        .map(|image| image.digest)
        .filter(|digest| digest.starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [digest] => Ok(ImageSelector::Digest(digest.clone())),
        _ => Err(GateError::ShortDigest {
            repository: repository.into(),
            given: given.clone(),
            matches,
        }),
    }
}

/// How a wait for a scan ended.
enum Waited {
    Done(crate::ports::ScanFindings),
    Out,
    ScanningOff,
}

/// The scan's findings once it is no longer in progress. A scan that does not exist yet counts
/// as in progress when the repository scans on push (it starts moments after the push).
async fn wait_for_scan<C: ImageCatalog + ScanReader>(
    ecr: &C,
    repository: &str,
    digest: &str,
    wait: Option<Duration>,
    progress: WaitProgress<'_>,
) -> Result<Waited, GateError> {
    let started = Instant::now();
    let deadline = started + wait.unwrap_or_default();
    let mut interval = Duration::from_secs(1);
    let mut scanning_on = None;
    loop {
        match ecr.scan_findings(repository, digest).await {
            Ok(findings) if findings.state != ScanState::InProgress => {
                return Ok(Waited::Done(findings))
            }
            Ok(_) => {}
            Err(StewardError::NotFound { .. }) => {
                if scanning_on.is_none() {
                    scanning_on = Some(ecr.scans_on_push(repository).await?);
                }
                if scanning_on == Some(false) {
                    return Ok(Waited::ScanningOff);
                }
            }
            Err(other) => return Err(other.into()),
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Waited::Out);
        }
        progress(&ScanState::InProgress, now - started);
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::labels::samples::compliant;
    use crate::policy::SourceFormat;
    use crate::ports::ScanFindings;
    use crate::scan::{VulnFinding, VulnSeverity};
    use crate::testing::{MemoryCatalog, MemoryImages};

    const DIGEST: &str = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd";

    fn request(repository: &str, image: ImageSelector) -> GateRequest {
        GateRequest {
            region: "us-east-1".into(),
            repository: repository.into(),
            image,
            wait: None,
            today: Date::parse("2026-12-01").expect("date"),
            require_provenance: false,
            now: crate::timestamp::Timestamp(1_800_000_000),
        }
    }

    fn scanned(critical: u64) -> ScanFindings {
        let finding = |n: u64| VulnFinding {
            id: format!("CVE-2026-{n:04}"),
            severity: VulnSeverity::Critical,
            package: Some("xz-utils".into()),
            installed_version: Some("5.6.0".into()),
            fixed_in: None,
            fixable: None,
            uri: None,
        };
        ScanFindings {
            state: ScanState::Complete,
            counts: BTreeMap::from([(VulnSeverity::Critical, critical)]),
            findings: (0..critical).map(finding).collect(),
        }
    }

    fn registry() -> MemoryImages {
        MemoryImages::default().with("1.2.3", DIGEST, compliant())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_clean_image_passes_and_a_critical_finding_fails() {
        let policy = Policy::builtin();
        for (critical, passed) in [(0, true), (1, false)] {
            let ecr = MemoryCatalog::default()
                .with_image("team/app", DIGEST, &["1.2.3", "latest"])
                .with_scan(DIGEST, scanned(critical));
            let found = gate(
                &policy,
                &ecr,
                &registry(),
                &request("team/app", ImageSelector::Tag("1.2.3".into())),
                &|_, _| {},
            )
            .await
            .expect("gated");
            assert_eq!(found.passed(), passed, "{critical} critical");
            assert_eq!(found.results.len(), 1, "by tag, only that tag");
            assert_eq!(found.image.tags, ["1.2.3", "latest"]);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_digest_as_tables_print_it_names_the_one_image_it_starts() {
        let ecr = MemoryCatalog::default()
            .with_image("team/app", DIGEST, &["1.2.3"])
            .with_scan(DIGEST, scanned(0));
        for short in [&DIGEST[..19], &DIGEST[7..19]] {
            let found = gate(
                &Policy::builtin(),
                &ecr,
                &registry(),
                &request("team/app", ImageSelector::Digest(short.into())),
                &|_, _| {},
            )
            .await
            .expect("gated");
            assert_eq!(found.image.digest, DIGEST, "{short}");
        }
        let error = gate(
            &Policy::builtin(),
            &ecr,
            &registry(),
            &request(
                "team/app",
                ImageSelector::Digest("sha256:ffffffffffff".into()),
            ),
            &|_, _| {},
        )
        .await
        .expect_err("no such image");
        assert!(
            error.to_string().contains(
                "is the start of none of team/app's tagged images; give the whole digest"
            ),
            "{error}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn by_digest_every_tag_is_judged() {
        let ecr = MemoryCatalog::default()
            .with_image("team/app", DIGEST, &["1.2.3", "latest"])
            .with_scan(DIGEST, scanned(0));
        let found = gate(
            &Policy::builtin(),
            &ecr,
            &registry(),
            &request("team/app", ImageSelector::Digest(DIGEST.into())),
            &|_, _| {},
        )
        .await
        .expect("gated");
        let compliant: Vec<bool> = found.results.iter().map(|r| r.compliant).collect();
        assert_eq!(compliant, [true, false], "latest is denied");
        assert!(!found.passed());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_ungoverned_repository_s_scan_is_not_judged_as_scan_alert_does_not() {
        let policy = Policy::from_text(
            "version: 1\nrules:\n  - repositories: [\"team/*\"]\n    tags: { semver: {} }\n",
            "test",
            SourceFormat::Yaml,
        )
        .expect("policy");
        let ecr = MemoryCatalog::default()
            .with_image("other/app", DIGEST, &["1.2.3"])
            .with_scan(DIGEST, scanned(9));
        let found = gate(
            &policy,
            &ecr,
            &registry(),
            &request("other/app", ImageSelector::Tag("1.2.3".into())),
            &|_, _| {},
        )
        .await
        .expect("gated");
        assert_eq!(found.scan, GateScan::Judged(ScanJudgement::Ungoverned));
        assert!(found.passed());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn no_scan_yet_times_out_or_says_scanning_is_off() {
        let scanning = MemoryCatalog::default()
            .with_image("team/app", DIGEST, &["1.2.3"])
            .scanning("team/app");
        let request = request("team/app", ImageSelector::Tag("1.2.3".into()));
        let found = gate(
            &Policy::builtin(),
            &scanning,
            &registry(),
            &request,
            &|_, _| {},
        )
        .await
        .expect("gated");
        assert_eq!(
            found.scan,
            GateScan::TimedOut {
                waited: Duration::ZERO
            }
        );
        assert!(!found.passed());

        let off = MemoryCatalog::default().with_image("team/app", DIGEST, &["1.2.3"]);
        let found = gate(&Policy::builtin(), &off, &registry(), &request, &|_, _| {})
            .await
            .expect("the tags are still judged");
        assert_eq!(found.scan, GateScan::Off);
        assert_eq!(found.results.len(), 1);
        assert!(!found.passed());

        let missing = gate(
            &Policy::builtin(),
            &off,
            &registry(),
            &request_for_missing(),
            &|_, _| {},
        )
        .await
        .expect_err("no such image");
        assert_eq!(missing.to_string(), "team/app:9.9.9 not found in ECR");
    }

    fn request_for_missing() -> GateRequest {
        request("team/app", ImageSelector::Tag("9.9.9".into()))
    }
}
