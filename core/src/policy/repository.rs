//! A rule's `repository` section: how the repositories it governs must be set up (tag
//! mutability, scanning, encryption, a lifecycle policy, no public repository policy), the
//! settings ECR reports for a repository, and the judgement of one against the other.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// How the repositories of a rule must be set up; every check is off unless written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryRules {
    /// The tag mutability settings allowed, and the exclusion filters they may have.
    #[serde(default)]
    pub tag_mutability: Option<MutabilityRule>,
    /// The scanning a repository must have.
    #[serde(default)]
    pub scanning: Option<ScanningRequirement>,
    /// The encryption a repository must have.
    #[serde(default)]
    pub encryption: Option<EncryptionRule>,
    /// A lifecycle policy must be set.
    #[serde(default)]
    pub require_lifecycle_policy: bool,
    /// The repository policy must grant nothing to the principal `"*"` without a `Condition`.
    #[serde(default)]
    pub forbid_public_policy: bool,
}

impl RepositoryRules {
    /// True when the section asks for nothing (then the settings are not read).
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// ECR's tag mutability settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TagMutability {
    /// Tags can move.
    Mutable,
    /// Tags cannot move.
    Immutable,
    /// Tags cannot move, except those matching the exclusion filters.
    ImmutableWithExclusion,
    /// Tags can move, except those matching the exclusion filters.
    MutableWithExclusion,
}

impl TagMutability {
    /// ECR's name: `IMMUTABLE`, `MUTABLE_WITH_EXCLUSION`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mutable => "MUTABLE",
            Self::Immutable => "IMMUTABLE",
            Self::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
            Self::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
        }
    }

    /// From ECR's name; `None` for a name this version does not know.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "MUTABLE" => Self::Mutable,
            "IMMUTABLE" => Self::Immutable,
            "IMMUTABLE_WITH_EXCLUSION" => Self::ImmutableWithExclusion,
            "MUTABLE_WITH_EXCLUSION" => Self::MutableWithExclusion,
            _ => return None,
        })
    }
}

/// The tag mutability a repository may have.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawMutabilityRule")]
pub struct MutabilityRule {
    /// The settings allowed; never empty.
    pub allow: Vec<TagMutability>,
    /// The exclusion filters a `*_WITH_EXCLUSION` repository may have (each of its filters
    /// must be one of these, as written); none when empty.
    pub exclusion_filters: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMutabilityRule {
    allow: Vec<TagMutability>,
    #[serde(default)]
    exclusion_filters: Vec<String>,
}

impl TryFrom<RawMutabilityRule> for MutabilityRule {
    type Error = String;

    fn try_from(raw: RawMutabilityRule) -> Result<Self, String> {
        if raw.allow.is_empty() {
            return Err("`tag_mutability.allow` is empty; hint: e.g. allow: [IMMUTABLE], or [IMMUTABLE, IMMUTABLE_WITH_EXCLUSION] with exclusion_filters".into());
        }
        let with_exclusion = raw.allow.iter().any(|m| {
            matches!(
                m,
                TagMutability::ImmutableWithExclusion | TagMutability::MutableWithExclusion
            )
        });
        if !raw.exclusion_filters.is_empty() && !with_exclusion {
            return Err("`tag_mutability.exclusion_filters` are given, but `allow` has no *_WITH_EXCLUSION setting; hint: add IMMUTABLE_WITH_EXCLUSION (or MUTABLE_WITH_EXCLUSION) to `allow`, or drop the filters".into());
        }
        if let Some(bad) = raw
            .exclusion_filters
            .iter()
            .find(|f| !is_exclusion_filter(f))
        {
            return Err(format!(
                "exclusion filter {bad:?} is not one ECR accepts; hint: 1 to 128 characters of letters, digits, '_', '.', '-' and '*' (a wildcard), such as \"latest\" or \"v*\""
            ));
        }
        let mut allow = raw.allow;
        allow.sort();
        allow.dedup();
        Ok(Self {
            allow,
            exclusion_filters: raw.exclusion_filters,
        })
    }
}

/// ECR's exclusion filters: a tag with `*` wildcards.
fn is_exclusion_filter(filter: &str) -> bool {
    (1..=128).contains(&filter.len())
        && filter
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'*'))
}

