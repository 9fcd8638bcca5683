//! The EventBridge events of Amazon ECR and Amazon Inspector, typed.
//!
//! Every detail struct tolerates absent optional fields and extra fields; enumerations keep
//! values they do not know (AWS adds new ones) instead of failing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The EventBridge envelope around a detail of type `T`: `aws_lambda_events`' own, which
/// tracks the envelope for AWS (`account`, `time` and `resources` may be absent, as in events
/// some targets and moto deliver).
pub use aws_lambda_events::eventbridge::EventBridgeEvent;
/// A batch of SQS messages as Lambda's event source mapping delivers it, one of its messages,
/// and the partial batch response: `aws_lambda_events`' types.
pub use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// `ECR Image Action`: a push, delete or storage-class change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageAction {
    /// Whether the action succeeded.
    pub result: ActionResult,
    /// The repository's name (not its ARN).
    pub repository_name: String,
    /// The image's manifest digest (`sha256:…`); absent from some failures.
    #[serde(default)]
    pub image_digest: Option<String>,
    /// Push, delete, or another action.
    pub action_type: ActionType,
    /// The tag pushed or deleted; `None` for a push by digest alone.
    #[serde(default)]
    pub image_tag: Option<String>,
    /// The media type of the pushed manifest.
    #[serde(default)]
    pub manifest_media_type: Option<String>,
    /// The artifact's media type (an image config, a signature, …), when ECR gives one.
    #[serde(default)]
    pub artifact_media_type: Option<String>,
}

/// The `action-type` of an image or replication action.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionType {
    /// An image or tag was pushed.
    Push,
    /// An image or tag was deleted.
    Delete,
    /// An image was replicated (ECR's own replication).
    Replicate,
    /// Any value this version does not know.
    #[serde(other)]
    Other,
}

/// `SUCCESS`, or `FAILURE` (image actions) / `FAILED` (replication actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionResult {
    /// The action succeeded.
    Success,
    /// The action failed.
    #[serde(alias = "FAILED")]
    Failure,
    /// Any value this version does not know.
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
    /// `COMPLETE`, `FAILED`, … as the scanner reports it.
    pub scan_status: String,
    /// The repository's name, or its ARN in Inspector's events; [`ScanDetail::repository`] gives
    /// the name either way.
    pub repository_name: String,
    /// The scanned image's manifest digest (`sha256:…`).
    pub image_digest: String,
    /// The image's tags when it was scanned; may be empty.
    #[serde(default)]
    pub image_tags: Vec<String>,
    /// How many findings of each severity.
    #[serde(default)]
    pub finding_severity_counts: SeverityCounts,
}

/// The detail of `ECR Image Scan` (a basic scan).
pub type ImageScan = ScanDetail;
/// The detail of `Inspector2 Scan` (an enhanced scan).
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
    /// Whether the replication succeeded.
    pub result: ActionResult,
    /// The repository's name in the destination.
    pub repository_name: String,
    /// The replicated image's manifest digest (`sha256:…`).
    pub image_digest: String,
    /// The replicated tag, if ECR names one.
    #[serde(default)]
    pub image_tag: Option<String>,
    /// The action; `REPLICATE` for these events.
    pub action_type: ActionType,
    /// The account the image was replicated from.
    #[serde(default)]
    pub source_account: Option<String>,
    /// The region the image was replicated from.
    #[serde(default)]
    pub source_region: Option<String>,
}

/// `ECR Pull Through Cache Action`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PullThroughCacheAction {
    /// How the sync with the upstream registry went, such as `SUCCESS`.
    #[serde(default)]
    pub sync_status: Option<String>,
    /// The pull-through cache rule's repository prefix.
    #[serde(default)]
    pub ecr_repository_prefix: Option<String>,
    /// The cache repository's name.
    pub repository_name: String,
    /// The upstream registry the image came from.
    #[serde(default)]
    pub upstream_registry_url: Option<String>,
    /// The tag pulled through, if any.
    #[serde(default)]
    pub image_tag: Option<String>,
    /// The image's manifest digest (`sha256:…`), if given.
    #[serde(default)]
    pub image_digest: Option<String>,
}

