//! The policy kept in S3 (GetObject, conditional on the last ETag) or in SSM Parameter Store
//! (GetParameter with decryption, compared by version).

use aws_config::SdkConfig;
use aws_sdk_s3::error::SdkError;

use super::classify::classify;
use crate::error::{Service, StewardError};
use crate::policy_source::PolicyLocation;
use crate::ports::{PolicyFetch, PolicyStore};

/// The largest policy read from S3; a larger object is refused, not read.
pub const MAX_POLICY_BYTES: i64 = 1 << 20;

/// Reads policies from S3 and SSM.
#[derive(Clone, Debug)]
pub struct AwsPolicyStore {
    s3: aws_sdk_s3::Client,
    ssm: aws_sdk_ssm::Client,
}

impl AwsPolicyStore {
    /// A reader on `config`.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            s3: aws_sdk_s3::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
        }
    }

    async fn object(
        &self,
        bucket: &str,
        key: &str,
        known: Option<&str>,
    ) -> Result<PolicyFetch, StewardError> {
        let answer = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_none_match(known.map(Into::into))
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(SdkError::ServiceError(context)) if context.raw().status().as_u16() == 304 => {
                return Ok(PolicyFetch::Unchanged)
            }
            Err(error) => return Err(classify(Service::S3, error)),
        };
        let version = output.e_tag().unwrap_or_default().to_string();
        // A server that ignores If-None-Match sends the object again.
        if known == Some(version.as_str()) {
            return Ok(PolicyFetch::Unchanged);
        }
        let invalid = |message: String| StewardError::InvalidResponse {
            service: Service::S3,
            message: format!("s3://{bucket}/{key}: {message}"),
        };
        if output.content_length().unwrap_or_default() > MAX_POLICY_BYTES {
            return Err(invalid(format!(
                "{} bytes; a policy may have at most {MAX_POLICY_BYTES}",
                output.content_length().unwrap_or_default()
            )));
        }
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|error| StewardError::Unavailable {
                service: Service::S3,
                message: format!("reading s3://{bucket}/{key}: {error}"),
            })?
            .into_bytes();
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| invalid("the object is not UTF-8 text".into()))?;
        Ok(PolicyFetch::Changed { text, version })
    }

    async fn parameter(
        &self,
        name: &str,
        known: Option<&str>,
    ) -> Result<PolicyFetch, StewardError> {
        let output = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| classify(Service::Ssm, error))?;
        let parameter = output
            .parameter()
            .ok_or_else(|| StewardError::InvalidResponse {
                service: Service::Ssm,
                message: format!("ssm:{name}: GetParameter returned no parameter"),
            })?;
        let version = parameter.version().to_string();
        if known == Some(version.as_str()) {
            return Ok(PolicyFetch::Unchanged);
        }
        Ok(PolicyFetch::Changed {
            text: parameter.value().unwrap_or_default().to_string(),
            version,
        })
    }
}

impl PolicyStore for AwsPolicyStore {
    async fn fetch(
        &self,
        location: &PolicyLocation,
        known: Option<&str>,
    ) -> Result<PolicyFetch, StewardError> {
        match location {
            PolicyLocation::S3 { bucket, key } => self.object(bucket, key, known).await,
            PolicyLocation::Ssm { name } => self.parameter(name, known).await,
        }
    }
}
