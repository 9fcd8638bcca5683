//! What `replicate` prints: the plan (`--dry-run`) or the copies made, as a table or JSON.

use steward::aws::how_to_create;
use steward::ops::backfill::{CopyResult, PlannedCopy, SentJob};
use steward::policy::Target;

use crate::ReplicateFormat;

fn destination(target: &Target) -> String {
    match &target.account {
        Some(account) => format!("{}/{} ({account})", target.region, target.repository),
        None => format!("{}/{}", target.region, target.repository),
    }
}

/// The plan of a `--dry-run`, and the copies that would fail: those whose destination
/// repository does not exist and will not be created.
pub fn print_plan(plan: &[PlannedCopy], missing: &[Target], format: ReplicateFormat) {
    let fails = |target: &Target| {
        missing.iter().any(|m| {
            (&m.region, &m.account, &m.repository)
                == (&target.region, &target.account, &target.repository)
        })
    };
    let failing = plan.iter().filter(|c| fails(&c.target)).count();
    if format == ReplicateFormat::Json {
        let missing: Vec<serde_json::Value> = missing
            .iter()
            .map(|target| {
                serde_json::json!({
                    "region": target.region,
                    "account": target.account,
                    "repository": target.repository,
                    "hint": how_to_create(target),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "dry_run": true,
                "copies": plan,
                "missing_repositories": missing,
            }))
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
            "{:<30} {:<20} {:<25} {}{}",
            copy.repository,
            short(&copy.digest),
            copy.tags.join(","),
            destination(&copy.target),
            if fails(&copy.target) {
                "  WOULD FAIL: no such repository"
            } else if copy.target.create_repository {
                "  (created if missing)"
            } else {
                ""
            }
        );
    }
    for target in missing {
        println!(
            "would fail: {} does not exist; {} to have it created, or create it",
            destination(target),
            how_to_create(target)
        );
    }
    println!(
        "{} cop{} would be made{} (dry run: nothing was copied)",
        plan.len(),
        if plan.len() == 1 { "y" } else { "ies" },
        if failing == 0 {
            String::new()
        } else {
            format!(", {failing} of them would fail")
        }
    );
}

pub fn print_summary(results: &[CopyResult], format: ReplicateFormat) {
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

/// The jobs of a fan-out: each with its message ID, or why the queue did not take it.
pub fn print_fan_out(queue_url: &str, sent: &[SentJob], format: ReplicateFormat) {
    let queued = sent.iter().filter(|s| s.message_id.is_some()).count();
    if format == ReplicateFormat::Json {
        let summary = serde_json::json!({
            "queue": queue_url,
            "jobs": sent,
            "queued": queued,
            "failed": sent.len() - queued,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        return;
    }
    println!(
        "{:<30} {:<20} {:<25} {:<25} MESSAGE",
        "REPOSITORY", "DIGEST", "TAGS", "REGIONS"
    );
    for job in sent {
        println!(
            "{:<30} {:<20} {:<25} {:<25} {}",
            job.repository,
            short(&job.digest),
            job.tags.join(","),
            job.regions.join(","),
            job.message_id.as_deref().unwrap_or("NOT QUEUED")
        );
        if let Some(error) = job.error.as_deref().filter(|_| job.message_id.is_none()) {
            println!("    {}", steward::notify::visible(error));
        }
    }
    println!(
        "{queued} of {} copy jobs queued to {queue_url}; the replicator copies them and notifies per image",
        sent.len()
    );
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}
