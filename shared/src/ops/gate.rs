//! `gate`: may a pushed image be deployed? Its tags and labels against the policy (as
//! push-guard judges them), and its scan against the rule's bar (as scan-alert judges it).

use std::time::{Duration, Instant};

use crate::date::Date;
use crate::error::StewardError;
use crate::image::{ImageSelector, TaggedImage};
use crate::policy::{Policy, ScanJudgement, TagVerdict};
use crate::ports::{ImageCatalog, ImageReader, ScanReader};
use crate::push::judge;
use crate::scan::ScanState;

/// The longest pause between two looks at the scan status.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(15);

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
}

impl Gate {
    /// True when every tag is compliant and the scan is within the bar (or not governed).
    pub fn passed(&self) -> bool {
        let scan_passed = match &self.scan {
            GateScan::Judged(ScanJudgement::Ungoverned) => true,
            GateScan::Judged(ScanJudgement::Judged { verdict, .. }) => verdict.passed,
            GateScan::Incomplete(_) | GateScan::TimedOut { .. } => false,
        };
        scan_passed && self.results.iter().all(|r| r.compliant)
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
    /// The image was never scanned and the repository does not scan on push.
    #[error("scanning is off for repository {repository}: scan-on-push is disabled and {digest} was never scanned; enable scan-on-push (aws ecr put-image-scanning-configuration --repository-name {repository} --image-scanning-configuration scanOnPush=true) or enhanced scanning, or start a scan (aws ecr start-image-scan --repository-name {repository} --image-id imageDigest={digest})")]
    ScanningOff {
        /// The repository that does not scan.
        repository: String,
        /// The image that was never scanned.
        digest: String,
    },
    /// ECR failed otherwise.
    #[error(transparent)]
    Service(#[from] StewardError),
}

/// Gates one image: finds it, judges its tags on every platform's labels, waits for its scan
/// (polling with backoff up to [`MAX_POLL_INTERVAL`]) and judges that.
pub async fn gate<C, R>(
    policy: &Policy,
    ecr: &C,
    registry: &R,
    request: &GateRequest,
) -> Result<Gate, GateError>
where
    C: ImageCatalog + ScanReader,
    R: ImageReader,
{
    let repository = &request.repository;
    let image = ecr
        .find_image(repository, &request.image)
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
    let scan = match wait_for_scan(ecr, repository, &image.digest, request.wait).await? {
        None => GateScan::TimedOut {
            waited: request.wait.unwrap_or_default(),
        },
        Some(findings) => match findings.state {
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
    })
}

/// The scan's findings once it is no longer in progress; `None` when the wait ran out. A scan
/// that does not exist yet counts as in progress when the repository scans on push (it starts
/// moments after the push), and as an error when scanning is off.
async fn wait_for_scan<C: ImageCatalog + ScanReader>(
    ecr: &C,
    repository: &str,
    digest: &str,
    wait: Option<Duration>,
) -> Result<Option<crate::ports::ScanFindings>, GateError> {
    let deadline = Instant::now() + wait.unwrap_or_default();
    let mut interval = Duration::from_secs(1);
    let mut scanning_on = None;
    loop {
        match ecr.scan_findings(repository, digest).await {
            Ok(findings) if findings.state != ScanState::InProgress => return Ok(Some(findings)),
            Ok(_) => {}
            Err(StewardError::NotFound { .. }) => {
                if scanning_on.is_none() {
                    scanning_on = Some(ecr.scans_on_push(repository).await?);
                }
                if scanning_on == Some(false) {
                    return Err(GateError::ScanningOff {
                        repository: repository.into(),
                        digest: digest.into(),
                    });
                }
            }
            Err(other) => return Err(other.into()),
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
    }
}
