//! replicator's Lambda entry point: the configuration and the AWS adapters, wired into
//! [`replicator::ReplicatorFunction`] and run.

use replicator::ReplicatorFunction;
use steward::aws::{EventBus, Registries, RegistryReplicator, Sns, Sqs};
use steward::lambda::Init;
use steward::oci::copy::CopyOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Init {
        config,
        http,
        sdk,
        policy,
        refresh,
    } = steward::lambda::init().await?;
    let lanes = steward::http::upload_lanes(
        steward::http::TrustRoots::for_lambda(),
        config.upload_connections,
    )?;
    let registries =
        Registries::new(&sdk, http, config.registry_overrides).with_upload_lanes(lanes);
    let function = ReplicatorFunction {
        images: registries.clone(),
        replicator: RegistryReplicator {
            registries,
            sdk: sdk.clone(),
            options: CopyOptions {
                monolithic: !config.chunked_uploads,
                ..CopyOptions::default()
            },
            create_repositories: config.create_repositories,
        },
        mode_override: config.mode_override,
        notify_already_replicated: config.notify_already_replicated,
        notifier: Sns::new(&sdk, &config.topic_arn),
        dead_letters: config
            .dead_letter_queue_url
            .as_deref()
            .map(|url| Sqs::new(&sdk, url)),
        events: config
            .event_bus
            .as_deref()
            .map(|bus| EventBus::new(&sdk, bus)),
        policy,
    };
    steward::lambda::run(&function, &refresh).await
}
