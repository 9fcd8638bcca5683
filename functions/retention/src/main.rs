//! retention's Lambda entry point: the configuration and the AWS adapters, wired into
//! [`retention::Retention`] and run.

use retention::Retention;
use steward::aws::{AwsWorkloads, Ecr, Sns, SsmCursor};
use steward::lambda::Init;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Init {
        config,
        sdk,
        policy,
        refresh,
        ..
    } = steward::lambda::init().await?;
    let retention = Retention {
        apply: retention::apply_from(std::env::vars())?,
        region: sdk.region().map(ToString::to_string).unwrap_or_default(),
        store: Ecr::new(&sdk),
        notifier: Sns::new(&sdk, &config.topic_arn),
        workloads: AwsWorkloads::new(&sdk),
        cursor: SsmCursor::new(&sdk, std::env::var(retention::RETENTION_CURSOR).ok()),
        policy,
    };
    steward::lambda::run(&retention, &refresh).await
}
