//! `ecr-steward replicate`: the arguments, `steward::ops::backfill`'s plan and copies, the
//! table or JSON.

use std::io::IsTerminal;

use anyhow::{anyhow, bail};
use steward::aws::{Ecr, Registries, RegistryReplicator, Sqs};
use steward::config::registry_overrides;
use steward::glob::Glob;
use steward::notify::visible;
use steward::oci::copy::CopyOptions;
use steward::ops::backfill::{
    copy_all, fan_out, jobs, plan, Backfill, BackfillRequest, Destinations,
};
use steward::policy::{Pattern, Target};
use steward::retention::short;

use crate::check::load_policy;
use crate::exit::Exit;
use crate::progress::{Every, OFF_TERMINAL};
use crate::ReplicateArgs;

fn same_repository(a: &Target, b: &Target) -> bool {
    (&a.region, &a.account, &a.repository) == (&b.region, &b.account, &b.repository)
}

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
        let Backfill {
            copies: planned,
            archived,
        } = plan(&policy, &Ecr::new(&sdk), &request).await?;
        for image in &archived {
            eprintln!(
                "skipped {}@{} ({}): archived, it cannot be pulled until it is restored",
                visible(&image.repository),
                short(&image.digest),
                visible(&image.tags.join(", "))
            );
        }
        let lanes = steward::http::upload_lanes(
            steward::http::TrustRoots::System,
            usize::from(args.upload_connections),
        )?;
        let replicator = RegistryReplicator {
            registries: Registries::new(
                &sdk,
                http,
                registry_overrides(&std::env::vars().collect())?,
            )
            .with_upload_lanes(lanes),
            sdk: sdk.clone(),
            options: CopyOptions {
                monolithic: !args.chunked_uploads,
                ..CopyOptions::default()
            },
            create_repositories: true,
        };
        if args.dry_run {
            // What the real run needs: each destination repository, or the right to create it.
            let mut destinations: Vec<&Target> = Vec::new();
            for copy in planned.iter().filter(|c| !c.target.create_repository) {
                if !destinations
                    .iter()
                    .any(|d| same_repository(d, &copy.target))
                {
                    destinations.push(&copy.target);
                }
            }
            let mut missing: Vec<Target> = Vec::new();
            for target in destinations {
                if !replicator.destination_found(target).await? {
                    missing.push(target.clone());
                }
            }
            crate::render::copies::print_plan(&planned, &missing, args.format);
            return Ok(Exit::from_passed(missing.is_empty()));
        }
        if let Some(queue_url) = &args.fan_out {
            let queue = Sqs::new(&sdk, queue_url);
            let (sent, error) = match fan_out(&queue, jobs(&region, &planned)).await {
                Ok(sent) => (sent, None),
                Err((sent, error)) => (sent, Some(error)),
            };
            crate::render::copies::print_fan_out(queue_url, &sent, args.format);
            if let Some(error) = error {
                bail!("sending copy jobs to {queue_url} stopped: {error}");
            }
            return Ok(Exit::from_passed(
                sent.iter().all(|s| s.message_id.is_some()),
            ));
        }
        // On a terminal, one line redrawn; elsewhere (CI logs) a line every few seconds.
        let terminal = std::io::stderr().is_terminal();
        let every = Every::new(OFF_TERMINAL);
        let results = copy_all(
            &replicator,
            &region,
            planned,
            usize::from(args.jobs),
            |index, total, copy| {
                let line = format!(
                    "[{}/{total}] {}:{} -> {}",
                    index + 1,
                    copy.repository,
                    copy.tags.join(","),
                    copy.target.region
                );
                if terminal {
                    eprint!("\r\x1b[2K{line}");
                } else if every.due(false) {
                    eprintln!("replicate: {line}");
                }
            },
        )
        .await;
        if terminal {
            eprint!("\r\x1b[2K");
        }
        crate::render::copies::print_summary(&results, args.format);
        Ok(Exit::from_passed(results.iter().all(|r| r.run.ok)))
    })
}
