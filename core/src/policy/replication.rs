//! The policy's `replication` section: which images are copied to which regions.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::model::{Rule, TagRules};
use super::EncryptionType;
use crate::glob::Glob;

/// One replication rule: images of these repositories, with tags this rule allows, go to these
/// destinations.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawReplicationRule")]
pub struct ReplicationRule {
    /// The rule's name; `replicate <globs>` when the file gives none.
    pub name: String,
    /// The source repositories; never empty.
    pub repositories: Vec<Glob>,
    /// Where the images go; never empty.
    pub destinations: Vec<Destination>,
    /// Create a destination repository that does not exist yet; false by default.
    pub create_repository: bool,
    /// Whether a tag removed at the source is removed at the destinations too; `none` by
    /// default.
    pub replicate_deletes: ReplicateDeletes,
    /// The `tags` section as a rule, so a tag replicates exactly when it would comply with it.
    tags: Rule,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplicationRule {
    #[serde(default)]
    name: String,
    repositories: Vec<Glob>,
    #[serde(default)]
    tags: Option<TagRules>,
    destinations: Vec<Destination>,
    #[serde(default)]
    create_repository: bool,
    #[serde(default)]
    replicate_deletes: ReplicateDeletes,
}

/// How a replication rule follows deletions at the source (`replicate_deletes`). The variants
/// are ordered from the most careful: where several rules replicate one tag to one place, the
/// most careful one decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicateDeletes {
    /// Deletions at the source change nothing at the destinations (the default).
    #[default]
    None,
    /// A tag removed at the source is removed at each destination where it still names the
    /// same image; an image whose last tag it is keeps it (and is reported as kept).
    Tags,
    /// As `tags`, and a destination image whose last tag it is is deleted with it.
    Images,
}

impl ReplicateDeletes {
    /// The setting's name, as the policy spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Tags => "tags",
            Self::Images => "images",
        }
    }
}

impl TryFrom<RawReplicationRule> for ReplicationRule {
    type Error = String;

    fn try_from(raw: RawReplicationRule) -> Result<Self, String> {
        if raw.repositories.is_empty() {
            return Err(
                "a replication rule needs `repositories`; hint: list globs such as \"team/*\""
                    .into(),
            );
        }
        for destination in &raw.destinations {
            let key_region = destination
                .encryption
                .as_ref()
                .and_then(|e| e.key.as_deref())
                .and_then(|key| key.strip_prefix("arn:"))
                .and_then(|arn| arn.split(':').nth(2));
            if let Some(key_region) = key_region.filter(|r| *r != destination.region) {
                return Err(format!(
                    "the KMS key of destination {} is in {key_region}; hint: a repository is encrypted with a key of its own region",
                    destination.region
                ));
            }
        }
        if raw.destinations.is_empty() {
            return Err("a replication rule needs `destinations`; hint: e.g. destinations: [{ region: eu-west-1 }]".into());
        }
        let name = if raw.name.is_empty() {
            format!(
                "replicate {}",
                raw.repositories
                    .iter()
                    .map(Glob::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            raw.name
        };
        // Without a `tags` section every tag replicates.
        let tags = match raw.tags {
            Some(tags) => tags,
            None => TagRules {
                patterns: vec![super::Pattern::new(".*").map_err(|e| e.to_string())?],
                ..TagRules::default()
            },
        };
        Ok(Self {
            tags: Rule::for_tags(&name, tags),
            name,
            repositories: raw.repositories,
            destinations: raw.destinations,
            create_repository: raw.create_repository,
            replicate_deletes: raw.replicate_deletes,
        })
    }
}

/// One destination of a replication rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// The destination region, such as `eu-west-1`.
    #[serde(deserialize_with = "region")]
    pub region: String,
    /// Another account's registry; the function's own when absent.
    #[serde(default, deserialize_with = "account")]
    pub account: Option<String>,
    /// The destination repository's name; `{repository}` stands for the source's. Same name when absent.
    #[serde(default)]
    pub repository: Option<String>,
    /// How a repository created there is encrypted; the source's type when absent, which a
    /// KMS-encrypted source cannot use (its key belongs to its region).
    #[serde(default)]
    pub encryption: Option<ReplicaEncryption>,
}

/// The encryption of a destination repository that the replicator creates.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, try_from = "RawReplicaEncryption")]
pub struct ReplicaEncryption {
    /// `AES256`, `KMS` or `KMS_DSSE`.
    #[serde(rename = "type")]
    pub kind: EncryptionType,
    /// The KMS key (its ARN, alias or id) in the destination region; ECR's AWS-managed key
    /// (`aws/ecr`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplicaEncryption {
    #[serde(rename = "type")]
    kind: EncryptionType,
    #[serde(default)]
    key: Option<String>,
}

impl TryFrom<RawReplicaEncryption> for ReplicaEncryption {
    type Error = String;

