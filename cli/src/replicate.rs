//! `ecr-steward replicate`: the arguments, `steward::ops::backfill`'s plan and copies, the
//! table or JSON.

use std::io::IsTerminal;

use anyhow::{anyhow, bail};
use steward::aws::{Ecr, Registries, RegistryReplicator};
use steward::config::registry_overrides;
use steward::glob::Glob;
use steward::oci::copy::CopyOptions;
use steward::ops::backfill::{
    copy_all, plan, BackfillRequest, CopyResult, Destinations, PlannedCopy,
};
use steward::policy::{Pattern, Target};

use crate::check::load_policy;
use crate::exit::Exit;
use crate::{ReplicateArgs, ReplicateFormat};

pub fn run(args: &ReplicateArgs) -> anyhow::Result<Exit> {
    let (policy, _) = load_policy(&args.policy)?;
    let repositories = Glob::new(&args.repository).map_err(|e| anyhow!("--repository: {e}"))?;
    let tags = args
        .tag_pattern
        .as_deref()
        .map(Pattern::new)
        .transpose()
        .map_err(|e| anyhow!("--tag-pattern: {e}"))?;
    if args.create_repository && args.to.is_empty() {
        bail!("--create-repository goes with --to REGION; without --to, each replication rule's create_repository decides");
    }
    if args.to.is_empty() && policy.replication.is_empty() {
        bail!("nothing says where to copy: pass --to REGION, or a --policy with replication rules");
    }
    let destinations = if args.to.is_empty() {
        Destinations::Policy
    } else {
        Destinations::Regions {
            regions: args.to.clone(),
            create_repository: args.create_repository,
        }
    };
    crate::aws::runtime()?.block_on(async {
        let crate::aws::Aws { sdk, http, region } =
            crate::aws::connect(args.region.as_deref()).await?;
        let request = BackfillRequest {
            region: region.clone(),
            repositories,
            destinations,
            tags,
        };
        let planned = plan(&policy, &Ecr::new(&sdk), &request).await?;
        if args.dry_run {
            print_plan(&planned, args.format);
            return Ok(Exit::Pass);
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
        let results = copy_all(&replicator, &region, planned, |index, total, copy| {
            if progress {
                eprint!(
                    "\r\x1b[2K[{}/{total}] {}:{} -> {}",
                    index + 1,
                    copy.repository,
                    copy.tags.join(","),
                    copy.target.region
                );
            }
        })
        .await;
        if progress {
            eprint!("\r\x1b[2K");
        }
        print_summary(&results, args.format);
        Ok(Exit::from_passed(results.iter().all(|r| r.run.ok)))
    })
}

fn destination(target: &Target) -> String {
    match &target.account {
        Some(account) => format!("{}/{} ({account})", target.region, target.repository),
        None => format!("{}/{}", target.region, target.repository),
    }
}

fn print_plan(plan: &[PlannedCopy], format: ReplicateFormat) {
    if format == ReplicateFormat::Json {
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

fn print_summary(results: &[CopyResult], format: ReplicateFormat) {
    let failed = results.iter().filter(|r| !r.run.ok).count();
    if format == ReplicateFormat::Json {
        let summary = serde_json::json!({ "copies": results, "failed": failed });
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
    for result in results {
        let (copy, run) = (&result.copy, &result.run);
        println!(
            "{:<30} {:<25} {:<30} {:<6} {:>12} {:>7} {:>7} {:>8}",
            copy.repository,
            copy.tags.join(","),
            destination(&copy.target),
            if run.ok { "ok" } else { "FAILED" },
            run.stats.bytes_copied,
            run.stats.blobs_copied,
            run.stats.blobs_skipped,
            run.duration_ms
        );
        if let Some(error) = &run.error {
            println!("    {}", steward::notify::visible(error));
        }
    }
    println!(
        "{} copies, {} ok, {failed} failed",
        results.len(),
        results.len() - failed
    );
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}
