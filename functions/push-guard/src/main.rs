use lambda_runtime::{service_fn, LambdaEvent};
use push_guard::PushGuard;
use serde_json::Value;
use steward::aws::{Ecr, Registries, Sns};
use steward::lambda::{diagnostic, Init};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Init { config, http, sdk } = steward::lambda::init().await?;
    let guard = PushGuard {
        images: Registries::new(&sdk, http, config.registry_overrides),
        tags: Ecr::new(&sdk),
        notifier: Sns::new(&sdk, &config.topic_arn),
        policy: config.policy,
        mode_override: config.mode_override,
    };
    let guard = &guard;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = steward::lambda::deadline(&event.context);
        deadline
            .run(Box::pin(guard.handle_within(event.payload, deadline)))
            .await
            .map_err(diagnostic)
    }))
    .await
}