    fn try_from(raw: RawReplicaEncryption) -> Result<Self, String> {
        match (&raw.key, raw.kind) {
            (Some(_), EncryptionType::Aes256) => Err(
                "`key` goes with type KMS or KMS_DSSE; hint: AES256 uses keys Amazon S3 manages"
                    .into(),
            ),
            (Some(key), _) if key.trim().is_empty() => {
                Err("`key` is empty; hint: the KMS key's ARN, alias or id".into())
            }
            _ => Ok(Self {
                kind: raw.kind,
                key: raw.key,
            }),
        }
    }
}

fn region<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let region = String::deserialize(deserializer)?;
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !valid {
        return Err(D::Error::custom(format!(
            "{region:?} is not an AWS region; hint: e.g. eu-west-1"
        )));
    }
    Ok(region)
}

fn account<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let account = String::deserialize(deserializer)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(D::Error::custom(format!(
            "{account:?} is not an AWS account id; hint: 12 digits, quoted"
        )));
    }
    Ok(Some(account))
}

/// One copy to make: where an image goes, and under which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The replication rule's name.
    pub rule: String,
    /// The destination region.
    pub region: String,
    /// The destination account; `None` for the function's own.
    pub account: Option<String>,
    /// The destination repository's name, `{repository}` filled in.
    pub repository: String,
    /// Create the repository when it does not exist.
    pub create_repository: bool,
    /// How a repository created there is encrypted (the destination's `encryption`).
    pub encryption: Option<ReplicaEncryption>,
}

impl ReplicationRule {
    /// True when the repository matches one of the rule's globs and the tag complies with its
    /// `tags` section (every tag, without one).
    pub fn matches(&self, repository: &str, tag: &str) -> bool {
        self.repositories
            .iter()
            .any(|glob| glob.matches(repository))
            && self.tags.evaluate(tag, None).compliant
    }

    /// The copies to make of an image of `repository`, one per destination.
    pub fn targets(&self, repository: &str) -> impl Iterator<Item = Target> + '_ {
        let repository = repository.to_string();
        self.destinations.iter().map(move |destination| Target {
            rule: self.name.clone(),
            region: destination.region.clone(),
            account: destination.account.clone(),
            repository: destination.repository.as_deref().map_or_else(
                || repository.clone(),
                |template| template.replace("{repository}", &repository),
            ),
            create_repository: self.create_repository,
            encryption: destination.encryption.clone(),
        })
    }
}

/// True when `a` and `b` are the same place: region, account and repository.
fn same_place(a: &Target, b: &Target) -> bool {
    a.region == b.region && a.account == b.account && a.repository == b.repository
}

impl super::Policy {
    /// How a deletion of `tag` in `repository` is replicated to `place`: the most careful
    /// `replicate_deletes` of the rules that replicate the tag there (a rule that copies it
    /// there without `replicate_deletes` keeps it there); `none` when no rule replicates it
    /// there.
    pub fn deletes_of(&self, repository: &str, tag: &str, place: &Target) -> ReplicateDeletes {
        self.replication
            .iter()
            .filter(|rule| rule.matches(repository, tag))
            .filter(|rule| rule.targets(repository).any(|t| same_place(&t, place)))
            .map(|rule| rule.replicate_deletes)
            .min()
            .unwrap_or_default()
    }

    /// How a deletion of an image that has no tags at `place` is replicated there: the most
    /// careful `replicate_deletes` of every rule of `repository` that replicates there,
    /// whatever its tags (an untagged image has none to match); `none` when no rule does.
    pub fn untagged_deletes(&self, repository: &str, place: &Target) -> ReplicateDeletes {
        self.replication
            .iter()
            .filter(|rule| {
                rule.repositories
                    .iter()
                    .any(|glob| glob.matches(repository))
            })
            .filter(|rule| rule.targets(repository).any(|t| same_place(&t, place)))
            .map(|rule| rule.replicate_deletes)
            .min()
            .unwrap_or_default()
    }

