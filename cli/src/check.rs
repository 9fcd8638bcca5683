//! `ecr-steward check`.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context};
use steward::labels::{self, Labels};
use steward::policy::Policy;
use steward::policy_source::{self, PolicyLocation};
use steward::reference;

use crate::render::Report;
use crate::{CheckArgs, PolicyArg};

pub fn run(args: &CheckArgs) -> anyhow::Result<bool> {
    let (policy, policy_origin) = load_policy(&args.policy)?;
    let targets = collect_targets(args)?;
    let labels = args.labels.as_deref().map(read_labels).transpose()?;
    if targets.iter().any(|(repository, _)| repository.is_none()) && policy.rule_for(None).is_none()
    {
        bail!(
            "no rule of {policy_origin} applies to every repository (`**`), so a rule cannot be picked without a repository; pass --repository NAME"
        );
    }
    let results = targets
        .iter()
        .map(|(repository, tag)| policy.evaluate(repository.as_deref(), tag, labels.as_ref()))
        .collect();
    let report = Report::new(policy_origin, labels.is_some(), results);
    report.emit(args.format, args.summary.as_deref())?;
    Ok(report.compliant)
}

/// The CLI's environment variable for the policy file, before it took the functions' prefix.
const DEPRECATED_POLICY_VAR: &str = "ECR_STEWARD_POLICY";

pub fn load_policy(arg: &PolicyArg) -> anyhow::Result<(Policy, String)> {
    let deprecated = || {
        let path = std::env::var(DEPRECATED_POLICY_VAR)
            .ok()
            .filter(|v| !v.is_empty())?;
        eprintln!(
            "warning: {DEPRECATED_POLICY_VAR} is deprecated; set STEWARD_POLICY_FILE instead"
        );
        Some(path)
    };
    Ok(match arg.path.clone().or_else(deprecated) {
        Some(source) => read_policy(&source)?,
        None => (Policy::builtin(), "the built-in policy".into()),
    })
}

/// A policy file, or the policy where the functions read it (`s3://BUCKET/KEY`, `ssm:NAME`,
/// in the environment's region), and how to name it.
fn read_policy(source: &str) -> anyhow::Result<(Policy, String)> {
    if !PolicyLocation::looks_like(source) {
        return Ok((Policy::from_file(Path::new(source))?, source.to_string()));
    }
    let location = PolicyLocation::parse(source).map_err(anyhow::Error::msg)?;
    let policy = crate::aws::runtime()?.block_on(async {
        let aws = crate::aws::connect(None).await?;
        let store = steward::aws::AwsPolicyStore::new(&aws.sdk);
        let (policy, _version) = policy_source::load(&store, &location).await?;
        anyhow::Ok(policy)
    })?;
    Ok((policy, location.to_string()))
}

/// Every tag to check, with the repository it belongs to when known.
fn collect_targets(args: &CheckArgs) -> anyhow::Result<Vec<(Option<String>, String)>> {
    if args.tags_file.as_deref() == Some(Path::new("-"))
        && args.labels.as_deref() == Some(Path::new("-"))
    {
        bail!("--tags-file and --labels cannot both read standard input");
    }
    let mut targets: Vec<(Option<String>, String)> = args
        .tags
        .iter()
        .map(|tag| (args.repository.clone(), tag.clone()))
        .collect();
    if let Some(path) = &args.tags_file {
        let text = read_input(path).context("cannot read --tags-file")?;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = reference::parse(line).with_context(|| {
                format!(
                    "{}:{}: not a tag or image reference",
                    path.display(),
                    index + 1
                )
            })?;
            let repository = args
                .repository
                .clone()
                .or(parsed.repository.map(Into::into));
            targets.push((repository, parsed.tag.into()));
        }
    }
    if targets.is_empty() {
        bail!("no tags to check: pass --tag TAG (repeatable) or --tags-file FILE");
    }
    Ok(targets)
}

fn read_labels(path: &Path) -> anyhow::Result<Labels> {
    let text = read_input(path).context("cannot read --labels")?;
    let (labels, _format) = labels::parse(&text)
        .with_context(|| format!("{}: labels not understood", path.display()))?;
    Ok(labels)
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))
}
