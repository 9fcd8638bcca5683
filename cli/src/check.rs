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
    let ungoverned = report.results.iter().any(|r| r.rule.is_none());
    Ok(report.compliant && !(args.strict && ungoverned))
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
    // A tag has no comma, so `--tag v1.0.0,sha-0123abc` (metadata-action's `sep-tags: ,`) is two.
    let mut targets: Vec<(Option<String>, String)> = args
        .tags
        .iter()
        .flat_map(|tags| tags.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(|tag| (args.repository.clone(), tag.to_string()))
        .collect();
    if let Some(path) = &args.tags_file {
        let text = read_input(path).context("cannot read --tags-file")?;
        for (line, entry) in tag_entries(&text, path)? {
            let parsed = reference::parse(&entry).with_context(|| {
                format!("{}:{line}: not a tag or image reference", path.display())
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

/// The tags of a `--tags-file`, each with its line: metadata-action's `tags` output (one a line,
/// or separated by commas with `sep-tags: ,`), its `json` output, or a JSON list.
fn tag_entries(text: &str, path: &Path) -> anyhow::Result<Vec<(usize, String)>> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .with_context(|| format!("{}: JSON, but not valid JSON", path.display()))?;
        let tags = match &value {
            serde_json::Value::Array(items) if items.iter().all(|item| item.is_string()) => {
                Some(items)
            }
            serde_json::Value::Object(object) => object.get("tags").and_then(|t| t.as_array()),
            _ => None,
        };
        let Some(tags) = tags else {
            let hint = if labels::parse(trimmed).is_ok() {
                "; these are labels: pass the file to --labels"
            } else {
                ""
            };
            bail!(
                "{}: JSON without a `tags` list (metadata-action's `json` output has one){hint}",
                path.display()
            );
        };
        return tags
            .iter()
            .map(|tag| {
                tag.as_str().map(|t| (1, t.to_string())).ok_or_else(|| {
                    anyhow::anyhow!("{}: `tags` holds {tag}, not text", path.display())
                })
            })
            .collect();
    }
    let mut entries = Vec::new();
    for (index, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('=') {
            bail!(
                "{}:{}: {line:?} is a key=value line, not a tag; labels go to --labels",
                path.display(),
                index + 1
            );
        }
        entries.extend(
            line.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|entry| !entry.is_empty())
                .map(|entry| (index + 1, entry.to_string())),
        );
    }
    Ok(entries)
}

fn read_labels(path: &Path) -> anyhow::Result<Labels> {
    let text = read_input(path).context("cannot read --labels")?;
    let (labels, _format) = labels::parse(&text).map_err(|error| {
        let tags_instead = matches!(error, labels::LabelsError::NotKeyValue { .. })
            && text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .all(|l| reference::parse(l).is_ok());
        let hint = if tags_instead {
            "; these are tags: pass the file to --tags-file"
        } else {
            ""
        };
        anyhow::anyhow!("{}: labels not understood: {error}{hint}", path.display())
    })?;
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
