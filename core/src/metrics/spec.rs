//! The Embedded Metric Format specification as a check on a document, written from the
//! specification (CloudWatch User Guide, "Specification: Embedded metric format", and its
//! JSON schema) and not from [`super`]'s model, so that the tests compare the two. For tests:
//! the unit tests and the integration tests, which read the documents from a function's log.

use serde_json::Value;

/// The units the specification's schema admits (`MetricDefinition.Unit`).
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A MetricDirective holds at most this many MetricDefinitions.
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;
/// A DimensionSet holds at most this many dimension keys.
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
/// A metric's array of values holds at most this many.
pub const MAX_VALUES: usize = 100;
/// A dimension's value holds at most this many characters.
pub const MAX_DIMENSION_VALUE_CHARS: usize = 1024;
/// A log event (and so an EMF document) holds at most this many bytes in CloudWatch Logs.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Milliseconds since the epoch of 2001-09-09: a timestamp below is in seconds, not ms.
const MIN_TIMESTAMP_MS: u64 = 1_000_000_000_000;

/// Checks one log line: a JSON object with nothing before or after it, which is a valid EMF
/// document. The error names the first rule broken.
pub fn check_line(line: &str) -> Result<Value, String> {
    if line.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "{} bytes; a log event holds {MAX_DOCUMENT_BYTES}",
            line.len()
        ));
    }
    let document: Value =
        serde_json::from_str(line).map_err(|e| format!("not one JSON value: {e}"))?;
    check(&document)?;
    Ok(document)
}

/// Checks a document against the specification. The error names the first rule broken.
pub fn check(document: &Value) -> Result<(), String> {
    let root = document.as_object().ok_or("the root is not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no `_aws` object on the root")?;
    only(aws, &["Timestamp", "CloudWatchMetrics"], "_aws")?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("`_aws.Timestamp` is not a non-negative integer")?;
    if timestamp < MIN_TIMESTAMP_MS {
        return Err(format!(
            "`_aws.Timestamp` {timestamp} is not in milliseconds"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("`_aws.CloudWatchMetrics` is not an array")?;
    for (index, directive) in directives.iter().enumerate() {
        let at = format!("CloudWatchMetrics[{index}]");
        let directive = directive
            .as_object()
            .ok_or(format!("{at} is not an object"))?;
        only(directive, &["Namespace", "Dimensions", "Metrics"], &at)?;
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or(format!("{at}.Namespace is not a string"))?;
        if namespace.is_empty() || namespace.len() > 255 || namespace.starts_with(':') {
            return Err(format!(
                "{at}.Namespace {namespace:?} is not a CloudWatch namespace"
            ));
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .filter(|sets| !sets.is_empty())
            .ok_or(format!("{at}.Dimensions is not a non-empty array"))?;
        for set in sets {
            let keys = set
                .as_array()
                .ok_or(format!("{at}.Dimensions has a set that is not an array"))?;
            if keys.len() > MAX_DIMENSIONS_PER_SET {
                return Err(format!("{at} has a dimension set of {} keys", keys.len()));
            }
            for key in keys {
                let key = key
                    .as_str()
                    .filter(|k| !k.is_empty() && k.len() <= 250)
                    .ok_or(format!(
                        "{at} has a dimension key that is not a short string"
                    ))?;
                let target = root
                    .get(key)
                    .and_then(Value::as_str)
                    .ok_or(format!("dimension {key:?} has no string target member"))?;
                if target.chars().count() > MAX_DIMENSION_VALUE_CHARS {
                    return Err(format!("dimension {key:?}'s value is too long"));
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or(format!("{at}.Metrics is not an array"))?;
        if metrics.len() > MAX_METRICS_PER_DIRECTIVE {
            return Err(format!("{at} has {} metrics", metrics.len()));
        }
        for definition in metrics {
            let definition = definition.as_object().ok_or(format!(
                "{at}.Metrics has a definition that is not an object"
            ))?;
            only(definition, &["Name", "Unit", "StorageResolution"], &at)?;
            let name = definition
                .get("Name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && n.len() <= 255)
                .ok_or(format!("{at} has a metric without a name"))?;
            if let Some(unit) = definition.get("Unit") {
                let unit = unit.as_str().unwrap_or_default();
                if !UNITS.contains(&unit) {
                    return Err(format!(
                        "metric {name:?}: {unit:?} is not a CloudWatch unit"
                    ));
                }
            }
            if let Some(resolution) = definition.get("StorageResolution") {
                if !matches!(resolution.as_u64(), Some(1 | 60)) {
                    return Err(format!("metric {name:?}: StorageResolution is not 1 or 60"));
                }
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) => {
                    if values.is_empty() || values.len() > MAX_VALUES {
                        return Err(format!("metric {name:?} has {} values", values.len()));
                    }
                    if !values.iter().all(Value::is_number) {
                        return Err(format!("metric {name:?} has a value that is not a number"));
                    }
                }
                _ => return Err(format!("metric {name:?} has no numeric target member")),
            }
        }
    }
    Ok(())
}

/// The specification's objects "MUST NOT contain any additional members".
fn only(object: &serde_json::Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), String> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(format!(
            "{at} has a member the specification does not define: {key:?}"
        )),
        None => Ok(()),
    }
}
