//! `ecr-steward gate`: may this pushed image be deployed? Its tags and labels against the policy
//! (as push-guard judges them) and its scan against the rule's vulnerability bar.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use aws_sdk_ecr::types::ImageIdentifier;
use steward::aws::{classify, Ecr, Registries};
use steward::config::registry_overrides;
use steward::date::Date;
use steward::error::{Service, StewardError};
use steward::ports::{ImageReader, ScanFindings, ScanReader};
use steward::push::judge;
use steward::scan::{self, ScanRules, ScanState};

use crate::check::load_policy;
use crate::report::{ImageSummary, Report, ScanSection};
use crate::GateArgs;

pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_TIMED_OUT: u8 = 3;

/// The longest pause between two looks at the scan status.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(15);

pub fn run(args: &GateArgs) -> anyhow::Result<u8> {
    let (policy, policy_origin) = load_policy(&args.policy)?;
    crate::aws::runtime()?.block_on(async {
        let crate::aws::Aws { sdk, http, region } =
            crate::aws::connect(args.region.as_deref()).await?;
        let ecr = Ecr::new(&sdk);
        let (digest, image_tags) = resolve(
            &ecr,
            &args.repository,
            args.tag.as_deref(),
            args.digest.as_deref(),
        )
        .await?;

        let overrides = registry_overrides(&std::env::vars().collect())?;
        let registries = Registries::new(&sdk, http, overrides);
        let platforms = registries
            .platform_labels(&region, &args.repository, &digest)
            .await
            .with_context(|| {
                format!(
                    "cannot read the labels of {}@{digest} from the registry",
                    args.repository
                )
            })?;
        let tags = match &args.tag {
            Some(tag) => vec![tag.clone()],
            None => image_tags.clone(),
        };
        let results = tags
            .iter()
            .map(|tag| judge(&policy, &args.repository, tag, &platforms))
            .collect();

        let findings = match wait_for_scan(&ecr, &args.repository, &digest, args.wait).await? {
            Some(findings) => findings,
            None => {
                eprintln!(
                    "error: the scan of {}@{digest} did not complete {}",
                    args.repository,
                    match args.wait {
                        Some(wait) => format!("within {}", humantime(wait)),
                        None => "yet; pass --wait 10m to wait for it".into(),
                    }
                );
                return Ok(EXIT_TIMED_OUT);
            }
        };
        let rule = policy.rule_for(Some(&args.repository));
        let default_bar = ScanRules::default();
        let bar = rule.map_or(&default_bar, |rule| &rule.scan);
        let section = match findings.state {
            ScanState::Complete => {
                let verdict = scan::evaluate(
                    bar,
                    &findings.counts,
                    Some(&findings.findings),
                    Date::today(),
                );
                ScanSection {
                    passed: verdict.passed,
                    state: ScanState::Complete,
                    verdict: Some(verdict),
                }
            }
            state => ScanSection {
                passed: false,
                state,
                verdict: None,
            },
        };
        let image = ImageSummary {
            repository: args.repository.clone(),
            digest,
            tags: image_tags,
        };
        let report = Report::new(policy_origin, true, results).with_scan(image, section);
        print!(
            "{}",
            report.render(args.format, crate::report::use_colour())
        );
        Ok(if report.compliant {
            EXIT_PASS
        } else {
            EXIT_FAIL
        })
    })
}

/// The image's digest and tags, from a tag or a digest.
async fn resolve(
    ecr: &Ecr,
    repository: &str,
    tag: Option<&str>,
    digest: Option<&str>,
) -> anyhow::Result<(String, Vec<String>)> {
    let id = match (tag, digest) {
        (Some(tag), _) => ImageIdentifier::builder().image_tag(tag).build(),
        (None, Some(digest)) => ImageIdentifier::builder().image_digest(digest).build(),
        (None, None) => bail!("pass --tag TAG or --digest DIGEST"),
    };
    let wanted = tag.or(digest).unwrap_or_default();
    let output = ecr
        .client()
        .describe_images()
        .repository_name(repository)
        .image_ids(id)
        .send()
        .await
        .map_err(|e| classify(Service::Ecr, e))
        .map_err(|error| match error {
            StewardError::NotFound { what, .. } => {
                anyhow!("{repository}:{wanted} not found in ECR: {what}")
            }
            other => anyhow!(other),
        })?;
    let detail = output
        .image_details()
        .first()
        .ok_or_else(|| anyhow!("{repository}:{wanted} not found in ECR"))?;
    let digest = detail
        .image_digest()
        .ok_or_else(|| anyhow!("ECR returned {repository}:{wanted} without a digest"))?;
    Ok((digest.to_string(), detail.image_tags().to_vec()))
}

