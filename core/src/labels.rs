//! Image labels and annotations, read from the formats CI pipelines and registries produce.

use std::collections::BTreeMap;

use serde_json::Value;

/// The OCI label for the source repository's URL.
pub const SOURCE: &str = "org.opencontainers.image.source";
/// The OCI label for the source revision (a commit id).
pub const REVISION: &str = "org.opencontainers.image.revision";
/// The OCI label for the build time (RFC 3339).
pub const CREATED: &str = "org.opencontainers.image.created";
/// The OCI label for the packaged software's version.
pub const VERSION: &str = "org.opencontainers.image.version";

/// Labels (from the image config) merged with annotations (from the manifest or index).
pub type Labels = BTreeMap<String, String>;

/// The format a labels document was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelsFormat {
    /// An OCI image config (`config.Labels`).
    OciConfig,
    /// `docker inspect` output (`[0].Config.Labels`, or one object).
    DockerInspect,
    /// docker/metadata-action's `json` output (labels and annotations).
    MetadataActionJson,
    /// An image manifest or index (its annotations).
    Manifest,
    /// A plain JSON object of string values.
    Map,
    /// `key=value` lines; blank lines and `#` comments are skipped.
    KeyValueLines,
}

/// Why a labels document could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelsError {
    /// A line of a `key=value` document has no `=` or an empty key.
    #[error("line {line}: {text:?} is not a key=value line")]
    NotKeyValue {
        /// The line's number, from 1.
        line: usize,
        /// The line, trimmed.
        text: String,
    },
    /// JSON that is none of the recognised formats; the message lists them.
    #[error("{0}")]
    UnknownJson(String),
}

/// Reads labels from an OCI image config, `docker inspect` output, docker/metadata-action's
/// `json` output (labels plus annotations), an image manifest (annotations), a plain JSON
/// object, or `key=value` lines (metadata-action's `labels` output).
pub fn parse(text: &str) -> Result<(Labels, LabelsFormat), LabelsError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
            return from_json(&value);
        }
    }
    parse_key_value_lines(text).map(|labels| (labels, LabelsFormat::KeyValueLines))
}

fn from_json(value: &Value) -> Result<(Labels, LabelsFormat), LabelsError> {
    let unknown = || {
        LabelsError::UnknownJson(
            "JSON labels must be an OCI image config, `docker inspect` output, docker/metadata-action's `json` output, an image manifest, or an object of string values".into(),
        )
    };
    match value {
        Value::Array(items) => {
            let first = items.first().ok_or_else(|| {
                LabelsError::UnknownJson("`docker inspect` output is an empty list".into())
            })?;
            let config = first.get("Config").ok_or_else(unknown)?;
            Ok((
                string_map(config.get("Labels")),
                LabelsFormat::DockerInspect,
            ))
        }
        Value::Object(object) => {
            if let Some(config) = object.get("Config") {
                Ok((
                    string_map(config.get("Labels")),
                    LabelsFormat::DockerInspect,
                ))
            } else if let Some(config) = object.get("config").filter(|c| c.is_object()) {
                Ok((string_map(config.get("Labels")), LabelsFormat::OciConfig))
            } else if object.contains_key("labels") || object.contains_key("tags") {
                let mut labels = string_map(object.get("labels"));
                for annotation in object
                    .get("annotations")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some((key, value)) = split_annotation(annotation) {
                        labels.entry(key.into()).or_insert_with(|| value.into());
                    }
                }
                Ok((labels, LabelsFormat::MetadataActionJson))
            } else if object.contains_key("schemaVersion") {
                Ok((
                    string_map(object.get("annotations")),
                    LabelsFormat::Manifest,
                ))
            } else if object.values().all(Value::is_string) {
                Ok((string_map(Some(value)), LabelsFormat::Map))
            } else {
                Err(unknown())
            }
        }
        _ => Err(unknown()),
    }
}

/// metadata-action writes annotations as `manifest:key=value` or `index:key=value`.
fn split_annotation(annotation: &str) -> Option<(&str, &str)> {
    let (key, value) = annotation.split_once('=')?;
    let key = key
        .split_once(':')
        .filter(|(level, _)| !level.contains('.'))
        .map_or(key, |(_, key)| key);
    Some((key, value))
}

