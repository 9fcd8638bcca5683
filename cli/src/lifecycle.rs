//! `ecr-steward lifecycle render`: the part of a rule's retention that ECR's native lifecycle
//! policy can run without ever expiring an image ecr-steward keeps, and each clause left out
//! with the reason, on stdout. Exit 1 when something is left out, so a script that would put
//! the policy in place learns that ECR alone does less than the policy says.

use anyhow::{anyhow, bail, Context};
use serde_json::json;
use steward::notify::visible;
use steward::retention::{lifecycle_policy, Assume};

use crate::check::load_policy;
use crate::exit::Exit;
use crate::{LifecycleRenderArgs, PruneFormat};

pub fn render(args: &LifecycleRenderArgs) -> anyhow::Result<Exit> {
    let (policy, origin) = load_policy(&args.policy)?;
    let rule =
        policy
            .rule_for(args.repository.as_deref())
            .ok_or_else(|| match &args.repository {
                Some(name) => anyhow!("no rule of {origin} governs repository {name}"),
                None => anyhow!(
                "no rule of {origin} applies to every repository (`**`); pass --repository NAME"
            ),
            })?;
    let Some(retention) = &rule.retention else {
        bail!(
            "rule `{}` has no `retention` section: nothing to render",
            rule.name
        );
    };
    let assume = if args.referrers_untagged {
        Assume::UntaggedReferrers
    } else {
        Assume::Nothing
    };
    let rendered = lifecycle_policy(retention, assume);
    let document = serde_json::to_string_pretty(&rendered.policy)?;
    let empty = rendered.rules().is_empty();
    if let (Some(path), false) = (&args.output, empty) {
        std::fs::write(path, format!("{document}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    match args.format {
        PruneFormat::Json => {
            let report = json!({
                "rule": rule.name,
                "lifecycle_policy": rendered.policy,
                "left_out": rendered.left_out,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        PruneFormat::Text => {
            let name = visible(&rule.name);
            if empty {
                println!("rule `{name}`: no clause can be run by ECR's lifecycle policy without expiring images ecr-steward keeps; nothing rendered");
            } else {
                let rules = rendered.rules().len();
                println!(
                    "rule `{name}`: {rules} lifecycle rule{} (aws ecr put-lifecycle-policy --lifecycle-policy-text){}",
                    if rules == 1 { "" } else { "s" },
                    match &args.output {
                        Some(path) => format!(", written to {}", path.display()),
                        None => format!(":\n{document}"),
                    }
                );
            }
            if !rendered.left_out.is_empty() {
                println!("left out, since ECR would expire images ecr-steward keeps; run `ecr-steward prune` for these:");
                for left in &rendered.left_out {
                    println!("- {}: {}", left.clause, visible(&left.why));
                }
            }
        }
    }
    Ok(Exit::from_passed(rendered.left_out.is_empty() && !empty))
}
