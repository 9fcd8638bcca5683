//! The report for people: one line a tag, its findings below it, a summary.

use std::fmt::Write as _;

use super::*;

impl Report {
    pub(super) fn text(&self, colour: bool) -> String {
        let paint = |code: &str, text: &str| {
            if colour {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let width = self.results.iter().map(|r| r.tag.len()).max().unwrap_or(0);
        let mut out = String::new();
        for result in &self.results {
            let mark = if result.compliant {
                paint("32", "ok  ")
            } else {
                paint("31;1", "FAIL")
            };
            let place = match (&result.repository, &result.rule) {
                (Some(repository), Some(rule)) => format!("{repository}, rule {rule}"),
                (None, Some(rule)) => format!("rule {rule}"),
                (_, None) => "no rule".into(),
            };
            let _ = writeln!(
                out,
                "{mark} {:width$}  {:<9} ({place})",
                result.tag,
                result.kind.as_str()
            );
            for finding in &result.violations {
                let _ = writeln!(
                    out,
                    "       {}: {}",
                    paint("31", finding.check),
                    finding.message
                );
            }
            for finding in &result.warnings {
                let _ = writeln!(
                    out,
                    "       {}: {}",
                    paint("33", &format!("warning: {}", finding.check)),
                    finding.message
                );
            }
        }
        if !self.labels_checked {
            let _ = writeln!(out, "{}", paint("33", LABELS_NOT_CHECKED));
        }
        if let Some(scan) = &self.scan {
            let mark = match scan.outcome() {
                "passed" => paint("32", "ok  "),
                "failed" => paint("31;1", "FAIL"),
                _ => paint("33;1", "WAIT"),
            };
            let _ = writeln!(out, "{mark} scan");
            let (errors, warnings) = scan.problems();
            for line in errors {
                let _ = writeln!(out, "       {}", paint("31", &line));
            }
            for line in warnings {
                let _ = writeln!(out, "       {}", paint("33", &format!("warning: {line}")));
            }
            for reported in scan
                .verdict
                .iter()
                .flat_map(|v| &v.findings)
                .take(steward::scan::TOP_FINDINGS)
            {
                let finding = &reported.finding;
                let _ = writeln!(
                    out,
                    "       {:<9} {} {} {}{}{}",
                    finding.severity.as_str(),
                    finding.id,
                    finding.package.as_deref().unwrap_or("?"),
                    finding.installed_version.as_deref().unwrap_or(""),
                    finding
                        .fixed_in
                        .as_deref()
                        .map(|f| format!(" (fixed in {f})"))
                        .unwrap_or_default(),
                    match (&reported.ignored, reported.unfixable) {
                        (Some(reason), _) => format!(" [ignored: {reason}]"),
                        (None, true) => " [not counted: no fix]".into(),
                        (None, false) => String::new(),
                    },
                );
            }
        }
        if let Some(provenance) = &self.provenance {
            use steward::provenance::ProvenanceState;
            let mark = match provenance.state {
                ProvenanceState::Satisfied => paint("32", "ok  "),
                ProvenanceState::Missing => paint("31;1", "FAIL"),
                ProvenanceState::Pending => paint("33;1", "WAIT"),
            };
            let _ = writeln!(out, "{mark} provenance");
            for image in &provenance.images {
                for (requirement, by) in &image.satisfied {
                    let _ = writeln!(
                        out,
                        "       {} {}: {by}",
                        image.name(),
                        requirement.as_str()
                    );
                }
            }
            for line in provenance.reasons() {
                let _ = writeln!(out, "       {}", paint("31", &line));
            }
        }
        let total = self.results.len();
        let failures = self.failures();
        let mut summary = format!(
            "{total} tag{} checked against {}: {} compliant, {failures} not",
            if total == 1 { "" } else { "s" },
            self.policy,
            total - failures
        );
        if let Some(scan) = &self.scan {
            summary.push_str("; scan ");
            summary.push_str(scan.outcome());
        }
        if let Some(provenance) = &self.provenance {
            summary.push_str(match provenance.state {
                steward::provenance::ProvenanceState::Satisfied => "; provenance passed",
                steward::provenance::ProvenanceState::Missing => "; provenance failed",
                steward::provenance::ProvenanceState::Pending => "; provenance pending",
            });
        }
        let _ = writeln!(
            out,
            "{}",
            if self.compliant {
                paint("32", &summary)
            } else {
                paint("31;1", &summary)
            }
        );
        out
    }
}