/// The scanning a repository must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanningRequirement {
    /// Every push is scanned: the repository's scan-on-push flag, or a registry scanning rule
    /// (basic on push, enhanced on push or continuous) that covers it.
    OnPush,
    /// Enhanced scanning (Amazon Inspector) covers the repository.
    Enhanced,
}

/// The encryption a repository must have.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionRule {
    /// The encryption type; `KMS` admits `KMS_DSSE` too (both use a KMS key).
    #[serde(rename = "type")]
    pub kind: EncryptionType,
    /// The KMS key's ARN must match this pattern (`*` matches any run of characters).
    #[serde(default, deserialize_with = "arn_pattern")]
    pub key: Option<ArnPattern>,
}

/// ECR's encryption types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum EncryptionType {
    /// Amazon S3-managed keys (the default; no KMS key of yours).
    #[serde(rename = "AES256")]
    Aes256,
    /// A KMS key.
    #[serde(rename = "KMS")]
    Kms,
    /// Dual-layer encryption with a KMS key.
    #[serde(rename = "KMS_DSSE")]
    KmsDsse,
}

impl EncryptionType {
    /// ECR's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256 => "AES256",
            Self::Kms => "KMS",
            Self::KmsDsse => "KMS_DSSE",
        }
    }

    /// From ECR's name; `None` for one this version does not know.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "AES256" => Self::Aes256,
            "KMS" => Self::Kms,
            "KMS_DSSE" => Self::KmsDsse,
            _ => return None,
        })
    }
}

/// A pattern over ARNs: `*` matches any run of characters (`/` and `:` included), everything
/// else matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnPattern(String);

impl ArnPattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the whole of `arn` matches.
    pub fn matches(&self, arn: &str) -> bool {
        wildcard(self.0.as_bytes(), arn.as_bytes())
    }
}

fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

fn arn_pattern<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ArnPattern>, D::Error> {
    let text = String::deserialize(deserializer)?;
    if !text.starts_with("arn:") || text.chars().any(char::is_whitespace) {
        return Err(D::Error::custom(format!(
            "{text:?} is not a KMS key ARN pattern; hint: e.g. \"arn:aws:kms:*:123456789012:key/*\" (`*` matches any characters)"
        )));
    }
    Ok(Some(ArnPattern(text)))
}

/// What ECR reports of one repository's set-up; `None` where a setting was not read (the rule
/// does not check it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepositorySettings {
    /// The tag mutability; `None` when ECR named one this version does not know.
    pub tag_mutability: Option<TagMutability>,
    /// The exclusion filters of a `*_WITH_EXCLUSION` repository.
    pub exclusion_filters: Vec<String>,
    /// The repository's own scan-on-push flag.
    pub scan_on_push: bool,
    /// The effective scan frequency from the registry's rules (`SCAN_ON_PUSH`,
    /// `CONTINUOUS_SCAN`, `MANUAL`), when it could be read.
    pub scan_frequency: Option<String>,
    /// The registry's scan type (`BASIC` or `ENHANCED`), when it could be read.
    pub registry_scan_type: Option<String>,
    /// The encryption type, as ECR names it.
    pub encryption_type: Option<String>,
    /// The KMS key's ARN, for KMS encryption.
    pub kms_key: Option<String>,
    /// Whether a lifecycle policy is set; `None` when not read.
    pub lifecycle_policy: Option<bool>,
    /// The repository policy's text; `Some(None)` when there is none, `None` when not read.
    pub repository_policy: Option<Option<String>>,
}

