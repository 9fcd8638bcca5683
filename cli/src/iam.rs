//! `ecr-steward iam pipeline`: the arguments, one call to `steward::iam::pipeline_policy`, the
//! JSON document on stdout (ready for `aws iam create-policy --policy-document file://…`).

use clap::{Args, Subcommand};
use steward::iam::{pipeline_policy, ArnScope};

use crate::exit::Exit;

#[derive(Subcommand)]
pub enum IamCommand {
    /// The least-privilege IAM policy a CI pipeline needs to push to repositories and, with
    /// --gate, to run `ecr-steward gate` on what it pushed.
    Pipeline(PipelineArgs),
}

#[derive(Args)]
pub struct PipelineArgs {
    /// A repository the pipeline pushes to: a name or a glob (`team/*`, `team/**`); repeatable.
    #[arg(long = "repository", value_name = "GLOB", required = true)]
    repositories: Vec<String>,
    /// Also grant what `ecr-steward gate` reads: the images, their scan findings and the
    /// scanning settings.
    #[arg(long)]
    gate: bool,
    /// The AWS account of the repositories (12 digits); `*` (any account) when absent.
    #[arg(long, value_name = "ACCOUNT", default_value = "*")]
    account: String,
    /// The region of the repositories; `*` (any region) when absent.
    #[arg(long, value_name = "REGION", default_value = "*")]
    region: String,
    /// The ARN partition: `aws`, `aws-cn`, `aws-us-gov`.
    #[arg(long, value_name = "PARTITION", default_value = "aws")]
    partition: String,
}

pub fn run(command: &IamCommand) -> anyhow::Result<Exit> {
    match command {
        IamCommand::Pipeline(args) => pipeline(args),
    }
}

fn pipeline(args: &PipelineArgs) -> anyhow::Result<Exit> {
    let scope = ArnScope::new(&args.partition, &args.region, &args.account)?;
    let policy = pipeline_policy(&args.repositories, args.gate, &scope)?;
    if scope.any_account() {
        eprintln!(
            "note: no --account: the repository ARNs name any account (`*`); pass --account to narrow them"
        );
    }
    for glob in &policy.broadened {
        eprintln!(
            "note: `{glob}`: IAM's `*` and `?` also match `/`, so the grant covers nested repositories too"
        );
    }
    println!("{}", serde_json::to_string_pretty(&policy.document)?);
    Ok(Exit::Pass)
}
