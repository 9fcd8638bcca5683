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
use crate::progress::{Every, OFF_TERMINAL};
use crate::{AuditArgs, AuditFormat};

/// True when `check` (or the finding's kind) is `filter` or under it: `labels` takes
/// `labels.required`, `replica` takes the replica findings.
fn under(check: &str, kind: &str, filter: &str) -> bool {
    let filter = filter.trim_end_matches('.');
    [check, kind].iter().any(|name| {
        name.strip_prefix(filter)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('-'))
    })
}

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
            today: steward::date::Date::today(),
            now: steward::timestamp::Timestamp::now(),
        };
        // On a terminal, one line redrawn; elsewhere (CI logs) a line every few seconds.
        let terminal = std::io::stderr().is_terminal();
        let every = Every::new(OFF_TERMINAL);
        let progress = move |step: Progress| {
            let (what, done, total) = match step {
                Progress::Repositories { done, total } => ("repositories", done, total),
                Progress::Images { done, total } => ("images", done, total),
                Progress::Replicas { done, total } => ("replica destinations", done, total),
            };
            if terminal {
                eprint!("\r\x1b[2Kaudit: {what} {done}/{total}");
                return;
            }
            if every.due(done == total) {
                eprintln!("audit: {what} {done}/{total}");
            }
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
        if terminal {
            eprint!("\r\x1b[2K");
        }
        let mut report = report.with_coverage(&policy, &args.repository);
        let failed = !report.clean || (args.strict && !report.warnings.is_empty());
        for check in &args.checks {
            let found = report
                .findings
                .iter()
                .any(|f| under(f.check, f.kind.as_str(), check));
            if !found {
                let seen: Vec<&str> = report.totals.by_check.keys().copied().collect();
                report.warnings.push(format!(
                    "--check {check} matches no finding of this audit (checks found: {})",
                    if seen.is_empty() {
                        "none".to_string()
                    } else {
                        seen.join(", ")
                    }
                ));
            }
        }
        // The text report shows the warnings itself; the other formats carry them as data,
        // so they go to stderr too, for a CI log.
        if args.format != AuditFormat::Text {
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
        }
        if !args.checks.is_empty() {
            report.findings.retain(|f| {
                args.checks
                    .iter()
                    .any(|check| under(f.check, f.kind.as_str(), check))
            });
        }
        if args.findings_only {
            report.repositories.retain(|r| r.findings > 0);
        }
        print!("{}", crate::render::audit::render(&report, args.format));
        Ok(Exit::from_passed(!failed))
    })
}
