//! The EventBridge events of Amazon ECR and Amazon Inspector, typed.
//!
//! Every detail struct tolerates absent optional fields and extra fields; enumerations keep
//! values they do not know (AWS adds new ones) instead of failing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The EventBridge envelope around a detail of type `T`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EventBridgeEvent<T> {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    pub detail_type: String,
    pub source: String,
    /// Absent from events EventBridge delivers to some targets (and from moto's).
    #[serde(default)]
    pub account: Option<String>,
    /// RFC 3339, as EventBridge sends it; not needed for a decision, so kept as text.
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    pub detail: T,
}

/// `ECR Image Action`: a push, delete or storage-class change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageAction {
    pub result: ActionResult,
    pub repository_name: String,
    #[serde(default)]
    pub image_digest: Option<String>,
    pub action_type: ActionType,
    #[serde(default)]
    pub image_tag: Option<String>,
    #[serde(default)]
    pub manifest_media_type: Option<String>,
    #[serde(default)]
    pub artifact_media_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionType {
    Push,
    Delete,
    Replicate,
    #[serde(other)]
    Other,
}

/// `SUCCESS`, or `FAILURE` (image actions) / `FAILED` (replication actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionResult {
    Success,
    #[serde(alias = "FAILED")]
    Failure,
    #[serde(other)]
    Other,
}

/// Severity name (`CRITICAL`, `HIGH`, …, and `TOTAL` from Inspector) to count. A severity with no
/// findings is absent.
pub type SeverityCounts = BTreeMap<String, u64>;

/// The detail of `ECR Image Scan` (a basic scan finished) and of `Inspector2 Scan` (an enhanced
/// scan finished), which share their fields. In Inspector's, `repository-name` is a repository
/// ARN and the counts carry a `TOTAL`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScanDetail {
    pub scan_status: String,
    pub repository_name: String,
    pub image_digest: String,
    #[serde(default)]
    pub image_tags: Vec<String>,
    #[serde(default)]
    pub finding_severity_counts: SeverityCounts,
}

pub type ImageScan = ScanDetail;
pub type Inspector2Scan = ScanDetail;

impl ScanDetail {
    /// The repository name, also from an ARN `arn:aws:ecr:REGION:ACCOUNT:repository/NAME`.
    pub fn repository(&self) -> &str {
        repository_from_arn(&self.repository_name)
    }
}

/// `ECR Replication Action`, emitted in the destination region.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReplicationAction {
    pub result: ActionResult,
    pub repository_name: String,
    pub image_digest: String,
    #[serde(default)]
    pub image_tag: Option<String>,
    pub action_type: ActionType,
    #[serde(default)]
    pub source_account: Option<String>,
    #[serde(default)]
    pub source_region: Option<String>,
}

/// `ECR Pull Through Cache Action`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PullThroughCacheAction {
    #[serde(default)]
    pub sync_status: Option<String>,
    #[serde(default)]
    pub ecr_repository_prefix: Option<String>,
    pub repository_name: String,
    #[serde(default)]
    pub upstream_registry_url: Option<String>,
    #[serde(default)]
    pub image_tag: Option<String>,
    #[serde(default)]
    pub image_digest: Option<String>,
}

/// `ECR Scan Resource Change`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScanResourceChange {
    #[serde(default)]
    pub action_type: Option<String>,
    #[serde(default)]
    pub repositories: Vec<String>,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub scan_type: Option<String>,
}

/// `Inspector2 Finding`: one finding. Only what notifications need is typed; AWS's own examples
/// carry timestamps that are not ISO 8601, so those stay untyped.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspector2Finding {
    #[serde(default)]
    pub finding_arn: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub fix_available: Option<String>,
    #[serde(default)]
    pub package_vulnerability_details: Option<Value>,
    #[serde(default)]
    pub resources: Vec<Value>,
}

/// Any event ecr-steward handles, told apart by `detail-type`.
#[derive(Debug, Clone)]
pub enum StewardEvent {
    ImageAction(EventBridgeEvent<ImageAction>),
    ImageScan(EventBridgeEvent<ImageScan>),
    Inspector2Scan(EventBridgeEvent<Inspector2Scan>),
    Inspector2Finding(EventBridgeEvent<Inspector2Finding>),
    ReplicationAction(EventBridgeEvent<ReplicationAction>),
    PullThroughCacheAction(EventBridgeEvent<PullThroughCacheAction>),
    ScanResourceChange(EventBridgeEvent<ScanResourceChange>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("not an EventBridge event: {0}")]
    NotAnEvent(String),
    #[error("event of detail-type {detail_type:?} is malformed: {reason}")]
    Malformed { detail_type: String, reason: String },
    #[error("detail-type {0:?} is not an event ecr-steward handles")]
    Unsupported(String),
}

