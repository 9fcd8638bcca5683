//! `ecr-steward replicate`: backfills and one-off copies to other regions, with the replicator
//! function's engine.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{anyhow, bail};
use serde::Serialize;
use steward::aws::{classify, Ecr, Registries, RegistryReplicator};
use steward::config::registry_overrides;
use steward::error::Service;
use steward::glob::Glob;
use steward::notify::ImageRef;
use steward::oci::copy::CopyOptions;
use steward::policy::{Pattern, Target};
use steward::ports::Replicator;
use steward::replication::is_source;
use steward::replication::CopyStats;

use crate::check::load_policy;
use crate::{Format, ReplicateArgs};

/// Region, account and repository of a destination.
type PlaceKey = (String, Option<String>, String);

/// One image to copy to one place.
#[derive(Debug, Serialize)]
struct Copy {
    repository: String,
    digest: String,
    tags: Vec<String>,
    target: Target,
}

#[derive(Debug, Serialize)]
struct Outcome {
    #[serde(flatten)]
    copy: Copy,
    ok: bool,
    stats: CopyStats,
    duration_ms: u64,
    error: Option<String>,
}

pub fn run(args: &ReplicateArgs) -> anyhow::Result<u8> {
    let (policy, _) = load_policy(&args.policy)?;
    let glob = Glob::new(&args.repository).map_err(|e| anyhow!("--repository: {e}"))?;
    let tag_filter = args
        .tag_pattern
        .as_deref()
        .map(Pattern::new)
        .transpose()
        .map_err(|e| anyhow!("--tag-pattern: {e}"))?;
    if args.to.is_empty() && policy.replication.is_empty() {
        bail!("nothing says where to copy: pass --to REGION, or a --policy with replication rules");
    }
    crate::aws::runtime()?.block_on(async {
        let crate::aws::Aws { sdk, http, region } =
            crate::aws::connect(args.region.as_deref()).await?;
        let ecr = Ecr::new(&sdk);

        let mut plan = Vec::new();
        for repository in repositories(&ecr, &glob).await? {
            for (digest, tags) in images(&ecr, &repository).await? {
                let tags: Vec<String> = tags
                    .into_iter()
                    .filter(|tag| tag_filter.as_ref().is_none_or(|p| p.is_match(tag)))
                    .collect();
                let mut by_target: BTreeMap<PlaceKey, (Target, Vec<String>)> = BTreeMap::new();
                for tag in &tags {
                    let targets = if args.to.is_empty() {
                        policy.replication_targets(&repository, tag)
                    } else {
                        args.to
                            .iter()
                            .map(|to| Target {
                                rule: "--to".into(),
                                region: to.clone(),
                                account: None,
                                repository: repository.clone(),
                                create_repository: args.create_repository,
                            })
                            .collect()
                    };
                    let source = ImageRef {
                        account: None,
                        region: region.clone(),
                        repository: repository.clone(),
                        digest: digest.clone(),
                    };
                    for target in targets.into_iter().filter(|t| !is_source(t, &source)) {
                        let key = (
                            target.region.clone(),
                            target.account.clone(),
                            target.repository.clone(),
                        );
                        by_target
                            .entry(key)
                            .or_insert_with(|| (target, Vec::new()))
                            .1
                            .push(tag.clone());
                    }
                }
                for (target, tags) in by_target.into_values() {
                    plan.push(Copy {
                        repository: repository.clone(),
                        digest: digest.clone(),
                        tags,
                        target,
                    });
                }
            }
        }

        if args.dry_run {
            print_plan(&plan, args.format);
            return Ok(0);
        }
        let replicator = RegistryReplicator {
            registries: Registries::new(
                &sdk,
                http,
                registry_overrides(&std::env::vars().collect())?,
            ),
            sdk: sdk.clone(),
            options: CopyOptions::default(),
        };
        let progress = std::io::stderr().is_terminal();
        let total = plan.len();
        let mut outcomes = Vec::new();
        for (index, copy) in plan.into_iter().enumerate() {
            if progress {
                eprint!(
                    "\r\x1b[2K[{}/{total}] {}:{} -> {}",
                    index + 1,
                    copy.repository,
                    copy.tags.join(","),
                    copy.target.region
                );
            }
            let image = ImageRef {
                account: None,
                region: region.clone(),
                repository: copy.repository.clone(),
                digest: copy.digest.clone(),
            };
            let started = Instant::now();
            let result = replicator.replicate(&image, &copy.tags, &copy.target).await;
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            outcomes.push(match result {
                Ok(stats) => Outcome {
                    copy,
                    ok: true,
                    stats,
                    duration_ms,
                    error: None,
                },
                Err(error) => Outcome {
                    copy,
                    ok: false,
                    stats: CopyStats::default(),
                    duration_ms,
                    error: Some(error.to_string()),
                },
            });
        }
        if progress {
            eprint!("\r\x1b[2K");
        }
        print_summary(&outcomes, args.format);
        Ok(u8::from(outcomes.iter().any(|o| !o.ok)))
    })
}

