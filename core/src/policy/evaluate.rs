//! Verdicts: what a rule says of a tag, and of the labels of the image it names.

use serde::Serialize;

use super::model::{GitShaRule, LabelRules, PrefixV, Rule, SemverRule};
use crate::labels::{self, Labels};
use crate::semver::{self, Alias};
use crate::tag;

/// What a tag was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagKind {
    /// A SemVer version, or an allowed floating alias.
    Semver,
    /// A commit id, after an allowed prefix.
    GitSha,
    /// An upstream version plus packaging revision (`8.0.12-c15`), where the rule allows them.
    Upstream,
    /// One of the allowed literal tags.
    Literal,
    /// A match of one of the rule's patterns.
    Pattern,
    /// Not a tag at all under the ECR/OCI grammar.
    Invalid,
    /// A valid tag of no kind the rule knows.
    Unmatched,
}

impl TagKind {
    /// The kind's name in reports: `semver`, `git-sha`, …
    pub fn as_str(self) -> &'static str {
        match self {
            TagKind::Semver => "semver",
            TagKind::GitSha => "git-sha",
            TagKind::Upstream => "upstream",
            TagKind::Literal => "literal",
            TagKind::Pattern => "pattern",
            TagKind::Invalid => "invalid",
            TagKind::Unmatched => "unmatched",
        }
    }
}

/// One violated (or warned) check: `check` names it, e.g. `tag.semver.prerelease`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check's name, such as `tag.semver.prerelease`; serialized as `rule`.
    #[serde(rename = "rule")]
    pub check: &'static str,
    /// What is wrong and how to fix it, in words.
    pub message: String,
}

/// What a rule says of one tag (and of the labels, when they were given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagVerdict {
    /// The tag judged.
    pub tag: String,
    /// The repository, when known.
    pub repository: Option<String>,
    /// The policy rule that applied; `None` when no rule matches the repository.
    pub rule: Option<String>,
    /// What the tag was recognised as.
    pub kind: TagKind,
    /// True when there are no violations (warnings allowed).
    pub compliant: bool,
    /// The checks that failed.
    pub violations: Vec<Finding>,
    /// The checks that warn without failing.
    pub warnings: Vec<Finding>,
}

