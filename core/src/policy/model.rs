//! The policy document, version 1. Every value is validated while it is deserialized, so
//! an error carries the position of the offending value in the file.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::glob::Glob;

/// A policy file, validated: the mode, the rules in file order, and the replication rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The format version; always 1.
    pub version: FormatVersion,
    /// The mode for rules that set none; audit by default.
    #[serde(default)]
    pub mode: Mode,
    /// The rules, in file order; never empty. A repository takes the first whose globs match it.
    #[serde(deserialize_with = "non_empty_rules")]
    pub rules: Vec<Rule>,
    /// Copies to other regions, done by the replicator function and `ecr-steward replicate`.
    #[serde(default)]
    pub replication: Vec<super::ReplicationRule>,
}

impl Rule {
    /// A rule of tag kinds only, for matching tags elsewhere in the policy.
    pub(super) fn for_tags(name: &str, tags: TagRules) -> Self {
        let mut rule = Rule {
            name: name.into(),
            repositories: every_repository(),
            mode: None,
            tags,
            labels: LabelRules::default(),
            scan: crate::scan::ScanRules::default(),
            enforce: EnforceRules::default(),
            repository: None,
            retention: None,
            provenance: None,
            allowed: String::new(),
        };
        rule.allowed = rule.describe_allowed();
        rule
    }
}

/// The `version` key; only 1 exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatVersion;

impl<'de> Deserialize<'de> for FormatVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct One;
        impl serde::de::Visitor<'_> for One {
            type Value = FormatVersion;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the number 1")
            }
            fn visit_u64<E: serde::de::Error>(self, version: u64) -> Result<FormatVersion, E> {
                match version {
                    1 => Ok(FormatVersion),
                    other => Err(E::custom(format!(
                        "policy format version {other} is not supported; hint: this ecr-steward reads `version: 1`"
                    ))),
                }
            }
        }
        deserializer.deserialize_u64(One)
    }
}

/// What push-guard does about a violation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Report violations only.
    #[default]
    Audit,
    /// Report violations and remove the offending tags.
    Enforce,
}

/// The checks for a set of repositories: tag kinds, labels, the scan bar and how enforce mode acts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Filled in by the loader when the file gives none.
    #[serde(default)]
    pub name: String,
    /// The repositories the rule governs; never empty. `**` (the default) matches every one.
    #[serde(default = "every_repository", deserialize_with = "non_empty_globs")]
    pub repositories: Vec<Glob>,
    /// Overrides the policy's mode for the repositories of this rule.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// The kinds of tag the rule allows.
    pub tags: TagRules,
    /// The labels an image must carry, and the checks on their values.
    #[serde(default)]
    pub labels: LabelRules,
    /// The vulnerability bar for scans of these repositories.
    #[serde(default)]
    pub scan: crate::scan::ScanRules,
    /// How enforce mode removes a tag.
    #[serde(default)]
    pub enforce: EnforceRules,
    /// How the repositories must be set up (`ecr-steward audit` checks it); none when absent.
    #[serde(default)]
    pub repository: Option<super::RepositoryRules>,
    /// Which images `prune` and the retention function keep and expire; `None`: none expire.
    #[serde(default)]
    pub retention: Option<super::retention::Retention>,
    /// The signatures, SBOMs and attestations release images must carry; none when absent.
    #[serde(default)]
    pub provenance: Option<crate::provenance::ProvenanceRules>,
    /// What the rule allows, in words, for violation messages.
    #[serde(skip)]
    pub allowed: String,
}

/// How enforce mode treats an offending tag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforceRules {
    /// What happens when the offending tag is the image's last one: removing the last tag
    /// deletes the image in ECR.
    #[serde(default)]
    pub last_tag: LastTag,
}

