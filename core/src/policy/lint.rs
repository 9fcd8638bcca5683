//! What a policy that loads can still get wrong: patterns no repository can match, rules an
//! earlier rule hides, regions AWS does not have, ignores past their date, and a file too large
//! for where it will be kept. `policy validate` reports these with the position of the value.

use std::fmt;

use super::model::Policy;
use crate::date::Date;

/// How much a finding of the lint matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LintLevel {
    /// For information: where the policy cannot be kept, for instance; never fails.
    Notice,
    /// Accepted, but likely not what was meant; `--strict` fails on it.
    Warning,
    /// Accepted today, and certain to do nothing or to fail at run time.
    Error,
}

/// One finding of [`Policy::lint`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lint {
    /// Error or warning.
    pub level: LintLevel,
    /// Where in the policy, as a path such as `rules[2].repositories[0]`.
    pub path: String,
    /// 1-based line and column of the value in the file, when it was found.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            LintLevel::Error => "error",
            LintLevel::Warning => "warning",
            LintLevel::Notice => "notice",
        };
        write!(
            f,
            "{level}: {}: {}\n  hint: {}",
            self.path, self.message, self.hint
        )
    }
}

/// Lambda's environment variables, all of a function's together (the inline `PolicyDocument`
/// is one of them).
pub const INLINE_LIMIT: usize = 4096;
/// What the inline policy may take of [`INLINE_LIMIT`]: the functions' other settings need the rest.
pub const INLINE_BUDGET: usize = 3072;
/// An SSM parameter of the standard tier.
pub const SSM_STANDARD_LIMIT: usize = 4096;
/// An SSM parameter of the advanced tier.
pub const SSM_ADVANCED_LIMIT: usize = 8192;
/// The largest policy object the functions read from S3.
pub const S3_LIMIT: usize = 1024 * 1024;

/// The regions of AWS's partitions (aws, aws-cn, aws-us-gov, aws-eusc), as the AWS SDK's
/// endpoint metadata lists them. A region AWS opens later is reported as unknown, not refused.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "eusc-de-east-1",
];

impl Policy {
    /// Everything in this policy, as loaded from `text`, that will not do what it says.
    /// `today` dates the ignores.
    pub fn lint(&self, text: &str, today: Date) -> Vec<Lint> {
        let mut found = Vec::new();
        let mut at = Locator::new(text);
        at.skip_to("rules");
        for (index, rule) in self.rules.iter().enumerate() {
            let namesakes = self.rules[..index]
                .iter()
                .filter(|r| r.name == rule.name)
                .count();
            if let Some(first) = self.rules[..index].iter().position(|r| r.name == rule.name) {
                found.push(Lint {
                    level: LintLevel::Error,
                    path: format!("rules[{index}].name"),
                    position: Locator::key_value_nth(text, "name", &rule.name, namesakes),
                    message: format!(
                        "rule `{}` has the name of rules[{first}]; reports, metrics and the audit tell rules apart by name",
                        rule.name
                    ),
                    hint: "give each rule a name of its own".into(),
                });
            }
            for (g, glob) in rule.repositories.iter().enumerate() {
                let position = at.find(glob.as_str());
                let path = format!("rules[{index}].repositories[{g}]");
                if !glob.can_match_a_repository_name() {
                    found.push(unmatchable(path, position, glob.as_str()));
                }
            }
            let shadowed_by = self.rules[..index].iter().find(|earlier| {
                rule.repositories.iter().all(|later| {
                    earlier
                        .repositories
                        .iter()
                        .any(|glob| later.is_covered_by(glob))
                })
            });
            if let Some(earlier) = shadowed_by {
                let position = Locator::key_value(text, "name", &rule.name).or_else(|| {
                    rule.repositories
                        .first()
                        .and_then(|glob| Locator::new(text).find(glob.as_str()))
                });
                found.push(Lint {
                    level: LintLevel::Error,
                    path: format!("rules[{index}]"),
                    position,
                    message: format!(
                        "rule `{}` never applies: every repository it names already takes rule `{}` ({}), which comes first",
                        rule.name,
                        earlier.name,
                        globs(&earlier.repositories),
                    ),
                    hint: format!(
                        "a repository takes the first rule that matches it: move `{}` above `{}`, or narrow the earlier rule's repositories",
                        rule.name, earlier.name
                    ),
                });
            }
            for (i, ignore) in rule.scan.ignore.iter().enumerate() {
                let Some(until) = ignore.until.filter(|until| *until < today) else {
                    continue;
                };
                found.push(Lint {
                    level: LintLevel::Warning,
                    path: format!("rules[{index}].scan.ignore[{i}]"),
                    position: Locator::new(text).find(&ignore.id),
                    message: format!(
                        "the ignore of {} expired on {until}; the finding counts again",
                        ignore.id
                    ),
                    hint: "renew its `until` if it still does not apply, or remove the entry"
                        .into(),
                });
            }
        }
        for (index, rule) in self.replication.iter().enumerate() {
            for (g, glob) in rule.repositories.iter().enumerate() {
                if !glob.can_match_a_repository_name() {
                    let position = Locator::new(text).find(glob.as_str());
                    found.push(unmatchable(
                        format!("replication[{index}].repositories[{g}]"),
                        position,
                        glob.as_str(),
                    ));
                }
            }
            for (d, destination) in rule.destinations.iter().enumerate() {
                if KNOWN_REGIONS.contains(&destination.region.as_str()) {
                    continue;
                }
                let nearest = KNOWN_REGIONS
                    .iter()
                    .map(|known| {
                        (
                            super::load::edit_distance(&destination.region, known),
                            *known,
                        )
                    })
                    .min()
                    .filter(|(distance, _)| *distance <= 3)
                    .map(|(_, known)| known);
                found.push(Lint {
                    level: LintLevel::Warning,
                    path: format!("replication[{index}].destinations[{d}].region"),
                    position: Locator::new(text).find(&destination.region),
                    message: format!(
                        "{} is not an AWS region this release knows; copies to it will fail unless AWS opened it after this release",
                        destination.region
                    ),
                    hint: match nearest {
                        Some(known) => format!("did you mean {known}?"),
                        None => "write a region as AWS names it, e.g. eu-west-1".into(),
                    },
                });
            }
        }
        found
    }
}

