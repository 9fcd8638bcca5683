//! AWS API requests signed with SigV4 on the one HTTP client, for the two reads the functions
//! make without an SDK crate of their own (S3 GetObject, SSM GetParameter): each crate would
//! add about a third of a megabyte to every function's zip. The credentials, region and
//! endpoint are the SDK configuration's, the signer is the SDK's own (`aws-sigv4`).

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::error::{with_causes, Service, StewardError};

/// Signs and sends requests to one service.
#[derive(Clone, Debug)]
pub struct SignedClient {
    http: reqwest::Client,
    credentials: Option<SharedCredentialsProvider>,
    region: String,
    endpoint: Option<String>,
    service: Service,
    signing_name: &'static str,
}

/// An answer: its status, headers and body.
pub struct SignedAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body, read whole (both reads are small, and bounded by their callers).
    pub body: bytes::Bytes,
}

impl SignedClient {
    /// A client of `service` (signing name `signing_name`: `s3`, `ssm`) on `sdk`'s
    /// credentials, region and endpoint (`AWS_ENDPOINT_URL`), over `http`.
    pub fn new(
        sdk: &SdkConfig,
        http: reqwest::Client,
        service: Service,
        signing_name: &'static str,
    ) -> Self {
        Self {
            http,
            credentials: sdk.credentials_provider(),
            region: sdk
                .region()
                .map(|r| r.as_ref().to_string())
                .unwrap_or_default(),
            endpoint: sdk
                .endpoint_url()
                .map(|url| url.trim_end_matches('/').to_string()),
            service,
            signing_name,
        }
    }

    /// The endpoint set for every service (`AWS_ENDPOINT_URL`), if any.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// `https://{host_prefix}.{region}.amazonaws.com` (`.amazonaws.com.cn` in China).
    pub fn regional_url(&self, host_prefix: &str) -> String {
        let suffix = if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://{host_prefix}.{}.{suffix}", self.region)
    }

    /// Sends `method url` with `headers` and `body`, signed. A network failure is
    /// [`StewardError::Unavailable`]; any HTTP status is an answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<SignedAnswer, StewardError> {
        let identity = self.identity().await?;
        let mut settings = SigningSettings::default();
        if self.signing_name == "s3" {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.signing_name)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| self.internal(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url,
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| self.internal(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| self.internal(e.to_string()))?
            .into_parts();
        let mut request = self.http.request(method, url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (signed_headers, _) = instructions.into_parts();
        for header in signed_headers {
            request = request.header(header.name(), header.value());
        }
        let response = request.send().await.map_err(|e| self.unavailable(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.unavailable(&e))?;
        Ok(SignedAnswer {
            status,
            headers,
            body,
        })
    }

    /// One call of an AWS JSON-protocol API (`x-amz-target: {target}`, `content_type`
    /// `application/x-amz-json-1.0` or `-1.1`) at the set endpoint or the regional one
    /// (`host_prefix`), retried by `retry`: the 200 answer, or the error it classifies as (of
    /// `what`, as a reader would name it).
    pub async fn call_json(
        &self,
        host_prefix: &str,
        content_type: &str,
        target: &str,
        body: &str,
        what: &str,
        retry: &crate::retry::RetryPolicy,
    ) -> Result<SignedAnswer, StewardError> {
        let url = match self.endpoint() {
            Some(endpoint) => format!("{endpoint}/"),
            None => format!("{}/", self.regional_url(host_prefix)),
        };
        let headers = [("content-type", content_type), ("x-amz-target", target)];
        retry
            .run(|| async {
                let answer = self
                    .send(
                        reqwest::Method::POST,
                        &url,
                        &headers,
                        body.as_bytes().to_vec(),
                    )
                    .await?;
                match answer.status {
                    200 => Ok(answer),
                    status => Err(super::classify::classify_answer(
                        self.service,
                        status,
                        &answer.body,
                        what,
                    )),
                }
            })
            .await
    }

    async fn identity(&self) -> Result<Identity, StewardError> {
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| StewardError::Rejected {
                service: self.service,
                code: None,
                message: "no AWS credentials are configured".into(),
            })?;
        let credentials =
            provider
                .provide_credentials()
                .await
                .map_err(|e| StewardError::Unavailable {
                    service: self.service,
                    message: format!("no AWS credentials: {}", with_causes(&e)),
                })?;
        Ok(credentials.into())
    }

    fn internal(&self, message: String) -> StewardError {
        StewardError::Internal(format!("signing a {} request: {message}", self.service))
    }

    fn unavailable(&self, error: &reqwest::Error) -> StewardError {
        StewardError::Unavailable {
            service: self.service,
            message: with_causes(error),
        }
    }
}

/// `team/policy v2.yaml` → `team/policy%20v2.yaml`: every byte but the unreserved ones and
/// `/` percent-encoded, as S3 keys are in a URL path.
pub fn encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(char::from(byte))
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

/// The error code and message of an AWS error answer: S3's XML (`<Code>`, `<Message>`) or the
/// JSON protocols' (`__type`, possibly `namespace#Code`, and `message`).
pub fn error_code(body: &[u8]) -> (Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_string())
    };
    if let Some(code) = element("Code") {
        return (Some(code), element("Message"));
    }
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = json["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
    let message = json["message"]
        .as_str()
        .or_else(|| json["Message"].as_str())
        .map(str::to_string);
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_a_path_and_error_codes_read_from_either_protocol() {
        assert_eq!(
            encode_path("team/policy v2+.yaml"),
            "team/policy%20v2%2B.yaml"
        );
        assert_eq!(
            error_code(b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"),
            (Some("NoSuchKey".into()), Some("The specified key does not exist.".into()))
        );
        assert_eq!(
            error_code(br#"{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"gone"}"#),
            (Some("ParameterNotFound".into()), Some("gone".into()))
        );
        assert_eq!(error_code(b"<html>bad gateway</html>"), (None, None));
    }
}
