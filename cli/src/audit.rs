//! `ecr-steward audit`: the arguments, one call to `steward::ops::audit`, the report.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;

use anyhow::{anyhow, bail};
use steward::aws::{Ecr, Registries};
use steward::config::registry_overrides;
use steward::glob::Glob;
use steward::ops::audit::{audit, AuditRequest, Progress};
use steward::retry::RetryPolicy;

use crate::check::load_policy;
use crate::exit::Exit;
use crate::AuditArgs;

pub fn run(args: &AuditArgs) -> anyhow::Result<Exit> {
    let (policy, origin) = load_policy(&args.policy)?;
    let repositories = Glob::new(&args.repository).map_err(|e| anyhow!("--repository: {e}"))?;
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    crate::aws::runtime()?.block_on(async {
        let crate::aws::Aws { sdk, http, region } =
            crate::aws::connect(args.region.first().map(String::as_str)).await?;
        let mut regions: Vec<String> = Vec::new();
        for name in if args.region.is_empty() {
            std::slice::from_ref(&region)
        } else {
            &args.region[..]
        } {
            if !regions.contains(name) {
                regions.push(name.clone());
            }
        }
        // A client for every region audited and every region replicas are promised in.
        let needed: BTreeSet<String> = regions
            .iter()
            .cloned()
            .chain(
                policy
                    .replication
                    .iter()
                    .flat_map(|rule| rule.destinations.iter().map(|d| d.region.clone())),
            )
            .collect();
        let catalogs: BTreeMap<String, Ecr> = needed
            .into_iter()
            .map(|name| {
                let ecr = Ecr::in_region(&sdk, &name);
                (name, ecr)
            })
            .collect();
        let registries =
            Registries::new(&sdk, http, registry_overrides(&std::env::vars().collect())?);
        let request = AuditRequest {
            regions,
            repositories,
            max_images: args.max_images,
            concurrency: args.concurrency,
            retry: RetryPolicy::default(),
        };
        let show_progress = std::io::stderr().is_terminal();
        let progress = move |step: Progress| {
            if !show_progress {
                return;
            }
            let (what, done, total) = match step {
                Progress::Repositories { done, total } => ("repositories", done, total),
                Progress::Images { done, total } => ("images", done, total),
                Progress::Replicas { done, total } => ("replica destinations", done, total),
            };
            eprint!("\r\x1b[2Kaudit: {what} {done}/{total}");
        };
        let report = audit(
            &policy,
            &origin,
            &catalogs,
            &registries,
            &request,
            &progress,
        )
        .await?;
        if show_progress {
            eprint!("\r\x1b[2K");
        }
        print!("{}", crate::render::audit::render(&report, args.format));
        Ok(Exit::from_passed(report.clean))
    })
}
