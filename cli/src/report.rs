//! The outputs of `check` and `gate`: text for people, JSON, GitHub workflow commands, JUnit XML.

use std::fmt::Write as _;
use std::io::IsTerminal;

use serde::Serialize;
use steward::notify::visible;
use steward::policy::{Finding, TagVerdict};
use steward::scan::{ScanState, ScanVerdict};

use crate::Format;

#[derive(Debug, Serialize)]
pub struct Report {
    pub compliant: bool,
    pub policy: String,
    pub labels_checked: bool,
    pub results: Vec<TagVerdict>,
    /// `gate` only: the image and its scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanSection>,
}

#[derive(Debug, Serialize)]
pub struct ImageSummary {
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
}

/// The scan half of a gate: a verdict on a complete scan, or why there is none.
#[derive(Debug, Serialize)]
pub struct ScanSection {
    pub passed: bool,
    #[serde(flatten)]
    pub state: ScanState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<ScanVerdict>,
    /// Why the scan was not judged, or not yet: a timed-out wait, an ungoverned repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ScanSection {
    /// Lines for people: what broke the bar, what is ignored, what to tidy.
    fn problems(&self) -> (Vec<String>, Vec<String>) {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        if let Some(note) = &self.note {
            if self.passed {
                warnings.push(format!("scan: {note}"));
            } else {
                errors.push(format!("scan: {note}"));
            }
        }
        if let ScanState::Failed { status, reason } = &self.state {
            errors.push(format!(
                "scan.state: the scan ended with {status}{}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ));
        }
        if let Some(verdict) = &self.verdict {
            for breach in &verdict.breaches {
                errors.push(format!(
                    "scan.thresholds: {} {} findings, {} allowed",
                    breach.severity.as_str(),
                    breach.count,
                    breach.limit
                ));
            }
            for entry in &verdict.expired_ignores {
                warnings.push(format!(
                    "scan.ignore: the ignore of {} expired and no longer applies",
                    entry.id
                ));
            }
            for entry in &verdict.stale_ignores {
                warnings.push(format!(
                    "scan.ignore: the ignore of {} matches no finding",
                    entry.id
                ));
            }
        }
        (errors, warnings)
    }
}

const LABELS_NOT_CHECKED: &str = "labels were not checked (pass --labels to check them)";

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl Report {
    pub fn new(policy: String, labels_checked: bool, results: Vec<TagVerdict>) -> Self {
        Self {
            compliant: results.iter().all(|r| r.compliant),
            policy,
            labels_checked,
            results,
            image: None,
            scan: None,
        }
    }

    pub fn with_scan(mut self, image: ImageSummary, scan: ScanSection) -> Self {
        self.compliant &= scan.passed;
        self.image = Some(image);
        self.scan = Some(scan);
        self
    }

    pub fn render(&self, format: Format, colour: bool) -> String {
        match format {
            Format::Text => visible(&self.text(colour)).into_owned(),
            Format::Json => {
                let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
                json.push('\n');
                json
            }
            Format::Github => visible(&self.github()).into_owned(),
            Format::Junit => self.junit(),
        }
    }

    fn failures(&self) -> usize {
        self.results.iter().filter(|r| !r.compliant).count()
    }

    fn text(&self, colour: bool) -> String {
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
            let mark = if scan.passed {
                paint("32", "ok  ")
            } else {
                paint("31;1", "FAIL")
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
        let total = self.results.len();
        let failures = self.failures();
        let mut summary = format!(
            "{total} tag{} checked against {}: {} compliant, {failures} not",
            if total == 1 { "" } else { "s" },
            self.policy,
            total - failures
        );
        if let Some(scan) = &self.scan {
            summary.push_str(if scan.passed {
                "; scan passed"
            } else {
                "; scan failed"
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

    fn github(&self) -> String {
        let mut out = String::new();
        for result in &self.results {
            let title = escape_property(&format!("ecr-steward: tag {}", result.tag));
            for (level, finding) in result
                .violations
                .iter()
                .map(|f| ("error", f))
                .chain(result.warnings.iter().map(|f| ("warning", f)))
            {
                let _ = writeln!(
                    out,
                    "::{level} title={title}::{}",
                    escape_data(&describe(finding))
                );
            }
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
        let _ = writeln!(
            out,
            "ecr-steward: {} of {} tags compliant{}",
            self.results.len() - self.failures(),
            self.results.len(),
            match &self.scan {
                Some(scan) if scan.passed => "; scan passed",
                Some(_) => "; scan failed",
                None => "",
            }
        );
        out
    }

    fn junit(&self) -> String {
        let scan_cases = usize::from(self.scan.is_some());
        let tests = self.results.len() + scan_cases;
        let failures = self.failures() + usize::from(self.scan.as_ref().is_some_and(|s| !s.passed));
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
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn describe(finding: &Finding) -> String {
    format!("{}: {}", finding.check, finding.message)
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
