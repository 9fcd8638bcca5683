//! push-guard's Lambda entry point: the configuration and the AWS adapters, wired into
//! [`push_guard::PushGuard`] and run.

use push_guard::PushGuard;
use steward::aws::{Ecr, Registries, Sns, Sqs};
use steward::lambda::Init;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Init {
        config,
        http,
        sdk,
        policy,
        refresh,
    } = steward::lambda::init().await?;
    let guard = PushGuard {
        images: Registries::new(&sdk, http, config.registry_overrides),
        tags: Ecr::new(&sdk),
        notifier: Sns::new(&sdk, &config.topic_arn),
        rechecks: config.recheck_queue_url.map(|url| Sqs::new(&sdk, &url)),
        policy,
        mode_override: config.mode_override,
    };
    steward::lambda::run(&guard, &refresh).await
}
