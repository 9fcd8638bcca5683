//! What the AWS-facing commands share: a runtime, and the SDK configuration with its region.

use anyhow::{anyhow, Context};
use aws_config::SdkConfig;

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The SDK configuration from the environment, in `region` when given; and the region in force.
pub async fn sdk(region: Option<&str>) -> anyhow::Result<(SdkConfig, String)> {
    let mut sdk = steward::aws::sdk_config().await;
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
    Ok((sdk, region))
}
