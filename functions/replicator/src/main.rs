use lambda_runtime::{service_fn, LambdaEvent};
use replicator::ReplicatorFunction;
use serde_json::Value;
use steward::aws::{Registries, RegistryReplicator, Sns};
use steward::lambda::{diagnostic, Init};
use steward::oci::copy::CopyOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Init { config, http, sdk } = steward::lambda::init().await?;
    let registries = Registries::new(&sdk, http, config.registry_overrides);
    let function = ReplicatorFunction {
        images: registries.clone(),
        replicator: RegistryReplicator {
            registries,
            sdk: sdk.clone(),
            options: CopyOptions::default(),
        },
        mode_override: config.mode_override,
        notify_already_replicated: config.notify_already_replicated,
        notifier: Sns::new(&sdk, &config.topic_arn),
        policy: config.policy,
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = steward::lambda::deadline(&event.context);
        deadline
            .run(function.handle_within(event.payload, deadline))
            .await
            .map_err(diagnostic)
    }))
    .await
}