impl TagVerdict {
    fn new(tag: &str, rule: Option<&str>) -> Self {
        Self {
            tag: tag.into(),
            repository: None,
            rule: rule.map(Into::into),
            kind: TagKind::Unmatched,
            compliant: true,
            violations: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn violation(&mut self, check: &'static str, message: String) {
        self.compliant = false;
        self.violations.push(Finding { check, message });
    }

    fn warning(&mut self, check: &'static str, message: String) {
        self.warnings.push(Finding { check, message });
    }

    /// The verdict for a repository that no rule governs.
    pub(super) fn ungoverned(tag: &str, repository: &str) -> Self {
        let mut verdict = Self::new(tag, None);
        verdict.warning(
            "policy.rules",
            format!("no rule of the policy matches repository `{repository}`: not checked"),
        );
        verdict
    }
}

/// The shape a tag was recognised as, with the parts later checks need.
#[derive(Debug, Clone, Copy)]
enum Shape<'a> {
    Version,
    Alias(Alias<'a>),
    Sha { hex: &'a str },
    Upstream { version: &'a str },
    Other,
}

impl Rule {
    /// Judges a tag, and, when given, the labels and annotations of the image it names.
    pub fn evaluate(&self, tag: &str, labels: Option<&Labels>) -> TagVerdict {
        let mut verdict = TagVerdict::new(tag, Some(&self.name));
        let shape = self.check_tag(tag, &mut verdict);
        if let Some(labels) = labels {
            self.labels.check(tag, shape, labels, &mut verdict);
        }
        verdict
    }

    fn check_tag<'t>(&self, tag: &'t str, verdict: &mut TagVerdict) -> Shape<'t> {
        if let Some(message) = tag::grammar_violation(tag) {
            verdict.kind = TagKind::Invalid;
            verdict.violation("tag.grammar", message);
            return Shape::Other;
        }
        let literals = &self.tags.literals;
        if literals.deny.iter().any(|denied| denied == tag) {
            verdict.kind = TagKind::Literal;
            verdict.violation(
                "tag.literals.deny",
                format!("tag `{tag}` is denied by rule `{}`", self.name),
            );
            return Shape::Other;
        }
        if literals.allow.iter().any(|allowed| allowed == tag) {
            verdict.kind = TagKind::Literal;
            return Shape::Other;
        }
        let shape = self.check_shape(tag, verdict);
        if !verdict.compliant && self.tags.patterns.iter().any(|p| p.is_match(tag)) {
            // An explicit pattern admits what the kind's own settings would refuse.
            verdict.kind = TagKind::Pattern;
            verdict.compliant = true;
            verdict.violations.clear();
            verdict.warnings.clear();
        }
        shape
    }

    fn check_shape<'t>(&self, tag: &'t str, verdict: &mut TagVerdict) -> Shape<'t> {
        // Declared upstream-plus-revision tags are that kind, not SemVer pre-releases.
        if let Some(upstream) = self.upstream_shape(tag) {
            verdict.kind = TagKind::Upstream;
            return Shape::Upstream {
                version: upstream.version,
            };
        }
        let (prefix, unprefixed) = split_v_prefix(tag);
        if let Some(version) = semver::parse(unprefixed) {
            verdict.kind = TagKind::Semver;
            match &self.tags.semver {
                Some(rule) => rule.check(
                    prefix,
                    version.is_major_zero(),
                    version.pre_release.is_some(),
                    verdict,
                ),
                None => self.kind_not_allowed("SemVer", verdict),
            }
            return Shape::Version;
        }
        if let Some(hex) = self.sha_shape(tag, verdict) {
            return Shape::Sha { hex };
        }
        if let Some(alias) = semver::parse_alias(unprefixed) {
            verdict.kind = TagKind::Semver;
            match &self.tags.semver {
                Some(rule) if rule.floating_aliases => {
                    rule.check(prefix, alias.is_major_zero(), false, verdict)
                }
                Some(_) => verdict.violation(
                    "tag.semver.floating_aliases",
                    format!(
                        "floating alias `{tag}` is not allowed by rule `{}`; push the full version (MAJOR.MINOR.PATCH), or set `floating_aliases: true`",
                        self.name
                    ),
                ),
                None => self.kind_not_allowed("SemVer", verdict),
            }
            return Shape::Alias(alias);
        }
        if self.tags.patterns.iter().any(|p| p.is_match(tag)) {
            verdict.kind = TagKind::Pattern;
            return Shape::Other;
        }
        verdict.kind = TagKind::Unmatched;
        verdict.violation(
            "tag.kinds",
            format!(
                "tag `{tag}` is none of the kinds rule `{}` allows: {}",
                self.name, self.allowed
            ),
        );
        Shape::Other
    }