async fn repositories(ecr: &Ecr, glob: &Glob) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = ecr
            .client()
            .describe_repositories()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?;
        names.extend(
            page.repositories()
                .iter()
                .filter_map(|r| r.repository_name())
                .filter(|name| glob.matches(name))
                .map(str::to_string),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    names.sort();
    Ok(names)
}

/// The tagged images of a repository: digest and tags.
async fn images(ecr: &Ecr, repository: &str) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut images = Vec::new();
    let mut token = None;
    loop {
        let page = ecr
            .client()
            .describe_images()
            .repository_name(repository)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(Service::Ecr, e))?;
        for detail in page.image_details() {
            if let (Some(digest), false) = (detail.image_digest(), detail.image_tags().is_empty()) {
                images.push((digest.to_string(), detail.image_tags().to_vec()));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    images.sort();
    Ok(images)
}

fn destination(target: &Target) -> String {
    match &target.account {
        Some(account) => format!("{}/{} ({account})", target.region, target.repository),
        None => format!("{}/{}", target.region, target.repository),
    }
}

fn print_plan(plan: &[Copy], format: Format) {
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "dry_run": true, "copies": plan }))
                .unwrap_or_default()
        );
        return;
    }
    println!(
        "{:<30} {:<20} {:<25} DESTINATION",
        "REPOSITORY", "DIGEST", "TAGS"
    );
    for copy in plan {
        println!(
            "{:<30} {:<20} {:<25} {}",
            copy.repository,
            short(&copy.digest),
            copy.tags.join(","),
            destination(&copy.target)
        );
    }
    println!(
        "{} cop{} would be made (dry run: nothing was copied)",
        plan.len(),
        if plan.len() == 1 { "y" } else { "ies" }
    );
}

fn print_summary(outcomes: &[Outcome], format: Format) {
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if format == Format::Json {
        let summary = serde_json::json!({ "copies": outcomes, "failed": failed });
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        return;
    }
    println!(
        "{:<30} {:<25} {:<30} {:<6} {:>12} {:>7} {:>7} {:>8}",
        "REPOSITORY", "TAGS", "DESTINATION", "RESULT", "BYTES", "COPIED", "SKIPPED", "MS"
    );
    for outcome in outcomes {
        println!(
            "{:<30} {:<25} {:<30} {:<6} {:>12} {:>7} {:>7} {:>8}",
            outcome.copy.repository,
            outcome.copy.tags.join(","),
            destination(&outcome.copy.target),
            if outcome.ok { "ok" } else { "FAILED" },
            outcome.stats.bytes_copied,
            outcome.stats.blobs_copied,
            outcome.stats.blobs_skipped,
            outcome.duration_ms
        );
        if let Some(error) = &outcome.error {
            println!("    {}", steward::notify::visible(error));
        }
    }
    println!(
        "{} copies, {} ok, {failed} failed",
        outcomes.len(),
        outcomes.len() - failed
    );
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}
