//! scan-alert: on `ECR Image Scan` (basic) and `Inspector2 Scan` (enhanced) events, compares
//! the findings with the rule's vulnerability bar and notifies.

#![warn(missing_docs)]

use steward::error::StewardError;
use steward::events::StewardEvent;
use steward::harness::{Handled, Handler, Invocation};
use steward::image::Digest;
use steward::metrics::Function;
use steward::policy::ScanJudgement;
use steward::policy_source::LivePolicy;
use steward::ports::{Notifier, ScanReader};
use steward::scan::{
    failed_scan_notification, scan_notification, JudgedScan, ScanEvent, ScanKind, ScanReport,
    ScanState,
};
use tracing::info;

/// Why a scan of a repository that no rule governs is not judged.
const UNGOVERNED: &str = "no rule of the policy governs the repository";

/// scan-alert on its ports: `S` reads scan findings from ECR, `N` publishes notifications.
pub struct ScanAlert<S, N> {
    /// The policy whose scan bars apply; read once an invocation.
    pub policy: LivePolicy,
    /// Notify about scans that pass the bar too.
    pub notify_clean: bool,
    /// Reads the scan findings.
    pub scans: S,
    /// Publishes the alerts.
    pub notifier: N,
}

impl<S: ScanReader, N: Notifier> Handler for ScanAlert<S, N> {
    const FUNCTION: Function = Function::ScanAlert;
    type Report = ScanReport;

    /// Reads and a publish only: the whole of it may be cut off by the deadline (a retry
    /// publishes again).
    async fn handle(
        &self,
        event: StewardEvent,
        invocation: Invocation,
    ) -> Result<Handled<ScanReport>, StewardError> {
        invocation
            .deadline
            .run(self.alert(event, invocation.today))
            .await
    }
}

