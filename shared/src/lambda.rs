//! What the Lambda entry points share.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::aws::{AwsPolicyStore, EventBus, Sns};
use crate::config::{FunctionConfig, PolicySource};
use crate::deadline::Deadline;
use crate::emf::EmfLog;
use crate::error::StewardError;
use crate::harness::{answer, Answered, Handler, Invocation};
use crate::http::TrustRoots;
use crate::metrics::Property;
use crate::policy_source::{self, Checked, LivePolicy, PolicyRefresh};
use crate::ports::EventPublisher;
use crate::verdict::Verdict;

/// Where [`run`] writes the invocations' metrics: set once by [`init`] from the
/// configuration, like the tracing subscriber it sets up beside it.
static METRICS: OnceLock<EmfLog> = OnceLock::new();

/// Where [`run`] puts the invocations' verdicts: set once by [`init`] from the configuration
/// (`STEWARD_VERDICT_EVENT_BUS`), beside [`METRICS`].
static VERDICTS: OnceLock<Verdicts> = OnceLock::new();

/// The verdict bus, and the function's region for verdicts whose event named none.
#[derive(Debug, Default)]
struct Verdicts {
    bus: Option<EventBus>,
    region: String,
}

impl Verdicts {
    /// Puts `verdicts` on the bus, if there is one; a verdict without a region gets the
    /// function's.
    async fn put(&self, mut verdicts: Vec<Verdict>) -> Result<(), StewardError> {
        let Some(bus) = &self.bus else {
            return Ok(());
        };
        if verdicts.is_empty() {
            return Ok(());
        }
        for verdict in &mut verdicts {
            if verdict.region.is_empty() {
                verdict.region.clone_from(&self.region);
            }
        }
        bus.verdicts(&verdicts).await
    }

    /// Announces what the invocation decided, after the handler acted. A verdict that could
    /// not be put fails the invocation (retryable or not, as the bus said): Lambda's retry
    /// reaches the verdict again and announces it again (at least once; consumers dedupe on
    /// `verdict-id`).
    async fn announce(&self, answered: &mut Answered) {
        let verdicts = std::mem::take(&mut answered.verdicts);
        let count = verdicts.len();
        if let Err(error) = self.put(verdicts).await {
            tracing::error!(%error, verdicts = count, "the verdicts could not be put on the bus");
            answered.metrics.failure(&error);
            if answered.result.is_ok() {
                answered.result = Err(error);
            }
        }
    }
}

/// What every function builds once, at init.
pub struct Init {
    /// The function's configuration.
    pub config: FunctionConfig,
    /// The one HTTP client, under `sdk` too; for the registries.
    pub http: reqwest::Client,
    /// The AWS SDK configuration, on `http`.
    pub sdk: SdkConfig,
    /// The policy the handlers read, an invocation at a time.
    pub policy: LivePolicy,
    /// What keeps `policy` up to date with where it is kept; give it to [`run`].
    pub refresh: Refresh,
}

/// Keeps a policy read from S3 or SSM up to date; `None` for a policy that is read once.
pub type Refresh = Option<PolicyRefresh<AwsPolicyStore, Sns>>;

/// Tracing, the configuration (a bad setting fails the init with a readable message), the
/// HTTP client on the functions' trusted roots, the SDK configuration on that client, and the
/// policy: a policy kept in S3 or SSM is read here, and an unreadable or invalid one fails
/// the init too.
pub async fn init() -> Result<Init, lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = FunctionConfig::for_lambda_init()?;
    let level = std::env::var(crate::emf::LAMBDA_LOG_LEVEL).ok();
    let _ = METRICS.set(EmfLog::new(config.metrics_namespace.clone()).at_level(level.as_deref()));
    let http = crate::http::client(TrustRoots::for_lambda())?;
    let sdk = crate::aws::sdk_config(&http).await;
    let _ = VERDICTS.set(Verdicts {
        bus: config
            .verdict_event_bus
            .as_deref()
            .map(|bus| EventBus::new(&sdk, bus)),
        region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
    });
    let (policy, refresh) = match &config.policy {
        PolicySource::Fixed(policy) => (LivePolicy::from(policy.clone()), None),
        PolicySource::Stored { location, refresh } => {
            let store = AwsPolicyStore::new(&sdk);
            let (policy, version) =
                policy_source::load(&store, location)
                    .await
                    .map_err(|error| {
                        tracing::error!(%error, "invalid configuration");
                        format!("invalid configuration: {error}")
                    })?;
            tracing::info!(%location, %version, rules = policy.rules.len(), "policy read");
            let policy = LivePolicy::from(policy);
            let refresher = PolicyRefresh::new(
                location.clone(),
                store,
                Sns::new(&sdk, &config.topic_arn),
                policy.clone(),
                version,
                *refresh,
                sdk.region().map(|r| r.as_ref()).unwrap_or_default(),
                Instant::now(),
            );
            (policy, Some(refresher))
        }
    };
    Ok(Init {
        config,
        http,
        sdk,
        policy,
        refresh,
    })
}

