//! The metrics adapter: an invocation's [`Measurements`] written to the function's log as
//! CloudWatch Embedded Metric Format lines, from which CloudWatch Logs extracts the metrics.
//! No API call and no permission beyond the log group's.
//!
//! Each document is one JSON object on one line of stdout, written with one `write_all` on
//! the locked handle: the tracing subscriber writes its own lines to stdout the same way, so
//! the two never interleave, and the tracing formatter never wraps an EMF line. Lambda sends
//! stdout to CloudWatch Logs as it is; with the JSON log format it does not wrap lines that
//! are JSON already.
//!
//! With the JSON log format, Lambda's log-level filter (`LogLevel`, which Lambda passes as
//! `AWS_LAMBDA_LOG_LEVEL`) treats a line without a `level` as INFO and drops it below WARN or
//! ERROR. So each document carries a `level`: INFO, or the configured level when that is
//! higher, and the metrics pass whatever the level.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::metrics::{Measurements, Namespace};

/// The variable through which Lambda passes the application log level (`LoggingConfig`).
pub const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";

/// Writes measurements as EMF lines in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfLog {
    namespace: Namespace,
    level: &'static str,
}

impl Default for EmfLog {
    fn default() -> Self {
        Self::new(Namespace::default())
    }
}

impl EmfLog {
    /// Metrics in `namespace`, at level INFO.
    pub fn new(namespace: Namespace) -> Self {
        Self {
            namespace,
            level: "INFO",
        }
    }

    /// The documents' `level`: INFO, or `configured` when it is WARN, ERROR or FATAL, so
    /// that Lambda's log-level filter keeps them (case as Lambda accepts it, any).
    pub fn at_level(mut self, configured: Option<&str>) -> Self {
        let configured = configured.unwrap_or_default().trim().to_ascii_uppercase();
        self.level = match configured.as_str() {
            "WARN" => "WARN",
            "ERROR" => "ERROR",
            "FATAL" => "FATAL",
            _ => "INFO",
        };
        self
    }

    /// The namespace the metrics go to.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The lines for `measurements` at `timestamp_ms`, each a JSON document with a newline.
    pub fn render(&self, measurements: &Measurements, timestamp_ms: u64) -> String {
        let mut text = String::new();
        for mut document in measurements.emf(&self.namespace, timestamp_ms) {
            if let Some(members) = document.as_object_mut() {
                members.insert("level".into(), self.level.into());
            }
            text.push_str(&document.to_string());
            text.push('\n');
        }
        text
    }

    /// Writes the lines for `measurements`, stamped now, to `out` in one write.
    pub fn write_to(
        &self,
        measurements: &Measurements,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        let text = self.render(measurements, now_ms());
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Writes the lines for `measurements` to stdout. A write that fails is dropped: metrics
    /// never fail an invocation, and there is no other log to say so in.
    pub fn write(&self, measurements: &Measurements) {
        let _ = self.write_to(measurements, &mut std::io::stdout().lock());
    }
}

/// Milliseconds since the Unix epoch, EMF's timestamp.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{spec, EventOutcome, Function, Metric};

    #[test]
    fn writes_one_valid_document_a_line_stamped_now() {
        let mut measurements = Measurements::new(Function::ScanAlert);
        measurements.event(EventOutcome::Skipped);
        measurements.violations("tag.kinds", 1);
        measurements.violations("tag.grammar", 1);
        let log = EmfLog::new(Namespace::parse("Team/Steward").expect("namespace"));
        let before = now_ms();
        let mut out = Vec::new();
        log.write_to(&measurements, &mut out).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "two checks, two documents: {text}");
        for line in lines {
            let document = spec::check_line(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let stamp = document["_aws"]["Timestamp"].as_u64().expect("timestamp");
            assert!(stamp >= before && stamp <= now_ms(), "{stamp}");
            assert_eq!(
                document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                "Team/Steward"
            );
            assert_eq!(document["Function"], "scan-alert");
            assert_eq!(document[Metric::Violations.name()], 1);
            assert_eq!(document["level"], "INFO");
        }
    }

    #[test]
    fn the_level_keeps_the_lines_through_lambdas_log_level_filter() {
        let mut measurements = Measurements::new(Function::PushGuard);
        measurements.event(EventOutcome::Compliant);
        let level = |configured| {
            let text = EmfLog::default()
                .at_level(configured)
                .render(&measurements, now_ms());
            let document = spec::check_line(text.trim_end()).expect("valid");
            document["level"].as_str().map(str::to_string)
        };
        assert_eq!(level(None).as_deref(), Some("INFO"));
        assert_eq!(
            level(Some("DEBUG")).as_deref(),
            Some("INFO"),
            "INFO passes DEBUG"
        );
        assert_eq!(level(Some("warn")).as_deref(), Some("WARN"));
        assert_eq!(level(Some("ERROR")).as_deref(), Some("ERROR"));
        assert_eq!(level(Some("FATAL")).as_deref(), Some("FATAL"));
    }
}
