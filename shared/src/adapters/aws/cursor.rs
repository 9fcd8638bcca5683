//! Where the retention function starts its next run (RunCursor): one SSM parameter the stack
//! owns (`STEWARD_RETENTION_CURSOR`), holding the name of the first repository a run left for
//! the next, or `-` when the last run finished. Nothing is written on the user's
//! repositories.

use aws_config::SdkConfig;
use aws_sdk_ssm::types::ParameterType;

use super::classify::classify;
use crate::error::{Service, StewardError};
use crate::ports::RunCursor;

/// The value that means "start from the first repository".
const FROM_THE_START: &str = "-";

/// The run cursor in an SSM parameter; without a parameter name, every run starts from the
/// first repository and nothing is kept.
#[derive(Clone, Debug)]
pub struct SsmCursor {
    ssm: aws_sdk_ssm::Client,
    name: Option<String>,
}

impl SsmCursor {
    /// The cursor in parameter `name` (or none), on `config`'s credentials and endpoints.
    pub fn new(config: &SdkConfig, name: Option<String>) -> Self {
        Self {
            ssm: aws_sdk_ssm::Client::new(config),
            name: name.filter(|n| !n.trim().is_empty()),
        }
    }
}

impl RunCursor for SsmCursor {
    async fn next_start(&self) -> Result<Option<String>, StewardError> {
        let Some(name) = &self.name else {
            return Ok(None);
        };
        let output = self
            .ssm
            .get_parameter()
            .name(name)
            .send()
            .await
            .map_err(|error| named(classify(Service::Ssm, error), name))?;
        Ok(output
            .parameter()
            .and_then(|p| p.value())
            .map(str::trim)
            .filter(|value| !value.is_empty() && *value != FROM_THE_START)
            .map(str::to_string))
    }

    async fn set_next_start(&self, repository: Option<&str>) -> Result<(), StewardError> {
        let Some(name) = &self.name else {
            return Ok(());
        };
        self.ssm
            .put_parameter()
            .name(name)
            .value(repository.unwrap_or(FROM_THE_START))
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|error| named(classify(Service::Ssm, error), name))?;
        Ok(())
    }
}

/// `error`, naming the cursor's parameter (the service's words do not).
fn named(error: StewardError, name: &str) -> StewardError {
    let at = |message: String| format!("ssm:{name}: {message}");
    match error {
        StewardError::NotFound { service, .. } => StewardError::NotFound {
            service,
            what: format!("ssm:{name}"),
        },
        StewardError::Rejected {
            service,
            code,
            message,
        } => StewardError::Rejected {
            service,
            code,
            message: at(message),
        },
        StewardError::Throttled { service, message } => StewardError::Throttled {
            service,
            message: at(message),
        },
        StewardError::Unavailable { service, message } => StewardError::Unavailable {
            service,
            message: at(message),
        },
        other => other,
    }
}
