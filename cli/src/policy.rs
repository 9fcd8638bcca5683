//! `ecr-steward policy`: validate a policy, print it as the deploy parameter.

use std::path::Path;

use anyhow::{bail, Context};
use steward::date::Date;
use steward::policy::{
    inline_json, size_notices, Lint, LintLevel, Policy, PolicyHome, SourceFormat, INLINE_BUDGET,
    INLINE_LIMIT,
};
use steward::policy_source::PolicyLocation;
use steward::ports::{PolicyFetch, PolicyStore};

/// Prints what is wrong with the policy at `source`, each with its position and a fix. True
/// when it has no error (and, with `strict`, no warning).
pub fn validate(source: &str, strict: bool) -> anyhow::Result<bool> {
    let (text, origin, location) = read_text(source)?;
    let (policy, home) = match &location {
        Some(location) => (
            location.parse_policy(&text)?,
            match location {
                PolicyLocation::S3 { .. } => PolicyHome::S3,
                PolicyLocation::Ssm { .. } => PolicyHome::Ssm,
            },
        ),
        None => (
            Policy::from_text(
                &text,
                &origin,
                SourceFormat::detect(Path::new(source), &text),
            )?,
            PolicyHome::File,
        ),
    };
    let mut lints = policy.lint(&text, Date::today());
    lints.extend(size_notices(&text, home));
    for lint in &lints {
        println!("{}", located(&origin, lint));
    }
    let errors = lints.iter().filter(|l| l.level == LintLevel::Error).count();
    let warnings = lints
        .iter()
        .filter(|l| l.level == LintLevel::Warning)
        .count();
    let rules = policy.rules.len();
    let mode = serde_json::to_value(policy.mode)?;
    let summary = format!(
        "{rules} rule{}, mode {}",
        if rules == 1 { "" } else { "s" },
        mode.as_str().unwrap_or_default()
    );
    let passed = errors == 0 && (warnings == 0 || !strict);
    match (errors, warnings) {
        (0, 0) => println!("{origin}: valid, {summary}"),
        (0, _) if passed => println!(
            "{origin}: valid with {warnings} warning{} ({summary}); --strict fails on warnings",
            plural(warnings)
        ),
        _ => println!(
            "{origin}: {errors} error{}, {warnings} warning{} ({summary})",
            plural(errors),
            plural(warnings)
        ),
    }
    Ok(passed)
}

/// `origin:line:column: level: …`, as compilers print it.
fn located(origin: &str, lint: &Lint) -> String {
    match lint.position {
        Some((line, column)) => format!("{origin}:{line}:{column}: {lint}"),
        None => format!("{origin}: {lint}"),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// How `policy parameter` writes the policy.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ParameterFormat {
    /// The value alone, one line of JSON: `--parameter-overrides "PolicyDocument=$(…)"`.
    Value,
    /// A file for `sam deploy --parameter-overrides file://FILE.yaml` (JSON, which is YAML).
    Sam,
}

/// Prints the policy file as the `PolicyDocument` parameter: validated, as one line of JSON,
/// refused when larger than an inline policy can be.
pub fn parameter(path: &Path, format: ParameterFormat) -> anyhow::Result<bool> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file {origin}"))?;
    let syntax = SourceFormat::detect(path, &text);
    let policy = Policy::from_text(&text, &origin, syntax)?;
    let lints = policy.lint(&text, Date::today());
    for lint in &lints {
        eprintln!("{}", located(&origin, lint));
    }
    if lints.iter().any(|l| l.level == LintLevel::Error) {
        bail!("{origin} has errors that `ecr-steward policy validate {origin}` locates; fix them before deploying it");
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let document: serde_json::Value = match syntax {
        SourceFormat::Json => serde_json::from_str(text)?,
        SourceFormat::Yaml => serde_yaml::from_str(text)?,
    };
    let value = inline_json(&document);
    // YAML reads `1.0` or `2024` unquoted as a number where the policy wants text; the typed
    // loader forgives it, the functions' JSON reader would not.
    if let Err(error) = Policy::from_text(&value, &origin, SourceFormat::Json) {
        bail!("{origin} does not survive as JSON: {error}\n  hint: quote the value in the YAML (e.g. \"1.0\")");
    }
    if value.len() > INLINE_BUDGET {
        bail!(
            "{origin} is {} bytes as one line of JSON, over the {INLINE_BUDGET} an inline PolicyDocument may take (Lambda allows {INLINE_LIMIT} bytes of environment variables per function, and the functions' other settings need the rest); keep the policy in S3 (PolicyBucket, PolicyObjectKey) or SSM (PolicyParameterName) instead",
            value.len()
        );
    }
    match format {
        ParameterFormat::Value => println!("{value}"),
        ParameterFormat::Sam => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "PolicyDocument": value }))?
        ),
    }
    Ok(true)
}

/// The policy's text, from a file or where the functions read it; how to name it; and where
/// in S3 or SSM it is, if there.
fn read_text(source: &str) -> anyhow::Result<(String, String, Option<PolicyLocation>)> {
    if !PolicyLocation::looks_like(source) {
        let text = std::fs::read_to_string(source)
            .with_context(|| format!("cannot read policy file {source}"))?;
        return Ok((text, source.to_string(), None));
    }
    let location = PolicyLocation::parse(source).map_err(anyhow::Error::msg)?;
    let fetched = crate::aws::runtime()?.block_on(async {
        let aws = crate::aws::connect(None).await?;
        let store = steward::aws::AwsPolicyStore::new(&aws.sdk);
        anyhow::Ok(store.fetch(&location, None).await?)
    })?;
    match fetched {
        PolicyFetch::Changed { text, .. } => {
            let origin = location.to_string();
            Ok((text, origin, Some(location)))
        }
        PolicyFetch::Unchanged => bail!("{location} answered 'unchanged' to a first read"),
    }
}
