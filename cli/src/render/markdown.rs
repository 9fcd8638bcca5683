//! The report as GitHub-flavoured markdown, for a job summary (`$GITHUB_STEP_SUMMARY`), a merge
//! request note or a chat message: a table of tags, and for `gate` the scan's counts, breaches
//! and top findings. Every value that comes from the image or the input is escaped
//! (`notify::untrusted`: markdown, HTML and table syntax, invisible characters, length).

use std::fmt::Write as _;

use steward::notify::untrusted;
use steward::scan::{VulnSeverity, TOP_FINDINGS};

use super::*;

impl Report {
    pub(super) fn markdown(&self) -> String {
        let mut out = String::new();
        let total = self.results.len();
        let failures = self.failures();
        let _ = writeln!(
            out,
            "### {} ecr-steward{}: {} of {total} tag{} compliant{}\n",
            mark(self.compliant),
            match &self.image {
                Some(image) => format!(" gate {}", untrusted(&image.repository)),
                None => " check".into(),
            },
            total - failures,
            if total == 1 { "" } else { "s" },
            match (&self.scan, &self.provenance) {
                (Some(scan), Some(provenance)) => format!(
                    ", scan {}, provenance {}",
                    scan.outcome(),
                    provenance_outcome(provenance).0
                ),
                (Some(scan), None) => format!(", scan {}", scan.outcome()),
                (None, Some(provenance)) => {
                    format!(", provenance {}", provenance_outcome(provenance).0)
                }
                (None, None) => String::new(),
            }
        );
        let _ = writeln!(
            out,
            "Policy: {}. {}\n",
            untrusted(&self.policy),
            if self.labels_checked {
                "Labels checked."
            } else {
                "Labels were not checked (pass `--labels` to check them)."
            }
        );
        if let Some(image) = &self.image {
            let _ = writeln!(out, "Image: `{}`\n", untrusted(&image.digest));
        }
        out.push_str("| | tag | repository | kind | rule | findings |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for result in &self.results {
            let findings: Vec<String> = result
                .violations
                .iter()
                .map(|f| format!("**{}**: {}", f.check, untrusted(&f.message)))
                .chain(
                    result
                        .warnings
                        .iter()
                        .map(|f| format!("warning **{}**: {}", f.check, untrusted(&f.message))),
                )
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                mark(result.compliant),
                untrusted(&result.tag),
                result.repository.as_deref().map_or("".into(), untrusted),
                result.kind.as_str(),
                result.rule.as_deref().map_or("no rule".into(), untrusted),
                findings.join("<br>"),
            );
        }
        if let Some(scan) = &self.scan {
            scan.markdown(&mut out);
        }
        if let Some(provenance) = &self.provenance {
            let (word, problems) = provenance_outcome(provenance);
            let _ = writeln!(out, "\n#### {} Provenance {word}\n", mark(word == "passed"));
            for image in &provenance.images {
                for (requirement, by) in &image.satisfied {
                    let _ = writeln!(
                        out,
                        "- {} {}: {}",
                        untrusted(&image.name()),
                        requirement.as_str(),
                        untrusted(by)
                    );
                }
            }
            for line in problems {
                let _ = writeln!(out, "- **{}**", untrusted(&line));
            }
        }
        out
    }
}

impl ScanSection {
    fn markdown(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\n#### {} Scan: {}\n",
            mark(self.passed),
            match &self.state {
                ScanState::Complete if self.passed => "passed",
                ScanState::Complete => "failed",
                ScanState::InProgress => "not complete",
                ScanState::Failed { .. } => "the scan failed",
            }
        );
        if let Some(verdict) = &self.verdict {
            let limits: std::collections::BTreeMap<VulnSeverity, u64> = verdict
                .breaches
                .iter()
                .map(|b| (b.severity, b.limit))
                .collect();
            out.push_str("| severity | reported | counted | over the bar |\n");
            out.push_str("|---|---|---|---|\n");
            for (severity, reported) in &verdict.reported {
                let counted = verdict.counted.get(severity).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "| {} | {reported} | {counted} | {} |",
                    severity.as_str(),
                    limits
                        .get(severity)
                        .map_or(String::new(), |limit| format!("❌ {limit} allowed")),
                );
            }
            out.push('\n');
        }
        let (errors, warnings) = self.problems();
        for line in &errors {
            let _ = writeln!(out, "- ❌ {}", untrusted(line));
        }
        for line in &warnings {
            let _ = writeln!(out, "- ⚠️ {}", untrusted(line));
        }
        if !errors.is_empty() || !warnings.is_empty() {
            out.push('\n');
        }
        let top: Vec<_> = self
            .verdict
            .iter()
            .flat_map(|v| &v.findings)
            .take(TOP_FINDINGS)
            .collect();
        if top.is_empty() {
            return;
        }
        let _ = writeln!(out, "Top findings:\n");
        out.push_str("| severity | id | package | installed | fixed in | note |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for reported in top {
            let finding = &reported.finding;
            let id = untrusted(&finding.id);
            let id = match finding
                .uri
                .as_deref()
                .filter(|u| steward::labels::is_url(u))
            {
                Some(uri) if uri.starts_with("https://") => {
                    format!(
                        "[{id}]({})",
                        uri.replace(['(', ')', ' ', '|', '<', '>', '"'], "")
                    )
                }
                _ => id,
            };
            let _ = writeln!(
                out,
                "| {} | {id} | {} | {} | {} | {} |",
                finding.severity.as_str(),
                untrusted(finding.package.as_deref().unwrap_or("?")),
                untrusted(finding.installed_version.as_deref().unwrap_or("")),
                untrusted(finding.fixed_in.as_deref().unwrap_or("")),
                match (&reported.ignored, reported.unfixable) {
                    (Some(reason), _) => format!("ignored: {}", untrusted(reason)),
                    (None, true) => "not counted: no fix".into(),
                    (None, false) => String::new(),
                },
            );
        }
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✅"
    } else {
        "❌"
    }
}