/// The scan's findings once it is no longer in progress; `None` when the wait ran out. A scan
/// that does not exist yet counts as in progress when the repository scans on push (it starts
/// moments after the push), and as an error when scanning is off.
async fn wait_for_scan(
    ecr: &Ecr,
    repository: &str,
    digest: &str,
    wait: Option<Duration>,
) -> anyhow::Result<Option<ScanFindings>> {
    let deadline = Instant::now() + wait.unwrap_or_default();
    let mut interval = Duration::from_secs(1);
    let mut scanning_on = None;
    loop {
        match ecr.scan_findings(repository, digest).await {
            Ok(findings) if findings.state != ScanState::InProgress => return Ok(Some(findings)),
            Ok(_) => {}
            Err(StewardError::NotFound { .. }) => {
                if scanning_on.is_none() {
                    scanning_on = Some(scans_on_push(ecr, repository).await?);
                }
                if scanning_on == Some(false) {
                    bail!(
                        "scanning is off for repository {repository}: scan-on-push is disabled and {digest} was never scanned; enable scan-on-push (aws ecr put-image-scanning-configuration --repository-name {repository} --image-scanning-configuration scanOnPush=true) or enhanced scanning, or start a scan (aws ecr start-image-scan --repository-name {repository} --image-id imageDigest={digest})"
                    );
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

/// True when the repository scans on push: by its own flag, or by a registry-level rule
/// (basic scan-on-push, or enhanced scanning on push or continuously). When the effective
/// setting cannot be read, a registry that uses enhanced scanning counts as scanning.
async fn scans_on_push(ecr: &Ecr, repository: &str) -> anyhow::Result<bool> {
    use aws_sdk_ecr::types::{ScanFrequency, ScanType};
    let client = ecr.client();
    let own_flag = client
        .describe_repositories()
        .repository_names(repository)
        .send()
        .await
        .map_err(|e| classify(Service::Ecr, e))
        .with_context(|| format!("cannot read the scanning settings of {repository}"))?
        .repositories()
        .first()
        .and_then(|r| r.image_scanning_configuration())
        .is_some_and(|c| c.scan_on_push());
    let effective = client
        .batch_get_repository_scanning_configuration()
        .repository_names(repository)
        .send()
        .await
        .ok()
        .and_then(|out| {
            out.scanning_configurations().first().map(|c| {
                c.scan_on_push()
                    || matches!(
                        c.scan_frequency(),
                        Some(ScanFrequency::ScanOnPush | ScanFrequency::ContinuousScan)
                    )
            })
        });
    Ok(match effective {
        Some(on) => on || own_flag,
        None => {
            own_flag
                || client
                    .get_registry_scanning_configuration()
                    .send()
                    .await
                    .ok()
                    .and_then(|out| {
                        out.scanning_configuration()
                            .and_then(|c| c.scan_type().cloned())
                    })
                    .is_some_and(|scan_type| scan_type == ScanType::Enhanced)
        }
    })
}

/// `90s`, `10m`, `1h30m`, `500ms`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration; write e.g. 90s, 10m or 1h"))?;
        rest = &rest[digits..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        total += match &rest[..unit_end] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number * 60),
            "h" => Duration::from_secs(number * 3600),
            unit => {
                return Err(format!(
                    "{text:?}: unknown unit {unit:?}; use ms, s, m or h"
                ))
            }
        };
        rest = &rest[unit_end..];
    }
    Ok(total)
}

fn humantime(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0 => format!("{}ms", duration.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("10d").is_err());
        assert_eq!(humantime(Duration::from_secs(600)), "10m");
    }
}
