//! The policy kept in S3 (GetObject, conditional on the last ETag) or in SSM Parameter Store
//! (GetParameter with decryption, compared by version), as signed requests on the one HTTP
//! client ([`super::signed`]), retried with backoff when throttled or unavailable.

use aws_config::SdkConfig;
use serde_json::json;

use super::classify::classify_answer;
use super::signed::{encode_path, SignedClient};
use crate::error::{Service, StewardError};
use crate::policy_source::PolicyLocation;
use crate::ports::{PolicyFetch, PolicyStore};
use crate::retry::RetryPolicy;

/// The largest policy read from S3; a larger object is refused, not parsed.
pub const MAX_POLICY_BYTES: usize = 1 << 20;

/// Reads policies from S3 and SSM.
#[derive(Clone, Debug)]
pub struct AwsPolicyStore {
    s3: SignedClient,
    ssm: SignedClient,
    retry: RetryPolicy,
}

impl AwsPolicyStore {
    /// A reader on `config`'s credentials, region and endpoint, over `http`.
    pub fn new(config: &SdkConfig, http: reqwest::Client) -> Self {
        Self {
            s3: SignedClient::new(config, http.clone(), Service::S3, "s3"),
            ssm: SignedClient::new(config, http, Service::Ssm, "ssm"),
            retry: RetryPolicy {
                attempts: 3,
                ..RetryPolicy::default()
            },
        }
    }

    /// Path-style under a set endpoint (moto, a VPC endpoint), else virtual-hosted; a bucket
    /// name with dots is path-style, since it does not match the wildcard certificate.
    fn object_url(&self, bucket: &str, key: &str) -> String {
        let key = encode_path(key);
        match self.s3.endpoint() {
            Some(endpoint) => format!("{endpoint}/{bucket}/{key}"),
            None if bucket.contains('.') => {
                format!("{}/{bucket}/{key}", self.s3.regional_url("s3"))
            }
            None => format!("{}/{key}", self.s3.regional_url(&format!("{bucket}.s3"))),
        }
    }

    async fn object(
        &self,
        bucket: &str,
        key: &str,
        known: Option<&str>,
    ) -> Result<PolicyFetch, StewardError> {
        let location = format!("s3://{bucket}/{key}");
        let url = self.object_url(bucket, key);
        let headers: Vec<(&str, &str)> = known
            .map(|etag| ("if-none-match", etag))
            .into_iter()
            .collect();
        let answer = self
            .retry
            .run(|| async {
                let answer = self
                    .s3
                    .send(reqwest::Method::GET, &url, &headers, Vec::new())
                    .await?;
                match answer.status {
                    200 | 304 => Ok(answer),
                    status => Err(classify_answer(
                        Service::S3,
                        status,
                        &answer.body,
                        &location,
                    )),
                }
            })
            .await?;
        if answer.status == 304 {
            return Ok(PolicyFetch::Unchanged);
        }
        let version = answer
            .headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        // A server that ignores If-None-Match sends the object again.
        if known == Some(version.as_str()) {
            return Ok(PolicyFetch::Unchanged);
        }
        let invalid = |message: String| StewardError::InvalidResponse {
            service: Service::S3,
            message: format!("{location}: {message}"),
        };
        if answer.body.len() > MAX_POLICY_BYTES {
            return Err(invalid(format!(
                "{} bytes; a policy may have at most {MAX_POLICY_BYTES}",
                answer.body.len()
            )));
        }
        let text = String::from_utf8(answer.body.to_vec())
            .map_err(|_| invalid("the object is not UTF-8 text".into()))?;
        Ok(PolicyFetch::Changed { text, version })
    }

    async fn parameter(
        &self,
        name: &str,
        known: Option<&str>,
    ) -> Result<PolicyFetch, StewardError> {
        let location = format!("ssm:{name}");
        let body = json!({ "Name": name, "WithDecryption": true }).to_string();
        let answer = self
            .ssm
            .call_json(
                "ssm",
                "application/x-amz-json-1.1",
                "AmazonSSM.GetParameter",
                &body,
                &location,
                &self.retry,
            )
            .await?;
        let invalid = |message: &str| StewardError::InvalidResponse {
            service: Service::Ssm,
            message: format!("{location}: {message}"),
        };
        let output: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|_| invalid("GetParameter's answer is not JSON"))?;
        let parameter = &output["Parameter"];
        let (Some(value), Some(version)) =
            (parameter["Value"].as_str(), parameter["Version"].as_i64())
        else {
            return Err(invalid(
                "GetParameter returned no parameter value and version",
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn store(endpoint: Option<&str>, region: &str) -> AwsPolicyStore {
        let mut config = SdkConfig::builder()
            .region(aws_config::Region::new(region.to_string()))
            .behavior_version(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        let http = crate::http::client(crate::http::TrustRoots::Bundled).expect("a client");
        AwsPolicyStore::new(&config.build(), http)
    }

    #[test]
    fn objects_are_addressed_as_s3_expects() {
        assert_eq!(
            store(None, "eu-west-1").object_url("policies", "team/policy v2.yaml"),
            "https://policies.s3.eu-west-1.amazonaws.com/team/policy%20v2.yaml"
        );
        assert_eq!(
            store(None, "us-east-1").object_url("my.policies", "p.json"),
            "https://s3.us-east-1.amazonaws.com/my.policies/p.json"
        );
        assert_eq!(
            store(None, "cn-north-1").object_url("policies", "p.json"),
            "https://policies.s3.cn-north-1.amazonaws.com.cn/p.json"
        );
        assert_eq!(
            store(Some("http://127.0.0.1:5000/"), "us-east-1").object_url("policies", "p.json"),
            "http://127.0.0.1:5000/policies/p.json"
        );
    }
}