    /// Recognises `[prefix]hex` within the rule's length bounds (7..40 when the rule has no
    /// git_sha section), with `sha-` always recognised so that its use can be named.
    fn sha_shape<'t>(&self, tag: &'t str, verdict: &mut TagVerdict) -> Option<&'t str> {
        const DEFAULT: (usize, usize) = (7, 40);
        let rule = self.tags.git_sha.as_ref();
        let (min, max) = rule.map_or(DEFAULT, |r| (r.min_length, r.max_length));
        let allowed = rule.map_or(&[][..], |r| &r.prefixes[..]);
        let candidates = allowed.iter().map(String::as_str).chain(["sha-", ""]);
        let (prefix, hex) = candidates
            .filter_map(|prefix| Some((prefix, tag.strip_prefix(prefix)?)))
            .find(|(_, hex)| {
                (min..=max).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
            })?;
        verdict.kind = TagKind::GitSha;
        match rule {
            None => self.kind_not_allowed("git SHA", verdict),
            Some(rule) => rule.check(prefix, hex, &self.name, verdict),
        }
        Some(hex)
    }

    /// `tag` read as upstream version and revision, when the rule allows that kind.
    pub fn upstream_shape<'t>(&self, tag: &'t str) -> Option<crate::upstream::UpstreamTag<'t>> {
        let rule = self.tags.upstream.as_ref()?;
        crate::upstream::parse(tag, |revision| rule.revision.is_match(revision))
    }

    fn kind_not_allowed(&self, kind: &str, verdict: &mut TagVerdict) {
        verdict.violation(
            "tag.kinds",
            format!(
                "{kind} tags are not allowed by rule `{}`; it allows: {}",
                self.name, self.allowed
            ),
        );
    }

    /// What the rule allows, in words; computed once when the policy is loaded.
    pub(super) fn describe_allowed(&self) -> String {
        let tags = &self.tags;
        let mut kinds = Vec::new();
        if let Some(semver) = &tags.semver {
            let shape = match semver.prefix_v {
                PrefixV::Optional => "1.2.3 or v1.2.3",
                PrefixV::Required => "v1.2.3",
                PrefixV::Forbidden => "1.2.3",
            };
            let pre = if semver.prerelease {
                ""
            } else {
                ", no pre-releases"
            };
            kinds.push(format!("SemVer ({shape}{pre})"));
        }
        if let Some(sha) = &tags.git_sha {
            let prefixes = sha
                .prefixes
                .iter()
                .map(|p| {
                    if p.is_empty() {
                        "bare".into()
                    } else {
                        format!("`{p}`")
                    }
                })
                .collect::<Vec<_>>()
                .join(" or ");
            kinds.push(format!(
                "git SHA ({} to {} lowercase hex, {prefixes})",
                sha.min_length, sha.max_length
            ));
        }
        if let Some(upstream) = &tags.upstream {
            kinds.push(format!(
                "upstream version plus revision (8.0.12-<revision /{}/>)",
                upstream.revision.as_str()
            ));
        }
        if !tags.literals.allow.is_empty() {
            kinds.push(format!("the literals {}", tags.literals.allow.join(", ")));
        }
        for pattern in &tags.patterns {
            kinds.push(format!("pattern /{}/", pattern.as_str()));
        }
        if kinds.is_empty() {
            return "no tags at all".into();
        }
        kinds.join("; ")
    }
}

impl SemverRule {
    fn check(
        &self,
        prefix: Option<char>,
        major_zero: bool,
        pre_release: bool,
        verdict: &mut TagVerdict,
    ) {
        let tag = &verdict.tag;
        let prefix_problem = match (prefix, self.prefix_v) {
            (Some('V'), PrefixV::Optional | PrefixV::Required) => {
                Some(format!("`{tag}`: the `v` prefix must be lowercase"))
            }
            (None, PrefixV::Required) => {
                Some(format!("`{tag}`: a leading `v` is required (v1.2.3)"))
            }
            (Some(_), PrefixV::Forbidden) => {
                Some(format!("`{tag}`: a leading `v` is not allowed (1.2.3)"))
            }
            _ => None,
        };
        if let Some(message) = prefix_problem {
            verdict.violation("tag.semver.prefix_v", message);
        }
        if pre_release && !self.prerelease {
            let message = format!(
                "`{}` is a pre-release, which the rule does not allow",
                verdict.tag
            );
            verdict.violation("tag.semver.prerelease", message);
        }
        if major_zero && self.warn_major_zero {
            let message = format!(
                "`{}` has major version 0 (initial development: anything may change)",
                verdict.tag
            );
            verdict.warning("tag.semver.major_zero", message);
        }
    }
}

impl GitShaRule {
    fn check(&self, prefix: &str, hex: &str, rule: &str, verdict: &mut TagVerdict) {
        if !self.prefixes.iter().any(|allowed| allowed == prefix) {
            let message = if prefix.is_empty() {
                format!(
                    "a bare git SHA is not allowed by rule `{rule}`; prefix it with `{}`",
                    self.prefixes.join("` or `")
                )
            } else {
                format!("the git SHA prefix `{prefix}` is not allowed by rule `{rule}`")
            };
            verdict.violation("tag.git_sha.prefixes", message);
        }
        if hex.bytes().any(|b| b.is_ascii_uppercase()) {
            let message = format!("`{}`: a git SHA is written in lowercase hex", verdict.tag);
            verdict.violation("tag.git_sha.case", message);
        }
    }
}

