//! The metrics adapter: an invocation's [`Measurements`] written to the function's log as
//! CloudWatch Embedded Metric Format lines, from which CloudWatch Logs extracts the metrics.
//! No API call and no permission beyond the log group's.
//!
//! Each document is one JSON object on one line of stdout, written with one `write_all` on
//! the locked handle: the tracing subscriber writes its own lines to stdout the same way, so
//! the two never interleave, and the tracing formatter never wraps an EMF line. Lambda sends
//! stdout to CloudWatch Logs as it is; with the JSON log format it does not wrap lines that
//! are JSON already.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::metrics::{Measurements, Namespace};

/// Writes measurements as EMF lines in a namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmfLog {
    namespace: Namespace,
}

impl EmfLog {
    /// Metrics in `namespace`.
    pub fn new(namespace: Namespace) -> Self {
        Self { namespace }
    }

    /// The namespace the metrics go to.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The lines for `measurements` at `timestamp_ms`, each a JSON document with a newline.
    pub fn render(&self, measurements: &Measurements, timestamp_ms: u64) -> String {
        let mut text = String::new();
        for document in measurements.emf(&self.namespace, timestamp_ms) {
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
        }
    }
}
