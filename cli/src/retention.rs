//! `ecr-steward prune`: the retention plan of each selected repository, image by image, and
//! with `--apply` its deletion (`steward::ops::retention`); a text table or one JSON document.

use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail};
use serde_json::json;
use steward::aws::{AwsWorkloads, Ecr};
use steward::deadline::Deadline;
use steward::glob::Glob;
use steward::notify::visible;
use steward::ops::retention::{
    run_retention, select, sources_for, Progress, RepositoryRetention, RetentionSettings, Running,
};
use steward::ports::ImageCatalog;
use steward::retention::{megabytes, short, Decision, ImageStatus, Plan, RetentionResult};
use steward::timestamp::Timestamp;

use crate::check::load_policy;
use crate::exit::Exit;
use crate::progress::{Every, OFF_TERMINAL};
use crate::{PruneArgs, PruneFormat};

/// `--now`: an RFC 3339 time.
pub fn parse_now(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| format!("{text:?} is not an RFC 3339 time such as 2026-12-01T00:00:00Z"))
}

fn clock() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

pub fn run(args: &PruneArgs) -> anyhow::Result<Exit> {
    let (policy, origin) = load_policy(&args.policy)?;
    let globs = args
        .repository
        .iter()
        .map(|g| Glob::new(g).map_err(|e| anyhow!("--repository: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if policy.rules.iter().all(|rule| rule.retention.is_none()) {
        bail!("no rule of {origin} has a `retention` section, so nothing would ever expire; add one (see the policy reference)");
    }
    let clock = clock();
    if let Some(now) = args.now.filter(|now| args.apply && *now > clock) {
        bail!("--now {now} is later than the clock ({clock}): --apply would delete images by ages they do not have yet; plan a future date without --apply");
    }
    let settings = RetentionSettings {
        now: args.now.unwrap_or(clock),
        apply: args.apply,
        deadline: Deadline::unlimited(),
    };
    crate::aws::runtime()?.block_on(async {
        let aws = crate::aws::connect(args.region.as_deref()).await?;
        let ecr = Ecr::new(&aws.sdk);
        let workloads = AwsWorkloads::new(&aws.sdk);
        let repositories = select(&policy, &ecr.repositories().await?, &globs);
        let running = Running::gather(
            &workloads,
            &sources_for(&policy, &repositories),
            &settings.deadline,
        )
        .await;
        if repositories.is_empty() {
            eprintln!("no repository matches --repository and has a rule with a retention section");
        }
        let terminal = std::io::stderr().is_terminal();
        let mut results: Vec<RepositoryRetention> = Vec::new();
        let mut printed = String::new();
        let mut errors = 0;
        let every = Every::new(OFF_TERMINAL);
        for (index, repository) in repositories.iter().enumerate() {
            if !terminal && every.due(false) {
                eprintln!("prune: {index}/{} repositories planned", repositories.len());
            }
            let mut progress = |event: Progress| match event {
                Progress::Batch {
                    repository,
                    done,
                    total,
                } if terminal => {
                    eprint!("\r\x1b[2K{repository}: deleting {done}/{total}");
                }
                Progress::Batch {
                    repository,
                    done,
                    total,
                } => {
                    eprintln!("{repository}: {done}/{total} handled");
                }
                Progress::Planned { .. } => {}
            };
            let pruned = run_retention(
                &ecr,
                &workloads,
                &policy,
                repository,
                &settings,
                &running,
                &mut progress,
            );
            match pruned.await {
                Ok(Some(result)) => {
                    if terminal && settings.apply {
                        eprint!("\r\x1b[2K");
                    }
                    if args.format == PruneFormat::Text {
                        let said = text(&result.plan, &result.pruning, args.only_changes);
                        // What --apply did is said as it is done: a run cut short still
                        // tells which images are gone. A plan can wait for its totals.
                        if settings.apply {
                            print!("{said}");
                        } else {
                            printed.push_str(&said);
                        }
                    }
                    results.push(result);
                }
                Ok(None) => {}
                Err(error) => {
                    errors += 1;
                    eprintln!("error: {repository}: {}", visible(&error.to_string()));
                }
            }
        }
        let failed = results.iter().any(|r| !r.pruning.failed.is_empty());
        match args.format {
            PruneFormat::Text => {
                // A plan: the totals first, then repository by repository, then the totals
                // again. An applied run printed as it went; its totals come last.
                let totals = summary(&results, settings.apply);
                if !settings.apply {
                    print!("{totals}\n\n{printed}");
                }
                println!("{totals}");
            }
            PruneFormat::Json => {
                let document = json!({
                    "now": settings.now,
                    "applied": settings.apply,
                    "repositories": results.iter().map(|r| json!({
                        "plan": r.plan,
                        "pruning": r.pruning,
                        "outcome": r.pruning.outcome(),
                    })).collect::<Vec<_>>(),
                    "errors": errors,
                });
                println!("{}", serde_json::to_string_pretty(&document)?);
            }
        }
        Ok(if errors > 0 {
            Exit::Error
        } else {
            Exit::from_passed(!failed)
        })
    })
}

/// One repository: a header, then one line an image (newest push first) with its decision,
/// tags and the reason (with `only_changes`, only the images that expire or are archived);
/// then what `--apply` did.
pub fn text(plan: &Plan, pruning: &RetentionResult, only_changes: bool) -> String {
    let archive = if pruning.to_archive.is_empty() {
        String::new()
    } else {
        format!(", {} to archive", pruning.to_archive.len())
    };
    let mut out = format!(
        "{} (rule {}): {} images, {} kept, {} expire ({}){archive}\n",
        visible(&plan.repository),
        visible(&plan.rule),
        plan.images.len(),
        plan.kept_count(),
        pruning.expired.len(),
        megabytes(pruning.expired_bytes)
    );
    for image in &plan.images {
        if only_changes && image.decision == Decision::Keep {
            continue;
        }
        let decision = match image.decision {
            Decision::Keep => "keep  ",
            Decision::Expire if pruning.deleted.contains(&image.digest) => "DELETED",
            Decision::Expire if pruning.kept_on_recheck.contains(&image.digest) => "kept (recheck)",
            Decision::Expire if pruning.failed.iter().any(|f| f.digest == image.digest) => {
                "NOT DELETED"
            }
            Decision::Expire => "EXPIRE",
            Decision::Archive if pruning.archived.contains(&image.digest) => "ARCHIVED",
            Decision::Archive if pruning.kept_on_recheck.contains(&image.digest) => {
                "kept (recheck)"
            }
            Decision::Archive if pruning.failed.iter().any(|f| f.digest == image.digest) => {
                "NOT ARCHIVED"
            }
            Decision::Archive => "ARCHIVE",
        };
        let mut tags = if image.tags.is_empty() {
            "<untagged>".to_string()
        } else {
            image.tags.join(",")
        };
        if image.status != ImageStatus::Active {
            tags = format!("({}) {tags}", image.status.as_str());
        }
        let reasons = image
            .reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        out.push_str(&visible(&format!(
            "  {decision:<7} {} {} {tags:<24} {reasons}\n",
            short(&image.digest),
            image.pushed_at.date()
        )));
    }
    if pruning.applied {
        let archived = if pruning.to_archive.is_empty() {
            String::new()
        } else {
            format!("archived {}, ", pruning.archived.len())
        };
        out.push_str(&format!(
            "  deleted {}, {archived}kept on recheck {}, already gone {}, not deleted {}{}\n",
            pruning.deleted.len(),
            pruning.kept_on_recheck.len(),
            pruning.already_gone.len(),
            pruning.failed.len(),
            if pruning.unfinished {
                " (unfinished)"
            } else {
                ""
            }
        ));
        for failure in &pruning.failed {
            out.push_str(&visible(&format!(
                "  not deleted {}: {}: {}\n",
                short(&failure.digest),
                failure.code,
                failure.message
            )));
        }
    }
    out
}

fn summary(results: &[RepositoryRetention], applied: bool) -> String {
    let expired: usize = results.iter().map(|r| r.pruning.expired.len()).sum();
    let bytes: u64 = results.iter().map(|r| r.pruning.expired_bytes).sum();
    let deleted: usize = results.iter().map(|r| r.pruning.deleted.len()).sum();
    let failed: usize = results.iter().map(|r| r.pruning.failed.len()).sum();
    let to_archive: usize = results.iter().map(|r| r.pruning.to_archive.len()).sum();
    let archived: usize = results.iter().map(|r| r.pruning.archived.len()).sum();
    if applied {
        let archive = if to_archive == 0 {
            String::new()
        } else {
            format!(", {archived} of {to_archive} archived")
        };
        format!(
            "{} repositories: {expired} images expired, {deleted} deleted{archive}, {failed} not deleted or archived",
            results.len()
        )
    } else {
        let archive = if to_archive == 0 {
            String::new()
        } else {
            format!(", {to_archive} would be archived")
        };
        format!(
            "{} repositories: {expired} images would be deleted ({}){archive}; dry run, nothing changed: pass --apply to delete",
            results.len(),
            megabytes(bytes)
        )
    }
}

#[cfg(test)]
mod tests {
    use steward::policy::{Policy, SourceFormat};
    use steward::retention::{plan, ImageRecord, ImageStatus};
    use steward::timestamp::DAY;

    use super::*;

    const DOCS_POLICY: &str = "  - name: services\n    repositories: [\"team/*\"]\n    tags: { semver: { floating_aliases: true }, git_sha: { prefixes: [\"sha-\"] }, literals: { allow: [stable] } }\n    retention:\n      semver: { keep_per_major: 2, keep_per_minor: 1, prerelease: { max_age_days: 30, until_released: true } }\n      git_sha: { keep_newest: 1, max_age_days: 14 }\n      untagged: { max_age_days: 7 }\n      protect: [stable]\n      archive: { delete_after_days: 180 }\n";

    /// The text between the line after `marker` that opens a code block and its end.
    fn readme_block(readme: &str, marker: &str) -> String {
        let after = &readme[readme.find(marker).expect("the marker") + marker.len()..];
        let body = &after[after.find("```").expect("a block")..];
        let body = &body[body.find('\n').expect("its first line") + 1..];
        body[..body.find("```").expect("its end")].to_string()
    }

    /// The worked example of the policy reference (docs/policy.md, "Retention"): its policy and
    /// its plan are what this test gives (`UPDATE_DOCS_EXAMPLE=1` writes them there).
    #[test]
    fn renders_the_readme_example() {
        let policy = Policy::from_text(
            &format!("version: 1\nrules:\n{DOCS_POLICY}"),
            "policy.yaml",
            SourceFormat::Yaml,
        )
        .expect("valid");
        let now = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").expect("valid");
        let image = |n: u8, days: i64, tags: &[&str]| ImageRecord {
            digest: format!("sha256:{}", format!("{n:02x}").repeat(32)),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: Timestamp(now.0 - days * DAY),
            last_pulled: None,
            media_type: None,
            size_bytes: Some(30_000_000),
            children: vec![],
            subject: None,
            in_use: vec![],
            status: ImageStatus::Active,
            archived_at: None,
        };
        let mut index = image(1, 3, &["2.3.1", "2.3", "2"]);
        index.children = vec![image(2, 3, &[]).digest, image(3, 3, &[]).digest];
        let mut signature = image(4, 3, &[]);
        signature.subject = Some(index.digest.clone());
        let mut old_index = image(16, 100, &["2.1.3"]);
        old_index.children = vec![image(17, 100, &[]).digest, image(18, 100, &[]).digest];
        let mut running = image(26, 400, &["sha-0a0b0c0"]);
        running.in_use = vec![steward::retention::Usage {
            source: steward::retention::UsageSource::Lambda,
            what: "Lambda function billing (version 7)".into(),
            last_seen: None,
        }];
        let mut archived = image(27, 340, &["2.2.0-rc.1"]);
        archived.status = ImageStatus::Archived;
        archived.archived_at = Some(Timestamp(now.0 - 200 * DAY));
        let images = vec![
            index,
            image(2, 3, &[]),
            image(3, 3, &[]),
            signature,
            image(5, 2, &["2.4.0-rc.1"]),
            image(6, 20, &["2.3.0"]),
            image(7, 25, &["2.3.0-rc.2"]),
            image(8, 60, &["2.2.0"]),
            image(9, 90, &["2.1.4"]),
            old_index,
            image(17, 100, &[]),
            image(18, 100, &[]),
            image(19, 300, &["1.9.2", "1"]),
            image(20, 320, &["1.9.1", "stable"]),
            image(21, 330, &["1.9.0"]),
            image(22, 1, &["sha-1a2b3c4"]),
            image(23, 10, &["sha-5d6e7f8"]),
            image(24, 40, &["sha-9f8e7d6"]),
            image(25, 15, &[]),
            running,
            archived,
        ];
        let rule = &policy.rules[0];
        let plan = plan(
            "team/api",
            rule,
            rule.retention.as_ref().expect("set"),
            &images,
            now,
        );
        let pruning = RetentionResult {
            repository: plan.repository.clone(),
            rule: plan.rule.clone(),
            applied: false,
            kept: plan.kept_count(),
            expired: plan.expired().cloned().collect(),
            expired_bytes: plan.expired_bytes(),
            deleted: vec![],
            kept_on_recheck: vec![],
            failed: vec![],
            already_gone: vec![],
            unfinished: false,
            to_archive: plan.to_archive().cloned().collect(),
            archived: vec![],
        };
        let printed = text(&plan, &pruning, false);
        let readme_path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/policy.md");
        let readme = std::fs::read_to_string(&readme_path).expect("docs/policy.md");
        let (policy_marker, plan_marker) = ("A worked example, the policy:", "prints (a dry run):");
        if std::env::var_os("UPDATE_DOCS_EXAMPLE").is_some() {
            let mut updated = readme.clone();
            for (marker, body) in [
                (policy_marker, DOCS_POLICY.to_string()),
                (plan_marker, printed.clone()),
            ] {
                let old = readme_block(&updated, marker);
                let at = updated.find(marker).expect("the marker");
                let start = at + updated[at..].find(&old).expect("the block");
                updated.replace_range(start..start + old.len(), &body);
            }
            std::fs::write(&readme_path, updated).expect("write docs/policy.md");
            return;
        }
        assert_eq!(
            readme_block(&readme, policy_marker),
            DOCS_POLICY,
            "docs/policy.md's policy; UPDATE_DOCS_EXAMPLE=1 rewrites it"
        );
        assert_eq!(
            readme_block(&readme, plan_marker),
            printed,
            "docs/policy.md's plan; UPDATE_DOCS_EXAMPLE=1 rewrites it"
        );
        for line in [
            "  ARCHIVE sha256:070707070707 2026-11-06 2.3.0-rc.2               2.3.0-rc.2 [semver.prerelease]: its release 2.3.0 exists\n",
            "  ARCHIVE sha256:111111111111 2026-08-23 <untagged>               [index-child]: only in expired index sha256:101010101010\n",
            "  keep    sha256:040404040404 2026-11-28 <untagged>               [referrer]: refers to kept image sha256:010101010101\n",
            "  keep    sha256:141414141414 2026-01-15 1.9.1,stable             1.9.1 [semver.release]: newest 2 of 1.x (#2); stable [protect]: protected by `stable`\n",
            "  keep    sha256:1a1a1a1a1a1a 2025-10-27 sha-0a0b0c0              [in-use]: in use: Lambda function billing (version 7)\n",
        ] {
            assert!(printed.contains(line), "{line}{printed}");
        }
        assert!(
            printed.contains("EXPIRE  sha256:1b1b1b1b1b1b 2025-12-26 (archived) 2.2.0-rc.1"),
            "{printed}"
        );
    }
}
