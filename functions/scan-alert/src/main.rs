//! scan-alert's Lambda entry point: the configuration and the AWS adapters, wired into
//! [`scan_alert::ScanAlert`] and run.

use scan_alert::ScanAlert;
use steward::aws::{Ecr, Sns};
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
    let alert = ScanAlert {
        scans: Ecr::new(&sdk),
        notifier: Sns::new(&sdk, &config.topic_arn),
        policy,
        notify_clean: config.notify_clean,
    };
    steward::lambda::run(&alert, &refresh).await
}