impl StewardEvent {
    pub fn from_value(value: Value) -> Result<Self, EventError> {
        let detail_type = value
            .get("detail-type")
            .and_then(Value::as_str)
            .ok_or_else(|| EventError::NotAnEvent("it has no string `detail-type`".into()))?
            .to_owned();
        fn typed<T: serde::de::DeserializeOwned + Serialize>(
            value: Value,
            detail_type: &str,
        ) -> Result<EventBridgeEvent<T>, EventError> {
            serde_json::from_value(value).map_err(|error| EventError::Malformed {
                detail_type: detail_type.into(),
                reason: error.to_string(),
            })
        }
        Ok(match detail_type.as_str() {
            "ECR Image Action" => Self::ImageAction(typed(value, &detail_type)?),
            "ECR Image Scan" => Self::ImageScan(typed(value, &detail_type)?),
            "Inspector2 Scan" => Self::Inspector2Scan(typed(value, &detail_type)?),
            "Inspector2 Finding" => Self::Inspector2Finding(typed(value, &detail_type)?),
            "ECR Replication Action" => Self::ReplicationAction(typed(value, &detail_type)?),
            "ECR Pull Through Cache Action" => {
                Self::PullThroughCacheAction(typed(value, &detail_type)?)
            }
            "ECR Scan Resource Change" => Self::ScanResourceChange(typed(value, &detail_type)?),
            _ => return Err(EventError::Unsupported(detail_type)),
        })
    }

    pub fn detail_type(&self) -> &str {
        match self {
            Self::ImageAction(e) => &e.detail_type,
            Self::ImageScan(e) => &e.detail_type,
            Self::Inspector2Scan(e) => &e.detail_type,
            Self::Inspector2Finding(e) => &e.detail_type,
            Self::ReplicationAction(e) => &e.detail_type,
            Self::PullThroughCacheAction(e) => &e.detail_type,
            Self::ScanResourceChange(e) => &e.detail_type,
        }
    }
}

/// `arn:aws:ecr:us-east-1:123456789012:repository/team/app` → `team/app`; a plain name stays.
pub fn repository_from_arn(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(arn) => arn
            .split_once(":repository/")
            .map_or(name_or_arn, |(_, name)| name),
        None => name_or_arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("sample event");
        serde_json::from_str(&text).expect("sample is JSON")
    }

    #[test]
    fn every_sample_event_is_typed() {
        let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
        let mut count = 0;
        for entry in std::fs::read_dir(dir).expect("events/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                StewardEvent::from_value(sample(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
                count += 1;
            }
        }
        assert!(count >= 10);
    }

    #[test]
    fn image_actions() {
        let StewardEvent::ImageAction(push) =
            StewardEvent::from_value(sample("image-push-semver.json")).expect("typed")
        else {
            panic!("not an image action");
        };
        assert_eq!(push.detail.action_type, ActionType::Push);
        assert_eq!(push.detail.result, ActionResult::Success);
        assert_eq!(push.detail.image_tag.as_deref(), Some("1.4.2"));
        assert_eq!(push.region.as_deref(), Some("us-east-1"));

        let StewardEvent::ImageAction(untagged) =
            StewardEvent::from_value(sample("image-push-untagged.json")).expect("typed")
        else {
            panic!("not an image action");
        };
        assert_eq!(untagged.detail.image_tag, None);
        let StewardEvent::ImageAction(failed) =
            StewardEvent::from_value(sample("image-push-failure.json")).expect("typed")
        else {
            panic!("not an image action");
        };
        assert_eq!(failed.detail.result, ActionResult::Failure);
    }

    #[test]
    fn inspector_scans_name_the_repository_by_arn_and_count_a_total() {
        let StewardEvent::Inspector2Scan(scan) =
            StewardEvent::from_value(sample("inspector2-scan.json")).expect("typed")
        else {
            panic!("not an inspector scan");
        };
        assert_eq!(scan.detail.repository(), "team-a/api");
        assert_eq!(scan.detail.finding_severity_counts.get("TOTAL"), Some(&43));
    }

    #[test]
    fn replication_failures_use_failed() {
        let StewardEvent::ReplicationAction(event) =
            StewardEvent::from_value(sample("replication-failed.json")).expect("typed")
        else {
            panic!("not a replication action");
        };
        assert_eq!(event.detail.result, ActionResult::Failure);
        assert_eq!(event.detail.source_region.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn tolerant_of_extra_fields_and_unknown_values_strict_on_missing_ones() {
        let mut event = sample("image-push-semver.json");
        event["detail"]["action-type"] = "ARCHIVE".into();
        event["detail"]["target-storage-class"] = "ARCHIVE".into();
        event["brand-new-envelope-field"] = 1.into();
        let StewardEvent::ImageAction(parsed) = StewardEvent::from_value(event).expect("typed")
        else {
            panic!("not an image action");
        };
        assert_eq!(parsed.detail.action_type, ActionType::Other);

        let mut broken = sample("image-push-semver.json");
        broken["detail"]
            .as_object_mut()
            .expect("object")
            .remove("repository-name");
        let error = StewardEvent::from_value(broken).expect_err("malformed");
        assert!(error.to_string().contains("repository-name"), "{error}");

        assert!(matches!(
            StewardEvent::from_value(serde_json::json!({"hello": "world"})),
            Err(EventError::NotAnEvent(_))
        ));
        assert!(matches!(
            StewardEvent::from_value(
                serde_json::json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}})
            ),
            Err(EventError::Unsupported(_))
        ));
    }

    #[test]
    fn repository_names_from_arns() {
        assert_eq!(
            repository_from_arn("arn:aws:ecr:eu-west-1:1:repository/a/b"),
            "a/b"
        );
        assert_eq!(repository_from_arn("a/b"), "a/b");
    }
}
