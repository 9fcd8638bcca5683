//! Copy jobs: one image and where it goes, as `ecr-steward replicate --fan-out` sends them to
//! the replicator's job queue. The format is versioned; docs/operations.md ("Large backfills") documents it
//! and `schema/copy-job.v1.schema.json` describes it.
//!
//! Within a version, fields may be added: a reader ignores what it does not know. A change
//! that an older reader would misread raises [`COPY_JOB_VERSION`], and a reader refuses a
//! version it does not know (the job stays in the queue's dead-letter queue for a newer one).

use serde::{Deserialize, Serialize};

use crate::image::{Digest, ImageRef};
use crate::policy::{ReplicaEncryption, Target};

/// The `kind` every copy job carries: tells a job from any other message on the queue.
pub const COPY_JOB_KIND: &str = "ecr-steward/copy-job";

/// The version of the format this build writes and reads.
pub const COPY_JOB_VERSION: u32 = 1;

/// One image to copy, with every destination it goes to and the tags it gets there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyJob {
    /// Always [`COPY_JOB_KIND`].
    pub kind: String,
    /// The format's version: [`COPY_JOB_VERSION`].
    pub version: u32,
    /// The image at its source.
    pub source: JobSource,
    /// Where it goes; never empty.
    pub destinations: Vec<JobDestination>,
}

/// The image a job copies, by digest, in the replicator's own account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSource {
    /// The source region.
    pub region: String,
    /// The source repository.
    pub repository: String,
    /// The image's manifest digest (`sha256:…`).
    pub digest: String,
}

/// One place an image goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDestination {
    /// The destination region.
    pub region: String,
    /// The destination account; absent for the replicator's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The destination repository.
    pub repository: String,
    /// The tags the image gets there; each is copied only if it still names the image at
    /// the source when the job runs.
    pub tags: Vec<String>,
    /// Create the repository when it does not exist.
    #[serde(default)]
    pub create_repository: bool,
    /// How a repository created there is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<ReplicaEncryption>,
    /// What asked for the copy: a replication rule's name, or `--to`.
    pub rule: String,
}

/// Why a queue message is not a copy job this build can run. None of these gets better on a
/// retry of the same message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The body is not JSON, or not the job's shape.
    #[error("the message is not a copy job: {0}")]
    NotAJob(String),
    /// A copy job of a version this build does not read.
    #[error("copy job version {found} is not supported (this replicator reads version {COPY_JOB_VERSION}); deploy a newer one")]
    UnsupportedVersion {
        /// The job's version.
        found: u32,
    },
    /// A copy job whose fields cannot be acted on.
    #[error("the copy job is invalid: {0}")]
    Invalid(String),
}

impl CopyJob {
    /// A job of this version for `source`, going to `destinations`.
    pub fn new(source: &ImageRef, destinations: Vec<JobDestination>) -> Self {
        Self {
            kind: COPY_JOB_KIND.into(),
            version: COPY_JOB_VERSION,
            source: JobSource {
                region: source.region.clone(),
                repository: source.repository.clone(),
                digest: source.digest.clone(),
            },
            destinations,
        }
    }

    /// Reads a queue message's body: a copy job of this version, with a valid digest and at
    /// least one destination, each with at least one tag.
    pub fn from_message(body: &str) -> Result<Self, JobError> {
        #[derive(Deserialize)]
        struct Header {
            kind: Option<String>,
            version: Option<u32>,
        }
        let header: Header =
            serde_json::from_str(body).map_err(|e| JobError::NotAJob(e.to_string()))?;
        if header.kind.as_deref() != Some(COPY_JOB_KIND) {
            return Err(JobError::NotAJob(format!(
                "its `kind` is {:?}, not {COPY_JOB_KIND:?}",
                header.kind.unwrap_or_default()
            )));
        }
        match header.version {
            Some(COPY_JOB_VERSION) => {}
            Some(found) => return Err(JobError::UnsupportedVersion { found }),
            None => return Err(JobError::Invalid("it has no `version`".into())),
        }
        let job: Self = serde_json::from_str(body).map_err(|e| JobError::Invalid(e.to_string()))?;
        Digest::parse(&job.source.digest).map_err(|e| JobError::Invalid(e.to_string()))?;
        if job.destinations.is_empty() {
            return Err(JobError::Invalid("it has no destinations".into()));
        }
        if let Some(bare) = job.destinations.iter().find(|d| d.tags.is_empty()) {
            return Err(JobError::Invalid(format!(
                "the destination {}/{} has no tags",
                bare.region, bare.repository
            )));
        }
        Ok(job)
    }

