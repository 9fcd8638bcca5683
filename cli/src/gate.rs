//! `ecr-steward gate`: the arguments, one call to `steward::ops::gate`, the report.

use std::time::Duration;

use anyhow::bail;
use steward::aws::{Ecr, Registries};
use steward::config::registry_overrides;
use steward::date::Date;
use steward::image::ImageSelector;
use steward::ops::gate::{gate, GateRequest, GateScan};
use steward::policy::ScanJudgement;
use steward::provenance::ProvenanceState;
use steward::scan::ScanState;

use crate::check::load_policy;
use crate::exit::Exit;
use crate::progress::Every;
use crate::render::{ImageSummary, Report, ScanSection, SCANNING_OFF};
use crate::GateArgs;

pub fn run(args: &GateArgs) -> anyhow::Result<Exit> {
    let (policy, policy_origin) = load_policy(&args.policy)?;
    let image = match (&args.tag, &args.digest) {
        (Some(tag), _) => ImageSelector::Tag(tag.clone()),
        (None, Some(digest)) => ImageSelector::Digest(digest.clone()),
        (None, None) => bail!("pass --tag TAG or --digest DIGEST"),
    };
    crate::aws::runtime()?.block_on(async {
        let crate::aws::Aws { sdk, http, region } =
            crate::aws::connect(args.region.as_deref()).await?;
        let registries =
            Registries::new(&sdk, http, registry_overrides(&std::env::vars().collect())?);
        let request = GateRequest {
            region,
            repository: args.repository.clone(),
            image,
            wait: args.wait,
            today: Date::today(),
            require_provenance: args.require_provenance,
            now: steward::timestamp::Timestamp::now(),
        };
        let subject = format!("{}{}", request.repository, request.image);
        if let Some(wait) = args.wait {
            eprintln!("gate: waiting up to {} for the scan of {subject}", humantime(wait));
        }
        // A line every few seconds (10 at most) while waiting, terminal or not: CI logs show the gate is alive.
        let every = Every::new(
            (args.wait.unwrap_or_default() / 6)
                .clamp(Duration::from_secs(1), Duration::from_secs(10)),
        );
        let progress = |_: &ScanState, waited: Duration| {
            if every.due(false) {
                eprintln!(
                    "gate: the scan of {subject} is still in progress, {} waited of {}",
                    humantime(Duration::from_secs(waited.as_secs())),
                    humantime(args.wait.unwrap_or_default())
                );
            }
        };
        let found = gate(&policy, &Ecr::new(&sdk), &registries, &request, &progress).await?;
        // --strict: a repository no rule governs fails the gate instead of passing it unjudged.
        let tags_passed = found.results.iter().all(|r| r.compliant)
            && !(args.strict && found.results.iter().any(|r| r.rule.is_none()));
        let repository = found.repository.clone();
        let digest = found.image.digest.clone();
        let provenance = found.provenance.clone();
        let provenance_state = provenance.as_ref().map(|p| p.state);
        let (section, unknown) = match found.scan {
            GateScan::Judged(ScanJudgement::Judged { verdict, .. }) => (
                ScanSection {
                    passed: verdict.passed,
                    state: ScanState::Complete,
                    verdict: Some(verdict),
                    note: None,
                },
                None,
            ),
            GateScan::Judged(ScanJudgement::Ungoverned) => (
                ScanSection {
                    passed: true,
                    state: ScanState::Complete,
                    verdict: None,
                    note: Some(
                        "no rule of the policy governs the repository, so its scan is not judged"
                            .into(),
                    ),
                },
                None,
            ),
            GateScan::Incomplete(state) => (
                ScanSection {
                    passed: false,
                    state,
                    verdict: None,
                    note: None,
                },
                None,
            ),
            GateScan::Off => (
                ScanSection {
                    passed: false,
                    state: ScanState::Failed {
                        status: SCANNING_OFF.into(),
                        reason: String::new(),
                    },
                    verdict: None,
                    note: Some(format!("scanning is off: scan-on-push is disabled for {repository} and the image was never scanned; enable scan-on-push (aws ecr put-image-scanning-configuration --repository-name {repository} --image-scanning-configuration scanOnPush=true) or enhanced scanning, or start a scan (aws ecr start-image-scan --repository-name {repository} --image-id imageDigest={digest})")),
                },
                Some(Exit::Error),
            ),
            GateScan::TimedOut { waited } => (
                ScanSection {
                    passed: false,
                    state: ScanState::InProgress,
                    verdict: None,
                    note: Some(match args.wait {
                        Some(_) => {
                            format!("the scan did not complete within {}", humantime(waited))
                        }
                        None => {
                            "the scan did not complete yet; pass --wait 10m to wait for it".into()
                        }
                    }),
                },
                Some(Exit::TimedOut),
            ),
        };
        let image = ImageSummary {
            repository: found.repository,
            digest: found.image.digest,
            tags: found.image.tags,
        };
        if let (Some(_), Some(note)) = (unknown, &section.note) {
            eprintln!(
                "error: the scan of {}@{}: {}",
                image.repository,
                image.digest,
                note.trim_start_matches("the scan ")
            );
        }
        let scan_passed = section.passed;
        let report = Report::new(policy_origin, true, found.results)
            .with_scan(image, section)
            .with_provenance(provenance);
        report.emit(args.format, args.summary.as_deref())?;
        // The worst verdict decides: a tag or a scan that fails is a failure whatever else is
        // unknown; then a scan that cannot be judged (off: 2, still running: 3).
        let scan_failed = unknown.is_none() && !scan_passed;
        let provenance_failed = provenance_state == Some(ProvenanceState::Missing);
        let unknown = unknown.or(
            (provenance_state == Some(ProvenanceState::Pending)).then_some(Exit::TimedOut),
        );
        Ok(match unknown {
            _ if !tags_passed || scan_failed || provenance_failed => Exit::Fail,
            Some(exit) => exit,
            None => Exit::Pass,
        })
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
