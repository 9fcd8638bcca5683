//! The functions' configuration, read from the environment once at init and validated there:
//! a bad setting fails the init with a message that names the variable.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::metrics::Namespace;
use crate::policy::{Mode, Policy, PolicyError, SourceFormat};
use crate::policy_source::{PolicyLocation, DEFAULT_INTERVAL};

/// Inline policy document (YAML or JSON); the SAM parameter `PolicyDocument` sets it.
pub const POLICY: &str = "STEWARD_POLICY";
/// Path of a policy file, e.g. one packaged with the function; used when STEWARD_POLICY is unset.
pub const POLICY_FILE: &str = "STEWARD_POLICY_FILE";
/// Where the policy is kept, `s3://BUCKET/KEY` or `ssm:NAME`: read at init and re-read when it
/// changes. Not together with [`POLICY`] or [`POLICY_FILE`].
pub const POLICY_LOCATION: &str = "STEWARD_POLICY_LOCATION";
/// Seconds between two checks of [`POLICY_LOCATION`] for a new version (default 60).
pub const POLICY_REFRESH_SECONDS: &str = "STEWARD_POLICY_REFRESH_SECONDS";
/// `audit` or `enforce`; overrides the policy's modes when set.
pub const MODE: &str = "STEWARD_MODE";
/// The SNS topic notifications go to.
pub const TOPIC_ARN: &str = "STEWARD_TOPIC_ARN";
/// `true` to notify about scans that pass the bar too (scan-alert).
pub const NOTIFY_CLEAN: &str = "STEWARD_NOTIFY_CLEAN";
/// `true` to notify when a replication finds the image already at every destination
/// (replicator); off by default, so repeats, backfills and two-way rule sets stay quiet.
pub const NOTIFY_ALREADY_REPLICATED: &str = "STEWARD_NOTIFY_ALREADY_REPLICATED";
/// `false` when the deployment may not create destination repositories (the template's
/// `CreateDestinationRepositories`, which grants `ecr:CreateRepository` only when true): a
/// rule's `create_repository` then fails with what to change. `true` when unset.
pub const CREATE_REPOSITORIES: &str = "STEWARD_CREATE_REPOSITORIES";
/// How many connections the replicator spreads the bodies of blob uploads over (1 to 16; 1:
/// everything on the one connection to the registry); [`DEFAULT_UPLOAD_CONNECTIONS`] when
/// unset.
pub const UPLOAD_CONNECTIONS: &str = "STEWARD_UPLOAD_CONNECTIONS";
/// `true` sends each blob as the distribution spec's chunked upload (a `PATCH` with the data,
/// then an empty `PUT`), for a registry that refuses the body on the `PUT`; by default a blob
/// goes with its commit in one `PUT` (a round trip fewer), as containerd pushes.
pub const CHUNKED_UPLOADS: &str = "STEWARD_CHUNKED_UPLOADS";
/// [`UPLOAD_CONNECTIONS`] when unset.
pub const DEFAULT_UPLOAD_CONNECTIONS: u8 = 4;
/// The EventBridge bus (name or ARN) the replicator puts `Image Replicated` events on; none
/// when unset.
pub const EVENT_BUS: &str = "STEWARD_EVENT_BUS";
/// The EventBridge bus (name or ARN) every function puts its verdicts on (`Push Verdict`,
/// `Scan Verdict`, …; docs/events.md); none when unset. The SAM parameter `VerdictEventBus`
/// sets it.
pub const VERDICT_EVENT_BUS: &str = "STEWARD_VERDICT_EVENT_BUS";
/// The copy job queue's dead-letter queue (replicator): a job that can never succeed is sent
/// there at once, with why, instead of coming back until SQS moves it. Unset: it comes back.
pub const DEAD_LETTER_QUEUE_URL: &str = "STEWARD_DEAD_LETTER_QUEUE_URL";
/// push-guard's re-check queue: a push whose signature or SBOM is awaited (a grace period, ECR
/// managed signing under way) is sent there to be judged again. Unset: judged again only when
/// a signature or SBOM arrives.
pub const RECHECK_QUEUE_URL: &str = "STEWARD_RECHECK_QUEUE_URL";
/// The CloudWatch namespace of the functions' metrics (EMF lines in their logs); default
/// `ecr-steward`. The SAM parameter `MetricsNamespace` sets it.
pub const METRICS_NAMESPACE: &str = "STEWARD_METRICS_NAMESPACE";
/// `STEWARD_REGISTRY_US_EAST_1=http://127.0.0.1:5001`: a registry endpoint for a region,
/// instead of the one ECR's token names (for local runs).
pub const REGISTRY_PREFIX: &str = "STEWARD_REGISTRY_";

