//! Metrics: what the functions count and time, in one typed model, and its rendering as
//! CloudWatch Embedded Metric Format (EMF) documents. The functions write those documents
//! to their log, one JSON object a line, and CloudWatch Logs extracts the metrics from them:
//! no API call, no permission beyond writing logs.
//!
//! Every metric has one name, one unit and one set of dimensions ([`Metric`]). Dimension
//! values are `&'static str` by type, so only closed vocabularies can become dimensions
//! (the function, an outcome, a policy check, a severity, a copy status, an error class) and
//! never a repository or a tag: those go into the documents as plain properties
//! ([`Property`]), searchable with CloudWatch Logs Insights without creating metrics.
//!
//! What each function's report counts is said here, in one place: the [`Measured`]
//! implementations at the end of this file.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::StewardError;
use crate::notify::Outcome;
use crate::push::{GuardAction, GuardReport};
use crate::replication::{RegionStatus, ReplicatorReport};
use crate::scan::{ScanReport, VulnSeverity};

#[cfg(any(test, feature = "testing"))]
pub mod spec;

/// The function that counts: the `Function` dimension of every metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Function {
    /// `push-guard`.
    PushGuard,
    /// `scan-alert`.
    ScanAlert,
    /// `replicator`.
    Replicator,
    /// `retention`.
    Retention,
}

impl Function {
    /// Every function, in order.
    pub const ALL: [Function; 4] = [
        Self::PushGuard,
        Self::ScanAlert,
        Self::Replicator,
        Self::Retention,
    ];

    /// The dimension value: the function's name, such as `push-guard`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PushGuard => "push-guard",
            Self::ScanAlert => "scan-alert",
            Self::Replicator => "replicator",
            Self::Retention => "retention",
        }
    }
}

/// A CloudWatch unit, as EMF accepts them (the `StandardUnit` of `MetricDatum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)] // each variant is the unit of its name
pub enum Unit {
    Seconds,
    Microseconds,
    Milliseconds,
    Bytes,
    Kilobytes,
    Megabytes,
    Gigabytes,
    Terabytes,
    Bits,
    Kilobits,
    Megabits,
    Gigabits,
    Terabits,
    Percent,
    Count,
    BytesPerSecond,
    KilobytesPerSecond,
    MegabytesPerSecond,
    GigabytesPerSecond,
    TerabytesPerSecond,
    BitsPerSecond,
    KilobitsPerSecond,
    MegabitsPerSecond,
    GigabitsPerSecond,
    TerabitsPerSecond,
    CountPerSecond,
    None,
}

impl Unit {
    /// Every unit.
    pub const ALL: [Unit; 27] = [
        Self::Seconds,
        Self::Microseconds,
        Self::Milliseconds,
        Self::Bytes,
        Self::Kilobytes,
        Self::Megabytes,
        Self::Gigabytes,
        Self::Terabytes,
        Self::Bits,
        Self::Kilobits,
        Self::Megabits,
        Self::Gigabits,
        Self::Terabits,
        Self::Percent,
        Self::Count,
        Self::BytesPerSecond,
        Self::KilobytesPerSecond,
        Self::MegabytesPerSecond,
        Self::GigabytesPerSecond,
        Self::TerabytesPerSecond,
        Self::BitsPerSecond,
        Self::KilobitsPerSecond,
        Self::MegabitsPerSecond,
        Self::GigabitsPerSecond,
        Self::TerabitsPerSecond,
        Self::CountPerSecond,
        Self::None,
    ];

