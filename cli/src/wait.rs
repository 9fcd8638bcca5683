//! `ecr-steward wait`: the arguments, one call to `steward::ops::wait`, the report.

use anyhow::bail;
use steward::aws::Registries;
use steward::config::registry_overrides;
use steward::ops::wait::{wait_for_replicas, WaitReport, WaitRequest};
use steward::policy::Target;

use crate::check::load_policy;
use crate::exit::Exit;
use crate::{ReplicateFormat, WaitArgs};

pub fn run(args: &WaitArgs) -> anyhow::Result<Exit> {
    let (policy, _) = load_policy(&args.policy)?;
    let destinations: Vec<Target> = if args.to.is_empty() {
        policy.replication_targets(&args.repository, &args.tag)
    } else {
        args.to
            .iter()
            .map(|region| Target {
                rule: "--to".into(),
                region: region.clone(),
                account: None,
                repository: args.repository.clone(),
                create_repository: false,
                encryption: None,
            })
            .collect()
    };
    if destinations.is_empty() {
        bail!(
            "no destination for {}:{}: pass --to REGION, or a --policy whose replication rules copy it",
            args.repository,
            args.tag
        );
    }
    crate::aws::runtime()?.block_on(async {
        let crate::aws::Aws { sdk, http, region } =
            crate::aws::connect(args.region.as_deref()).await?;
        let registries =
            Registries::new(&sdk, http, registry_overrides(&std::env::vars().collect())?);
        let request = WaitRequest {
            region,
            repository: args.repository.clone(),
            tag: args.tag.clone(),
            digest: args.digest.clone(),
            destinations,
            timeout: args.timeout,
        };
        let report = wait_for_replicas(&registries, &request).await?;
        match args.format {
            ReplicateFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            ReplicateFormat::Text => print!("{}", text(&report)),
        }
        Ok(if report.complete {
            Exit::Pass
        } else {
            Exit::TimedOut
        })
    })
}

fn text(report: &WaitReport) -> String {
    let mut out = String::new();
    for replica in &report.replicas {
        let place = format!("{}/{}", replica.region, replica.repository);
        let line = if replica.complete {
            format!(
                "complete after {:.1} s",
                replica.complete_after_ms.unwrap_or_default() as f64 / 1000.0
            )
        } else if let Some(error) = &replica.error {
            format!("not readable: {error}")
        } else {
            let mut missing = Vec::new();
            if !replica.gaps.missing.is_empty() {
                missing.push(format!(
                    "{} manifest(s) missing",
                    replica.gaps.missing.len()
                ));
            }
            for (tag, at) in &replica.gaps.tags {
                missing.push(match at {
                    Some(other) => format!("tag {tag} names {other}"),
                    None => format!("no tag {tag}"),
                });
            }
            format!("incomplete: {}", missing.join(", "))
        };
        out.push_str(&format!("{place:<40} {line}\n"));
    }
    let ready = report.replicas.iter().filter(|r| r.complete).count();
    out.push_str(&format!(
        "{}:{} ({}) is complete in {ready} of {} destination(s) after {:.1} s{}\n",
        report.repository,
        report.tag,
        report.digest,
        report.replicas.len(),
        report.waited_ms as f64 / 1000.0,
        if report.complete {
            ""
        } else {
            "; the wait ran out"
        }
    ));
    out
}