/// One repository setting that breaks the rule's `repository` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingFinding {
    /// The check: `repository.tag_mutability`, `repository.tag_mutability.exclusion_filters`,
    /// `repository.scanning`, `repository.encryption`, `repository.encryption.key`,
    /// `repository.lifecycle_policy`, `repository.policy.public`.
    pub check: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl RepositoryRules {
    /// The settings of `repository` that break these rules (none when it complies).
    pub fn judge(&self, repository: &str, settings: &RepositorySettings) -> Vec<SettingFinding> {
        let mut findings = Vec::new();
        let mut add = |check, message| findings.push(SettingFinding { check, message });
        if let Some(rule) = &self.tag_mutability {
            let names = |list: &[TagMutability]| {
                list.iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match settings.tag_mutability {
                Some(found) if rule.allow.contains(&found) => {
                    let stray: Vec<&str> = settings
                        .exclusion_filters
                        .iter()
                        .filter(|f| !rule.exclusion_filters.contains(f))
                        .map(String::as_str)
                        .collect();
                    if !stray.is_empty() {
                        add(
                            "repository.tag_mutability.exclusion_filters",
                            format!(
                                "repository `{repository}` excludes tags {} from its {} setting, which the policy does not allow (allowed: {}); remove them with put-image-tag-mutability",
                                quoted(&stray),
                                found.as_str(),
                                if rule.exclusion_filters.is_empty() { "none".into() } else { quoted(&rule.exclusion_filters) }
                            ),
                        );
                    }
                }
                found => add(
                    "repository.tag_mutability",
                    format!(
                        "repository `{repository}` has tag mutability {}; the policy allows {}: aws ecr put-image-tag-mutability --repository-name {repository} --image-tag-mutability {}",
                        found.map_or("(unknown)", TagMutability::as_str),
                        names(&rule.allow),
                        rule.allow.first().map_or("IMMUTABLE", |m| m.as_str())
                    ),
                ),
            }
        }
        if let Some(required) = self.scanning {
            let frequency = settings.scan_frequency.as_deref();
            let covered = matches!(frequency, Some("SCAN_ON_PUSH" | "CONTINUOUS_SCAN"));
            let enhanced = settings.registry_scan_type.as_deref() == Some("ENHANCED") && covered;
            let (ok, wanted) = match required {
                ScanningRequirement::OnPush => (settings.scan_on_push || covered, "scan on push"),
                ScanningRequirement::Enhanced => (enhanced, "enhanced scanning"),
            };
            if !ok {
                let fix = match required {
                    ScanningRequirement::OnPush => format!(
                        "its scan-on-push flag is off and no registry rule scans it on push (scan frequency {}); turn it on: aws ecr put-image-scanning-configuration --repository-name {repository} --image-scanning-configuration scanOnPush=true",
                        frequency.unwrap_or("unknown")
                    ),
                    ScanningRequirement::Enhanced => format!(
                        "registry scanning {}, scan frequency {}; add an ENHANCED registry scanning rule that covers it (aws ecr put-registry-scanning-configuration)",
                        settings.registry_scan_type.as_deref().unwrap_or("unknown"),
                        frequency.unwrap_or("unknown")
                    ),
                };
                add(
                    "repository.scanning",
                    format!("repository `{repository}` does not have {wanted}: {fix}"),
                );
            }
        }
        if let Some(rule) = &self.encryption {
            let found = settings
                .encryption_type
                .as_deref()
                .and_then(EncryptionType::from_name);
            let type_ok = match rule.kind {
                EncryptionType::Kms => {
                    matches!(found, Some(EncryptionType::Kms | EncryptionType::KmsDsse))
                }
                kind => found == Some(kind),
            };
            if !type_ok {
                add(
                    "repository.encryption",
                    format!(
                        "repository `{repository}` is encrypted with {}; the policy requires {} (encryption is set when a repository is created: create a new one and move the images)",
                        settings.encryption_type.as_deref().unwrap_or("(unknown)"),
                        rule.kind.as_str()
                    ),
                );
            } else if let Some(pattern) = &rule.key {
                let key = settings.kms_key.as_deref().unwrap_or_default();
                if !pattern.matches(key) {
                    add(
                        "repository.encryption.key",
                        format!(
                            "repository `{repository}` is encrypted with KMS key {}, which does not match {}",
                            if key.is_empty() { "(none)" } else { key },
                            pattern.as_str()
                        ),
                    );
                }
            }
        }
        if self.require_lifecycle_policy && settings.lifecycle_policy == Some(false) {
            add(
                "repository.lifecycle_policy",
                format!("repository `{repository}` has no lifecycle policy; set one with aws ecr put-lifecycle-policy --repository-name {repository}"),
            );
        }
        if self.forbid_public_policy {
            if let Some(Some(text)) = &settings.repository_policy {
                match public_grants(text) {
                    Ok(grants) => {
                        for grant in grants {
                            add(
                                "repository.policy.public",
                                format!(
                                    "repository `{repository}`'s policy grants {} to every principal (\"*\") without a Condition{}; name the principals, or add a Condition such as aws:PrincipalOrgID",
                                    if grant.actions.is_empty() { "actions".into() } else { grant.actions.join(", ") },
                                    grant.sid.map(|sid| format!(" (statement {sid})")).unwrap_or_default()
                                ),
                            );
                        }
                    }
                    Err(error) => add(
                        "repository.policy.public",
                        format!("repository `{repository}`'s policy cannot be read as JSON ({error}), so it cannot be shown to grant nothing to \"*\""),
                    ),
                }
            }
        }
        findings
    }
}

fn quoted(items: &[impl AsRef<str>]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An `Allow` statement of a resource policy that grants to `"*"` without a `Condition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicGrant {
    /// The statement's `Sid`, when it has one.
    pub sid: Option<String>,
    /// Its actions, as written.
    pub actions: Vec<String>,
}

/// The statements of an IAM resource policy that allow the principal `"*"` (as `"*"`,
/// `{"AWS": "*"}` or in a list) without a `Condition`. An error when the text is not a policy.
pub fn public_grants(policy: &str) -> Result<Vec<PublicGrant>, String> {
    use serde_json::Value;
    let document: Value = serde_json::from_str(policy).map_err(|e| e.to_string())?;
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(statement @ Value::Object(_)) => vec![statement.clone()],
        _ => return Err("no Statement".into()),
    };
    let strings = |value: Option<&Value>| -> Vec<String> {
        match value {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut grants = Vec::new();
    for statement in &statements {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let conditioned = statement
            .get("Condition")
            .is_some_and(|c| c.as_object().is_some_and(|o| !o.is_empty()));
        if conditioned {
            continue;
        }
        let everyone = match statement.get("Principal") {
            Some(Value::String(p)) => p == "*",
            Some(Value::Object(principals)) => principals
                .values()
                .any(|v| strings(Some(v)).iter().any(|p| p == "*")),
            _ => false,
        };
        if everyone {
            grants.push(PublicGrant {
                sid: statement
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                actions: strings(statement.get("Action")),
            });
        }
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, SourceFormat};

    fn rules(section: &str) -> Result<RepositoryRules, String> {
        let text =
            format!("version: 1\nrules:\n  - tags: {{ semver: {{}} }}\n    repository:\n{section}");
        Policy::from_text(&text, "test.yaml", SourceFormat::Yaml)
            .map(|p| p.rules[0].repository.clone().unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    fn compliant() -> RepositorySettings {
        RepositorySettings {
            tag_mutability: Some(TagMutability::Immutable),
            exclusion_filters: vec![],
            scan_on_push: true,
            scan_frequency: Some("SCAN_ON_PUSH".into()),
            registry_scan_type: Some("ENHANCED".into()),
            encryption_type: Some("KMS".into()),
            kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/abc".into()),
            lifecycle_policy: Some(true),
            repository_policy: Some(None),
        }
    }

    const ALL: &str = "      tag_mutability: { allow: [IMMUTABLE, IMMUTABLE_WITH_EXCLUSION], exclusion_filters: [latest, \"v*\"] }\n      scanning: enhanced\n      encryption: { type: KMS, key: \"arn:aws:kms:*:123456789012:key/*\" }\n      require_lifecycle_policy: true\n      forbid_public_policy: true\n";

    fn checks(findings: &[SettingFinding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.check).collect()
    }

    #[test]
    fn a_compliant_repository_has_no_findings_and_each_setting_its_own() {
        let rules = rules(ALL).expect("valid");
        assert_eq!(rules.judge("team/app", &compliant()), []);

        let mut bad = compliant();
        bad.tag_mutability = Some(TagMutability::Mutable);
        bad.scan_frequency = Some("MANUAL".into());
        bad.encryption_type = Some("AES256".into());
        bad.kms_key = None;
        bad.lifecycle_policy = Some(false);
        bad.repository_policy = Some(Some(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"open","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage"]},{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"ecr:*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}"#.into(),
        ));
        let findings = rules.judge("team/app", &bad);
        assert_eq!(
            checks(&findings),
            [
                "repository.tag_mutability",
                "repository.scanning",
                "repository.encryption",
                "repository.lifecycle_policy",
                "repository.policy.public",
            ]
        );
        assert!(
            findings[4].message.contains("ecr:BatchGetImage")
                && findings[4].message.contains("statement open"),
            "{}",
            findings[4].message
        );
    }

    #[test]
    fn exclusion_filters_and_keys_are_checked_against_the_allowed_ones() {
        let rules = rules(ALL).expect("valid");
        let mut settings = compliant();
        settings.tag_mutability = Some(TagMutability::ImmutableWithExclusion);
        settings.exclusion_filters = vec!["latest".into(), "dev*".into()];
        settings.kms_key = Some("arn:aws:kms:us-east-1:999999999999:key/abc".into());
        let findings = rules.judge("team/app", &settings);
        assert_eq!(
            checks(&findings),
            [
                "repository.tag_mutability.exclusion_filters",
                "repository.encryption.key"
            ]
        );
        assert!(
            findings[0].message.contains("`dev*`")
                && !findings[0].message.contains("`latest`, `dev*`")
        );
        settings.exclusion_filters = vec!["v*".into()];
        settings.kms_key = Some("arn:aws:kms:eu-west-1:123456789012:key/x".into());
        settings.encryption_type = Some("KMS_DSSE".into());
        assert_eq!(rules.judge("team/app", &settings), []);
    }

    #[test]
    fn scan_on_push_is_the_flag_or_a_registry_rule() {
        let rules = rules("      scanning: on_push\n").expect("valid");
        let mut settings = RepositorySettings::default();
        assert_eq!(
            checks(&rules.judge("a", &settings)),
            ["repository.scanning"]
        );
        settings.scan_frequency = Some("CONTINUOUS_SCAN".into());
        assert_eq!(rules.judge("a", &settings), []);
        settings.scan_frequency = Some("MANUAL".into());
        settings.scan_on_push = true;
        assert_eq!(rules.judge("a", &settings), []);
    }

    #[test]
    fn public_grants_are_found_in_every_form_of_principal() {
        let grants = public_grants(r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"ecr:*"}}"#).expect("policy");
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].actions, ["ecr:*"]);
        let none = public_grants(r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"ecr:*"}]}"#).expect("policy");
        assert!(none.is_empty());
        assert!(public_grants("not json").is_err());
        assert!(public_grants("{}").is_err());
    }

    #[test]
    fn bad_sections_are_positioned_errors_with_hints() {
        let error = rules("      tag_mutability: { allow: [IMUTABLE] }\n").expect_err("typo");
        assert!(
            error.contains("test.yaml:5:") && error.contains("IMMUTABLE"),
            "{error}"
        );
        let error =
            rules("      tag_mutability: { allow: [IMMUTABLE], exclusion_filters: [latest] }\n")
                .expect_err("filters without exclusion");
        assert!(error.contains("no *_WITH_EXCLUSION"), "{error}");
        let error = rules("      tag_mutability: { allow: [IMMUTABLE_WITH_EXCLUSION], exclusion_filters: [\"a b\"] }\n").expect_err("bad filter");
        assert!(error.contains("not one ECR accepts"), "{error}");
        let error = rules("      encryption: { type: KMS, key: \"alias/mine\" }\n")
            .expect_err("not an ARN");
        assert!(
            error.contains("not a KMS key ARN pattern") && error.contains("hint:"),
            "{error}"
        );
        let error = rules("      scaning: on_push\n").expect_err("typo");
        assert!(error.contains("did you mean `scanning`"), "{error}");
        assert!(rules("      {}\n").expect("empty").is_empty());
    }

    #[test]
    fn arn_patterns_match_whole_arns() {
        let pattern = ArnPattern("arn:aws:kms:*:123456789012:key/*".into());
        assert!(pattern.matches("arn:aws:kms:us-east-1:123456789012:key/abc"));
        assert!(!pattern.matches("arn:aws:kms:us-east-1:999999999999:key/abc"));
        assert!(!pattern.matches("xarn:aws:kms:us-east-1:123456789012:key/abc"));
        assert!(ArnPattern("a*b*c".into()).matches("aXbYbc"));
    }
}