    /// The unit as CloudWatch writes it, such as `Bytes/Second`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seconds => "Seconds",
            Self::Microseconds => "Microseconds",
            Self::Milliseconds => "Milliseconds",
            Self::Bytes => "Bytes",
            Self::Kilobytes => "Kilobytes",
            Self::Megabytes => "Megabytes",
            Self::Gigabytes => "Gigabytes",
            Self::Terabytes => "Terabytes",
            Self::Bits => "Bits",
            Self::Kilobits => "Kilobits",
            Self::Megabits => "Megabits",
            Self::Gigabits => "Gigabits",
            Self::Terabits => "Terabits",
            Self::Percent => "Percent",
            Self::Count => "Count",
            Self::BytesPerSecond => "Bytes/Second",
            Self::KilobytesPerSecond => "Kilobytes/Second",
            Self::MegabytesPerSecond => "Megabytes/Second",
            Self::GigabytesPerSecond => "Gigabytes/Second",
            Self::TerabytesPerSecond => "Terabytes/Second",
            Self::BitsPerSecond => "Bits/Second",
            Self::KilobitsPerSecond => "Kilobits/Second",
            Self::MegabitsPerSecond => "Megabits/Second",
            Self::GigabitsPerSecond => "Gigabits/Second",
            Self::TerabitsPerSecond => "Terabits/Second",
            Self::CountPerSecond => "Count/Second",
            Self::None => "None",
        }
    }
}

/// A dimension: a closed vocabulary a metric is split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// The function ([`Function`]); every metric has it.
    Function,
    /// What was done about an event: an [`Outcome`], or `compliant`, `skipped`, `error`
    /// ([`EventOutcome`]).
    Outcome,
    /// A policy check, such as `tag.literals.deny`.
    Check,
    /// A finding severity, such as `CRITICAL`.
    Severity,
    /// How a copy to one destination went ([`RegionStatus`]), such as `copied`.
    Status,
    /// The class of an invocation's error ([`StewardError::error_type`]), such as
    /// `Retryable.Throttled`.
    ErrorClass,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 6] = [
        Self::Function,
        Self::Outcome,
        Self::Check,
        Self::Severity,
        Self::Status,
        Self::ErrorClass,
    ];

    /// The dimension's name, such as `ErrorClass`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Function => "Function",
            Self::Outcome => "Outcome",
            Self::Check => "Check",
            Self::Severity => "Severity",
            Self::Status => "Status",
            Self::ErrorClass => "ErrorClass",
        }
    }
}

/// Every metric the functions write: its name, unit and dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Events handled, by outcome (every function, every event).
    Events,
    /// Policy violations found, by check (push-guard).
    Violations,
    /// Offending tags removed from images (push-guard in enforce mode).
    TagsRemoved,
    /// Severities over the policy's bar, one per severity over it in a scan (scan-alert).
    ScanBreaches,
    /// Copies to a destination, by how they went (replicator).
    Copies,
    /// Bytes of blobs uploaded to destinations (replicator).
    BytesCopied,
    /// How long a copy to one destination took, by how it went (replicator).
    CopyLatency,
    /// Seconds from a push to its verified copy in every destination (replicator).
    ReplicationLag,
    /// Invocations that failed, by error class (every function).
    Failures,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 9] = [
        Self::Events,
        Self::Violations,
        Self::TagsRemoved,
        Self::ScanBreaches,
        Self::Copies,
        Self::BytesCopied,
        Self::CopyLatency,
        Self::ReplicationLag,
        Self::Failures,
    ];

    /// The metric's name in CloudWatch, such as `BytesCopied`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Events => "Events",
            Self::Violations => "Violations",
            Self::TagsRemoved => "TagsRemoved",
            Self::ScanBreaches => "ScanBreaches",
            Self::Copies => "Copies",
            Self::BytesCopied => "BytesCopied",
            Self::CopyLatency => "CopyLatency",
            Self::ReplicationLag => "ReplicationLag",
            Self::Failures => "Failures",
        }
    }

    /// Its unit.
    pub fn unit(self) -> Unit {
        match self {
            Self::BytesCopied => Unit::Bytes,
            Self::CopyLatency => Unit::Milliseconds,
            Self::ReplicationLag => Unit::Seconds,
            _ => Unit::Count,
        }
    }

    /// Its dimensions (its one dimension set), `Function` first.
    pub fn dimensions(self) -> &'static [Dimension] {
        use Dimension as D;
        match self {
            Self::Events => &[D::Function, D::Outcome],
            Self::Violations => &[D::Function, D::Check],
            Self::TagsRemoved | Self::BytesCopied | Self::ReplicationLag => &[D::Function],
            Self::ScanBreaches => &[D::Function, D::Severity],
            Self::Copies | Self::CopyLatency => &[D::Function, D::Status],
            Self::Failures => &[D::Function, D::ErrorClass],
        }
    }
}

