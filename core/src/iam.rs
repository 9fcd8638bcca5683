//! The IAM policy a CI pipeline needs: push images to some repositories and, to run
//! `ecr-steward gate`, read those images and their scan findings. Pure generation; the CLI
//! prints it (`ecr-steward iam pipeline`).
//!
//! Repository globs become the last part of `arn:PARTITION:ecr:REGION:ACCOUNT:repository/…`.
//! IAM's wildcards are coarser than a policy glob's: IAM's `*` also crosses `/`, so `team/*`
//! (one level in a policy) grants `team/a/b` as well; `**` becomes `*`, `?` stays `?`.
//! [`PipelinePolicy::broadened`] names the globs whose grant is wider than the glob.

use serde::Serialize;

use crate::glob::{Glob, GlobError};

/// The IAM policy language version every policy document names.
pub const POLICY_VERSION: &str = "2012-10-17";

/// What to push: every pipeline needs these on its repositories (AWS's "IAM permissions for
/// pushing an image": the layer upload, the manifest, and reading what is there already).
pub const PUSH_ACTIONS: [&str; 6] = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
];

/// What `gate` reads on the repositories: the image (describe, manifests, config blob), its
/// scan findings, whether the repository scans on push, and ECR managed signing's status (a
/// rule's `provenance`).
pub const GATE_REPOSITORY_ACTIONS: [&str; 7] = [
    "ecr:BatchGetImage",
    "ecr:BatchGetRepositoryScanningConfiguration",
    "ecr:DescribeImageScanFindings",
    "ecr:DescribeImageSigningStatus",
    "ecr:DescribeImages",
    "ecr:DescribeRepositories",
    "ecr:GetDownloadUrlForLayer",
];

/// What `gate` reads that has no resource-level permissions (`*`): the registry's scanning
/// rules, and Inspector's findings behind an enhanced scan's DescribeImageScanFindings.
pub const GATE_ACCOUNT_ACTIONS: [&str; 2] = [
    "ecr:GetRegistryScanningConfiguration",
    "inspector2:ListFindings",
];

/// Where the repositories are: the ARN's partition, region and account (`*` for any region or
/// account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnScope {
    partition: String,
    region: String,
    account: String,
}

/// Why a pipeline policy cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    /// No repository glob was given.
    #[error("no repositories: pass --repository GLOB (repeatable)")]
    NoRepositories,
    /// A repository glob is not one.
    #[error(transparent)]
    Glob(#[from] GlobError),
    /// The account is not 12 digits (or `*`).
    #[error("account {0:?} is not a 12-digit AWS account id (or `*`)")]
    Account(String),
    /// The region is not a region name (or `*`).
    #[error("region {0:?} is not an AWS region name such as eu-west-1 (or `*`)")]
    Region(String),
    /// The partition is not a partition name.
    #[error("partition {0:?} is not an AWS partition such as aws, aws-cn or aws-us-gov")]
    Partition(String),
}

impl ArnScope {
    /// Checks each part: a partition (`aws`, `aws-cn`, …), a region or `*`, 12 digits or `*`.
    pub fn new(partition: &str, region: &str, account: &str) -> Result<Self, IamError> {
        let lower_dash = |text: &str| {
            !text.is_empty()
                && !text.starts_with('-')
                && !text.ends_with('-')
                && text
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !lower_dash(partition) || !partition.starts_with("aws") {
            return Err(IamError::Partition(partition.into()));
        }
        if region != "*" && !(lower_dash(region) && region.contains('-')) {
            return Err(IamError::Region(region.into()));
        }
        if account != "*" && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
            return Err(IamError::Account(account.into()));
        }
        Ok(Self {
            partition: partition.into(),
            region: region.into(),
            account: account.into(),
        })
    }

    /// True when the account is `*`: the grant names repositories of any account.
    pub fn any_account(&self) -> bool {
        self.account == "*"
    }

    /// The ARN of the repositories a glob names, in IAM's wildcards.
    pub fn repository_arn(&self, glob: &Glob) -> String {
        format!(
            "arn:{}:ecr:{}:{}:repository/{}",
            self.partition,
            self.region,
            self.account,
            iam_wildcards(glob.as_str())
        )
    }
}

/// An IAM policy document, serialised as `aws iam create-policy --policy-document` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    /// Always [`POLICY_VERSION`].
    pub version: &'static str,
    /// The grants.
    pub statement: Vec<Statement>,
}

/// One `Allow` statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// Says what the statement is for.
    pub sid: &'static str,
    /// Always `Allow`.
    pub effect: &'static str,
    /// The actions, sorted.
    pub action: Vec<&'static str>,
    /// The resource ARNs, or `["*"]`.
    pub resource: Vec<String>,
}

/// The pipeline's policy, and what a reader should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelinePolicy {
    /// The document.
    pub document: PolicyDocument,
    /// Globs whose IAM form grants more than the glob matches (a `*` that IAM lets cross `/`).
    pub broadened: Vec<String>,
}