/// What enforce mode does when the offending tag is the image's only tag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LastTag {
    /// Tag the image `quarantine-<12 hex of the digest>` first, then remove the offending
    /// tag: the image stays reachable by the quarantine tag and its digest.
    #[default]
    Quarantine,
    /// Leave the offending tag in place and report it.
    Keep,
    /// Remove the tag, and with it the image (ECR deletes an image whose last tag goes).
    Delete,
}

/// The kinds of tag a rule allows; a tag is compliant when it is of one of them and no literal
/// denies it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRules {
    /// SemVer 2.0.0 versions; `None` when the rule does not allow them.
    #[serde(default)]
    pub semver: Option<SemverRule>,
    /// Commit ids; `None` when the rule does not allow them.
    #[serde(default)]
    pub git_sha: Option<GitShaRule>,
    /// Upstream version plus packaging revision (`8.0.12-c15`); `None` when not allowed.
    #[serde(default)]
    pub upstream: Option<UpstreamRule>,
    /// Exact tags allowed or denied.
    #[serde(default)]
    pub literals: LiteralRules,
    /// Regular expressions (anchored) a tag may match instead.
    #[serde(default)]
    pub patterns: Vec<Pattern>,
}

/// How SemVer tags are allowed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemverRule {
    /// Whether the tag may, must or must not start with a lowercase `v`.
    #[serde(default)]
    pub prefix_v: PrefixV,
    /// Allow pre-release versions (`1.2.3-rc.1`); true by default.
    #[serde(default = "yes")]
    pub prerelease: bool,
    /// Allow the floating aliases `MAJOR` and `MAJOR.MINOR`; false by default.
    #[serde(default)]
    pub floating_aliases: bool,
    /// Warn (not fail) on `0.y.z` versions; true by default.
    #[serde(default = "yes")]
    pub warn_major_zero: bool,
}

/// The `v` in front of a SemVer tag (`v1.2.3`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrefixV {
    /// With or without the `v`.
    #[default]
    Optional,
    /// Only with the `v`.
    Required,
    /// Only without the `v`.
    Forbidden,
}

/// Commit-id tags: lowercase hex of a bounded length, after one of the allowed prefixes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawGitShaRule")]
pub struct GitShaRule {
    /// The fewest hex characters accepted; at least 1.
    pub min_length: usize,
    /// The most hex characters accepted; at most 64 (a SHA-256 repository's object names).
    pub max_length: usize,
    /// Longest first, so that the longest prefix a tag starts with is the one stripped.
    pub prefixes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGitShaRule {
    #[serde(default = "default_min_sha")]
    min_length: usize,
    #[serde(default = "default_max_sha")]
    max_length: usize,
    #[serde(default = "bare_only")]
    prefixes: Vec<String>,
}

/// Longest git object name: a SHA-256 repository's.
pub const MAX_SHA_LENGTH: usize = 64;

impl TryFrom<RawGitShaRule> for GitShaRule {
    type Error = String;

    fn try_from(raw: RawGitShaRule) -> Result<Self, String> {
        if raw.min_length == 0 || raw.min_length > raw.max_length || raw.max_length > MAX_SHA_LENGTH
        {
            return Err(format!(
                "git_sha length bounds {}..{} are not usable; hint: need 1 <= min_length <= max_length <= {MAX_SHA_LENGTH} (git prints 7 to 40)",
                raw.min_length, raw.max_length
            ));
        }
        if raw.prefixes.is_empty() {
            return Err("git_sha.prefixes is empty; hint: use [\"\"] for bare SHAs, [\"sha-\"] for prefixed ones, or both".into());
        }
        if let Some(bad) = raw
            .prefixes
            .iter()
            .find(|p| !crate::tag::is_valid_fragment(p))
        {
            return Err(format!(
                "git_sha prefix {bad:?} cannot start a tag; hint: tags use letters, digits, '_', '.' and '-', and cannot start with '.' or '-'"
            ));
        }
        let mut prefixes = raw.prefixes;
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        prefixes.dedup();
        Ok(Self {
            min_length: raw.min_length,
            max_length: raw.max_length,
            prefixes,
        })
    }
}

/// Upstream-plus-revision tags: a dotted numeric upstream version, `-`, and a revision the
/// pattern admits (`8.0.12-c15` with `revision: 'c[0-9]+'`). When a rule allows them, such a
/// tag is of this kind, not a SemVer pre-release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamRule {
    /// What the packaging revision after the `-` must match (anchored), e.g. `c[0-9]+`.
    pub revision: Pattern,
}

