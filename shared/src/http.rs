//! The one HTTP client: reqwest on rustls (ring), used by the registry client and, through
//! [`SdkHttpClient`], by the AWS SDK. One connection pool, one TLS configuration, and the
//! root certificates loaded once, not once per client.

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use crate::error::{with_causes, Service, StewardError};

/// Where the trusted root certificates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustRoots {
    /// Mozilla's root program, compiled in (`webpki-roots`): nothing read or parsed at start.
    /// Amazon's endpoints and ECR registries chain to roots in it.
    Bundled,
    /// The operating system's store, read at start (honours `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR`): for private CAs and TLS-inspecting proxies.
    System,
}

impl TrustRoots {
    /// The functions' choice: the bundled roots, unless `SSL_CERT_FILE` or `SSL_CERT_DIR`
    /// asks for a certificate store of one's own.
    pub fn for_lambda() -> Self {
        Self::for_lambda_from(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
    }

    fn for_lambda_from(is_set: impl Fn(&str) -> bool) -> Self {
        if is_set("SSL_CERT_FILE") || is_set("SSL_CERT_DIR") {
            Self::System
        } else {
            Self::Bundled
        }
    }
}

/// The HTTP client: bounded timeouts, and no automatic redirects (they would carry the
/// registry's Authorization header to S3; the registry client follows them itself).
pub fn client(roots: TrustRoots) -> Result<reqwest::Client, StewardError> {
    let builder = base_builder();
    let builder = match roots {
        TrustRoots::Bundled => builder.tls_backend_preconfigured(bundled_tls()?),
        TrustRoots::System => {
            install_crypto();
            builder
        }
    };
    build(builder)
}

/// `connections` more clients like [`client`], each with a pool (a connection) of its own,
/// for the bodies of uploads (`RegistryClient::with_upload_lanes`); none for 1 (uploads then
/// share the one client's connection).
pub fn upload_lanes(
    roots: TrustRoots,
    connections: usize,
) -> Result<Vec<reqwest::Client>, StewardError> {
    if connections < 2 {
        return Ok(Vec::new());
    }
    (0..connections).map(|_| client(roots)).collect()
}

fn base_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .user_agent(concat!("ecr-steward/", env!("CARGO_PKG_VERSION")))
}

fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, StewardError> {
    builder.build().map_err(|error| StewardError::Unavailable {
        service: Service::Registry,
        message: format!("cannot build the HTTP client: {}", with_causes(&error)),
    })
}

/// The HTTP client of [`client`], trusting the bundled roots and `extra_roots` too: for a
/// private CA handed over explicitly (the test bed's), where [`TrustRoots::System`] would read
/// the process's `SSL_CERT_FILE`.
pub fn client_trusting(
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<reqwest::Client, StewardError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let (_, rejected) = roots.add_parsable_certificates(extra_roots);
    if rejected > 0 {
        return Err(StewardError::Unavailable {
            service: Service::Registry,
            message: format!("{rejected} extra root certificate(s) cannot be used"),
        });
    }
    build(base_builder().tls_backend_preconfigured(with_roots(roots)?))
}

/// Installs ring as the process's rustls provider (for [`TrustRoots::System`]). Idempotent.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn bundled_tls() -> Result<rustls::ClientConfig, StewardError> {
    with_roots(webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect())
}

fn with_roots(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, StewardError> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| StewardError::Unavailable {
        service: Service::Registry,
        message: format!("cannot configure TLS: {error}"),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The AWS SDK's HTTP client, on `client`. Requests are sent as they are (bodies streamed);
/// failures are reported in the SDK's classes, so its retry strategy treats timeouts and I/O
/// errors as transient.
#[derive(Debug, Clone)]
pub struct SdkHttpClient {
    client: reqwest::Client,
}

impl SdkHttpClient {
    /// The SDK's HTTP client on `client`, ready for `SdkConfig::http_client`.
    pub fn shared(client: reqwest::Client) -> SharedHttpClient {
        SharedHttpClient::new(Self { client })
    }
}

impl HttpClient for SdkHttpClient {
    /// The connector's timeouts are the client's (connect 5 s, each read 30 s); the SDK's
    /// operation and attempt timeouts apply on top.
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SdkHttpConnector {
            client: self.client.clone(),
        })
    }
}

#[derive(Debug, Clone)]
struct SdkHttpConnector {
    client: reqwest::Client,
}

impl HttpConnector for SdkHttpConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|error| ConnectorError::user(error.into()))?
                .map(|body| match body.bytes() {
                    Some(bytes) => reqwest::Body::from(bytes.to_vec()),
                    None => reqwest::Body::wrap(body),
                });
            let request = reqwest::Request::try_from(request)
                .map_err(|error| ConnectorError::user(error.into()))?;
            let response = client.execute(request).await.map_err(connector_error)?;
            let response = http::Response::from(response).map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response)
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() {
        ConnectorError::io(error.into()).never_connected()
    } else if error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_roots_unless_a_store_is_named() {
        assert_eq!(TrustRoots::for_lambda_from(|_| false), TrustRoots::Bundled);
        assert_eq!(
            TrustRoots::for_lambda_from(|name| name == "SSL_CERT_FILE"),
            TrustRoots::System
        );
        assert_eq!(
            TrustRoots::for_lambda_from(|name| name == "SSL_CERT_DIR"),
            TrustRoots::System
        );
    }

    #[test]
    fn both_root_stores_build_a_client() {
        assert!(client(TrustRoots::Bundled).is_ok());
        assert!(client(TrustRoots::System).is_ok());
    }

    #[test]
    fn bundled_tls_offers_h2_and_http1() {
        let config = bundled_tls().expect("a TLS configuration");
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