/// Why the configuration cannot be used; each names the variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable is set to a value that cannot be used.
    #[error("{variable} is invalid: {message}")]
    Invalid {
        /// The variable's name.
        variable: String,
        /// What is wrong with its value.
        message: String,
    },
    /// The policy (from [`POLICY`] or [`POLICY_FILE`]) does not load.
    #[error("the policy is invalid: {0}")]
    Policy(#[from] PolicyError),
}

/// Where a function's policy comes from.
#[derive(Debug, Clone)]
pub enum PolicySource {
    /// [`POLICY`], else [`POLICY_FILE`], else the built-in policy: read once.
    Fixed(Policy),
    /// [`POLICY_LOCATION`]: read at init (by `steward::lambda::init`), then re-read.
    Stored {
        /// Where.
        location: PolicyLocation,
        /// How often it is checked for a new version ([`POLICY_REFRESH_SECONDS`]).
        refresh: Duration,
    },
}

/// A function's settings, read from the environment and validated.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The policy, or where it is kept.
    pub policy: PolicySource,
    /// The mode set by [`MODE`], overriding the policy's; `None` when unset.
    pub mode_override: Option<Mode>,
    /// The SNS topic, from [`TOPIC_ARN`].
    pub topic_arn: String,
    /// Region → registry base URL.
    pub registry_overrides: BTreeMap<String, String>,
    /// [`NOTIFY_CLEAN`]; false when unset.
    pub notify_clean: bool,
    /// [`NOTIFY_ALREADY_REPLICATED`]; false when unset.
    pub notify_already_replicated: bool,
    /// [`CREATE_REPOSITORIES`]; true when unset.
    pub create_repositories: bool,
    /// [`METRICS_NAMESPACE`]; `ecr-steward` when unset.
    pub metrics_namespace: Namespace,
    /// [`UPLOAD_CONNECTIONS`]; [`DEFAULT_UPLOAD_CONNECTIONS`] when unset.
    pub upload_connections: usize,
    /// [`CHUNKED_UPLOADS`]; false when unset.
    pub chunked_uploads: bool,
    /// [`DEAD_LETTER_QUEUE_URL`]; `None` when unset.
    pub dead_letter_queue_url: Option<String>,
    /// [`RECHECK_QUEUE_URL`]; `None` when unset.
    pub recheck_queue_url: Option<String>,
    /// [`EVENT_BUS`]; `None` when unset.
    pub event_bus: Option<String>,
    /// [`VERDICT_EVENT_BUS`]; `None` when unset.
    pub verdict_event_bus: Option<String>,
}

impl FunctionConfig {
    /// Reads the process environment; see [`FunctionConfig::from_vars`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// For a Lambda init: the configuration, or the error logged readably and returned as
    /// text (the runtime reports an init error with it).
    pub fn for_lambda_init() -> Result<Self, String> {
        Self::from_env().map_err(|error| {
            tracing::error!(%error, "invalid configuration");
            format!("invalid configuration: {error}")
        })
    }

