//! The one policy format that the functions and the CLI read.

mod evaluate;
mod lint;
mod load;
mod model;
mod replication;
mod repository;
mod retention;

pub use evaluate::{Finding, TagKind, TagVerdict};
pub use lint::{
    inline_json, size_notices, Lint, LintLevel, PolicyHome, INLINE_BUDGET, INLINE_LIMIT,
    KNOWN_REGIONS,
};
pub use load::{PolicyError, SourceFormat};
pub use model::{
    Consistency, EnforceRules, GitShaRule, LabelRules, LastTag, LiteralRules, Mode, Pattern,
    Policy, PrefixV, Rule, SemverRule, TagRules, UpstreamRule,
};
pub use replication::{Destination, ReplicaEncryption, ReplicateDeletes, ReplicationRule, Target};
pub use repository::{
    public_grants, ArnPattern, EncryptionRule, EncryptionType, MutabilityRule, PublicGrant,
    RepositoryRules, RepositorySettings, ScanningRequirement, SettingFinding, TagMutability,
};
pub use retention::{
    Count, Days, GitShaRetention, PrereleaseRetention, Retention, SemverRetention, TagGlob,
    UntaggedRetention, UpstreamRetention,
};

use std::collections::BTreeMap;

use crate::date::Date;
use crate::labels::Labels;
use crate::scan::{ScanVerdict, VulnFinding, VulnSeverity};

/// A scan judged against the policy: the one judgement of scan-alert and `gate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanJudgement {
    /// No rule governs the repository: its scans are not judged (and both say so).
    Ungoverned,
    /// Judged against the bar of the rule named.
    Judged {
        /// The name of the rule whose bar applied.
        rule: String,
        /// What the bar says of the scan.
        verdict: ScanVerdict,
    },
}

/// The built-in policy, as documented text.
pub const DEFAULT_POLICY_YAML: &str = include_str!("default-policy.yaml");

impl Policy {
    /// The policy that applies when none is given: [`DEFAULT_POLICY_YAML`], parsed.
    // The text is embedded at compile time and a unit test parses it, so this cannot fail at
    // run time; a panic here would be a build that skipped its tests.
    #[allow(clippy::expect_used)]
    pub fn builtin() -> Self {
        Policy::from_text(DEFAULT_POLICY_YAML, "built-in policy", SourceFormat::Yaml)
            .expect("the built-in policy is valid (a unit test proves it)")
    }

    /// The rule a repository picks: the first, in file order, with a glob matching its name.
    /// Without a name, the first rule that matches every repository (`**`).
    pub fn rule_for(&self, repository: Option<&str>) -> Option<&Rule> {
        self.rules.iter().find(|rule| {
            rule.repositories.iter().any(|glob| match repository {
                Some(name) => glob.matches(name),
                None => glob.matches_everything(),
            })
        })
    }

    /// The mode that applies to a rule: its own, or the policy's.
    pub fn mode_for(&self, rule: &Rule) -> Mode {
        rule.mode.unwrap_or(self.mode)
    }

    /// The mode in force for a repository: `forced` (a deployment's setting) when given, else
    /// the mode of the repository's rule, else the policy's.
    pub fn mode_in(&self, repository: &str, forced: Option<Mode>) -> Mode {
        forced.unwrap_or_else(|| {
            self.rule_for(Some(repository))
                .map_or(self.mode, |rule| self.mode_for(rule))
        })
    }

    /// Judges a complete scan of an image of `repository` against its rule's bar. `findings`
    /// is `None` when only the counts are known (then ignores and `fixable_only` cannot apply).
    pub fn judge_scan(
        &self,
        repository: &str,
        reported: &BTreeMap<VulnSeverity, u64>,
        findings: Option<&[VulnFinding]>,
        today: Date,
    ) -> ScanJudgement {
        match self.rule_for(Some(repository)) {
            None => ScanJudgement::Ungoverned,
            Some(rule) => ScanJudgement::Judged {
                rule: rule.name.clone(),
                verdict: crate::scan::evaluate(&rule.scan, reported, findings, today),
            },
        }
    }

    /// Judges one tag of a repository (and the image's labels, when known).
    pub fn evaluate(
        &self,
        repository: Option<&str>,
        tag: &str,
        labels: Option<&Labels>,
    ) -> TagVerdict {
        let mut verdict = match self.rule_for(repository) {
            Some(rule) => rule.evaluate(tag, labels),
            None => TagVerdict::ungoverned(tag, repository.unwrap_or_default()),
        };
        verdict.repository = repository.map(Into::into);
        verdict
    }
}

#[cfg(test)]
mod metadata_action;
#[cfg(test)]
mod tests;
