//! The part of a retention section that ECR's native lifecycle policy can express, as the
//! document `put-lifecycle-policy` takes, and in words what it cannot.

use serde_json::{json, Value};

use crate::policy::{Retention, Rule};

/// A lifecycle policy document and what it leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    /// `{"rules": [...]}`; no rules when nothing can be expressed.
    pub policy: Value,
    /// What the document does not express (or expresses differently), one sentence each.
    pub cannot: Vec<String>,
}

/// Renders `retention` of `rule` as an ECR lifecycle policy.
pub fn lifecycle_policy(rule: &Rule, retention: &Retention) -> Lifecycle {
    let mut rules = Vec::new();
    let mut cannot = vec![
        "ECR expires an image when one of its tags matches a rule, so an image that also carries a tag the policy keeps (a release, a protected tag, a floating alias) can still be expired by a rule below; ecr-steward keeps an image when any of its tags keeps it".to_string(),
        "ECR does not know a multi-arch index's children or an image's referrers (signatures, SBOMs): they are untagged, and the untagged rule counts them on their own".into(),
    ];
    let mut priority = 1;
    if let Some(untagged) = &retention.untagged {
        rules.push(json!({
            "rulePriority": priority,
            "description": format!("untagged images older than {} days", untagged.max_age_days.0),
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": untagged.max_age_days.0,
            },
            "action": { "type": "expire" },
        }));
        priority += 1;
    }
    if let Some(sha) = &retention.git_sha {
        let prefixes: Vec<&str> = rule
            .tags
            .git_sha
            .as_ref()
            .map(|g| g.prefixes.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let selection = match (sha.keep_newest, sha.max_age_days) {
            (Some(count), None) => Some((
                json!({ "countType": "imageCountMoreThan", "countNumber": count.0 }),
                format!("keep the newest {} commit images", count.0),
            )),
            (None, Some(days)) => Some((
                json!({ "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days.0 }),
                format!("commit images older than {} days", days.0),
            )),
            (Some(_), Some(_)) => {
                cannot.push("git_sha keeps the newest K *or* those younger than D days; one ECR rule can count or age, not both at once".into());
                None
            }
            (None, None) => None,
        };
        if let Some((count, description)) = selection {
            if prefixes.iter().any(|p| p.is_empty()) {
                cannot.push("bare git-sha tags (no prefix) have no prefix or wildcard pattern that ECR could select them by".into());
            }
            for prefix in prefixes.iter().filter(|p| !p.is_empty()) {
                let mut selection = json!({ "tagStatus": "tagged", "tagPrefixList": [prefix] });
                if let (Some(target), Some(extra)) = (selection.as_object_mut(), count.as_object())
                {
                    target.extend(extra.clone());
                }
                rules.push(json!({
                    "rulePriority": priority,
                    "description": format!("{description} (`{prefix}` tags)"),
                    "selection": selection,
                    "action": { "type": "expire" },
                }));
                priority += 1;
            }
        }
    }
    if let Some(semver) = &retention.semver {
        if semver.keep_per_major.is_some() || semver.keep_per_minor.is_some() {
            cannot.push("SemVer releases per major or major.minor line: ECR counts images by tag prefix in push order, not by SemVer precedence, and has no per-line counts".into());
        }
        if semver.prerelease.is_some() {
            cannot.push("pre-releases: ECR's tag patterns cannot tell a SemVer pre-release from another tag with a '-', nor know that its release exists".into());
        }
    }
    if retention.upstream.is_some() {
        cannot.push("upstream versions and revisions (8.0.12-c15): ordered by version then revision, which ECR cannot".into());
    }
    if !retention.protect.is_empty() {
        cannot.push(format!(
            "protected tags ({}) and floating aliases: ECR has no exemption; its rules may expire their images",
            retention.protect.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    if retention.keep_pulled_within_days.is_some() {
        cannot.push(
            "keep_pulled_within_days: ECR lifecycle rules count pushes only, not pulls".into(),
        );
    }
    Lifecycle {
        policy: json!({ "rules": rules }),
        cannot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, SourceFormat};

    #[test]
    fn renders_what_ecr_can_count_and_says_what_it_cannot() {
        let policy = Policy::from_text(
            "version: 1\nrules:\n  - tags: { semver: {}, git_sha: { prefixes: ['sha-', ''] } }\n    retention:\n      semver: { keep_per_minor: 2 }\n      git_sha: { keep_newest: 10 }\n      untagged: { max_age_days: 7 }\n      protect: [stable]\n",
            "p.yaml",
            SourceFormat::Yaml,
        )
        .expect("valid");
        let rule = &policy.rules[0];
        let rendered = lifecycle_policy(rule, rule.retention.as_ref().expect("set"));
        assert_eq!(
            rendered.policy["rules"],
            json!([
                {"rulePriority": 1, "description": "untagged images older than 7 days",
                 "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
                 "action": {"type": "expire"}},
                {"rulePriority": 2, "description": "keep the newest 10 commit images (`sha-` tags)",
                 "selection": {"tagStatus": "tagged", "tagPrefixList": ["sha-"], "countType": "imageCountMoreThan", "countNumber": 10},
                 "action": {"type": "expire"}}
            ])
        );
        let notes = rendered.cannot.join("\n");
        for expected in [
            "SemVer precedence",
            "bare git-sha",
            "protected tags (stable)",
            "children",
        ] {
            assert!(notes.contains(expected), "{expected}: {notes}");
        }
    }
}