fn string_map(value: Option<&Value>) -> Labels {
    value
        .and_then(Value::as_object)
        .map(|object| {
            object
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_key_value_lines(text: &str) -> Result<Labels, LabelsError> {
    let mut labels = Labels::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // An env file as shells write it: `export KEY=value`, values in quotes.
        let assignment = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = assignment
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
            .ok_or_else(|| LabelsError::NotKeyValue {
                line: index + 1,
                text: line.into(),
            })?;
        labels.insert(key.trim().into(), unquote(value.trim()));
    }
    Ok(labels)
}

/// A value as a shell reads it: inside single quotes as written, inside double quotes with
/// `\"`, `\\` and `\$` unescaped; bare text as written.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.into();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.into();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '$' | '`'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `created` must be an RFC 3339 date-time, e.g. `2024-05-01T12:00:00Z`.
pub fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 20 {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = bytes.get(range)?;
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date_time = (|| {
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        let separators = bytes[4] == b'-'
            && bytes[7] == b'-'
            && matches!(bytes[10], b'T' | b't' | b' ')
            && bytes[13] == b':'
            && bytes[16] == b':';
        let valid = separators
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second <= 60;
        valid.then_some(())
    })();
    if date_time.is_none() {
        return false;
    }
    let mut rest = &bytes[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let all_digits = [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit());
            all_digits && (h1 - b'0') * 10 + (h2 - b'0') < 24 && (m1 - b'0') * 10 + (m2 - b'0') < 60
        }
        _ => false,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `source` must be an absolute URL with a host, e.g. `https://github.com/org/repo`.
pub fn is_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    scheme_ok
        && !host.is_empty()
        && !host.starts_with(':')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A full git commit id: 40 lowercase hex characters.
pub fn is_full_sha(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Labels for tests: what the built-in policy requires, consistent with each other.
#[cfg(any(test, feature = "testing"))]
pub mod samples {
    use super::{Labels, CREATED, REVISION, SOURCE};

    /// `source`, `revision` (a full SHA) and `created`, as a build sets them.
    pub const COMPLIANT: [(&str, &str); 3] = [
        (SOURCE, "https://github.com/example/app"),
        (REVISION, "4f9c2e1a7b3d5c8e9f0a1b2c3d4e5f6a7b8c9d0e"),
        (CREATED, "2026-11-20T09:41:07Z"),
    ];

    /// [`COMPLIANT`] as a label map.
    pub fn compliant() -> Labels {
        COMPLIANT
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_oci_image_config() {
        let text = r#"{"architecture":"amd64","os":"linux","config":{"Labels":{"a":"1","b":"2"}},"rootfs":{}}"#;
        let (labels, format) = parse(text).expect("parses");
        assert_eq!(format, LabelsFormat::OciConfig);
        assert_eq!(labels.get("b").map(String::as_str), Some("2"));
    }

    #[test]
    fn reads_docker_inspect_output() {
        let text = r#"[{"Id":"sha256:x","Config":{"Labels":{"org.opencontainers.image.source":"https://x"}}}]"#;
        let (labels, format) = parse(text).expect("parses");
        assert_eq!(format, LabelsFormat::DockerInspect);
        assert_eq!(labels.len(), 1);
    }

    #[test]
    fn tolerates_null_labels() {
        let (labels, _) = parse(r#"{"config":{"Labels":null}}"#).expect("parses");
        assert!(labels.is_empty());
    }

    #[test]
    fn reads_metadata_action_json_with_annotations() {
        let text = r#"{"tags":["x/app:1.2.3"],"labels":{"org.opencontainers.image.version":"1.2.3"},
            "annotations":["manifest:org.opencontainers.image.revision=abc","index:org.opencontainers.image.version=9"]}"#;
        let (labels, format) = parse(text).expect("parses");
        assert_eq!(format, LabelsFormat::MetadataActionJson);
        assert_eq!(labels.get(REVISION).map(String::as_str), Some("abc"));
        // A label wins over an annotation of the same key.
        assert_eq!(labels.get(VERSION).map(String::as_str), Some("1.2.3"));
    }

    #[test]
    fn reads_manifest_annotations_and_plain_maps() {
        let (labels, format) =
            parse(r#"{"schemaVersion":2,"annotations":{"k":"v"}}"#).expect("parses");
        assert_eq!((labels.len(), format), (1, LabelsFormat::Manifest));
        let (labels, format) = parse(r#"{"k":"v"}"#).expect("parses");
        assert_eq!((labels.len(), format), (1, LabelsFormat::Map));
    }

    #[test]
    fn reads_key_value_lines() {
        let text = "org.opencontainers.image.title=app\n\n# comment\nurl=https://a/b?c=d\n";
        let (labels, format) = parse(text).expect("parses");
        assert_eq!(format, LabelsFormat::KeyValueLines);
        assert_eq!(
            labels.get("url").map(String::as_str),
            Some("https://a/b?c=d")
        );
        assert_eq!(
            parse("a=1\nnonsense\n"),
            Err(LabelsError::NotKeyValue {
                line: 2,
                text: "nonsense".into()
            })
        );
    }

    #[test]
    fn reads_env_files_as_shells_write_them() {
        let text = "export org.opencontainers.image.version=\"1.2.3\"\nexport TITLE='my app'\nREVISION=\"abc\\\"def\"\nURL = https://x\n";
        let (labels, format) = parse(text).expect("parses");
        assert_eq!(format, LabelsFormat::KeyValueLines);
        let get = |key: &str| labels.get(key).map(String::as_str);
        assert_eq!(get("org.opencontainers.image.version"), Some("1.2.3"));
        assert_eq!(get("TITLE"), Some("my app"));
        assert_eq!(get("REVISION"), Some("abc\"def"));
        assert_eq!(get("URL"), Some("https://x"));
    }

    #[test]
    fn rejects_unknown_json() {
        assert!(matches!(
            parse(r#"{"nested":{"a":1}}"#),
            Err(LabelsError::UnknownJson(_))
        ));
    }

    #[test]
    fn rfc3339() {
        for ok in [
            "2024-05-01T12:00:00Z",
            "2024-02-29T23:59:60.123+02:00",
            "2024-05-01t12:00:00z",
            "2024-05-01 12:00:00-07:30",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2024-05-01",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+0200",
            "yesterday at noon, roughly",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn urls() {
        for ok in [
            "https://github.com/org/repo",
            "http://user@host:8080/x",
            "git+ssh://h/p",
        ] {
            assert!(is_url(ok), "{ok}");
        }
        for bad in [
            "git@github.com:org/repo",
            "https://",
            "github.com/org",
            "https://a b",
            "1http://x",
        ] {
            assert!(!is_url(bad), "{bad}");
        }
    }
}
