//! The part of a retention section that ECR's native lifecycle policy can run without ever
//! expiring an image ecr-steward keeps, as the document `put-lifecycle-policy` takes, and each
//! clause left out with the reason.
//!
//! ECR selects an image for a rule when the rule's tag prefixes or patterns match *any* of
//! its tags, and knows nothing of SemVer order, protected tags, pulls or what runs (AWS,
//! "Lifecycle policy parameters"). So a rule is rendered only when every image it could
//! select is one the planner expires too, in every repository. Only the `untagged` clause can
//! be, and only when neither pulls nor running images keep untagged images, and every
//! referrer (an image with a `subject`, or with cosign's `sha256-<hex>.sig` tag) carries no
//! other tag and is listed by no index: ECR deletes an untagged image whatever refers to it,
//! while ecr-steward keeps the subject of a referrer it keeps (for a tag of its own, or as an
//! index's child).
//! That last condition is about the repositories, not the policy, so the caller states it
//! ([`Assume::UntaggedReferrers`]). The test `core/tests/retention_props.rs` checks all this
//! against an evaluator of ECR's documented semantics on generated repositories and policies.

use serde::Serialize;
use serde_json::{json, Value};

use crate::policy::Retention;

/// A lifecycle policy document and the clauses it leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    /// `{"rules": [...]}`; no rules when nothing can be rendered safely.
    pub policy: Value,
    /// The clauses of the retention section that are not in `policy`, and why.
    pub left_out: Vec<LeftOut>,
}

impl Lifecycle {
    /// The rules rendered.
    pub fn rules(&self) -> &[Value] {
        self.policy["rules"].as_array().map_or(&[], Vec::as_slice)
    }
}

/// What the caller knows of its repositories that the policy cannot say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assume {
    /// Nothing: any image may refer to another, tagged or not.
    Nothing,
    /// Every referrer (an image with a `subject`, or with cosign's `sha256-<hex>.sig` tag)
    /// carries no other tag and is listed by no index: signatures, SBOMs and attestations are
    /// pushed on their own, as cosign, Notation and ORAS push them. And no index is archived
    /// (its children could not be read).
    UntaggedReferrers,
}

/// A clause not rendered, and why ECR would expire what ecr-steward keeps under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    /// The clause, as the policy names it (`git_sha`, `semver.keep_per_minor`, …).
    pub clause: String,
    /// Why it is not rendered.
    pub why: String,
}

fn left_out(clause: &str, why: impl Into<String>) -> LeftOut {
    LeftOut {
        clause: clause.into(),
        why: why.into(),
    }
}