/// `ECR Scan Resource Change`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScanResourceChange {
    /// What changed, such as `SCAN_FREQUENCY_CHANGE`.
    #[serde(default)]
    pub action_type: Option<String>,
    /// The repositories whose scan settings changed.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// The kind of resource changed (`REPOSITORY`, `IMAGE`).
    #[serde(default)]
    pub resource_type: Option<String>,
    /// The scan type now set (`BASIC`, `ENHANCED`).
    #[serde(default)]
    pub scan_type: Option<String>,
}

/// `Inspector2 Finding`: one finding. Only what notifications need is typed; AWS's own examples
/// carry timestamps that are not ISO 8601, so those stay untyped.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspector2Finding {
    /// The finding's ARN.
    #[serde(default)]
    pub finding_arn: Option<String>,
    /// `CRITICAL`, `HIGH`, … as Inspector rates it.
    #[serde(default)]
    pub severity: Option<String>,
    /// `ACTIVE`, `SUPPRESSED` or `CLOSED`.
    #[serde(default)]
    pub status: Option<String>,
    /// A one-line summary, usually the CVE and package.
    #[serde(default)]
    pub title: Option<String>,
    /// `YES`, `NO` or `PARTIAL`.
    #[serde(default)]
    pub fix_available: Option<String>,
    /// The vulnerability and affected packages, untyped.
    #[serde(default)]
    pub package_vulnerability_details: Option<Value>,
    /// The affected resources (the image among them), untyped.
    #[serde(default)]
    pub resources: Vec<Value>,
}

/// `Scheduled Event`: a schedule's tick. EventBridge Scheduler sends the input the template
/// gives it (see `events/retention-scheduled.json`), an EventBridge schedule rule its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScheduledRun {
    /// Only these repositories (globs), for a run started by hand; every governed one when
    /// empty.
    #[serde(default)]
    pub repositories: Vec<String>,
}

/// Any event ecr-steward handles, told apart by `detail-type`.
#[derive(Debug, Clone)]
pub enum StewardEvent {
    /// `ECR Image Action`.
    ImageAction(EventBridgeEvent<ImageAction>),
    /// `ECR Image Scan`.
    ImageScan(EventBridgeEvent<ImageScan>),
    /// `Inspector2 Scan`.
    Inspector2Scan(EventBridgeEvent<Inspector2Scan>),
    /// `Inspector2 Finding`.
    Inspector2Finding(EventBridgeEvent<Inspector2Finding>),
    /// `ECR Replication Action`.
    ReplicationAction(EventBridgeEvent<ReplicationAction>),
    /// `ECR Pull Through Cache Action`.
    PullThroughCacheAction(EventBridgeEvent<PullThroughCacheAction>),
    /// `ECR Scan Resource Change`.
    ScanResourceChange(EventBridgeEvent<ScanResourceChange>),
    /// `Scheduled Event`: the retention function's schedule.
    Scheduled(EventBridgeEvent<ScheduledRun>),
    /// A batch of SQS messages from an event source mapping (the replicator's copy jobs).
    SqsBatch(SqsEvent),
}

/// When EventBridge says the event happened, to the second.
pub fn sent_at<T>(event: &EventBridgeEvent<T>) -> Option<crate::timestamp::Timestamp>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    event
        .time
        .map(|time| crate::timestamp::Timestamp(time.timestamp()))
}

/// What ecr-steward reads of an SQS message beyond its body.
pub trait SqsMessageExt {
    /// How many times the message has been received, this time included; 1 when not said.
    fn receive_count(&self) -> u32;
    /// The queue's account, from its ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
    fn account(&self) -> Option<&str>;
}

impl SqsMessageExt for SqsMessage {
    fn receive_count(&self) -> u32 {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1)
    }

    fn account(&self) -> Option<&str> {
        let arn = self.event_source_arn.as_deref()?;
        arn.split(':').nth(4).filter(|account| !account.is_empty())
    }
}

/// The `detail_type` an [`SqsEvent`] is reported under (it has none of its own).
pub const SQS_BATCH: &str = "SQS message batch";

/// Why an event could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    /// The input has no `detail-type`: not an EventBridge event at all.
    #[error("not an EventBridge event: {0}")]
    NotAnEvent(String),
    /// The `detail-type` is known but the event's fields do not fit it.
    #[error("event of detail-type {detail_type:?} is malformed: {reason}")]
    Malformed {
        /// The event's `detail-type`.
        detail_type: String,
        /// What did not fit, in serde's words.
        reason: String,
    },
    /// An EventBridge event of a kind ecr-steward does not handle; carries its `detail-type`.
    #[error("detail-type {0:?} is not an event ecr-steward handles")]
    Unsupported(String),
}

