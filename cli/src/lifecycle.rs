//! `ecr-steward lifecycle render`: the part of a rule's retention that ECR's native lifecycle
//! policy can express, as `put-lifecycle-policy` takes it (stdout), and what it cannot
//! (stderr, as `#` comments).

use anyhow::{anyhow, bail};
use steward::retention::lifecycle_policy;

use crate::check::load_policy;
use crate::exit::Exit;
use crate::LifecycleRenderArgs;

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
    let rendered = lifecycle_policy(rule, retention);
    eprintln!(
        "# rule `{}`: what ECR's lifecycle policy cannot express:",
        rule.name
    );
    for note in &rendered.cannot {
        eprintln!("# - {note}");
    }
    let empty = rendered.policy["rules"]
        .as_array()
        .is_none_or(|rules| rules.is_empty());
    if empty {
        eprintln!("# nothing of this retention section can be expressed as a lifecycle policy");
        return Ok(Exit::Fail);
    }
    println!("{}", serde_json::to_string_pretty(&rendered.policy)?);
    Ok(Exit::Pass)
}
