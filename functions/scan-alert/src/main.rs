use lambda_runtime::{service_fn, LambdaEvent};
use scan_alert::ScanAlert;
use serde_json::Value;
use steward::aws::{Ecr, Sns};
use steward::date::Date;
use steward::lambda::{diagnostic, Init};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Init { config, sdk, .. } = steward::lambda::init().await?;
    let alert = ScanAlert {
        scans: Ecr::new(&sdk),
        notifier: Sns::new(&sdk, &config.topic_arn),
        policy: config.policy,
        notify_clean: config.notify_clean,
    };
    let alert = &alert;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        steward::lambda::deadline(&event.context)
            .run(alert.handle(event.payload, Date::today()))
            .await
            .map_err(diagnostic)
    }))
    .await
}