    /// Where deletions in `repository` may be replicated: each place a rule of the repository
    /// with `replicate_deletes` replicates to, once. Whether a given tag's deletion is
    /// replicated there is [`deletes_of`](Self::deletes_of)'s to say.
    pub fn delete_targets(&self, repository: &str) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        for rule in self.replication.iter().filter(|rule| {
            rule.replicate_deletes != ReplicateDeletes::None
                && rule
                    .repositories
                    .iter()
                    .any(|glob| glob.matches(repository))
        }) {
            for target in rule.targets(repository) {
                if !targets.iter().any(|t| same_place(t, &target)) {
                    targets.push(target);
                }
            }
        }
        targets
    }

    /// Where a pushed tag is to be copied: the destinations of every matching replication rule,
    /// each place once.
    pub fn replication_targets(&self, repository: &str, tag: &str) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        for rule in self
            .replication
            .iter()
            .filter(|rule| rule.matches(repository, tag))
        {
            for target in rule.targets(repository) {
                let seen = targets.iter().any(|t| {
                    t.region == target.region
                        && t.account == target.account
                        && t.repository == target.repository
                });
                if !seen {
                    targets.push(target);
                }
            }
        }
        targets
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{Policy, SourceFormat};

    fn policy(text: &str) -> Result<Policy, String> {
        Policy::from_text(text, "test.yaml", SourceFormat::Yaml).map_err(|e| e.to_string())
    }

    const RULES: &str = "version: 1\nrules:\n  - tags: { semver: {} }\n";

    #[test]
    fn targets_follow_repository_and_tag_filters() {
        let policy = policy(&format!(
            "{RULES}replication:
  - name: releases
    repositories: [\"team/*\"]
    tags: {{ semver: {{ prerelease: false }} }}
    destinations:
      - region: eu-west-1
      - {{ region: ap-southeast-2, account: \"210987654321\", repository: \"mirror/{{repository}}\" }}
    create_repository: true
  - repositories: [\"team/web\"]
    destinations: [{{ region: eu-west-1 }}]
"
        ))
        .expect("valid");
        let targets = policy.replication_targets("team/api", "1.2.3");
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[1].repository, "mirror/team/api");
        assert_eq!(targets[1].account.as_deref(), Some("210987654321"));
        assert!(targets[0].create_repository);
        assert!(
            policy
                .replication_targets("team/api", "1.2.3-rc.1")
                .is_empty(),
            "no pre-releases"
        );
        assert!(policy.replication_targets("other/api", "1.2.3").is_empty());
        // The second rule has no tag filter: every tag, and eu-west-1 only once.
        let web = policy.replication_targets("team/web", "1.2.3-rc.1");
        assert_eq!(
            web.iter().map(|t| t.region.as_str()).collect::<Vec<_>>(),
            ["eu-west-1"]
        );
        assert_eq!(policy.replication_targets("team/web", "1.2.3").len(), 2);
    }

    #[test]
    fn bad_replication_rules_are_positioned_errors() {
        let error = policy(&format!("{RULES}replication:\n  - repositories: [a]\n    destinations: [{{ region: europe }}]\n")).expect_err("bad region");
        assert!(
            error.contains("test.yaml:6:") && error.contains("not an AWS region"),
            "{error}"
        );
        let error = policy(&format!("{RULES}replication:\n  - repositories: [a]\n    destinations: [{{ region: eu-west-1, account: 123 }}]\n")).expect_err("bad account");
        assert!(error.contains("not an AWS account id"), "{error}");
        let error = policy(&format!(
            "{RULES}replication:\n  - repositories: [a]\n    destinations: []\n"
        ))
        .expect_err("none");
        assert!(error.contains("needs `destinations`"), "{error}");
        let error = policy(&format!("{RULES}replication:\n  - repositories: [a]\n    destinations: [{{ region: eu-west-1, encryption: {{ type: KMS, key: \"arn:aws:kms:us-east-1:123456789012:key/k\" }} }}]\n")).expect_err("a key of another region");
        assert!(
            error.contains("test.yaml:") && error.contains("is in us-east-1"),
            "{error}"
        );
        let error = policy(&format!("{RULES}replication:\n  - repositories: [a]\n    destinations: [{{ region: eu-west-1, encryption: {{ type: AES256, key: k }} }}]\n")).expect_err("a key for AES256");
        assert!(error.contains("`key` goes with type KMS"), "{error}");
        let error = policy(&format!("{RULES}replication:\n  - repositories: [a]\n    destinations: [{{ region: eu-west-1, encryption: {{ type: RSA }} }}]\n")).expect_err("no such type");
        assert!(error.contains("test.yaml:"), "{error}");
        let keyed = policy(&format!("{RULES}replication:\n  - repositories: [a]\n    destinations: [{{ region: eu-west-1, encryption: {{ type: KMS, key: alias/replicas }} }}]\n")).expect("an alias");
        assert_eq!(
            keyed.replication_targets("a", "1.0.0")[0]
                .encryption
                .as_ref()
                .and_then(|e| e.key.as_deref()),
            Some("alias/replicas")
        );
    }
}