    /// Reads the settings from `(name, value)` pairs; blank values count as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let policy = match (get(POLICY_LOCATION), get(POLICY), get(POLICY_FILE)) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(ConfigError::Invalid {
                    variable: POLICY_LOCATION.into(),
                    message: format!("{POLICY} or {POLICY_FILE} is set too; set only one of them"),
                })
            }
            (Some(location), None, None) => PolicySource::Stored {
                location: PolicyLocation::parse(location).map_err(|message| {
                    ConfigError::Invalid {
                        variable: POLICY_LOCATION.into(),
                        message,
                    }
                })?,
                refresh: refresh_interval(get(POLICY_REFRESH_SECONDS))?,
            },
            (None, Some(text), _) => PolicySource::Fixed(Policy::from_text(
                text,
                POLICY,
                SourceFormat::detect(Path::new(""), text),
            )?),
            (None, None, Some(path)) => PolicySource::Fixed(Policy::from_file(Path::new(path))?),
            (None, None, None) => PolicySource::Fixed(Policy::builtin()),
        };
        let mode_override = match get(MODE) {
            None => None,
            Some("audit") => Some(Mode::Audit),
            Some("enforce") => Some(Mode::Enforce),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: MODE.into(),
                    message: format!("{other:?}; use audit or enforce"),
                })
            }
        };
        let topic_arn = get(TOPIC_ARN).ok_or(ConfigError::Missing(TOPIC_ARN))?;
        if !topic_arn.starts_with("arn:") || topic_arn.split(':').count() != 6 {
            return Err(ConfigError::Invalid {
                variable: TOPIC_ARN.into(),
                message: format!(
                    "{topic_arn:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
                ),
            });
        }
        let registry_overrides = registry_overrides(&vars)?;
        let flag = |name: &'static str| match get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                variable: name.into(),
                message: format!("{other:?}; use true or false"),
            }),
        };
        let notify_clean = flag(NOTIFY_CLEAN)?;
        let notify_already_replicated = flag(NOTIFY_ALREADY_REPLICATED)?;
        let create_repositories = get(CREATE_REPOSITORIES).is_none() || flag(CREATE_REPOSITORIES)?;
        let metrics_namespace = match get(METRICS_NAMESPACE) {
            None => Namespace::default(),
            Some(text) => Namespace::parse(text).map_err(|message| ConfigError::Invalid {
                variable: METRICS_NAMESPACE.into(),
                message: format!("{text:?}: {message}"),
            })?,
        };
        let upload_connections = upload_connections(get(UPLOAD_CONNECTIONS))?;
        let chunked_uploads = flag(CHUNKED_UPLOADS)?;
        let queue_url = |variable: &str| -> Result<Option<String>, ConfigError> {
            match get(variable) {
                Some(url) if !url.starts_with("https://") && !url.starts_with("http://") => {
                    Err(ConfigError::Invalid {
                        variable: variable.into(),
                        message: format!("{url:?} is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"),
                    })
                }
                url => Ok(url.map(str::to_string)),
            }
        };
        let dead_letter_queue_url = queue_url(DEAD_LETTER_QUEUE_URL)?;
        let recheck_queue_url = queue_url(RECHECK_QUEUE_URL)?;
        let event_bus = get(EVENT_BUS).map(str::to_string);
        let verdict_event_bus = get(VERDICT_EVENT_BUS).map(str::to_string);
        Ok(Self {
            event_bus,
            verdict_event_bus,
            dead_letter_queue_url,
            recheck_queue_url,
            policy,
            mode_override,
            topic_arn: topic_arn.into(),
            registry_overrides,
            notify_clean,
            notify_already_replicated,
            create_repositories,
            metrics_namespace,
            upload_connections,
            chunked_uploads,
        })
    }
}

/// [`UPLOAD_CONNECTIONS`]: 1 to 16; [`DEFAULT_UPLOAD_CONNECTIONS`] when unset.
pub fn upload_connections(value: Option<&str>) -> Result<usize, ConfigError> {
    let Some(text) = value else {
        return Ok(usize::from(DEFAULT_UPLOAD_CONNECTIONS));
    };
    match text.trim().parse::<usize>() {
        Ok(n @ 1..=16) => Ok(n),
        _ => Err(ConfigError::Invalid {
            variable: UPLOAD_CONNECTIONS.into(),
            message: format!("{text:?}: expected a whole number from 1 to 16"),
        }),
    }
}