/// Every metric is stored at standard resolution (one minute): the alarms and the dashboard
/// work on minutes, and high resolution costs more.
pub const STORAGE_RESOLUTION: u32 = 60;

/// The most values EMF takes in one metric's array; more start another document.
pub const MAX_VALUES_PER_METRIC: usize = 100;

/// What was done about one event: the `Outcome` dimension of [`Metric::Events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventOutcome {
    /// The report's outcome, as notified.
    Done(Outcome),
    /// push-guard: the push complies; nothing was done or notified.
    Compliant,
    /// Not the function's business (another event type, a tag it never judges, …).
    Skipped,
    /// The invocation failed before it had a report; its class is in [`Metric::Failures`].
    Error,
}

impl EventOutcome {
    /// The dimension value, such as `tag-removed` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done(outcome) => outcome.as_str(),
            Self::Compliant => "compliant",
            Self::Skipped => "skipped",
            Self::Error => "error",
        }
    }
}

/// A plain (non-dimension) member of the documents: what an event was about, for searches
/// in CloudWatch Logs Insights. Never a dimension: it would make a metric per repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// The repository.
    Repository,
    /// The tag.
    Tag,
    /// The image's manifest digest.
    Digest,
    /// The invocation's request id, as in the function's other log lines.
    RequestId,
}

impl Property {
    /// Every property.
    pub const ALL: [Property; 4] = [Self::Repository, Self::Tag, Self::Digest, Self::RequestId];

    /// The member's name, such as `repository` (starting lower case: never a metric's or a
    /// dimension's name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Repository => "repository",
            Self::Tag => "tag",
            Self::Digest => "digest",
            Self::RequestId => "requestId",
        }
    }
}

/// One value of one metric, with its dimension values other than `Function`, in the order
/// of [`Metric::dimensions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The metric.
    pub metric: Metric,
    /// The values of its dimensions after `Function`.
    pub dimensions: Vec<(Dimension, &'static str)>,
    /// The value, in the metric's unit.
    pub value: u64,
}

/// A CloudWatch namespace for the metrics: 1 to 255 ASCII characters of letters, digits,
/// `.`, `-`, `_`, `/`, `#`, `:` and space, not starting with `:` nor with `AWS/` (AWS's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// The namespace when none is set.
    pub const DEFAULT: &'static str = "ecr-steward";

    /// A namespace, checked; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
        if text.trim().is_empty() {
            Err("a namespace needs at least one character that is not a space".into())
        } else if text.len() > 255 {
            Err(format!("{} characters; at most 255", text.len()))
        } else if let Some(c) = text.chars().find(|c| !allowed(*c)) {
            Err(format!(
                "{c:?} is not allowed; use letters, digits, . - _ / # : and space"
            ))
        } else if text.starts_with(':') {
            Err("a namespace cannot start with `:`".into())
        } else if text.starts_with("AWS/") {
            Err("namespaces starting with `AWS/` are AWS's own".into())
        } else {
            Ok(Self(text.into()))
        }
    }

    /// The namespace.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self(Self::DEFAULT.into())
    }
}

/// What a function's report counts, besides the event itself.
pub trait Measured {
    /// The outcome [`Metric::Events`] counts the event under.
    fn outcome(&self) -> EventOutcome;

    /// The report's other metrics and properties.
    fn measure(&self, into: &mut Measurements);
}

/// What one invocation of a function counted: samples of metrics, and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurements {
    function: Function,
    samples: Vec<Sample>,
    properties: BTreeMap<Property, String>,
}

