//! The report as GitHub workflow commands: an annotation a finding.

use std::fmt::Write as _;

use super::*;

impl Report {
    pub(super) fn github(&self) -> String {
        let mut out = String::new();
        // One annotation per distinct problem: the labels are the image's, so a missing label
        // is one problem however many tags the image has.
        let mut annotations: Vec<(&str, String, Vec<&str>)> = Vec::new();
        for result in &self.results {
            for (level, finding) in result
                .violations
                .iter()
                .map(|f| ("error", f))
                .chain(result.warnings.iter().map(|f| ("warning", f)))
            {
                let text = describe(finding);
                match annotations
                    .iter_mut()
                    .find(|(l, t, _)| *l == level && *t == text)
                {
                    Some((_, _, tags)) => tags.push(&result.tag),
                    None => annotations.push((level, text, vec![&result.tag])),
                }
            }
        }
        for (level, text, tags) in &annotations {
            let title = escape_property(&format!(
                "ecr-steward: tag{} {}",
                if tags.len() == 1 { "" } else { "s" },
                tags.join(", ")
            ));
            let _ = writeln!(out, "::{level} title={title}::{}", escape_data(text));
        }
        if !self.labels_checked {
            let _ = writeln!(
                out,
                "::notice title=ecr-steward::{}",
                escape_data(LABELS_NOT_CHECKED)
            );
        }
        if let Some(scan) = &self.scan {
            let (errors, warnings) = scan.problems();
            for (level, line) in errors
                .iter()
                .map(|l| ("error", l))
                .chain(warnings.iter().map(|l| ("warning", l)))
            {
                let _ = writeln!(
                    out,
                    "::{level} title=ecr-steward%3A scan::{}",
                    escape_data(line)
                );
            }
        }
        if let Some(provenance) = &self.provenance {
            let (word, problems) = provenance_outcome(provenance);
            let level = if word == "failed" { "error" } else { "warning" };
            for line in problems {
                let _ = writeln!(
                    out,
                    "::{level} title=ecr-steward%3A provenance::{}",
                    escape_data(&line)
                );
            }
        }
        let _ = writeln!(
            out,
            "ecr-steward: {} of {} tags compliant{}{}",
            self.results.len() - self.failures(),
            self.results.len(),
            match &self.scan {
                Some(scan) => format!("; scan {}", scan.outcome()),
                None => String::new(),
            },
            match &self.provenance {
                Some(provenance) => format!("; provenance {}", provenance_outcome(provenance).0),
                None => String::new(),
            }
        );
        out
    }
}

/// Workflow-command data: `%`, CR and LF are escaped.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command properties also escape `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