fn unmatchable(path: String, position: Option<(usize, usize)>, glob: &str) -> Lint {
    let trimmed = glob.trim_matches('/');
    let hint = if glob.ends_with('/') && !trimmed.is_empty() {
        format!("to match the repositories under {trimmed}/, write `{trimmed}/*` (one level) or `{trimmed}/**` (any depth)")
    } else {
        "repository names are 2 to 256 characters, path segments of lowercase letters and digits joined by single `.`, `_` or `-`, separated by single `/`".into()
    };
    Lint {
        level: LintLevel::Error,
        path,
        position,
        message: format!("`{glob}` can never match a repository name"),
        hint,
    }
}

fn globs(globs: &[crate::glob::Glob]) -> String {
    globs
        .iter()
        .map(|g| format!("`{g}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The policy as the inline `PolicyDocument` parameter takes it: one line of JSON, with the
/// characters SAM CLI would mangle written as `\u` escapes.
pub fn inline_json(document: &serde_json::Value) -> String {
    sam_proof(&serde_json::to_string(document).unwrap_or_default())
}

/// SAM CLI takes the backslash out of `\"`, `\'` and `\ ` in every parameter value, even
/// one read from a file, which would break the JSON of a policy with a quote or a backslash in
/// a string (a tag pattern such as `^v\d+$`). The same JSON with those characters written as
/// `\u` escapes reaches the stack intact, whichever tool passes it.
fn sam_proof(json: &str) -> String {
    // serde_json escapes a backslash as `\\` and a quote as `\"`, and writes `'` as is; the
    // backslashes go first, so every `\"` left afterwards is an escaped quote.
    json.replace("\\\\", "\\u005c")
        .replace("\\\"", "\\u0022")
        .replace('\'', "\\u0027")
}

/// Where a policy is kept, for [`size_notices`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyHome {
    /// A file, to be given inline, or put in SSM or S3.
    File,
    /// An S3 object.
    S3,
    /// An SSM parameter (which it fits, being there).
    Ssm,
}

/// The policy's size against the places it can still be kept: as written (S3, SSM) and as one
/// line of JSON (the inline `PolicyDocument` parameter, `ecr-steward policy parameter`).
pub fn size_notices(text: &str, home: PolicyHome) -> Vec<Lint> {
    let written = text.len();
    let inline = serde_yaml::from_str::<serde_json::Value>(text)
        .map_or(written, |value| inline_json(&value).len());
    let mut found = Vec::new();
    let mut say = |level, message: String, hint: &str| {
        found.push(Lint {
            level,
            path: "the policy".into(),
            position: None,
            message,
            hint: hint.into(),
        });
    };
    if written > S3_LIMIT {
        say(
            LintLevel::Error,
            format!("{written} bytes is more than the functions read ({S3_LIMIT} bytes from S3, less elsewhere)"),
            "split it: fewer, broader repository globs share one rule",
        );
        return found;
    }
    if home != PolicyHome::File {
        return found;
    }
    if inline > INLINE_BUDGET {
        say(
            LintLevel::Notice,
            format!("{inline} bytes as one line of JSON: too large for the inline PolicyDocument parameter ({INLINE_BUDGET})"),
            "keep it in S3 (PolicyBucket, PolicyObjectKey) or SSM (PolicyParameterName)",
        );
    }
    if written > SSM_ADVANCED_LIMIT {
        say(
            LintLevel::Notice,
            format!("{written} bytes as written: too large for an SSM parameter ({SSM_ADVANCED_LIMIT} in the advanced tier)"),
            "keep it in S3, or store the output of `ecr-steward policy parameter` (no comments) in SSM",
        );
    } else if written > SSM_STANDARD_LIMIT {
        say(
            LintLevel::Notice,
            format!("{written} bytes as written: an SSM parameter of this size needs the advanced tier (the standard tier takes {SSM_STANDARD_LIMIT})"),
            "use the advanced tier, keep it in S3, or store the output of `ecr-steward policy parameter` (no comments)",
        );
    }
    found
}

/// Finds where values stand in the policy's text, moving forward through it as rules are read
/// in file order, so a glob written in two rules is found in the right one.
struct Locator<'a> {
    text: &'a str,
    from: usize,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, from: 0 }
    }

    fn skip_to(&mut self, key: &str) {
        if let Some(offset) = self.text.find(&format!("{key}\"")) {
            self.from = offset;
        } else if let Some(offset) = self.text.find(&format!("{key}:")) {
            self.from = offset;
        }
    }

    /// The next place `value` stands as a whole scalar, plain or quoted.
    fn find(&mut self, value: &str) -> Option<(usize, usize)> {
        let bytes = self.text.as_bytes();
        let mut search = self.from;
        while let Some(offset) = self.text.get(search..)?.find(value) {
            let start = search + offset;
            let end = start + value.len();
            let before = start.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(end).copied();
            let opens = before.is_none_or(|b| b" \t[{,\"'-:".contains(&b));
            let closes = after.is_none_or(|b| b" \t]},\"'\r\n#".contains(&b));
            if opens && closes {
                self.from = end;
                return Some(position(self.text, start));
            }
            search = start + 1;
        }
        None
    }

    /// Where `key: value` (or `"key": "value"`) stands in the whole text: the value's position.
    fn key_value(text: &str, key: &str, value: &str) -> Option<(usize, usize)> {
        Self::key_value_nth(text, key, value, 0)
    }

    /// The `nth` (from 0) place `key: value` stands.
    fn key_value_nth(text: &str, key: &str, value: &str, nth: usize) -> Option<(usize, usize)> {
        let mut probe = Locator::new(text);
        std::iter::from_fn(|| probe.find(value))
            .filter(|(line, _)| {
                text.lines()
                    .nth(line - 1)
                    .is_some_and(|line_text| line_text.contains(key))
            })
            .nth(nth)
    }
}

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SourceFormat;

    fn lint(text: &str) -> Vec<Lint> {
        let today = Date::parse("2026-12-05").expect("date");
        Policy::from_text(text, "test.yaml", SourceFormat::Yaml)
            .expect("loads")
            .lint(text, today)
    }

    #[test]
    fn a_sound_policy_has_nothing_to_say() {
        let builtin = crate::policy::DEFAULT_POLICY_YAML;
        assert_eq!(lint(builtin), Vec::new());
    }

    #[test]
    fn unmatchable_and_shadowed_patterns_are_errors_with_positions() {
        let text = "version: 1\nrules:\n  - name: everything\n    tags: {}\n  - name: team-a\n    repositories: [\"team-a/\"]\n    tags: {}\n";
        let found = lint(text);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].path, "rules[1].repositories[0]");
        assert_eq!(found[0].position, Some((6, 21)));
        assert!(found[0].hint.contains("`team-a/*`"), "{}", found[0].hint);
        assert_eq!(found[1].path, "rules[1]");
        assert_eq!(found[1].position, Some((5, 11)));
        assert!(
            found[1].message.contains("already takes rule `everything`"),
            "{}",
            found[1].message
        );
        assert!(found.iter().all(|l| l.level == LintLevel::Error));
    }

    #[test]
    fn a_narrower_rule_after_a_broader_one_is_shadowed_and_not_the_reverse() {
        let text = "version: 1\nrules:\n  - name: a\n    repositories: [\"team-a/**\"]\n    tags: {}\n  - name: api\n    repositories: [\"team-a/api\", \"team-b/api\"]\n    tags: {}\n  - name: web\n    repositories: [\"team-a/web\"]\n    tags: {}\n";
        let found = lint(text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].path, "rules[2]");
        assert_eq!(found[0].position, Some((9, 11)));
    }

    #[test]
    fn two_rules_of_one_name_are_an_error() {
        let text = "version: 1\nrules:\n  - name: web\n    repositories: [\"team-a/*\"]\n    tags: {}\n  - name: web\n    repositories: [\"team-b/*\"]\n    tags: {}\n";
        let found = lint(text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].path, "rules[1].name");
        assert_eq!(found[0].position, Some((6, 11)));
        assert!(found[0].message.contains("has the name of rules[0]"));
    }

    #[test]
    fn expired_ignores_and_unknown_regions_are_warnings() {
        let text = "version: 1\nrules:\n  - tags: {}\n    scan:\n      ignore:\n        - { id: CVE-2024-1, reason: r, until: 2026-01-31 }\n        - { id: CVE-2024-2, reason: r, until: 2027-01-31 }\nreplication:\n  - repositories: [\"team-a/*\"]\n    destinations: [{ region: eu-west-9 }, { region: eu-west-1 }]\n";
        let found = lint(text);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].path, "rules[0].scan.ignore[0]");
        assert_eq!(found[0].position, Some((6, 17)));
        assert!(found[0].message.contains("expired on 2026-01-31"));
        assert_eq!(found[1].path, "replication[0].destinations[0].region");
        assert_eq!(found[1].hint, "did you mean eu-west-1?");
        assert!(found.iter().all(|l| l.level == LintLevel::Warning));
    }

    #[test]
    fn sizes_are_measured_against_where_the_policy_is_kept() {
        let mut text = String::from("version: 1\nrules:\n  - tags: {}\n");
        text.push_str(&format!("# {}\n", "x".repeat(5000)));
        assert_eq!(lint(&text), Vec::new(), "sizes are notices of their own");
        let found = size_notices(&text, PolicyHome::File);
        assert_eq!(found.len(), 1, "comments do not count inline: {found:#?}");
        assert_eq!(
            size_notices(&text, PolicyHome::S3),
            Vec::new(),
            "S3 takes it"
        );
        assert!(found[0].message.contains("needs the advanced tier"));
        assert_eq!(found[0].level, LintLevel::Notice);
        let mut rules = String::from("version: 1\nrules:\n");
        for index in 0..60 {
            rules.push_str(&format!(
                "  - name: team-{index:02}\n    repositories: [\"team-{index:02}/**\"]\n    tags: {{ semver: {{}} }}\n"
            ));
        }
        let found = size_notices(&rules, PolicyHome::File);
        assert!(
            found.iter().any(|l| l
                .message
                .contains("too large for the inline PolicyDocument")),
            "{found:#?}"
        );
    }

    #[test]
    fn sam_proof_json_is_the_same_value_without_backslashed_quotes() {
        let value = serde_json::json!({
            "patterns": ["^v\\d+$", "it's", "say \"hi\"", "ends with \\"],
        });
        let json = inline_json(&value);
        for unsafe_pair in ["\\\"", "\\'", "\\ ", "\\\\"] {
            assert!(!json.contains(unsafe_pair), "{unsafe_pair} in {json}");
        }
        let back: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, value, "{json}");
    }
}
