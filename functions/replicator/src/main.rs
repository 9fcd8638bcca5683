use lambda_runtime::{service_fn, LambdaEvent};
use replicator::ReplicatorFunction;
use serde_json::Value;
use steward::aws::{Registries, RegistryReplicator, Sns};
use steward::copy::CopyOptions;
use steward::lambda::{diagnostic, Init};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Init { config, http, sdk } = steward::lambda::init().await?;
    let function = ReplicatorFunction {
        replicator: RegistryReplicator {
            registries: Registries::new(&sdk, http, config.registry_overrides),
            sdk: sdk.clone(),
            options: CopyOptions::default(),
        },
        notifier: Sns::new(&sdk, &config.topic_arn),
        policy: config.policy,
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        function.handle(event.payload).await.map_err(diagnostic)
    }))
    .await
}