/// [`POLICY_REFRESH_SECONDS`]: whole seconds, 1 to 86400; [`DEFAULT_INTERVAL`] when unset.
fn refresh_interval(value: Option<&str>) -> Result<Duration, ConfigError> {
    let Some(text) = value else {
        return Ok(DEFAULT_INTERVAL);
    };
    match text.parse::<u64>() {
        Ok(seconds @ 1..=86_400) => Ok(Duration::from_secs(seconds)),
        _ => Err(ConfigError::Invalid {
            variable: POLICY_REFRESH_SECONDS.into(),
            message: format!("{text:?}; use whole seconds from 1 to 86400"),
        }),
    }
}

/// `STEWARD_REGISTRY_EU_WEST_1` → `eu-west-1`.
pub fn registry_overrides(
    vars: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut overrides = BTreeMap::new();
    for (name, value) in vars {
        let Some(region) = name.strip_prefix(REGISTRY_PREFIX) else {
            continue;
        };
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                variable: name.clone(),
                message: format!("{value:?} is not an http:// or https:// URL"),
            });
        }
        overrides.insert(
            region.to_lowercase().replace('_', "-"),
            value.trim_end_matches('/').to_string(),
        );
    }
    Ok(overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const TOPIC: (&str, &str) = (TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:steward");

    fn fixed(config: &FunctionConfig) -> &Policy {
        match &config.policy {
            PolicySource::Fixed(policy) => policy,
            PolicySource::Stored { location, .. } => panic!("stored at {location}"),
        }
    }

    #[test]
    fn a_policy_location_is_parsed_with_its_refresh_interval() {
        let config = FunctionConfig::from_vars(vars(&[
            TOPIC,
            (POLICY_LOCATION, "s3://platform-config/ecr/policy.yaml"),
        ]))
        .expect("valid");
        let PolicySource::Stored { location, refresh } = config.policy else {
            panic!("a location");
        };
        assert_eq!(
            location,
            PolicyLocation::S3 {
                bucket: "platform-config".into(),
                key: "ecr/policy.yaml".into()
            }
        );
        assert_eq!(refresh, Duration::from_secs(60));
        let config = FunctionConfig::from_vars(vars(&[
            TOPIC,
            (POLICY_LOCATION, "ssm:/ecr-steward/policy"),
            (POLICY_REFRESH_SECONDS, "5"),
        ]))
        .expect("valid");
        let PolicySource::Stored { location, refresh } = config.policy else {
            panic!("a location");
        };
        assert_eq!(location.to_string(), "ssm:/ecr-steward/policy");
        assert_eq!(refresh, Duration::from_secs(5));
    }

    #[test]
    fn creating_repositories_is_allowed_unless_the_deployment_says_not() {
        let create = |value: Option<&str>| {
            let mut pairs = vec![TOPIC];
            pairs.extend(value.map(|v| (CREATE_REPOSITORIES, v)));
            FunctionConfig::from_vars(vars(&pairs)).map(|c| c.create_repositories)
        };
        assert!(create(None).expect("valid"));
        assert!(create(Some("true")).expect("valid"));
        assert!(!create(Some("false")).expect("valid"));
        let error = create(Some("no")).expect_err("invalid").to_string();
        assert!(
            error.starts_with("STEWARD_CREATE_REPOSITORIES is invalid"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_policy_location_names_its_variable() {
        let error = |pairs: &[(&str, &str)]| {
            FunctionConfig::from_vars(vars(pairs))
                .expect_err("invalid")
                .to_string()
        };
        for location in [
            "s3://bucket",
            "s3:///key",
            "ssm:",
            "https://example.com/p.yaml",
        ] {
            let message = error(&[TOPIC, (POLICY_LOCATION, location)]);
            assert!(
                message.starts_with("STEWARD_POLICY_LOCATION is invalid"),
                "{location}: {message}"
            );
        }
        let both = error(&[
            TOPIC,
            (POLICY_LOCATION, "ssm:policy"),
            (POLICY, "version: 1\nrules: []\n"),
        ]);
        assert!(both.contains("set only one"), "{both}");
        for seconds in ["0", "1.5", "90000", "soon"] {
            let message = error(&[
                TOPIC,
                (POLICY_LOCATION, "ssm:policy"),
                (POLICY_REFRESH_SECONDS, seconds),
            ]);
            assert!(
                message.starts_with("STEWARD_POLICY_REFRESH_SECONDS is invalid"),
                "{seconds}: {message}"
            );
        }
    }

    #[test]
    fn defaults_to_the_builtin_policy() {
        let config = FunctionConfig::from_vars(vars(&[TOPIC])).expect("valid");
        assert_eq!(fixed(&config).rules[0].name, "default");
        assert_eq!(config.mode_override, None);
    }

    #[test]
    fn reads_inline_policy_mode_and_registry_overrides() {
        let config = FunctionConfig::from_vars(vars(&[
            TOPIC,
            (
                POLICY,
                "version: 1\nmode: enforce\nrules:\n  - tags: { semver: {} }\n",
            ),
            (MODE, "audit"),
            ("STEWARD_REGISTRY_EU_WEST_1", "http://127.0.0.1:5002/"),
        ]))
        .expect("valid");
        assert_eq!(fixed(&config).mode, Mode::Enforce);
        assert_eq!(config.mode_override, Some(Mode::Audit));
        assert_eq!(
            config
                .registry_overrides
                .get("eu-west-1")
                .map(String::as_str),
            Some("http://127.0.0.1:5002")
        );
    }

    #[test]
    fn the_verdict_bus_is_read_and_blank_is_none() {
        let bus = |value: &str| {
            FunctionConfig::from_vars(vars(&[TOPIC, (VERDICT_EVENT_BUS, value)]))
                .expect("valid")
                .verdict_event_bus
        };
        assert_eq!(bus("default").as_deref(), Some("default"));
        assert_eq!(bus(" "), None);
        let unset = FunctionConfig::from_vars(vars(&[TOPIC])).expect("valid");
        assert_eq!(unset.verdict_event_bus, None);
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let error = |pairs: &[(&str, &str)]| {
            FunctionConfig::from_vars(vars(pairs))
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(error(&[]), "STEWARD_TOPIC_ARN is not set");
        assert!(error(&[TOPIC, (MODE, "block")]).contains("STEWARD_MODE is invalid"));
        assert!(error(&[TOPIC, (NOTIFY_CLEAN, "yes")]).contains("STEWARD_NOTIFY_CLEAN is invalid"));
        assert!(error(&[(TOPIC_ARN, "my-topic")]).contains("not an SNS topic ARN"));
        assert!(
            error(&[TOPIC, ("STEWARD_REGISTRY_US_EAST_1", "localhost:5000")])
                .contains("STEWARD_REGISTRY_US_EAST_1")
        );
        let policy = error(&[TOPIC, (POLICY, "version: 1\nrules: []\n")]);
        assert!(policy.contains("STEWARD_POLICY:2:8"), "{policy}");
        assert!(error(&[TOPIC, (POLICY_FILE, "/nonexistent.yaml")]).contains("/nonexistent.yaml"));
    }

    #[test]
    fn the_metrics_namespace_defaults_and_is_checked() {
        let config = FunctionConfig::from_vars(vars(&[TOPIC])).expect("valid");
        assert_eq!(config.metrics_namespace.as_str(), "ecr-steward");
        let config = FunctionConfig::from_vars(vars(&[TOPIC, (METRICS_NAMESPACE, "Platform/ECR")]))
            .expect("valid");
        assert_eq!(config.metrics_namespace.as_str(), "Platform/ECR");
        let error = FunctionConfig::from_vars(vars(&[TOPIC, (METRICS_NAMESPACE, "AWS/ECR")]))
            .expect_err("reserved")
            .to_string();
        assert!(
            error.starts_with("STEWARD_METRICS_NAMESPACE is invalid"),
            "{error}"
        );
    }
}