    /// The job as a queue message's body.
    pub fn to_message(&self) -> String {
        // A struct of strings, numbers and booleans always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The image at its source.
    pub fn image(&self) -> ImageRef {
        ImageRef {
            account: None,
            region: self.source.region.clone(),
            repository: self.source.repository.clone(),
            digest: self.source.digest.clone(),
        }
    }

    /// Every tag the job copies, each once, in the order first given.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = Vec::new();
        for tag in self.destinations.iter().flat_map(|d| &d.tags) {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        tags
    }
}

impl JobDestination {
    /// The destination `target`, with the tags the image gets there.
    pub fn new(target: &Target, tags: Vec<String>) -> Self {
        Self {
            region: target.region.clone(),
            account: target.account.clone(),
            repository: target.repository.clone(),
            tags,
            create_repository: target.create_repository,
            encryption: target.encryption.clone(),
            rule: target.rule.clone(),
        }
    }

    /// The copy's target.
    pub fn target(&self) -> Target {
        Target {
            rule: self.rule.clone(),
            region: self.region.clone(),
            account: self.account.clone(),
            repository: self.repository.clone(),
            create_repository: self.create_repository,
            encryption: self.encryption.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd";

    pub(super) fn job() -> CopyJob {
        let image = ImageRef {
            account: None,
            region: "us-east-1".into(),
            repository: "team/app".into(),
            digest: DIGEST.into(),
        };
        let target = Target {
            rule: "--to".into(),
            region: "eu-west-1".into(),
            account: None,
            repository: "team/app".into(),
            create_repository: true,
            encryption: None,
        };
        CopyJob::new(
            &image,
            vec![
                JobDestination::new(&target, vec!["1.0.0".into(), "latest".into()]),
                JobDestination::new(
                    &Target {
                        region: "ap-south-1".into(),
                        ..target.clone()
                    },
                    vec!["1.0.0".into()],
                ),
            ],
        )
    }

    #[test]
    fn a_job_survives_the_queue_and_names_each_tag_once() {
        let job = job();
        let body = job.to_message();
        assert!(
            body.starts_with(r#"{"kind":"ecr-steward/copy-job","version":1,"#),
            "{body}"
        );
        let read = CopyJob::from_message(&body).expect("a job");
        assert_eq!(read, job);
        assert_eq!(read.tags(), ["1.0.0", "latest"]);
        assert_eq!(read.destinations[0].target().region, "eu-west-1");
        assert_eq!(read.image().digest, DIGEST);
    }

    #[test]
    fn fields_added_within_a_version_are_ignored() {
        let mut value = serde_json::to_value(job()).expect("json");
        value["planned_by"] = "a newer ecr-steward".into();
        value["destinations"][0]["priority"] = 3.into();
        let read = CopyJob::from_message(&value.to_string()).expect("still a v1 job");
        assert_eq!(read, job());
    }

    #[test]
    fn what_is_not_a_runnable_job_says_why() {
        let error = |body: &str| CopyJob::from_message(body).expect_err("refused");
        assert!(matches!(error("not json"), JobError::NotAJob(_)));
        assert!(matches!(error(r#"{"Message":"hi"}"#), JobError::NotAJob(_)));
        let mut value = serde_json::to_value(job()).expect("json");
        value["version"] = 2.into();
        assert_eq!(
            error(&value.to_string()),
            JobError::UnsupportedVersion { found: 2 }
        );
        let mut value = serde_json::to_value(job()).expect("json");
        value["source"]["digest"] = "latest".into();
        assert!(matches!(error(&value.to_string()), JobError::Invalid(_)));
        let mut value = serde_json::to_value(job()).expect("json");
        value["destinations"][1]["tags"] = serde_json::json!([]);
        let message = error(&value.to_string()).to_string();
        assert!(
            message.contains("ap-south-1/team/app has no tags"),
            "{message}"
        );
        let mut value = serde_json::to_value(job()).expect("json");
        value["destinations"] = serde_json::json!([]);
        assert!(matches!(error(&value.to_string()), JobError::Invalid(_)));
    }
}

#[cfg(test)]
mod schema {
    use serde_json::Value;

    /// Every key of `data` is a property of `schema`, and every required one is there.
    fn conforms(schema: &Value, data: &Value, path: &str) {
        match data {
            Value::Object(object) => {
                for required in schema["required"].as_array().into_iter().flatten() {
                    let key = required.as_str().unwrap_or_default();
                    assert!(object.contains_key(key), "{path}.{key} is required");
                }
                for (key, value) in object {
                    let property = &schema["properties"][key];
                    assert!(!property.is_null(), "{path}.{key} is not in the schema");
                    conforms(property, value, &format!("{path}.{key}"));
                }
            }
            Value::Array(items) => {
                for item in items {
                    conforms(&schema["items"], item, &format!("{path}[]"));
                }
            }
            other => {
                if let Some(constant) = schema.get("const") {
                    assert_eq!(constant, other, "{path}");
                }
            }
        }
    }

    #[test]
    fn the_jobs_written_are_what_the_published_schema_describes() {
        let text = include_str!("../../schema/copy-job.v1.schema.json");
        let schema: Value = serde_json::from_str(text).expect("JSON");
        let mut job = serde_json::to_value(super::tests::job()).expect("json");
        conforms(&schema, &job, "job");
        job["destinations"][0]["account"] = "210987654321".into();
        conforms(&schema, &job, "job");
    }
}
