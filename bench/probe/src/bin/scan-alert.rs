//! A copy of the function's main.rs (bench/probe), with the allocator as a feature.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lambda_runtime::{service_fn, LambdaEvent};
use scan_alert::ScanAlert;
use serde_json::Value;
use steward::aws::{sdk_config, Ecr, Sns};
use steward::config::FunctionConfig;
use steward::http::TrustRoots;
use steward::date::Date;
use steward::lambda::diagnostic;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = FunctionConfig::for_lambda_init()?;
    let http = steward::http::client(TrustRoots::for_lambda())?;
    let sdk = sdk_config(&http).await;
    let alert = ScanAlert {
        scans: Ecr::new(&sdk),
        notifier: Sns::new(&sdk, &config.topic_arn),
        policy: config.policy,
        notify_clean: config.notify_clean,
    };
    let alert = &alert;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        alert
            .handle(event.payload, Date::today())
            .await
            .map_err(diagnostic)
    }))
    .await
}