/// A failed invocation, as Lambda reports it: its error type says whether a retry can help
/// (`Retryable.*`) or not (`NonRetryable.*`), for alarms and on-failure destinations.
#[derive(Debug)]
pub struct Failure(pub StewardError);

impl From<StewardError> for Failure {
    fn from(error: StewardError) -> Self {
        Self(error)
    }
}

impl From<Failure> for lambda_runtime::Diagnostic {
    fn from(Failure(error): Failure) -> Self {
        tracing::error!(error_type = error.error_type(), %error, "invocation failed");
        lambda_runtime::Diagnostic {
            error_type: error.error_type().into(),
            error_message: error.to_string(),
        }
    }
}

/// Runs the Lambda runtime loop: every event through the harness, under its deadline; each
/// invocation's verdicts are put on the verdict bus (`STEWARD_VERDICT_EVENT_BUS`) after the
/// handler acted, and its metrics are written to the log (EMF) before it answers. Before an event, a
/// stored policy is checked for a new version when a check is due ([`Refresh`]).
pub async fn run<H: Handler>(handler: &H, refresh: &Refresh) -> Result<(), lambda_runtime::Error> {
    let metrics = METRICS.get_or_init(EmfLog::default);
    let verdicts = VERDICTS.get_or_init(Verdicts::default);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            if let Some(refresh) = refresh {
                if let Checked::Rejected { version, error } = refresh.check().await {
                    let rejected = Verdict::policy_rejected(
                        H::FUNCTION,
                        &verdicts.region,
                        &refresh.location().to_string(),
                        &version,
                        &error,
                    );
                    // The notification is the lasting record; the event is announced once.
                    if let Err(error) = verdicts.put(vec![rejected]).await {
                        tracing::warn!(%error, "the policy's verdict could not be put on the bus");
                    }
                }
            }
            let invocation = Invocation::until(deadline(&event.context));
            let mut answered = answer(handler, event.payload, invocation).await;
            verdicts.announce(&mut answered).await;
            let request_id = &event.context.request_id;
            answered.metrics.property(Property::RequestId, request_id);
            metrics.write(&answered.metrics);
            answered.result.map_err(Failure::from)
        },
    ))
    .await
}

/// How long before Lambda's deadline a handler gives up, so that its answer (a retryable error
/// at worst) reaches the runtime before the function's timeout.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// The invocation's deadline, [`ANSWER_MARGIN`] early; unlimited when the runtime gave none
/// (0: an emulator that does not send `Lambda-Runtime-Deadline-Ms`).
pub fn deadline(context: &lambda_runtime::Context) -> Deadline {
    match context.deadline {
        0 => Deadline::unlimited(),
        at => Deadline::from_epoch_millis(at).earlier_by(ANSWER_MARGIN),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;

    #[test]
    fn the_deadline_comes_from_the_context_with_a_margin_to_answer_in() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let mut context = lambda_runtime::Context::default();
        context.deadline = now_ms + 3_000;
        let left = deadline(&context).remaining().expect("a deadline");
        assert_eq!(
            deadline(&lambda_runtime::Context::default()).remaining(),
            None,
            "no deadline given, none applied"
        );
        assert!(
            left <= Duration::from_millis(2_500) && left > Duration::from_millis(2_000),
            "{left:?}"
        );
        assert_eq!(
            Failure(StewardError::Throttled {
                service: crate::error::Service::Sns,
                message: "slow down".into()
            })
            .into_diagnostic_type(),
            "Retryable.Throttled"
        );
    }

    impl Failure {
        fn into_diagnostic_type(self) -> String {
            lambda_runtime::Diagnostic::from(self).error_type
        }
    }
}
