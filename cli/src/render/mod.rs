//! The outputs of `check` and `gate`: one report, rendered as text for people (`text.rs`),
//! JSON (here), GitHub workflow commands (`github.rs`), JUnit XML (`junit.rs`) or markdown
//! for a job summary (`markdown.rs`); and what `replicate` prints (`copies.rs`).

pub mod audit;
pub mod copies;
mod github;
mod junit;
mod markdown;
mod text;

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
    /// `gate` only, where the rule or `--require-provenance` asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<steward::provenance::ProvenanceVerdict>,
}

#[derive(Debug, Serialize)]
pub struct ImageSummary {
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
}

/// The scan status `gate` reports for an image that was never scanned in a repository that
/// does not scan on push (its note says how to turn scanning on).
pub const SCANNING_OFF: &str = "SCANNING_OFF";

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
    /// The scan's outcome in a word: `passed`, `failed`, `not complete` (the wait ran out) or
    /// `not scanned` (scanning is off): only a judged scan passes or fails.
    pub(crate) fn outcome(&self) -> &'static str {
        match &self.state {
            _ if self.passed => "passed",
            ScanState::InProgress => "not complete",
            ScanState::Failed { status, .. } if status == SCANNING_OFF => "not scanned",
            _ => "failed",
        }
    }

    /// Lines for people: what broke the bar, what is ignored, what to tidy.
    pub(crate) fn problems(&self) -> (Vec<String>, Vec<String>) {
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
            if status == SCANNING_OFF {
                return (errors, warnings);
            }
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
                    "scan.ignore: the ignore of {} matches no finding of this image",
                    entry.id
                ));
            }
        }
        (errors, warnings)
    }
}

/// `gate`'s provenance in a word (`passed`, `failed`, `pending`), and its problems, one line an
/// image that misses something.
pub(crate) fn provenance_outcome(
    verdict: &steward::provenance::ProvenanceVerdict,
) -> (&'static str, Vec<String>) {
    let word = match verdict.state {
        steward::provenance::ProvenanceState::Satisfied => "passed",
        steward::provenance::ProvenanceState::Missing => "failed",
        steward::provenance::ProvenanceState::Pending => "pending",
    };
    (word, verdict.reasons())
}

pub(crate) const LABELS_NOT_CHECKED: &str = "labels were not checked (pass --labels to check them)";

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
            provenance: None,
        }
    }

    pub fn with_provenance(
        mut self,
        verdict: Option<steward::provenance::ProvenanceVerdict>,
    ) -> Self {
        if let Some(verdict) = &verdict {
            self.compliant &= verdict.state == steward::provenance::ProvenanceState::Satisfied;
        }
        self.provenance = verdict;
        self
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
            Format::Markdown => visible(&self.markdown()).into_owned(),
        }
    }

    /// Prints the report in `format`, and appends it as markdown to `summary` when given (a
    /// job summary such as `$GITHUB_STEP_SUMMARY`): one run gives both.
    pub fn emit(&self, format: Format, summary: Option<&std::path::Path>) -> anyhow::Result<()> {
        print!("{}", self.render(format, use_colour()));
        if let Some(path) = summary {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot open --summary {}: {e}", path.display()))?;
            writeln!(file, "{}", self.render(Format::Markdown, false))
                .map_err(|e| anyhow::anyhow!("cannot write --summary {}: {e}", path.display()))?;
        }
        Ok(())
    }

    pub(crate) fn failures(&self) -> usize {
        self.results.iter().filter(|r| !r.compliant).count()
    }
}

pub(crate) fn describe(finding: &Finding) -> String {
    format!("{}: {}", finding.check, finding.message)
}
