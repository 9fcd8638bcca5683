//! `ecr-steward`: the CI gate and operator tool.

mod audit;
mod aws;
mod check;
mod exit;
mod gate;
mod iam;
mod lifecycle;
mod policy;
mod progress;
#[cfg(test)]
mod reference;
mod render;
mod replicate;
mod retention;
mod shell;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use exit::Exit;

#[derive(Parser)]
#[command(
    name = "ecr-steward",
    version,
    about = "Checks, gates and reports on Amazon ECR images"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check tags (and labels) against the policy before a push.
    Check(CheckArgs),
    /// Gate a pushed image: its tags and labels against the policy, its scan against the bar.
    Gate(GateArgs),
    /// Copy images to other regions: a backfill, or a one-off copy.
    Replicate(ReplicateArgs),
    /// Wait until an image is present and complete (with its signatures) in other regions.
    Wait(WaitArgs),
    /// Validate or print policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Audit a whole registry against the policy: tags, labels, repository settings, replicas.
    Audit(AuditArgs),
    /// Print IAM policies: what a CI pipeline needs to push and gate.
    #[command(subcommand)]
    Iam(iam::IamCommand),
    /// Plan retention (the policy's `retention` sections) image by image; delete with --apply.
    Prune(PruneArgs),
    /// ECR native lifecycle policies from the policy's retention sections.
    #[command(subcommand)]
    Lifecycle(LifecycleCommand),
    /// Print the completion script for a shell (bash: `source <(ecr-steward completions bash)`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page of ecr-steward or of a command (`ecr-steward man policy validate | man -l -`).
    Man {
        /// The command, as words: `gate`, `policy validate`; none for the overview.
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
    },
}

#[derive(Args)]
pub struct PruneArgs {
    /// Repositories to prune: a name or a glob (`team/*`, `**`; repeatable). Every repository
    /// whose rule has a retention section when absent.
    #[arg(long, value_name = "GLOB")]
    repository: Vec<String>,
    #[command(flatten)]
    policy: PolicyArg,
    /// Delete what the plan expires (BatchDeleteImage, 100 a batch, each batch checked again
    /// just before). Without it, a dry run: nothing is deleted.
    #[arg(long)]
    apply: bool,
    /// Measure ages at this moment (RFC 3339) instead of now, for reproducible plans; with
    /// --apply it may not be later than the clock.
    #[arg(long, value_name = "RFC3339", value_parser = retention::parse_now)]
    now: Option<steward::timestamp::Timestamp>,
    /// AWS region; from the environment or profile when absent.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    #[arg(long, value_enum, default_value_t = PruneFormat::Text)]
    format: PruneFormat,
    /// Text: list only the images that expire or are archived, not the ones kept.
    #[arg(long)]
    only_changes: bool,
}

/// What `prune` and `lifecycle render` print: text, or one JSON document.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PruneFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum LifecycleCommand {
    /// Render the part of a rule's retention that ECR's lifecycle policy can run without ever
    /// expiring an image ecr-steward keeps, and say what is left out and why (exit 1).
    Render(LifecycleRenderArgs),
}

#[derive(Args)]
pub struct LifecycleRenderArgs {
    /// The repository whose rule to render; the rule for every repository (`**`) when absent.
    #[arg(long, value_name = "NAME")]
    repository: Option<String>,
    #[command(flatten)]
    policy: PolicyArg,
    /// Write the lifecycle policy document (what `aws ecr put-lifecycle-policy
    /// --lifecycle-policy-text file://FILE` takes) to FILE; nothing is written when no rule
    /// can be rendered.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// text: the document and what is left out; json: one document with both.
    #[arg(long, value_enum, default_value_t = PruneFormat::Text)]
    format: PruneFormat,
    /// State that every referrer in these repositories (an image with a `subject`, or a
    /// cosign `sha256-<hex>.sig` tag) carries no other tag and is listed by no index, as
    /// cosign, Notation and ORAS push signatures and SBOMs. Only then can the `untagged`
    /// clause be rendered.
    #[arg(long)]
    referrers_untagged: bool,
}