/// What keeps untagged images that ECR's `untagged` rule would expire: pulls, what runs.
fn untagged_keepers(retention: &Retention) -> Vec<String> {
    let mut keepers = Vec::new();
    if let Some(days) = retention.keep_pulled_within_days {
        keepers.push(format!(
            "pulled within {} days (keep_pulled_within_days)",
            days.0
        ));
    }
    let sources = retention.in_use;
    let names: Vec<&str> = [
        (sources.lambda, "lambda"),
        (sources.ecs, "ecs"),
        (sources.inspector, "inspector"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if !names.is_empty() {
        keepers.push(format!("run, by digest ({})", names.join(", ")));
    }
    keepers
}

/// The `untagged` clause as ECR's rule: expire untagged images older than `days`.
fn untagged_rule(days: u32) -> Value {
    json!({
        "rulePriority": 1,
        "description": format!("untagged images older than {days} days"),
        "selection": {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": days,
        },
        "action": { "type": "expire" },
    })
}

/// Renders `retention` as an ECR lifecycle policy that never expires an image the planner
/// keeps, in repositories where `assume` holds.
pub fn lifecycle_policy(retention: &Retention, assume: Assume) -> Lifecycle {
    let mut rules = Vec::new();
    let mut out = Vec::new();
    let any_tag = "ECR selects an image when a tag prefix or pattern matches any of its tags";
    if let Some(untagged) = &retention.untagged {
        let keepers = untagged_keepers(retention);
        if keepers.is_empty() && assume == Assume::Nothing {
            out.push(left_out(
                "untagged",
                "ECR deletes an untagged image even when an image it keeps refers to it (a signature or SBOM someone tagged, or that an index lists), and takes the referrer with it; ecr-steward keeps both. If every referrer in these repositories carries no tag but cosign's and is in no index, say so with --referrers-untagged",
            ));
        } else if keepers.is_empty() && retention.archive.is_some() {
            out.push(left_out(
                "untagged",
                "with `archive`, indexes go to the archive, where their children cannot be read; ecr-steward then keeps untagged images, which ECR's rule would not",
            ));
        } else if keepers.is_empty() {
            rules.push(untagged_rule(untagged.max_age_days.0));
        } else {
            out.push(left_out(
                "untagged",
                format!(
                    "ecr-steward keeps untagged images {}, which ECR's rule cannot tell apart; set `in_use` sources to false and drop keep_pulled_within_days only if nothing runs or pulls untagged images by digest",
                    keepers.join(" or ")
                ),
            ));
        }
    }
    if let Some(sha) = &retention.git_sha {
        if sha.keep_newest.is_some() || sha.max_age_days.is_some() {
            out.push(left_out(
                "git_sha",
                format!("{any_tag}: a rule on the commit tags' prefix would also expire every release that carries its commit tag too (as docker/metadata-action tags them), which ecr-steward keeps"),
            ));
        }
    }
    if let Some(semver) = &retention.semver {
        if semver.keep_per_major.is_some() || semver.keep_per_minor.is_some() {
            out.push(left_out(
                "semver",
                "ECR counts images by tag prefix in push order, not by SemVer precedence per major or major.minor line",
            ));
        }
        if semver.prerelease.is_some() {
            out.push(left_out(
                "semver.prerelease",
                format!("{any_tag}, and its patterns cannot tell a SemVer pre-release from another tag with a '-', nor know that its release exists"),
            ));
        }
    }
    if retention.upstream.is_some() {
        out.push(left_out(
            "upstream",
            "upstream versions and revisions (8.0.12-c15) are ordered by version, then revision, which ECR cannot",
        ));
    }
    if retention.quarantine.is_some() {
        out.push(left_out(
            "quarantine",
            format!("{any_tag}: a rule on `quarantine-` would also expire a quarantined image that was tagged again since"),
        ));
    }
    Lifecycle {
        policy: json!({ "rules": rules }),
        left_out: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, SourceFormat};

    fn render(retention: &str) -> Lifecycle {
        render_assuming(retention, Assume::UntaggedReferrers)
    }

    fn render_assuming(retention: &str, assume: Assume) -> Lifecycle {
        let policy = Policy::from_text(
            &format!("version: 1\nrules:\n  - tags: {{ semver: {{}}, git_sha: {{ prefixes: ['sha-'] }} }}\n    retention: {retention}\n"),
            "p.yaml",
            SourceFormat::Yaml,
        )
        .expect("valid");
        lifecycle_policy(policy.rules[0].retention.as_ref().expect("set"), assume)
    }

    #[test]
    fn only_what_can_never_expire_a_kept_image_is_rendered() {
        let rendered = render("{ semver: { keep_per_minor: 2 }, git_sha: { keep_newest: 10 }, untagged: { max_age_days: 7 }, in_use: { lambda: false, ecs: false } }");
        assert_eq!(
            rendered.rules(),
            [
                json!({"rulePriority": 1, "description": "untagged images older than 7 days",
                 "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
                 "action": {"type": "expire"}})
            ]
        );
        let clauses: Vec<&str> = rendered
            .left_out
            .iter()
            .map(|l| l.clause.as_str())
            .collect();
        assert_eq!(clauses, ["git_sha", "semver"]);
        assert!(rendered.left_out[0].why.contains("metadata-action"));
        let unsure = render_assuming(
            "{ untagged: { max_age_days: 7 }, in_use: { lambda: false, ecs: false } }",
            Assume::Nothing,
        );
        assert!(unsure.rules().is_empty());
        assert!(unsure.left_out[0].why.contains("--referrers-untagged"));
    }

    #[test]
    fn untagged_images_that_run_or_are_pulled_keep_the_untagged_rule_out() {
        let rendered = render("{ untagged: { max_age_days: 7 } }");
        assert!(rendered.rules().is_empty());
        assert_eq!(rendered.left_out[0].clause, "untagged");
        assert!(rendered.left_out[0]
            .why
            .contains("run, by digest (lambda, ecs)"));
        let rendered = render("{ untagged: { max_age_days: 7 }, keep_pulled_within_days: 30, in_use: { lambda: false, ecs: false } }");
        assert!(rendered.rules().is_empty());
        assert!(rendered.left_out[0].why.contains("pulled within 30 days"));
    }
}