impl<S: ScanReader, N: Notifier> ScanAlert<S, N> {
    async fn alert(
        &self,
        event: StewardEvent,
        today: steward::date::Date,
    ) -> Result<Handled<ScanReport>, StewardError> {
        let scan = match event {
            StewardEvent::ImageScan(event) => ScanEvent::from_event(ScanKind::Basic, &event),
            StewardEvent::Inspector2Scan(event) => {
                ScanEvent::from_event(ScanKind::Enhanced, &event)
            }
            other => return Ok(Handled::other_event(&other)),
        };
        let image = &scan.image;
        if Digest::parse(&image.digest).is_err() {
            return Err(StewardError::MalformedEvent(
                "a scan event without a valid image-digest".into(),
            ));
        }
        match &scan.state {
            ScanState::InProgress => return Ok(Handled::skipped("the scan is still in progress")),
            ScanState::Failed { status, .. } => {
                self.notifier
                    .publish(&failed_scan_notification(&scan))
                    .await?;
                info!(repository = %image.repository, digest = %image.digest, status, "scan failed");
                return Ok(Handled::Done(ScanReport::ScanFailed {
                    repository: image.repository.clone(),
                    digest: image.digest.clone(),
                    status: status.clone(),
                }));
            }
            ScanState::Complete => {}
        }
        let policy = self.policy.current();
        if policy.rule_for(Some(&image.repository)).is_none() {
            return Ok(Handled::skipped(UNGOVERNED));
        }
        // ECR's own record is authoritative; the event's counts serve when it cannot be read,
        // and then ignores and `fixable_only` cannot apply.
        let found = self
            .scans
            .scan_findings(&image.repository, &image.digest)
            .await;
        let (reported, findings) = match found {
            Ok(found) if found.counts.is_empty() => (scan.counts.clone(), Some(found.findings)),
            Ok(found) => (found.counts, Some(found.findings)),
            Err(StewardError::NotFound { .. }) => (scan.counts.clone(), None),
            Err(other) => return Err(other),
        };
        let (rule, verdict) =
            match policy.judge_scan(&image.repository, &reported, findings.as_deref(), today) {
                ScanJudgement::Ungoverned => return Ok(Handled::skipped(UNGOVERNED)),
                ScanJudgement::Judged { rule, verdict } => (rule, verdict),
            };
        // Ignores that match nothing here may serve another image of the rule: `audit` judges
        // them across the rule, so they alone never make a scan worth a message.
        let notify = !verdict.passed || self.notify_clean;
        if notify {
            self.notifier
                .publish(&scan_notification(&scan, &verdict, Some(&rule)))
                .await?;
        }
        info!(
            repository = %image.repository,
            digest = %image.digest,
            passed = verdict.passed,
            notified = notify,
            breaches = verdict.breaches.len(),
            "scan judged"
        );
        Ok(Handled::Done(ScanReport::judged(JudgedScan {
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            tags: scan.tags.clone(),
            kind: scan.kind,
            rule,
            notified: notify,
            verdict,
        })))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use steward::error::Service;
    use steward::policy::{Policy, SourceFormat};
    use steward::ports::ScanFindings;
    use steward::scan::{VulnFinding, VulnSeverity};
    use steward::testing::Inbox;

    use serde_json::json;
    use steward::date::Date;
    use steward::harness::Invocation;

    use super::*;
    use steward::harness::Invoke;

    /// Findings by digest; an absent digest has no findings on record.
    struct Scans(BTreeMap<String, Vec<VulnFinding>>);

    impl ScanReader for Scans {
        async fn scan_findings(
            &self,
            repository: &str,
            digest: &str,
        ) -> Result<ScanFindings, StewardError> {
            let findings = self.0.get(digest).cloned().ok_or(StewardError::NotFound {
                service: Service::Ecr,
                what: format!("scan of {repository}@{digest}"),
            })?;
            Ok(ScanFindings {
                state: ScanState::Complete,
                counts: BTreeMap::new(),
                findings,
            })
        }
    }

    const DIGEST: &str = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd";

    fn cve(id: &str, severity: VulnSeverity) -> VulnFinding {
        VulnFinding {
            id: id.into(),
            severity,
            package: Some("openssl".into()),
            installed_version: Some("3.0.1".into()),
            fixed_in: Some("3.0.2".into()),
            fixable: Some(true),
            uri: None,
        }
    }

    fn alert(
        policy: &str,
        findings: Option<Vec<VulnFinding>>,
        notify_clean: bool,
    ) -> ScanAlert<Scans, Inbox> {
        ScanAlert {
            policy: Policy::from_text(policy, "test", SourceFormat::Yaml)
                .expect("policy")
                .into(),
            notify_clean,
            scans: Scans(
                findings
                    .map(|f| BTreeMap::from([(DIGEST.to_string(), f)]))
                    .unwrap_or_default(),
            ),
            notifier: Inbox::default(),
        }
    }

    use steward::testing::sample_event as sample;

    fn today() -> Date {
        Date::parse("2026-11-23").expect("date")
    }

    const BAR: &str =
        "version: 1\nrules:\n  - tags: {}\n    scan: { thresholds: { CRITICAL: 0, HIGH: 20 } }\n";

    #[tokio::test(flavor = "current_thread")]
    async fn basic_scan_over_the_bar_notifies() {
        let alert = alert(
            BAR,
            Some(vec![
                cve("CVE-1", VulnSeverity::Critical),
                cve("CVE-2", VulnSeverity::Critical),
            ]),
            false,
        );
        let report = alert
            .invoke_with(sample("image-scan-basic.json"), Invocation::on(today()))
            .await
            .expect("handled");
        assert_eq!(report["outcome"], "failed");
        assert_eq!(report["kind"], "basic");
        let inbox = alert.notifier.received();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].outcome, "failed");
        assert!(
            inbox[0].description.contains("CRITICAL 2 > 0 allowed"),
            "{}",
            inbox[0].description
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn enhanced_scan_names_the_repository_from_its_arn() {
        let alert = alert(BAR, None, false);
        let report = alert
            .invoke_with(sample("inspector2-scan.json"), Invocation::on(today()))
            .await
            .expect("handled");
        assert_eq!(report["repository"], "team-a/api");
        assert_eq!(report["kind"], "enhanced");
        // Counts only (findings unavailable): CRITICAL 1 breaks the bar, TOTAL is not a severity.
        assert_eq!(report["verdict"]["findings_known"], false);
        assert_eq!(report["verdict"]["counted"]["CRITICAL"], 1);
        assert!(report["verdict"]["counted"].get("TOTAL").is_none());
        assert_eq!(alert.notifier.received()[0].outcome, "failed");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn clean_scans_notify_only_when_configured() {
        let quiet = alert(BAR, Some(vec![]), false);
        let report = quiet
            .invoke_with(
                sample("image-scan-basic-clean.json"),
                Invocation::on(today()),
            )
            .await
            .expect("handled");
        assert_eq!(
            (report["outcome"].as_str(), report["notified"].as_bool()),
            (Some("passed"), Some(false))
        );
        assert!(quiet.notifier.received().is_empty());
        let chatty = alert(BAR, Some(vec![]), true);
        chatty
            .invoke_with(
                sample("image-scan-basic-clean.json"),
                Invocation::on(today()),
            )
            .await
            .expect("handled");
        assert_eq!(chatty.notifier.received()[0].outcome, "passed");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn ignores_for_other_images_keep_a_clean_scan_quiet() {
        const IGNORING: &str = "version: 1\nrules:\n  - tags: {}\n    scan:\n      thresholds: { CRITICAL: 0 }\n      ignore:\n        - { id: CVE-2014-0160, reason: not reachable }\n        - { id: CVE-1, reason: fixed upstream, until: 2026-01-31 }\n";
        let quiet = alert(IGNORING, Some(vec![cve("CVE-7", VulnSeverity::Low)]), false);
        let report = quiet
            .invoke_with(sample("image-scan-basic.json"), Invocation::on(today()))
            .await
            .expect("handled");
        assert_eq!(report["outcome"], "passed");
        assert_eq!(report["notified"], false);
        assert!(quiet.notifier.received().is_empty());

        // An expired ignore that matches a finding here counts again, and the message says so.
        let lapsed = alert(
            IGNORING,
            Some(vec![cve("CVE-1", VulnSeverity::Critical)]),
            false,
        );
        lapsed
            .invoke_with(sample("image-scan-basic.json"), Invocation::on(today()))
            .await
            .expect("handled");
        let inbox = lapsed.notifier.received();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].outcome, "failed");
        assert!(
            inbox[0]
                .description
                .contains("The ignore of CVE-1 expired on 2026-01-31, so it counts again."),
            "{}",
            inbox[0].description
        );
        assert!(!inbox[0].description.contains("CVE-2014-0160"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failed_scans_notify_as_such_and_others_are_skipped() {
        let alert = alert(BAR, None, false);
        let mut failed = sample("image-scan-basic.json");
        failed["detail"]["scan-status"] = "UNSUPPORTED_IMAGE".into();
        let report = alert
            .invoke_with(failed, Invocation::on(today()))
            .await
            .expect("handled");
        assert_eq!(report["outcome"], "scan-failed");
        assert_eq!(alert.notifier.received()[0].outcome, "scan-failed");
        let push = alert
            .invoke_with(sample("image-push-semver.json"), Invocation::on(today()))
            .await
            .expect("handled");
        assert!(push["outcome"] == "skipped");
        let error = alert
            .invoke_with(
                json!({"detail-type": "ECR Image Scan", "source": "aws.ecr", "detail": {}}),
                Invocation::on(today()),
            )
            .await
            .expect_err("malformed");
        assert_eq!(error.error_type(), "NonRetryable.MalformedEvent");
    }

    mod metrics {
        use steward::metrics::{Dimension, Metric};

        use super::*;

        #[tokio::test(flavor = "current_thread")]
        async fn scans_count_their_outcome_and_breaches_by_severity() {
            let findings = vec![
                cve("CVE-1", VulnSeverity::Critical),
                cve("CVE-2", VulnSeverity::Critical),
            ];
            let over = alert(BAR, Some(findings), false)
                .answer(sample("image-scan-basic.json"), Invocation::on(today()))
                .await;
            let m = &over.metrics;
            assert_eq!(
                m.total(Metric::Events, &[(Dimension::Outcome, "failed")]),
                1
            );
            assert_eq!(
                m.total(Metric::ScanBreaches, &[(Dimension::Severity, "CRITICAL")]),
                1,
                "one breach: CRITICAL over its bar"
            );
            assert_eq!(m.total(Metric::ScanBreaches, &[]), 1);

            let clean = alert(BAR, Some(vec![]), false)
                .answer(
                    sample("image-scan-basic-clean.json"),
                    Invocation::on(today()),
                )
                .await;
            let m = &clean.metrics;
            assert_eq!(
                m.total(Metric::Events, &[(Dimension::Outcome, "passed")]),
                1
            );
            assert_eq!(m.total(Metric::ScanBreaches, &[]), 0);

            let mut failed = sample("image-scan-basic.json");
            failed["detail"]["scan-status"] = "UNSUPPORTED_IMAGE".into();
            let failed = alert(BAR, None, false)
                .answer(failed, Invocation::on(today()))
                .await;
            let outcome = [(Dimension::Outcome, "scan-failed")];
            assert_eq!(failed.metrics.total(Metric::Events, &outcome), 1);
        }
    }
}