#[derive(Args)]
pub struct CheckArgs {
    /// A tag to check (repeatable; `a,b` is two tags).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Tags or full references: docker/metadata-action's `tags` output (one a line, or
    /// comma-separated) or its `json` output, or a JSON list (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    tags_file: Option<PathBuf>,
    /// The repository the tags are for; picks the policy rule. Taken from references when absent.
    #[arg(long, value_name = "NAME")]
    repository: Option<String>,
    #[command(flatten)]
    policy: PolicyArg,
    /// Labels to check: an OCI image config, `docker inspect` output, metadata-action's
    /// `json` output, or key=value lines (`-` for stdin). Without it, labels are not checked.
    #[arg(long, value_name = "SOURCE")]
    labels: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also append the report as markdown to FILE (a job summary: `$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
    /// Fail (exit 1) when no rule of the policy governs the repository, instead of a warning.
    #[arg(long)]
    strict: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("image").required(true).args(["tag", "digest"])))]
pub struct GateArgs {
    /// The ECR repository.
    #[arg(long, value_name = "NAME")]
    repository: String,
    /// The image's tag.
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// The image's digest (sha256:…); every tag of the image is checked.
    #[arg(long, value_name = "DIGEST")]
    digest: Option<String>,
    #[command(flatten)]
    policy: PolicyArg,
    /// Wait this long for the scan to complete (e.g. 90s, 10m), polling with backoff.
    #[arg(long, value_name = "DURATION", value_parser = gate::parse_duration)]
    wait: Option<std::time::Duration>,
    /// AWS region; from the environment or profile when absent.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also append the report as markdown to FILE (a job summary: `$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
    /// Fail (exit 1) when no rule of the policy governs the repository, instead of a warning.
    #[arg(long)]
    strict: bool,
    /// Judge the image's signatures, SBOMs and attestations even where the rule's `provenance`
    /// does not ask (where it has none: a signature, by any scheme).
    #[arg(long)]
    require_provenance: bool,
}

#[derive(Args)]
pub struct ReplicateArgs {
    /// Repositories to copy from: a name or a glob (`team/*`, `**`).
    #[arg(long, value_name = "GLOB")]
    repository: String,
    /// A destination region (repeatable); without it, the policy's replication rules decide
    /// destinations and tags.
    #[arg(long, value_name = "REGION")]
    to: Vec<String>,
    /// Only tags matching this regular expression (anchored).
    #[arg(long, value_name = "REGEX")]
    tag_pattern: Option<String>,
    /// With --to: create missing destination repositories.
    #[arg(long)]
    create_repository: bool,
    #[command(flatten)]
    policy: PolicyArg,
    /// The source region; from the environment or profile when absent.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// List what would be copied, and copy nothing.
    #[arg(long)]
    dry_run: bool,
    /// Spread the bodies of blob uploads over this many connections to each destination
    /// registry (1 to 16; 1: all on one connection).
    #[arg(long, value_name = "N", env = "STEWARD_UPLOAD_CONNECTIONS",
          default_value_t = steward::config::DEFAULT_UPLOAD_CONNECTIONS,
          value_parser = clap::value_parser!(u8).range(1..=16))]
    upload_connections: u8,
    /// Images copied at once (their requests share each registry's throttling windows).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u8).range(1..=64))]
    jobs: u8,
    /// Send each blob as a PATCH of its data and an empty PUT, for a registry that refuses
    /// the body on the PUT (by default a blob goes with its commit in one PUT).
    #[arg(long, env = "STEWARD_CHUNKED_UPLOADS")]
    chunked_uploads: bool,
    /// Copy nothing here: send one copy job per image to this SQS queue (the stack's output
    /// CopyJobQueueUrl), for the replicator to copy in parallel across Lambda instances.
    #[arg(long, value_name = "QUEUE_URL")]
    fan_out: Option<String>,
    #[arg(long, value_enum, default_value_t = ReplicateFormat::Text)]
    format: ReplicateFormat,
}

#[derive(Args)]
pub struct WaitArgs {
    /// The source repository.
    #[arg(long, value_name = "NAME")]
    repository: String,
    /// The image's tag.
    #[arg(long, value_name = "TAG")]
    tag: String,
    /// The digest the tag must name everywhere (sha256:…); what it names in the source
    /// region when absent.
    #[arg(long, value_name = "DIGEST")]
    digest: Option<String>,
    /// A destination region (repeatable), same repository name; without it, the policy's
    /// replication rules name the destinations.
    #[arg(long, value_name = "REGION")]
    to: Vec<String>,
    #[command(flatten)]
    policy: PolicyArg,
    /// Wait at most this long (e.g. 90s, 10m), looking with backoff; one look when 0.
    #[arg(long, value_name = "DURATION", value_parser = gate::parse_duration, default_value = "10m")]
    timeout: std::time::Duration,
    /// The source region; from the environment or profile when absent.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    #[arg(long, value_enum, default_value_t = ReplicateFormat::Text)]
    format: ReplicateFormat,
}

