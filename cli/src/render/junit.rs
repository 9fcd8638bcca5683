//! The report as JUnit XML: a test case a tag, and one for the scan.

use std::fmt::Write as _;

use super::*;

impl Report {
    pub(super) fn junit(&self) -> String {
        let scan_cases = usize::from(self.scan.is_some()) + usize::from(self.provenance.is_some());
        let tests = self.results.len() + scan_cases;
        let failures = self.failures()
            + usize::from(self.scan.as_ref().is_some_and(|s| !s.passed))
            + usize::from(
                self.provenance
                    .as_ref()
                    .is_some_and(|p| provenance_outcome(p).0 != "passed"),
            );
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"ecr-steward\" tests=\"{tests}\" failures=\"{failures}\">"
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"ecr-steward check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">"
        );
        let _ = writeln!(out, "    <properties>");
        let _ = writeln!(
            out,
            "      <property name=\"policy\" value=\"{}\"/>",
            xml(&self.policy)
        );
        let _ = writeln!(
            out,
            "      <property name=\"labels_checked\" value=\"{}\"/>",
            self.labels_checked
        );
        let _ = writeln!(out, "    </properties>");
        for result in &self.results {
            let class = result.repository.as_deref().unwrap_or("tags");
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(class),
                xml(&result.tag)
            );
            if result.violations.is_empty() && result.warnings.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            if let Some(first) = result.violations.first() {
                let body: Vec<String> = result.violations.iter().map(describe).collect();
                let _ = writeln!(
                    out,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    xml(first.check),
                    xml(&first.message),
                    xml(&body.join("\n"))
                );
            }
            if !result.warnings.is_empty() {
                let body: Vec<String> = result
                    .warnings
                    .iter()
                    .map(|w| format!("warning: {}", describe(w)))
                    .collect();
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    xml(&body.join("\n"))
                );
            }
            out.push_str("    </testcase>\n");
        }
        if let Some(scan) = &self.scan {
            let class = self
                .image
                .as_ref()
                .map_or("image", |image| image.repository.as_str());
            let (errors, warnings) = scan.problems();
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"scan\">",
                xml(class)
            );
            if !scan.passed {
                let first = errors
                    .first()
                    .map(String::as_str)
                    .unwrap_or("the scan did not pass");
                let _ = writeln!(
                    out,
                    "      <failure type=\"scan\" message=\"{}\">{}</failure>",
                    xml(first),
                    xml(&errors.join("\n"))
                );
            }
            if !warnings.is_empty() {
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    xml(&warnings.join("\n"))
                );
            }
            out.push_str("    </testcase>\n");
        }
        if let Some(provenance) = &self.provenance {
            let class = self
                .image
                .as_ref()
                .map_or("image", |image| image.repository.as_str());
            let (word, problems) = provenance_outcome(provenance);
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"provenance\">",
                xml(class)
            );
            if word != "passed" {
                let first = problems.first().map_or(word, String::as_str);
                let _ = writeln!(
                    out,
                    "      <failure type=\"provenance\" message=\"{}\">{}</failure>",
                    xml(first),
                    xml(&problems.join("\n"))
                );
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}
