use lambda_runtime::{service_fn, LambdaEvent};
use replicator::ReplicatorFunction;
use serde_json::Value;
use steward::aws::{sdk_config, Registries, RegistryReplicator, Sns};
use steward::config::FunctionConfig;
use steward::copy::CopyOptions;
use steward::http::TrustRoots;
use steward::lambda::diagnostic;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = FunctionConfig::for_lambda_init()?;
    let http = steward::http::client(TrustRoots::for_lambda())?;
    let sdk = sdk_config(&http).await;
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
