//! The policy kept in S3 (GetObject, conditional on the last ETag) or in SSM Parameter Store
//! (GetParameter with decryption, compared by version), with the SDK's clients: their
//! endpoint resolution (`AWS_ENDPOINT_URL_S3`, `_SSM`, FIPS and dual-stack settings), retries
//! and error parsing.

use aws_config::SdkConfig;
use aws_sdk_s3::error::SdkError;

use super::classify::classify;
use crate::error::{Service, StewardError};
use crate::policy_source::PolicyLocation;
use crate::ports::{PolicyFetch, PolicyStore};

/// The largest policy read from S3; a larger object is refused, not parsed.
pub const MAX_POLICY_BYTES: usize = 1 << 20;

/// Reads policies from S3 and SSM.
#[derive(Clone, Debug)]
pub struct AwsPolicyStore {
    s3: aws_sdk_s3::Client,
    ssm: aws_sdk_ssm::Client,
}

impl AwsPolicyStore {
    /// A reader on `config`'s credentials, region, endpoints and HTTP client.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            s3: s3_client(config),
            ssm: aws_sdk_ssm::Client::new(config),
        }
    }

    async fn object(
        &self,
        bucket: &str,
        key: &str,
        known: Option<&str>,
    ) -> Result<PolicyFetch, StewardError> {
        let location = format!("s3://{bucket}/{key}");
        let answer = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_none_match(known.map(str::to_string))
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            // S3 answers 304 Not Modified, which the SDK hands back as an error.
            Err(SdkError::ServiceError(context)) if context.raw().status().as_u16() == 304 => {
                return Ok(PolicyFetch::Unchanged)
            }
            Err(error) => return Err(at(classify(Service::S3, error), &location)),
        };
        let version = output.e_tag().unwrap_or_default().to_string();
        // A server that ignores If-None-Match sends the object again.
        if known == Some(version.as_str()) {
            return Ok(PolicyFetch::Unchanged);
        }
        let invalid = |message: String| StewardError::InvalidResponse {
            service: Service::S3,
            message: format!("{location}: {message}"),
        };
        let too_large = |bytes: u64| {
            invalid(format!(
                "{bytes} bytes; a policy may have at most {MAX_POLICY_BYTES}"
            ))
        };
        let declared = output.content_length().and_then(|n| u64::try_from(n).ok());
        if let Some(bytes) = declared.filter(|&n| n > MAX_POLICY_BYTES as u64) {
            return Err(too_large(bytes));
        }
        let body = output
            .body
            .collect()
            .await
            .map_err(|error| StewardError::Unavailable {
                service: Service::S3,
                message: format!("{location}: reading the object: {error}"),
            })?
            .into_bytes();
        if body.len() > MAX_POLICY_BYTES {
            return Err(too_large(body.len() as u64));
        }
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| invalid("the object is not UTF-8 text".into()))?;
        Ok(PolicyFetch::Changed { text, version })
    }

    async fn parameter(
        &self,
        name: &str,
        known: Option<&str>,
    ) -> Result<PolicyFetch, StewardError> {
        let location = format!("ssm:{name}");
        let output = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| at(classify(Service::Ssm, error), &location))?;
        let (Some(value), version) = output
            .parameter()
            .map(|p| (p.value(), p.version()))
            .unwrap_or_default()
        else {
            return Err(StewardError::InvalidResponse {
                service: Service::Ssm,
                message: format!("{location}: GetParameter returned no parameter value"),
            });
        };
        let version = version.to_string();
        if known == Some(version.as_str()) {
            return Ok(PolicyFetch::Unchanged);
        }
        Ok(PolicyFetch::Changed {
            text: value.to_string(),
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

/// The S3 client. Under a set endpoint (moto, a test bed, an interface endpoint given as
/// `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`) objects are addressed path-style, which every
/// S3-compatible server accepts; otherwise the SDK's default (virtual-hosted, path-style for
/// bucket names that need it).
fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let endpoint_set = config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(endpoint_set)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// `error`; a missing object or parameter is named by its location (the service's own words,
/// such as "The specified key does not exist.", name nothing).
fn at(error: StewardError, location: &str) -> StewardError {
    match error {
        StewardError::NotFound { service, .. } => StewardError::NotFound {
            service,
            what: location.to_string(),
        },
        other => other,
    }
}
