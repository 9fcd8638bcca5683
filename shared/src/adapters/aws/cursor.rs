//! Where the retention function starts its next run (RunCursor): one SSM parameter the stack
//! owns (`STEWARD_RETENTION_CURSOR`), holding the name of the first repository a run left for
//! the next, or `-` when the last run finished. Nothing is written on the user's
//! repositories. GetParameter and PutParameter through the signed client the policy store
//! already uses for SSM (see `signed.rs` for why not aws-sdk-ssm).

use aws_config::SdkConfig;
use serde_json::json;

use super::signed::SignedClient;
use crate::error::{Service, StewardError};
use crate::ports::RunCursor;
use crate::retry::RetryPolicy;

/// The value that means "start from the first repository".
const FROM_THE_START: &str = "-";

/// The run cursor in an SSM parameter; without a parameter name, every run starts from the
/// first repository and nothing is kept.
#[derive(Clone, Debug)]
pub struct SsmCursor {
    ssm: SignedClient,
    name: Option<String>,
    retry: RetryPolicy,
}

impl SsmCursor {
    /// The cursor in parameter `name` (or none), on `config`'s credentials, over `http`.
    pub fn new(config: &SdkConfig, http: reqwest::Client, name: Option<String>) -> Self {
        Self {
            ssm: SignedClient::new(config, http, Service::Ssm, "ssm"),
            name: name.filter(|n| !n.trim().is_empty()),
            retry: RetryPolicy {
                attempts: 3,
                ..RetryPolicy::default()
            },
        }
    }

    async fn call(&self, target: &str, body: serde_json::Value) -> Result<Vec<u8>, StewardError> {
        let name = self.name.as_deref().unwrap_or_default();
        let answer = self
            .ssm
            .call_json(
                "ssm",
                "application/x-amz-json-1.1",
                target,
                &body.to_string(),
                &format!("ssm:{name}"),
                &self.retry,
            )
            .await?;
        Ok(answer.body.to_vec())
    }
}

impl RunCursor for SsmCursor {
    async fn next_start(&self) -> Result<Option<String>, StewardError> {
        let Some(name) = &self.name else {
            return Ok(None);
        };
        let body = self
            .call("AmazonSSM.GetParameter", json!({ "Name": name }))
            .await?;
        let output: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| StewardError::InvalidResponse {
                service: Service::Ssm,
                message: format!("ssm:{name}: GetParameter's answer is not JSON"),
            })?;
        Ok(output["Parameter"]["Value"]
            .as_str()
            .map(str::trim)
            .filter(|value| !value.is_empty() && *value != FROM_THE_START)
            .map(str::to_string))
    }

    async fn set_next_start(&self, repository: Option<&str>) -> Result<(), StewardError> {
        let Some(name) = &self.name else {
            return Ok(());
        };
        let value = repository.unwrap_or(FROM_THE_START);
        self.call(
            "AmazonSSM.PutParameter",
            json!({ "Name": name, "Value": value, "Type": "String", "Overwrite": true }),
        )
        .await?;
        Ok(())
    }
}