impl LabelRules {
    fn check(&self, tag: &str, shape: Shape<'_>, labels: &Labels, verdict: &mut TagVerdict) {
        for key in &self.required {
            if labels.get(key).is_none_or(|value| value.trim().is_empty()) {
                verdict.violation(
                    "labels.required",
                    format!("required label `{key}` is missing"),
                );
            }
        }
        for (key, pattern) in &self.values {
            if let Some(value) = labels.get(key).filter(|value| !pattern.is_match(value)) {
                verdict.violation(
                    "labels.values",
                    format!(
                        "label `{key}` is `{value}`, which does not match /{}/",
                        pattern.as_str()
                    ),
                );
            }
        }
        let consistency = &self.consistency;
        if let (true, Some(value)) = (consistency.version, labels.get(labels::VERSION)) {
            check_version_label(tag, shape, value, verdict);
        }
        if let (true, Some(value)) = (consistency.revision, labels.get(labels::REVISION)) {
            if !labels::is_full_sha(value) {
                verdict.violation(
                    "labels.consistency.revision",
                    format!(
                        "label `{}` is `{value}`, not a full 40-character lowercase git SHA",
                        labels::REVISION
                    ),
                );
            } else if let Shape::Sha { hex } = shape {
                if !value.starts_with(hex) {
                    verdict.violation(
                        "labels.consistency.revision",
                        format!(
                            "tag `{tag}` names commit {hex}, but label `{}` is {value}",
                            labels::REVISION
                        ),
                    );
                }
            }
        }
        if let (true, Some(value)) = (consistency.created, labels.get(labels::CREATED)) {
            if !labels::is_rfc3339(value) {
                verdict.violation(
                    "labels.consistency.created",
                    format!("label `{}` is `{value}`, not an RFC 3339 time such as 2024-05-01T12:00:00Z", labels::CREATED),
                );
            }
        }
        if let (true, Some(value)) = (consistency.source, labels.get(labels::SOURCE)) {
            if !labels::is_url(value) {
                verdict.violation(
                    "labels.consistency.source",
                    format!(
                        "label `{}` is `{value}`, not a URL such as https://github.com/org/repo",
                        labels::SOURCE
                    ),
                );
            }
        }
    }
}

/// The version label agrees with the tag when it is the tag itself, the same version with or
/// without a leading `v`, or, for a floating alias (`1`, `v1.2`), a version or alias the alias
/// is a prefix of. docker/metadata-action writes the first tag it generates, `v` and all
/// (`v1.2.3`), or the alias when only aliases are pushed (`2.0`).
fn check_version_label(tag: &str, shape: Shape<'_>, value: &str, verdict: &mut TagVerdict) {
    let expected = split_v_prefix(tag).1;
    let label = split_v_prefix(value).1;
    let consistent = value == tag
        || match shape {
            Shape::Version => label == expected,
            // `1.2` and `1` float over the newest 1.2.x and 1.x.y: the label names that
            // release, or an alias at least as precise as the tag.
            Shape::Alias(alias) => version_parts(label).is_some_and(|(major, minor)| {
                major == alias.major && alias.minor.is_none_or(|m| minor == Some(m))
            }),
            // `8.0.12-c15`: the label names the upstream version (or the whole tag, above).
            Shape::Upstream { version } => label == version,
            Shape::Sha { .. } | Shape::Other => true,
        };
    if !consistent {
        verdict.violation(
            "labels.consistency.version",
            format!(
                "label `{}` is `{value}`, but tag `{tag}` says {expected}",
                labels::VERSION
            ),
        );
    }
}

/// MAJOR and MINOR of a full version (`1.2.3`, `1.2.3-rc.1`) or of an alias (`1.2`, `1`).
fn version_parts(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(version) = semver::parse(text) {
        return Some((version.major, Some(version.minor)));
    }
    semver::parse_alias(text).map(|alias| (alias.major, alias.minor))
}

/// Splits a leading `v` or `V` off a tag that continues with a digit.
fn split_v_prefix(tag: &str) -> (Option<char>, &str) {
    match tag.as_bytes() {
        [first @ (b'v' | b'V'), second, ..] if second.is_ascii_digit() => {
            (Some(char::from(*first)), &tag[1..])
        }
        _ => (None, tag),
    }
}