/// Exact tags a rule allows, or denies whatever kind they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiteralRules {
    /// Tags allowed as they are, such as `stable`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Tags never allowed, such as `latest`; a deny wins over every kind.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// The labels an image must carry and the checks on their values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRules {
    /// Label keys that must be present with a non-empty value.
    #[serde(default)]
    pub required: Vec<String>,
    /// Checks between the OCI labels and the tag.
    #[serde(default)]
    pub consistency: Consistency,
    /// Label key to the pattern its value must match, when present.
    #[serde(default)]
    pub values: BTreeMap<String, Pattern>,
}

/// Checks on the OCI labels; each is on by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    /// `image.version` equals the SemVer tag without its `v`.
    #[serde(default = "yes")]
    pub version: bool,
    /// `image.revision` is a full 40-hex commit id, which a git-sha tag must be a prefix of.
    #[serde(default = "yes")]
    pub revision: bool,
    /// `image.created` is an RFC 3339 timestamp.
    #[serde(default = "yes")]
    pub created: bool,
    /// `image.source` is a URL.
    #[serde(default = "yes")]
    pub source: bool,
}

impl Default for Consistency {
    fn default() -> Self {
        Self {
            version: true,
            revision: true,
            created: true,
            source: true,
        }
    }
}

/// A regular expression anchored at both ends.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {detail}; hint: patterns use Rust regex syntax (no look-around or back-references) and are anchored at both ends")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What the regex compiler said.
    pub detail: String,
}

impl Pattern {
    /// Compiles `source` anchored at both ends; the error names the fault and gives a hint.
    pub fn new(source: &str) -> Result<Self, PatternError> {
        regex::Regex::new(&format!("^(?:{source})$"))
            .map(|regex| Self {
                source: source.into(),
                regex,
            })
            .map_err(|error| {
                let detail = match error {
                    regex::Error::Syntax(text) => text
                        .lines()
                        .filter(|line| line.starts_with("error:"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    other => other.to_string(),
                };
                PatternError {
                    pattern: source.into(),
                    detail,
                }
            })
    }

    /// The expression as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Pattern::new(&source).map_err(D::Error::custom)
    }
}

fn non_empty_rules<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Rule>, D::Error> {
    deserializer.deserialize_seq(NonEmpty::new(
        "the policy has no rules; hint: add at least one rule, e.g. one with `repositories: [\"**\"]`",
    ))
}

fn non_empty_globs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Glob>, D::Error> {
    deserializer.deserialize_seq(NonEmpty::new(
        "`repositories` is empty, so the rule matches nothing; hint: list globs such as \"team/*\", or \"**\" for every repository",
    ))
}

struct NonEmpty<T> {
    when_empty: &'static str,
    item: std::marker::PhantomData<T>,
}

impl<T> NonEmpty<T> {
    fn new(when_empty: &'static str) -> Self {
        Self {
            when_empty,
            item: std::marker::PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for NonEmpty<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        if items.is_empty() {
            return Err(A::Error::custom(self.when_empty));
        }
        Ok(items)
    }
}

// `**` is a constant that `Glob::new` accepts (its unit tests build it), so this cannot fail.
#[allow(clippy::expect_used)]
fn every_repository() -> Vec<Glob> {
    vec![Glob::new("**").expect("`**` is a valid glob")]
}

fn yes() -> bool {
    true
}

fn default_min_sha() -> usize {
    7
}

fn default_max_sha() -> usize {
    40
}

fn bare_only() -> Vec<String> {
    vec![String::new()]
}