impl Measurements {
    /// Nothing counted yet.
    pub fn new(function: Function) -> Self {
        Self {
            function,
            samples: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// An event handled with `report`: the event under the report's outcome, and whatever
    /// else the report counts.
    pub fn of_report(function: Function, report: &impl Measured) -> Self {
        let mut measurements = Self::new(function);
        measurements.event(report.outcome());
        report.measure(&mut measurements);
        measurements
    }

    /// An event skipped.
    pub fn of_skip(function: Function) -> Self {
        let mut measurements = Self::new(function);
        measurements.event(EventOutcome::Skipped);
        measurements
    }

    /// An invocation that failed without a report: the event as `error`, and the failure by
    /// its class.
    pub fn of_error(function: Function, error: &StewardError) -> Self {
        let mut measurements = Self::new(function);
        measurements.event(EventOutcome::Error);
        measurements.failure(error);
        measurements
    }

    /// The function that counted.
    pub fn function(&self) -> Function {
        self.function
    }

    /// What was counted, in order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The properties set.
    pub fn properties(&self) -> &BTreeMap<Property, String> {
        &self.properties
    }

    fn push(&mut self, metric: Metric, dimensions: Vec<(Dimension, &'static str)>, value: u64) {
        self.samples.push(Sample {
            metric,
            dimensions,
            value,
        });
    }

    /// One event, under `outcome`.
    pub fn event(&mut self, outcome: EventOutcome) {
        self.push(
            Metric::Events,
            vec![(Dimension::Outcome, outcome.as_str())],
            1,
        );
    }

    /// `count` violations of `check`.
    pub fn violations(&mut self, check: &'static str, count: u64) {
        self.push(Metric::Violations, vec![(Dimension::Check, check)], count);
    }

    /// One tag removed from an image.
    pub fn tag_removed(&mut self) {
        self.push(Metric::TagsRemoved, Vec::new(), 1);
    }

    /// One severity over the bar.
    pub fn scan_breach(&mut self, severity: VulnSeverity) {
        self.push(
            Metric::ScanBreaches,
            vec![(Dimension::Severity, severity.as_str())],
            1,
        );
    }

    /// One copy to a destination: how it went, the bytes it uploaded (counted when it
    /// copied something) and, when it ran, how long it took.
    pub fn copy(&mut self, status: RegionStatus, bytes: u64, latency_ms: Option<u64>) {
        let by_status = vec![(Dimension::Status, status.as_str())];
        self.push(Metric::Copies, by_status.clone(), 1);
        if status == RegionStatus::Copied {
            self.push(Metric::BytesCopied, Vec::new(), bytes);
        }
        if let Some(latency) = latency_ms {
            self.push(Metric::CopyLatency, by_status, latency);
        }
    }

    /// Seconds from a push to its verified copy in every destination.
    pub fn replication_lag(&mut self, seconds: u64) {
        self.push(Metric::ReplicationLag, Vec::new(), seconds);
    }

    /// One failed invocation, by the error's class.
    pub fn failure(&mut self, error: &StewardError) {
        self.failure_of_class(error.error_type());
    }

    /// One failure of the class `error_type` (`Retryable.Unavailable`, …): a failed
    /// invocation, or one failed job of a batch.
    pub fn failure_of_class(&mut self, error_type: &'static str) {
        self.push(
            Metric::Failures,
            vec![(Dimension::ErrorClass, error_type)],
            1,
        );
    }

    /// Sets a property of the documents.
    pub fn property(&mut self, property: Property, value: &str) {
        self.properties.insert(property, value.into());
    }

    /// The sum of `metric`'s values whose dimensions include every one of `filter`
    /// (`Function` aside); 0 when there are none.
    pub fn total(&self, metric: Metric, filter: &[(Dimension, &str)]) -> u64 {
        self.samples
            .iter()
            .filter(|sample| sample.metric == metric)
            .filter(|sample| {
                filter
                    .iter()
                    .all(|wanted| sample.dimensions.contains(wanted))
            })
            .map(|sample| sample.value)
            .sum()
    }

    /// The EMF documents of these measurements, at `timestamp_ms` (milliseconds since the
    /// Unix epoch): as few as the format allows. Samples share a document unless they give
    /// one dimension two values (two checks, two statuses) or a metric more than
    /// [`MAX_VALUES_PER_METRIC`] values; each document repeats the properties.
    pub fn emf(&self, namespace: &Namespace, timestamp_ms: u64) -> Vec<Value> {
        let mut documents: Vec<Document> = Vec::new();
        for sample in &self.samples {
            let mut dimensions = vec![(Dimension::Function, self.function.as_str())];
            dimensions.extend(sample.dimensions.iter().copied());
            let fits = |document: &&mut Document| document.fits(sample.metric, &dimensions);
            let document = match documents.iter_mut().find(fits) {
                Some(document) => document,
                None => {
                    documents.push(Document::default());
                    let last = documents.len() - 1;
                    &mut documents[last]
                }
            };
            document.add(sample.metric, &dimensions, sample.value);
        }
        documents
            .iter()
            .map(|document| document.render(namespace, timestamp_ms, &self.properties))
            .collect()
    }
}

/// One EMF document being filled.
#[derive(Default)]
struct Document {
    dimensions: BTreeMap<Dimension, &'static str>,
    values: BTreeMap<Metric, Vec<u64>>,
}

impl Document {
    fn fits(&self, metric: Metric, dimensions: &[(Dimension, &'static str)]) -> bool {
        let agrees = dimensions
            .iter()
            .all(|(dimension, value)| self.dimensions.get(dimension).is_none_or(|v| v == value));
        let room = self
            .values
            .get(&metric)
            .is_none_or(|values| values.len() < MAX_VALUES_PER_METRIC);
        agrees && room
    }

    fn add(&mut self, metric: Metric, dimensions: &[(Dimension, &'static str)], value: u64) {
        self.dimensions.extend(dimensions.iter().copied());
        self.values.entry(metric).or_default().push(value);
    }

    fn render(
        &self,
        namespace: &Namespace,
        timestamp_ms: u64,
        properties: &BTreeMap<Property, String>,
    ) -> Value {
        // One directive per dimension set, naming the metrics that use it.
        let mut directives: BTreeMap<&'static [Dimension], Vec<Metric>> = BTreeMap::new();
        for metric in self.values.keys() {
            directives
                .entry(metric.dimensions())
                .or_default()
                .push(*metric);
        }
        let directives: Vec<Value> = directives
            .into_iter()
            .map(|(dimensions, metrics)| {
                let set: Vec<&str> = dimensions.iter().map(|d| d.as_str()).collect();
                let definitions: Vec<Value> = metrics
                    .iter()
                    .map(|metric| {
                        serde_json::json!({
                            "Name": metric.name(),
                            "Unit": metric.unit().as_str(),
                            "StorageResolution": STORAGE_RESOLUTION,
                        })
                    })
                    .collect();
                serde_json::json!({
                    "Namespace": namespace.as_str(),
                    "Dimensions": [set],
                    "Metrics": definitions,
                })
            })
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            serde_json::json!({ "Timestamp": timestamp_ms, "CloudWatchMetrics": directives }),
        );
        for (dimension, value) in &self.dimensions {
            root.insert(dimension.as_str().into(), Value::from(*value));
        }
        for (metric, values) in &self.values {
            let value = match values.as_slice() {
                [one] => Value::from(*one),
                many => Value::from(many.to_vec()),
            };
            root.insert(metric.name().into(), value);
        }
        for (property, value) in properties {
            root.insert(property.as_str().into(), Value::from(value.as_str()));
        }
        Value::Object(root)
    }
}

// ------------------------------------------------------------- what each report counts

impl Measured for GuardReport {
    fn outcome(&self) -> EventOutcome {
        self.action
            .outcome()
            .map_or(EventOutcome::Compliant, EventOutcome::Done)
    }

    /// Violations by check (in audit and enforce mode alike), and the tag when it was
    /// removed (a tag put straight back on a newer image is not).
    fn measure(&self, into: &mut Measurements) {
        into.property(Property::Repository, &self.repository);
        into.property(Property::Tag, &self.tag);
        into.property(Property::Digest, &self.digest);
        let mut by_check: BTreeMap<&'static str, u64> = BTreeMap::new();
        for violation in &self.verdict.violations {
            *by_check.entry(violation.check).or_default() += 1;
        }
        if self
            .provenance
            .as_ref()
            .is_some_and(|p| p.state == crate::provenance::ProvenanceState::Missing)
        {
            *by_check.entry("provenance.missing").or_default() += 1;
        }
        for (check, count) in by_check {
            into.violations(check, count);
        }
        if matches!(
            self.action,
            GuardAction::TagRemoved { .. }
                | GuardAction::Quarantined { .. }
                | GuardAction::ImageDeleted
        ) {
            into.tag_removed();
        }
    }
}

impl Measured for ScanReport {
    fn outcome(&self) -> EventOutcome {
        EventOutcome::Done(match self {
            Self::ScanFailed { .. } => Outcome::ScanFailed,
            Self::Passed(_) => Outcome::Passed,
            Self::Failed(_) => Outcome::Failed,
        })
    }

    /// One breach per severity over the bar.
    fn measure(&self, into: &mut Measurements) {
        match self {
            Self::ScanFailed {
                repository, digest, ..
            } => {
                into.property(Property::Repository, repository);
                into.property(Property::Digest, digest);
            }
            Self::Passed(scan) | Self::Failed(scan) => {
                into.property(Property::Repository, &scan.repository);
                into.property(Property::Digest, &scan.digest);
                for breach in &scan.verdict.breaches {
                    into.scan_breach(breach.severity);
                }
            }
        }
    }
}

impl Measured for ReplicatorReport {
    fn outcome(&self) -> EventOutcome {
        EventOutcome::Done(match self {
            Self::Copy(report) => report.outcome.notified_as(),
            Self::Native(report) => report.outcome,
            Self::Batch(batch) => batch.outcome().notified_as(),
            Self::Delete(report) => report.outcome.notified_as(),
        })
    }

    /// A copy per destination, with its bytes and latency; a destination left alone because
    /// the source's tag moved on is not timed (mostly no copy ran). ECR's own replication
    /// counts as an event only.
    fn measure(&self, into: &mut Measurements) {
        match self {
            Self::Copy(report) => {
                into.property(Property::Repository, &report.repository);
                into.property(Property::Tag, &report.tag_list());
                into.property(Property::Digest, &report.digest);
                measure_copies(report, into);
            }
            Self::Native(report) => into.property(Property::Repository, &report.repository),
            // A deletion followed to the destinations counts as an event; no copy ran.
            Self::Delete(report) => {
                into.property(Property::Repository, &report.repository);
                if let Some(tag) = &report.tag {
                    into.property(Property::Tag, tag);
                }
                into.property(Property::Digest, &report.digest);
            }
            // A batch is one event; its copies and its failed jobs count one by one.
            Self::Batch(batch) => {
                for job in &batch.jobs {
                    if let Some(report) = &job.report {
                        measure_copies(report, into);
                    }
                    if let Some(failure) = &job.failure {
                        into.failure_of_class(failure.error_type);
                    }
                }
            }
        }
    }
}

fn measure_copies(report: &crate::replication::ReplicationReport, into: &mut Measurements) {
    for destination in &report.outcomes {
        let run = &destination.run;
        let latency = (run.status != RegionStatus::TagMovedOn).then_some(run.duration_ms);
        into.copy(run.status, run.stats.bytes_copied, latency);
    }
    if let Some(lag) = report.lag_seconds {
        into.replication_lag(lag);
    }
}

#[cfg(test)]
mod tests;