impl StewardEvent {
    /// Reads an event by its `detail-type`, or an SQS batch by its records' `eventSource`.
    pub fn from_value(value: Value) -> Result<Self, EventError> {
        if is_sqs_batch(&value) {
            return serde_json::from_value(value)
                .map(Self::SqsBatch)
                .map_err(|error| EventError::Malformed {
                    detail_type: SQS_BATCH.into(),
                    reason: error.to_string(),
                });
        }
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
            "Scheduled Event" => Self::Scheduled(typed(value, &detail_type)?),
            _ => return Err(EventError::Unsupported(detail_type)),
        })
    }

    /// The event's `detail-type`, such as `ECR Image Action`.
    pub fn detail_type(&self) -> &str {
        match self {
            Self::ImageAction(e) => &e.detail_type,
            Self::ImageScan(e) => &e.detail_type,
            Self::Inspector2Scan(e) => &e.detail_type,
            Self::Inspector2Finding(e) => &e.detail_type,
            Self::ReplicationAction(e) => &e.detail_type,
            Self::PullThroughCacheAction(e) => &e.detail_type,
            Self::ScanResourceChange(e) => &e.detail_type,
            Self::Scheduled(e) => &e.detail_type,
            Self::SqsBatch(_) => SQS_BATCH,
        }
    }
}

fn is_sqs_batch(value: &Value) -> bool {
    value
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
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

/// The sample events in `events/`, as AWS documents them: the one loader of every test.
#[cfg(any(test, feature = "testing"))]
pub mod samples {
    use serde_json::Value;

    /// The folder of the samples.
    pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");

    /// The sample `name` (e.g. `image-push-semver.json`), as JSON.
    ///
    /// # Panics
    /// When the file is missing or not JSON: a mistake in the test that asks for it.
    pub fn sample_event(name: &str) -> Value {
        let path = format!("{DIR}/{name}");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read the sample event {path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
    }

    /// The sample `name`, changed by `patch`.
    pub fn patched_sample(name: &str, patch: impl FnOnce(&mut Value)) -> Value {
        let mut event = sample_event(name);
        patch(&mut event);
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::samples::{sample_event as sample, DIR};

    #[test]
    fn every_sample_event_is_typed() {
        let mut count = 0;
        for entry in std::fs::read_dir(DIR).expect("events/") {
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
        let StewardEvent::ImageAction(signature) =
            StewardEvent::from_value(sample("image-push-signature.json")).expect("typed")
        else {
            panic!("not an image action");
        };
        assert_eq!(
            signature.detail.artifact_media_type.as_deref(),
            Some("application/vnd.cncf.notary.signature")
        );
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
    fn sqs_batches_are_told_by_their_records_and_keep_each_body_as_sent() {
        let StewardEvent::SqsBatch(batch) =
            StewardEvent::from_value(sample("copy-jobs-sqs.json")).expect("typed")
        else {
            panic!("not a batch");
        };
        assert_eq!(batch.records.len(), 2);
        assert_eq!(
            batch.records[0].message_id.as_deref(),
            Some("059f36b4-87a3-44ab-83d2-661975830a7d")
        );
        assert_eq!(batch.records[0].receive_count(), 1);
        assert_eq!(batch.records[0].account(), Some("123456789012"));
        assert!(batch.records[1]
            .body
            .as_deref()
            .is_some_and(|body| body.contains("team-a/worker")));
        let error = StewardEvent::from_value(serde_json::json!({
            "Records": [{ "eventSource": "aws:sqs", "messageId": "m", "attributes": 5 }]
        }))
        .expect_err("attributes are not a map");
        assert!(
            matches!(&error, EventError::Malformed { detail_type, .. } if detail_type == SQS_BATCH),
            "{error}"
        );
        let not_sqs = serde_json::json!({ "Records": [{ "eventSource": "aws:s3" }] });
        assert!(matches!(
            StewardEvent::from_value(not_sqs),
            Err(EventError::NotAnEvent(_))
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