/// The least-privilege policy for a pipeline that pushes to `repositories` and, with `gate`,
/// runs `ecr-steward gate` on what it pushed.
pub fn pipeline_policy(
    repositories: &[String],
    gate: bool,
    scope: &ArnScope,
) -> Result<PipelinePolicy, IamError> {
    if repositories.is_empty() {
        return Err(IamError::NoRepositories);
    }
    let mut resources: Vec<String> = Vec::new();
    let mut broadened = Vec::new();
    for text in repositories {
        let glob = Glob::new(text)?;
        let arn = scope.repository_arn(&glob);
        if !resources.contains(&arn) {
            resources.push(arn);
        }
        if crosses_segments_in_iam(glob.as_str()) {
            broadened.push(glob.as_str().to_string());
        }
    }
    let allow = |sid, actions: &[&'static str], resource: Vec<String>| {
        let mut action = actions.to_vec();
        action.sort_unstable();
        action.dedup();
        Statement {
            sid,
            effect: "Allow",
            action,
            resource,
        }
    };
    let mut statement = vec![
        allow(
            "EcrAuthorizationToken",
            &["ecr:GetAuthorizationToken"],
            vec!["*".into()],
        ),
        allow("PushImages", &PUSH_ACTIONS, resources.clone()),
    ];
    if gate {
        statement.push(allow(
            "GateReadImagesAndScans",
            &GATE_REPOSITORY_ACTIONS,
            resources,
        ));
        statement.push(allow(
            "GateReadScanSettings",
            &GATE_ACCOUNT_ACTIONS,
            vec!["*".into()],
        ));
    }
    Ok(PipelinePolicy {
        document: PolicyDocument {
            version: POLICY_VERSION,
            statement,
        },
        broadened,
    })
}

/// `**` (any depth) and `*` both become IAM's `*`; `?` is IAM's `?` already.
fn iam_wildcards(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len());
    let mut last_star = false;
    for c in glob.chars() {
        if c == '*' && last_star {
            continue;
        }
        last_star = c == '*';
        out.push(c);
    }
    out
}

/// A single `*` (not `**`) or a `?` matches within one segment; in IAM both may match `/`.
fn crosses_segments_in_iam(glob: &str) -> bool {
    let bytes = glob.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'?' => true,
        b'*' => {
            let before = i > 0 && bytes[i - 1] == b'*';
            let after = bytes.get(i + 1) == Some(&b'*');
            !before && !after
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> ArnScope {
        ArnScope::new("aws", "eu-west-1", "123456789012").expect("valid scope")
    }

    #[test]
    fn push_only_grants_the_token_and_the_upload_on_the_repositories() {
        let policy = pipeline_policy(&["team/web".into()], false, &scope()).expect("policy");
        let json = serde_json::to_value(&policy.document).expect("serialises");
        assert_eq!(json["Version"], "2012-10-17");
        let statements = json["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 2);
        assert_eq!(
            statements[0]["Action"],
            serde_json::json!(["ecr:GetAuthorizationToken"])
        );
        assert_eq!(statements[0]["Resource"], serde_json::json!(["*"]));
        assert_eq!(
            statements[1]["Resource"],
            serde_json::json!(["arn:aws:ecr:eu-west-1:123456789012:repository/team/web"])
        );
        let actions: Vec<&str> = statements[1]["Action"]
            .as_array()
            .expect("actions")
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert!(actions.contains(&"ecr:PutImage"));
        assert!(actions.contains(&"ecr:UploadLayerPart"));
        assert!(!actions.iter().any(|a| a.starts_with("ecr:Describe")));
        assert!(policy.broadened.is_empty());
    }

    #[test]
    fn gate_adds_reads_on_the_repositories_and_scan_settings_on_any() {
        let policy =
            pipeline_policy(&["team/**".into(), "base".into()], true, &scope()).expect("policy");
        let statements = &policy.document.statement;
        assert_eq!(statements.len(), 4);
        assert_eq!(
            statements[2].resource,
            [
                "arn:aws:ecr:eu-west-1:123456789012:repository/team/*",
                "arn:aws:ecr:eu-west-1:123456789012:repository/base"
            ]
        );
        assert!(statements[2]
            .action
            .contains(&"ecr:DescribeImageScanFindings"));
        assert_eq!(statements[3].resource, ["*"]);
        assert!(statements[3].action.contains(&"inspector2:ListFindings"));
        // `**` means any depth in both languages: nothing is broadened.
        assert!(policy.broadened.is_empty());
    }

    #[test]
    fn a_one_level_star_is_reported_as_broadened() {
        let policy = pipeline_policy(
            &["team/*".into(), "app-?".into(), "team/*".into()],
            false,
            &scope(),
        )
        .expect("policy");
        assert_eq!(policy.broadened, ["team/*", "app-?", "team/*"]);
        // the same ARN once
        assert_eq!(policy.document.statement[1].resource.len(), 2);
    }

    #[test]
    fn bad_input_is_a_classified_error() {
        assert_eq!(
            pipeline_policy(&[], false, &scope()),
            Err(IamError::NoRepositories)
        );
        assert!(matches!(
            pipeline_policy(&["Team/App".into()], false, &scope()),
            Err(IamError::Glob(_))
        ));
        assert!(matches!(
            ArnScope::new("aws", "eu-west-1", "1234"),
            Err(IamError::Account(_))
        ));
        assert!(matches!(
            ArnScope::new("aws", "Europe", "*"),
            Err(IamError::Region(_))
        ));
        assert!(matches!(
            ArnScope::new("azure", "*", "*"),
            Err(IamError::Partition(_))
        ));
        let any = ArnScope::new("aws-cn", "*", "*").expect("wildcards");
        assert!(any.any_account());
        assert_eq!(
            any.repository_arn(&Glob::new("a/**").expect("glob")),
            "arn:aws-cn:ecr:*:*:repository/a/*"
        );
    }
}
