//! What the AWS-facing commands share: a runtime, and the SDK configuration with its region.

use anyhow::{anyhow, Context};
use aws_config::SdkConfig;
use steward::http::TrustRoots;

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// What the AWS-facing commands work with.
pub struct Aws {
    /// The SDK configuration from the environment, in the region asked for.
    pub sdk: SdkConfig,
    /// The HTTP client under the SDK, for the registries too.
    pub http: reqwest::Client,
    /// The region in force.
    pub region: String,
}

/// The SDK configuration from the environment, in `region` when given. A CLI runs where
/// private CAs and TLS-inspecting proxies are common, so it trusts the system's roots.
pub async fn connect(region: Option<&str>) -> anyhow::Result<Aws> {
    let http = steward::http::client(TrustRoots::System)?;
    let mut sdk = steward::aws::sdk_config(&http).await;
    if let Some(region) = region {
        sdk = sdk
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build();
    }
    let region = sdk
        .region()
        .map(ToString::to_string)
        .ok_or_else(|| anyhow!("no AWS region: set AWS_REGION or pass --region"))?;
    Ok(Aws { sdk, http, region })
}