/// What `replicate` prints: a table, or one JSON document.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplicateFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct AuditArgs {
    /// The repositories to audit: a name or a glob (`team/*`, `**`).
    #[arg(long, value_name = "GLOB", default_value = "**")]
    repository: String,
    /// A region to audit (repeatable); from the environment or profile when absent.
    #[arg(long, value_name = "REGION")]
    region: Vec<String>,
    #[command(flatten)]
    policy: PolicyArg,
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    format: AuditFormat,
    /// Judge at most this many images in all (by region, repository and digest).
    #[arg(long, value_name = "N")]
    max_images: Option<usize>,
    /// Registry reads at once (the ECR API calls: at most 16).
    #[arg(long, value_name = "N", default_value_t = steward::ops::audit::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Only findings of this check, or of checks under it (`labels`, `tag.literals.deny`,
    /// `repository`, `replica`; repeatable). The totals still count every finding.
    #[arg(long = "check", value_name = "CHECK")]
    checks: Vec<String>,
    /// Only repositories with findings in the per-repository table.
    #[arg(long)]
    findings_only: bool,
    /// Fail (exit 1) on warnings too: a --repository that matches nothing, repositories no
    /// rule governs, rules that govern none of the repositories.
    #[arg(long)]
    strict: bool,
}

/// What `audit` prints.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// A per-repository table, the worst offenders and every finding.
    Text,
    /// One document with stable field names.
    Json,
    /// One row per finding.
    Csv,
    /// A summary for a GitHub job summary or a wiki page.
    Markdown,
}

#[derive(Args)]
pub struct PolicyArg {
    /// Policy file (YAML or JSON), or where the functions read it: s3://BUCKET/KEY or
    /// ssm:NAME (in the environment's region); the built-in policy when absent.
    #[arg(
        long = "policy",
        value_name = "FILE",
        env = "STEWARD_POLICY_FILE",
        value_hint = clap::ValueHint::FilePath
    )]
    path: Option<String>,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check a policy file, or the policy in S3 or SSM; prints what is wrong, with line and column.
    Validate {
        /// A file (YAML or JSON), s3://BUCKET/KEY or ssm:NAME (read in the environment's
        /// region, as STEWARD_POLICY_LOCATION names it).
        #[arg(value_name = "SOURCE", value_hint = clap::ValueHint::FilePath)]
        source: String,
        /// Fail on warnings too (an expired ignore, a region this release does not know, a
        /// policy too large for some of the places it can be kept).
        #[arg(long)]
        strict: bool,
    },
    /// Print a policy file as the stack's PolicyDocument parameter: validated, one line of
    /// JSON, refused when larger than an inline policy can be.
    Parameter {
        /// The policy file (YAML or JSON).
        #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
        file: PathBuf,
        /// `value`: the value alone; `sam`: a file for `sam deploy --parameter-overrides
        /// file://FILE.yaml` (SAM reads .yaml, .yml and .toml files).
        #[arg(long, value_enum, default_value = "value")]
        format: policy::ParameterFormat,
    },
    /// Print the built-in policy, a documented starting point.
    ShowDefault,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Github,
    Junit,
    Markdown,
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check(args) => check::run(&args).map(Exit::from_passed),
        Command::Gate(args) => gate::run(&args),
        Command::Replicate(args) => replicate::run(&args),
        Command::Wait(args) => wait::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Policy(PolicyCommand::Validate { source, strict }) => {
            policy::validate(&source, strict).map(Exit::from_passed)
        }
        Command::Policy(PolicyCommand::Parameter { file, format }) => {
            policy::parameter(&file, format).map(Exit::from_passed)
        }
        Command::Prune(args) => retention::run(&args),
        Command::Lifecycle(LifecycleCommand::Render(args)) => lifecycle::render(&args),
        Command::Policy(PolicyCommand::ShowDefault) => {
            print!("{}", steward::policy::DEFAULT_POLICY_YAML);
            Ok(Exit::Pass)
        }
        Command::Iam(command) => iam::run(&command),
        Command::Completions { shell: which } => {
            print!("{}", shell::completions(which));
            Ok(Exit::Pass)
        }
        Command::Man { command } => shell::man_page(&command).map(|page| {
            print!("{page}");
            Exit::Pass
        }),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("error: {}", sentence(&error));
            Exit::Error.into()
        }
    }
}

/// A reader that stops early (`ecr-steward audit | head`) closes the pipe, and `print!` then
/// panics; stop quietly instead, with the status a shell gives a process SIGPIPE ended (141),
/// so `set -o pipefail` still tells that the output was cut short.
fn quiet_on_closed_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
}

/// The error and its causes as one sentence (`what failed: why: root cause`), each cause said
/// once: library errors often repeat their source's message in their own.
fn sentence(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    steward::notify::visible(&line).into_owned()
}
